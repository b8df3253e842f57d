"""The naming rule's identifier form, as the runtime needs it to match config entries to generated modules.

A copy of `to_identifier` from `cfmigrate.analyzers.naming` (the runtime imports nothing of the tool, so
a migrated agent needs only `mcp` and `pydantic`); `tests/test_runtime_footprint.py` checks the two agree.
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

_RESERVED = frozenset({"search_tools", "runtime", "servers", "self", "cls", "annotations"})
_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")


def to_identifier(raw: str) -> str:
    """Apply the naming rule to one server name."""
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    words: list[str] = []
    for chunk in _NON_WORD.split(text):
        if chunk:
            words.extend(w for w in _HUMP.split(chunk) if w)
    name = "_".join(w.lower() for w in words) or "unnamed"
    if name[0].isdigit():
        name = f"n_{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _BUILTINS or name in _RESERVED:
        name = f"{name}_"
    return name
