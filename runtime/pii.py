"""Optional PII tokenisation: emails and phone numbers in tool results become placeholders on the host.

Masking happens where data leaves the host, not on what a script prints: every string in a tool
result (text content, structured content, keys included) is scanned before the result is sent to the
sandbox or the model, so the sandbox only ever holds placeholders such as `[EMAIL_1]`. A placeholder
in the arguments of a later tool call is swapped back to the real value just before the host calls the
server. The same value always gets the same placeholder for the whole session.

Covered: email addresses (also with a fullwidth `＠`/`．`, or zero-width characters inside: detection
runs on the NFKC form without zero-width characters, and the placeholder replaces the whole string
span), phone numbers written with a `+`, parentheses or separators (9 to 15 digits, not date-like),
and any string value whose key names a phone or email (`phone`, `mobile`, `tel`, `fax`, `email`,
`e_mail`...), whatever its format, digits-only included.
Not covered: names, postal addresses, account or card numbers; PII inside binary content (images,
embedded resources' blobs); PII a tool derives from a placeholder it was given (a tool that echoes its
input base64-encoded returns the real value encoded); values split across several strings.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
)
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE)_(\d+)\]")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"))
_PHONE_KEY = re.compile(r"(phone|mobile|cell|tel|fax|msisdn)", re.IGNORECASE)
_EMAIL_KEY = re.compile(r"e[-_]?mail", re.IGNORECASE)
MAX_DEPTH = 64


def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not 9 <= digits <= 15 or _DATE_LIKE.match(candidate):
        return False
    return candidate.startswith(("+", "(")) or any(sep in candidate for sep in " .-")


def _normal(text: str) -> str:
    """The form detection runs on: NFKC (fullwidth ＠ becomes @), zero-width characters removed."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)


class PiiMasker:
    """Keeps one session's placeholder table: the same value always gets the same placeholder."""

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts = {"EMAIL": 0, "PHONE": 0}

    def _placeholder(self, kind: str, value: str) -> str:
        existing = self._by_value.get(value)
        if existing is not None:
            return existing
        self._counts[kind] += 1
        placeholder = f"[{kind}_{self._counts[kind]}]"
        self._by_value[value] = placeholder
        self._by_placeholder[placeholder] = value
        return placeholder

    def mask(self, text: str) -> str:
        """Replace emails and phone numbers in one string with placeholders."""
        text = _normal(text)
        text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group(0)), text)

        def phone(match: re.Match[str]) -> str:
            value = match.group(0)
            return self._placeholder("PHONE", value) if _is_phone(value) else value

        return _PHONE.sub(phone, text)

    def mask_value(self, value: Any, key: str = "", depth: int = 0) -> Any:
        """Mask every string in a JSON-like value; a string under a phone/email key is masked whole."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(value, str):
            if key and value.strip() and not _PLACEHOLDER.fullmatch(value.strip()):
                if _EMAIL_KEY.search(key):
                    return self._placeholder("EMAIL", _normal(value).strip())
                if _PHONE_KEY.search(key) and any(c.isdigit() for c in value):
                    return self._placeholder("PHONE", _normal(value).strip())
            return self.mask(value)
        if isinstance(value, dict):
            return {self.mask(str(k)): self.mask_value(v, str(k), depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.mask_value(v, key, depth + 1) for v in value]
        return value

    def mask_result(self, result: dict[str, Any]) -> dict[str, Any]:
        """A tool result in wire form with its text and structured content masked (other blocks as they are)."""
        content = []
        for block in result.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                block = dict(block, text=self.mask(block["text"]))
            elif (
                isinstance(block, dict)
                and block.get("type") == "resource"
                and isinstance(block.get("resource"), dict)
            ):
                resource = block["resource"]
                if isinstance(resource.get("text"), str):
                    block = dict(block, resource=dict(resource, text=self.mask(resource["text"])))
            content.append(block)
        masked = dict(result, content=content)
        if result.get("structuredContent") is not None:
            masked["structuredContent"] = self.mask_value(result["structuredContent"])
        return masked

    def unmask(self, value: Any, depth: int = 0) -> Any:
        """Swap placeholders back to the real values anywhere in a JSON-like value (keys included)."""
        if depth > MAX_DEPTH:
            return value
        if isinstance(value, str):
            if "[" not in value:
                return value
            return _PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(0), m.group(0)), value)
        if isinstance(value, dict):
            return {self.unmask(k, depth + 1): self.unmask(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.unmask(v, depth + 1) for v in value]
        return value

    def __len__(self) -> int:
        return len(self._by_value)
