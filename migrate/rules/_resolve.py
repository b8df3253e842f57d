"""A small, conservative type resolver for agent code: what an expression is, by imports and bindings.

The rules ask one question of every receiver and argument -- "what is this?" -- and act only on
answers that come from resolved imports (libcst `QualifiedNameProvider`) and visible bindings
(libcst `ScopeProvider`): `async with ClientSession(...) as s`, `s = await stack.enter_async_context(
Client(...))`, `self.sessions[name] = s`, a parameter annotated `ClientSession`, a loop over
`(await s.list_tools()).tools`. A name is never trusted for what it is spelled like: a user class
called `MCPClient`, `httpx.Client`, or a receiver built dynamically resolves to `UNKNOWN`, and an
unknown receiver is always a no-op for the rules. Bindings are joined flow-insensitively: every
assignment of a name must agree (apart from `None` and empty containers) or the answer is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import libcst as cst
from libcst.metadata import (
    Assignment,
    BuiltinAssignment,
    ImportAssignment,
    ParentNodeProvider,
    QualifiedNameProvider,
    QualifiedNameSource,
    Scope,
    ScopeProvider,
)

from cfmigrate.analyzers.code_apis import LibraryApi, Role, api_of
from cfmigrate.analyzers.cst_children import children as child_nodes


@dataclass(frozen=True)
class T:
    """A resolved type: a kind, a flavour (which library or provider), and an element type for containers."""

    kind: str
    flavor: str = ""
    elem: T | None = None
    value: str | None = None  # literal string value, an attribute path, or a class/function key
    node: cst.CSTNode | None = None  # a user class or function definition

    def __hash__(self) -> int:
        return hash((self.kind, self.flavor, self.elem, self.value, id(self.node)))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, T)
            and (self.kind, self.flavor, self.elem, self.value)
            == (other.kind, other.flavor, other.elem, other.value)
            and self.node is other.node
        )


# The method of a streamed model request that returns the whole response (the SDKs' stream helpers).
_FINAL_OF_STREAM = {
    "anthropic": ("get_final_message",),
    "openai-chat": ("get_final_completion",),
    "openai-responses": ("get_final_response",),
}
UNKNOWN = T("?")
NONE = T("none")
_SKIP = T("skip")  # a binding that carries no type evidence (augmented assignment, deletion)

# Kinds (the vocabulary of the rules):
#   session(flavor)      an MCP client session: "mcp" (ClientSession / mcp 2.x Client), "fastmcp", "mcp-use", "group"
#   mcp_use_client       an mcp_use.MCPClient (hands out sessions)
#   list_result          a ListToolsResult (has .tools)
#   tools / tool         MCP tool objects; tool_field: t.name / t.description / t.inputSchema
#   tool_text            a string built from tool fields (a tool listing in a prompt)
#   llm_client(p)        a provider's SDK client (anthropic, openai, ollama); llm_ns(p, path) its namespaces; llm_response(p)
#   llm_stream(p)        a streamed request (`messages.stream(...)`); its final message is an llm_response(p)
#   tool_use(p)          a tool-use block / tool call of provider p; model_name, model_args(_json) its parts
#   code_mode            a cfmigrate.runtime.CodeMode; cm_tools / cm_prompt / cm_result its products
#   fw_server(framework) an Agents SDK ("openai-agents") or pydantic-ai ("pydantic-ai") MCP server object
#   framework(framework) an object that loads MCP tools into a framework (langchain MultiServerMCPClient)
#   list / dict / items  containers with an element type; str(value) a literal string
#   cls(elem) / ucls(node) / func(node) / obj(node)   library class, user class, user function, instance
# Library classes are classified only through the shared table `cfmigrate.analyzers.code_apis`.

_CONTAINER_ANNOTATIONS = {
    "dict": "dict",
    "typing.Dict": "dict",
    "typing.Mapping": "dict",
    "collections.abc.Mapping": "dict",
    "typing.MutableMapping": "dict",
    "list": "list",
    "typing.List": "list",
    "typing.Sequence": "list",
    "collections.abc.Sequence": "list",
    "tuple": "list",
    "typing.Tuple": "list",
}
_ENTER_METHODS = frozenset({"enter_async_context", "enter_context"})


def classify_qualified_name(name: str) -> T | None:
    """The type a library qualified name stands for (read from the shared API table), or None when the
    rules do not act on it."""
    api = api_of(name)
    if api is None:
        return None
    role = api.role
    if role is Role.SESSION:
        return T("cls", elem=T("session", api.flavor))
    if role is Role.SESSION_FACTORY:
        return T("cls", elem=T("mcp_use_client"))
    if role is Role.LLM_CLIENT:
        return T("cls", elem=T("llm_client", api.flavor))
    if role is Role.FRAMEWORK_TOOLS and api.tool_loaders:
        return T("cls", elem=T("framework", api.flavor, value=api.id))
    if role is Role.FRAMEWORK_SERVER:
        return T("cls", elem=T("fw_server", api.flavor))
    if role is Role.CODE_MODE:
        return T("cls", elem=T("code_mode"))
    return None


def library_api(names: Iterable[str]) -> LibraryApi | None:
    """The library API the first of some qualified names stands for (sorted: deterministic), else None."""
    for name in sorted(names):
        api = api_of(name)
        if api is not None:
            return api
    return None


def opens_mcp(names: Iterable[str]) -> bool:
    """Whether a callee's qualified names open an MCP transport or build a framework's MCP server."""
    return any(
        (api := api_of(name)) is not None and api.role in (Role.TRANSPORT, Role.FRAMEWORK_SERVER)
        for name in names
    )


def join(types: Iterable[T]) -> T:
    """All evidence must agree (ignoring `None`, empty containers and non-evidence), else UNKNOWN."""
    found: list[T] = []
    containers: dict[str, list[T]] = {}
    for t in types:
        if t in (NONE, _SKIP):
            continue
        if t.kind in ("list", "dict", "items") and t.elem is None:
            containers.setdefault(t.kind, [])
            continue
        if t.kind in ("list", "dict", "items") and t.elem is not None:
            containers.setdefault(t.kind, []).append(t.elem)
            continue
        found.append(t)
    if containers:
        if found and _list_filled_later(found, containers):
            # `self.tools: list[dict] = []`, later `self.tools = code_mode.tool_definitions(...)`
            return found[0]
        if found or len(containers) > 1:
            return UNKNOWN
        kind, elems = next(iter(containers.items()))
        return T(kind, elem=join(elems) if elems else None)
    if not found:
        return _SKIP
    first = found[0]
    return first if all(t == first for t in found[1:]) else UNKNOWN


def _string_key(node: cst.Subscript) -> str | None:
    """The key of `x["key"]`, or None."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    key = node.slice[0].slice.value
    return str(key.evaluated_value) if isinstance(key, cst.SimpleString) else None


