"""Connect-time tool listings that keep an agent's own MCP session alive, and what replaces them.

A multi-server chatbot typically prints what each server offers as it connects::

    for name, spec in config["mcpServers"].items():
        ...
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        response = await session.list_tools()
        print(f"connected to {name}: {len(response.tools)} tools")

After the migration nothing but that listing reads the session, yet the listing alone would start the
server a second time. `CodeMode.list_tools(server)` gives the same `ListToolsResult` from CodeMode's own
session of that server, so CFM008 rewrites the listing (any `await <session>.list_tools()`, also inside an
expression) to it -- only when the server's name is known at that place (below) and CodeMode is bound
before it -- and the session then dies with the rest.

The server's name at the listing, in this order:

* the key of the loop over a config's server table around it (`for name, spec in cfg["mcpServers"].items()`,
  `for name in servers` where `servers = data.get("mcpServers", {})`);
* a parameter of the function, when every call of that function in the module passes such a key there
  (`for server_name, server_config in servers.items(): await self.connect_to_server(server_name, ...)`);
* the one server the file reaches, as a literal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import libcst as cst
from libcst.metadata import Assignment, GlobalScope, Scope, ScopeProvider

from cfmigrate.migrate.rules._base import MigrationRule
from cfmigrate.migrate.rules._resolve import self_name, walk, walk_own

SERVER_TABLES = frozenset({"mcpServers", "mcp_servers", "servers"})  # config keys holding the server table


def awaited_listings(body: cst.CSTNode) -> Iterator[cst.Call]:
    """Every `await <receiver>.list_tools()` call in a body (also inside an expression), not in nested
    functions, classes or lambdas."""
    for node in walk_own(body):
        if isinstance(node, cst.Await):
            call = node.expression
            if (
                isinstance(call, cst.Call)
                and not call.args
                and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "list_tools"
            ):
                yield call


def server_at(
    rule: MigrationRule,
    module: cst.Module,
    func: cst.FunctionDef,
    stmt: cst.CSTNode,
    servers: tuple[str, ...],
) -> cst.BaseExpression | None:
    """The expression naming the server whose session is listed at `stmt` (see the module docstring), else None."""
    key = _loop_key(rule, func, stmt)
    if key is not None:
        return cst.Name(key)
    param = _key_parameter(rule, module, func)
    if param is not None:
        return cst.Name(param)
    if len(servers) == 1:
        return cst.SimpleString(json.dumps(servers[0]))
    return None


def code_mode_at(
    rule: MigrationRule, func: cst.FunctionDef, stmt: cst.CSTNode, session_attr: str | None = None
) -> cst.BaseExpression | None:
    """How `stmt` reaches the CodeMode bound before it, else None: `self.code_mode` set in `__init__`, earlier
    in this method, or -- for a listing of `self.<session_attr>` -- before every place that sets that session
    (where the session could be listed, CodeMode is set); or a `code_mode` bound at module level or earlier
    in an enclosing block."""
    var = rule.plan.code_mode_var
    me = self_name(func)
    cls = _class_of(rule, func)
    if me is not None and cls is not None:
        methods = [m for m in cls.body.body if isinstance(m, cst.FunctionDef)]
        sets = [(m, n) for m in methods for n in walk_own(m.body) if _assigns_attr(n, self_name(m), var)]
        for method, node in sets:
            if method.name.value == "__init__" or (
                method is func and _before(rule, node, stmt) and _encloses(rule, node, stmt)
            ):
                return cst.Attribute(value=cst.Name(me), attr=cst.Name(var))
        if session_attr is not None:
            opens = [
                (m, n)
                for m in methods
                for n in walk_own(m.body)
                if _assigns_attr(n, self_name(m), session_attr) and not _is_none(n)
            ]
            if opens and all(
                any(m is method and _before(rule, n, at) and _encloses(rule, n, at) for m, n in sets)
                for method, at in opens
            ):
                return cst.Attribute(value=cst.Name(me), attr=cst.Name(var))
    scope = rule.get_metadata(ScopeProvider, stmt, None)
    if not isinstance(scope, Scope):
        return None
    for assignment in scope[var]:
        if not isinstance(assignment, Assignment):
            continue
        if isinstance(assignment.scope, GlobalScope):
            return cst.Name(var)
        binder = rule.resolver.enclosing(assignment.node, (cst.SimpleStatementLine,))
        if (
            assignment.scope is rule.get_metadata(ScopeProvider, func.body, None)
            and binder is not None
            and _before(rule, binder, stmt)
            and _encloses(rule, binder, stmt)
        ):
            return cst.Name(var)
    return None


# ---------------------------------------------------------------------------------------------- the server's name


def _loop_key(rule: MigrationRule, func: cst.FunctionDef, node: cst.CSTNode) -> str | None:
    """The key variable of a loop over a config's server table that holds `node`, inside `func`."""
    cur = rule.resolver.parent(node)
    while cur is not None and cur is not func:
        if isinstance(cur, cst.For):
            key = _table_key(rule, func, cur)
            if key is not None:
                return key
        cur = rule.resolver.parent(cur)
    return None


