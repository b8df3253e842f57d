"""Static evaluation of one Python module: what its names hold, which MCP servers it declares or defines,
and every place it touches MCP tools. Read-only; nothing is imported or run.

Values are tracked just far enough to answer "is this receiver an MCP session, and to which server":
literals, import-resolved names, instances of known library classes (with the servers they reach),
paths relative to the file, and environment lookups. Anything else is `UNKNOWN`.
"""

from __future__ import annotations

import builtins
import inspect
import posixpath
import re
import string
import textwrap
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState  # the hook PositionProvider uses, without its overhead

from cfmigrate.analyzers.code_apis import canonical, provider_of_model
from cfmigrate.analyzers.code_schema import (
    Flavor,
    SchemaBuilder,
    TypeTarget,
    function_docstring,
    is_literal,
    literal_value,
    template_value,
)
from cfmigrate.analyzers.code_servers import derive_name, name_from_variable, transport_of_url
from cfmigrate.analyzers.configs import find_refs
from cfmigrate.analyzers.manifests import package_of
from cfmigrate.analyzers.model import ToolDef

__all__ = ["Decl", "DefinedServer", "Event", "ModuleAnalysis"]

SrvRef = int | str  # a declaration index in this module, or a server name known only by name


# --- values --------------------------------------------------------------------------------------


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


SESSION_APIS = frozenset(
    {"mcp.ClientSession", "mcp.Client", "fastmcp.Client", "mcp.ClientSessionGroup", "mcp_use.Session"}
)
_TRANSPORT_APIS = frozenset({"mcp.stdio_client", "mcp.streamable_http_client", "mcp.sse_client"})
_SERVER_DEF_APIS = {"mcp.MCPServer": "mcp", "mcp.FastMCP": "mcp", "fastmcp.FastMCP": "fastmcp2"}
_ANTHROPIC_METHODS = {
    ("messages", "create"),
    ("messages", "stream"),
    ("beta", "messages", "create"),
    ("beta", "messages", "stream"),
    ("beta", "messages", "tool_runner"),
}
_OPENAI_METHODS = {
    ("chat", "completions", "create"),
    ("chat", "completions", "parse"),
    ("chat", "completions", "stream"),
    ("beta", "chat", "completions", "parse"),
    ("beta", "chat", "completions", "stream"),
    ("responses", "create"),
    ("responses", "parse"),
    ("responses", "stream"),
}
_EXECUTE_CODE_TOOLS = frozenset(
    {"execute_code", "run_code", "execute_python", "run_python", "code_execution"}
)
_CONFIG_PATH = re.compile(r"^[\w.~${}:/\\ -]*[\w-]\.(?:json|jsonc|json5|ya?ml|toml)$")


# --- what the analysis produces ------------------------------------------------------------------


@dataclass
class Decl:
    """A server declared in code (mutable while the module is analysed)."""

    kind: str  # "stdio" | "http" | "sse"
    origin: str  # "code:StdioServerParameters", ...
    line: int
    command: str | None = None
    args: tuple[str, ...] = ()
    cwd: str | None = None
    url: str | None = None
    env_names: tuple[str, ...] = ()
    header_names: tuple[str, ...] = ()
    env_refs: tuple[str, ...] = ()
    explicit_name: str | None = None  # a dict key or name= argument
    variable: str | None = None  # the variable it was assigned to
    tool_filter: tuple[str, ...] | None = None
    dynamic: tuple[str, ...] = ()  # source text of launch parts that are not literals

    def launch(self) -> tuple[Any, ...]:
        return (self.kind, self.command, self.args, self.cwd, self.url)

    @property
    def package(self) -> str | None:
        return package_of(self.command, self.args)

    def name(self) -> str:
        if self.explicit_name:
            return self.explicit_name
        if self.variable:
            from_var = name_from_variable(self.variable)
            if from_var:
                return from_var
        return derive_name(self.command, self.args, self.url)


@dataclass
class DefinedServer:
    """An MCP server defined in this module (`MCPServer("x")`, `FastMCP("x")`, low-level `Server("x")`)."""

    name: str
    api: str
    flavor: Flavor
    line: int
    variable: str | None
    tools: list[ToolDef] = field(default_factory=list)
    unknown_types: list[tuple[str, str]] = field(default_factory=list)  # (tool, annotation)


@dataclass(frozen=True)
class Event:
    """One fact about agent code at a line: a call site, a model call, a framework agent, a config read."""

    kind: str  # a CallKind, or "model" / "anchor" / "config"
    api: str
    line: int
    tool: str | None = None
    servers: frozenset[SrvRef] = frozenset()
    configs: frozenset[str] = frozenset()
    framework: str | None = None
    provider: str | None = None
    model: str | None = None
    system_text: str = ""  # static text of the system prompt a model call or agent is given
    detail: str = ""
    code_mode: bool = False
    mcp: bool = False  # evidence on its own that the code uses MCP

    @property
    def system_chars(self) -> int:
        """Length of `system_text`."""
        return len(self.system_text)


