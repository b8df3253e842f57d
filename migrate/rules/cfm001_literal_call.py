"""CFM001 -- a literal tool call on an MCP session becomes a call of the typed wrapper.

Before::

    from mcp import ClientSession

    async def attach(session: ClientSession, doc_id: str) -> str:
        result = await session.call_tool("get_document", {"documentId": doc_id, "format": "text"})
        return result.content[0].text

After::

    from mcp import ClientSession
    from servers.drive import get_document

    async def attach(session: ClientSession, doc_id: str) -> str:
        result = await get_document(document_id=doc_id, format="text")
        return result.content[0].text

Applies when the receiver resolves (by imports and bindings, never by spelling) to an MCP client
session -- `mcp` 1.x `ClientSession`, 2.x `Client`, FastMCP `Client`, an mcp-use session, a
`ClientSessionGroup` -- or to a framework's MCP server object the host calls itself (an Agents SDK
server's `call_tool`, a pydantic-ai server's `direct_call_tool` whose result is not used), the tool name is a literal (or a module constant), exactly one known server
offers the tool, and the arguments are a literal dict (or `dict(...)` keywords) whose keys are all
properties of the tool, positional or `arguments=`. The wrapper keeps `.content`, `.text` and
`.structured_content`, and raises `ToolError` where the session returned `isError`.

Left alone with a warning: argument keys that are not properties of the tool, missing required
arguments, `**` splats, non-literal argument dicts, extra options (`read_timeout_seconds=`,
`progress_callback=`, `meta=`), a result whose `.isError` / `.is_error` / `.structuredContent` is
read, a tool offered by several servers, and tools the audit keeps on direct MCP.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import Assignment, ImportAssignment, ScopeProvider

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._base import MigrationRule, call_args, register, string_value
from cfmigrate.migrate.rules._plan import ToolNames

_CALL_TOOL_PARAMS = ("name", "arguments")
_ERROR_ATTRS = frozenset({"isError", "is_error", "structuredContent", "meta", "_meta", "data"})


@register
class LiteralCallTool(MigrationRule):
    """Literal `session.call_tool("tool", {...})` → typed wrapper call."""

    RULE_ID = "CFM001"
    TITLE = "literal tool call → typed wrapper"
    DESCRIPTION = (
        'Literal `session.call_tool("tool", {...})` → `await tool(kw=...)` from the generated package.'
    )
    TRIGGERS = (b"call_tool",)

    def analyze(self, module: cst.Module) -> None:
        self._rewrites: dict[int, cst.Call] = {}
        self._local_names: dict[
            str, tuple[str, str]
        ] = {}  # local name -> (module, function) this pass imports
        for node in [*_calls_named(module, "call_tool"), *_calls_named(module, "direct_call_tool")]:
            replacement = self._decide(node)
            if replacement is not None:
                self._rewrites[id(node)] = replacement

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._rewrites.get(id(original_node), updated_node)

    def _decide(self, call: cst.Call) -> cst.Call | None:
        assert isinstance(call.func, cst.Attribute)
        if not self._host_receiver(call):
            return None
        bound, extra = call_args(call, _CALL_TOOL_PARAMS)
        if "name" not in bound:
            return None
        tool = self._literal_tool(bound["name"].value)
        if tool is None:
            return None  # a dynamic name: CFM002's business
        names, reason = self.plan.lookup(tool, self.path, self.line_of(call))
        if names is None:
            self.skipped(call, reason)
            return None
        if self.plan.kept(names.server, names.wire):
            self.skipped(call, f"{names.server}/{tool} is kept on direct MCP by the audit decision")
            return None
        if names.collision or not names.function:
            self.skipped(call, names.collision or f"no wrapper is generated for {names.server}/{tool}")
            return None
        if extra:
            what = ", ".join(
                f"{a.keyword.value}="
                if a.keyword
                else ("**" if a.star == "**" else "*" if a.star else "a positional option")
                for a in extra
            )
            self.skipped(call, f"the call passes {what}, which the wrapper does not take")
            return None
        used = self._result_attrs(call) & _ERROR_ATTRS
        if used:
            self.skipped(
                call,
                f"the result's .{sorted(used)[0]} is read; the wrapper raises ToolError instead of returning an error result -- migrate by hand",
            )
            return None
        args = bound.get("arguments")
        built = self._arguments(call, names, args.value if args is not None else None)
        if built is None:
            return None
        kwargs, lpar_ws, rpar_ws = built
        local = self._local_name(call, names)
        if local is None:
            return None
        if kwargs:
            last = kwargs[-1]
            kwargs[-1] = last.with_changes(whitespace_after_arg=rpar_ws)
        self.applied(call, f"{names.server}/{tool} → {names.module}.{names.function}")
        self.orphan(call.func.value)  # the wrapper opens its own session: this one may now be unread (CFM008)
        return cst.Call(
            func=cst.Name(local),
            args=kwargs,
            whitespace_before_args=lpar_ws if kwargs else cst.SimpleWhitespace(""),
        )

    def _host_receiver(self, call: cst.Call) -> bool:
        """An MCP session's `call_tool`, an Agents SDK server's `call_tool`, or a pydantic-ai server's
        `direct_call_tool` whose result is not used (it returns the processed value, not a CallToolResult)."""
        assert isinstance(call.func, cst.Attribute)
        method = call.func.attr.value
        receiver = self.resolver.type_of(call.func.value)
        if method == "call_tool":
            return receiver.kind == "session" or (
                receiver.kind == "fw_server" and receiver.flavor == "openai-agents"
            )
        if receiver.kind != "fw_server" or receiver.flavor != "pydantic-ai":
            return False
        awaited = self.resolver.parent(call)
        statement = self.resolver.parent(awaited) if isinstance(awaited, cst.Await) else None
        if not isinstance(statement, cst.Expr):
            self.skipped(
                call,
                "the result of direct_call_tool is used; it is the processed value, not the wrapper's result -- "
                "migrate by hand",
            )
            return False
        return True

    def _literal_tool(self, expr: cst.BaseExpression) -> str | None:
        value = string_value(expr)
        if value is not None:
            return value
        if isinstance(expr, cst.Name):
            t = self.resolver.type_of(expr)
            if t.kind == "str" and t.value is not None:
                return t.value
        return None

    def _arguments(
        self, call: cst.Call, names: ToolNames, value: cst.BaseExpression | None
    ) -> tuple[list[cst.Arg], cst.BaseParenthesizableWhitespace, cst.BaseParenthesizableWhitespace] | None:
        empty = cst.SimpleWhitespace("")
        if value is None or (isinstance(value, cst.Name) and value.value == "None"):
            items: list[tuple[str, cst.BaseExpression, cst.Comma | cst.MaybeSentinel]] = []
            lpar: cst.BaseParenthesizableWhitespace = empty
            rpar: cst.BaseParenthesizableWhitespace = empty
        elif isinstance(value, cst.Dict):
            items = []
            for el in value.elements:
                key = string_value(el.key) if isinstance(el, cst.DictElement) else None
                if not isinstance(el, cst.DictElement):
                    self.skipped(call, "the arguments dict has a ** splat; its keys are not known statically")
                    return None
                if key is None:
                    self.skipped(call, "an argument key is not a string literal")
                    return None
                items.append((key, el.value, el.comma))
            lpar, rpar = value.lbrace.whitespace_after, value.rbrace.whitespace_before
        elif (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and self.resolver.is_builtin(value.func, "dict")
        ):
            items = []
            for arg in value.args:
                if arg.keyword is None:
                    self.skipped(call, "the arguments are built with dict(...) from a positional value")
                    return None
                items.append((arg.keyword.value, arg.value, arg.comma))
            lpar, rpar = value.whitespace_before_args, empty
        else:
            self.skipped(call, "the arguments are not a literal dict; their keys are not known statically")
            return None
        keys = [k for k, _, _ in items]
        unknown = [k for k in keys if k not in names.params]
        if unknown:
            self.skipped(call, f"argument {unknown[0]!r} is not a property of {names.server}/{names.wire}")
            return None
        if len(set(keys)) != len(keys):
            self.skipped(call, "an argument key is given twice")
            return None
        missing = sorted(names.required - set(keys))
        if missing:
            self.skipped(call, f"required argument {missing[0]!r} of {names.server}/{names.wire} is missing")
            return None
        tight = cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        )
        args = [
            cst.Arg(
                value=v,
                keyword=cst.Name(names.params[k]),
                equal=tight,
                comma=c if isinstance(c, cst.Comma) else cst.MaybeSentinel.DEFAULT,
            )
            for k, v, c in items
        ]
        if (
            args
            and isinstance(args[-1].comma, cst.Comma)
            and not _has_newline(args[-1].comma)
            and rpar == empty
        ):
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return args, lpar, rpar

    def _result_attrs(self, call: cst.Call) -> set[str]:
        """Attributes read on the variable the call's result is assigned to."""
        node: cst.CSTNode = call
        parent = self.resolver.parent(node)
        if isinstance(parent, cst.Await):
            node, parent = parent, self.resolver.parent(parent)
        if not isinstance(parent, cst.Assign) or len(parent.targets) != 1:
            return set()
        target = parent.targets[0].target
        if not isinstance(target, cst.Name):
            return set()
        scope = self.get_metadata(ScopeProvider, target, None)
        if scope is None:
            return set()
        out: set[str] = set()
        for assignment in scope.assignments[target.value]:
            if not isinstance(assignment, Assignment) or assignment.node is not target:
                continue
            for access in assignment.references:
                holder = self.resolver.parent(access.node)
                if isinstance(holder, cst.Attribute) and holder.value is access.node:
                    out.add(holder.attr.value)
        return out

    def _local_name(self, call: cst.Call, names: ToolNames) -> str | None:
        """The name the wrapper is imported as here: its own, or `<server>_<tool>` when that is taken."""
        server_id = names.module.rsplit(".", 1)[-1]
        for candidate in (names.function, f"{server_id}_{names.function}"):
            owner = self._local_names.get(candidate)
            if owner is not None and owner != (names.module, names.function):
                continue
            if owner is None and self._taken(call, candidate, names):
                continue
            self._local_names[candidate] = (names.module, names.function)
            AddImportsVisitor.add_needed_import(
                self.context, names.module, names.function, None if candidate == names.function else candidate
            )
            return candidate
        self.skipped(
            call,
            f"the names {names.function!r} and {server_id}_{names.function!r} are both taken in this module",
        )
        return None

    def _taken(self, call: cst.Call, name: str, names: ToolNames) -> bool:
        scope = self.get_metadata(ScopeProvider, call, None)
        if scope is None:
            return True
        for assignment in scope[name]:
            if isinstance(assignment, ImportAssignment) and _imports(
                assignment.node, names.module, names.function, name
            ):
                continue
            return True
        return False


def _imports(node: cst.CSTNode, module: str, obj: str, local: str) -> bool:
    if not isinstance(node, cst.ImportFrom) or node.module is None or isinstance(node.names, cst.ImportStar):
        return False
    if cst.helpers.get_full_name_for_node(node.module) != module:
        return False
    for alias in node.names:
        asname = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else None
        if isinstance(alias.name, cst.Name) and alias.name.value == obj and (asname or obj) == local:
            return True
    return False


def _has_newline(comma: cst.Comma) -> bool:
    return isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)


def _calls_named(module: cst.Module, method: str) -> list[cst.Call]:
    out: list[cst.Call] = []
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == method
        ):
            out.append(node)
        stack.extend(reversed(child_nodes(node)))
    return out
