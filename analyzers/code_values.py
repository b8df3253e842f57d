"""What a name or expression holds, as far as static evaluation can tell, and the text helpers that
build prompt strings from those values. `UNKNOWN` is anything else.
"""

from __future__ import annotations

import inspect
import re
import string
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from cfmigrate.analyzers.code_apis import _EXECUTE_CODE_TOOLS
from cfmigrate.analyzers.configs import find_refs

SrvRef = int | str  # a declaration index in this module, or a server name known only by name


class Val:
    """An abstract value."""


@dataclass(frozen=True)
class _Unknown(Val):
    pass


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class Lit(Val):
    value: Any  # str | int | float | bool | None | bytes


@dataclass(frozen=True)
class Text(Val):
    static: str  # the literal parts of an f-string or a concatenation with unknowns
    env: tuple[str, ...] = ()  # environment variables interpolated into it


@dataclass(frozen=True)
class Seq(Val):
    items: tuple[Val, ...]


@dataclass(frozen=True)
class DictV(Val):
    items: tuple[tuple[Val, Val], ...]
    partial: bool = False  # had `**spread` entries that could not be resolved
    # (file, line) of the constant another module of the repository holds it in (see `code_repo`)
    origin: tuple[str, int] | None = field(default=None, compare=False)

    def get(self, key: str) -> Val | None:
        for k, v in self.items:
            if isinstance(k, Lit) and k.value == key:
                return v
        return None


@dataclass(frozen=True)
class Ref(Val):
    qname: str  # an import-resolved module, class or function


@dataclass(frozen=True)
class Obj(Val):
    api: str  # canonical id of the class (or of what produced it)
    servers: frozenset[SrvRef] = frozenset()
    configs: frozenset[str] = frozenset()
    path: tuple[str, ...] = ()  # attributes taken on the instance
    model: str | None = None
    defined: int | None = None  # index of a server defined in this module
    code_mode: bool = False  # a client its runtime drives in code mode (mcp-use `code_mode=True`)
    provider: str | None = None  # a model client pointed at another provider (`OpenAI(base_url=...)`)


@dataclass(frozen=True)
class FileRef(Val):
    rel: str  # a path relative to the repository root


@dataclass(frozen=True)
class EnvRef(Val):
    name: str


@dataclass(frozen=True)
class LocalFunc(Val):
    node: cst.FunctionDef


@dataclass(frozen=True)
class LocalClass(Val):
    node: cst.ClassDef


@dataclass(frozen=True)
class SelfRef(Val):
    cls: cst.ClassDef


_NONE = Lit(None)


def _best(values: Iterable[Val]) -> Val:
    """The first informative value: anything beats UNKNOWN, and anything else beats a bare None."""
    fallback: Val = UNKNOWN
    for value in values:
        if value is UNKNOWN:
            continue
        if value == _NONE:
            fallback = value
            continue
        return value
    return fallback


def _target_names(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """The names an assignment target binds (`a`, `a, (b, *c)`; attributes and subscripts bind none)."""
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, cst.Tuple | cst.List):
        for el in target.elements:
            yield from _target_names(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _target_attributes(target: cst.BaseExpression) -> Iterator[cst.Attribute]:
    if isinstance(target, cst.Attribute):
        yield target
    elif isinstance(target, cst.Tuple | cst.List):
        for el in target.elements:
            yield from _target_attributes(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_attributes(target.value)


def _is_dotted(node: cst.BaseExpression) -> bool:
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def _class_statements(cls: cst.ClassDef) -> Iterator[cst.BaseSmallStatement]:
    if isinstance(cls.body, cst.IndentedBlock):
        for stmt in cls.body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                yield from stmt.body


def _refs_of(value: Val) -> list[str]:
    """Environment references a secret value is taken from, in the notation configs use (`${NAME}`)."""
    if isinstance(value, EnvRef):
        return [f"${{{value.name}}}"]
    if isinstance(value, Lit) and isinstance(value.value, str):
        return find_refs(value.value)
    if isinstance(value, Text):
        return [f"${{{name}}}" for name in value.env] + find_refs(value.static)
    return []


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_MAX_TEXT = 200_000
"""Strings longer than this are not built (`"x" * n`, wide format specs): prompts are far shorter."""


_STR_METHODS = frozenset({"format", "format_map", "join", "replace", "strip", "lstrip", "rstrip"})


_TEXT_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "textwrap.dedent": textwrap.dedent,
    "inspect.cleandoc": inspect.cleandoc,
}


_SCALARS = (str, int, float, bool, type(None))


_WIDTHS = re.compile(r"\d+")


_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?(?P<spec>[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?)(?P<conv>[diouxXeEfFgGcrsa%])"
)


_ESCAPE = re.compile(r"\\(N\{[^}]*\}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", re.S)


_SIMPLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\n": "",
}


