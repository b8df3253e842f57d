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
the last other read (a `call_tool`, a tool list). Locals only: attributes (`self.session`), module
globals, parameters and anything still read -- a session kept for a direct tool, say -- stay. A
function using `locals()`/`vars()`/`eval`/`exec` is left alone.

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

from cfmigrate.migrate.rules._base import (
    ORPHANS_KEY,
    MigrationRule,
    _names_in,
    function_path,
    module_exports,
    register,
)
from cfmigrate.migrate.rules._plan import MigrationPlan
from cfmigrate.migrate.rules._resolve import FRAMEWORK_MCP_SERVERS
from cfmigrate.migrate.rules.cfm006_code_mode_instance import TRANSPORTS

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


@dataclass(eq=False)
class _Unit:
    """One removable piece: a statement line, a loop, or one item of a `with`."""

    node: cst.CSTNode
    kind: str  # open / op / store / init / loop / item
    defines: set[str] = field(default_factory=set)  # names it binds (or the container it fills)
    children: list[_Unit] = field(default_factory=list)  # units inside a loop's body
    direct: set[int] = field(default_factory=set)  # a loop: ids of its body's own statements
    complete: bool = True  # a loop: every body statement is a unit, no else, a harmless iterable


@register
class RemoveDeadSessions(MigrationRule):
    """Drop MCP sessions the migration left unread, then helpers and imports left unused."""

    RULE_ID = "CFM008"
    TITLE = "dead MCP sessions and helpers removed"
    DESCRIPTION = (
        "MCP sessions the rewrite left unread (opened, initialised, stored only), then module helpers and "
        "imports only they used, are removed (always on)."
    )
    ALWAYS = True

    @classmethod
    def needed(cls, code: str, scratch: Mapping[str, object], plan: MigrationPlan) -> bool:
        return bool(scratch.get(ORPHANS_KEY))

    def analyze(self, module: cst.Module) -> None:
        self._remove: set[int] = set()  # statements and functions to remove
        self._items: set[int] = set()  # with-items to remove
        orphans = self.context.scratch.get(ORPHANS_KEY) or set()
        assert isinstance(orphans, set)
        by_path: dict[str, set[str]] = {}
        for path, name in orphans:
            by_path.setdefault(path, set()).add(name)
        gone: list[cst.CSTNode] = []
        for func in _functions(module):
            path = function_path(func, self.resolver.parent)
            if path in by_path:
                gone.extend(self._function(func, by_path[path]))
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
        return cst.RemoveFromParent() if id(original_node) in self._remove else updated_node

    def leave_With(self, original_node: cst.With, updated_node: cst.With) -> cst.With:
        if not any(id(item) in self._items for item in original_node.items):
            return updated_node
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
    def _function(self, func: cst.FunctionDef, orphaned: set[str]) -> list[cst.CSTNode]:
        """The dead session code of one function, removed; returns the removed nodes."""
        if any(
            isinstance(n, cst.Name) and n.value in _INTROSPECTION and self.resolver.is_builtin(n, n.value)
            for n in _walk_own(func.body)
        ):
            return []
        scope = self.get_metadata(ScopeProvider, func.body, None)
        if not isinstance(scope, Scope):
            return []
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
        removed: list[cst.CSTNode] = []
        for component in self._components([by_node[k] for k in dead], orphaned):
            top = [u for u in component if not self._under_unit(u.node, {id(c.node) for c in component})]
            if not self._keeps_blocks(top):
                continue
            for unit in top:
                (self._items if unit.kind == "item" else self._remove).add(id(unit.node))
                removed.append(unit.node)
            first = min(top, key=lambda u: self.line_of(u.node))
            names = sorted({n for u in component for n in u.defines})
            self.applied(first.node, f"removed MCP session code nothing reads any more ({', '.join(names)})")
        return removed

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
                for child in stmt.children:
                    if isinstance(child, cst.IndentedBlock):
                        out.extend(self._units(child))
                    elif isinstance(child, cst.If | cst.Else | cst.ExceptHandler | cst.Finally):
                        out.extend(self._units(child.body))
        return out

    def _line(self, line: cst.SimpleStatementLine) -> _Unit | None:
        if len(line.body) != 1:
            return None
        stmt = line.body[0]
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
        kind = self._effect(stmt.value)
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

    def _opens(self, expr: cst.BaseExpression) -> bool:
        """A call that opens an MCP session or transport, or builds a framework's MCP server."""
        if not isinstance(expr, cst.Call) or not all(_harmless(a.value) for a in expr.args):
            return False
        if self.resolver.type_of(expr).kind in ("session", "mcp_use_client"):
            return True
        names = (
            self.resolver.qualified_names(expr.func)
            if isinstance(expr.func, cst.Name | cst.Attribute)
            else set()
        )
        return bool(names & TRANSPORTS) or bool(names & set(FRAMEWORK_MCP_SERVERS))

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
                if any(not self._inside(ref.node, dead) for ref in assignment.references):
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
            if any(u.defines & orphaned for u in group) and any(u.kind in ("open", "item") for u in group)
        ]

    def _keeps_blocks(self, top: list[_Unit]) -> bool:
        """Removing these units leaves every block and `with` statement something to hold."""
        blocks: dict[int, tuple[int, int]] = {}  # block id -> (statements, removed)
        for unit in top:
            holder = self.resolver.parent(unit.node)
            if holder is None:
                return False
            size = len(holder.items) if isinstance(holder, cst.With) else len(getattr(holder, "body", ()))
            seen, gone = blocks.get(id(holder), (size, 0))
            blocks[id(holder)] = (seen, gone + 1)
        return all(gone < size for size, gone in blocks.values())

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


def _functions(module: cst.Module) -> Iterator[cst.FunctionDef]:
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.FunctionDef):
            yield node
        stack.extend(node.children)


def _flatten(units: list[_Unit]) -> Iterator[_Unit]:
    for unit in units:
        yield unit
        yield from _flatten(unit.children)


def _walk_own(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Nodes of a body, not of functions, classes or lambdas nested in it."""
    stack: list[cst.CSTNode] = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.FunctionDef | cst.ClassDef | cst.Lambda) and cur is not node:
            continue
        yield cur
        stack.extend(cur.children)


def _simple_target(target: cst.BaseExpression) -> bool:
    if isinstance(target, cst.Name):
        return True
    if isinstance(target, cst.Tuple | cst.List):
        return all(isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in target.elements)
    return False


def _harmless(node: cst.CSTNode, *, calls: bool = True) -> bool:
    """No await, yield, walrus or lambda (and, with calls=False, no call at all) anywhere in it."""
    for cur in _walk_own(node):
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
