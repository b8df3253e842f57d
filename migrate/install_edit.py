"""Edit the servers map of a client config in place: JSON(C) by text spans, TOML with tomlkit.

Everything outside the members that are removed or added stays byte for byte: comments, key order,
indentation, line endings, trailing commas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tomlkit
import tomlkit.items

from cfmigrate.analyzers.configs import LinedDict


class EditError(ValueError):
    """The servers map cannot be edited safely (the message says why)."""


# ---------------------------------------------------------------------------------------------
# JSON / JSONC
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    """One member of an object, from just after the previous separator to the end of its line."""

    key: str
    start: int  # where the region starts (leading whitespace and comments)
    key_start: int
    value_end: int
    comma: int | None  # offset of its trailing comma
    end: int  # past the comma (or the value) and the rest of that line, when it is blank or a comment


def _skip_blank(text: str, i: int) -> int:
    """Past whitespace and comments from `i`."""
    n = len(text)
    while i < n:
        if text[i] in " \t\r\n\ufeff":
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
        else:
            break
    return i


def _line_rest(text: str, i: int) -> int:
    """Past the newline ending this line when only blanks or a `//` comment are left on it; else `i`."""
    m = re.compile(r"[ \t]*(?://[^\n]*)?\r?\n").match(text, i)
    return m.end() if m else i


def _regions(text: str, obj: LinedDict) -> list[_Region]:
    members = sorted(obj.spans.items(), key=lambda kv: kv[1][0])
    out: list[_Region] = []
    start = _line_rest(text, obj.start + 1)
    for key, (key_start, value_end) in members:
        after = _skip_blank(text, value_end)
        comma = after if after < len(text) and text[after] == "," else None
        end = _line_rest(text, comma + 1 if comma is not None else value_end)
        out.append(_Region(key, min(start, key_start), key_start, value_end, comma, end))
        start = end
    return out


def _indent_of(text: str, pos: int) -> str:
    line_start = text.rfind("\n", 0, pos) + 1
    m = re.compile(r"[ \t]*").match(text, line_start)
    return m.group() if m else ""


def _unit(text: str, region: _Region, fallback: str) -> str:
    """The indentation step the file uses, read from the member's own value when it spans lines."""
    body = text[region.key_start : region.value_end]
    lines = body.split("\n")
    if len(lines) > 1:
        own = _indent_of(text, region.key_start)
        inner = re.match(r"[ \t]*", lines[1])
        step = inner.group()[len(own) :] if inner and inner.group().startswith(own) else ""
        if step:
            return step
    return fallback


def _render(value: Any, indent: str, unit: str, multiline: bool) -> str:
    """JSON for a value: objects one member per line (when the file does that), short arrays inline."""
    if isinstance(value, Mapping) and value and multiline:
        inner = indent + unit
        members = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_render(v, inner, unit, True)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(value, Mapping):
        return (
            "{"
            + ", ".join(
                f"{json.dumps(k, ensure_ascii=False)}: {_render(v, indent, unit, False)}"
                for k, v in value.items()
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_render(v, indent, unit, False) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def edit_json_members(
    text: str, obj: LinedDict, remove: Sequence[str], add: tuple[str, Mapping[str, Any]]
) -> str:
    """`text` with the members `remove` of `obj` taken out and `add` put where the first of them was.

    Comments inside a removed member go with it; everything else is kept as written. Commas follow
    the file's own style: a trailing comma after the last member stays only if the file had one.
    """
    if obj.start < 0 or obj.end < 0:
        raise EditError("the servers map has no recorded position")
    regions = _regions(text, obj)
    gone = set(remove)
    if not regions or not gone or not gone <= {r.key for r in regions}:
        raise EditError("nothing to replace in the servers map")
    trailing = regions[-1].comma is not None
    newline = "\r\n" if "\r\n" in text else "\n"
    first = next(r for r in regions if r.key in gone)
    key_indent = _indent_of(text, first.key_start)
    multiline = "\n" in text[first.key_start : first.value_end]
    unit = _unit(text, first, "\t" if key_indent.startswith("\t") else "  ")
    name, entry = add
    body = f"{json.dumps(name, ensure_ascii=False)}: {_render(entry, key_indent, unit, multiline)}"
    if newline == "\r\n":
        body = body.replace("\n", "\r\n")
    lead = text[first.start : first.key_start]
    lead = lead[lead.rfind("\n") + 1 :]  # the removed member's comments go; its indentation stays
    tail = text[first.comma + 1 if first.comma is not None else first.value_end : first.end]
    tail = newline if tail.endswith("\n") else ""
    # (prefix up to the value, text between value and comma, suffix after the comma)
    pieces: list[tuple[str, str, str]] = []
    for r in regions:
        if r is first:
            pieces.append((lead + body, "", tail))
        elif r.key not in gone:
            if r.comma is not None:
                pieces.append(
                    (text[r.start : r.value_end], text[r.value_end : r.comma], text[r.comma + 1 : r.end])
                )
            else:
                pieces.append((text[r.start : r.value_end], "", text[r.value_end : r.end]))
    out = [text[: obj.start + 1], text[obj.start + 1 : regions[0].start]]
    for i, (pre, mid, post) in enumerate(pieces):
        last = i == len(pieces) - 1
        comma = "," if (not last or trailing) else ""
        out.append(pre + (mid if comma else "") + comma + post)
    out.append(text[regions[-1].end :])
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# TOML (Codex)
# ---------------------------------------------------------------------------------------------


def edit_toml_servers(
    text: str, table: str, remove: Sequence[str], add: tuple[str, Mapping[str, Any]]
) -> str:
    """`text` with `[table.<name>]` for each of `remove` dropped and `[table.<add name>]` added, kept as written elsewhere."""
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:  # tomlkit raises its own ParseError family
        raise EditError(f"not valid TOML ({exc})") from None
    servers = doc.get(table)
    if isinstance(servers, tomlkit.items.InlineTable):
        raise EditError(f"`{table}` is an inline table: write it as [{table}.<name>] tables, then retry")
    if not isinstance(servers, tomlkit.items.Table):
        raise EditError(f"`{table}` is not a table")
    for name in remove:
        if name not in servers:
            raise EditError(f"`{table}.{name}` is not in the file")
        del servers[name]
    name, entry = add
    new = tomlkit.table()
    for key, value in entry.items():
        if isinstance(value, Mapping):
            inline = tomlkit.inline_table()
            inline.update(value)
            new.add(key, inline)
        else:
            new.add(key, value)
    new.add(tomlkit.nl())  # a blank line before whatever table follows
    try:
        servers.add(name, new)
        out = tomlkit.dumps(doc)
    except Exception as exc:  # tomlkit refuses some layouts with plain exceptions: report, write nothing
        raise EditError(f"tomlkit cannot add the entry here ({exc})") from None
    if not text.startswith("\n"):
        out = out.lstrip("\n")
    if out.endswith("\n\n") and not text.endswith("\n\n"):
        out = out.rstrip("\n") + "\n"
    if "\r\n" in text:  # tomlkit writes "\n" for what it adds: keep the file's CRLF
        out = re.sub(r"(?<!\r)\n", "\r\n", out)
    return out
