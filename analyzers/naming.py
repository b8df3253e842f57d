"""The one rule that turns server, tool and property names into Python identifiers.

Rule (documented in the README, shared by `generate` and the `migrate` codemods):

1. Unicode is NFKD-normalised and reduced to ASCII; anything that is not a letter or digit
   (hyphen, dot, space, slash, ...) becomes a word break.
2. camelCase and PascalCase humps become word breaks (`getDocument` -> `get_document`,
   `HTTPServer` -> `http_server`); the words are lower-cased and joined by `_`.
3. A name that starts with a digit gets the prefix `n_`; an empty result becomes `unnamed`.
4. A Python keyword, soft keyword or builtin, or a name the generated package reserves, gets a
   trailing `_` (`type` -> `type_`, `list` -> `list_`).
5. Property names (model fields and keyword arguments, `to_field_name`) also avoid pydantic's
   namespace: a public `BaseModel` attribute gets a trailing `_` (`json` -> `json_`,
   `model_config` -> `model_config_`) and a name starting with a protected prefix (`model_dump`,
   `model_validate`) gets the prefix `field_`.

Two names that map to the same identifier -- or to identifiers equal when lower-cased, which
collide on a case-insensitive filesystem -- are a collision: an error naming both, resolved by a
rename table (`[tool.cfmigrate.rename]` in pyproject.toml).
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

RESERVED = frozenset({"search_tools", "runtime", "servers", "self", "cls", "annotations"})
_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_"))
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^A-Za-z0-9]+")
# Public attributes of pydantic v2 `BaseModel` (fixed list, so the rule does not depend on the installed version).
MODEL_ATTRIBUTES = frozenset(
    {
        "construct", "copy", "dict", "from_orm", "json", "model_computed_fields", "model_config",
        "model_construct", "model_copy", "model_dump", "model_dump_json", "model_extra", "model_fields",
        "model_fields_set", "model_json_schema", "model_parametrized_name", "model_post_init",
        "model_rebuild", "model_validate", "model_validate_json", "model_validate_strings", "parse_file",
        "parse_obj", "parse_raw", "schema", "schema_json", "update_forward_refs", "validate",
    }
)  # fmt: skip
_PROTECTED_PREFIXES = ("model_dump", "model_validate")


class PythonIdentifier(str):
    """A string known to be a valid, non-reserved snake_case Python identifier."""

    __slots__ = ()

    def __new__(cls, raw: str) -> PythonIdentifier:
        return super().__new__(cls, to_identifier(raw))


def to_identifier(raw: str) -> str:
    """Apply the naming rule to one name."""
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    words: list[str] = []
    for chunk in _NON_WORD.split(text):
        if chunk:
            words.extend(w for w in _HUMP.split(chunk) if w)
    name = "_".join(w.lower() for w in words) or "unnamed"
    if name[0].isdigit():
        name = f"n_{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _BUILTINS or name in RESERVED:
        name = f"{name}_"
    return name


def to_field_name(raw: str) -> str:
    """Apply the rule to a property name: `to_identifier` plus rule 5 (pydantic's reserved names)."""
    name = to_identifier(raw)
    if name in MODEL_ATTRIBUTES:
        return f"{name}_"
    if name.startswith(_PROTECTED_PREFIXES):
        return f"field_{name}"
    return name


def to_class_name(raw: str) -> str:
    """PascalCase form of the same rule, for model classes."""
    ident = to_identifier(raw).rstrip("_")
    if ident.startswith("n_") and raw[:1].isdigit():
        ident = ident[2:]
    pascal = "".join(part[:1].upper() + part[1:] for part in ident.split("_") if part)
    if not pascal or pascal[0].isdigit():
        pascal = f"N{pascal}"
    return pascal


@dataclass(frozen=True)
class Collision:
    """Two source names that the rule maps onto one identifier (or one file on a case-insensitive disk)."""

    scope: str  # "server", "tool in server X", "property of tool Y"
    first: str
    second: str
    identifier: str

    def message(self) -> str:
        return (
            f"{self.scope}: {self.first!r} and {self.second!r} both become {self.identifier!r}; "
            f'add a rename, e.g. [tool.cfmigrate.rename] "{self.second}" = "{self.identifier}_2"'
        )


def assign(
    names: Iterable[str],
    scope: str,
    renames: Mapping[str, str] | None = None,
    convert: Callable[[str], str] = to_identifier,
) -> tuple[dict[str, str], list[Collision]]:
    """Map every source name to an identifier; report (never silently resolve) collisions.

    A rename maps the source name to a chosen name, which then goes through the same rule
    (`convert`: `to_identifier` for servers and tools, `to_field_name` for properties).
    """
    renames = renames or {}
    result: dict[str, str] = {}
    seen: dict[str, str] = {}  # casefolded identifier -> source name
    collisions: list[Collision] = []
    for name in sorted(set(names)):
        ident = convert(renames.get(name, name))
        key = ident.casefold()
        if key in seen:
            collisions.append(Collision(scope, seen[key], name, ident))
            continue
        seen[key] = name
        result[name] = ident
    return result, collisions
