"""CFM002 -- an agent loop's dynamic `call_tool` becomes the code-mode runtime's dispatch.

Before::

    for block in response.content:
        if block.type == "tool_use":
            session = self.tool_to_session[block.name]
            result = await session.call_tool(block.name, block.input)

After::

    for block in response.content:
        if block.type == "tool_use":
            result = await code_mode.handle_tool_use(block.name, block.input)

Applies when the receiver resolves to an MCP client session and the tool name provably comes from
the model: an Anthropic `tool_use` block's `.name`, an OpenAI chat tool call's `.function.name`, a
Responses API function call's `.name`, or an OpenAI-compatible reply read as plain JSON
(`call["function"]["name"]` for `call` in `message["tool_calls"]`, as Ollama/vLLM loops over httpx
do) -- directly or through a parameter of a helper the loop calls.
After migration the model asks for `execute_code` (and any tool kept on direct MCP), which
`handle_tool_use` runs; its result keeps `.content[0].text`, `.isError` and `.structuredContent`.
A `session = sessions[name]` lookup that only picked the receiver is removed with the call.

Left alone with a warning: a name computed some other way, a session chosen by trying sessions in a
loop or under a check on the tool name (the check would reject `execute_code`), a lookup whose result
is used elsewhere, and extra options the runtime does not take (`read_timeout_seconds=` ...). FastMCP's
`raise_on_error=False` goes: handle_tool_use returns a failed tool as an error result anyway.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import Assignment, ScopeProvider

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._base import MigrationRule, _names_in, call_args, register, string_value
from cfmigrate.migrate.rules.cfm001_literal_call import _calls_named

_PARAMS = ("name", "arguments")


@register
class DynamicDispatch(MigrationRule):
    """Dynamic `session.call_tool(block.name, block.input)` → `code_mode.handle_tool_use(...)`."""

    RULE_ID = "CFM002"
    TITLE = "dynamic dispatch → code_mode.handle_tool_use"
    DESCRIPTION = (
        "Model-chosen `session.call_tool(name, args)` → `await code_mode.handle_tool_use(name, args)`."
    )
    TRIGGERS = (b"call_tool",)

    def analyze(self, module: cst.Module) -> None:
        self._rewrites: dict[int, cst.Call] = {}
        self._remove: set[int] = set()
        for call in _calls_named(module, "call_tool"):
            replacement = self._decide(call)
            if replacement is not None:
                self._rewrites[id(call)] = replacement

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._rewrites.get(id(original_node), updated_node)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        return cst.RemoveFromParent() if id(original_node) in self._remove else updated_node

    def _decide(self, call: cst.Call) -> cst.Call | None:
        assert isinstance(call.func, cst.Attribute)
        receiver = call.func.value
        if not self.resolver.is_session(receiver):
            return None
        bound, extra = call_args(call, _PARAMS)
        if "name" not in bound:
            return None
        name = bound["name"].value
        if string_value(name) is not None:
            return None
        name_t = self.resolver.type_of(name)
        if name_t.kind == "str" and name_t.value is not None:
            return None  # a module constant: a literal call (CFM001)
        if name_t.kind != "model_name":
            self.skipped(
                call,
                "the tool name is computed here, not taken from a model's tool-use block; if it is the model's "
                f"choice, call {self.plan.code_mode_var}.handle_tool_use(name, arguments) by hand",
            )
            return None
        dropped = any(_returns_errors(a) for a in extra)
        extra = [a for a in extra if not _returns_errors(a)]
        if extra:
            what = ", ".join(f"{a.keyword.value}=" if a.keyword else "a positional option" for a in extra)
            self.skipped(call, f"the call passes {what}, which handle_tool_use does not take")
            return None
        conflict = self.code_mode_conflict(call)
        if conflict:
            self.skipped(call, conflict)
            return None
        routing = self._routing(call, receiver, name)
        if routing is None:
            return None
        arguments = bound.get("arguments")
        args = [bound["name"].with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT)]
        if arguments is not None:
            args.append(arguments.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT))
        else:
            args[0] = args[0].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            args.append(cst.Arg(value=cst.Dict([])))
        if dropped:  # the comma that led to the dropped option goes with it
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        self._remove |= set(routing)
        self.orphan(receiver)
        for line in routing.values():
            self.orphan(line)
        self.applied(call, f"dynamic call_tool → {self.plan.code_mode_var}.handle_tool_use")
        return call.with_changes(
            func=cst.Attribute(value=self.code_mode(), attr=cst.Name("handle_tool_use")), args=args
        )

    def _routing(
        self, call: cst.Call, receiver: cst.BaseExpression, name: cst.BaseExpression
    ) -> dict[int, cst.SimpleStatementLine] | None:
        """Statements that only select the receiver (removed with the call), or None when routing is unsafe."""
        name_code = _code(name)
        guard = self._guarded_by(call, name_code)
        if guard:
            self.skipped(call, guard)
            return None
        remove: dict[int, cst.SimpleStatementLine] = {}
        pending = _names_in(receiver)
        seen: set[int] = set()
        while pending:
            ref = pending.pop()
            if id(ref) in seen:
                continue
            seen.add(id(ref))
            for bound in self.resolver.bindings(ref):
                parent = self.resolver.parent(bound)
                if isinstance(parent, cst.For | cst.CompFor | cst.Element) and self.resolver.is_session(ref):
                    self.skipped(
                        call,
                        "the session is chosen by trying sessions in a loop; route the model's call to handle_tool_use by hand",
                    )
                    return None
                if not isinstance(parent, cst.AssignTarget):
                    continue
                stmt = self.resolver.parent(parent)
                if not isinstance(stmt, cst.Assign) or not _is_lookup(stmt.value):
                    continue
                line = self.resolver.parent(stmt)
                if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
                    self.skipped(
                        call, "the session lookup shares a line with other statements; migrate by hand"
                    )
                    return None
                remove[id(line)] = line
                pending.extend(_names_in(stmt.value))
        for line in remove.values():
            stmt = line.body[0]
            assert isinstance(stmt, cst.Assign)
            for target in stmt.targets:
                if isinstance(target.target, cst.Name) and self._used_elsewhere(target.target, call, remove):
                    self.skipped(
                        call,
                        f"{target.target.value!r} (looked up by tool name) is used elsewhere; the model will now call "
                        "execute_code, which that lookup does not know -- migrate by hand",
                    )
                    return None
        stray = self._stray_lookup(call, name_code, remove)
        if stray:
            self.skipped(
                call,
                f"line {stray} looks something up by the tool name, which fails for execute_code after migration -- migrate by hand",
            )
            return None
        return remove

    def _inside(self, node: cst.CSTNode, roots: list[cst.CSTNode]) -> bool:
        cur: cst.CSTNode | None = node
        while cur is not None:
            if any(cur is r for r in roots):
                return True
            cur = self.resolver.parent(cur)
        return False

    def _used_elsewhere(
        self, target: cst.Name, call: cst.Call, remove: dict[int, cst.SimpleStatementLine]
    ) -> bool:
        scope = self.get_metadata(ScopeProvider, target, None)
        if scope is None:
            return True
        roots: list[cst.CSTNode] = [call.func, *remove.values()]
        for assignment in scope.assignments[target.value]:
            if not isinstance(assignment, Assignment) or assignment.node is not target:
                continue
            for access in assignment.references:
                if not self._inside(access.node, roots):
                    return True
        return False

    def _stray_lookup(
        self, call: cst.Call, name_code: str, remove: dict[int, cst.SimpleStatementLine]
    ) -> int:
        """The line of another lookup keyed by the tool name in the same function, or 0."""
        func = self.resolver.enclosing(call, (cst.FunctionDef,))
        if func is None:
            return 0
        roots: list[cst.CSTNode] = [call, *remove.values()]
        stack: list[cst.CSTNode] = [func]
        while stack:
            node = stack.pop()
            key: cst.CSTNode | None = None
            if (
                isinstance(node, cst.Subscript)
                and len(node.slice) == 1
                and isinstance(node.slice[0].slice, cst.Index)
            ):
                key = node.slice[0].slice.value
            elif (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value == "get"
                and node.args
            ):
                key = node.args[0].value
            if key is not None and _code(key) == name_code and not self._inside(node, roots):
                return self.line_of(node)
            stack.extend(child_nodes(node))
        return 0

    def _guarded_by(self, call: cst.Call, name_code: str) -> str:
        """A reason when an enclosing `if`/`while` tests the tool name (it would reject `execute_code`).

        A test that only sets the agent's own local tools apart (`if use.name == "now": ... else: <call>`, or
        `if name not in LOCAL: <call>` with literal names) lets `execute_code` through to the call: no reason.
        """
        cur = self.resolver.parent(call)
        while cur is not None and not isinstance(cur, cst.FunctionDef | cst.Module):
            test = cur.test if isinstance(cur, cst.If | cst.While) else None
            if (
                isinstance(cur, cst.If)
                and test is not None
                and _passes_other_names(
                    test, name_code, in_else=self._inside(call, [cur.orelse] if cur.orelse else [])
                )
            ):
                cur = self.resolver.parent(cur)
                continue
            if test is not None and _mentions(test, name_code):
                return (
                    "the call is guarded by a check on the tool name, which would reject execute_code after "
                    "migration -- route the model's call to handle_tool_use by hand"
                )
            cur = self.resolver.parent(cur)
        return ""


def _returns_errors(arg: cst.Arg) -> bool:
    """FastMCP's `raise_on_error=False`: a failed tool comes back as an error result, as handle_tool_use does anyway."""
    return (
        arg.keyword is not None
        and arg.keyword.value == "raise_on_error"
        and isinstance(arg.value, cst.Name)
        and arg.value.value == "False"
    )