# --- bindings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Binding:
    kind: str  # "value" | "with" | "iter" | "annotation"
    expr: cst.BaseExpression | None
    unpack: tuple[int, ...] = ()
    annotation: cst.BaseExpression | None = None


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _unwrap_annotation(node: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """The members of `X | None`, `Optional[X]`, `Union[X, Y]` (other forms are yielded as they are)."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        yield from _unwrap_annotation(node.left)
        yield from _unwrap_annotation(node.right)
    elif isinstance(node, cst.Subscript):
        for el in node.slice:
            if isinstance(el.slice, cst.Index):
                yield from _unwrap_annotation(el.slice.value)
        yield node.value
    else:
        yield node


_BUILTIN_NAMES = frozenset(dir(builtins))
_AUGMENTED: dict[type, type[cst.BaseBinaryOp]] = {
    cst.AddAssign: cst.Add,
    cst.ModuloAssign: cst.Modulo,
    cst.MultiplyAssign: cst.Multiply,
}
_LINE_NODES = frozenset(
    {
        cst.Call,
        cst.Import,
        cst.ImportFrom,
        cst.SimpleString,
        cst.FormattedString,
        cst.FunctionDef,
        cst.ClassDef,
    }
)


_SKIPPED_FIELDS = (
    "whitespace",
    "lpar",
    "rpar",
    "comma",
    "semicolon",
    "leading_lines",
    "lines_after",
    "header",
    "footer",
    "equal",
    "colon",
    "dot",
)
_FIELD_CACHE: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    names = _FIELD_CACHE.get(kind)
    if names is None:
        names = tuple(
            f.name for f in dataclass_fields(kind) if not any(skip in f.name for skip in _SKIPPED_FIELDS)
        )
        _FIELD_CACHE[kind] = names
    return names


_NODE_TYPES: dict[type, bool] = {}


def _is_node(kind: type) -> bool:
    """isinstance(x, CSTNode) by type, cached: CSTNode's ABC instance check is slow on hot paths."""
    known = _NODE_TYPES.get(kind)
    if known is None:
        known = _NODE_TYPES[kind] = issubclass(kind, cst.CSTNode)
    return known


class _Walk:
    """A read-only pre-order walk calling `visit_<Node>` / `leave_<Node>` (libcst's visitors rebuild every
    node on the way, which costs more than the whole analysis here)."""

    _handlers: dict[tuple[type, str], Any]

    def __init_subclass__(cls) -> None:
        cls._handlers = {}

    def _handler(self, kind: type, prefix: str) -> Any:
        key = (kind, prefix)
        try:
            return self._handlers[key]
        except KeyError:
            found = getattr(self, prefix + kind.__name__, None)
            self._handlers[key] = found.__func__ if found is not None else None
            return self._handlers[key]

    def on_node(self, node: cst.CSTNode) -> None:
        """Called for every node before its visit_ handler."""

    def walk(self, node: cst.CSTNode) -> None:
        kind = type(node)
        self.on_node(node)
        visit = self._handler(kind, "visit_")
        if visit is not None and visit(self, node) is False:
            return
        for name in _child_fields(kind):
            value = getattr(node, name)
            value_type = type(value)
            if value_type is list or value_type is tuple:
                for item in value:
                    if _is_node(type(item)):
                        self.walk(item)
            elif _is_node(value_type):
                self.walk(value)
        leave = self._handler(kind, "leave_")
        if leave is not None:
            leave(self, node)


@dataclass(eq=False)
class _Scope:
    """A namespace: the module, a class body, a function, or a comprehension."""

    kind: str  # "module" | "class" | "function" | "comprehension"
    parent: _Scope | None
    bindings: dict[str, list[cst.CSTNode]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)

    def bind(self, name: str, node: cst.CSTNode) -> None:
        target = self
        if name in self.globals:
            while target.parent is not None:
                target = target.parent
        target.bindings.setdefault(name, []).append(node)

    def lookup(self, name: str) -> list[cst.CSTNode] | None:
        """Binding nodes of `name` as Python resolves it from here (class bodies are skipped from inside)."""
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.globals:
                while scope.parent is not None:
                    scope = scope.parent
            if (scope is self or scope.kind != "class") and name in scope.bindings:
                return scope.bindings[name]
            scope = scope.parent
        return None


class _LineState(CodegenState):
    """Code generation that only counts lines, recording where the nodes the analysis reports start."""

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line = 1
        self.lines: dict[cst.CSTNode, int] = {}

    def add_token(self, value: str) -> None:
        self.line += value.count("\n")

    def add_indent_tokens(self) -> None:
        pass

    def pop_trailing_newline(self) -> None:
        pass

    def before_codegen(self, node: cst.CSTNode) -> None:
        if type(node) in _LINE_NODES:
            self.lines[node] = self.line

    @contextmanager
    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> Iterator[None]:
        if type(node) in _LINE_NODES:
            self.lines[node] = self.line  # statements: after their leading blank lines and comments
        yield


def _line_numbers(module: cst.Module) -> dict[cst.CSTNode, int]:
    state = _LineState(module)
    module._codegen(state)
    return state.lines


class ModuleAnalysis:
    """Evaluates one parsed module; `run()` fills `decls`, `defined` and `events`."""

    def __init__(self, module: cst.Module, rel: str) -> None:
        self.module = module
        self._lines = _line_numbers(module)
        self._order: dict[cst.CSTNode, int] = {}  # source order of names and binding nodes
        self._name_scope: dict[cst.Name, _Scope] = {}
        self._import_qnames: dict[cst.CSTNode, str] = {}  # import alias node -> qualified name it binds
        self.rel = rel
        self.folder = posixpath.dirname(rel)
        self.decls: list[Decl] = []
        self.defined: list[DefinedServer] = []
        self.events: list[tuple[str | None, Event]] = []  # (unit, event)
        self.incomplete: list[tuple[int, str, tuple[str, ...]]] = []  # (line, origin, run-time parts)
        self._bindings: dict[cst.CSTNode, _Binding] = {}
        self._attr_bindings: dict[tuple[cst.ClassDef, str], list[_Binding]] = {}
        self._self_params: dict[cst.Param, cst.ClassDef] = {}
        self._returns: dict[cst.FunctionDef, list[cst.BaseExpression]] = {}
        self._hints: dict[cst.CSTNode, str] = {}
        self._memo: dict[cst.CSTNode, Val] = {}
        self._busy: set[cst.CSTNode] = set()
        self._busy_bindings: set[_Binding] = set()
        self._node_events: dict[cst.CSTNode, list[Event]] = {}
        self._import_names: dict[str, str] = {}  # local name -> qualified name, for string annotations
        self._module_classes: dict[str, cst.ClassDef] = {}
        self._module_consts: dict[str, cst.BaseExpression] = {}
        self._exact_strings: set[cst.CSTNode] = set()  # path parts already resolved against __file__

    # --- metadata helpers --------------------------------------------------------------------------

    def line(self, node: cst.CSTNode) -> int:
        return self._lines.get(node, 0)

    def _pos(self, node: cst.CSTNode) -> int:
        return self._order.get(node, 0)

    def import_qname(self, node: cst.CSTNode) -> str | None:
        """The qualified name a Name/Attribute resolves to through an import (or a builtin), else None."""
        if isinstance(node, cst.Attribute):
            base = self.import_qname(node.value)
            return f"{base}.{node.attr.value}" if base and not base.startswith("builtins.") else None
        if not isinstance(node, cst.Name):
            return None
        scope = self._name_scope.get(node)
        if scope is None:  # a node parsed from a string annotation
            return self._import_names.get(node.value)
        found = scope.lookup(node.value)
        if found is None:
            return f"builtins.{node.value}" if node.value in _BUILTIN_NAMES else None
        for binding in found:
            qname = self._import_qnames.get(binding)
            if qname is not None:
                return qname
        return None

    def api_of(self, node: cst.BaseExpression) -> str | None:
        qname = self.import_qname(node)
        return canonical(qname) if qname else None

    # --- pass 1: bindings ----------------------------------------------------------------------------

    def _collect(self) -> None:
        """Pass 1: scopes, the binding of every name, `self.x` attributes, returns, hints and source order."""
        analysis = self
        module_scope = _Scope("module", None)

        class Collector(_Walk):
            def __init__(self) -> None:
                self.scope = module_scope
                self.classes: list[cst.ClassDef] = []
                self.functions: list[cst.FunctionDef] = []
                self.counter = 0

            def on_node(self, node: cst.CSTNode) -> None:
                self.counter += 1
                analysis._order[node] = self.counter

            def _push(self, kind: str) -> None:
                self.scope = _Scope(kind, self.scope)

            def _pop(self) -> None:
                assert self.scope.parent is not None
                self.scope = self.scope.parent

            def visit_Name(self, node: cst.Name) -> None:
                analysis._name_scope[node] = self.scope

            def visit_Global(self, node: cst.Global) -> None:
                self.scope.globals.update(n.name.value for n in node.names)

            def visit_ClassDef(self, node: cst.ClassDef) -> None:
                self.scope.bind(node.name.value, node)
                if not self.functions and not self.classes:
                    analysis._module_classes[node.name.value] = node
                self.classes.append(node)
                self._class_body(node)
                self._push("class")

            def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
                self.classes.pop()
                self._pop()

            def _class_body(self, node: cst.ClassDef) -> None:
                if not isinstance(node.body, cst.IndentedBlock):
                    return
                for stmt in node.body.body:
                    if not isinstance(stmt, cst.SimpleStatementLine):
                        continue
                    for small in stmt.body:
                        if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                            analysis._attr_bindings.setdefault((node, small.target.value), []).append(
                                _Binding("value", small.value, annotation=small.annotation.annotation)
                            )

            def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
                self.scope.bind(node.name.value, node)
                if self.classes and self._in_class_body(node):
                    is_static = any(
                        isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
                        for d in node.decorators
                    )
                    params = [*node.params.posonly_params, *node.params.params]
                    if params and not is_static:
                        analysis._self_params[params[0]] = self.classes[-1]
                analysis._returns.setdefault(node, [])
                self.functions.append(node)
                self._push("function")

            def _in_class_body(self, node: cst.FunctionDef) -> bool:
                cls = self.classes[-1]
                return isinstance(cls.body, cst.IndentedBlock) and any(s is node for s in cls.body.body)

            def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
                self.functions.pop()
                self._pop()

            def visit_Lambda(self, node: cst.Lambda) -> None:
                self._push("function")

            def leave_Lambda(self, original_node: cst.Lambda) -> None:
                self._pop()

            def visit_Param(self, node: cst.Param) -> None:
                self.scope.bind(node.name.value, node)
                if node.annotation is not None:
                    analysis._bindings[node] = _Binding(
                        "annotation", None, annotation=node.annotation.annotation
                    )

            def _visit_comp(self, node: cst.CSTNode) -> None:
                self._push("comprehension")

            def _leave_comp(self, node: cst.CSTNode) -> None:
                self._pop()

            visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _visit_comp
            leave_ListComp = leave_SetComp = leave_DictComp = leave_GeneratorExp = _leave_comp

            def visit_Return(self, node: cst.Return) -> None:
                if self.functions and node.value is not None:
                    analysis._returns[self.functions[-1]].append(node.value)

            def visit_Yield(self, node: cst.Yield) -> None:
                if self.functions and isinstance(node.value, cst.BaseExpression):
                    analysis._returns[self.functions[-1]].append(node.value)

            def visit_Import(self, node: cst.Import) -> None:
                for alias in node.names:
                    full = _code(alias.name)
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        local, qname = alias.asname.name.value, full
                    else:
                        local = qname = full.split(".")[0]
                    analysis._import_qnames[alias] = qname
                    self.scope.bind(local, alias)
                    if not self.functions and not self.classes:
                        analysis._import_names[local] = qname

            def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
                dots = "".join("." for _ in node.relative)
                module = dots + (_code(node.module) if node.module is not None else "")
                if isinstance(node.names, cst.ImportStar):
                    return
                for alias in node.names:
                    name = _code(alias.name)
                    local = (
                        alias.asname.name.value
                        if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                        else name
                    )
                    qname = f"{module}.{name}" if module and not module.endswith(".") else f"{module}{name}"
                    analysis._import_qnames[alias] = qname
                    self.scope.bind(local, alias)
                    if not self.functions and not self.classes:
                        analysis._import_names[local] = qname

            def _bind(
                self, target: cst.BaseExpression, binding: _Binding, scope: _Scope | None = None
            ) -> None:
                scope = scope or self.scope
                for name in _target_names(target):
                    scope.bind(name.value, name)
                for attr in _target_attributes(target):
                    if isinstance(attr.value, cst.Name):
                        analysis._name_scope[attr.value] = self.scope  # visited only after this statement
                analysis._bind_target(target, binding)

            def visit_Assign(self, node: cst.Assign) -> None:
                for target in node.targets:
                    self._bind(target.target, _Binding("value", node.value))
                    if isinstance(target.target, cst.Name | cst.Attribute):
                        analysis._hint(node.value, target.target)
                if not self.functions and not self.classes:
                    for target in node.targets:
                        if isinstance(target.target, cst.Name):
                            analysis._module_consts[target.target.value] = node.value

            def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
                self._bind(node.target, _Binding("value", node.value, annotation=node.annotation.annotation))
                if node.value is not None:
                    analysis._hint(node.value, node.target)
                    if not self.functions and not self.classes and isinstance(node.target, cst.Name):
                        analysis._module_consts[node.target.value] = node.value

            def visit_AugAssign(self, node: cst.AugAssign) -> None:
                for name in _target_names(node.target):
                    self.scope.bind(name.value, name)
                analysis._bind_augmented(node, self.scope)

            def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
                scope = self.scope
                while scope.kind == "comprehension" and scope.parent is not None:
                    scope = scope.parent
                self._bind(node.target, _Binding("value", node.value), scope)

            def visit_WithItem(self, node: cst.WithItem) -> None:
                if node.asname is not None:
                    self._bind(node.asname.name, _Binding("with", node.item))
                    analysis._hint(node.item, node.asname.name)

            def visit_For(self, node: cst.For) -> None:
                self._bind(node.target, _Binding("iter", node.iter))

            def visit_CompFor(self, node: cst.CompFor) -> None:
                self._bind(node.target, _Binding("iter", node.iter))

            def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
                if node.name is not None:
                    for name in _target_names(node.name.name):
                        self.scope.bind(name.value, name)

        Collector().walk(self.module)

    def _bind_augmented(self, node: cst.AugAssign, scope: _Scope) -> None:
        """`name += value` binds `name` to `name + value`, the `name` on the right read where the statement starts."""
        operator = _AUGMENTED.get(type(node.operator))
        if operator is None or not isinstance(node.target, cst.Name):
            return
        earlier = cst.Name(node.target.value)
        self._name_scope[earlier] = scope
        self._order[earlier] = self._order[node]
        self._bindings[node.target] = _Binding("value", cst.BinaryOperation(earlier, operator(), node.value))

    def _hint(self, value: cst.BaseExpression, target: cst.BaseExpression) -> None:
        inner = value.expression if isinstance(value, cst.Await) else value
        if (
            isinstance(inner, cst.Call)
            and isinstance(inner.func, cst.Attribute)
            and inner.func.attr.value in ("enter_async_context", "enter_context")
            and inner.args
        ):
            # `x = await stack.enter_async_context(Decl(...))` names the inner declaration too
            self._hint(inner.args[0].value, target)
        if isinstance(target, cst.Name):
            self._hints.setdefault(inner, target.value)
        elif isinstance(target, cst.Attribute):
            self._hints.setdefault(inner, target.attr.value)

    def _bind_target(self, target: cst.BaseExpression, binding: _Binding) -> None:
        if isinstance(target, cst.Name):
            self._bindings[target] = binding
        elif isinstance(target, cst.Tuple | cst.List):
            for i, el in enumerate(target.elements):
                if isinstance(el, cst.Element):
                    self._bind_target(el.value, replace(binding, unpack=(*binding.unpack, i)))
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            cls = self._self_class(target.value)
            if cls is not None:
                self._attr_bindings.setdefault((cls, target.attr.value), []).append(binding)

    def _self_class(self, name: cst.Name) -> cst.ClassDef | None:
        for node in self._assignments(name):
            if isinstance(node, cst.Param) and node in self._self_params:
                return self._self_params[node]
        return None

    def _assignments(self, name: cst.Name) -> list[cst.CSTNode]:
        """The nodes that bind `name` where it is used: targets, parameters, defs (imports excluded)."""
        scope = self._name_scope.get(name)
        found = scope.lookup(name.value) if scope is not None else None
        return [n for n in found or () if n not in self._import_qnames]

    # --- evaluation ------------------------------------------------------------------------------------

    def eval(self, node: cst.BaseExpression | None) -> Val:
        if node is None:
            return UNKNOWN
        if node in self._memo:
            return self._memo[node]
        if node in self._busy:
            return UNKNOWN
        self._busy.add(node)
        try:
            value = self._eval(node)
        finally:
            self._busy.discard(node)
        self._memo[node] = value
        return value

    def _eval(self, node: cst.BaseExpression) -> Val:
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            value = node.evaluated_value
            if value is not None:
                return Lit(value)
            return self._text(node)
        if isinstance(node, cst.FormattedString):
            return self._text(node)
        if isinstance(node, cst.Integer | cst.Float):
            return Lit(node.evaluated_value)
        if isinstance(node, cst.Name):
            return self._eval_name(node)
        if isinstance(node, cst.Attribute):
            return self._eval_attribute(node)
        if isinstance(node, cst.Call):
            return self._eval_call(node)
        if isinstance(node, cst.Await):
            return self.eval(node.expression)
        if isinstance(node, cst.List | cst.Tuple | cst.Set):
            items: list[Val] = []
            for element in node.elements:
                item = self.eval(element.value)
                if isinstance(element, cst.StarredElement) and isinstance(item, Seq):
                    items.extend(item.items)
                else:
                    items.append(item)
            return Seq(tuple(items))
        if isinstance(node, cst.Dict):
            pairs: list[tuple[Val, Val]] = []
            partial = False
            for entry in node.elements:
                if isinstance(entry, cst.StarredDictElement):
                    spread = self.eval(entry.value)
                    if isinstance(spread, DictV):
                        pairs.extend(spread.items)
                        partial = partial or spread.partial
                    else:
                        partial = True
                elif isinstance(entry, cst.DictElement):
                    pairs.append((self.eval(entry.key), self.eval(entry.value)))
            return DictV(tuple(pairs), partial)
        if isinstance(node, cst.Subscript):
            return self._eval_subscript(node)
        if isinstance(node, cst.BinaryOperation):
            return self._eval_binary(node)
        if isinstance(node, cst.UnaryOperation):
            inner = self.eval(node.expression)
            if (
                isinstance(node.operator, cst.Minus)
                and isinstance(inner, Lit)
                and isinstance(inner.value, int | float)
            ):
                return Lit(-inner.value)
            return UNKNOWN
        if isinstance(node, cst.IfExp):
            body = self.eval(node.body)
            return body if body is not UNKNOWN else self.eval(node.orelse)
        if isinstance(node, cst.BooleanOperation):
            left = self.eval(node.left)
            if isinstance(left, EnvRef):
                return left
            return left if left is not UNKNOWN else self.eval(node.right)
        if isinstance(node, cst.ListComp | cst.GeneratorExp | cst.SetComp):
            return self._comp_value(node)
        return UNKNOWN

    def _text(self, node: cst.BaseExpression) -> Val:
        """An f-string (or a concatenation holding one): its text with the fields known statically filled in."""
        out = _Builder()
        self._text_parts(node, out)
        return Text("".join(out.parts), tuple(out.env))

    def _text_parts(self, node: cst.BaseExpression, out: _Builder) -> None:
        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            out.text(value if isinstance(value, str) else "")
        elif isinstance(node, cst.ConcatenatedString):
            self._text_parts(node.left, out)
            self._text_parts(node.right, out)
        elif isinstance(node, cst.FormattedString):
            raw = "r" in node.prefix.lower()
            for part in node.parts:
                if isinstance(part, cst.FormattedStringText):
                    out.text(_fstring_literal(part.value, raw))
                elif isinstance(part, cst.FormattedStringExpression):
                    spec = _fstring_spec(part.format_spec, raw)
                    if part.equal is not None or spec is None:  # `{x=}` and nested `{x:{width}}` are left out
                        out.field(UNKNOWN)
                        continue
                    out.field(
                        self.eval(part.expression),
                        _formatter(part.conversion, spec),
                        plain=part.conversion in (None, "s") and not spec,
                    )

    def _comp_value(self, node: cst.ListComp | cst.GeneratorExp | cst.SetComp) -> Val:
        element = self.eval(node.elt)
        source = self.eval(node.for_in.iter)
        servers = _servers_in(source) | _servers_in(element)
        if isinstance(source, Obj) and source.api in ("mcp.tools", "mcp.tool"):
            return Obj("mcp.tools", servers)
        if servers:
            return Obj("mcp.tools", servers)
        return UNKNOWN

    def _eval_name(self, node: cst.Name) -> Val:
        if node.value in ("True", "False", "None"):
            return Lit({"True": True, "False": False, "None": None}[node.value])
        if node.value == "__file__":
            return FileRef(self.rel)
        qname = self.import_qname(node)
        if qname:
            return Ref(qname)
        assignments = self._assignments(node)
        if not assignments:
            return UNKNOWN
        use = self._pos(node)
        ordered = sorted(assignments, key=self._pos)
        before = [a for a in ordered if self._pos(a) <= use]
        after = [a for a in ordered if self._pos(a) > use]
        return _best(self._eval_assignment(a) for a in [*reversed(before), *after])

    def _eval_assignment(self, target: cst.CSTNode) -> Val:
        if isinstance(target, cst.FunctionDef):
            return LocalFunc(target)
        if isinstance(target, cst.ClassDef):
            return LocalClass(target)
        if isinstance(target, cst.Param):
            if target in self._self_params:
                return SelfRef(self._self_params[target])
            binding = self._bindings.get(target)
            return self._eval_binding(binding) if binding else UNKNOWN
        binding = self._bindings.get(target)
        if binding is None:
            return UNKNOWN
        return self._eval_binding(binding)

    def _eval_binding(self, binding: _Binding) -> Val:
        if binding in self._busy_bindings:
            return UNKNOWN
        self._busy_bindings.add(binding)
        try:
            value = self.eval(binding.expr) if binding.expr is not None else UNKNOWN
            # `with X as v`: every recognised context manager yields itself or its streams, so v is X
            if binding.kind == "iter":
                value = self._element(value)
            for index in binding.unpack:
                value = self._unpack(value, index)
            if value is UNKNOWN and binding.annotation is not None:
                value = self._instance_of_annotation(binding.annotation)
            return value
        finally:
            self._busy_bindings.discard(binding)

    def _instance_of_annotation(self, annotation: cst.BaseExpression) -> Val:
        for member in _unwrap_annotation(annotation):
            target = member
            if isinstance(member, cst.SimpleString):
                parsed = member.evaluated_value
                if isinstance(parsed, str) and parsed.isidentifier() and parsed in self._import_names:
                    api = canonical(self._import_names[parsed])
                    if api:
                        return Obj(api)
                continue
            api = self.api_of(target)
            if api:
                return Obj(api)
        return UNKNOWN

    def _element(self, value: Val) -> Val:
        if isinstance(value, Seq):
            for item in value.items:
                if item is not UNKNOWN:
                    return item
            return UNKNOWN
        if isinstance(value, Obj) and (
            value.api in ("mcp.tools", "mcp.tools_result") or value.path[-1:] == ("tools",)
        ):
            return Obj("mcp.tool", value.servers)
        return UNKNOWN

    def _unpack(self, value: Val, index: int) -> Val:
        if isinstance(value, Seq):
            return value.items[index] if index < len(value.items) else UNKNOWN
        if isinstance(value, Obj) and value.api in _TRANSPORT_APIS:
            return value  # (read, write[, get_session_id]) all lead to the same server
        return UNKNOWN

    def _eval_attribute(self, node: cst.Attribute) -> Val:
        qname = self.import_qname(node) if _is_dotted(node) else None
        if qname:
            return Ref(qname)
        base = self.eval(node.value)
        attr = node.attr.value
        if isinstance(base, Ref):
            return Ref(f"{base.qname}.{attr}")
        if isinstance(base, Obj):
            if base.api == "mcp.tools_result" and attr == "tools":
                return Obj("mcp.tools", base.servers)
            return replace(base, path=(*base.path, attr))
        if isinstance(base, SelfRef):
            return self._eval_self_attr(base.cls, attr)
        if isinstance(base, FileRef):
            if attr == "parent":
                return FileRef(posixpath.dirname(base.rel))
            return UNKNOWN
        if isinstance(base, LocalClass):
            return self._class_attr(base.node, attr)
        if isinstance(base, Lit) and attr == "value":
            return base  # an enum member's .value
        return UNKNOWN

    def _eval_self_attr(self, cls: cst.ClassDef, attr: str) -> Val:
        bindings = self._attr_bindings.get((cls, attr), [])
        value = _best(self._eval_binding(b) for b in bindings if b.expr is not None)
        if value is not UNKNOWN and value != _NONE:
            return value
        for binding in bindings:
            if binding.annotation is not None:
                value = self._instance_of_annotation(binding.annotation)
                if value is not UNKNOWN:
                    return value
        return self._class_attr(cls, attr) if not bindings else UNKNOWN

    def _class_attr(self, cls: cst.ClassDef, attr: str) -> Val:
        """A class attribute assigned in the class body (`SYSTEM = "..."`, read as `Bot.SYSTEM` or `self.SYSTEM`)."""
        for stmt in _class_statements(cls):
            if isinstance(stmt, cst.Assign) and any(
                isinstance(t.target, cst.Name) and t.target.value == attr for t in stmt.targets
            ):
                return self.eval(stmt.value)
        return UNKNOWN

    def _eval_subscript(self, node: cst.Subscript) -> Val:
        base = self.eval(node.value)
        index: Val = UNKNOWN
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            index = self.eval(node.slice[0].slice.value)
        if isinstance(base, Ref) and canonical(base.qname) == "os.environ":
            if isinstance(index, Lit) and isinstance(index.value, str):
                return EnvRef(index.value)
            return UNKNOWN
        if isinstance(base, DictV) and isinstance(index, Lit) and isinstance(index.value, str):
            return base.get(index.value) or UNKNOWN
        if isinstance(base, Seq) and isinstance(index, Lit) and isinstance(index.value, int):
            items = base.items
            return items[index.value] if -len(items) <= index.value < len(items) else UNKNOWN
        if isinstance(base, Obj) and base.configs:
            return base  # config["mcpServers"] still stands for the config file
        return UNKNOWN

    def _eval_binary(self, node: cst.BinaryOperation) -> Val:
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(node.operator, cst.Divide) and isinstance(left, FileRef):
            if isinstance(right, Lit) and isinstance(right.value, str):
                return FileRef(posixpath.normpath(posixpath.join(left.rel, right.value)))
            return UNKNOWN
        if isinstance(node.operator, cst.Add):
            if isinstance(left, Lit) and isinstance(right, Lit) and type(left.value) is type(right.value):
                if isinstance(left.value, str) and len(left.value) + len(right.value) > _MAX_TEXT:
                    return Text(left.value)
                try:
                    return Lit(left.value + right.value)
                except TypeError:
                    return UNKNOWN
            if isinstance(left, Seq) and isinstance(right, Seq):
                return Seq(left.items + right.items)
            if isinstance(left, Lit | Text) or isinstance(right, Lit | Text):
                out = _Builder()
                out.field(left, _as_str)
                out.field(right, _as_str)
                return out.value()
        if isinstance(node.operator, cst.BitOr) and isinstance(left, DictV) and isinstance(right, DictV):
            return DictV(left.items + right.items, left.partial or right.partial)
        if isinstance(node.operator, cst.Modulo) and _is_text(left):
            return _percent_format(left, right)
        if isinstance(node.operator, cst.Multiply):  # "=" * 40
            text, count = (left, right) if _is_text(left) else (right, left)
            if isinstance(text, Lit) and isinstance(count, Lit):
                repeated, times = text.value, count.value
                if isinstance(repeated, str) and type(times) is int and len(repeated) * times <= _MAX_TEXT:
                    return Lit(repeated * times)
        return UNKNOWN

    # --- calls -----------------------------------------------------------------------------------------

    def _args(self, call: cst.Call) -> tuple[list[cst.BaseExpression], dict[str, cst.BaseExpression]]:
        positional: list[cst.BaseExpression] = []
        keywords: dict[str, cst.BaseExpression] = {}
        for arg in call.args:
            if arg.keyword is not None:
                keywords[arg.keyword.value] = arg.value
            elif not arg.star:
                positional.append(arg.value)
        return positional, keywords

    def _arg(self, call: cst.Call, index: int | None, name: str | None) -> cst.BaseExpression | None:
        positional, keywords = self._args(call)
        if name is not None and name in keywords:
            return keywords[name]
        if index is not None and index < len(positional):
            return positional[index]
        return None

    def _emit(self, call: cst.CSTNode, event: Event) -> None:
        self._node_events.setdefault(call, []).append(event)

    def _agent(
        self,
        call: cst.CSTNode,
        api: str,
        line: int,
        *,
        framework: str,
        model: str | None,
        provider: str | None,
        servers: frozenset[SrvRef],
        system_text: str = "",
        announce_servers: bool = True,
    ) -> Obj:
        """Record a framework agent's constructor (an `anchor` event) and return the agent it builds."""
        self._emit(
            call,
            Event(
                "anchor",
                api,
                line,
                servers=servers if announce_servers else frozenset(),
                framework=framework,
                model=model,
                provider=provider,
                system_text=system_text,
            ),
        )
        return Obj("agent", servers, model=model)

    def _eval_call(self, node: cst.Call) -> Val:
        func = self.eval(node.func)
        if isinstance(func, Ref):
            if func.qname in _TEXT_FUNCTIONS:
                return _apply_text(self.eval(self._arg(node, 0, None)), _TEXT_FUNCTIONS[func.qname])
            api = canonical(func.qname)
            if api is None:
                head, _, last = func.qname.rpartition(".")
                owner = canonical(head) if head else None
                if owner == "cfmigrate.CodeMode":
                    api = owner
                elif owner:
                    api = f"{owner}.{last}"
            if api:
                return self._call_api(api, node)
            return UNKNOWN
        if isinstance(func, Obj):
            return self._call_method(func, node)
        if isinstance(func, LocalFunc):
            for expr in self._returns.get(func.node, []):
                value = self.eval(expr)
                if value is not UNKNOWN:
                    return value
            return UNKNOWN
        if isinstance(node.func, cst.Attribute):
            method = node.func.attr.value
            if method in _STR_METHODS:
                receiver = self.eval(node.func.value)
                if _is_text(receiver):
                    return self._str_method(receiver, method, node)
            if method in ("enter_async_context", "enter_context") and node.args:
                return self.eval(node.args[0].value)
            if method in ("resolve", "absolute", "expanduser") and isinstance(
                self.eval(node.func.value), FileRef
            ):
                return self.eval(node.func.value)
        return UNKNOWN

    def _str_method(self, receiver: Val, method: str, call: cst.Call) -> Val:
        """A string method with a statically known receiver: `format`, `join`, `replace`, `strip` and kin."""
        if method in ("format", "format_map"):
            positional, keywords = self._format_args(call, method == "format_map")
            return _str_format(receiver, positional, keywords)
        args = [a for a in call.args if a.keyword is None and not a.star]
        if len(args) != len(call.args):
            return UNKNOWN
        values = [self.eval(a.value) for a in args]
        if method == "join" and len(values) == 1:
            items = values[0]
            if not isinstance(items, Seq) or any(
                isinstance(i, Lit) and not isinstance(i.value, str) for i in items.items
            ):
                return UNKNOWN  # a literal that is not a string makes join() raise
            out = _Builder()
            out.field(receiver)
            # a list reached through a name may have grown since it was written: its text is a lower bound
            out.exact = out.exact and isinstance(args[0].value, cst.List | cst.Tuple)
            separator = "".join(out.parts)
            out.parts.clear()
            for i, item in enumerate(items.items):
                if i:
                    out.text(separator)
                out.field(item, _as_str)
            return out.value()
        if method == "replace" and len(values) in (2, 3):
            old = values[0]
            if not (isinstance(old, Lit) and isinstance(old.value, str)) or len(values) == 3:
                return UNKNOWN  # a count argument is rare enough not to follow
            out = _Builder()
            out.field(values[1], _as_str)
            new = "".join(out.parts)
            text = _static(receiver)
            growth = (text.count(old.value) if old.value else len(text) + 1) * max(
                len(new) - len(old.value), 0
            )
            if len(text) + growth > _MAX_TEXT:
                return UNKNOWN
            env = receiver.env if isinstance(receiver, Text) else ()
            replaced = text.replace(old.value, new)
            if isinstance(receiver, Lit) and out.exact:
                return Lit(replaced)
            return Text(replaced, env + tuple(out.env))
        if method in ("strip", "lstrip", "rstrip") and len(values) <= 1:
            chars = values[0] if values else _NONE
            if not (isinstance(chars, Lit) and isinstance(chars.value, str | None)):
                return UNKNOWN
            return _apply_text(receiver, lambda text: getattr(text, method)(chars.value))
        return UNKNOWN

    def _format_args(self, call: cst.Call, mapping_only: bool) -> tuple[list[Val], dict[str, Val]]:
        """Positional and keyword values of `str.format(...)` (`format_map(m)` takes one mapping)."""
        positional: list[Val] = []
        keywords: dict[str, Val] = {}
        open_positional = False  # after a `*args` not known statically, positions are unknown
        if mapping_only:
            mapping = self.eval(call.args[0].value) if len(call.args) == 1 else UNKNOWN
            return [], _string_keys(mapping)
        for arg in call.args:
            if arg.star == "**":
                keywords.update(_string_keys(self.eval(arg.value)))
            elif arg.keyword is not None:
                keywords[arg.keyword.value] = self.eval(arg.value)
            elif open_positional:
                continue
            elif arg.star == "*":
                spread = self.eval(arg.value)
                if isinstance(spread, Seq):
                    positional.extend(spread.items)
                else:
                    open_positional = True
            else:
                positional.append(self.eval(arg.value))
        return positional, keywords

    def _str(self, node: cst.BaseExpression | None) -> str | None:
        value = self.eval(node)
        if isinstance(value, Lit) and isinstance(value.value, str):
            return value.value
        if isinstance(value, FileRef):
            return value.rel
        if isinstance(value, Ref) and canonical(value.qname) == "sys.executable":
            return "python"
        return None

    def _str_or_dynamic(self, node: cst.BaseExpression | None, dynamic: list[str]) -> str | None:
        if node is None:
            return None
        text = self._str(node)
        if text is None:
            dynamic.append(_code(node))
            return "{" + _code(node) + "}"
        return text

    def _str_list(self, node: cst.BaseExpression | None, dynamic: list[str]) -> tuple[str, ...]:
        if node is None:
            return ()
        value = self.eval(node)
        if isinstance(value, Seq):
            out: list[str] = []
            elements = node.elements if isinstance(node, cst.List | cst.Tuple) else None
            for i, item in enumerate(value.items):
                if isinstance(item, Lit) and isinstance(item.value, str):
                    out.append(item.value)
                elif isinstance(item, FileRef):
                    out.append(item.rel)
                elif isinstance(item, Ref) and canonical(item.qname) == "sys.executable":
                    out.append("python")
                else:
                    text = _code(elements[i].value) if elements and i < len(elements) else "?"
                    dynamic.append(text)
                    out.append("{" + text + "}")
            return tuple(out)
        dynamic.append(_code(node))
        return ()

    def _names_of(self, node: cst.BaseExpression | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(keys, environment variables their values come from) of a dict such as `env={...}`."""
        if node is None:
            return (), ()
        value = self.eval(node)
        if not isinstance(value, DictV):
            return (), ()
        keys: list[str] = []
        refs: list[str] = []
        for k, v in value.items:
            if isinstance(k, Lit) and isinstance(k.value, str):
                keys.append(k.value)
                refs.extend(_refs_of(v))
        return tuple(sorted(set(keys))), tuple(sorted(set(refs)))

    def _declare(self, call: cst.CSTNode, decl: Decl) -> int | None:
        """Record a declaration; one whose launch depends on run-time values is noted, not recorded."""
        if decl.dynamic:
            self.incomplete.append((decl.line, decl.origin, decl.dynamic))
            return None
        if decl.variable is None:
            decl.variable = self._hints.get(call)
        self.decls.append(decl)
        return len(self.decls) - 1

    def _toolset_decl(self, call: cst.Call, name: str | None) -> frozenset[int]:
        """The server a pydantic-ai `MCPToolset(...)` connects to: a FastMCP stdio/HTTP transport or a URL.

        Anything else (a script path FastMCP guesses a launcher for, a pre-built client) stays unknown.
        """
        origin = "code:pydantic_ai.MCPToolset"
        target = self._arg(call, 0, "client")
        index: int | None = None
        inner = self.api_of(target.func) if isinstance(target, cst.Call) else None
        if isinstance(target, cst.Call) and inner == "fastmcp.StdioTransport":
            index = self._decl_from_kwargs(
                call,
                origin,
                kind="stdio",
                command=self._arg(target, 0, "command"),
                args=self._arg(target, 1, "args"),
                env=self._arg(target, 2, "env"),
                cwd=self._arg(target, 3, "cwd"),
                name=name,
            )
        elif isinstance(target, cst.Call) and inner == "fastmcp.StreamableHttpTransport":
            index = self._decl_from_kwargs(
                call,
                origin,
                kind="http",
                url=self._arg(target, 0, "url"),
                headers=self._arg(target, 1, "headers"),
                name=name,
            )
        elif target is not None and (self._str(target) or "").startswith(("http://", "https://")):
            index = self._decl_from_kwargs(call, origin, kind="http", url=target, name=name)
        return frozenset({index}) if index is not None else frozenset()

    def _decl_from_kwargs(
        self,
        call: cst.Call,
        origin: str,
        *,
        kind: str,
        command: cst.BaseExpression | None = None,
        args: cst.BaseExpression | None = None,
        env: cst.BaseExpression | None = None,
        cwd: cst.BaseExpression | None = None,
        url: cst.BaseExpression | None = None,
        headers: cst.BaseExpression | None = None,
        name: str | None = None,
    ) -> int | None:
        dynamic: list[str] = []
        decl = Decl(kind=kind, origin=origin, line=self.line(call), explicit_name=name)
        if kind == "stdio":
            if command is None:
                return None
            decl.command = self._str_or_dynamic(command, dynamic)
            decl.args = self._str_list(args, dynamic)
            decl.cwd = self._str_or_dynamic(cwd, dynamic) if cwd is not None else None
            decl.env_names, decl.env_refs = self._names_of(env)
        else:
            if url is None:
                return None
            decl.url = self._str_or_dynamic(url, dynamic)
            decl.kind = transport_of_url(decl.url or "", "sse" if kind == "sse" else None)
            decl.header_names, refs = self._names_of(headers)
            decl.env_refs = refs
        decl.dynamic = tuple(dynamic)
        return self._declare(call, decl)

    def _decl_from_dict(self, call: cst.CSTNode, value: DictV, origin: str, name: str | None) -> int | None:
        """A server from a config-style dict: {"command", "args", "env", "cwd"} or {"url", "headers", "transport"}."""
        dynamic: list[str] = []

        def text(key: str) -> str | None:
            v = value.get(key)
            if v is None:
                return None
            if isinstance(v, Lit) and isinstance(v.value, str):
                return v.value
            if isinstance(v, FileRef):
                return v.rel
            dynamic.append(key)
            return "{" + key + "}"

        def names(key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
            v = value.get(key)
            if not isinstance(v, DictV):
                return (), ()
            keys = sorted({k.value for k, _ in v.items if isinstance(k, Lit) and isinstance(k.value, str)})
            refs = sorted({r for _, x in v.items for r in _refs_of(x)})
            return tuple(keys), tuple(refs)

        transport = text("transport") or text("type")
        url = text("url") or text("serverUrl")
        command = text("command")
        decl = Decl(kind="stdio", origin=origin, line=self.line(call), explicit_name=name)
        if command is not None and url is None:
            args = value.get("args")
            items: list[str] = []
            if isinstance(args, Seq):
                for i, item in enumerate(args.items):
                    if isinstance(item, Lit) and isinstance(item.value, str):
                        items.append(item.value)
                    elif isinstance(item, FileRef):
                        items.append(item.rel)
                    else:
                        dynamic.append(f"args[{i}]")
                        items.append("{args[" + str(i) + "]}")
            decl.command, decl.args, decl.cwd = command, tuple(items), text("cwd")
            decl.env_names, decl.env_refs = names("env")
        elif url is not None:
            decl.kind = transport_of_url(url, transport)
            decl.url = url
            decl.header_names, decl.env_refs = names("headers")
        else:
            return None
        decl.dynamic = tuple(dynamic)
        return self._declare(call, decl)

    def _servers_from_config_dict(self, call: cst.CSTNode, value: Val, origin: str) -> frozenset[SrvRef]:
        """Servers of a `{"mcpServers": {...}}` dict or a bare `{name: {...}}` mapping."""
        if not isinstance(value, DictV):
            return frozenset()
        inner = value.get("mcpServers") or value.get("servers")
        mapping = inner if isinstance(inner, DictV) else value
        out: set[SrvRef] = set()
        for key, spec in mapping.items:
            if isinstance(key, Lit) and isinstance(key.value, str) and isinstance(spec, DictV):
                index = self._decl_from_dict(call, spec, origin, key.value)
                if index is not None:
                    out.add(index)
        return frozenset(out)

    def _config_refs(self, node: cst.BaseExpression | None) -> frozenset[str]:
        """Candidate repository paths of a config file named by a literal path."""
        if node is None:
            return frozenset()
        value = self.eval(node)
        if isinstance(value, Obj):
            return value.configs
        if isinstance(value, FileRef):
            return frozenset({value.rel})
        if isinstance(value, Lit) and isinstance(value.value, str):
            return frozenset(self.config_candidates(value.value))
        return frozenset()

    def config_candidates(self, text: str) -> tuple[str, ...]:
        """Where a relative path in this file may point: beside the file, then from the repository root."""
        text = text.replace("\\", "/")
        if text.startswith("/"):
            return (text,)
        near = (
            posixpath.normpath(posixpath.join(self.folder, text)) if self.folder else posixpath.normpath(text)
        )
        top = posixpath.normpath(text)
        return (near,) if near == top else (near, top)

    def _model(self, node: cst.BaseExpression | None) -> tuple[str | None, str | None]:
        """(model, provider) of a model argument: a literal, a constant, or a known chat-model object."""
        value = self.eval(node)
        if isinstance(value, Lit) and isinstance(value.value, str):
            return value.value, provider_of_model(value.value)
        if isinstance(value, Obj) and value.model:
            provider = {"langchain.ChatAnthropic": "anthropic", "langchain.ChatOpenAI": "openai"}.get(
                value.api, provider_of_model(value.model)
            )
            return value.model, provider
        if isinstance(value, Obj) and value.api in ("langchain.ChatAnthropic", "langchain.ChatOpenAI"):
            return None, "anthropic" if value.api == "langchain.ChatAnthropic" else "openai"
        return None, None

    def _prompt(self, node: cst.BaseExpression | None) -> str:
        """The static text of a prompt argument ("" when none of it is known before run time)."""
        return _prompt_text(self.eval(node)) if node is not None else ""

    def _call_api(self, api: str, call: cst.Call) -> Val:
        line = self.line(call)
        kw = self._args(call)[1]
        if api == "mcp.StdioServerParameters":
            index = self._decl_from_kwargs(
                call,
                "code:StdioServerParameters",
                kind="stdio",
                command=self._arg(call, 0, "command"),
                args=self._arg(call, 1, "args"),
                env=self._arg(call, 2, "env"),
                cwd=self._arg(call, 3, "cwd"),
            )
            return Obj("server_params", frozenset({index}) if index is not None else frozenset())
        if api in ("mcp.SseServerParameters", "mcp.StreamableHttpParameters"):
            kind = "sse" if api == "mcp.SseServerParameters" else "http"
            index = self._decl_from_kwargs(
                call,
                f"code:{api.split('.')[-1]}",
                kind=kind,
                url=self._arg(call, 0, "url"),
                headers=kw.get("headers"),
            )
            return Obj("server_params", frozenset({index}) if index is not None else frozenset())
        if api == "mcp.stdio_client":
            params = self.eval(self._arg(call, 0, "server"))
            return Obj(api, _servers_in(params))
        if api in ("mcp.streamable_http_client", "mcp.sse_client"):
            url = self._arg(call, 0, "url")
            index = self._decl_from_kwargs(
                call,
                f"code:{api.split('.')[-1]}",
                kind="sse" if api == "mcp.sse_client" else "http",
                url=url,
                headers=kw.get("headers"),
            )
            return Obj(api, frozenset({index}) if index is not None else frozenset())
        if api == "mcp.ClientSession":
            streams = self.eval(self._arg(call, 0, "read_stream"))
            return Obj(api, _servers_in(streams))
        if api in ("mcp.Client", "fastmcp.Client"):
            return Obj(api, self._client_target(call, api))
        if api == "mcp.ClientSessionGroup":
            return Obj(api)
        if api in _SERVER_DEF_APIS:
            name = self._str(self._arg(call, 0, "name"))
            variable = self._hints.get(call)
            self.defined.append(
                DefinedServer(
                    name=name or variable or "server",
                    api=api,
                    flavor=_SERVER_DEF_APIS[api],  # type: ignore[arg-type]
                    line=line,
                    variable=variable,
                )
            )
            return Obj("server_def", defined=len(self.defined) - 1)
        if api == "mcp.LowLevelServer":
            name = self._str(self._arg(call, 0, "name"))
            variable = self._hints.get(call)
            self.defined.append(
                DefinedServer(
                    name=name or variable or "server", api=api, flavor="mcp", line=line, variable=variable
                )
            )
            return Obj("server_def", defined=len(self.defined) - 1)
        # --- OpenAI Agents SDK
        if api in ("agents.MCPServerStdio", "agents.MCPServerStreamableHttp", "agents.MCPServerSse"):
            params = self.eval(self._arg(call, 0, "params"))
            name = self._str(kw.get("name"))
            index = None
            if isinstance(params, DictV):
                index = self._decl_from_dict(call, params, f"code:{api.split('.')[-1]}", name)
                if index is not None and api == "agents.MCPServerSse":
                    self.decls[index].kind = "sse"
                if index is not None:
                    self.decls[index].tool_filter = self._agents_tool_filter(kw.get("tool_filter"))
            return Obj("agents.MCPServer", frozenset({index}) if index is not None else frozenset())
        if api == "agents.Agent":
            servers = _servers_in(self.eval(kw.get("mcp_servers")))
            model, provider = self._model(kw.get("model"))
            prompt = self._prompt(kw.get("instructions"))
            if "mcp_servers" in kw:
                self._emit(
                    call,
                    Event(
                        "framework",
                        "agents.Agent",
                        line,
                        servers=servers,
                        framework="openai-agents",
                        mcp=True,
                        detail="mcp_servers=",
                    ),
                )
            return self._agent(
                call,
                "agents.Agent",
                line,
                framework="openai-agents",
                model=model,
                provider=provider or "openai",
                servers=servers,
                system_text=prompt,
                announce_servers=False,
            )
        # --- pydantic-ai
        if api in (
            "pydantic_ai.MCPServerStdio",
            "pydantic_ai.MCPServerStreamableHTTP",
            "pydantic_ai.MCPServerSSE",
        ):
            name = self._str(kw.get("id")) or self._str(kw.get("tool_prefix"))
            origin = f"code:pydantic_ai.{api.split('.')[-1]}"
            if api == "pydantic_ai.MCPServerStdio":
                index = self._decl_from_kwargs(
                    call,
                    origin,
                    kind="stdio",
                    command=self._arg(call, 0, "command"),
                    args=self._arg(call, 1, "args"),
                    env=kw.get("env"),
                    cwd=kw.get("cwd"),
                    name=name,
                )
            else:
                index = self._decl_from_kwargs(
                    call,
                    origin,
                    kind="sse" if api.endswith("SSE") else "http",
                    url=self._arg(call, 0, "url"),
                    headers=kw.get("headers"),
                    name=name,
                )
            return Obj("pydantic_ai.MCPServer", frozenset({index}) if index is not None else frozenset())
        if api == "pydantic_ai.MCPToolset":  # pydantic-ai 2.x: a FastMCP transport (or a URL) per toolset
            return Obj("pydantic_ai.MCPServer", self._toolset_decl(call, self._str(kw.get("id"))))
        if api == "pydantic_ai.load_mcp_servers":
            configs = self._config_refs(self._arg(call, 0, "config_path"))
            self._emit(call, Event("config", api, line, configs=configs))
            return Seq((Obj("pydantic_ai.MCPServer", configs=configs),))
        if api == "pydantic_ai.Agent":
            toolsets = self.eval(kw.get("toolsets"))
            servers = _servers_in(toolsets) | _servers_in(self.eval(kw.get("mcp_servers")))
            configs = _configs_in(toolsets) | _configs_in(self.eval(kw.get("mcp_servers")))
            model, provider = self._model(self._arg(call, 0, "model"))
            prompt = _joined(self._prompt(kw.get("system_prompt")), self._prompt(kw.get("instructions")))
            if servers or configs:
                self._emit(
                    call,
                    Event(
                        "framework",
                        "pydantic_ai.Agent",
                        line,
                        servers=servers,
                        configs=configs,
                        framework="pydantic-ai",
                        mcp=True,
                        detail="toolsets=",
                    ),
                )
            return self._agent(
                call,
                api,
                line,
                framework="pydantic-ai",
                model=model,
                provider=provider,
                servers=servers,
                system_text=prompt,
                announce_servers=False,
            )
        # --- langchain
        if api == "langchain.MultiServerMCPClient":
            arg = self._arg(call, 0, "connections")
            value = self.eval(arg)
            servers = self._servers_from_config_dict(call, value, "code:MultiServerMCPClient")
            return Obj(api, servers, configs=_configs_in(value))
        if api == "langchain.load_mcp_tools":
            session = self.eval(self._arg(call, 0, "session"))
            servers = _servers_in(session)
            self._emit(call, Event("framework", api, line, servers=servers, framework="langchain", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "langchain.create_agent":
            model, provider = self._model(self._arg(call, 0, "model"))
            tools = self.eval(self._arg(call, 1, "tools"))
            prompt = max(self._prompt(kw.get("prompt")), self._prompt(kw.get("system_prompt")), key=len)
            return self._agent(
                call,
                api,
                line,
                framework="langchain",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
                system_text=prompt,
            )
        if api in ("langchain.ChatAnthropic", "langchain.ChatOpenAI", "langchain.init_chat_model"):
            model = self._str(self._arg(call, 0, "model")) or self._str(kw.get("model_name"))
            return Obj(api, model=model)
        # --- smolagents
        if api == "smolagents.ToolCollection.from_mcp":
            servers = self._params_servers(
                call, self.eval(self._arg(call, 0, "server_parameters")), "code:smolagents"
            )
            self._emit(call, Event("framework", api, line, servers=servers, framework="smolagents", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "smolagents.MCPClient":
            servers = self._params_servers(
                call, self.eval(self._arg(call, 0, "server_parameters")), "code:smolagents"
            )
            self._emit(call, Event("framework", api, line, servers=servers, framework="smolagents", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "smolagents.Model":
            return Obj(api, model=self._str(self._arg(call, 0, "model_id")))
        if api == "smolagents.Agent":
            tools = self.eval(self._arg(call, 0, "tools"))
            model, provider = self._model(self._arg(call, 1, "model"))
            return self._agent(
                call,
                api,
                line,
                framework="smolagents",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
            )
        # --- CrewAI
        if api == "crewai.MCPServerAdapter":
            positional, _ = self._args(call)
            servers = self._params_servers(
                call, self.eval(positional[0]) if positional else UNKNOWN, "code:MCPServerAdapter"
            )
            names = [self._str(p) for p in positional[1:]]
            if names and all(names):
                for ref in servers:
                    if isinstance(ref, int):
                        self.decls[ref].tool_filter = tuple(n for n in names if n)
            self._emit(call, Event("framework", api, line, servers=servers, framework="crewai", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "crewai.LLM":
            return Obj(api, model=self._str(self._arg(call, 0, "model")))
        if api == "crewai.Agent":
            tools = self.eval(kw.get("tools"))
            model, provider = self._model(kw.get("llm"))
            prompt = _joined(*(self._prompt(kw.get(k)) for k in ("role", "goal", "backstory")))
            return self._agent(
                call,
                api,
                line,
                framework="crewai",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
                system_text=prompt,
            )
        # --- Google ADK
        if api == "adk.StdioConnectionParams":
            return Obj("server_params", _servers_in(self.eval(self._arg(call, 0, "server_params"))))
        if api in ("adk.SseConnectionParams", "adk.StreamableHTTPConnectionParams"):
            index = self._decl_from_kwargs(
                call,
                f"code:adk.{api.split('.')[-1]}",
                kind="sse" if api == "adk.SseConnectionParams" else "http",
                url=self._arg(call, 0, "url"),
                headers=kw.get("headers"),
            )
            return Obj("server_params", frozenset({index}) if index is not None else frozenset())
        if api == "adk.MCPToolset":
            servers = _servers_in(self.eval(self._arg(call, None, "connection_params")))
            tool_filter = self.eval(kw.get("tool_filter"))
            if isinstance(tool_filter, Seq):
                allowed = tuple(
                    i.value for i in tool_filter.items if isinstance(i, Lit) and isinstance(i.value, str)
                )
                for ref in servers:
                    if isinstance(ref, int):
                        self.decls[ref].tool_filter = allowed
            self._emit(
                call, Event("framework", "adk.MCPToolset", line, servers=servers, framework="adk", mcp=True)
            )
            return Obj("mcp.tools", servers)
        if api == "adk.LiteLlm":
            return Obj(api, model=self._str(self._arg(call, 0, "model")))
        if api == "adk.LlmAgent":
            tools = self.eval(kw.get("tools"))
            model, provider = self._model(kw.get("model"))
            return self._agent(
                call,
                api,
                line,
                framework="adk",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
                system_text=self._prompt(kw.get("instruction")),
            )
        # --- mcp-use
        if api in ("mcp_use.MCPClient", "mcp_use.MCPClient.from_dict", "mcp_use.MCPClient.from_config_file"):
            arg = self._arg(call, 0, "config")
            value = self.eval(arg)
            if api == "mcp_use.MCPClient.from_config_file" or isinstance(value, Lit | FileRef):
                configs = self._config_refs(arg)
                self._emit(call, Event("config", api, line, configs=configs))
                return Obj("mcp_use.MCPClient", configs=configs)
            return Obj("mcp_use.MCPClient", self._servers_from_config_dict(call, value, "code:mcp_use"))
        if api == "mcp_use.MCPAgent":
            client = self.eval(kw.get("client"))
            model, provider = self._model(kw.get("llm"))
            prompt = self._prompt(kw.get("system_prompt"))
            self._emit(
                call,
                Event(
                    "framework",
                    api,
                    line,
                    servers=_servers_in(client),
                    configs=_configs_in(client),
                    framework="mcp-use",
                    mcp=True,
                ),
            )
            return self._agent(
                call,
                api,
                line,
                framework="mcp-use",
                model=model,
                provider=provider,
                servers=_servers_in(client),
                system_text=prompt,
                announce_servers=False,
            )
        # --- model SDKs and cfmigrate
        if api in ("anthropic.Client", "openai.Client"):
            return Obj(api)
        if api == "cfmigrate.CodeMode":
            config = kw.get("config")
            configs = (
                self._config_refs(config)
                if config is not None
                else frozenset(self.config_candidates(".mcp.json"))
            )
            self._emit(
                call,
                Event(
                    "code_mode", "cfmigrate.runtime.CodeMode", line, configs=configs, code_mode=True, mcp=True
                ),
            )
            return Obj("cfmigrate.CodeMode", configs=configs)
        # --- helpers whose value matters for paths and environment names
        if api == "os.getenv":
            name = self._str(self._arg(call, 0, "key"))
            return EnvRef(name) if name else UNKNOWN
        if api in ("os.path.same", "builtins.str"):
            return self.eval(self._arg(call, 0, None))
        if api == "os.path.dirname":
            value = self.eval(self._arg(call, 0, None))
            return FileRef(posixpath.dirname(value.rel)) if isinstance(value, FileRef) else UNKNOWN
        if api == "pathlib.Path":
            value = self.eval(self._arg(call, 0, None))
            return value if isinstance(value, FileRef | Lit) else UNKNOWN
        if api == "os.path.join":
            parts = [self.eval(a.value) for a in call.args]
            head = parts[0] if parts else None
            tail = [p.value for p in parts[1:] if isinstance(p, Lit) and isinstance(p.value, str)]
            if isinstance(head, FileRef) and len(tail) == len(parts) - 1:
                return FileRef(posixpath.normpath(posixpath.join(head.rel, *tail)))
            return UNKNOWN
        return UNKNOWN

    def _agents_tool_filter(self, node: cst.BaseExpression | None) -> tuple[str, ...] | None:
        if not isinstance(node, cst.Call) or self.api_of(node.func) != "agents.create_static_tool_filter":
            return None
        value = self.eval(self._arg(node, 0, "allowed_tool_names"))
        if isinstance(value, Seq):
            return tuple(i.value for i in value.items if isinstance(i, Lit) and isinstance(i.value, str))
        return None

    def _params_servers(self, call: cst.Call, value: Val, origin: str) -> frozenset[SrvRef]:
        """Servers of a framework argument: server parameters, a `{"url": ...}` dict, or a list of either."""
        if isinstance(value, Seq):
            out: set[SrvRef] = set()
            for item in value.items:
                out |= self._params_servers(call, item, origin)
            return frozenset(out)
        if isinstance(value, DictV):
            if value.get("url") is not None or value.get("command") is not None:
                index = self._decl_from_dict(call, value, origin, None)
                return frozenset({index}) if index is not None else frozenset()
            return self._servers_from_config_dict(call, value, origin)
        return _servers_in(value)

    def _client_target(self, call: cst.Call, api: str) -> frozenset[SrvRef]:
        """What `mcp.Client(...)` / `fastmcp.Client(...)` connects to."""
        arg = self._arg(call, 0, "server" if api == "mcp.Client" else "transport")
        value = self.eval(arg)
        if (isinstance(value, Lit) and isinstance(value.value, str)) or isinstance(value, FileRef):
            text = value.rel if isinstance(value, FileRef) else str(value.value)
            if text.startswith(("http://", "https://")):
                index = self._decl_from_kwargs(call, f"code:{api}", kind="http", url=arg)
            elif text.endswith((".py", ".js")):
                path = text if isinstance(value, FileRef) else self.config_candidates(text)[-1]
                decl = Decl(
                    kind="stdio",
                    origin=f"code:{api}",
                    line=self.line(call),
                    command="python" if text.endswith(".py") else "node",
                    args=(path,),
                )
                index = self._declare(call, decl)
            else:
                return frozenset()
            return frozenset({index}) if index is not None else frozenset()
        if isinstance(value, DictV):
            return self._servers_from_config_dict(call, value, f"code:{api}")
        if isinstance(value, Obj) and value.defined is not None:
            return frozenset({self.defined[value.defined].name})
        return _servers_in(value)

    def _call_method(self, obj: Obj, call: cst.Call) -> Val:
        line = self.line(call)
        path = obj.path
        method = path[-1] if path else ""
        if obj.api in SESSION_APIS and path in (("call_tool",), ("connector", "call_tool")):
            name = self._str(self._arg(call, 0, "name"))
            api = "mcp_use.MCPSession.call_tool" if obj.api == "mcp_use.Session" else f"{obj.api}.call_tool"
            detail = "" if name else f"dynamic tool name: {_code(self._arg(call, 0, 'name') or call.func)}"
            self._emit(
                call, Event("call_tool", api, line, tool=name, servers=obj.servers, mcp=True, detail=detail)
            )
            return Obj("mcp.call_result", obj.servers)
        if obj.api in SESSION_APIS and path in (("list_tools",), ("connector", "list_tools")):
            api = "mcp_use.MCPSession.list_tools" if obj.api == "mcp_use.Session" else f"{obj.api}.list_tools"
            self._emit(call, Event("list_tools", api, line, servers=obj.servers, mcp=True))
            return Obj("mcp.tools_result" if obj.api != "fastmcp.Client" else "mcp.tools", obj.servers)
        if obj.api == "langchain.MultiServerMCPClient":
            if method == "get_tools":
                servers = obj.servers
                only = self._str(self._arg(call, None, "server_name"))
                if only:
                    servers = self._named(servers, only)
                self._emit(
                    call,
                    Event(
                        "framework",
                        "langchain_mcp_adapters.MultiServerMCPClient.get_tools",
                        line,
                        servers=servers,
                        configs=obj.configs,
                        framework="langchain",
                        mcp=True,
                    ),
                )
                return Obj("mcp.tools", servers, configs=obj.configs)
            if method == "session":
                name = self._str(self._arg(call, 0, "server_name"))
                return Obj("mcp.ClientSession", self._named(obj.servers, name) if name else obj.servers)
        if obj.api == "mcp_use.MCPClient" and method in ("get_session", "create_session"):
            name = self._str(self._arg(call, 0, "server_name"))
            servers = self._named(obj.servers, name) if name else obj.servers
            if name and not servers:
                servers = frozenset({name})
            return Obj("mcp_use.Session", servers, configs=obj.configs)
        if obj.api == "mcp.ClientSessionGroup" and method == "connect_to_server":
            return Obj("mcp.ClientSession", _servers_in(self.eval(self._arg(call, 0, "server_params"))))
        if obj.api == "anthropic.Client" and path in _ANTHROPIC_METHODS:
            return self._model_call(call, "anthropic", "anthropic." + ".".join(path))
        if obj.api == "openai.Client" and path in _OPENAI_METHODS:
            return self._model_call(call, "openai", "openai." + ".".join(path))
        if obj.api == "server_def":
            if method == "add_tool" and obj.defined is not None:
                fn = self.eval(self._arg(call, 0, "fn"))
                if isinstance(fn, LocalFunc):
                    _, kw = self._args(call)
                    self._add_tool(obj.defined, fn.node, kw)
            return UNKNOWN
        if method in ("enter_async_context", "enter_context") and call.args:
            return self.eval(call.args[0].value)
        return UNKNOWN

    def _named(self, servers: frozenset[SrvRef], name: str | None) -> frozenset[SrvRef]:
        if name is None:
            return servers
        return frozenset(r for r in servers if (self.decls[r].name() if isinstance(r, int) else r) == name)

    def _model_call(self, call: cst.Call, provider: str, api: str) -> Val:
        line = self.line(call)
        _, kw = self._args(call)
        model, _ = self._model(kw.get("model"))
        if provider == "anthropic":
            prompt = self._prompt(kw.get("system"))
        else:  # `instructions=` and the system/developer messages are all sent
            messages = kw.get("messages") if "messages" in kw else kw.get("input")
            prompt = _joined(self._prompt(kw.get("instructions")), _system_messages(self.eval(messages)))
        self._emit(
            call,
            Event("model", api, line, framework=provider, model=model, provider=provider, system_text=prompt),
        )
        if "tools" in kw:
            tools = self.eval(kw["tools"])
            servers = _servers_in(tools)
            execute = _execute_code_tool(tools)
            hosted = self._hosted_mcp_tools(call, tools)
            if execute:
                self._emit(
                    call,
                    Event(
                        "code_mode", api, line, code_mode=True, mcp=True, detail=f"offers an {execute} tool"
                    ),
                )
            self._emit(
                call,
                Event(
                    "tools_param",
                    api,
                    line,
                    servers=servers | hosted,
                    mcp=bool(servers or hosted),
                    detail=f"tools={_code(kw['tools'])}",
                ),
            )
        if "mcp_servers" in kw:
            hosted = self._hosted_mcp_tools(call, self.eval(kw["mcp_servers"]), anthropic=True)
            self._emit(
                call,
                Event(
                    "tools_param",
                    api,
                    line,
                    servers=hosted,
                    mcp=bool(hosted),
                    detail="mcp_servers= (MCP connector)",
                ),
            )
        return Obj("model.response")

    def _hosted_mcp_tools(self, call: cst.Call, tools: Val, anthropic: bool = False) -> frozenset[SrvRef]:
        """Remote MCP servers handed to the model API: OpenAI `{"type": "mcp"}` tools, Anthropic's MCP connector."""
        if not isinstance(tools, Seq):
            return frozenset()
        out: set[SrvRef] = set()
        for item in tools.items:
            if not isinstance(item, DictV):
                continue
            kind = item.get("type")
            if anthropic and isinstance(kind, Lit) and kind.value == "url":
                name = item.get("name")
                index = self._decl_from_dict(
                    call,
                    DictV(
                        tuple((k, v) for k, v in item.items if not (isinstance(k, Lit) and k.value == "type"))
                    ),
                    "code:anthropic.mcp_servers",
                    name.value if isinstance(name, Lit) else None,
                )
                if index is not None:
                    out.add(index)
                    config = item.get("tool_configuration")
                    allowed = config.get("allowed_tools") if isinstance(config, DictV) else None
                    if isinstance(allowed, Seq):
                        self.decls[index].tool_filter = tuple(
                            i.value for i in allowed.items if isinstance(i, Lit)
                        )
            elif not anthropic and isinstance(kind, Lit) and kind.value == "mcp":
                label = item.get("server_label")
                url = item.get("server_url")
                if isinstance(url, Lit) and isinstance(url.value, str):
                    decl = Decl(
                        kind=transport_of_url(url.value),
                        origin="code:openai.responses.mcp",
                        line=self.line(call),
                        url=url.value,
                        explicit_name=label.value if isinstance(label, Lit) else None,
                    )
                    headers = item.get("headers")
                    if isinstance(headers, DictV):
                        decl.header_names = tuple(
                            sorted(k.value for k, _ in headers.items if isinstance(k, Lit))
                        )
                    allowed = item.get("allowed_tools")
                    if isinstance(allowed, Seq):
                        decl.tool_filter = tuple(i.value for i in allowed.items if isinstance(i, Lit))
                    index = self._declare(call, decl)
                    if index is not None:
                        out.add(index)
        return frozenset(out)

    # --- defined servers -------------------------------------------------------------------------------

    def _add_tool(self, index: int, fn: cst.FunctionDef, kw: Mapping[str, cst.BaseExpression]) -> None:
        server = self.defined[index]
        builder = SchemaBuilder(self.resolve_type, server.flavor, self._module_value)
        name = self._str(kw.get("name")) or fn.name.value
        described = template_value(kw["description"], self._module_value) if "description" in kw else None
        description = described if isinstance(described, str) else function_docstring(fn) or ""
        titled = template_value(kw["title"], self._module_value) if "title" in kw else None
        title = titled if isinstance(titled, str) else None
        input_schema = builder.input_schema(fn, self._skip_param)
        structured = self.eval(kw.get("structured_output")) if "structured_output" in kw else UNKNOWN
        output_schema = None
        if not (isinstance(structured, Lit) and structured.value is False):
            output_schema = builder.output_schema(fn)
        annotations = self._annotations(kw.get("annotations"))
        for annotation in builder.unknown:
            server.unknown_types.append((name, annotation))
        server.tools.append(
            ToolDef(
                name=name,
                description=description if server.flavor != "fastmcp2" else _cleandoc(description),
                input_schema=input_schema,
                output_schema=output_schema,
                title=title,
                annotations=annotations,
            )
        )

    def _annotations(self, node: cst.BaseExpression | None, depth: int = 0) -> dict[str, Any] | None:
        """Tool annotations as sent on the wire (camelCase keys) from `ToolAnnotations(...)`, a dict, or a constant."""
        if node is None or depth > 4:
            return None
        if isinstance(node, cst.Name):
            for binding in self._assignments(node):
                found = self._bindings.get(binding)
                if found is not None and found.expr is not None and not found.unpack:
                    return self._annotations(found.expr, depth + 1)
            return None
        if isinstance(node, cst.Call) and self.api_of(node.func) == "mcp.ToolAnnotations":
            out: dict[str, Any] = {}
            for arg in node.args:
                if arg.keyword is not None:
                    value = literal_value(arg.value)
                    if is_literal(value):
                        out[_camel(arg.keyword.value)] = value
            return out or None
        value = literal_value(node)
        if is_literal(value) and isinstance(value, dict) and value:
            return {_camel(str(k)): v for k, v in value.items()}
        return None

    def _skip_param(self, param: cst.Param) -> bool:
        if param.annotation is None:
            return False
        for member in _unwrap_annotation(param.annotation.annotation):
            if self.api_of(member) == "mcp.Context":
                return True
        return False

    def resolve_type(self, node: cst.BaseExpression) -> TypeTarget:
        """What an annotation name denotes: a qualified name, a class in this file, or None."""
        if isinstance(node, cst.Name) and node.value == "None":
            return "builtins.None"
        qname = self.import_qname(node)
        if qname:
            return qname
        if isinstance(node, cst.Name):
            for binding in self._assignments(node):
                if isinstance(binding, cst.ClassDef):
                    return binding
            if node.value in self._module_classes:
                return self._module_classes[node.value]
            if node.value in (
                "str",
                "int",
                "float",
                "bool",
                "bytes",
                "list",
                "dict",
                "set",
                "tuple",
                "frozenset",
                "object",
            ):
                return f"builtins.{node.value}"
        return None

    def _module_value(self, name: cst.Name) -> cst.BaseExpression | None:
        """The expression a name was last assigned at module level (a type alias, a constant), if any."""
        if name not in self._name_scope:
            return self._module_consts.get(name.value)
        expr = None
        for binding in self._assignments(name):
            found = self._bindings.get(binding)
            if found is not None and found.kind == "value" and not found.unpack:
                expr = found.expr
        return expr

    def _visit_decorated(self, fn: cst.FunctionDef) -> None:
        for deco in fn.decorators:
            expr = deco.decorator
            call = expr if isinstance(expr, cst.Call) else None
            target = call.func if call is not None else expr
            if not isinstance(target, cst.Attribute):
                continue
            owner = self.eval(target.value)
            if not isinstance(owner, Obj) or owner.api != "server_def" or owner.defined is None:
                continue
            method = target.attr.value
            if method == "tool":
                kw = self._args(call)[1] if call is not None else {}
                self._add_tool(owner.defined, fn, kw)
            elif method == "list_tools":
                self._lowlevel_tools(owner.defined, fn)

    def _lowlevel_tools(self, index: int, fn: cst.FunctionDef) -> None:
        """Tools of a low-level `@server.list_tools()` handler built from literal `Tool(...)` calls."""
        analysis = self
        server = self.defined[index]

        class Finder(_Walk):
            def visit_Call(self, node: cst.Call) -> None:
                if analysis.api_of(node.func) != "mcp.Tool":
                    return
                _, kw = analysis._args(node)
                name = analysis._str(kw.get("name"))
                if not name:
                    return
                schema_node = kw.get("inputSchema") or kw.get("input_schema")
                schema = analysis._schema_value(schema_node) if schema_node is not None else {}
                out_node = kw.get("outputSchema") or kw.get("output_schema")
                server.tools.append(
                    ToolDef(
                        name=name,
                        description=analysis._str(kw.get("description")) or "",
                        input_schema=schema if isinstance(schema, dict) else {},
                        output_schema=analysis._schema_value(out_node) if out_node is not None else None,
                        title=analysis._str(kw.get("title")),
                        annotations=analysis._annotations(kw.get("annotations")),
                    )
                )

        Finder().walk(fn.body)

    def _schema_value(self, node: cst.BaseExpression) -> dict[str, Any] | None:
        value = literal_value(node)
        if is_literal(value) and isinstance(value, dict):
            return value
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "model_json_schema"
        ):
            target = self.resolve_type(node.func.value)
            if isinstance(target, cst.ClassDef):
                return SchemaBuilder(self.resolve_type).model_schema(target)
        if isinstance(node, cst.Name):
            const = self._module_consts.get(node.value)
            if const is not None and const is not node:
                return self._schema_value(const)
        return None

    # --- pass 2: events ----------------------------------------------------------------------------------

    def run(self) -> None:
        """Collect bindings, then visit the module in source order recording events per unit."""
        self._collect()
        analysis = self

        class Visitor(_Walk):
            def __init__(self) -> None:
                self.units: list[str] = []
                self.depth = 0

            def _unit(self) -> str | None:
                return self.units[0] if self.units else None

            def visit_ClassDef(self, node: cst.ClassDef) -> None:
                self.units.append(node.name.value)

            def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
                self.units.pop()

            def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
                analysis._visit_decorated(node)
                self.units.append(node.name.value)

            def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
                self.units.pop()

            def visit_Call(self, node: cst.Call) -> None:
                value = analysis.eval(node)
                for event in analysis._node_events.get(node, []):
                    analysis.events.append((self._unit(), event))
                analysis._prompt_join(node, self._unit())
                analysis._config_path(node, value, self._unit())

            def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
                analysis._config_path(node, analysis.eval(node), self._unit())

            def visit_FormattedString(self, node: cst.FormattedString) -> None:
                analysis._prompt_fstring(node, self._unit())

            def visit_SimpleString(self, node: cst.SimpleString) -> None:
                analysis._config_literal(node, self._unit())

            def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
                analysis._servers_import(node, self._unit())

            def visit_Import(self, node: cst.Import) -> None:
                analysis._servers_import(node, self._unit())

        Visitor().walk(self.module)

    def _servers_import(self, node: cst.Import | cst.ImportFrom, unit: str | None) -> None:
        modules: list[str] = []
        if isinstance(node, cst.ImportFrom):
            if node.relative or node.module is None:
                return
            module = _code(node.module)
            if module == "servers" and not isinstance(node.names, cst.ImportStar):
                modules.extend(f"servers.{_code(a.name)}" for a in node.names)
            elif module.startswith("servers."):
                modules.append(module)
        else:
            modules.extend(_code(a.name) for a in node.names if _code(a.name).split(".")[0] == "servers")
        for module in modules:
            parts = module.split(".")
            server_id = parts[1] if len(parts) > 1 else ""
            if server_id.startswith("_") and server_id != "_runtime":
                continue
            self.events.append(
                (
                    unit,
                    Event(
                        "code_mode",
                        module,
                        self.line(node),
                        code_mode=True,
                        mcp=True,
                        detail=f"imports the generated {module} module",
                    ),
                )
            )

    def _prompt_join(self, node: cst.Call, unit: str | None) -> None:
        """`"\\n".join(f"{t.name}: {t.description}" for t in tools)` and `format_for_llm()` builders."""
        if not (isinstance(node.func, cst.Attribute) and node.func.attr.value == "join" and node.args):
            return
        if not isinstance(node.func.value, cst.SimpleString | cst.Name | cst.FormattedString):
            return
        arg = node.args[0].value
        if not isinstance(arg, cst.ListComp | cst.GeneratorExp):
            return
        mentions = _attribute_names(arg.elt)
        source = self.eval(arg.for_in.iter)
        tool_like = isinstance(source, Obj) and source.api in ("mcp.tools", "mcp.tools_result", "mcp.tool")
        if (
            "format_for_llm" in mentions
            or (tool_like and mentions & {"name", "description"})
            or {"name", "description"} <= mentions
        ):
            self.events.append(
                (
                    unit,
                    Event(
                        "prompt_tools",
                        "prompt:join",
                        self.line(node),
                        servers=_servers_in(source),
                        detail="tool list joined into prompt text",
                    ),
                )
            )

    def _prompt_fstring(self, node: cst.FormattedString, unit: str | None) -> None:
        bases: dict[str, set[str]] = {}
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                expr = part.expression
                if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
                    bases.setdefault(expr.value.value, set()).add(expr.attr.value)
        for base, attrs in bases.items():
            if {"name", "description"} <= attrs and "tool" in base.lower():
                self.events.append(
                    (
                        unit,
                        Event(
                            "prompt_tools",
                            "prompt:f-string",
                            self.line(node),
                            detail=f"{base}.name / {base}.description in a prompt",
                        ),
                    )
                )
                return

    def _config_path(self, node: cst.Call | cst.BinaryOperation, value: Val, unit: str | None) -> None:
        """`Path(__file__).parent / "mcp.json"` and `os.path.join(...)`: a config path known exactly."""
        if not isinstance(value, FileRef) or not _CONFIG_PATH.match(value.rel):
            return
        parts = [node.right] if isinstance(node, cst.BinaryOperation) else [a.value for a in node.args]
        for part in parts:
            self._exact_strings.add(part)
        self.events.append((unit, Event("config", "path", self.line(node), configs=frozenset({value.rel}))))

    def _config_literal(self, node: cst.SimpleString, unit: str | None) -> None:
        if node in self._exact_strings:
            return
        value = node.evaluated_value
        if not isinstance(value, str) or len(value) > 200 or not _CONFIG_PATH.match(value):
            return
        self.events.append(
            (
                unit,
                Event("config", "literal", self.line(node), configs=frozenset(self.config_candidates(value))),
            )
        )


# --- small helpers -----------------------------------------------------------------------------------


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


def _attribute_names(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class Finder(_Walk):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            found.add(node.attr.value)

    Finder().walk(node)
    return found


def _cleandoc(text: str) -> str:
    import inspect

    return inspect.cleandoc(text) if text else text