def _table_key(rule: MigrationRule, func: cst.FunctionDef, loop: cst.For) -> str | None:
    """`for k, v in T.items()` / `for k in T` / `for k in T.keys()` over a server table T: `k`, when only the
    loop binds it."""
    target, it = loop.target, loop.iter
    key: cst.BaseExpression | None = None
    if isinstance(it, cst.Call) and not it.args and isinstance(it.func, cst.Attribute):
        method, table = it.func.attr.value, it.func.value
        if method == "items" and isinstance(target, cst.Tuple) and len(target.elements) == 2:
            key = target.elements[0].value
        elif method == "keys":
            key = target
        else:
            return None
    else:
        table, key = it, target
    if not isinstance(key, cst.Name) or not _server_table(rule, func, table):
        return None
    scope = rule.get_metadata(ScopeProvider, func.body, None)
    if not isinstance(scope, Scope):
        return None
    binders = [a for a in scope[key.value] if isinstance(a, Assignment)]
    if len(binders) != 1 or not _inside(rule, binders[0].node, loop.target):
        return None
    return key.value


def _server_table(
    rule: MigrationRule, func: cst.FunctionDef, expr: cst.BaseExpression, depth: int = 0
) -> bool:
    """`cfg["mcpServers"]`, `cfg.get("mcpServers", {})`, or a name bound once in `func` (an attribute set once in
    the class: `self.servers`) to one of them."""
    if isinstance(expr, cst.Subscript) and len(expr.slice) == 1:
        index = expr.slice[0].slice
        return isinstance(index, cst.Index) and _string(index.value) in SERVER_TABLES
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "get":
        return bool(expr.args) and _string(expr.args[0].value) in SERVER_TABLES
    if isinstance(expr, cst.Name) and depth == 0:
        scope = rule.get_metadata(ScopeProvider, func.body, None)
        if not isinstance(scope, Scope):
            return False
        binders = [a for a in scope[expr.value] if isinstance(a, Assignment) and a.scope is scope]
        if len(binders) != 1:
            return False
        stmt = rule.resolver.parent(binders[0].node)
        stmt = rule.resolver.parent(stmt) if isinstance(stmt, cst.AssignTarget) else stmt
        value = stmt.value if isinstance(stmt, cst.Assign | cst.AnnAssign) else None
        return value is not None and _server_table(rule, func, value, depth + 1)
    cls = _class_of(rule, func)
    if (
        isinstance(expr, cst.Attribute)
        and isinstance(expr.value, cst.Name)
        and cls is not None
        and depth == 0
    ):
        if expr.value.value != self_name(func):
            return False
        sets = [
            (method, node)
            for method in cls.body.body
            if isinstance(method, cst.FunctionDef)
            for node in walk_own(method.body)
            if _assigns_attr(node, self_name(method), expr.attr.value)
        ]
        if len(sets) != 1:
            return False
        method, node = sets[0]
        value = getattr(node, "value", None)
        return isinstance(value, cst.BaseExpression) and _server_table(rule, method, value, depth + 1)
    return False