CODE_TOOL = "execute_code"  # the name CodeMode gives its code tool (`CodeMode.tool_name`)


def _passes_other_names(test: cst.BaseExpression, name_code: str, *, in_else: bool) -> bool:
    """Whether the branch holding the call is taken for every tool name but some literal ones (never the code
    tool's): `name == "now"` / `name in ("now", "today")` with the call under `else`, `!=` / `not in` above it."""
    if not (
        isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and _code(test.left) == name_code
    ):
        return False
    target = test.comparisons[0]
    operator = target.operator
    if isinstance(operator, cst.Equal | cst.In):
        excluded_branch_is_else = True
    elif isinstance(operator, cst.NotEqual | cst.NotIn):
        excluded_branch_is_else = False
    else:
        return False
    if in_else != excluded_branch_is_else:
        return False
    value = target.comparator
    if isinstance(operator, cst.Equal | cst.NotEqual):
        names = [value]
    elif isinstance(value, cst.Tuple | cst.List | cst.Set):
        names = [el.value for el in value.elements]
    else:
        return False
    literals = [string_value(n) for n in names]
    return all(isinstance(n, str) for n in literals) and CODE_TOOL not in literals


def _mentions(test: cst.CSTNode, code: str) -> bool:
    stack: list[cst.CSTNode] = [test]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.Name | cst.Attribute | cst.Subscript) and _code(cur) == code:
            return True
        stack.extend(child_nodes(cur))
    return False


def _is_lookup(value: cst.BaseExpression) -> bool:
    if isinstance(value, cst.Await):
        value = value.expression
    if isinstance(value, cst.Subscript):
        return True
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value in ("get", "get_session")
    )


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)
