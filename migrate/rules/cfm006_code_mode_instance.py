"""CFM006 -- the `CodeMode` runtime the rewritten code uses is opened where the agent opens its sessions (always on).

Before (after CFM002-CFM004 referred to `code_mode`)::

    async def run(task: str) -> str:
        async with AsyncExitStack() as stack:
            ...
            tools = code_mode.tool_definitions("anthropic")

After::

    async def run(task: str) -> str:
        async with AsyncExitStack() as stack:
            code_mode = await stack.enter_async_context(
                CodeMode(
                    servers_dir=Path(__file__).with_name("servers"),
                    config=Path(__file__).with_name(".mcp.json"),
                )
            )
            ...
            tools = code_mode.tool_definitions("anthropic")

`CodeMode` is an async context manager, one per agent session, so it goes next to the MCP sessions
the agent already opens, in this order of preference:

1. every use is inside one `async with AsyncExitStack() as stack:` -> the first statement of that
   block enters it on the stack (as above);
2. every use is inside one `async with <MCP session / transport> as ...:` -> `CodeMode(...) as
   code_mode` is added to that `with` statement;
3. every use is in the methods of one class: when `__init__` uses it, `self.code_mode = CodeMode(...)`
   is the first statement of `__init__` (and `self.<stack>.push_async_callback(self.code_mode.aclose)`
   follows the `self.<stack> = AsyncExitStack()` there, so the class's cleanup closes it); otherwise
   the method that enters MCP sessions on `self.<exit stack>` starts with
   `self.code_mode = await self.<stack>.enter_async_context(CodeMode(...))`; the uses become
   `self.code_mode`;
4. otherwise a module-level `code_mode = CodeMode(...)` after the imports.

A `CodeMode` that is not entered opens itself on first use and closes when its event loop ends (see
`CodeMode.ensure_open`), so no placement can reach "CodeMode is not open". Paths are anchored on the
agent file (`Path(__file__)`), so the agent runs from any working directory; `keep_direct=` lists the
tools the audit keeps on direct MCP (a bare server id when it keeps them all), and
`policy=Policy(destructive="allow")` keeps what the agent did before (it ran every tool its model
chose), with `rules=...` carrying the tool filters and approvals CFM005 converted. A framework's MCP server in a `with` (Agents SDK `MCPServerStdio(...) as fs`) counts as a
place that opens sessions. Nothing is inserted when the module already binds the name.

A server the file launches itself is handed over as `launches={"<server>": <the agent's launch>}`
(found by `rules._launch` on the file as written): a launch bound to a name is passed by name and
stays where it is (`sys.executable`, `Path(__file__)`, literal env values included); an inline one
moves into the call (CFM008 then removes the code that opened the old session). CodeMode opens after
the statements that bind the names a launch reads; where those are not bound the agent is left for
manual migration.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping, Sequence

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import Assignment, BuiltinAssignment, GlobalScope, ImportAssignment, ScopeProvider

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._base import POLICY_KEY, MigrationRule, register
from cfmigrate.migrate.rules._launch import LAUNCH_KEY, Launch
from cfmigrate.migrate.rules._plan import MigrationPlan
from cfmigrate.migrate.rules._resolve import opens_mcp

RUNTIME_MODULE = "cfmigrate.runtime"
_EXIT_STACKS = frozenset({"contextlib.AsyncExitStack"})


@register
class InsertCodeMode(MigrationRule):
    """Open the `CodeMode` runtime next to the agent's MCP sessions when the rewritten code needs it."""

    RULE_ID = "CFM006"
    TITLE = "CodeMode opened with the sessions"
    DESCRIPTION = "Opens `CodeMode(...)` next to the agent's MCP sessions (exit stack, `async with`, class) where the rules above need it."
    ALWAYS = True

    @classmethod
    def needed(cls, code: str, scratch: Mapping[str, object], plan: MigrationPlan) -> bool:
        return plan.code_mode_var in code

    def analyze(self, module: cst.Module) -> None:
        self._insert_before: dict[
            int, cst.BaseStatement
        ] = {}  # original first statement of a block -> new statement
        self._with_item: dict[int, cst.WithItem] = {}
        self._to_self: dict[int, str] = {}  # use Name -> the method's self name
        self._insert_after: dict[int, cst.BaseStatement] = {}  # original statement -> new statement after it
        self._module_level = False
        self._module_index: int | None = None
        uses = self._unbound_uses(module)
        if not uses:
            return
        if self._in_one_function(uses) or self._in_one_class(uses):
            return
        self._module_index = self._module_position(module, uses)
        if self._module_index is None:
            return
        anchor = module.body[min(self._module_index, len(module.body) - 1)]
        if not self._launches_visible(anchor):  # a launch read from a function's local: not at module level
            self._module_index = None
            return
        self._module_level = True
        self.applied(
            uses[0],
            f"a module-level {self.plan.code_mode_var} was added: it opens on first use (one session per process) "
            "and closes when the event loop ends",
        )

    # ------------------------------------------------------------------ the agent's own launches
    def _launches(self) -> list[Launch]:
        found = self.context.scratch.get(LAUNCH_KEY)
        return [item for item in found if isinstance(item, Launch)] if isinstance(found, list) else []

    def _launches_visible(self, at: cst.CSTNode, warn: bool = True) -> bool:
        """Whether every name the agent's launches read is bound where CodeMode opens (else: skipped, blocking)."""
        scope = self.get_metadata(ScopeProvider, at, None)
        line = self.line_of(at)
        for launch in self._launches():
            for name in launch.names:
                assignments = list(scope[name]) if scope is not None and name.isidentifier() else []
                local_later = [
                    a
                    for a in assignments
                    if isinstance(a, Assignment)
                    and not isinstance(a.scope, GlobalScope)
                    and self.line_of(a.node) >= line
                ]
                if not assignments or local_later:
                    if not warn:
                        return False
                    self.skipped(
                        at,
                        f"the launch of server {launch.server!r} (line {launch.line}) reads {name}, which is not "
                        f"bound where {self.plan.code_mode_var} opens; CodeMode could not start the server the way "
                        "the agent does",
                    )
                    return False
        return True

    def _after_launch_bindings(self, body: cst.IndentedBlock, first: cst.BaseStatement) -> cst.BaseStatement:
        """The statement after the last one of `body` binding a name the launches read (`params = ...` in a
        connect method), so CodeMode opens where its launch exists; else `first`."""
        wanted = {name for launch in self._launches() for name in launch.names}
        statements = list(body.body)
        last = max((i for i, stmt in enumerate(statements) if _binds(stmt) & wanted), default=-1)
        if last < 0 or last + 1 >= len(statements) or last < statements.index(first):
            return first
        return statements[last + 1]

    def _module_position(self, module: cst.Module, uses: list[cst.Name]) -> int | None:
        """Where a module-level CodeMode goes: after the imports and the statements binding its launches' names."""
        index = _after_imports(module.body)
        wanted = {name for launch in self._launches() for name in launch.names}
        for i, stmt in enumerate(module.body):
            if i >= index and _binds(stmt) & wanted:
                index = i + 1
        for use in uses:
            if self._outer_function(use) is not None:
                continue
            top = self._top_statement(module, use)
            if top is not None and module.body.index(top) < index:
                self.skipped(
                    use,
                    f"{self.plan.code_mode_var} would be used here before the module creates it (after the "
                    "statements its launches read)",
                )
                return None
        return index

    def _top_statement(self, module: cst.Module, node: cst.CSTNode) -> cst.BaseStatement | None:
        cur: cst.CSTNode | None = node
        while cur is not None:
            parent = self.resolver.parent(cur)
            if parent is module:
                return cur if isinstance(cur, cst.BaseStatement) else None
            cur = parent
        return None

    # ------------------------------------------------------------------ placement
    def _in_one_function(self, uses: list[cst.Name]) -> bool:
        funcs = {id(f): f for f in (self._outer_function(u) for u in uses)}
        if len(funcs) != 1 or None in funcs.values():
            return False
        func = next(iter(funcs.values()))
        assert isinstance(func, cst.FunctionDef)
        candidates = [
            w
            for w in _walk_own(func)
            if isinstance(w, cst.With) and self._opener(w) and all(self._within(u, w.body) for u in uses)
        ]
        stacks = [w for w in candidates if self._opener(w) == "stack"]
        pool = stacks or candidates
        if not pool:
            return False
        best = pool[-1]  # pre-order: the innermost
        if not self._launches_visible(best, warn=False):
            info = self.resolver.enclosing_class(func)
            init = info.methods.get("__init__") if info is not None else None
            if init is not None and self._holds_session(init):
                return False  # the class builds its client in __init__: CodeMode goes there (`_in_one_class`)
            self._launches_visible(best)
            return True  # placed nowhere: the skip leaves the agent unmigrated
        construction = self._construction(self._path_free(), indent_call=True)
        if self._opener(best) == "stack":
            stack_name = next(
                item.asname.name.value
                for item in best.items
                if item.asname is not None
                and isinstance(item.asname.name, cst.Name)
                and self._is_stack(item.item)
            )
            text = f"{self.plan.code_mode_var} = await {stack_name}.enter_async_context(\n{_indent(construction)}\n)\n"
            first = best.body.body[0] if isinstance(best.body, cst.IndentedBlock) else None
            if first is None:
                return False
            self._insert_before[id(first)] = cst.parse_statement(text)
            self.applied(
                best, f"{self.plan.code_mode_var} entered on the exit stack that holds the MCP sessions"
            )
        else:
            if isinstance(best.lpar, cst.LeftParen) and isinstance(
                best.lpar.whitespace_after, cst.ParenthesizedWhitespace
            ):
                construction = construction.replace("\n", "\n    ")  # one item per line: one level deeper
            self._with_item[id(best)] = cst.WithItem(
                item=cst.parse_expression(construction),
                asname=cst.AsName(name=cst.Name(self.plan.code_mode_var)),
            )
            self.applied(best, f"{self.plan.code_mode_var} opened in the `with` that opens the MCP session")
        return True

    def _in_one_class(self, uses: list[cst.Name]) -> bool:
        owners: dict[int, cst.ClassDef] = {}
        selves: dict[int, str] = {}
        for use in uses:
            func = self.resolver.enclosing(use, (cst.FunctionDef,))
            info = self.resolver.enclosing_class(func) if isinstance(func, cst.FunctionDef) else None
            me = _self_param(func) if isinstance(func, cst.FunctionDef) else None
            if info is None or me is None:
                return False
            owners[id(info.node)] = info.node
            selves[id(use)] = me
        if len(owners) != 1:
            return False
        cls = next(iter(owners.values()))
        info = self.resolver.classes[id(cls)]
        init = info.methods.get("__init__")
        if init is not None and any(self._within(u, init) for u in uses):
            return self._in_init(init, selves)
        if init is not None and not self._enters_on_stack(info) and self._holds_session(init):
            # `self.client = Client(...)` in __init__, entered later with `async with self.client:`
            return self._in_init(init, selves, after_launches=True)
        for method in info.methods.values():
            me = _self_param(method)
            if me is None:
                continue
            for node in _walk_own(method):
                if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
                    continue
                if node.func.attr.value != "enter_async_context" or not node.args:
                    continue
                holder = node.func.value
                if not (
                    isinstance(holder, cst.Attribute)
                    and isinstance(holder.value, cst.Name)
                    and holder.value.value == me
                ):
                    continue
                if not self._is_session_source(node.args[0].value) or self._called_in_loop(method):
                    continue
                body = method.body
                if not isinstance(body, cst.IndentedBlock) or not body.body:
                    return False
                first = body.body[0]
                if _is_docstring(first) and len(body.body) > 1:
                    first = body.body[1]
                first = self._after_launch_bindings(body, first)
                if not self._launches_visible(first):
                    return True
                construction = self._construction(self._path_free(), indent_call=True)
                text = (
                    f"{me}.{self.plan.code_mode_var} = await {me}.{holder.attr.value}.enter_async_context(\n"
                    f"{_indent(construction)}\n)\n"
                )
                self._insert_before[id(first)] = cst.parse_statement(text)
                self._to_self = selves
                self.applied(
                    method,
                    f"{me}.{self.plan.code_mode_var} entered on {me}.{holder.attr.value} with the MCP sessions",
                )
                return True
        return False

    def _in_init(self, init: cst.FunctionDef, selves: dict[int, str], after_launches: bool = False) -> bool:
        """`self.code_mode = CodeMode(...)` first in `__init__` (a use there comes before any connect method).

        The runtime opens it on first use; when `__init__` creates an exit stack the class closes in its
        cleanup, `aclose` is pushed onto that stack, so the cleanup closes CodeMode too. With
        `after_launches` (no use in `__init__`: it only builds the session the class enters later), it goes
        after the statements binding the names its launches read (`transport = StdioTransport(...)`).
        """
        me = _self_param(init)
        body = init.body
        if me is None or not isinstance(body, cst.IndentedBlock) or not body.body:
            return False
        first = body.body[0]
        if _is_docstring(first) and len(body.body) > 1:
            first = body.body[1]
        if after_launches:
            first = self._after_launch_bindings(body, first)
        if not self._launches_visible(first):
            return True
        construction = self._construction(self._path_free(), indent_call=True)
        self._insert_before[id(first)] = cst.parse_statement(
            f"{me}.{self.plan.code_mode_var} = {construction}\n"
        )
        stack = self._init_stack(init, me)
        how = "it opens on first use and closes when the event loop ends"
        if stack is not None:
            statement, attr = stack
            self._insert_after[id(statement)] = cst.parse_statement(
                f"{me}.{attr}.push_async_callback({me}.{self.plan.code_mode_var}.aclose)\n"
            )
            how = f"it opens on first use and {me}.{attr} closes it with the MCP sessions"
        self._to_self = selves
        self.applied(init, f"{me}.{self.plan.code_mode_var} created in __init__ (used there); {how}")
        return True

    def _enters_on_stack(self, info: object) -> bool:
        """Whether a method of the class enters something on an exit stack held on `self` (the connect-method case)."""
        for method in getattr(info, "methods", {}).values():
            for node in _walk_own(method):
                if (
                    isinstance(node, cst.Call)
                    and isinstance(node.func, cst.Attribute)
                    and node.func.attr.value == "enter_async_context"
                ):
                    return True
        return False

    def _holds_session(self, init: cst.FunctionDef) -> bool:
        """Whether `__init__` stores an MCP session/client on `self` (`self.client = Client(params)`)."""
        me = _self_param(init)
        for node in _walk_own(init):
            if not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0].target
            if (
                isinstance(target, cst.Attribute)
                and isinstance(target.value, cst.Name)
                and target.value.value == me
                and self.resolver.type_of(node.value).kind == "session"
            ):
                return True
        return False

    def _init_stack(self, init: cst.FunctionDef, me: str) -> tuple[cst.BaseStatement, str] | None:
        """The `self.<attr> = AsyncExitStack()` statement of `__init__`, when there is one at its top level."""
        body = init.body
        if not isinstance(body, cst.IndentedBlock):
            return None
        for stmt in body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                target = (
                    small.targets[0].target
                    if isinstance(small, cst.Assign) and len(small.targets) == 1
                    else small.target
                    if isinstance(small, cst.AnnAssign)
                    else None
                )
                value = getattr(small, "value", None)
                if (
                    isinstance(target, cst.Attribute)
                    and isinstance(target.value, cst.Name)
                    and target.value.value == me
                    and isinstance(value, cst.Call)
                    and self.resolver.qualified_names(value.func) & {"contextlib.AsyncExitStack"}
                ):
                    return stmt, target.attr.value
        return None

    def _called_in_loop(self, method: cst.FunctionDef) -> bool:
        for call in self.resolver._calls:
            if (
                isinstance(call.func, cst.Attribute)
                and call.func.attr.value == method.name.value
                and self.resolver.enclosing(call, (cst.For, cst.While, cst.CompFor)) is not None
            ):
                return True
        return False

    def _opener(self, node: cst.With) -> str:
        for item in node.items:
            if self._is_stack(item.item):
                return "stack"
        for item in node.items:
            if self._is_session_source(item.item):
                return "session"
        return ""

    def _is_stack(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Call) and bool(self.resolver.qualified_names(expr.func) & _EXIT_STACKS)

    def _is_session_source(self, expr: cst.BaseExpression) -> bool:
        if self.resolver.type_of(expr).kind in ("session", "mcp_use_client"):
            return True
        if not isinstance(expr, cst.Call):
            return False
        return opens_mcp(self.resolver.qualified_names(expr.func))

    def _outer_function(self, node: cst.CSTNode) -> cst.FunctionDef | None:
        found: cst.FunctionDef | None = None
        cur = self.resolver.parent(node)
        while cur is not None:
            if isinstance(cur, cst.FunctionDef):
                found = cur
            if isinstance(cur, cst.ClassDef):
                break
            cur = self.resolver.parent(cur)
        return found

    def _within(self, node: cst.CSTNode, block: cst.CSTNode) -> bool:
        cur: cst.CSTNode | None = node
        while cur is not None:
            if cur is block:
                return True
            cur = self.resolver.parent(cur)
        return False

    # ------------------------------------------------------------------ edits
    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        me = self._to_self.get(id(original_node))
        if me is None:
            return updated_node
        return cst.Attribute(value=cst.Name(me), attr=cst.Name(self.plan.code_mode_var))

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        if not self._insert_before and not self._insert_after:
            return updated_node
        body: list[cst.BaseStatement] = []
        for old, new in zip(original_node.body, updated_node.body, strict=True):
            extra = self._insert_before.get(id(old))
            if extra is not None:
                body.append(extra)
            body.append(new)
            after = self._insert_after.get(id(old))
            if after is not None:
                body.append(after)
        return updated_node.with_changes(body=body)

    def leave_With(self, original_node: cst.With, updated_node: cst.With) -> cst.With:
        item = self._with_item.get(id(original_node))
        if item is None:
            return updated_node
        items = list(updated_node.items)
        opening = updated_node.lpar.whitespace_after if isinstance(updated_node.lpar, cst.LeftParen) else None
        if isinstance(opening, cst.ParenthesizedWhitespace):  # `with (\n a as x,\n b as y,\n):`
            separator = (
                items[-2].comma
                if len(items) > 1 and isinstance(items[-2].comma, cst.Comma)
                else cst.Comma(whitespace_after=opening)
            )
            trailing = items[-1].comma
            items[-1] = items[-1].with_changes(comma=separator)
            return updated_node.with_changes(items=[*items, item.with_changes(comma=trailing)])
        items[-1] = items[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return updated_node.with_changes(items=[*items, item])

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not (self._insert_before or self._with_item or self._module_level):
            return updated_node
        use_path = self._path_free()
        AddImportsVisitor.add_needed_import(self.context, RUNTIME_MODULE, "CodeMode")
        AddImportsVisitor.add_needed_import(self.context, RUNTIME_MODULE, "Policy")
        if use_path:
            AddImportsVisitor.add_needed_import(self.context, "pathlib", "Path")
        if not self._module_level:
            return updated_node
        body = list(updated_node.body)
        index = self._module_index if self._module_index is not None else _after_imports(body)
        text = f"{self.plan.code_mode_var} = {self._construction(use_path, indent_call=False)}\n"
        statement = cst.parse_statement(text, config=updated_node.config_for_parsing)
        statement = statement.with_changes(leading_lines=[cst.EmptyLine()])
        body.insert(index, statement)
        if index + 1 < len(body):
            follower = body[index + 1]
            wanted = 2 if _is_def(follower) else 1
            lines = list(follower.leading_lines)
            blanks = 0
            for line in lines:
                if line.comment is not None:
                    break
                blanks += 1
            body[index + 1] = follower.with_changes(
                leading_lines=[cst.EmptyLine()] * max(0, wanted - blanks) + lines
            )
        return updated_node.with_changes(body=body)

    def _unbound_uses(self, module: cst.Module) -> list[cst.Name]:
        """Reads of the code-mode name that have no binding anywhere visible."""
        name = self.plan.code_mode_var
        out: list[cst.Name] = []
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Name) and node.value == name:
                scope = self.get_metadata(ScopeProvider, node, None)
                parent = self.resolver.parent(node)
                if scope is not None and not (isinstance(parent, cst.Attribute) and parent.attr is node):
                    found = scope[name]
                    if not found or all(isinstance(a, BuiltinAssignment) for a in found):
                        out.append(node)
            stack.extend(reversed(child_nodes(node)))
        return out

    def _path_free(self) -> bool:
        """Whether `Path` can be imported from pathlib here (unbound, or already that import)."""
        scope = self.get_metadata(ScopeProvider, self.resolver.module, None)
        if scope is None:
            return False
        for assignment in scope["Path"]:
            if isinstance(assignment, ImportAssignment) and "pathlib.Path" in {
                q.name for q in assignment.get_qualified_names_for("Path")
            }:
                continue
            if isinstance(assignment, Assignment):
                return False
        return True

    def _policy(self) -> dict[str, str]:
        """Policy rules an earlier rule carried over for this file (a framework's tool filter)."""
        rules = self.context.scratch.get(POLICY_KEY)
        return {str(k): str(v) for k, v in rules.items()} if isinstance(rules, dict) else {}

    def _construction(self, use_path: bool, *, indent_call: bool) -> str:
        """`CodeMode(servers_dir=..., config=..., keep_direct=...)`, one keyword per line."""
        plan = self.plan
        here = posixpath.dirname(self.path) if self.path else ""
        depth = len([p for p in here.split("/") if p and p != "."])

        def where(rel: str) -> str:
            parts = [p for p in posixpath.normpath(rel).split("/") if p and p != "."]
            if use_path and depth == 0 and len(parts) == 1:
                return f'Path(__file__).with_name("{parts[0]}")'
            if use_path:
                base = (
                    f"Path(__file__).resolve().parents[{depth}]"
                    if depth
                    else "Path(__file__).resolve().parent"
                )
                return " / ".join([base, *(f'"{p}"' for p in parts)])
            up = "/".join([".."] * depth)
            return '"' + posixpath.normpath(posixpath.join(up, rel) if up else rel) + '"'

        config = plan.config_for(self.path)
        args = [f"servers_dir={where(plan.servers_dir)}"]
        args.append(f"config={where(config)}" if config else "config=None")
        launches = self._launches()
        if launches:  # the agent's own launch objects, so CodeMode starts each server exactly as it did
            items = "".join(
                f"        {json.dumps(launch.server)}: {_reindent(launch.expression, 8)},\n"
                for launch in launches
            )
            args.append(f"launches={{\n{items}    }}")
        kept = plan.kept_entries(self.path)
        if len(kept) == 1:
            args.append(f'keep_direct=("{kept[0]}",)')
        elif kept:
            args.append("keep_direct=(\n" + "".join(f'        "{k}",\n' for k in kept) + "    )")
        rules = self._policy()
        # The agent called every tool its model chose without asking: keep that (the runtime's own default
        # asks before unannotated tools); approvals and filters the agent declared arrive as rules.
        if rules:
            lines = "".join(
                f"            {json.dumps(k)}: {json.dumps(v)},\n" for k, v in sorted(rules.items())
            )
            args.append(
                f'policy=Policy(\n        rules={{\n{lines}        }},\n        destructive="allow",\n    )'
            )
        else:
            args.append('policy=Policy(destructive="allow")')
        inner = "".join(f"    {a},\n" for a in args)
        return f"CodeMode(\n{inner})"


