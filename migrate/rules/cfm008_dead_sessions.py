"""CFM008 -- MCP sessions the rewrite left unread, and the helpers and imports only they used, are removed (always on).

Before (after CFM002-CFM004 moved the agent onto `code_mode`)::

    async with AsyncExitStack() as stack:
        code_mode = await stack.enter_async_context(CodeMode(...))
        sessions = {}
        tools = code_mode.tool_definitions("anthropic")
        for params in load_servers().values():
            read, write = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            listing = await session.list_tools()
            for t in listing.tools:
                sessions[t.name] = session

After::

    async with AsyncExitStack() as stack:
        code_mode = await stack.enter_async_context(CodeMode(...))
        tools = code_mode.tool_definitions("anthropic")

and `load_servers()` (now called from nowhere in the module), the helpers only it called, and the
`stdio_client` / `ClientSession` / ... imports nothing uses any more go too. `CodeMode` starts the
servers itself, so without this every server would start twice.

What counts as provably dead, inside one function: statements that open an MCP session or transport
(`stdio_client(...)`, `ClientSession(...)`, `Client(...)`, `enter_async_context(...)` of one, a
framework's `MCPServerStdio(...)` in a `with`), run `initialize()` / `list_tools()` on one, or store
one into a local container (`sessions[name] = session`) -- when every name they bind is read only by
statements of the same kind, the loops around them do nothing else, and a rule of this run removed
the last other read (a `call_tool`, a tool list). The launch objects, transport aliases and plain reads
(`spec = cfg["mcpServers"][name]`) only they used go with them. Of attributes, a session held on `self`
(with a transport unpacked onto `self`) and a table on `self` that only ever holds sessions
(`self.sessions[tool.name] = session`, `self.sessions.append(session)`, its empty init) go when nothing
else in the module reads them; module globals, parameters and anything still read -- a session kept
for a direct tool, say -- stay. A function using `locals()`/`vars()`/`eval`/`exec` is left alone.

A connect-time listing that is the last reader of a session (`response = await session.list_tools()`,
then `print(name, len(response.tools))`) reads `await code_mode.list_tools(name)` instead -- the same
`ListToolsResult` from CodeMode's session of that server -- when the server's name and CodeMode are
known at that place (`_listing`), and only when the session then goes; otherwise it stays.

Module-level functions are removed only when code the rules removed called them, no reference is left
anywhere in the module, they are not decorated and `__all__` does not export them (a non-literal
`__all__` keeps everything). Other module-level names left unused that way (constants, framework
server objects) are reported in the summary as "now unused", not removed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import libcst as cst
from libcst.codemod.visitors import RemoveImportsVisitor
from libcst.metadata import Assignment, Scope, ScopeProvider

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._base import (
    ORPHANS_KEY,
    PATH_KEY,
    MigrationRule,
    _names_in,
    function_path,
    module_exports,
    register,
)
from cfmigrate.migrate.rules._launch import is_launch_class
from cfmigrate.migrate.rules._listing import awaited_listings, code_mode_at, server_at
from cfmigrate.migrate.rules._plan import MigrationPlan
from cfmigrate.migrate.rules._resolve import opens_mcp, self_name, walk, walk_own

_ENTER = frozenset({"enter_async_context", "enter_context"})
_SESSION_OPS = frozenset(
    {
        "initialize",
        "list_tools",
        "list_prompts",
        "list_resources",
        "list_resource_templates",
        "send_ping",
        "set_logging_level",
    }
)
_INTROSPECTION = frozenset({"locals", "vars", "eval", "exec"})
_FILLS = frozenset({"append", "add"})  # `self.sessions.append(session)`: filling a container


@dataclass(eq=False)
class _Unit:
    """One removable piece: a statement line, a loop, or one item of a `with`."""

    node: cst.CSTNode
    kind: (
        str  # open / op / store / fill (a table on self nothing reads) / init / loop / item / launch / alias
    )
    defines: set[str] = field(default_factory=set)  # names it binds (or the container it fills)
    children: list[_Unit] = field(default_factory=list)  # units inside a loop's body
    direct: set[int] = field(default_factory=set)  # a loop: ids of its body's own statements
    complete: bool = True  # a loop: every body statement is a unit, no else, a harmless iterable


@dataclass(frozen=True, eq=False)
class _Listing:
    """A listing of the agent's own session that CodeMode can give instead."""

    call: cst.Call  # `<receiver>.list_tools()` as written
    receiver: cst.BaseExpression
    new: cst.Call  # `<code mode>.list_tools(<server>)`


