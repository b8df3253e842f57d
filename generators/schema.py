"""Tool schemas made safe for model generation: sanitised, flattened at the root, `$defs` hoisted into one batch.

The wrappers pass values through to the server unchanged, so keywords that would make the client
stricter than the server, or that pydantic cannot honour (`format`, ECMAScript `pattern`s, remote
`$ref`s), are dropped here and reported per tool; value constraints (minimum, lengths, ...) are always
left to the server, so signatures keep plain types (`int`, not a constrained wrapper model).
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cfmigrate.analyzers.naming import to_class_name

# Keywords whose value is one subschema, a list of subschemas, or a name -> subschema map.
_ONE = ("additionalProperties", "items", "not", "if", "then", "else", "contains", "propertyNames",
        "unevaluatedProperties", "unevaluatedItems", "additionalItems")  # fmt: skip
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP = ("properties", "$defs", "definitions", "dependentSchemas")
_DEFS = ("$defs", "definitions")
_DROP = frozenset({"format", "pattern", "patternProperties", "$id", "$anchor", "$dynamicAnchor", "$comment",
                   "examples", "example", "title", "$schema", "contentEncoding", "contentMediaType",
                   "contentSchema", "readOnly", "writeOnly", "deprecated", "$vocabulary", "dependencies",
                   "dependentRequired", "discriminator", "nullable"})  # fmt: skip
_NUMERIC = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")
_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null"})
# Names the generated modules import or define; a hoisted definition never takes one.
RESERVED_CLASSES = frozenset({"Any", "BaseModel", "ConfigDict", "Enum", "Field", "Literal", "Optional",
                              "RootModel", "ToolError", "ToolOutput", "ToolResult", "Union", "Annotated",
                              "AnyUrl", "Decimal", "UUID", "Model", "CfmigrateBatchRoot"})  # fmt: skip
BATCH_ROOT = "CfmigrateBatchRoot"


def _literal_ok(value: object) -> bool:
    """Values a `typing.Literal` can hold (no floats, no containers)."""
    return value is None or isinstance(value, bool | int | str)


def sanitize(schema: object, notes: list[str], *, relax: bool = False, where: str = "") -> dict[str, Any]:
    """A copy of `schema` that model generation accepts; `relax` drops `additionalProperties: false` (outputs)."""
    if schema is None or isinstance(schema, bool):  # `true`/`false` subschemas: any value as far as we check
        return {}
    if not isinstance(schema, Mapping):
        notes.append(
            f"{where or 'schema'}: not a JSON Schema object ({type(schema).__name__}); treated as any value"
        )
        return {}
    out: dict[str, Any] = {}
    dropped: set[str] = set()
    for key, value in schema.items():
        if not isinstance(key, str):
            continue
        if key in _DROP:
            if key in ("format", "pattern", "patternProperties"):
                dropped.add(key)
            continue
        if key in ("$dynamicRef", "$recursiveRef"):
            dropped.add(key)
            continue
        if key in _ONE:
            if key == "additionalProperties" and isinstance(value, bool):
                if value is False and not relax:
                    out[key] = False
                elif value is True:
                    out[key] = True
                continue
            if key == "items" and isinstance(value, list):
                out["prefixItems"] = [sanitize(v, notes, relax=relax, where=where) for v in value]
                continue
            out[key] = sanitize(value, notes, relax=relax, where=where)
        elif key in _MANY:
            if isinstance(value, list) and value:
                out[key] = [sanitize(v, notes, relax=relax, where=where) for v in value]
        elif key in _MAP:
            if isinstance(value, Mapping):
                out[key] = {
                    str(k): sanitize(v, notes, relax=relax, where=where)
                    for k, v in value.items()
                    if isinstance(k, str)
                }
        elif key == "type":
            kinds = [value] if isinstance(value, str) else value if isinstance(value, list) else []
            kinds = [k for k in kinds if isinstance(k, str) and k in _TYPES]
            if kinds:
                out[key] = kinds[0] if len(kinds) == 1 else sorted(set(kinds), key=kinds.index)
        elif key == "required":
            if isinstance(value, list):
                out[key] = sorted({v for v in value if isinstance(v, str)}, key=value.index)
        elif key == "enum":
            if isinstance(value, list) and value and all(_literal_ok(v) for v in value):
                out[key] = list(dict.fromkeys(value))
        elif key == "const":
            if _literal_ok(value):
                out[key] = value
        elif key in _NUMERIC or key in _COUNTS or key == "uniqueItems":
            # Left to the server: a constrained value would become a wrapper model in the signature
            # (`MaxChars` instead of `int`) and sets would reorder lists.
            continue
        elif key == "description" or key == "$ref":
            if isinstance(value, str):
                out[key] = value
        elif key == "default":
            out[key] = copy.deepcopy(value)
    if "$ref" in out and not str(out["$ref"]).startswith("#"):
        notes.append(
            f"{where or 'schema'}: remote $ref {out['$ref']!r} is not followed; treated as any value"
        )
        del out["$ref"]
    if dropped:
        notes.append(f"{where or 'schema'}: not enforced client-side: {', '.join(sorted(dropped))}")
    return out


def subschemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every schema object inside `schema` (itself included), depth first."""
    yield schema
    for key in _ONE:
        value = schema.get(key)
        if isinstance(value, Mapping):
            yield from subschemas(value)
    for key in _MANY:
        for value in schema.get(key) or ():
            if isinstance(value, Mapping):
                yield from subschemas(value)
    for key in _MAP:
        for value in (schema.get(key) or {}).values():
            if isinstance(value, Mapping):
                yield from subschemas(value)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _definition_pointers(
    schema: Mapping[str, Any], base: str = "#"
) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(pointer, key, subschema) for every `$defs`/`definitions` entry anywhere in `schema`."""
    for key in _DEFS:
        for name, sub in (schema.get(key) or {}).items():
            pointer = f"{base}/{_escape(key)}/{_escape(name)}"
            yield pointer, name, sub
            yield from _definition_pointers(sub, pointer)
    for key in _ONE:
        value = schema.get(key)
        if isinstance(value, Mapping):
            yield from _definition_pointers(value, f"{base}/{key}")
    for key in _MANY:
        for i, value in enumerate(schema.get(key) or ()):
            yield from _definition_pointers(value, f"{base}/{key}/{i}")
    for key in ("properties", "dependentSchemas"):
        for name, value in (schema.get(key) or {}).items():
            yield from _definition_pointers(value, f"{base}/{key}/{_escape(name)}")


def _strip_defs(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _strip_defs(v) for k, v in schema.items() if k not in _DEFS}
    if isinstance(schema, list):
        return [_strip_defs(v) for v in schema]
    return schema


def _rewrite_refs(schema: Any, rewrite: Callable[[str], str | None], notes: list[str]) -> Any:
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str):
                target = rewrite(v)
                if target is None:
                    notes.append(f"$ref {v!r} points nowhere in this schema; treated as any value")
                    continue
                out[k] = target
            elif k in ("properties", "$defs", "definitions", "dependentSchemas") and isinstance(v, dict):
                out[k] = {name: _rewrite_refs(sub, rewrite, notes) for name, sub in v.items()}
            else:
                out[k] = _rewrite_refs(v, rewrite, notes)
        return out
    if isinstance(schema, list):
        return [_rewrite_refs(v, rewrite, notes) for v in schema]
    return schema


def _canonical(schema: Any) -> str:
    return json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Batch:
    """The `$defs` of one server's batch: every tool's root schemas and hoisted definitions, by class name."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self._taken: set[str] = set()
        self._base: dict[str, str] = {}  # class name -> the definition key's class form it came from

    def reserve(self, name: str) -> None:
        """Keep `name` for a tool's root model."""
        self._taken.add(name)

    def _new_name(self, base: str, prefix: str) -> str:
        for candidate in (base, f"{prefix}{base}"):
            if candidate not in self._taken:
                return candidate
        n = 2
        while f"{prefix}{base}{n}" in self._taken:
            n += 1
        return f"{prefix}{base}{n}"

    def hoist(self, root_name: str, schema: dict[str, Any], prefix: str, notes: list[str]) -> dict[str, Any]:
        """Move `schema`'s definitions into the batch and rewrite its references; returns the root schema."""
        pointers = list(_definition_pointers(schema))
        tentative: dict[str, str] = {}
        bases: dict[str, str] = {}
        for pointer, key, _sub in pointers:
            base = to_class_name(key) or "Definition"
            if base in RESERVED_CLASSES or base.endswith(("Input", "Output")):
                base = f"{base}Model"
            tentative[pointer] = name = self._new_name(base, prefix)
            bases[name] = base
            self._taken.add(name)
        ordered = sorted(tentative, key=len, reverse=True)

        def rewrite(ref: str) -> str | None:
            raw = urllib.parse.unquote(ref)
            if raw in ("#", "#/"):
                return f"#/$defs/{root_name}"
            for pointer in ordered:
                if raw == pointer or raw.startswith(pointer + "/"):
                    return f"#/$defs/{tentative[pointer]}{raw[len(pointer) :]}"
            if raw.startswith("#/") and resolve_pointer(schema, raw) is not None:
                return f"#/$defs/{root_name}{raw[1:]}"
            return None

        hoisted = {
            tentative[pointer]: _strip_defs(_rewrite_refs(sub, rewrite, notes))
            for pointer, _key, sub in pointers
        }
        root: dict[str, Any] = _strip_defs(_rewrite_refs(schema, rewrite, notes))
        # A definition equal (same name, same body) to one another tool contributed is shared, not duplicated.
        existing = {(self._base.get(k), _canonical(v)): k for k, v in self.defs.items()}
        alias = {
            name: same
            for name, body in hoisted.items()
            if (same := existing.get((bases[name], _canonical(body)))) is not None
        }
        if alias:

            def realias(ref: str) -> str:
                for old, new in alias.items():
                    if ref == f"#/$defs/{old}" or ref.startswith(f"#/$defs/{old}/"):
                        return f"#/$defs/{new}{ref[len(old) + 8 :]}"
                return ref

            hoisted = {k: _rewrite_refs(v, realias, notes) for k, v in hoisted.items() if k not in alias}
            root = _rewrite_refs(root, realias, notes)
            self._taken.difference_update(alias)
        for name, body in hoisted.items():
            self.defs[name] = body
            self._base[name] = bases[name]
        return root

    def set_root(self, name: str, schema: dict[str, Any]) -> None:
        """Store a tool's (prepared) root schema under its reserved class name."""
        self.defs[name] = schema

    def document(self) -> dict[str, Any]:
        """The JSON Schema document handed to datamodel-code-generator (sorted definitions)."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {},
            "$defs": {k: self.defs[k] for k in sorted(self.defs)},
        }


def resolve_pointer(schema: Any, pointer: str) -> Any:
    """The value at a local JSON pointer (`#/a/b`), or None."""
    node = schema
    for token in pointer.lstrip("#").split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def flatten_root(schema: dict[str, Any], defs: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """An input schema as one object: root `$ref`, `allOf` merged; `anyOf`/`oneOf` alternatives made optional.

    Keyword arguments mirror `properties`/`required` of the result; choosing between alternatives is left
    to the server.
    """
    properties: dict[str, Any] = {}
    required: list[str] = []
    seen: set[int] = set()

    def merge(node: Mapping[str, Any], must: bool) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = resolve_pointer({"$defs": defs}, ref)
            if isinstance(target, Mapping):
                merge(target, must)
        for name, sub in (node.get("properties") or {}).items():
            properties.setdefault(name, sub)
        if must:
            required.extend(r for r in node.get("required") or () if r not in required)
        for sub in node.get("allOf") or ():
            merge(sub, must)
        for key in ("anyOf", "oneOf"):
            alternatives = node.get(key) or ()
            if alternatives:
                notes.append(f"inputSchema has top-level {key}: all its properties become optional arguments")
            for sub in alternatives:
                merge(sub, False)

    merge(schema, True)
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = [r for r in required if r in properties]
        missing = [r for r in required if r not in properties]
        if missing:
            notes.append(f"inputSchema requires undeclared properties {missing}; they cannot be passed")
    if schema.get("additionalProperties") is False:
        out["additionalProperties"] = False
    return out


def property_objects(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every object schema with `properties` inside `schema`."""
    for sub in subschemas(schema):
        if isinstance(sub.get("properties"), Mapping):
            yield sub
