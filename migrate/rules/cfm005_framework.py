"""CFM005 -- framework-managed MCP agents: converted to one code tool where the framework documents how, else reported.

Before (OpenAI Agents SDK)::

    async with MCPServerStdio(name="fs", params={...}) as fs:
        agent = Agent(name="ops", instructions="Keep it short.", mcp_servers=[fs])

After (CFM006 opens `code_mode` in the same `with`; CFM008 then drops the `fs` server nothing reads)::

    async with MCPServerStdio(name="fs", params={...}) as fs, CodeMode(...) as code_mode:

        @function_tool
        async def execute_code(code: str) -> str:
            '''Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error).'''
            return (await code_mode.handle_tool_use("execute_code", {"code": code})).text

        agent = Agent(name="ops", instructions=code_mode.system_prompt() + "\\n\\nKeep it short.", tools=[execute_code])

pydantic-ai is converted the same way: the MCP servers leave `toolsets=` / `mcp_servers=`, the agent
gets `tools=[Tool(execute_code, takes_ctx=False)]` (`pydantic_ai.Tool`, a plain async function), and
its `instructions=` (or a string `system_prompt=`) starts with the code-first prompt. Both use the
frameworks' documented public API for function tools (`agents.function_tool`, `pydantic_ai.Tool`).
Servers the audit keeps on direct MCP stay in the list (matched to the inventory by where they are
constructed); an Agents SDK `tool_filter=create_static_tool_filter(...)` (or its dict form; the name
lists literal or module constants) becomes `Policy` rules on the `CodeMode`, so code can call only the
tools the agent could. A server with `require_approval=` other than `"never"` leaves the agent as it
is, with the reason: the approvals would have to be wired to `CodeMode(approve=...)` by hand.

Left alone and reported with the manual step: a server list that is not a literal, a server that
cannot be resolved to its constructor (or whose kept status cannot be told), a filter that is a
function, instructions that are not a plain string, an agent built in a class body, a module that
already binds `execute_code`. Other frameworks (langchain-mcp-adapters `get_tools()`, smolagents
`ToolCollection.from_mcp`, CrewAI `MCPServerAdapter`, Google ADK `MCPToolset`) are always reported with
the framework's documented way to give the model one code tool instead. Sites are resolved by import,
never by spelling.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import ImportAssignment, ScopeProvider

from cfmigrate.analyzers.code_apis import LIBRARY_APIS, LibraryApi, Role, api_by_id, api_of, packages_of
from cfmigrate.analyzers.cst_children import all_nodes
from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.analyzers.naming import to_identifier
from cfmigrate.migrate.rules._base import POLICY_KEY, MigrationRule, register, string_value

_RUN = "`(await code_mode.handle_tool_use('execute_code', {'code': code})).text`"
_ANY_FRAMEWORK = (
    f"define a function tool `execute_code(code: str) -> str` returning {_RUN}, give the agent that tool instead of "
    "its MCP tools, and put code_mode.system_prompt() in its instructions"
)
"""The manual step of a framework the table knows and this rule has no documented recipe for."""
# framework (the shared API table's flavor) -> (its name in messages, the manual step)
MANUAL_STEPS: dict[str, tuple[str, str]] = {
    "openai-agents": (
        "OpenAI Agents SDK",
        f"define `@function_tool async def execute_code(code: str) -> str` returning {_RUN}, pass "
        "tools=[execute_code] instead of mcp_servers=, and start instructions= with code_mode.system_prompt()",
    ),
    "pydantic-ai": (
        "pydantic-ai",
        f"define `async def execute_code(code: str) -> str` returning {_RUN}, pass tools=[execute_code] instead of "
        "the MCP toolsets, and put code_mode.system_prompt() in instructions=",
    ),
    "langchain": (
        "langchain-mcp-adapters",
        f"define `@tool async def execute_code(code: str) -> str` (langchain_core.tools) returning {_RUN}, use "
        "[execute_code] instead of the MCP tools, and give the agent code_mode.system_prompt() as its prompt",
    ),
    "smolagents": (
        "smolagents",
        f"define `@tool def execute_code(code: str) -> str` (smolagents) that runs {_RUN} on the event loop, and "
        "give the agent [execute_code] instead of the MCP tool collection",
    ),
    "crewai": (
        "CrewAI",
        f"subclass crewai.tools.BaseTool as ExecuteCode whose _run(code) returns {_RUN} (run on the event loop), and "
        "pass tools=[ExecuteCode()] instead of the adapter's tools",
    ),
    "adk": (
        "Google ADK",
        f"define `async def execute_code(code: str) -> str` returning {_RUN}, put it in tools= instead of the "
        "MCPToolset (ADK wraps plain functions as FunctionTool), and start instruction= with "
        "code_mode.system_prompt()",
    ),
}


def _triggers() -> tuple[bytes, ...]:
    """What a file must mention to hold a site: a framework agent's server keyword, a tool loader's method,
    or the name of an API whose call loads the tools (all from the shared API table)."""
    words: set[str] = set()
    for api in LIBRARY_APIS:
        if api.role is Role.FRAMEWORK_AGENT:
            words.update(api.server_keywords)
        elif api.role is Role.FRAMEWORK_TOOLS:
            words.update(api.tool_loaders + api.constructors or api.names)
    return tuple(sorted(word.encode() for word in words))


CODE_TOOL = "execute_code"
_DOC = "Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error)."


class _NotSafe(Exception):
    """Why a framework agent is not converted (the summary shows it with the manual step)."""


@register
class FrameworkAgents(MigrationRule):
    """Framework-managed MCP agents → one code tool (Agents SDK, pydantic-ai), else the documented manual step."""

    RULE_ID = "CFM005"
    TITLE = "framework agents → code tool or manual step"
    DESCRIPTION = (
        "Agents SDK `mcp_servers=` and pydantic-ai `toolsets=` → one `execute_code` function tool on CodeMode; "
        "langchain, smolagents, CrewAI, ADK → reported with what to do."
    )
    TRIGGERS = _triggers()

    def analyze(self, module: cst.Module) -> None:
        self._calls: dict[int, cst.Call] = {}
        self._before: dict[
            int, cst.BaseStatement
        ] = {}  # statement id -> the function tool inserted before it
        self._holders: set[int] = set()  # blocks that already got the function tool
        self._imports: set[tuple[str, str]] = set()
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            stack.extend(reversed(child_nodes(node)))
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name | cst.Attribute):
                self._site(node)
        for module_name, obj in sorted(self._imports):
            AddImportsVisitor.add_needed_import(self.context, module_name, obj)

    def _site(self, call: cst.Call) -> None:
        api = self._framework_api(call)
        if api is None:
            return
        framework, step = MANUAL_STEPS.get(api.flavor, (api.flavor, _ANY_FRAMEWORK))
        keywords = api.server_keywords if api.role is Role.FRAMEWORK_AGENT else ()
        if keywords and not any(a.keyword is not None and a.keyword.value in keywords for a in call.args):
            return
        given = next(
            (a.value for a in call.args if a.keyword is not None and a.keyword.value in keywords), None
        )
        if isinstance(given, cst.List | cst.Tuple) and not given.elements:
            return  # no MCP server at all
        if keywords and self._held(call):
            return  # the audit keeps this agent on direct MCP; another agent of the module moves
        if keywords:
            try:
                self._convert(call, api.flavor, api.server_keywords, api.prompt_keywords)
                return
            except _NotSafe as why:
                self.skipped(
                    call,
                    f"{framework} loads the MCP tools itself and {why}, so it was not converted; by hand: {step}",
                    manual=True,
                )
                return
        self.skipped(call, f"{framework} loads the MCP tools itself; by hand: {step}", manual=True)

    def _framework_api(self, call: cst.Call) -> LibraryApi | None:
        """The framework API (shared table) a call hands MCP servers or tools to: an agent given servers, a
        tool loader, or a loader method (`MultiServerMCPClient(...).get_tools()`, `ToolCollection.from_mcp`)."""
        for name in sorted(self.resolver.qualified_names(call.func)):
            api = api_of(name)
            if api is not None and (
                (api.role is Role.FRAMEWORK_AGENT and api.server_keywords)
                or (api.role is Role.FRAMEWORK_TOOLS and not api.tool_loaders)
            ):
                return api
            owner, _, method = name.rpartition(".")
            api = api_of(owner) if owner else None
            if api is not None and api.role is Role.FRAMEWORK_TOOLS and method in api.constructors:
                return api  # `ToolCollection.from_mcp(...)`
        if isinstance(call.func, cst.Attribute):
            receiver = self.resolver.type_of(call.func.value)
            api = api_by_id(receiver.value) if receiver.kind == "framework" and receiver.value else None
            if api is not None and call.func.attr.value in api.tool_loaders:
                return api
        return None

    def _held(self, call: cst.Call) -> bool:
        """Whether this construction is an agent the plan keeps on direct MCP (by its variable, function or line)."""
        marks = self.plan.held_marks(self.path)
        if not marks:
            return False
        names = {f"line{self.line_of(call)}"}
        parent = self.resolver.parent(call)
        if isinstance(parent, cst.Await):
            parent = self.resolver.parent(parent)
        if isinstance(parent, cst.Assign):
            names.update(t.target.value for t in parent.targets if isinstance(t.target, cst.Name))
        elif isinstance(parent, cst.AnnAssign | cst.AugAssign) and isinstance(parent.target, cst.Name):
            names.add(parent.target.value)
        func = self.resolver.enclosing(call, (cst.FunctionDef,))
        if isinstance(func, cst.FunctionDef):
            names.add(func.name.value)
        return bool(names & marks)

    # ------------------------------------------------------------------ conversion
    def _convert(
        self,
        call: cst.Call,
        framework: str,
        server_keywords: tuple[str, ...],
        prompt_keywords: tuple[str, ...],
    ) -> None:
        """Plan the conversion of one agent, or raise _NotSafe with the reason it is left alone."""
        conflict = self.code_mode_conflict(call)
        if conflict:
            raise _NotSafe(conflict)
        given = [a for a in call.args if a.keyword is not None and a.keyword.value in server_keywords]
        if len(given) != 1 or any(a.star for a in call.args):
            raise _NotSafe("its servers are passed in more than one argument or through ** / *")
        server_arg = given[0]
        listed = server_arg.value
        if not isinstance(listed, cst.List | cst.Tuple) or any(
            isinstance(e, cst.StarredElement) for e in listed.elements
        ):
            raise _NotSafe(f"{server_arg.keyword.value}= is not a literal list")  # type: ignore[union-attr]
        statement, holder = self._statement(call)
        self._free_names(framework)
        kept: list[cst.BaseElement] = []
        dropped: list[cst.BaseExpression] = []
        rules: dict[str, str] = {}
        for element in listed.elements:
            keep, element_rules = self._server(element.value, framework)
            (kept.append(element) if keep else dropped.append(element.value))
            rules.update(element_rules)
        if not dropped:
            raise _NotSafe("the audit keeps all its servers on direct MCP")
        prompt = self._prompt(call, prompt_keywords)
        tool = (
            cst.Name(CODE_TOOL)
            if framework == "openai-agents"
            else cst.parse_expression(f"Tool({CODE_TOOL}, takes_ctx=False)")
        )
        self._calls[id(call)] = self._rewrite_call(call, server_arg, kept, tool, prompt)
        if id(holder) not in self._holders:
            self._holders.add(id(holder))
            self._before[id(statement)] = self._code_tool(framework)
        self._imports.add(
            ("agents", "function_tool") if framework == "openai-agents" else ("pydantic_ai", "Tool")
        )
        for value in dropped:
            self.orphan(value)
        policy = self.context.scratch.get(POLICY_KEY)
        if isinstance(policy, dict):
            policy.update(rules)
        kept_note = f"; kept on direct MCP: {len(kept)}" if kept else ""
        self.applied(
            call,
            f"{'OpenAI Agents SDK' if framework == 'openai-agents' else 'pydantic-ai'} agent: {len(dropped)} MCP server(s) → "
            f"one {CODE_TOOL} tool on {self.plan.code_mode_var}, code-first prompt first{kept_note}",
        )

    def _server(self, value: cst.BaseExpression, framework: str) -> tuple[bool, dict[str, str]]:
        """Whether one list element stays (kept on direct MCP or not MCP) and the policy rules its filter implies."""
        code = cst.Module([]).code_for_node(value)
        ctor = self._constructor(value)
        qualified = (
            self.resolver.qualified_names(ctor.func)
            if ctor is not None and isinstance(ctor.func, cst.Name | cst.Attribute)
            else set()
        )
        if ctor is None or not any(
            (api := api_of(q)) is not None and api.role is Role.FRAMEWORK_SERVER and api.flavor == framework
            for q in qualified
        ):
            if framework == "pydantic-ai" and any(
                q.split(".", 1)[0] in packages_of(framework) for q in qualified
            ):
                return True, {}  # a toolset that is not an MCP server stays as it is
            raise _NotSafe(f"`{code}` cannot be traced to the MCP server it constructs")
        server = self.plan.code_servers.get(f"{self.path}:{self.source_line(ctor)}")
        if server is not None and self.plan.keeps_server(server):
            return True, {}
        if server is None and self.plan.kept_entries(self.path):
            raise _NotSafe(f"it cannot tell whether `{code}` is a server the audit keeps on direct MCP")
        self._approval(ctor, code)
        return False, self._filter_rules(ctor, server, code)

    def _approval(self, ctor: cst.Call, code: str) -> None:
        """`require_approval=` other than "never": a human approves the server's calls -- not carried over silently.

        The Agents SDK pauses the run with interruptions that the host approves or rejects; a code-mode
        script's calls would need `CodeMode(policy=Policy(rules={...: "ask"}), approve=...)` wired to the
        same approval step, which the rewrite cannot derive, so the agent is left as it is.
        """
        given = next(
            (a.value for a in ctor.args if a.keyword is not None and a.keyword.value == "require_approval"),
            None,
        )
        if (
            given is None
            or string_value(given) == "never"
            or (isinstance(given, cst.Name) and given.value == "None")
        ):
            return
        raise _NotSafe(
            f"`{code}` asks a human to approve its tool calls (require_approval=); code mode would need "
            "CodeMode(policy=Policy(rules={'<server>/*': 'ask'}), approve=<your approval step>) so that each call "
            "from a script is approved the same way"
        )

    def _constructor(self, value: cst.BaseExpression) -> cst.Call | None:
        if isinstance(value, cst.Call):
            return value
        if not isinstance(value, cst.Name):
            return None
        bound = self.resolver.bindings(value)
        if len(bound) != 1:
            return None
        parent = self.resolver.parent(bound[0])
        if isinstance(parent, cst.AsName):
            item = self.resolver.parent(parent)
            found = item.item if isinstance(item, cst.WithItem) else None
        elif isinstance(parent, cst.AssignTarget):
            stmt = self.resolver.parent(parent)
            found = stmt.value if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 else None
        else:
            found = None
        if isinstance(found, cst.Await):
            found = found.expression
        return found if isinstance(found, cst.Call) else None

    def _filter_rules(self, ctor: cst.Call, server: str | None, code: str) -> dict[str, str]:
        """`tool_filter=` of an Agents SDK server as Policy rules ("<server id>/<tool>" -> allow/deny)."""
        given = next(
            (a.value for a in ctor.args if a.keyword is not None and a.keyword.value == "tool_filter"), None
        )
        if given is None:
            return {}
        lists: dict[str, list[str]] = {}
        if isinstance(given, cst.Call) and any(
            (api := api_of(q)) is not None and api.role is Role.TOOL_FILTER
            for q in self.resolver.qualified_names(given.func)
        ):
            for arg in given.args:
                if arg.keyword is None:
                    raise _NotSafe(f"the tool filter of `{code}` is not written with keywords")
                lists[arg.keyword.value] = _strings(self._constant(arg.value), code)
        elif isinstance(given, cst.Dict):
            for el in given.elements:
                key = string_value(el.key) if isinstance(el, cst.DictElement) else None
                if key is None:
                    raise _NotSafe(f"the tool filter of `{code}` is not a literal")
                lists[key] = _strings(self._constant(el.value), code)
        else:
            raise _NotSafe(f"`{code}` filters its tools with a function, which code mode cannot apply")
        if server is None:
            raise _NotSafe(f"`{code}` filters its tools, but its server is not in the inventory")
        if set(lists) - {"allowed_tool_names", "blocked_tool_names"}:
            raise _NotSafe(f"the tool filter of `{code}` has options code mode cannot apply")
        sid = self.plan.server_ids.get(server) or to_identifier(server)
        rules: dict[str, str] = {}
        if "allowed_tool_names" in lists:
            rules[f"{sid}/*"] = "deny"
            rules.update({f"{sid}/{tool}": "allow" for tool in lists["allowed_tool_names"]})
        rules.update({f"{sid}/{tool}": "deny" for tool in lists.get("blocked_tool_names", [])})
        return rules

    def _constant(self, value: cst.BaseExpression) -> cst.BaseExpression:
        """A module constant's literal (`NEVER = ["delete_ticket"]`, bound once, never mutated), else the value."""
        if not isinstance(value, cst.Name):
            return value
        bound = self.resolver.bindings(value)
        if len(bound) != 1:
            return value
        target = self.resolver.parent(bound[0])
        stmt = self.resolver.parent(target) if isinstance(target, cst.AssignTarget) else None
        line = self.resolver.parent(stmt) if isinstance(stmt, cst.Assign) else None
        if (
            not isinstance(stmt, cst.Assign)
            or len(stmt.targets) != 1
            or not isinstance(stmt.value, cst.List | cst.Tuple)
            or not isinstance(self.resolver.parent(line) if line is not None else None, cst.Module)
        ):
            return value
        for node in all_nodes(self.resolver.module):
            if (
                isinstance(node, cst.Attribute)
                and isinstance(node.value, cst.Name)
                and node.value.value == value.value
                and node.attr.value in ("append", "extend", "insert", "remove", "pop", "clear")
            ):
                return value
        return stmt.value

    def _statement(self, call: cst.Call) -> tuple[cst.CSTNode, cst.CSTNode]:
        """The statement holding the agent and the block it sits in (where the function tool goes)."""
        cur: cst.CSTNode = call
        while True:
            parent = self.resolver.parent(cur)
            if parent is None:
                raise _NotSafe("the agent's statement cannot be found")
            if isinstance(parent, cst.Lambda | cst.CompFor | cst.ListComp | cst.DictComp | cst.GeneratorExp):
                raise _NotSafe("the agent is built inside a lambda or a comprehension")
            if isinstance(parent, cst.IndentedBlock | cst.Module):
                owner = self.resolver.parent(parent) if isinstance(parent, cst.IndentedBlock) else None
                if isinstance(owner, cst.ClassDef):
                    raise _NotSafe("the agent is built in a class body")
                return cur, parent
            cur = parent

    def _free_names(self, framework: str) -> None:
        """The names the conversion adds must not be the module's own."""
        wanted = {CODE_TOOL: None, "function_tool" if framework == "openai-agents" else "Tool": framework}
        taken: set[str] = set()
        for node in all_nodes(self.resolver.module):
            if isinstance(node, cst.FunctionDef | cst.ClassDef) and node.name.value in wanted:
                taken.add(node.name.value)
            elif isinstance(node, cst.Name) and node.value in wanted:
                inner = self.get_metadata(ScopeProvider, node, None)
                for assignment in inner[node.value] if inner is not None else ():
                    if isinstance(assignment, ImportAssignment):
                        sources = {q.name for q in assignment.get_qualified_names_for(node.value)}
                        expected = (
                            "agents.function_tool" if node.value == "function_tool" else "pydantic_ai.Tool"
                        )
                        if expected not in sources or node.value == CODE_TOOL:
                            taken.add(node.value)
                    elif getattr(assignment, "node", None) is not None:
                        taken.add(node.value)
        if taken:
            raise _NotSafe(f"the module already uses the name {sorted(taken)[0]!r}")

    def _prompt(self, call: cst.Call, keywords: tuple[str, ...]) -> tuple[str, cst.BaseExpression | None]:
        """The prompt argument to rewrite (keyword, its value) or (instructions, None) to insert one."""
        for keyword in keywords:
            arg = next((a for a in call.args if a.keyword is not None and a.keyword.value == keyword), None)
            if arg is None:
                continue
            value = arg.value
            if isinstance(value, cst.List | cst.Tuple) and keyword == "system_prompt":
                return keyword, value
            if isinstance(value, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString):
                return keyword, value
            if self.resolver.type_of(value).kind == "str":
                return keyword, value
            raise _NotSafe(f"its {keyword}= is not a plain string")
        return "instructions", None

    # ------------------------------------------------------------------ building the new code
    def _rewrite_call(
        self,
        call: cst.Call,
        server_arg: cst.Arg,
        kept: Sequence[cst.BaseElement],
        tool: cst.BaseExpression,
        prompt: tuple[str, cst.BaseExpression | None],
    ) -> cst.Call:
        args = list(call.args)
        index = next(i for i, a in enumerate(args) if a is server_arg)
        tools_at = next(
            (i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "tools"), None
        )
        if tools_at is not None:
            current = args[tools_at].value
            if isinstance(current, cst.List):
                elements = list(current.elements)
                if elements:
                    last = elements[-1]
                    elements[-1] = last.with_changes(
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                    )
                    elements.append(cst.Element(tool, comma=last.comma))
                else:
                    elements = [cst.Element(tool)]
                value: cst.BaseExpression = current.with_changes(elements=elements)
            else:
                value = cst.List(
                    [
                        cst.StarredElement(
                            current, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                        ),
                        cst.Element(tool),
                    ]
                )
            args[tools_at] = args[tools_at].with_changes(value=value)
        if kept:
            elements = list(kept)
            original = server_arg.value
            assert isinstance(original, cst.List | cst.Tuple)
            elements[-1] = elements[-1].with_changes(comma=original.elements[-1].comma)
            args[index] = server_arg.with_changes(value=original.with_changes(elements=elements))
            if tools_at is None:
                args = _insert(args, index, _keyword("tools", cst.List([cst.Element(tool)])))
                index += 1
        elif tools_at is None:
            args[index] = server_arg.with_changes(
                keyword=cst.Name("tools"), value=cst.List([cst.Element(tool)])
            )
        else:
            args = _remove(args, index)
            index -= 1
        keyword, prompt_value = prompt
        first = self.code_mode_call("system_prompt")
        if prompt_value is None:
            position = next(
                (i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "tools"),
                len(args) - 1,
            )
            return call.with_changes(args=_insert(args, position + 1, _keyword("instructions", first)))
        at = next(i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == keyword)
        args[at] = args[at].with_changes(value=_prefixed(first, prompt_value))
        return call.with_changes(args=args)

    def _code_tool(self, framework: str) -> cst.BaseStatement:
        """The function tool that runs a script on the code-mode runtime."""
        decorator = "@function_tool\n" if framework == "openai-agents" else ""
        text = (
            f"{decorator}async def {CODE_TOOL}(code: str) -> str:\n"
            f'    """{_DOC}"""\n'
            f'    return (await {self.plan.code_mode_var}.handle_tool_use("{CODE_TOOL}", {{"code": code}})).text\n'
        )
        return cst.parse_statement(text, config=self.resolver.module.config_for_parsing)

    # ------------------------------------------------------------------ edits
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._calls.get(id(original_node), updated_node)

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        return updated_node.with_changes(body=self._with_tools(original_node.body, updated_node.body, 1))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._with_tools(original_node.body, updated_node.body, 2))

    def _with_tools(
        self, old: Sequence[cst.BaseStatement], new: Sequence[cst.BaseStatement], blank: int
    ) -> list[cst.BaseStatement]:
        if not any(id(s) in self._before for s in old):
            return list(new)
        body: list[cst.BaseStatement] = []
        for index, (before, after) in enumerate(zip(old, new, strict=True)):
            tool = self._before.get(id(before))
            if tool is None:
                body.append(after)
                continue
            assert isinstance(after, cst.SimpleStatementLine | cst.BaseCompoundStatement)
            lines = list(after.leading_lines)
            blanks = 0
            while blanks < len(lines) and lines[blanks].comment is None:
                blanks += 1
            above = blank if index or blank == 2 else 0
            empty = cst.EmptyLine(indent=False)
            body.append(tool.with_changes(leading_lines=[empty] * max(blanks, above)))
            body.append(after.with_changes(leading_lines=[empty] * blank + lines[blanks:]))
        return body


