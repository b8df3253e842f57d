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


def function_docstring(
    description: str,
    args: Iterable[tuple[str, str, str]],
    returns: str,
    hint_words: Iterable[str],
) -> str:
    """Google-style docstring: description, Args (name (type): text), Returns, Raises, Hints."""
    parts = [clean(description)]
    arg_lines = [
        f"    {name} ({kind}): {text}" if text else f"    {name} ({kind})" for name, kind, text in args
    ]
    if arg_lines:
        parts.append("Args:\n" + "\n".join(arg_lines))
    parts.append(f"Returns:\n    {returns}")
    parts.append("Raises:\n    ToolError: the tool or its server failed, or the server is unreachable.")
    hint_list = list(hint_words)
    if hint_list:
        parts.append(f"Hints: {', '.join(hint_list)}.")
    return "\n\n".join(p for p in parts if p)
