"""The text the model reads: docstrings, one-line summaries, and the one safe way text becomes a Python literal."""

from __future__ import annotations

import ast
import inspect
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'`])")
SUMMARY_LIMIT = 160


def clean(text: str) -> str:
    """A description as a docstring shows it: `inspect.cleandoc` (source indentation removed), newlines
    normalised, trailing spaces dropped."""
    text = inspect.cleandoc(text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4))
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def one_line(text: str) -> str:
    """All whitespace runs collapsed to one space."""
    return " ".join(text.split())


def summary(description: str) -> str:
    """The first sentence (or line) of a description, at most SUMMARY_LIMIT characters."""
    first = clean(description).split("\n\n", 1)[0]
    first = one_line(first)
    first = _SENTENCE_END.split(first, maxsplit=1)[0]
    if len(first) > SUMMARY_LIMIT:
        first = first[: SUMMARY_LIMIT - 1].rstrip() + "…"
    return first


def py_literal(text: str) -> str:
    """`text` as a Python string literal that is safe to paste into code: a triple-quoted string when that
    reads well, otherwise `repr()`. Backslashes, quotes and control characters are escaped; the result is
    checked to evaluate back to `text`.
    """
    if text and all(
        c == "\n" or c == "\t" or (c.isprintable() and c not in "\u2028\u2029\x85") for c in text
    ):
        body = text.replace("\\", "\\\\")
        if '"""' in text or text.endswith('"'):
            body = body.replace('"', '\\"')
        literal = f'"""{body}"""'
    else:
        literal = repr(text)
    if ast.literal_eval(literal) != text:  # pragma: no cover - guarded by the property tests
        literal = repr(text)
    return literal


def docstring_literal(text: str, indent: str) -> str:
    """A docstring literal for a block indented by `indent`: continuation lines get the indent (which a
    docstring reader strips), so what the model reads is `text`."""
    lines = text.split("\n")
    if len(lines) > 1:
        text = (
            "\n".join([lines[0], *(f"{indent}{line}" if line else "" for line in lines[1:])]) + f"\n{indent}"
        )
    return py_literal(text)


def compact_json(value: Any) -> str:
    """A default or constant shown in a docstring: compact JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def hints(annotations: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The server's behaviour hints worth telling the model: read-only, destructive, idempotent."""
    a = annotations or {}
    out: list[str] = []
    if a.get("readOnlyHint") is True:
        out.append("read-only")
    elif a.get("destructiveHint") is True:
        out.append("destructive")
    elif a.get("destructiveHint") is False:
        out.append("not destructive")
    if a.get("idempotentHint") is True:
        out.append("idempotent")
    return tuple(out)


_SECTION = re.compile(r"^(\s*)(Args|Arguments|Parameters|Params)\s*:\s*$", re.IGNORECASE)
_ANY_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]{1,30}:\s*$")


def _merge_args(description: str, arg_lines: list[str]) -> tuple[str, list[str]]:
    """Fold argument lines into an `Args:` section the description already has (one section, never two);
    returns the description and the lines still to add as a section of their own."""
    lines = description.split("\n")
    for i, line in enumerate(lines):
        match = _SECTION.match(line)
        if not match:
            continue
        indent = len(match.group(1))
        end = i + 1
        while end < len(lines):
            body = lines[end]
            if body.strip() and (len(body) - len(body.lstrip()) <= indent) and _ANY_SECTION.match(body):
                break
            end += 1
        while end > i + 1 and not lines[end - 1].strip():
            end -= 1
        documented = " ".join(lines[i + 1 : end])
        missing = [
            a
            for a in arg_lines
            if not re.search(rf"(?<![\w.]){re.escape(a.split()[0].rstrip(':'))}\b", documented)
        ]
        item = " " * (indent + 4)
        merged = [*lines[:end], *(f"{item}{a}" for a in missing), *lines[end:]]
        return "\n".join(merged), []
    return description, arg_lines


def function_docstring(
    description: str,
    args: Iterable[tuple[str, str, str]],
    hint_words: Iterable[str],
) -> str:
    """The tool function's docstring: the description, then `Args:` for the arguments that have something to
    say beyond the signature (a description, a format, a default the signature cannot show), then the
    server's behaviour hints.

    `args` holds (name, note, description); the types and defaults live in the signature only.
    """
    text = clean(description)
    arg_lines = []
    for name, note, what in args:
        head = f"{name} ({note})" if note else name
        if what:
            arg_lines.append(f"{head}: {what}")
        elif note:
            arg_lines.append(head)
    text, extra = _merge_args(text, arg_lines)
    parts = [text]
    if extra:
        parts.append("Args:\n" + "\n".join(f"    {line}" for line in extra))
    hint_list = list(hint_words)
    if hint_list:
        parts.append(f"Hints: {', '.join(hint_list)}.")
    return "\n\n".join(p for p in parts if p)