class _Builder:
    """Assembles a string from literal text and values; it stays exact while every value is a known literal."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.env: list[str] = []
        self.exact = True

    def text(self, literal: str) -> None:
        self.parts.append(literal)

    def field(self, value: Val, render: Callable[[Any], str] = str, plain: bool = True) -> None:
        """A value put into the string: `render` formats a literal; a partly known string (`plain` fields
        only) contributes its literal parts; anything else is left out."""
        if isinstance(value, Lit) and isinstance(value.value, _SCALARS):
            try:
                self.parts.append(render(value.value))
                return
            except (TypeError, ValueError, OverflowError):
                pass
        elif isinstance(value, Text):
            if plain:
                self.parts.append(value.static)
            self.env.extend(value.env)
        elif isinstance(value, EnvRef):
            self.env.append(value.name)
        self.exact = False

    def value(self) -> Val:
        text = "".join(self.parts)
        return Lit(text) if self.exact else Text(text, tuple(self.env))


def _is_text(value: Val) -> bool:
    return isinstance(value, Text) or (isinstance(value, Lit) and isinstance(value.value, str))


def _as_str(value: object) -> str:
    """A literal that must already be a string (`+`, `join`)."""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _formatter(conversion: str | None, spec: str) -> Callable[[Any], str]:
    """How a replacement field `{x!r:>10}` renders a literal value."""

    def render(value: object) -> str:
        if any(int(n) > 1000 for n in _WIDTHS.findall(spec)):
            raise ValueError("format width too large to build")
        if conversion == "r":
            value = repr(value)
        elif conversion == "a":
            value = ascii(value)
        elif conversion not in (None, "s"):
            raise ValueError(f"unknown conversion {conversion!r}")
        return format(value, spec)

    return render


def _apply_text(value: Val, transform: Callable[[str], str]) -> Val:
    """A string function (`textwrap.dedent`, `.strip()`) applied to a known string, or to the literal parts
    of a partly known one."""
    if isinstance(value, Lit) and isinstance(value.value, str):
        return Lit(transform(value.value))
    if isinstance(value, Text):
        return Text(transform(value.static), value.env)
    return UNKNOWN


def _string_keys(mapping: Val) -> dict[str, Val]:
    if not isinstance(mapping, DictV):
        return {}
    return {k.value: v for k, v in mapping.items if isinstance(k, Lit) and isinstance(k.value, str)}


def _str_format(template: Val, positional: list[Val], keywords: dict[str, Val]) -> Val:
    """`template.format(...)`: literal parts kept, fields filled where their values are literal, else left out."""
    text = _static(template)
    out = _Builder()
    if isinstance(template, Text):
        out.exact = False
        out.env.extend(template.env)
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError:  # malformed braces: only the literal parts of a partly known template get here
        return template if isinstance(template, Text) else UNKNOWN
    auto = 0
    for literal, name, spec, conversion in pieces:
        out.text(literal)
        if name is None:
            continue
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        value: Val = UNKNOWN
        if head == "" or head.isdigit():
            index = auto if head == "" else int(head)
            auto += head == ""
            if index < len(positional):
                value = positional[index]
        else:
            value = keywords.get(head, UNKNOWN)
        if head != name or "{" in (spec or ""):  # `{user.name}`, `{row[0]}`, `{x:{width}}`
            value = UNKNOWN
        out.field(value, _formatter(conversion, spec or ""), plain=conversion in (None, "s") and not spec)
    return out.value()


def _percent_format(template: Val, args: Val) -> Val:
    """`template % args` (printf style): literal parts kept, conversions filled where their values are literal."""
    text = _static(template)
    out = _Builder()
    if isinstance(template, Text):
        out.exact = False
        out.env.extend(template.env)
    mapping = args if isinstance(args, DictV) else None
    positional = list(args.items) if isinstance(args, Seq) else [args]
    index, last = 0, 0
    for match in _PERCENT.finditer(text):
        out.text(text[last : match.start()])
        last = match.end()
        key, spec, conv = match["key"], match["spec"], match["conv"]
        if conv == "%" and key is None and not spec:
            out.text("%")
            continue
        value: Val = UNKNOWN
        if "*" in spec:
            positional = []  # widths taken from the arguments: the positions that follow are unknown
        elif key is not None:
            value = (mapping.get(key) or UNKNOWN) if mapping is not None else UNKNOWN
        elif index < len(positional):
            value = positional[index]
        index += key is None

        def render(v: object, fmt: str = f"%{spec}{conv}") -> str:
            if any(int(n) > 1000 for n in _WIDTHS.findall(fmt)):
                raise ValueError("format width too large to build")
            return str(fmt % (v,))

        out.field(value, render, plain=conv == "s" and not spec)
    out.text(text[last:])
    return out.value()


def _unescape(match: re.Match[str]) -> str:
    body = match.group(1)
    if body in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[body]
    try:
        if body.startswith("N{"):
            return unicodedata.lookup(body[2:-1])
        if body[0] in "uUx" and len(body) > 1:
            return chr(int(body[1:], 16))
        if body[0] in "01234567":
            return chr(int(body, 8))
    except (KeyError, ValueError, OverflowError):
        pass
    return match.group(0)  # Python keeps unknown escapes such as `\d` as they are


def _fstring_literal(source: str, raw: bool) -> str:
    """The text of an f-string's literal part as written in the source (`{{` and escapes resolved)."""
    text = source.replace("{{", "{").replace("}}", "}")
    return text if raw or "\\" not in text else _ESCAPE.sub(_unescape, text)