def _reindent(source: str, indent: int) -> str:
    """An expression's source with its continuation lines moved to `indent` spaces (relative layout kept)."""
    lines = source.splitlines()
    if len(lines) < 2:
        return source
    rest = [line for line in lines[1:] if line.strip()]
    margin = min((len(line) - len(line.lstrip(" ")) for line in rest), default=0)
    moved = [(" " * indent + line[margin:]) if line.strip() else "" for line in lines[1:]]
    return "\n".join([lines[0], *moved])


def _binds(stmt: cst.CSTNode) -> set[str]:
    """Names a module-level statement binds (assignments, imports, defs)."""
    if isinstance(stmt, cst.FunctionDef | cst.ClassDef):
        return {stmt.name.value}
    out: set[str] = set()
    if isinstance(stmt, cst.SimpleStatementLine):
        for small in stmt.body:
            targets = (
                [t.target for t in small.targets]
                if isinstance(small, cst.Assign)
                else [small.target]
                if isinstance(small, cst.AnnAssign | cst.AugAssign)
                else []
            )
            for target in targets:
                out.update(n.value for n in _names(target))
    return out


def _names(node: cst.CSTNode) -> list[cst.Name]:
    if isinstance(node, cst.Name):
        return [node]
    if isinstance(node, cst.Tuple | cst.List):
        return [n for el in node.elements for n in _names(el.value)]
    return []


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else line for line in text.splitlines())


