"""JSON schemas for tools defined in code, derived from type annotations the way the MCP SDK's pydantic does.

Nothing is imported or executed: annotations are read from the syntax tree and resolved through the
module's imports. Types defined in the same file (pydantic models, TypedDicts, dataclasses, enums)
become `$defs`; anything else unknown becomes an open schema (`{}`) and is reported by the caller.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import libcst as cst

__all__ = ["Flavor", "SchemaBuilder", "TypeTarget", "is_literal", "literal_value", "template_value"]

Flavor = Literal["mcp", "fastmcp2"]
TypeTarget = str | cst.ClassDef | None
"""What an annotation name resolves to: a qualified name ("builtins.int", "typing.Optional"), a class
defined in the same file, or None when unknown."""

_NO_VALUE = object()

_PRIMITIVES: dict[str, dict[str, Any]] = {
    "builtins.str": {"type": "string"},
    "builtins.int": {"type": "integer"},
    "builtins.float": {"type": "number"},
    "builtins.bool": {"type": "boolean"},
    "builtins.bytes": {"format": "binary", "type": "string"},
    "builtins.None": {"type": "null"},
    "types.NoneType": {"type": "null"},
    "datetime.datetime": {"format": "date-time", "type": "string"},
    "datetime.date": {"format": "date", "type": "string"},
    "datetime.time": {"format": "time", "type": "string"},
    "datetime.timedelta": {"format": "duration", "type": "string"},
    "uuid.UUID": {"format": "uuid", "type": "string"},
    "pathlib.Path": {"format": "path", "type": "string"},
    "pydantic.AnyUrl": {"format": "uri", "minLength": 1, "type": "string"},
    "pydantic.HttpUrl": {"format": "uri", "maxLength": 2083, "minLength": 1, "type": "string"},
    "pydantic.EmailStr": {"format": "email", "type": "string"},
}
_ANY = frozenset({"typing.Any", "builtins.object", "typing_extensions.Any"})
_LISTS = frozenset(
    {
        "builtins.list",
        "typing.List",
        "typing.Sequence",
        "collections.abc.Sequence",
        "typing.Iterable",
        "collections.abc.Iterable",
        "typing.MutableSequence",
    }
)
_SETS = frozenset(
    {"builtins.set", "builtins.frozenset", "typing.Set", "typing.FrozenSet", "collections.abc.Set"}
)
_TUPLES = frozenset({"builtins.tuple", "typing.Tuple"})
_DICTS = frozenset(
    {"builtins.dict", "typing.Dict", "typing.Mapping", "collections.abc.Mapping", "typing.MutableMapping"}
)
_OPTIONAL = frozenset({"typing.Optional", "typing_extensions.Optional"})
_UNION = frozenset({"typing.Union", "typing_extensions.Union"})
_LITERAL = frozenset({"typing.Literal", "typing_extensions.Literal"})
_ANNOTATED = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
_FIELD = frozenset({"pydantic.Field", "pydantic.fields.Field"})
_BASEMODEL = frozenset({"pydantic.BaseModel", "pydantic.main.BaseModel"})
_TYPEDDICT = frozenset({"typing.TypedDict", "typing_extensions.TypedDict"})
_ENUMS = frozenset({"enum.Enum", "enum.StrEnum", "enum.IntEnum"})
_CLASSVAR = frozenset({"typing.ClassVar", "typing_extensions.ClassVar"})
_CONTENT = frozenset(
    {
        "CallToolResult",
        "TextContent",
        "ImageContent",
        "AudioContent",
        "EmbeddedResource",
        "ResourceLink",
        "Image",
        "Audio",
        "File",
        "ContentBlock",
    }
)
_FIELD_KEYS = {
    "description": "description",
    "title": "title",
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
    "multiple_of": "multipleOf",
    "pattern": "pattern",
    "examples": "examples",
}


def literal_value(node: cst.BaseExpression) -> Any:
    """The Python value of a literal expression (str, number, bool, None, list/tuple/dict of those), else a sentinel."""
    if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
        value = node.evaluated_value
        return value if value is not None else _NO_VALUE
    if isinstance(node, cst.Integer | cst.Float):
        return node.evaluated_value
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[node.value]
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = literal_value(node.expression)
        return -inner if isinstance(inner, int | float) and not isinstance(inner, bool) else _NO_VALUE
    if isinstance(node, cst.List | cst.Tuple | cst.Set):
        items = []
        for el in node.elements:
            if isinstance(el, cst.StarredElement):
                return _NO_VALUE
            value = literal_value(el.value)
            if value is _NO_VALUE:
                return _NO_VALUE
            items.append(value)
        return items
    if isinstance(node, cst.Dict):
        out: dict[Any, Any] = {}
        for entry in node.elements:
            if not isinstance(entry, cst.DictElement):
                return _NO_VALUE
            key, value = literal_value(entry.key), literal_value(entry.value)
            if key is _NO_VALUE or value is _NO_VALUE or not isinstance(key, str | int | float | bool):
                return _NO_VALUE
            out[key] = value
        return out
    return _NO_VALUE


def template_value(
    node: cst.BaseExpression, lookup: Callable[[cst.Name], cst.BaseExpression | None] | None = None
) -> Any:
    """A string literal, or an f-string with its run-time parts shown as `{expression}` (module constants filled in)."""
    if isinstance(node, cst.FormattedString):
        out: list[str] = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                out.append(part.value)
            elif isinstance(part, cst.FormattedStringExpression):
                expr = part.expression
                constant = lookup(expr) if lookup is not None and isinstance(expr, cst.Name) else None
                value = literal_value(constant) if constant is not None else _NO_VALUE
                out.append(
                    str(value)
                    if is_literal(value) and part.conversion is None and part.format_spec is None
                    else "{" + _code(expr) + "}"
                )
        return "".join(out)
    if isinstance(node, cst.ConcatenatedString) and node.evaluated_value is None:
        left, right = template_value(node.left, lookup), template_value(node.right, lookup)
        return left + right if isinstance(left, str) and isinstance(right, str) else _NO_VALUE
    if isinstance(node, cst.Name) and lookup is not None:
        constant = lookup(node)
        if constant is not None and constant is not node:
            return literal_value(constant)
    return literal_value(node)


def is_literal(value: Any) -> bool:
    """Whether `literal_value` produced a value."""
    return value is not _NO_VALUE


def _field_title(name: str) -> str:
    return name.title().replace("_", " ")


def _docstring(body: cst.BaseSuite) -> str | None:
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return None
    first = body.body[0]
    if isinstance(first, cst.SimpleStatementLine) and first.body and isinstance(first.body[0], cst.Expr):
        expr = first.body[0].value
        if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
            value = expr.evaluated_value
            return value if isinstance(value, str) else None
    return None


def function_docstring(fn: cst.FunctionDef) -> str | None:
    """The raw docstring of a function, as `fn.__doc__` holds it on Python 3.11."""
    return _docstring(fn.body)


@dataclass
class SchemaBuilder:
    """Turns annotations of one module into JSON schemas; `resolve` maps a name node to what it denotes."""

    resolve: Callable[[cst.BaseExpression], TypeTarget]
    flavor: Flavor = "mcp"
    lookup: Callable[[cst.Name], cst.BaseExpression | None] = lambda _: None  # module-level `X = ...` value
    unknown: list[str] = field(default_factory=list)  # annotations that became open schemas
    _defs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _building: set[str] = field(default_factory=set)
    _alias_depth: int = 0

    # --- entry points ----------------------------------------------------------------------------

    def input_schema(self, fn: cst.FunctionDef, skip: Callable[[cst.Param], bool]) -> dict[str, Any]:
        """The tool's inputSchema: one property per parameter, in order; defaults make a parameter optional."""
        self._defs = {}
        properties: dict[str, Any] = {}
        required: list[str] = []
        params = [*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params]
        for param in params:
            if skip(param):
                continue
            name = param.name.value
            schema, default, has_default = self._param(param)
            if has_default and default is not _NO_VALUE:
                schema["default"] = default
            properties[name] = schema
            if not has_default:
                required.append(name)
        out: dict[str, Any] = {"properties": properties}
        if required:
            out["required"] = required
        out["title"] = f"{fn.name.value}Arguments"
        out["type"] = "object"
        if self._defs:
            out["$defs"] = dict(sorted(self._defs.items()))
        return self._finish(out)

    def output_schema(self, fn: cst.FunctionDef) -> dict[str, Any] | None:
        """The outputSchema the SDK derives from the return annotation, or None for unstructured output."""
        self._defs = {}
        if fn.returns is None:
            return None
        ann = fn.returns.annotation
        target, args = self._split(ann)
        if target in _ANNOTATED and args:
            ann = args[0]
            target, args = self._split(ann)
        if isinstance(target, str) and (target in _ANY or target.rsplit(".", 1)[-1] in _CONTENT):
            return None
        if isinstance(target, cst.ClassDef):
            kind = self._class_kind(target)
            if kind in ("model", "typeddict", "dataclass"):
                schema = self._class_schema(target, kind)
                if self._defs:
                    schema["$defs"] = dict(sorted(self._defs.items()))
                return self._finish(schema)
        if isinstance(target, str) and target in _DICTS:
            if not args:
                return None
            value = self._schema(args[1]) if len(args) == 2 else {}
            schema = {
                "additionalProperties": value if value else True,
                "title": f"{fn.name.value}DictOutput",
                "type": "object",
            }
            if self._defs:
                schema["$defs"] = dict(sorted(self._defs.items()))
            return self._finish(schema)
        if target is None and not isinstance(ann, cst.BinaryOperation):
            return None  # a type this analysis cannot see: say nothing rather than guess
        result = self._schema(ann)
        if not result and not self._is_none(ann):
            return None
        inner = {**result, "title": "Result"} if self._titled(result) else result
        wrapped: dict[str, Any] = {
            "properties": {"result": inner},
            "required": ["result"],
            "title": f"{fn.name.value}Output",
            "type": "object",
        }
        if self._defs:
            wrapped["$defs"] = dict(sorted(self._defs.items()))
        if self.flavor == "fastmcp2":
            wrapped["x-fastmcp-wrap-result"] = True
        return self._finish(wrapped)

    def model_schema(self, cls: cst.ClassDef) -> dict[str, Any]:
        """`Model.model_json_schema()` for a model defined in the same file."""
        self._defs = {}
        schema = self._class_schema(cls, self._class_kind(cls) or "model")
        if self._defs:
            schema["$defs"] = dict(sorted(self._defs.items()))
        return self._finish(schema)

    # --- pieces ----------------------------------------------------------------------------------

    def _finish(self, schema: dict[str, Any]) -> dict[str, Any]:
        return _strip_titles(schema) if self.flavor == "fastmcp2" else schema

    def _is_none(self, ann: cst.BaseExpression) -> bool:
        return isinstance(ann, cst.Name) and ann.value == "None"

    def _param(self, param: cst.Param) -> tuple[dict[str, Any], Any, bool]:
        has_default = param.default is not None
        default: Any = self._default(param.default) if param.default is not None else _NO_VALUE
        field_info: dict[str, Any] = {}
        if param.default is not None and self._is_field_call(param.default):
            field_info, default, has_default = self._field_call(param.default)  # type: ignore[arg-type]
        if param.annotation is None:
            schema: dict[str, Any] = {"title": param.name.value, "type": "string"}
            schema.update(field_info)
            return schema, default, has_default
        schema = self._schema(param.annotation.annotation)
        schema = self._apply_field(schema, field_info)
        if self._titled(schema) and "title" not in schema:
            schema = {**schema, "title": _field_title(param.name.value)}
        return dict(sorted(schema.items())), default, has_default

    def _titled(self, schema: dict[str, Any]) -> bool:
        """pydantic gives a field a title unless its schema is a reference to a model or enum."""
        if "$ref" in schema:
            return False
        any_of = schema.get("anyOf")
        if isinstance(any_of, list) and len(any_of) == 2 and {"type": "null"} in any_of:
            other = any_of[0] if any_of[1] == {"type": "null"} else any_of[1]
            return "$ref" not in other
        return True

    def _is_field_call(self, node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Call) and self.resolve(node.func) in _FIELD

    def _field_call(self, call: cst.Call) -> tuple[dict[str, Any], Any, bool]:
        info: dict[str, Any] = {}
        default: Any = _NO_VALUE
        has_default = False
        for i, arg in enumerate(call.args):
            key = arg.keyword.value if arg.keyword else ("default" if i == 0 else None)
            if key is None:
                continue
            if key == "default":
                value = self._default(arg.value)
            elif key in ("description", "title"):
                value = template_value(arg.value, self.lookup)
            else:
                value = literal_value(arg.value)
            if key == "default":
                if not (isinstance(arg.value, cst.Name) and arg.value.value == "Ellipsis") and not isinstance(
                    arg.value, cst.Ellipsis
                ):
                    has_default = True
                    default = value
            elif key == "default_factory":
                has_default = True
            elif key in ("min_length", "max_length") and is_literal(value):
                info[key] = value
            elif key == "discriminator" and isinstance(value, str):
                info["discriminator"] = value
            elif key in _FIELD_KEYS and is_literal(value):
                info[_FIELD_KEYS[key]] = value
        return info, default, has_default

    def _default(self, node: cst.BaseExpression) -> Any:
        """A default as pydantic dumps it: literals as they are, members of enums in this file by value."""
        value = literal_value(node)
        if isinstance(node, cst.Name) and not is_literal(value):
            constant = self.lookup(node)
            return literal_value(constant) if constant is not None else value
        if is_literal(value) or not isinstance(node, cst.Attribute):
            return value
        owner = self.resolve(node.value)
        if isinstance(owner, cst.ClassDef) and self._class_kind(owner) == "enum":
            for stmt in _body(owner):
                if isinstance(stmt, cst.Assign) and any(
                    isinstance(t.target, cst.Name) and t.target.value == node.attr.value for t in stmt.targets
                ):
                    return literal_value(stmt.value)
        return _NO_VALUE

    def _apply_field(self, schema: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        """Field(...) metadata: descriptive keys on the field, constraints on the value (inside an Optional)."""
        if not info:
            return schema
        out = dict(schema)
        info = dict(info)
        discriminator = info.pop("discriminator", None)
        if discriminator is not None:
            out = self._discriminated(out, discriminator)
        constraints = {k: v for k, v in info.items() if k not in _DESCRIPTIVE}
        any_of = out.get("anyOf")
        if constraints and isinstance(any_of, list) and {"type": "null"} in any_of:
            out["anyOf"] = [m if m == {"type": "null"} else _constrain(m, constraints) for m in any_of]
        elif constraints:
            out = _constrain(out, constraints)
        out.update({k: v for k, v in info.items() if k in _DESCRIPTIVE})
        return out

    def _discriminated(self, schema: dict[str, Any], field_name: str) -> dict[str, Any]:
        """`Field(discriminator=...)` over a union of models: pydantic's oneOf with a mapping by tag value."""
        target = schema
        nullable = False
        any_of = schema.get("anyOf")
        if isinstance(any_of, list) and {"type": "null"} in any_of and len(any_of) == 2:
            nullable = True
            target = any_of[0] if any_of[1] == {"type": "null"} else any_of[1]
        if target.get("type") == "array" and isinstance(target.get("items"), dict):
            items = self._discriminated(target["items"], field_name)
            target = {**target, "items": items}
        else:
            members = target.get("anyOf")
            if not isinstance(members, list) or not all("$ref" in m for m in members):
                return schema
            mapping: dict[str, str] = {}
            for member in members:
                ref = member["$ref"]
                model = self._defs.get(ref.rsplit("/", 1)[-1], {})
                tag = model.get("properties", {}).get(field_name, {})
                values = [tag["const"]] if "const" in tag else tag.get("enum", [])
                for value in values:
                    mapping[str(value)] = ref
            target = {"discriminator": {"mapping": mapping, "propertyName": field_name}, "oneOf": members}
        if nullable:
            return {**schema, "anyOf": [target, {"type": "null"}]}
        return {k: v for k, v in schema.items() if k != "anyOf"} | target

    def _split(self, node: cst.BaseExpression) -> tuple[TypeTarget, list[cst.BaseExpression]]:
        """(what the base names, its subscript arguments)."""
        if isinstance(node, cst.Subscript):
            args: list[cst.BaseExpression] = []
            for el in node.slice:
                if isinstance(el.slice, cst.Index):
                    args.append(el.slice.value)
            return self.resolve(node.value), args
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            return None, []
        return self.resolve(node), []

    def _schema(self, node: cst.BaseExpression) -> dict[str, Any]:
        """The JSON schema of one annotation expression."""
        if isinstance(node, cst.Name) and node.value == "None":
            return {"type": "null"}
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return self._union([*self._flatten_or(node)])
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            parsed = _parse_annotation_string(node)
            if parsed is not None:
                return self._schema(parsed)
            self.unknown.append(str(node.evaluated_value))
            return {}
        target, args = self._split(node)
        if isinstance(target, cst.ClassDef):
            return self._class_ref(target)
        if target is None:
            aliased = self.lookup(node) if isinstance(node, cst.Name) and self._alias_depth < 16 else None
            if isinstance(aliased, cst.Subscript | cst.Name | cst.Attribute | cst.BinaryOperation):
                self._alias_depth += 1
                try:
                    return self._schema(aliased)
                finally:
                    self._alias_depth -= 1
            self.unknown.append(_code(node))
            return {}
        if target in _PRIMITIVES:
            return dict(_PRIMITIVES[target])
        if target in _ANY:
            return {}
        if target in _ANNOTATED and args:
            schema = self._schema(args[0])
            for meta in args[1:]:
                if isinstance(meta, cst.Call) and self.resolve(meta.func) in _FIELD:
                    info, _, _ = self._field_call(meta)
                    schema = self._apply_field(schema, info)
            return schema
        if target in _OPTIONAL and args:
            return self._union([args[0], cst.Name("None")])
        if target in _UNION:
            return self._union(args)
        if target in _LITERAL:
            return self._literal(args)
        if target in _LISTS or target in _SETS:
            items = self._schema(args[0]) if args else {}
            schema = {"items": items, "type": "array"}
            if target in _SETS:
                schema["uniqueItems"] = True
            return schema
        if target in _TUPLES:
            if not args:
                return {"items": {}, "type": "array"}
            if len(args) == 2 and isinstance(args[1], cst.Ellipsis):
                return {"items": self._schema(args[0]), "type": "array"}
            prefix = [self._schema(a) for a in args]
            return {"maxItems": len(prefix), "minItems": len(prefix), "prefixItems": prefix, "type": "array"}
        if target in _DICTS:
            value = self._schema(args[1]) if len(args) == 2 else {}
            return {"additionalProperties": value if value else True, "type": "object"}
        self.unknown.append(target)
        return {}

    def _flatten_or(self, node: cst.BaseExpression) -> list[cst.BaseExpression]:
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return [*self._flatten_or(node.left), *self._flatten_or(node.right)]
        return [node]

    def _union(self, members: list[cst.BaseExpression]) -> dict[str, Any]:
        schemas: list[dict[str, Any]] = []
        for member in members:
            schema = self._schema(member)
            if schema not in schemas:
                schemas.append(schema)
        if len(schemas) == 1:
            return schemas[0]
        # pydantic puts None last
        schemas.sort(key=lambda s: s == {"type": "null"})
        return {"anyOf": schemas}

    def _literal(self, args: list[cst.BaseExpression]) -> dict[str, Any]:
        values = [literal_value(a) for a in args]
        values = [v for v in values if is_literal(v)]
        kinds = {_json_type(v) for v in values}
        schema: dict[str, Any] = {"const": values[0]} if len(values) == 1 else {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema

    # --- classes in the same file ----------------------------------------------------------------

    def _class_kind(self, cls: cst.ClassDef) -> str | None:
        for base in cls.bases:
            target = self.resolve(base.value)
            if target in _BASEMODEL:
                return "model"
            if target in _TYPEDDICT:
                return "typeddict"
            if target in _ENUMS:
                return "enum"
            if isinstance(target, cst.ClassDef) and target is not cls:
                kind = self._class_kind(target)
                if kind:
                    return kind
        for deco in cls.decorators:
            expr = deco.decorator.func if isinstance(deco.decorator, cst.Call) else deco.decorator
            target = self.resolve(expr)
            if target in ("dataclasses.dataclass", "pydantic.dataclasses.dataclass"):
                return "dataclass"
        return None

    def _class_ref(self, cls: cst.ClassDef) -> dict[str, Any]:
        kind = self._class_kind(cls)
        name = cls.name.value
        if kind is None:
            self.unknown.append(name)
            return {}
        if name not in self._defs and name not in self._building:
            self._building.add(name)
            try:
                self._defs[name] = self._enum_schema(cls) if kind == "enum" else self._class_schema(cls, kind)
            finally:
                self._building.discard(name)
        return {"$ref": f"#/$defs/{name}"}

    def _enum_schema(self, cls: cst.ClassDef) -> dict[str, Any]:
        values: list[Any] = []
        for stmt in _body(cls):
            if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1:
                value = literal_value(stmt.value)
                if is_literal(value):
                    values.append(value)
        schema: dict[str, Any] = {}
        doc = _docstring(cls.body)
        if doc:
            schema["description"] = inspect.cleandoc(doc)
        schema["enum"] = values
        schema["title"] = cls.name.value
        kinds = {_json_type(v) for v in values}
        if len(kinds) == 1 and None not in kinds:
            schema["type"] = kinds.pop()
        return schema

    def _class_fields(self, cls: cst.ClassDef, seen: set[int] | None = None) -> list[cst.AnnAssign]:
        seen = seen if seen is not None else set()
        if id(cls) in seen:
            return []
        seen.add(id(cls))
        fields: list[cst.AnnAssign] = []
        for base in cls.bases:
            target = self.resolve(base.value)
            if isinstance(target, cst.ClassDef):
                fields.extend(self._class_fields(target, seen))
        for stmt in _body(cls):
            if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name):
                name = stmt.target.value
                if name.startswith("_") or name == "model_config":
                    continue
                target, _ = self._split(stmt.annotation.annotation)
                if target in _CLASSVAR:
                    continue
                fields = [f for f in fields if f.target.value != name]  # type: ignore[attr-defined]
                fields.append(stmt)
        return fields

    def _class_schema(self, cls: cst.ClassDef, kind: str) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for stmt in self._class_fields(cls):
            name = stmt.target.value  # type: ignore[attr-defined]
            schema = self._schema(stmt.annotation.annotation)
            has_default = stmt.value is not None and kind != "typeddict"
            default: Any = self._default(stmt.value) if stmt.value is not None else _NO_VALUE
            if stmt.value is not None and self._is_field_call(stmt.value):
                info, default, has_default = self._field_call(stmt.value)  # type: ignore[arg-type]
                schema = self._apply_field(schema, info)
            if has_default and default is not _NO_VALUE:
                schema = {**schema, "default": default}
            if self._titled(schema) and "title" not in schema:
                schema = {**schema, "title": _field_title(name)}
            properties[name] = dict(sorted(schema.items()))
            if not has_default:
                required.append(name)
        out: dict[str, Any] = {}
        doc = _docstring(cls.body)
        if doc and kind != "typeddict":
            out["description"] = inspect.cleandoc(doc)
        out["properties"] = properties
        if required:
            out["required"] = required
        out["title"] = cls.name.value
        out["type"] = "object"
        return out


_DESCRIPTIVE = frozenset({"description", "title", "examples"})


def _constrain(schema: dict[str, Any], constraints: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    for key, value in constraints.items():
        if key in ("min_length", "max_length"):
            suffix = "Items" if out.get("type") == "array" else "Length"
            out[("min" if key == "min_length" else "max") + suffix] = value
        else:
            out[key] = value
    return dict(sorted(out.items()))


def _body(cls: cst.ClassDef) -> list[cst.BaseSmallStatement]:
    out: list[cst.BaseSmallStatement] = []
    if isinstance(cls.body, cst.IndentedBlock):
        for stmt in cls.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                out.extend(stmt.body)
    return out


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _parse_annotation_string(node: cst.SimpleString | cst.ConcatenatedString) -> cst.BaseExpression | None:
    text = node.evaluated_value
    if not isinstance(text, str):
        return None
    try:
        return cst.parse_expression(text)
    except cst.ParserSyntaxError:
        return None


def _strip_titles(schema: Any, in_properties: bool = False) -> Any:
    """fastmcp 2.x prunes every `title` keyword from its schemas (property names called "title" stay)."""
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "title" and not in_properties:
                continue
            out[key] = _strip_titles(
                value, in_properties=key in ("properties", "$defs") and not in_properties
            )
        return out
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema
