"""Optional PII masking: emails and phone numbers in printed output become placeholders, swapped back on tool calls."""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
)
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE)_(\d+)\]")


def _is_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    if not 9 <= digits <= 15 or _DATE_LIKE.match(candidate):
        return False
    return candidate.startswith(("+", "(")) or any(sep in candidate for sep in " .-")


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
        """Replace emails and phone numbers with placeholders."""
        text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group(0)), text)

        def phone(match: re.Match[str]) -> str:
            value = match.group(0)
            return self._placeholder("PHONE", value) if _is_phone(value) else value

        return _PHONE.sub(phone, text)

    def unmask(self, value: Any) -> Any:
        """Swap placeholders back to the real values anywhere in a JSON-like value (keys included)."""
        if isinstance(value, str):
            if "[" not in value:
                return value
            return _PLACEHOLDER.sub(lambda m: self._by_placeholder.get(m.group(0), m.group(0)), value)
        if isinstance(value, dict):
            return {self.unmask(k): self.unmask(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.unmask(v) for v in value]
        return value

    def __len__(self) -> int:
        return len(self._by_value)