def _wire_member(base: T, key: str) -> T | None:
    """A member of an OpenAI-compatible chat reply read as plain JSON (Ollama, vLLM, httpx loops).

    `message["tool_calls"]` (or `.get("tool_calls")`) holds the model's calls; each call's
    `["function"]["name"]` is the tool the model chose and `["function"]["arguments"]` its JSON
    arguments. That is the wire format itself, so it is recognised whatever the reply came from --
    except on values already known to be something else.
    """
    if key == "tool_calls" and base.kind in ("?", "dict", "dict_lit"):
        return T("list", elem=T("tool_use", "openai-dict"))
    if base.kind == "tool_use" and base.flavor == "openai-dict" and key == "function":
        return T("function_call", "openai-dict")
    if base.kind == "function_call" and base.flavor == "openai-dict":
        if key == "name":
            return T("model_name", "openai-dict")
        if key == "arguments":
            return T("model_args_json", "openai-dict")
    return None


def _list_filled_later(found: list[T], containers: dict[str, list[T]]) -> bool:
    """An empty or plain list placeholder joined with code-mode tool definitions (a list of dicts)."""
    return (
        set(containers) == {"list"}
        and all(t.kind == "cm_tools" for t in found)
        and all(e.kind == "dict" or e == UNKNOWN for e in containers["list"])
    )


def first_param_is_self(func: cst.FunctionDef) -> bool:
    """Whether a function defined in a class body takes the instance as its first parameter."""
    for dec in func.decorators:
        if isinstance(dec.decorator, cst.Name) and dec.decorator.value in ("staticmethod", "classmethod"):
            return False
    return bool(func.params.params) or bool(func.params.posonly_params)


def self_name(func: cst.FunctionDef) -> str | None:
    """The name a method calls its instance (`self`), or None for a static or class method."""
    params = [*func.params.posonly_params, *func.params.params]
    return params[0].name.value if params and first_param_is_self(func) else None


def _informative(t: T) -> bool:
    """Whether a type says more than "unknown" (a container of unknowns says nothing)."""
    if t.kind in ("list", "dict", "items"):
        return t.elem is not None and _informative(t.elem)
    return t.kind not in ("?", "skip", "none")


def _bind_arg(call: cst.Call, name: str, position: int | None) -> cst.BaseExpression | None:
    """The argument a call passes for a parameter (by keyword, else by position), or None."""
    index = 0
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value == name:
                return arg.value
            continue
        if position is not None and index == position:
            return arg.value
        index += 1
    return None


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under `node` (itself included), in source order."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        cur = stack.pop()
        yield cur
        stack.extend(reversed(child_nodes(cur)))


def walk_own(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The nodes of a body, not of the functions, classes or lambdas nested in it."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.FunctionDef | cst.ClassDef | cst.Lambda) and cur is not node:
            continue
        yield cur
        stack.extend(child_nodes(cur))


def _returns(func: cst.FunctionDef) -> list[cst.BaseExpression]:
    """Return values of a function, not of functions or lambdas nested in it."""
    out: list[cst.BaseExpression] = []
    stack: list[cst.CSTNode] = list(child_nodes(func.body))
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.FunctionDef | cst.Lambda | cst.ClassDef):
            continue
        if isinstance(cur, cst.Return) and cur.value is not None:
            out.append(cur.value)
        stack.extend(child_nodes(cur))
    return out


@dataclass
class _ClassInfo:
    node: cst.ClassDef
    attrs: dict[str, list[tuple[str, cst.BaseExpression]]]  # attr -> [(evidence kind, expr)]
    methods: dict[str, cst.FunctionDef]