def _key_parameter(rule: MigrationRule, module: cst.Module, func: cst.FunctionDef) -> str | None:
    """A parameter of `func` that every call of it in the module fills with a server-table key."""
    params = list(func.params.params)
    me = self_name(func)
    offset = 1 if me is not None and _class_of(rule, func) is not None else 0
    if offset and params:
        params = params[1:]
    name = func.name.value
    calls: list[cst.Call] = []
    for node in walk(module):
        if isinstance(node, cst.Name) and node.value == name and node is not func.name:
            parent = rule.resolver.parent(node)
            if isinstance(parent, cst.Attribute) and parent.attr is node and offset:
                call = rule.resolver.parent(parent)
                if not (
                    isinstance(parent.value, cst.Name) and isinstance(call, cst.Call) and call.func is parent
                ):
                    return None
                calls.append(call)
            elif isinstance(parent, cst.Call) and parent.func is node and not offset:
                calls.append(parent)
            elif not isinstance(parent, cst.Attribute):
                return None
    if not calls:
        return None
    scope = rule.get_metadata(ScopeProvider, func.body, None)
    if not isinstance(scope, Scope):
        return None
    for index, param in enumerate(params):
        if param.star or len([a for a in scope[param.name.value] if isinstance(a, Assignment)]) != 1:
            continue
        if all(_passes_key(rule, call, index, param.name.value) for call in calls):
            return param.name.value
    return None


def _passes_key(rule: MigrationRule, call: cst.Call, index: int, name: str) -> bool:
    if any(a.star for a in call.args):
        return False
    value: cst.BaseExpression | None = None
    positional = [a for a in call.args if a.keyword is None]
    if index < len(positional):
        value = positional[index].value
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            value = arg.value
    caller = rule.resolver.enclosing(call, (cst.FunctionDef,))
    if not isinstance(value, cst.Name) or not isinstance(caller, cst.FunctionDef):
        return False
    return _loop_key(rule, caller, call) == value.value


# ---------------------------------------------------------------------------------------------- small helpers


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _class_of(rule: MigrationRule, func: cst.FunctionDef) -> cst.ClassDef | None:
    parent = rule.resolver.parent(func)
    if isinstance(parent, cst.IndentedBlock):
        parent = rule.resolver.parent(parent)
    return parent if isinstance(parent, cst.ClassDef) else None


def _assigns_attr(node: cst.CSTNode, owner: str | None, attr: str) -> bool:
    """`<owner>.<attr> = ...` / `<owner>.<attr>: T = ...`."""
    if owner is None:
        return False
    targets: list[cst.BaseExpression] = []
    if isinstance(node, cst.Assign):
        targets = [t.target for t in node.targets]
    elif isinstance(node, cst.AnnAssign) and node.value is not None:
        targets = [node.target]
    return any(
        isinstance(t, cst.Attribute)
        and t.attr.value == attr
        and isinstance(t.value, cst.Name)
        and t.value.value == owner
        for t in targets
    )


def _is_none(node: cst.CSTNode) -> bool:
    value = getattr(node, "value", None)
    return isinstance(value, cst.Name) and value.value == "None"


def _before(rule: MigrationRule, first: cst.CSTNode, then: cst.CSTNode) -> bool:
    return 0 < rule.line_of(first) < rule.line_of(then)


def _encloses(rule: MigrationRule, binder: cst.CSTNode, stmt: cst.CSTNode) -> bool:
    """The block holding `binder`'s statement also holds `stmt` (directly or nested): it runs first."""
    line: cst.CSTNode | None = binder
    while line is not None and not isinstance(line, cst.SimpleStatementLine):
        line = rule.resolver.parent(line)
    block = rule.resolver.parent(line) if line is not None else None
    return block is not None and _inside(rule, stmt, block)


def _inside(rule: MigrationRule, node: cst.CSTNode, outer: cst.CSTNode) -> bool:
    cur: cst.CSTNode | None = node
    while cur is not None:
        if cur is outer:
            return True
        cur = rule.resolver.parent(cur)
    return False