@register
class RemoveDeadSessions(MigrationRule):
    """Drop MCP sessions the migration left unread, then helpers and imports left unused."""

    RULE_ID = "CFM008"
    TITLE = "dead MCP sessions and helpers removed"
    DESCRIPTION = (
        "MCP sessions the rewrite left unread (opened, initialised, stored only), then module helpers and "
        "imports only they used, are removed; a connect-time listing of one reads code_mode.list_tools(server) "
        "(always on)."
    )
    ALWAYS = True

    @classmethod
    def needed(cls, code: str, scratch: Mapping[str, object], plan: MigrationPlan) -> bool:
        return bool(scratch.get(ORPHANS_KEY))

    def analyze(self, module: cst.Module) -> None:
        self._remove: set[int] = set()  # statements and functions to remove
        self._items: set[int] = set()  # with-items to remove
        self._unwrap: set[int] = set()  # `with` statements left without items: their body takes their place
        orphans = self.context.scratch.get(ORPHANS_KEY) or set()
        assert isinstance(orphans, set)
        by_path: dict[str, set[str]] = {}
        for path, name in orphans:
            by_path.setdefault(path, set()).add(name)
        gone: list[cst.CSTNode] = []
        self._dropped_params: dict[int, str] = {}  # function -> a session parameter nothing reads any more
        self._dropped_args: dict[int, int] = {}  # call -> index of the argument passing it
        self._gone_args: set[int] = set()
        # a connect-time `session.list_tools()` -> `code_mode.list_tools(server)`
        self._listed: dict[int, cst.Call] = {}
        self._me: str | None = None
        self._fill: set[str] = set()
        self._ignored: set[int] = set()
        self._containers = self._dead_containers(module)
        self._dead_params(module, by_path)
        for func in _functions(module):
            path = function_path(func, self.resolver.parent)
            if path in by_path:
                gone.extend(self._function(module, func, by_path[path]))
        gone.extend(self._container_inits(module, gone))
        classes = {path.partition(".")[0] for path in by_path if "." in path}
        gone.extend(self._class_sessions(module, classes))
        dropped = {name for _, name in orphans}
        for node in gone:
            dropped.update(n.value for n in _names_in(node))
        gone.extend(self._helpers(module, dropped, gone))
        gone.extend(self._report_unused(module, dropped, gone))
        for node in gone:
            RemoveImportsVisitor.remove_unused_import_by_node(self.context, node)

    # ------------------------------------------------------------------ edits
    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        return cst.RemoveFromParent() if id(original_node) in self._remove else updated_node

    def leave_For(self, original_node: cst.For, updated_node: cst.For) -> cst.For | cst.RemovalSentinel:
        return cst.RemoveFromParent() if id(original_node) in self._remove else updated_node

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef | cst.RemovalSentinel:
        if id(original_node) in self._remove:
            return cst.RemoveFromParent()
        param = self._dropped_params.get(id(original_node))
        if param is None:
            return updated_node
        params = [p for p in updated_node.params.params if p.name.value != param]
        if params:
            params[-1] = params[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(params=updated_node.params.with_changes(params=params))

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        listed = self._listed.get(id(original_node))
        if listed is not None:
            return listed
        index = self._dropped_args.get(id(original_node))
        if index is None:
            return updated_node
        args = [a for i, a in enumerate(updated_node.args) if i != index]
        if args and index == len(updated_node.args) - 1:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(args=args)

    # ------------------------------------------------------------------ session parameters
    def _dead_params(self, module: cst.Module, orphans: Mapping[str, set[str]]) -> None:
        """A module function's session parameter the rewrite left unread (`async def agent(session, task)`)
        is dropped, with the argument every call in the module passes for it; the caller's session may then
        be unread too. Only for functions the module calls directly and does not export or decorate."""
        exported = module_exports(module)
        scope = self.get_metadata(ScopeProvider, module, None)
        if exported is None or not isinstance(scope, Scope):
            return
        changed = True
        while changed:  # dropping an argument may leave the caller's own parameter unread
            changed = False
            for func in module.body:
                if isinstance(func, cst.FunctionDef) and id(func) not in self._dropped_params:
                    changed |= self._dead_param(func, orphans, exported, scope)

    def _dead_param(
        self, func: cst.FunctionDef, orphans: Mapping[str, set[str]], exported: set[str], scope: Scope
    ) -> bool:
        """Drop one unread session parameter of a module function (see `_dead_params`); whether it did."""
        if func.decorators or func.name.value in exported:
            return False
        if func.params.posonly_params or func.params.kwonly_params:
            return False
        body_scope = self.get_metadata(ScopeProvider, func.body, None)
        if not isinstance(body_scope, Scope):
            return False
        orphaned = orphans.get(func.name.value, set())
        for index, param in enumerate(func.params.params):
            name = param.name.value
            if name not in orphaned or param.default is not None:
                continue
            if any(
                not self._inside(ref.node, self._gone_args)
                for a in body_scope[name]
                if isinstance(a, Assignment) and a.scope is body_scope
                for ref in a.references
            ):
                continue
            calls = self._calls_of(scope, func)
            if not calls:  # called from nowhere in the module: its callers live elsewhere, keep the signature
                return False
            positions: dict[int, int] = {}
            for call in calls:
                at = _argument_index(call, index, name)
                if at is None:
                    return False
                positions[id(call)] = at
            self._dropped_params[id(func)] = name
            for call in calls:
                self._dropped_args[id(call)] = positions[id(call)]
                self._gone_args.add(id(call.args[positions[id(call)]]))
            self.applied(
                param, f"removed the parameter {name} of {func.name.value}(): nothing reads it any more"
            )
            return True  # one parameter per function per run
        return False

    def _calls_of(self, scope: Scope, func: cst.FunctionDef) -> list[cst.Call] | None:
        """Every reference to a module function, when each one is a direct call; else None."""
        assignments = list(scope.assignments[func.name.value])
        if len(assignments) != 1 or getattr(assignments[0], "node", None) is not func:
            return None
        calls: list[cst.Call] = []
        for ref in assignments[0].references:
            parent = self.resolver.parent(ref.node)
            if not isinstance(parent, cst.Call) or parent.func is not ref.node:
                return None
            calls.append(parent)
        return calls

    def leave_With(
        self, original_node: cst.With, updated_node: cst.With
    ) -> cst.With | cst.FlattenSentinel[cst.BaseStatement]:
        if not any(id(item) in self._items for item in original_node.items):
            return updated_node
        if id(original_node) in self._unwrap and isinstance(updated_node.body, cst.IndentedBlock):
            body = list(updated_node.body.body)
            first = body[0]
            if isinstance(first, cst.SimpleStatementLine | cst.BaseCompoundStatement):
                body[0] = first.with_changes(
                    leading_lines=[*updated_node.leading_lines, *first.leading_lines]
                )
            return cst.FlattenSentinel(body)
        kept = [
            new
            for old, new in zip(original_node.items, updated_node.items, strict=True)
            if id(old) not in self._items
        ]
        last = kept[-1]
        if not isinstance(original_node.lpar, cst.LeftParen):
            kept[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        elif isinstance(original_node.items[-1].comma, cst.Comma):
            kept[-1] = last.with_changes(comma=original_node.items[-1].comma)
        else:
            kept[-1] = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(items=kept)

    # ------------------------------------------------------------------ sessions inside one function
    def _function(self, module: cst.Module, func: cst.FunctionDef, orphaned: set[str]) -> list[cst.CSTNode]:
        """The dead session code of one function, removed; returns the removed nodes.

        A connect-time listing that alone keeps a session alive (`r = await session.list_tools()`, its result
        printed) is read from CodeMode instead (`_listing`), but only when the session then dies.
        """
        if any(
            isinstance(n, cst.Name) and n.value in _INTROSPECTION and self.resolver.is_builtin(n, n.value)
            for n in walk_own(func.body)
        ):
            return []
        scope = self.get_metadata(ScopeProvider, func.body, None)
        if not isinstance(scope, Scope):
            return []
        self._me = self_name(func) if self._class_of(func) is not None else None
        self._fill = self._containers.get(id(self._class_of(func)), set()) if self._me else set()
        listings = self._listings(module, func, scope)
        while True:
            self._ignored = {id(found.receiver) for found in listings.values()}
            plan = self._dead(func, scope, orphaned)
            gone = {id(u.node) for top, _ in plan for u in top}
            alive = [
                k for k, found in listings.items() if not self._binding_gone(found.receiver, scope, gone)
            ]
            if not alive:
                break
            for key in alive:
                del listings[key]
        self._ignored = set()
        # a listing whose result only dead code read goes with the session; the others read CodeMode's
        listings = {k: found for k, found in listings.items() if not self._inside(found.call, gone)}
        removed: list[cst.CSTNode] = []
        for top, component in plan:
            self._keeps_blocks(top, self._unwrap)
            for unit in top:
                (self._items if unit.kind == "item" else self._remove).add(id(unit.node))
                removed.append(unit.node)
            first = min(top, key=lambda u: self.line_of(u.node))
            names = sorted({n for u in component for n in u.defines})
            self.applied(first.node, f"removed MCP session code nothing reads any more ({', '.join(names)})")
        for found in listings.values():
            self._listed[id(found.call)] = found.new
            removed.append(found.receiver)
            self.applied(found.call, _listing_message(found.new))
        return removed

    def _dead(
        self, func: cst.FunctionDef, scope: Scope, orphaned: set[str]
    ) -> list[tuple[list[_Unit], list[_Unit]]]:
        """The components of dead session code in `func` that can go (top units, all units); no edits."""
        units = self._units(func.body)
        flat = list(_flatten(units))
        dead = {id(u.node) for u in flat}
        by_node = {id(u.node): u for u in flat}
        changed = True
        while changed:
            changed = False
            for unit in flat:
                if id(unit.node) in dead and self._live(unit, dead, scope):
                    dead.discard(id(unit.node))
                    changed = True
        out: list[tuple[list[_Unit], list[_Unit]]] = []
        for component in self._components([by_node[k] for k in dead], orphaned):
            top = [u for u in component if not self._under_unit(u.node, {id(c.node) for c in component})]
            if self._keeps_blocks(top, set()):
                out.append((top, component))
        return out

    def _listings(self, module: cst.Module, func: cst.FunctionDef, scope: Scope) -> dict[int, _Listing]:
        """`await session.list_tools()` on a local session, where the server and CodeMode are known."""
        out: dict[int, _Listing] = {}
        for call in awaited_listings(func.body):
            receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
            if not isinstance(receiver, cst.Name) or not self.resolver.is_session(receiver):
                continue
            if not any(isinstance(a, Assignment) and a.scope is scope for a in scope[receiver.value]):
                continue
            found = self._listing(module, func, call, receiver)
            if found is not None:
                out[id(call)] = found
        return out

    def _listing(
        self,
        module: cst.Module,
        func: cst.FunctionDef,
        call: cst.Call,
        receiver: cst.BaseExpression,
        session_attr: str | None = None,
    ) -> _Listing | None:
        """The listing at `call` read from CodeMode, when the server and CodeMode are known there."""
        path = self.context.scratch.get(PATH_KEY)
        servers = tuple(self.plan.file_servers.get(path, ())) if isinstance(path, str) else ()
        new = self._listing_call(module, func, call, servers, session_attr)
        if new is None:
            return None
        return _Listing(call, receiver, new)

    def _binding_gone(self, receiver: cst.BaseExpression, scope: Scope, gone: set[int]) -> bool:
        """Every binding of the receiver's name in this function is inside code about to be removed."""
        if not isinstance(receiver, cst.Name):
            return False
        binders = [a for a in scope[receiver.value] if isinstance(a, Assignment) and a.scope is scope]
        return bool(binders) and all(self._inside(a.node, gone) for a in binders)

    def _units(self, block: cst.CSTNode) -> list[_Unit]:
        """Removable units of a block, recursively (not into nested functions or classes)."""
        out: list[_Unit] = []
        body = block.body if isinstance(block, cst.IndentedBlock) else []
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                unit = self._line(stmt)
                if unit is not None:
                    out.append(unit)
            elif isinstance(stmt, cst.For):
                children = self._units(stmt.body)
                direct = [u for u in children if self.resolver.parent(u.node) is stmt.body]
                names = {n.value for n in _names_in(stmt.target)} if _simple_target(stmt.target) else set()
                complete = (
                    stmt.orelse is None
                    and bool(names)
                    and isinstance(stmt.body, cst.IndentedBlock)
                    and len(direct) == len(stmt.body.body)
                    and _harmless(stmt.iter)
                )
                out.append(_Unit(stmt, "loop", names, children, {id(u.node) for u in direct}, complete))
            elif isinstance(stmt, cst.With):
                for item in stmt.items:
                    unit = self._item(item)
                    if unit is not None:
                        out.append(unit)
                out.extend(self._units(stmt.body))
            elif isinstance(stmt, cst.If | cst.While | cst.Try):
                for child in child_nodes(stmt):
                    if isinstance(child, cst.IndentedBlock):
                        out.extend(self._units(child))
                    elif isinstance(child, cst.If | cst.Else | cst.ExceptHandler | cst.Finally):
                        out.extend(self._units(child.body))
        return out

    def _line(self, line: cst.SimpleStatementLine) -> _Unit | None:
        if len(line.body) != 1:
            return None
        stmt = line.body[0]
        if self._fills(stmt):
            return _Unit(line, "fill")
        if isinstance(stmt, cst.Expr):
            kind = self._effect(stmt.value)
            return _Unit(line, kind) if kind else None
        if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Name) and stmt.value is not None:
            return _Unit(line, "init", {stmt.target.value}) if _empty(stmt.value, self) else None
        if not isinstance(stmt, cst.Assign):
            return None
        if len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Subscript):
            target = stmt.targets[0].target
            if (
                isinstance(target.value, cst.Name)
                and all(_harmless(s, calls=False) for s in target.slice)
                and _harmless(stmt.value, calls=False)
            ):
                return _Unit(line, "store", {target.value.value})
            return None
        if not all(_simple_target(t.target) for t in stmt.targets):
            return None
        names = {n.value for t in stmt.targets for n in _names_in(t.target)}
        if (
            len(stmt.targets) == 1
            and isinstance(stmt.targets[0].target, cst.Name)
            and _empty(stmt.value, self)
        ):
            return _Unit(line, "init", names)
        kind = self._effect(stmt.value) or self._launch_value(stmt.value)
        if not kind and _plain_read(stmt.value):  # `read, write = transport`, `spec = cfg["servers"][name]`
            kind = "alias"
        return _Unit(line, kind, names) if kind else None

    def _item(self, item: cst.WithItem) -> _Unit | None:
        if item.asname is None or not _simple_target(item.asname.name):
            return None
        if not self._opens(item.item):
            return None
        return _Unit(item, "item", {n.value for n in _names_in(item.asname.name)})

    def _effect(self, value: cst.BaseExpression) -> str:
        """ "open" when the value opens an MCP session or transport, "op" for a session's set-up call, else ""."""
        inner = value.expression if isinstance(value, cst.Await) else value
        if not isinstance(inner, cst.Call):
            return ""
        func = inner.func
        if isinstance(func, cst.Attribute) and func.attr.value in _ENTER and len(inner.args) == 1:
            return "open" if self._opens(inner.args[0].value) else ""
        if self._opens(inner):
            return "open"
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in _SESSION_OPS
            and self.resolver.is_session(func.value)
            and all(_harmless(a.value, calls=False) for a in inner.args)
        ):
            return "op"
        return ""

    def _launch_value(self, value: cst.BaseExpression) -> str:
        """ "launch" for a launch object built from plain values (`StdioServerParameters(command=..., ...)`)."""
        if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Name | cst.Attribute):
            return ""
        if not is_launch_class(self.resolver.qualified_names(value.func)):
            return ""
        return "launch" if all(_harmless(a.value) for a in value.args) else ""

    def _opens(self, expr: cst.BaseExpression) -> bool:
        """A call that opens an MCP session or transport, or builds a framework's MCP server."""
        if not isinstance(expr, cst.Call) or not all(_harmless(a.value) for a in expr.args):
            return False
        if self.resolver.type_of(expr).kind in ("session", "mcp_use_client"):
            return True
        return isinstance(expr.func, cst.Name | cst.Attribute) and opens_mcp(
            self.resolver.qualified_names(expr.func)
        )

    def _live(self, unit: _Unit, dead: set[int], scope: Scope) -> bool:
        """Whether a unit must stay: a name it binds is read (or bound) outside dead code."""
        if unit.kind == "loop" and (not unit.complete or not unit.direct <= dead):
            return True
        for name in unit.defines:
            assignments = list(scope[name])
            if not assignments:
                return True
            for assignment in assignments:
                if (
                    not isinstance(assignment, Assignment)
                    or assignment.scope is not scope
                    or not self._inside(assignment.node, dead)
                ):
                    return True
                if any(
                    not self._inside(ref.node, dead | self._gone_args | self._ignored)
                    for ref in assignment.references
                ):
                    return True
        return False

    def _inside(self, node: cst.CSTNode, ids: set[int]) -> bool:
        cur: cst.CSTNode | None = node
        while cur is not None:
            if id(cur) in ids:
                return True
            cur = self.resolver.parent(cur)
        return False

    def _under_unit(self, node: cst.CSTNode, ids: set[int]) -> bool:
        parent = self.resolver.parent(node)
        return parent is not None and self._inside(parent, ids)

    def _components(self, dead: list[_Unit], orphaned: set[str]) -> list[list[_Unit]]:
        """Groups of dead units linked by the names they bind; only groups the migration made dead, with a session."""
        index = {id(u.node): i for i, u in enumerate(dead)}
        parent = list(range(len(dead)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        def union(a: int, b: int) -> None:
            parent[find(a)] = find(b)

        binders: dict[str, list[int]] = {}
        for i, unit in enumerate(dead):
            for name in unit.defines:
                binders.setdefault(name, []).append(i)
        for i, unit in enumerate(dead):
            for name in {n.value for n in _names_in(unit.node)}:
                for j in binders.get(name, ()):
                    union(i, j)
            for child in unit.children:
                if id(child.node) in index:
                    union(i, index[id(child.node)])
        groups: dict[int, list[_Unit]] = {}
        for i, unit in enumerate(dead):
            groups.setdefault(find(i), []).append(unit)
        return [
            group
            for group in groups.values()
            if any(u.defines & orphaned or u.kind == "fill" for u in group)
            and any(u.kind in ("open", "item") for u in group)
        ]

    def _keeps_blocks(self, top: list[_Unit], unwrapped: set[int]) -> bool:
        """Removing these units leaves every block something to hold; a `with` left without items is
        unwrapped (its body takes its place, noted in `unwrapped`) when its body keeps a statement."""
        blocks: dict[int, tuple[int, int]] = {}  # block id -> (statements, removed)
        holders: dict[int, cst.CSTNode] = {}
        for unit in top:
            holder = self.resolver.parent(unit.node)
            if holder is None:
                return False
            size = len(holder.items) if isinstance(holder, cst.With) else len(getattr(holder, "body", ()))
            seen, gone = blocks.get(id(holder), (size, 0))
            blocks[id(holder)] = (seen, gone + 1)
            holders[id(holder)] = holder
        unwrap: set[int] = set()
        for key, (size, gone) in blocks.items():
            if gone < size:
                continue
            holder = holders[key]
            if not (isinstance(holder, cst.With) and isinstance(holder.body, cst.IndentedBlock)):
                return False
            body_size, body_gone = blocks.get(id(holder.body), (len(holder.body.body), 0))
            if body_gone >= body_size:
                return False
            unwrap.add(key)
        unwrapped.update(unwrap)
        return True

    # ------------------------------------------------------------------ containers on `self` nothing reads
    def _class_of(self, func: cst.FunctionDef) -> cst.ClassDef | None:
        parent = self.resolver.parent(func)
        if isinstance(parent, cst.IndentedBlock):
            parent = self.resolver.parent(parent)
        return parent if isinstance(parent, cst.ClassDef) else None

    def _dead_containers(self, module: cst.Module) -> dict[int, set[str]]:
        """Per class, the `self.<attr>` containers the module only empties and fills, never reads (the
        `self.sessions[tool.name] = session` table whose lookups the rewrite removed)."""
        out: dict[int, set[str]] = {}
        for cls in _classes(module):
            methods = [m for m in cls.body.body if isinstance(m, cst.FunctionDef)]
            candidates: set[str] = set()
            for method in methods:
                me = self_name(method)
                for node in walk_own(method.body):
                    if (
                        isinstance(node, cst.SimpleStatementLine)
                        and self._container_init(node, me) is not None
                    ):
                        candidates.add(self._container_init(node, me) or "")
            kept: set[str] = set()
            for attr in sorted(candidates):
                if self._only_filled(module, methods, attr):
                    kept.add(attr)
            if kept:
                out[id(cls)] = kept
        return out

    def _container_init(self, stmt: cst.SimpleStatementLine, me: str | None) -> str | None:
        """`<me>.<attr> = {}` / `<me>.<attr>: dict[...] = {}` (or `[]`, `dict()`, `list()`): the attribute."""
        attr = self._self_assign(stmt, me)
        value = getattr(stmt.body[0], "value", None) if attr is not None else None
        return attr if isinstance(value, cst.BaseExpression) and _empty(value, self) else None

    def _only_filled(self, module: cst.Module, methods: list[cst.FunctionDef], attr: str) -> bool:
        """Every `.attr` in the module is an empty init or a fill by a method of the class."""
        allowed: set[int] = set()
        for method in methods:
            me = self_name(method)
            for node in walk_own(method.body):
                if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
                    continue
                if self._container_init(node, me) == attr or self._fill_of(node.body[0], me) == attr:
                    allowed.add(id(node))
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            if id(node) in allowed:
                continue
            if isinstance(node, cst.Attribute) and node.attr.value == attr:
                return False
            stack.extend(child_nodes(node))
        return True

    def _fill_of(self, small: cst.BaseSmallStatement, me: str | None) -> str | None:
        """`<me>.<attr>[key] = value` / `<me>.<attr>.append(value)` with nothing that runs code: the attribute."""
        if me is None:
            return None
        holder: cst.BaseExpression | None = None
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            if (
                isinstance(target, cst.Subscript)
                and all(_harmless(e, calls=False) for e in target.slice)
                and _harmless(small.value, calls=False)
            ):
                holder = target.value
        elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            if (
                isinstance(call.func, cst.Attribute)
                and call.func.attr.value in _FILLS
                and len(call.args) == 1
                and not call.args[0].star
                and _harmless(call.args[0].value, calls=False)
            ):
                holder = call.func.value
        if (
            isinstance(holder, cst.Attribute)
            and isinstance(holder.value, cst.Name)
            and holder.value.value == me
        ):
            return holder.attr.value
        return None

    def _fills(self, small: cst.BaseSmallStatement) -> bool:
        """A fill of a container of this class that nothing reads (see `_dead_containers`)."""
        attr = self._fill_of(small, self._me) if self._fill else None
        return attr is not None and attr in self._fill

    def _container_inits(self, module: cst.Module, gone: list[cst.CSTNode]) -> list[cst.CSTNode]:
        """The empty inits of a dead container whose every fill was removed: removed too."""
        removed: list[cst.CSTNode] = []
        ids = {id(n) for n in gone} | self._remove
        for cls in _classes(module):
            attrs = self._containers.get(id(cls), set())
            methods = [m for m in cls.body.body if isinstance(m, cst.FunctionDef)]
            for attr in sorted(attrs):
                inits: list[cst.CSTNode] = []
                fills: list[cst.CSTNode] = []
                for method in methods:
                    me = self_name(method)
                    for node in walk_own(method.body):
                        if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
                            continue
                        if self._container_init(node, me) == attr:
                            inits.append(node)
                        elif self._fill_of(node.body[0], me) == attr:
                            fills.append(node)
                if not fills or not inits or any(not self._inside(n, ids) for n in fills):
                    continue
                if not self._blocks_survive(inits):
                    continue
                for node in inits:
                    self._remove.add(id(node))
                removed.extend(inits)
                self.applied(
                    inits[0], f"removed self.{attr}: it only held MCP sessions and nothing reads it any more"
                )
        return removed

    # ------------------------------------------------------------------ sessions held on `self`
    def _class_sessions(self, module: cst.Module, touched: set[str]) -> list[cst.CSTNode]:
        """`self.<attr> = <MCP session>` that nothing reads any more (a class the rewrite touched): the
        statements opening, initialising and resetting it, then the locals only they read, are removed."""
        removed: list[cst.CSTNode] = []
        for cls in module.body:
            if not isinstance(cls, cst.ClassDef) or cls.name.value not in touched:
                continue
            methods = [m for m in cls.body.body if isinstance(m, cst.FunctionDef)]
            selves = {id(m): self_name(m) for m in methods}
            opened: set[str] = set()
            for m in methods:
                for stmt in walk_own(m.body):
                    if not isinstance(stmt, cst.SimpleStatementLine):
                        continue
                    attr = self._self_assign(stmt, selves[id(m)])
                    value = getattr(stmt.body[0], "value", None)
                    if (
                        attr is not None
                        and isinstance(value, cst.BaseExpression)
                        and self._effect(value) == "open"
                    ):
                        opened.add(attr)
            for attr in sorted(opened):
                listings = self._attr_listings(module, methods, selves, attr)
                self._ignored = {id(found.receiver) for found in listings}
                units = self._attr_units(module, cls, methods, selves, attr)
                self._ignored = set()
                if units is None:
                    continue
                items = [u for u in units if isinstance(u, cst.WithItem)]
                units = [u for u in units if not isinstance(u, cst.WithItem)]
                if not units:  # entered but never built here: not a session this class opens
                    continue
                nodes = units + self._dead_locals(module, methods, units)
                if not self._blocks_survive(nodes):
                    continue
                for node in nodes:
                    self._remove.add(id(node))
                for item in items:
                    self._items.add(id(item))
                    holder = self.resolver.parent(item)
                    if isinstance(holder, cst.With) and all(id(i) in self._items for i in holder.items):
                        self._unwrap.add(id(holder))
                removed.extend(nodes)
                self.applied(
                    units[0],
                    f"removed the MCP session self.{attr}: nothing reads it any more (CodeMode starts the server)",
                )
                for found in listings:
                    self._listed[id(found.call)] = found.new
                    removed.append(found.receiver)
                    self.applied(found.call, _listing_message(found.new))
        return removed

    def _attr_listings(
        self,
        module: cst.Module,
        methods: list[cst.FunctionDef],
        selves: dict[int, str | None],
        attr: str,
    ) -> list[_Listing]:
        """`await self.<attr>.list_tools()` in the class's methods where the server and CodeMode are known."""
        out: list[_Listing] = []
        for method in methods:
            me = selves[id(method)]
            for call in awaited_listings(method.body):
                receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
                if not (
                    isinstance(receiver, cst.Attribute)
                    and receiver.attr.value == attr
                    and isinstance(receiver.value, cst.Name)
                    and receiver.value.value == me
                ):
                    continue
                found = self._listing(module, method, call, receiver, attr)
                if found is not None:
                    out.append(found)
        return out

    def _listing_call(
        self,
        module: cst.Module,
        func: cst.FunctionDef,
        stmt: cst.CSTNode,
        servers: tuple[str, ...],
        session_attr: str | None = None,
    ) -> cst.Call | None:
        """`<code mode>.list_tools(<server>)` for a listing at `stmt`, when both are known there."""
        server = server_at(self, module, func, stmt, servers)
        code_mode = code_mode_at(self, func, stmt, session_attr)
        if server is None or code_mode is None:
            return None
        return cst.Call(
            func=cst.Attribute(value=code_mode, attr=cst.Name("list_tools")), args=[cst.Arg(value=server)]
        )

    @staticmethod
    def _self_assign(stmt: cst.SimpleStatementLine, me: str | None) -> str | None:
        """`<me>.<attr> = ...` / `<me>.<attr>: T = ...`: the attribute's name."""
        if me is None or len(stmt.body) != 1:
            return None
        small = stmt.body[0]
        target = (
            small.targets[0].target
            if isinstance(small, cst.Assign) and len(small.targets) == 1
            else small.target
            if isinstance(small, cst.AnnAssign)
            else None
        )
        if (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == me
        ):
            return target.attr.value
        return None

    def _attr_units(
        self,
        module: cst.Module,
        cls: cst.ClassDef,
        methods: list[cst.FunctionDef],
        selves: dict[int, str | None],
        attr: str,
    ) -> list[cst.CSTNode] | None:
        """The statements that only open, initialise or reset `self.<attr>`; None when anything else reads it."""
        units: list[cst.CSTNode] = []
        unit_ids: set[int] = set()
        for method in methods:
            me = selves[id(method)]
            for stmt in walk_own(method.body):
                if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
                    continue
                small = stmt.body[0]
                if self._self_assign(stmt, me) == attr:
                    value = getattr(small, "value", None)
                    if value is None or self._effect(value) == "open" or _empty_value(value):
                        units.append(stmt)
                        unit_ids.add(id(stmt))
                elif isinstance(small, cst.Expr) and self._self_op(small.value, me, attr):
                    units.append(stmt)
                    unit_ids.add(id(stmt))
            for node in walk_own(method.body):  # `async with self.client:` (no `as`) only enters it
                if not isinstance(node, cst.With):
                    continue
                for item in node.items:
                    if (
                        item.asname is None
                        and isinstance(item.item, cst.Attribute)
                        and item.item.attr.value == attr
                        and isinstance(item.item.value, cst.Name)
                        and item.item.value.value == me
                    ):
                        units.append(item)
                        unit_ids.add(id(item))
        for stmt in cls.body.body:  # `session: ClientSession | None = None` in the class body
            if (
                isinstance(stmt, cst.SimpleStatementLine)
                and len(stmt.body) == 1
                and isinstance(stmt.body[0], cst.AnnAssign)
                and isinstance(stmt.body[0].target, cst.Name)
                and stmt.body[0].target.value == attr
                and (stmt.body[0].value is None or _empty_value(stmt.body[0].value))
            ):
                units.append(stmt)
                unit_ids.add(id(stmt))
        if not units:
            return None
        stack: list[cst.CSTNode] = [module]
        while stack:  # every other `.attr` anywhere in the module keeps it
            node = stack.pop()
            if (
                id(node) in unit_ids
                or id(node) in self._ignored
                or isinstance(node, cst.Import | cst.ImportFrom)  # `fastmcp.client` is no read
            ):
                continue
            if isinstance(node, cst.Attribute) and node.attr.value == attr:
                return None
            if isinstance(node, cst.Name) and node.value == attr and self._inside(node, {id(cls)}):
                parent = self.resolver.parent(node)
                if not isinstance(parent, cst.Attribute) and not isinstance(parent, cst.FunctionDef):
                    return None
            stack.extend(child_nodes(node))
        return units

    def _self_op(self, value: cst.BaseExpression, me: str | None, attr: str) -> bool:
        inner = value.expression if isinstance(value, cst.Await) else value
        return (
            isinstance(inner, cst.Call)
            and isinstance(inner.func, cst.Attribute)
            and inner.func.attr.value in _SESSION_OPS
            and isinstance(inner.func.value, cst.Attribute)
            and inner.func.value.attr.value == attr
            and isinstance(inner.func.value.value, cst.Name)
            and inner.func.value.value.value == me
            and all(_harmless(a.value, calls=False) for a in inner.args)
        )

    def _dead_locals(
        self, module: cst.Module, methods: list[cst.FunctionDef], units: list[cst.CSTNode]
    ) -> list[cst.CSTNode]:
        """Local statements opening a transport (`read, write = await stack.enter_async_context(stdio_client(p))`),
        building its launch or unpacking it (`self.stdio, self.write = transport`) whose names only the removed
        statements read."""
        gone = {id(u) for u in units}
        out: list[cst.CSTNode] = []
        changed = True
        while changed:
            changed = False
            for method in methods:
                scope = self.get_metadata(ScopeProvider, method.body, None)
                if not isinstance(scope, Scope):
                    continue
                for stmt in walk_own(method.body):
                    if id(stmt) in gone or not isinstance(stmt, cst.SimpleStatementLine):
                        continue
                    if self._attr_alias(module, stmt, self_name(method), gone):
                        gone.add(id(stmt))
                        out.append(stmt)
                        changed = True
                        continue
                    unit = self._line(stmt)
                    if unit is None or unit.kind not in ("open", "alias", "launch") or not unit.defines:
                        continue
                    refs = [
                        ref.node
                        for name in unit.defines
                        for a in scope[name]
                        if isinstance(a, Assignment) and a.scope is scope
                        for ref in a.references
                    ]
                    if refs and all(self._inside(r, gone) for r in refs):
                        gone.add(id(stmt))
                        out.append(stmt)
                        changed = True
        return out

    def _attr_alias(
        self, module: cst.Module, stmt: cst.SimpleStatementLine, me: str | None, gone: set[int]
    ) -> bool:
        """`<me>.a, <me>.b = name` where nothing but removed code reads or sets `.a` and `.b` anywhere."""
        small = stmt.body[0] if len(stmt.body) == 1 else None
        if (
            not isinstance(small, cst.Assign)
            or len(small.targets) != 1
            or not isinstance(small.value, cst.Name)
        ):
            return False
        target = small.targets[0].target
        parts = [e.value for e in target.elements] if isinstance(target, cst.Tuple | cst.List) else [target]
        attrs: set[str] = set()
        for part in parts:
            if not (
                isinstance(part, cst.Attribute)
                and isinstance(part.value, cst.Name)
                and part.value.value == me
            ):
                return False
            attrs.add(part.attr.value)
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            if node is stmt or id(node) in gone or isinstance(node, cst.Import | cst.ImportFrom):
                continue
            if isinstance(node, cst.Attribute) and node.attr.value in attrs:
                return False
            stack.extend(child_nodes(node))
        return True

    def _blocks_survive(self, nodes: list[cst.CSTNode]) -> bool:
        """Every block the removals touch keeps a statement."""
        count: dict[int, tuple[int, int]] = {}
        for node in nodes:
            holder = self.resolver.parent(node)
            body = getattr(holder, "body", None)
            if holder is None or not isinstance(body, list | tuple):
                return False
            size, gone = count.get(id(holder), (len(body), 0))
            count[id(holder)] = (size, gone + 1)
        return all(gone < size for size, gone in count.values())

    # ------------------------------------------------------------------ module level
    def _helpers(self, module: cst.Module, dropped: set[str], gone: list[cst.CSTNode]) -> list[cst.CSTNode]:
        """Module functions no longer referenced after the removals (a cascade), removed."""
        removed: list[cst.CSTNode] = []
        exported = module_exports(module)
        functions = {
            stmt.name.value: stmt
            for stmt in module.body
            if isinstance(stmt, cst.FunctionDef) and not stmt.decorators
        }
        scope = self.get_metadata(ScopeProvider, module, None)
        if scope is None or exported is None:
            return removed
        done: set[str] = set()
        changed = True
        while changed:
            changed = False
            ids = {id(n) for n in [*gone, *removed]}
            for name, func in functions.items():
                if name in done or name not in dropped or name in exported:
                    continue
                assignments = list(scope.assignments[name])
                if len(assignments) != 1 or getattr(assignments[0], "node", None) is not func:
                    continue
                refs = assignments[0].references
                if any(not self._inside(r.node, ids | {id(func)}) for r in refs):
                    continue
                done.add(name)
                removed.append(func)
                self._remove.add(id(func))
                dropped.update(n.value for n in _names_in(func))
                self.applied(func, f"removed {name}(): only code the migration removed called it")
                changed = True
        return removed

    def _report_unused(
        self, module: cst.Module, dropped: set[str], gone: list[cst.CSTNode]
    ) -> list[cst.CSTNode]:
        """Module-level names only removed code read: reported as now unused; a framework's MCP server object
        among them (`toolset = MCPToolset(...)`) is removed, since `CodeMode` starts that server now."""
        removed: list[cst.CSTNode] = []
        scope = self.get_metadata(ScopeProvider, module, None)
        if scope is None:
            return removed
        ids = {id(n) for n in gone}
        exported = module_exports(module) or set()
        for stmt in module.body:
            names: list[str] = []
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    targets = small.targets if isinstance(small, cst.Assign) else ()
                    names.extend(t.target.value for t in targets if isinstance(t.target, cst.Name))
                    if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                        names.append(small.target.value)
            elif isinstance(stmt, cst.FunctionDef) and id(stmt) not in self._remove:
                names.append(stmt.name.value)
            for name in names:
                if name not in dropped or name in exported or name.startswith("__"):
                    continue
                refs = [r for a in scope.assignments[name] for r in a.references]
                if not all(self._inside(r.node, ids) for r in refs):
                    continue
                if self._server_object(stmt, scope, name):
                    self._remove.add(id(stmt))
                    removed.append(stmt)
                    self.applied(
                        stmt,
                        f"removed {name}: the agent's own MCP server object, which nothing reads any more",
                    )
                else:
                    self.skipped(
                        stmt,
                        f"{name} is now unused: only code the migration removed read it; delete it unless "
                        "another module imports it",
                    )
        return removed

    def _server_object(self, stmt: cst.CSTNode, scope: Scope, name: str) -> bool:
        """`name = <MCP session, transport or framework server>(...)`, the name's only binding in the module."""
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return False
        small = stmt.body[0]
        if not (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
            and small.targets[0].target.value == name
        ):
            return False
        return len(list(scope.assignments[name])) == 1 and self._opens(small.value)


def _listing_message(call: cst.Call) -> str:
    return (
        f"the connect-time tool listing now comes from {cst.Module([]).code_for_node(call)}: "
        "CodeMode's own session of that server (the agent's session is removed)"
    )


def _argument_index(call: cst.Call, position: int, name: str) -> int | None:
    """Where a call passes the parameter at `position` named `name`: the index of that argument, else None."""
    if any(a.star for a in call.args):
        return None
    for i, arg in enumerate(call.args):
        if arg.keyword is not None and arg.keyword.value == name:
            return i
    positional = [i for i, a in enumerate(call.args) if a.keyword is None]
    return positional[position] if position < len(positional) else None


def _empty_value(value: cst.BaseExpression) -> bool:
    """`None`, `{}`, `[]`: a reset, not a read."""
    if isinstance(value, cst.Name):
        return value.value == "None"
    return isinstance(value, cst.Dict | cst.List) and not value.elements


def _classes(module: cst.Module) -> Iterator[cst.ClassDef]:
    return (node for node in walk(module) if isinstance(node, cst.ClassDef))


def _functions(module: cst.Module) -> Iterator[cst.FunctionDef]:
    return (node for node in walk(module) if isinstance(node, cst.FunctionDef))


def _flatten(units: list[_Unit]) -> Iterator[_Unit]:
    for unit in units:
        yield unit
        yield from _flatten(unit.children)


def _simple_target(target: cst.BaseExpression) -> bool:
    if isinstance(target, cst.Name):
        return True
    if isinstance(target, cst.Tuple | cst.List):
        return all(isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in target.elements)
    return False


def _plain_read(node: cst.BaseExpression) -> bool:
    """Names, attributes and subscripts by names or literals (and tuples of them): a read that runs no code."""
    if isinstance(node, cst.Name | cst.SimpleString | cst.Integer):
        return True
    if isinstance(node, cst.Attribute):
        return _plain_read(node.value)
    if isinstance(node, cst.Subscript):
        return _plain_read(node.value) and all(
            isinstance(e.slice, cst.Index) and _plain_read(e.slice.value) for e in node.slice
        )
    if isinstance(node, cst.Tuple):
        return all(isinstance(e, cst.Element) and _plain_read(e.value) for e in node.elements)
    return False


def _harmless(node: cst.CSTNode, *, calls: bool = True) -> bool:
    """No await, yield, walrus or lambda (and, with calls=False, no call at all) anywhere in it."""
    for cur in walk_own(node):
        if isinstance(cur, cst.Await | cst.Yield | cst.NamedExpr | cst.Lambda):
            return False
        if not calls and isinstance(cur, cst.Call):
            return False
    return True


def _empty(value: cst.BaseExpression, rule: MigrationRule) -> bool:
    """`{}`, `[]`, `dict()` or `list()`: an empty local container."""
    if isinstance(value, cst.Dict | cst.List) and not value.elements:
        return True
    return (
        isinstance(value, cst.Call)
        and not value.args
        and isinstance(value.func, cst.Name)
        and value.func.value in ("dict", "list")
        and rule.resolver.is_builtin(value.func, value.func.value)
    )