def _fstring_spec(spec: Iterable[cst.BaseFormattedStringContent] | None, raw: bool) -> str | None:
    """A literal format spec (`:>10`), "" when there is none, None when it holds fields."""
    if spec is None:
        return ""
    parts: list[str] = []
    for part in spec:
        if not isinstance(part, cst.FormattedStringText):
            return None
        parts.append(_fstring_literal(part.value, raw))
    return "".join(parts)


def _static(value: Val) -> str:
    if isinstance(value, Lit) and isinstance(value.value, str):
        return value.value
    if isinstance(value, Text):
        return value.static
    return ""


def _prompt_text(value: Val) -> str:
    """The static text of a prompt: a string, or a list of strings or text blocks (`{"type": "text", "text": ...}`)."""
    if isinstance(value, Seq):
        return _joined(*(_prompt_text(_block_text(item)) for item in value.items))
    return _static(value)


def _block_text(item: Val) -> Val:
    return (item.get("text") or UNKNOWN) if isinstance(item, DictV) else item


def _joined(*texts: str) -> str:
    """Prompt parts that are all sent, one after the other (empty parts left out)."""
    return "\n".join(t for t in texts if t)


def _system_messages(messages: Val) -> str:
    """The static text of the system and developer messages in an OpenAI `messages=` / `input=` list."""
    if not isinstance(messages, Seq):
        return ""
    texts: list[str] = []
    for item in messages.items:
        if isinstance(item, DictV):
            role = item.get("role")
            if isinstance(role, Lit) and role.value in ("system", "developer"):
                texts.append(_prompt_text(item.get("content") or UNKNOWN))
    return _joined(*texts)


def _servers_in(value: Val, depth: int = 0) -> frozenset[SrvRef]:
    if depth > 6:
        return frozenset()
    if isinstance(value, Obj):
        return value.servers
    if isinstance(value, Seq):
        out: set[SrvRef] = set()
        for item in value.items:
            out |= _servers_in(item, depth + 1)
        return frozenset(out)
    if isinstance(value, DictV):
        out = set()
        for _, item in value.items:
            out |= _servers_in(item, depth + 1)
        return frozenset(out)
    return frozenset()


def _configs_in(value: Val) -> frozenset[str]:
    if isinstance(value, Obj):
        return value.configs
    if isinstance(value, Seq):
        out: set[str] = set()
        for item in value.items:
            out |= _configs_in(item)
        return frozenset(out)
    return frozenset()


def _execute_code_tool(tools: Val) -> str | None:
    if not isinstance(tools, Seq):
        return None
    for item in tools.items:
        if isinstance(item, DictV):
            for key in ("name", "type"):
                value = item.get(key)
                if isinstance(value, Lit) and isinstance(value.value, str):
                    base = value.value.split("_20", 1)[0]  # code_execution_20250522
                    if base in _EXECUTE_CODE_TOOLS:
                        return value.value
            function = item.get("function")
            if isinstance(function, DictV):
                value = function.get("name")
                if isinstance(value, Lit) and value.value in _EXECUTE_CODE_TOOLS:
                    return str(value.value)
    return None


def _cleandoc(text: str) -> str:
    import inspect

    return inspect.cleandoc(text) if text else text