def _strings(value: cst.BaseExpression, code: str) -> list[str]:
    if not isinstance(value, cst.List | cst.Tuple):
        raise _NotSafe(f"the tool filter of `{code}` is not a literal list of names")
    out = []
    for el in value.elements:
        text = string_value(el.value) if isinstance(el, cst.Element) else None
        if text is None:
            raise _NotSafe(f"the tool filter of `{code}` is not a literal list of names")
        out.append(text)
    return out


def _keyword(name: str, value: cst.BaseExpression) -> cst.Arg:
    tight = cst.AssignEqual(
        whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
    )
    return cst.Arg(value=value, keyword=cst.Name(name), equal=tight)


def _insert(args: list[cst.Arg], index: int, new: cst.Arg) -> list[cst.Arg]:
    """Insert an argument, copying the separators the call already uses."""
    args = list(args)
    if index < len(args):
        comma = args[index - 1].comma if index else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        args.insert(index, new.with_changes(comma=comma))
        return args
    last = args[-1]
    separator = args[-2].comma if len(args) > 1 else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    args[-1] = last.with_changes(comma=separator)
    args.append(new.with_changes(comma=last.comma))
    return args


def _remove(args: list[cst.Arg], index: int) -> list[cst.Arg]:
    args = list(args)
    gone = args.pop(index)
    if index == len(args) and args:
        args[-1] = args[-1].with_changes(comma=gone.comma)
    return args


def _prefixed(first: cst.Call, value: cst.BaseExpression) -> cst.BaseExpression:
    """`code_mode.system_prompt()` in front of a prompt (a string, or a list of system prompts)."""
    if isinstance(value, cst.List | cst.Tuple):
        elements = list(value.elements)
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        return value.with_changes(elements=[cst.Element(first, comma=comma), *elements])
    if isinstance(value, cst.SimpleString) and value.prefix.lower() in ("", "u") and len(value.quote) == 1:
        merged = cst.SimpleString(f"{value.prefix}{value.quote}\\n\\n{value.raw_value}{value.quote}")
        return cst.BinaryOperation(left=first, operator=cst.Add(), right=merged)
    wrapped = value
    if isinstance(value, cst.BinaryOperation | cst.IfExp | cst.BooleanOperation):
        wrapped = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.BinaryOperation(
        left=cst.BinaryOperation(left=first, operator=cst.Add(), right=cst.SimpleString('"\\n\\n"')),
        operator=cst.Add(),
        right=wrapped,
    )