class Resolver:
    """Answers `type_of(expr)` for nodes of one module (the original tree the metadata was computed on)."""

    def __init__(
        self, get_metadata: Callable[..., Any], module: cst.Module, code_mode_var: str = "code_mode"
    ) -> None:
        self._meta = get_metadata
        self.code_mode_var = code_mode_var
        self.module = module
        self._cache: dict[int, T] = {}
        self._busy: set[int] = set()
        self._frames: list[int] = []
        self._tainted: set[int] = set()
        self.classes: dict[int, _ClassInfo] = {}
        self._mutations: dict[tuple[int, str], list[tuple[str, cst.BaseExpression]]] = {}
        self._calls: list[cst.Call] = []
        self._callee_cache: dict[int, tuple[cst.FunctionDef, int] | None] = {}
        self._index()

    # ------------------------------------------------------------------ index
    def _index(self) -> None:
        for node in walk(self.module):
            if isinstance(node, cst.ClassDef):
                self._index_class(node)
            if isinstance(node, cst.Call):
                self._calls.append(node)
            if (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and isinstance(node.func.value, cst.Name)
            ):
                method = node.func.attr.value
                if method in ("append", "extend", "add", "insert") and node.args:
                    kind = (
                        "append"
                        if method in ("append", "add")
                        else ("extend" if method == "extend" else "append")
                    )
                    arg = node.args[-1].value
                    self._record_mutation(node.func.value, kind, arg)
                elif method == "update" and node.args and node.args[0].keyword is None:
                    self._record_mutation(node.func.value, "update", node.args[0].value)
                elif method == "setdefault" and len(node.args) == 2:
                    self._record_mutation(node.func.value, "setitem", node.args[1].value)
            elif isinstance(node, cst.Assign):
                for target in node.targets:
                    t = target.target
                    if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name):
                        self._record_mutation(t.value, "setitem", node.value)
            elif (
                isinstance(node, cst.AugAssign)
                and isinstance(node.target, cst.Name)
                and isinstance(node.operator, cst.AddAssign)
            ):
                self._record_mutation(node.target, "extend", node.value)

    def _record_mutation(self, name: cst.Name, kind: str, value: cst.BaseExpression) -> None:
        for key in self._binding_keys(name):
            self._mutations.setdefault(key, []).append((kind, value))

    def _binding_keys(self, name: cst.Name) -> list[tuple[int, str]]:
        scope = self._scope(name)
        if scope is None:
            return []
        return [(id(a.scope), name.value) for a in scope[name.value] if isinstance(a, Assignment)]

    def _index_class(self, cls: cst.ClassDef) -> None:
        info = _ClassInfo(cls, {}, {})
        self.classes[id(cls)] = info
        for stmt in cls.body.body:
            if isinstance(stmt, cst.FunctionDef):
                info.methods[stmt.name.value] = stmt
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                        info.attrs.setdefault(small.target.value, []).append(
                            ("ann", small.annotation.annotation)
                        )
                        if small.value is not None:
                            info.attrs[small.target.value].append(("value", small.value))
                    elif isinstance(small, cst.Assign):
                        for tgt in small.targets:
                            if isinstance(tgt.target, cst.Name):
                                info.attrs.setdefault(tgt.target.value, []).append(("value", small.value))
        for method in info.methods.values():
            me = self_name(method)
            if me is None:
                continue
            for node in walk(method.body):
                self._index_self_use(info, me, node)

    @staticmethod
    def _self_attr(expr: cst.BaseExpression, me: str) -> str | None:
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == me:
            return expr.attr.value
        return None

    def _index_self_use(self, info: _ClassInfo, me: str, node: cst.CSTNode) -> None:
        attrs = info.attrs
        if isinstance(node, cst.Assign):
            for tgt in node.targets:
                name = self._self_attr(tgt.target, me)
                if name:
                    attrs.setdefault(name, []).append(("value", node.value))
                elif isinstance(tgt.target, cst.Subscript):
                    name = self._self_attr(tgt.target.value, me)
                    if name:
                        attrs.setdefault(name, []).append(("setitem", node.value))
        elif isinstance(node, cst.AnnAssign):
            name = self._self_attr(node.target, me)
            if name:
                attrs.setdefault(name, []).append(("ann", node.annotation.annotation))
                if node.value is not None:
                    attrs[name].append(("value", node.value))
        elif isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
            name = self._self_attr(node.target, me)
            if name:
                attrs.setdefault(name, []).append(("extend", node.value))
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.args:
            name = self._self_attr(node.func.value, me)
            method = node.func.attr.value
            if name and method in ("append", "add", "insert"):
                attrs.setdefault(name, []).append(("append", node.args[-1].value))
            elif name and method == "extend":
                attrs.setdefault(name, []).append(("extend", node.args[0].value))
            elif name and method == "update" and node.args[0].keyword is None:
                attrs.setdefault(name, []).append(("update", node.args[0].value))
            elif name and method == "setdefault" and len(node.args) == 2:
                attrs.setdefault(name, []).append(("setitem", node.args[1].value))

    # ------------------------------------------------------------------ metadata helpers
    def _scope(self, node: cst.CSTNode) -> Scope | None:
        scope = self._meta(ScopeProvider, node, None)
        return scope if isinstance(scope, Scope) else None

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """The parent of a node in the original tree."""
        parent = self._meta(ParentNodeProvider, node, None)
        return parent if isinstance(parent, cst.CSTNode) else None

    def qualified_names(self, node: cst.CSTNode) -> set[str]:
        """Qualified names of a Name/Attribute that come from an import (never a local spelling)."""
        names = self._meta(QualifiedNameProvider, node, None) or set()
        return {q.name for q in names if q.source is QualifiedNameSource.IMPORT}

    def is_builtin(self, node: cst.Name, name: str) -> bool:
        """Whether `node` is the builtin `name` (not shadowed)."""
        if node.value != name:
            return False
        scope = self._scope(node)
        if scope is None:
            return False
        assignments = scope[name]
        return bool(assignments) and all(isinstance(a, BuiltinAssignment) for a in assignments)

    def enclosing(self, node: cst.CSTNode, kinds: tuple[type[cst.CSTNode], ...]) -> cst.CSTNode | None:
        """The nearest ancestor of one of the given node types."""
        cur = self.parent(node)
        while cur is not None and not isinstance(cur, kinds):
            cur = self.parent(cur)
        return cur

    def enclosing_class(self, func: cst.FunctionDef) -> _ClassInfo | None:
        parent = self.parent(func)
        if isinstance(parent, cst.IndentedBlock):
            parent = self.parent(parent)
        return self.classes.get(id(parent)) if isinstance(parent, cst.ClassDef) else None

    # ------------------------------------------------------------------ public API
    def type_of(self, expr: cst.CSTNode) -> T:
        """The resolved type of an expression of the original tree."""
        key = id(expr)
        if key in self._cache:
            return self._cache[key]
        return self._guarded(key, lambda: self._type_of(expr), cache=True)

    def _guarded(self, key: int, compute: Callable[[], T], *, cache: bool = False) -> T:
        """Evaluate with cycle protection; a result that depended on a cut cycle is not cached."""
        if key in self._busy:
            position = self._frames.index(key)
            for index in range(position + 1, len(self._frames)):
                self._tainted.add(self._frames[index])
            return UNKNOWN
        self._busy.add(key)
        self._frames.append(key)
        try:
            result = compute()
        finally:
            self._frames.pop()
            self._busy.discard(key)
        if result is _SKIP:
            result = UNKNOWN
        if key in self._tainted:
            self._tainted.discard(key)
        elif cache:
            self._cache[key] = result
        return result

    def is_session(self, expr: cst.CSTNode) -> bool:
        """Whether a receiver resolves to an MCP client session."""
        return self.type_of(expr).kind == "session"

    def bindings(self, name: cst.Name) -> list[cst.CSTNode]:
        """The binding nodes (Name targets, Params, defs) of a name access."""
        scope = self._scope(name)
        if scope is None:
            return []
        return [
            a.node
            for a in scope[name.value]
            if isinstance(a, Assignment) and not isinstance(a, ImportAssignment)
        ]

    # ------------------------------------------------------------------ evaluation
    def _type_of(self, expr: cst.CSTNode) -> T:
        if isinstance(expr, cst.Name):
            return self._name(expr)
        if isinstance(expr, cst.Attribute):
            return self._attribute(expr)
        if isinstance(expr, cst.Call):
            return self._call(expr)
        if isinstance(expr, cst.Await):
            return self.type_of(expr.expression)
        if isinstance(expr, cst.Subscript):
            key = _string_key(expr)
            if key is not None:
                wire = _wire_member(self.type_of(expr.value), key)
                if wire is not None:
                    return wire
            base = self.type_of(expr.value)
            if base.kind in ("list", "dict") and base.elem is not None:
                return base.elem
            if base.kind in ("tools", "cm_tools"):
                return T("tool") if base.kind == "tools" else T("tool_dict")
            if (
                base.kind == "tool_dict"
                and len(expr.slice) == 1
                and isinstance(expr.slice[0].slice, cst.Index)
            ):
                index = expr.slice[0].slice.value
                value = index.evaluated_value if isinstance(index, cst.SimpleString) else None
                if value in ("name", "description"):
                    return T("tool_field", value=str(value))
                if value in ("input_schema", "parameters", "inputSchema"):
                    return T("tool_schema")
            return UNKNOWN
        if isinstance(expr, cst.IfExp):
            return join([self.type_of(expr.body), self.type_of(expr.orelse)])
        if isinstance(expr, cst.BooleanOperation):
            return join([self.type_of(expr.left), self.type_of(expr.right)])
        if isinstance(expr, cst.List | cst.Tuple | cst.Set):
            if not expr.elements:
                return T("list")
            elems: list[T] = []
            for el in expr.elements:
                if isinstance(el, cst.StarredElement):
                    inner = self.type_of(el.value)
                    elems.append(inner.elem if inner.kind in ("list",) and inner.elem else UNKNOWN)
                else:
                    elems.append(self.type_of(el.value))
            return T("list", elem=join(elems))
        if isinstance(expr, cst.ListComp | cst.GeneratorExp | cst.SetComp):
            return T("list", elem=self.type_of(expr.elt))
        if isinstance(expr, cst.Dict):
            if not expr.elements:
                return T("dict")
            for item in expr.elements:
                if (
                    isinstance(item, cst.DictElement)
                    and isinstance(item.key, cst.SimpleString)
                    and item.key.evaluated_value == "name"
                    and self.type_of(item.value).kind == "tool_field"
                ):
                    return T("tool_dict")
            return T("dict_lit")
        if isinstance(expr, cst.SimpleString):
            return T("str", value=str(expr.evaluated_value))
        if isinstance(expr, cst.ConcatenatedString):
            left, right = self.type_of(expr.left), self.type_of(expr.right)
            if "tool_text" in (left.kind, right.kind):
                return T("tool_text")
            if left.kind == right.kind == "str":
                return T("str", value=(left.value or "") + (right.value or ""))
            return T("str")
        if isinstance(expr, cst.FormattedString):
            for part in expr.parts:
                if isinstance(part, cst.FormattedStringExpression) and self._is_tool_text(part.expression):
                    return T("tool_text")
            return T("str")
        if isinstance(expr, cst.BinaryOperation):
            left, right = self.type_of(expr.left), self.type_of(expr.right)
            if isinstance(expr.operator, cst.Add | cst.Modulo) and "tool_text" in (left.kind, right.kind):
                return T("tool_text")
            if isinstance(expr.operator, cst.Modulo) and self._is_tool_text(expr.right):
                return T("tool_text")
            if left.kind == "str":
                return T("str")
            return UNKNOWN
        return UNKNOWN

    def _is_tool_text(self, expr: cst.BaseExpression) -> bool:
        kind = self.type_of(expr).kind
        if kind in ("tool_text", "tool_field"):
            return True
        return isinstance(expr, cst.Tuple | cst.List) and any(
            self._is_tool_text(e.value) for e in expr.elements
        )

    def _name(self, node: cst.Name) -> T:
        if node.value == "None":
            return NONE
        for qname in sorted(self.qualified_names(node)):
            known = classify_qualified_name(qname)
            if known is not None:
                return known
        scope = self._scope(node)
        if scope is None:
            return UNKNOWN
        assignments = scope[node.value]
        if not assignments:
            # the migration's own runtime instance, before CFM006 inserts its construction
            return T("code_mode") if node.value == self.code_mode_var else UNKNOWN
        types: list[T] = []
        for a in assignments:
            if isinstance(a, ImportAssignment):
                types.append(UNKNOWN)
            elif isinstance(a, Assignment):
                types.append(self._binding(a.node))
            else:
                types.append(T("builtin", value=a.name))
        result = join(types)
        if result is UNKNOWN and len(types) > 1:
            result = self._nearest_binding(node, assignments, types)
        if result.kind in ("list", "dict") or result is _SKIP:
            evidence = [
                ev
                for a in assignments
                if isinstance(a, Assignment)
                for ev in self._mutations.get((id(a.scope), node.value), [])
            ]
            if evidence:
                result = self._with_mutations(result if result is not _SKIP else T("list"), evidence)
        return result

    def _nearest_binding(self, node: cst.Name, assignments: Any, types: Sequence[T]) -> T:
        """A name rebound to different kinds (`response = await session.list_tools()`, later
        `response = client.messages.create(...)`): the binding last written above the read, in the
        read's own function, when it is a plain assignment statement (not a loop target or a branch)."""
        from libcst.metadata import PositionProvider

        at = self._meta(PositionProvider, node, None)
        if at is None:
            return UNKNOWN
        best: tuple[tuple[int, int], T] | None = None
        for a, t in zip(assignments, types, strict=True):
            if not isinstance(a, Assignment) or t is UNKNOWN:
                continue
            pos = self._meta(PositionProvider, a.node, None)
            if pos is None or (pos.start.line, pos.start.column) >= (at.start.line, at.start.column):
                continue
            if not isinstance(self.parent(a.node), cst.AssignTarget):
                return UNKNOWN  # a for target, walrus or with-as among them: too loose to pick one
            key = (pos.start.line, pos.start.column)
            if best is None or key > best[0]:
                best = (key, t)
        return best[1] if best is not None else UNKNOWN

    def _with_mutations(self, base: T, evidence: Sequence[tuple[str, cst.BaseExpression]]) -> T:
        elems: list[T] = [base.elem] if base.elem is not None else []
        kind = base.kind
        for ev, value in evidence:
            if ev in ("append", "setitem"):
                elems.append(self.type_of(value))
                if ev == "setitem":
                    kind = "dict" if kind != "list" or base.elem is None else kind
            elif ev in ("extend", "update"):
                inner = self.type_of(value)
                elems.append(inner.elem if inner.elem is not None else UNKNOWN)
        return T(kind, elem=join(elems) if elems else None)

    def _binding(self, node: cst.CSTNode) -> T:
        if isinstance(node, cst.Param):
            return self._param(node)
        if isinstance(node, cst.FunctionDef):
            return T("func", node=node)
        if isinstance(node, cst.ClassDef):
            return T("ucls", node=node)
        if not isinstance(node, cst.Name):
            return UNKNOWN
        parent = self.parent(node)
        if isinstance(parent, cst.AssignTarget):
            stmt = self.parent(parent)
            return self.type_of(stmt.value) if isinstance(stmt, cst.Assign) else UNKNOWN
        if isinstance(parent, cst.AnnAssign):
            ann = self.annotation(parent.annotation.annotation)
            if ann is not UNKNOWN:
                return ann
            return self.type_of(parent.value) if parent.value is not None else _SKIP
        if isinstance(parent, cst.AsName):
            item = self.parent(parent)
            if isinstance(item, cst.WithItem):
                return self.type_of(item.item)
            return UNKNOWN
        if isinstance(parent, cst.For | cst.CompFor):
            return self._element(self.type_of(parent.iter))
        if isinstance(parent, cst.NamedExpr):
            return self.type_of(parent.value)
        if isinstance(parent, cst.AugAssign):
            return _SKIP
        if isinstance(parent, cst.Element):
            return self._unpacked(node, parent)
        return UNKNOWN

    def _unpacked(self, name: cst.Name, element: cst.Element) -> T:
        """`for key, session in sessions.items()` style unpacking."""
        container = self.parent(element)
        if not isinstance(container, cst.Tuple | cst.List):
            return UNKNOWN
        holder = self.parent(container)
        if isinstance(holder, cst.For | cst.CompFor) and holder.target is container:
            it = self.type_of(holder.iter)
            if it.kind == "items" and len(container.elements) == 2 and container.elements[1] is element:
                return it.elem or UNKNOWN
            if (  # `for name, tool in group.tools.items()`: a tool dict is keyed by the tool's name
                it.kind == "items"
                and it.elem is not None
                and it.elem.kind == "tool"
                and len(container.elements) == 2
                and container.elements[0] is element
            ):
                return T("tool_field", value="name")
        return UNKNOWN

    @staticmethod
    def _element(container: T) -> T:
        if container.kind == "tools":
            return T("tool")
        if container.kind == "cm_tools":
            return T("tool_dict")
        if container.kind == "list" and container.elem is not None:
            return container.elem
        if container.kind == "dict" and container.elem is not None:
            return UNKNOWN  # iterating a dict yields keys
        return UNKNOWN

    def _param(self, param: cst.Param) -> T:
        func = self.enclosing(param, (cst.FunctionDef, cst.Lambda))
        if isinstance(func, cst.FunctionDef):
            info = self.enclosing_class(func)
            me = self_name(func)
            if info is not None and me == param.name.value:
                return T("obj", node=info.node)
        declared = self.annotation(param.annotation.annotation) if param.annotation is not None else UNKNOWN
        if _informative(declared):
            return declared
        if isinstance(func, cst.FunctionDef):
            inferred = self._param_from_calls(func, param)
            if _informative(inferred):
                return inferred
        return declared

    def callee(self, call: cst.Call) -> tuple[cst.FunctionDef, int] | None:
        """The user function a call reaches and how many leading parameters the call binds implicitly."""
        key = id(call)
        if key in self._callee_cache:
            return self._callee_cache[key]
        self._callee_cache[key] = None
        found: tuple[cst.FunctionDef, int] | None = None
        func = call.func
        if isinstance(func, cst.Name):
            t = self.type_of(func)
            if t.kind == "func" and isinstance(t.node, cst.FunctionDef):
                found = (t.node, 0)
            elif t.kind == "ucls" and t.node is not None:
                info = self.classes.get(id(t.node))
                init = info.methods.get("__init__") if info else None
                found = (init, 1) if init is not None else None
        elif isinstance(func, cst.Attribute):
            t = self.type_of(func.value)
            if t.kind == "obj" and t.node is not None:
                info = self.classes.get(id(t.node))
                method = info.methods.get(func.attr.value) if info else None
                if method is not None and first_param_is_self(method):
                    found = (method, 1)
        self._callee_cache[key] = found
        return found

    def _param_from_calls(self, func: cst.FunctionDef, param: cst.Param) -> T:
        """An unannotated parameter's type from every call of its function in this module."""
        ordered = [*func.params.posonly_params, *func.params.params]
        position = next((i for i, p in enumerate(ordered) if p is param), None)
        is_kwonly = any(p is param for p in func.params.kwonly_params)
        if position is None and not is_kwonly:
            return UNKNOWN
        types: list[T] = []
        wanted = "__init__" if func.name.value == "__init__" else func.name.value
        for call in self._calls:
            spelled = (
                call.func.attr.value
                if isinstance(call.func, cst.Attribute)
                else getattr(call.func, "value", None)
            )
            if wanted != "__init__" and spelled != wanted:
                continue
            target = self.callee(call)
            if target is None or target[0] is not func:
                continue
            if any(a.star for a in call.args):
                types.append(UNKNOWN)
                continue
            arg = _bind_arg(call, param.name.value, None if position is None else position - target[1])
            if arg is None:
                types.append(self.type_of(param.default) if param.default is not None else UNKNOWN)
            else:
                types.append(self.type_of(arg))
        return join(types) if types else UNKNOWN

    def annotation(self, ann: cst.BaseExpression) -> T:
        """The instance type an annotation declares (`ClientSession`, `ClientSession | None`, `dict[str, X]`)."""
        if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
            return join([self.annotation(ann.left), self.annotation(ann.right)])
        if isinstance(ann, cst.Name) and ann.value == "None":
            return NONE
        if isinstance(ann, cst.Subscript):
            heads = self.qualified_names(ann.value) | (
                {ann.value.value}
                if isinstance(ann.value, cst.Name) and self.is_builtin(ann.value, ann.value.value)
                else set()
            )
            args = [el.slice.value for el in ann.slice if isinstance(el.slice, cst.Index)]
            if heads & {"typing.Optional"} and args:
                return self.annotation(args[0])
            if heads & {"typing.Union"}:
                return join(self.annotation(a) for a in args)
            for head in heads:
                kind = _CONTAINER_ANNOTATIONS.get(head)
                if kind == "dict" and len(args) == 2:
                    return T("dict", elem=self.annotation(args[1]))
                if kind == "list" and args:
                    return T("list", elem=self.annotation(args[0]))
            return UNKNOWN
        if isinstance(ann, cst.Name | cst.Attribute):
            t = self.type_of(ann)
            if t.kind == "cls" and t.elem is not None:
                return t.elem
            if t.kind == "ucls":
                return T("obj", node=t.node)
        return UNKNOWN

    def _attribute(self, node: cst.Attribute) -> T:
        for qname in sorted(self.qualified_names(node)):
            known = classify_qualified_name(qname)
            if known is not None:
                return known
        attr = node.attr.value
        base = self.type_of(node.value)
        if base.kind == "obj" and base.node is not None:
            info = self.classes.get(id(base.node))
            if info is not None and attr in info.attrs:
                return self._class_attr(info, attr)
            return UNKNOWN
        return self._member(base, attr)

    def _class_attr(self, info: _ClassInfo, attr: str) -> T:
        return self._guarded(hash((id(info.node), attr)), lambda: self._class_attr_now(info, attr))

    def _class_attr_now(self, info: _ClassInfo, attr: str) -> T:
        evidence = info.attrs[attr]
        declared = [self.annotation(e) for kind, e in evidence if kind == "ann"]
        declared_t = join(declared) if declared else _SKIP
        if declared_t not in (_SKIP, UNKNOWN) and declared_t.kind not in ("list", "dict"):
            return declared_t
        values = [self.type_of(e) for kind, e in evidence if kind == "value"]
        if values and all(
            v.kind == "cm_tools" for v in values
        ):  # `tools: list[dict] = code_mode.tool_definitions()`
            return values[0]
        base = join([*values, declared_t])
        muts = [(k, e) for k, e in evidence if k in ("append", "extend", "setitem", "update")]
        if muts and (base is _SKIP or base.kind in ("list", "dict")):
            base = self._with_mutations(base if base is not _SKIP else T("list"), muts)
        return base

    @staticmethod
    def _member(base: T, attr: str) -> T:
        kind, flavor = base.kind, base.flavor
        if kind == "list_result" and attr == "tools":
            return T("tools")
        if kind == "session" and flavor == "group" and attr == "tools":
            return T("dict", elem=T("tool"))
        if kind == "tool":
            if attr in ("name", "description", "title"):
                return T("tool_field", value=attr)
            if attr in ("inputSchema", "input_schema", "parameters"):
                return T("tool_schema")
            return UNKNOWN
        if kind == "llm_client" or kind == "llm_ns":
            path = f"{base.value}.{attr}" if base.value else attr
            return T("llm_ns", flavor, value=path)
        if kind == "llm_response":
            if flavor == "anthropic" and attr == "content":
                return T("list", elem=T("tool_use", "anthropic"))
            if flavor == "openai-chat" and attr == "choices":
                return T("list", elem=T("choice", "openai"))
            if flavor == "openai-responses" and attr == "output":
                return T("list", elem=T("tool_use", "openai-responses"))
            return UNKNOWN
        if kind == "choice" and attr == "message":
            return T("message", "openai")
        if kind == "message" and attr == "tool_calls":
            return T("list", elem=T("tool_use", "openai"))
        if kind == "tool_use":
            if flavor == "openai" and attr == "function":
                return T("function_call", "openai")
            if flavor in ("anthropic", "openai-responses") and attr == "name":
                return T("model_name", flavor)
            if flavor == "anthropic" and attr == "input":
                return T("model_args", flavor)
            if flavor == "openai-responses" and attr == "arguments":
                return T("model_args_json", flavor)
            return UNKNOWN
        if kind == "function_call":
            if attr == "name":
                return T("model_name", flavor)
            if attr == "arguments":
                return T("model_args_json", flavor)
        return UNKNOWN

    def _call(self, node: cst.Call) -> T:
        func = node.func
        qnames = self.qualified_names(func) if isinstance(func, cst.Name | cst.Attribute) else set()
        for qname in sorted(qnames):
            if qname in ("json.loads",) and node.args:
                inner = self.type_of(node.args[0].value)
                return T("model_args", inner.flavor) if inner.kind == "model_args_json" else UNKNOWN
            if qname == "json.dumps" and node.args:
                return (
                    T("tool_text")
                    if self._is_tool_text(node.args[0].value)
                    or self.type_of(node.args[0].value).kind in ("tools", "tool", "tool_schema")
                    else T("str")
                )
            owner, _, method = qname.rpartition(".")
            factory = api_of(owner)
            if (
                factory is not None
                and factory.role is Role.SESSION_FACTORY
                and method in factory.constructors
            ):
                return T("mcp_use_client")
        if isinstance(func, cst.Name):
            if func.value in ("list", "dict", "tuple") and self.is_builtin(func, func.value):
                if not node.args:
                    return T("list" if func.value != "dict" else "dict")
                inner = self.type_of(node.args[0].value)
                if func.value == "list" and inner.kind in ("list", "tools"):
                    return inner if inner.kind == "list" else T("list", elem=T("tool"))
                return UNKNOWN
            if (
                func.value == "str"
                and self.is_builtin(func, "str")
                and node.args
                and self._is_tool_text(node.args[0].value)
            ):
                return T("tool_text")
        callee = self.type_of(func) if not isinstance(func, cst.Attribute) or qnames else None
        if callee is not None and (
            not isinstance(func, cst.Attribute) or callee.kind in ("cls", "ucls", "func")
        ):
            if callee.kind == "cls" and callee.elem is not None:
                return callee.elem
            if callee.kind == "ucls":
                return T("obj", node=callee.node)
            if callee.kind == "func" and isinstance(callee.node, cst.FunctionDef):
                return self._returns_of(callee.node)
            return UNKNOWN
        if not isinstance(func, cst.Attribute):
            return UNKNOWN
        method = func.attr.value
        if method in _ENTER_METHODS and node.args:
            return self.type_of(node.args[0].value)
        if method == "join" and node.args and self.type_of(func.value).kind == "str":
            arg = node.args[0].value
            inner = self.type_of(arg)
            if (
                inner.kind == "list"
                and inner.elem is not None
                and inner.elem.kind in ("tool_text", "tool_field")
            ):
                return T("tool_text")
            return T("str")
        if method == "format" and self.type_of(func.value).kind in ("str", "tool_text"):
            if any(self._is_tool_text(a.value) for a in node.args):
                return T("tool_text")
            return T("str")
        receiver = self.type_of(func.value)
        return self._method(receiver, method, node)

    def _returns_of(self, func: cst.FunctionDef) -> T:
        values = _returns(func)
        return self._guarded(
            hash(("returns", id(func))), lambda: join(self.type_of(v) for v in values) if values else UNKNOWN
        )

    def _method(self, receiver: T, method: str, node: cst.Call) -> T:
        kind, flavor = receiver.kind, receiver.flavor
        if kind == "session":
            if method == "list_tools":
                return T("tools") if flavor in ("fastmcp", "mcp-use") else T("list_result")
            if method == "call_tool":
                return T("call_result", flavor)
            return UNKNOWN
        if kind == "mcp_use_client":
            if method in ("create_session", "get_session"):
                return T("session", "mcp-use")
            if method in ("create_all_sessions", "get_all_active_sessions"):
                return T("dict", elem=T("session", "mcp-use"))
            return UNKNOWN
        if kind == "llm_ns" and method == "stream":  # `async with client.messages.stream(...) as stream`
            response = self._method(receiver, "create", node)
            return T("llm_stream", response.flavor) if response.kind == "llm_response" else UNKNOWN
        if kind == "llm_stream" and method in _FINAL_OF_STREAM.get(flavor or "", ()):
            return T("llm_response", flavor)
        if kind == "llm_ns" and method in ("create", "parse"):
            path = receiver.value or ""
            if flavor == "anthropic" and path.endswith("messages"):
                return T("llm_response", "anthropic")
            if flavor == "openai" and path.endswith("chat.completions"):
                return T("llm_response", "openai-chat")
            if flavor == "openai" and path.endswith("responses"):
                return T("llm_response", "openai-responses")
            return UNKNOWN
        if kind == "code_mode":
            return {
                "tool_definitions": T("cm_tools"),
                "system_prompt": T("cm_prompt"),
                "handle_tool_use": T("cm_result"),
            }.get(method, UNKNOWN)
        if method == "get" and node.args and isinstance(node.args[0].value, cst.SimpleString):
            wire = _wire_member(receiver, str(node.args[0].value.evaluated_value))
            if wire is not None:
                return wire
        if kind == "tool_dict" and method == "get" and node.args:
            key = node.args[0].value
            value = key.evaluated_value if isinstance(key, cst.SimpleString) else None
            return T("tool_field", value=str(value)) if value in ("name", "description") else UNKNOWN
        if kind == "tool_field" and method in (
            "strip",
            "split",
            "splitlines",
            "lower",
            "upper",
            "replace",
            "format",
        ):
            return T("tool_text") if method not in ("split", "splitlines") else T("list", elem=T("tool_text"))
        if kind == "dict" and receiver.elem is not None:
            if method in ("get", "pop", "setdefault"):
                return receiver.elem
            if method == "values":
                return T("list", elem=receiver.elem)
            if method == "items":
                return T("items", elem=receiver.elem)
            if method == "copy":
                return receiver
            return UNKNOWN
        if kind == "list" and receiver.elem is not None:
            if method == "pop":
                return receiver.elem
            if method == "copy":
                return receiver
            return UNKNOWN
        if kind == "obj" and receiver.node is not None:
            info = self.classes.get(id(receiver.node))
            if info is not None and method in info.methods:
                return self._returns_of(info.methods[method])
        return UNKNOWN