def _self_param(func: cst.FunctionDef) -> str | None:
    params = [*func.params.posonly_params, *func.params.params]
    if not params:
        return None
    for dec in func.decorators:
        if isinstance(dec.decorator, cst.Name) and dec.decorator.value in ("staticmethod", "classmethod"):
            return None
    return params[0].name.value


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _walk_own(func: cst.FunctionDef) -> list[cst.CSTNode]:
    """Nodes of a function body, not of functions or classes nested in it."""
    out: list[cst.CSTNode] = []
    stack: list[cst.CSTNode] = [func.body]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.FunctionDef | cst.ClassDef | cst.Lambda):
            continue
        out.append(node)
        stack.extend(reversed(child_nodes(node)))
    return out


def _is_def(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.FunctionDef | cst.ClassDef)


def _after_imports(body: Sequence[cst.BaseStatement]) -> int:
    """Index just after the leading docstring / imports / `__future__` block."""
    index = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, cst.Import | cst.ImportFrom) for s in stmt.body
        ):
            index = i + 1
            continue
        if (
            i == 0
            and isinstance(stmt, cst.SimpleStatementLine)
            and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, cst.SimpleString | cst.ConcatenatedString)
        ):
            index = 1
            continue
        if isinstance(stmt, cst.If | cst.Try) and _only_imports(stmt):
            index = i + 1
            continue
        break
    return index


def _only_imports(stmt: cst.CSTNode) -> bool:
    """A `try: import x / except ImportError` or `if TYPE_CHECKING:` block made only of imports."""
    stack: list[cst.CSTNode] = [stmt]
    found = False
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine):
            if not all(isinstance(s, cst.Import | cst.ImportFrom | cst.Pass) for s in node.body):
                return False
            found = True
            continue
        stack.extend(child_nodes(node))
    return found
