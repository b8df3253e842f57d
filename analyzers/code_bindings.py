"""Pass 1 over a module (scopes, the binding of every name) and the evaluation of expressions to values."""

from __future__ import annotations

import builtins
import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState  # the hook PositionProvider uses, without its overhead

from cfmigrate.analyzers.code_apis import Role, canonical, role_of
from cfmigrate.analyzers.code_facts import Decl, DefinedServer, Event
from cfmigrate.analyzers.code_values import (
    _MAX_TEXT,
    _NONE,
    _STR_METHODS,
    _TEXT_FUNCTIONS,
    UNKNOWN,
    DictV,
    EnvRef,
    FileRef,
    Lit,
    LocalClass,
    LocalFunc,
    Obj,
    Ref,
    SelfRef,
    Seq,
    Text,
    Val,
    _apply_text,
    _as_str,
    _best,
    _Builder,
    _class_statements,
    _formatter,
    _fstring_literal,
    _fstring_spec,
    _is_dotted,
    _is_text,
    _percent_format,
    _refs_of,
    _servers_in,
    _static,
    _str_format,
    _string_keys,
    _target_attributes,
    _target_names,
)
from cfmigrate.analyzers.cst_children import all_nodes


@dataclass(frozen=True)
class _Binding:
    kind: str  # "value" | "with" | "iter" | "annotation"
    expr: cst.BaseExpression | None
    unpack: tuple[int, ...] = ()
    annotation: cst.BaseExpression | None = None


def _plain_value(value: Val) -> bool:
    """A literal, a path, an environment lookup or a list of them: what a launch is written with (not objects)."""
    if isinstance(value, Seq):
        return all(_plain_value(item) for item in value.items)
    return isinstance(value, Lit | FileRef | EnvRef)


def _params_of(func: cst.FunctionDef) -> list[cst.Param]:
    p = func.params
    star = [p.star_arg] if isinstance(p.star_arg, cst.Param) else []
    kwargs = [p.star_kwarg] if p.star_kwarg is not None else []
    return [*p.posonly_params, *p.params, *star, *p.kwonly_params, *kwargs]


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
# Calls that enter a context manager and give what it yields: an exit stack's, and anyio's blocking portal
# (`portal.wrap_async_context_manager(ClientSession(read, write))`, how sync code holds an async session).
_ENTER_METHODS = frozenset({"enter_async_context", "enter_context", "wrap_async_context_manager"})


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


class Bindings:
    """Scopes, bindings and expression values of one module; library calls are recognised by subclasses."""

    def __init__(self, module: cst.Module, rel: str) -> None:
        self.module = module
        self._lines = _line_numbers(module)
        self._order: dict[cst.CSTNode, int] = {}  # source order of names and binding nodes
        self._param_owner: dict[cst.Param, cst.FunctionDef] = {}  # a def's own parameters -> the def
        self._param_busy: set[cst.Param] = set()
        self._all_calls: list[cst.Call] | None = None
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
        # qualified name -> a constant or helper class another module of the repository gives it
        self.external: Mapping[str, Any] = {}
        self._helper_decls: dict[str, frozenset[int]] = {}  # helper class -> its declarations here
        self._constant_decls: dict[str, tuple[int | None, ...]] = {}  # a server constant -> its declarations

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
                if self.functions and any(p is node for p in _params_of(self.functions[-1])):
                    analysis._param_owner[node] = self.functions[-1]
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
            and inner.func.attr.value in _ENTER_METHODS
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
            return self._ref(qname)
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
            if binding is None or binding.kind == "annotation":  # what the callers pass says more than a type
                passed = self._param_from_calls(target)
                if passed is not UNKNOWN:
                    return passed
            return self._eval_binding(binding) if binding else UNKNOWN
        binding = self._bindings.get(target)
        if binding is None:
            return UNKNOWN
        return self._eval_binding(binding)

    def _param_from_calls(self, param: cst.Param) -> Val:
        """A parameter's value when every call of its function in this module passes the same known value
        (`await client.connect_to_server(SERVER_SCRIPT)` in the quickstart client), else unknown."""
        func = self._param_owner.get(param)
        if func is None or param.default is not None or param in self._param_busy:
            return UNKNOWN
        ordered = [*func.params.posonly_params, *func.params.params]
        position = next((i for i, p in enumerate(ordered) if p is param), None)
        method = bool(ordered) and ordered[0] in self._self_params
        if self._all_calls is None:
            self._all_calls = [n for n in all_nodes(self.module) if isinstance(n, cst.Call)]
        self._param_busy.add(param)
        try:
            values: list[Val] = []
            for call in self._all_calls:
                if (
                    method
                    and isinstance(call.func, cst.Attribute)
                    and call.func.attr.value == func.name.value
                ):
                    index = None if position is None else position - 1
                elif not method and isinstance(call.func, cst.Name) and call.func.value == func.name.value:
                    index = position
                else:
                    continue
                if any(a.star for a in call.args):
                    return UNKNOWN
                arg = self._arg(call, index, param.name.value)
                values.append(self.eval(arg) if arg is not None else UNKNOWN)
        finally:
            self._param_busy.discard(param)
        if not values or any(v != values[0] for v in values) or not _plain_value(values[0]):
            return UNKNOWN
        return values[0]

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
        if isinstance(value, Obj) and role_of(value.api) is Role.TRANSPORT:
            return value  # (read, write[, get_session_id]) all lead to the same server
        return UNKNOWN

    def _eval_attribute(self, node: cst.Attribute) -> Val:
        qname = self.import_qname(node) if _is_dotted(node) else None
        if qname:
            return self._ref(qname)
        base = self.eval(node.value)
        attr = node.attr.value
        if isinstance(base, Ref):
            return self._ref(f"{base.qname}.{attr}")
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

    def _ref(self, qname: str) -> Val:
        """An imported name: a constant another module of the repository holds, else a reference."""
        value = self.external.get(qname)
        return value if isinstance(value, Val) else Ref(qname)

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

    def _eval_call(self, node: cst.Call) -> Val:
        func = self.eval(node.func)
        if isinstance(func, Ref):
            if func.qname in self.external:
                return self._call_external(func.qname, node)
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
            if method in _ENTER_METHODS and node.args:
                return self.eval(node.args[0].value)
            if method == "call" and node.args and isinstance(node.args[0].value, cst.Attribute):
                return self._portal_call(node)
            if method in ("resolve", "absolute", "expanduser") and isinstance(
                self.eval(node.func.value), FileRef
            ):
                return self.eval(node.func.value)
        return UNKNOWN

    def _portal_call(self, node: cst.Call) -> Val:
        """`portal.call(session.call_tool, name, args)` (anyio's blocking portal runs a coroutine function from sync
        code): the call of the method it is given, recorded at this line."""
        target = self.eval(node.args[0].value)
        if not (isinstance(target, Obj) and target.path) or any(a.keyword or a.star for a in node.args):
            return UNKNOWN
        inner = cst.Call(func=node.args[0].value, args=node.args[1:])
        self._lines[inner] = self.line(node)
        self._order[inner] = self._pos(node)
        value = self._call_method(target, inner)
        events = self._node_events.pop(inner, None)
        if events:
            self._node_events.setdefault(node, []).extend(events)
        return value

    # --- library calls: recognised by the subclasses (a call no recogniser knows holds an unknown value)

    def _call_api(self, api: str, call: cst.Call) -> Val:
        """The value of a call to the library API `api` (a canonical id from `code_apis`)."""
        return UNKNOWN

    def _call_method(self, obj: Obj, call: cst.Call) -> Val:
        """The value of a method call on an instance of a known library class."""
        return UNKNOWN

    def _call_external(self, qname: str, call: cst.Call) -> Val:
        """The value of a call to a class another module of the repository defines (a helper)."""
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
