"""CFM005: Agents SDK / pydantic-ai agents get one code tool; other frameworks (and unsafe sites) are reported."""

from __future__ import annotations

from libcst.codemod import CodemodContext, CodemodTest

from cfmigrate.analyzers.code_apis import api_of
from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules._base import ORPHANS_KEY, PATH_KEY, POLICY_KEY
from cfmigrate.migrate.rules._plan import SITES_KEY
from cfmigrate.migrate.rules.cfm005_framework import MANUAL_STEPS, FrameworkAgents

PLAN = MigrationPlan(
    keep_direct=frozenset({"playwright/browser_snapshot"}),
    file_servers={"bot.py": ("playwright", "docs")},
    code_servers={"bot.py:6": "playwright", "bot.py:7": "docs"},
    server_ids={"playwright": "playwright", "docs": "docs"},
)


def _manual(qname: str) -> tuple[str, str]:
    """The framework name and manual step of an API (or of the class whose method `qname` names)."""
    api = api_of(qname) or api_of(qname.rpartition(".")[0])
    assert api is not None, qname
    return MANUAL_STEPS[api.flavor]


def _step(api: str) -> str:
    framework, step = _manual(api)
    return f"{framework} loads the MCP tools itself; by hand: {step}"


def _not_converted(api: str, why: str) -> str:
    framework, step = _manual(api)
    return f"{framework} loads the MCP tools itself and {why}, so it was not converted; by hand: {step}"


class TestFrameworkAgents(CodemodTest):
    TRANSFORM = FrameworkAgents
    maxDiff = None

    def check(self, code: str, warnings: list[str], path: str = "other.py") -> None:
        context = CodemodContext(scratch={SITES_KEY: [], PATH_KEY: path})
        self.assertCodemod(code, code, plan=PLAN, context_override=context, expected_warnings=warnings)
        sites = context.scratch[SITES_KEY]
        self.assertTrue(all(s.manual and not s.applied for s in sites))

    def convert(self, before: str, after: str, path: str = "bot.py") -> CodemodContext:
        context = CodemodContext(scratch={SITES_KEY: [], PATH_KEY: path, POLICY_KEY: {}, ORPHANS_KEY: set()})
        self.assertCodemod(before, after, plan=PLAN, context_override=context)
        sites = context.scratch[SITES_KEY]
        self.assertTrue(sites and all(s.applied and not s.manual for s in sites), sites)
        return context

    # ------------------------------------------------------------------ converted
    def test_openai_agents_sdk_in_a_with_of_its_servers(self) -> None:
        before = """
            from agents import Agent, Runner
            from agents.mcp import MCPServerStdio

            async def main():
                async with MCPServerStdio(name="docs", params={"command": "docs-mcp"}) as docs:
                    agent = Agent(name="ops", instructions="Keep it short.", mcp_servers=[docs], model="gpt-4.1")
                    return await Runner.run(agent, "go")
        """
        after = """
            from agents import function_tool, Agent, Runner
            from agents.mcp import MCPServerStdio

            async def main():
                async with MCPServerStdio(name="docs", params={"command": "docs-mcp"}) as docs:
                    @function_tool
                    async def execute_code(code: str) -> str:
                        \"\"\"Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error).\"\"\"
                        return (await code_mode.handle_tool_use("execute_code", {"code": code})).text

                    agent = Agent(name="ops", instructions=code_mode.system_prompt() + "\\n\\nKeep it short.", tools=[execute_code], model="gpt-4.1")
                    return await Runner.run(agent, "go")
        """
        context = self.convert(before, after, path="one.py")
        assert ("main", "docs") in context.scratch[ORPHANS_KEY]

    def test_agents_sdk_server_kept_on_direct_mcp_and_a_static_filter_as_policy(self) -> None:
        before = """
            from agents import Agent, Runner
            from agents.mcp import MCPServerStdio, create_static_tool_filter

            async def main():
                async with (
                    MCPServerStdio(name="browser", params={"command": "npx"}) as browser,
                    MCPServerStdio(name="docs", params={"command": "docs-mcp"}, tool_filter=create_static_tool_filter(allowed_tool_names=["search"], blocked_tool_names=["drop"])) as docs,
                ):
                    agent = Agent(
                        name="ops",
                        mcp_servers=[browser, docs],
                    )
                    return await Runner.run(agent, "go")
        """
        after = """
            from agents import function_tool, Agent, Runner
            from agents.mcp import MCPServerStdio, create_static_tool_filter

            async def main():
                async with (
                    MCPServerStdio(name="browser", params={"command": "npx"}) as browser,
                    MCPServerStdio(name="docs", params={"command": "docs-mcp"}, tool_filter=create_static_tool_filter(allowed_tool_names=["search"], blocked_tool_names=["drop"])) as docs,
                ):
                    @function_tool
                    async def execute_code(code: str) -> str:
                        \"\"\"Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error).\"\"\"
                        return (await code_mode.handle_tool_use("execute_code", {"code": code})).text

                    agent = Agent(
                        name="ops",
                        tools=[execute_code],
                        instructions=code_mode.system_prompt(),
                        mcp_servers=[browser],
                    )
                    return await Runner.run(agent, "go")
        """
        context = self.convert(before, after)
        assert context.scratch[POLICY_KEY] == {"docs/*": "deny", "docs/search": "allow", "docs/drop": "deny"}

    def test_pydantic_ai_module_level_agent(self) -> None:
        before = """
            from pydantic_ai import Agent
            from pydantic_ai.mcp import MCPServerStdio, MCPServerStreamableHTTP

            run_python = MCPServerStdio("deno", args=["run"])
            calendar = MCPServerStreamableHTTP("http://localhost:9000/mcp")

            # the planner
            agent = Agent(
                "anthropic:claude-sonnet-4-0",
                toolsets=[run_python, calendar],
                system_prompt="Plan the user's week.",
            )
        """
        after = """
            from pydantic_ai import Tool, Agent
            from pydantic_ai.mcp import MCPServerStdio, MCPServerStreamableHTTP

            run_python = MCPServerStdio("deno", args=["run"])
            calendar = MCPServerStreamableHTTP("http://localhost:9000/mcp")


            async def execute_code(code: str) -> str:
                \"\"\"Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error).\"\"\"
                return (await code_mode.handle_tool_use("execute_code", {"code": code})).text


            # the planner
            agent = Agent(
                "anthropic:claude-sonnet-4-0",
                tools=[Tool(execute_code, takes_ctx=False)],
                system_prompt=code_mode.system_prompt() + "\\n\\nPlan the user's week.",
            )
        """
        context = self.convert(before, after, path="planner.py")
        assert {("", "run_python"), ("", "calendar")} <= context.scratch[ORPHANS_KEY]

    def test_pydantic_ai_keeps_other_tools_and_toolsets(self) -> None:
        before = """
            from pydantic_ai import Agent
            from pydantic_ai.mcp import MCPServerStdio
            from pydantic_ai.toolsets import FunctionToolset

            def build(extra_tools, helpers: FunctionToolset):
                server = MCPServerStdio("notes-mcp")
                local = FunctionToolset([len])
                return Agent("openai:gpt-4.1", tools=extra_tools, toolsets=[server, local], instructions="Be exact.")
        """
        after = """
            from pydantic_ai import Tool, Agent
            from pydantic_ai.mcp import MCPServerStdio
            from pydantic_ai.toolsets import FunctionToolset

            def build(extra_tools, helpers: FunctionToolset):
                server = MCPServerStdio("notes-mcp")
                local = FunctionToolset([len])

                async def execute_code(code: str) -> str:
                    \"\"\"Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error).\"\"\"
                    return (await code_mode.handle_tool_use("execute_code", {"code": code})).text

                return Agent("openai:gpt-4.1", tools=[*extra_tools, Tool(execute_code, takes_ctx=False)], toolsets=[local], instructions=code_mode.system_prompt() + "\\n\\nBe exact.")
        """
        self.convert(before, after, path="notes.py")

    # ------------------------------------------------------------------ reported
    def test_openai_agents_sdk_mcp_servers_not_a_literal(self) -> None:
        code = """
            from agents import Agent
            from agents.mcp import MCPServerStdio

            def build(servers: list[MCPServerStdio]) -> Agent:
                return Agent(name="ops", instructions="Help.", mcp_servers=servers)
        """
        self.check(
            code, [f"CFM005 line 5: {_not_converted('agents.Agent', 'mcp_servers= is not a literal list')}"]
        )

    def test_agents_sdk_filter_function_and_untraceable_server(self) -> None:
        code = """
            from agents import Agent
            from agents.mcp import MCPServerStdio

            def allow(context, tool):
                return tool.name.startswith("read")

            def build(given) -> Agent:
                docs = MCPServerStdio(name="docs", params={}, tool_filter=allow)
                first = Agent(name="a", mcp_servers=[docs])
                second = Agent(name="b", mcp_servers=[given])
                return first, second
        """
        self.check(
            code,
            [
                "CFM005 line 9: "
                + _not_converted(
                    "agents.Agent", "`docs` filters its tools with a function, which code mode cannot apply"
                ),
                "CFM005 line 10: "
                + _not_converted("agents.Agent", "`given` cannot be traced to the MCP server it constructs"),
            ],
        )

    def test_agents_sdk_filter_from_a_module_constant(self) -> None:
        before = """
            from agents import Agent
            from agents.mcp import MCPServerStdio, create_static_tool_filter

            NEVER = ["drop"]

            def build():
                docs = MCPServerStdio(name="docs", params={}, tool_filter=create_static_tool_filter(blocked_tool_names=NEVER), require_approval="never")
                return Agent(name="a", instructions="Go.", mcp_servers=[docs])
        """
        after = """
            from agents import function_tool, Agent
            from agents.mcp import MCPServerStdio, create_static_tool_filter

            NEVER = ["drop"]

            def build():
                docs = MCPServerStdio(name="docs", params={}, tool_filter=create_static_tool_filter(blocked_tool_names=NEVER), require_approval="never")

                @function_tool
                async def execute_code(code: str) -> str:
                    \"\"\"Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error).\"\"\"
                    return (await code_mode.handle_tool_use("execute_code", {"code": code})).text

                return Agent(name="a", instructions=code_mode.system_prompt() + "\\n\\nGo.", tools=[execute_code])
        """
        context = self.convert(before, after, path="bot.py")
        assert context.scratch[POLICY_KEY] == {"docs/drop": "deny"}

    def test_agents_sdk_approval_is_not_dropped(self) -> None:
        code = """
            from agents import Agent
            from agents.mcp import MCPServerStdio

            NEVER = ["drop"]
            NEVER.append("purge")

            def build(policy):
                docs = MCPServerStdio(name="docs", params={}, require_approval="always")
                mine = MCPServerStdio(name="docs", params={}, require_approval=policy)
                return Agent(name="a", mcp_servers=[docs]), Agent(name="b", mcp_servers=[mine])
        """
        why = (
            "asks a human to approve its tool calls (require_approval=); code mode would need "
            "CodeMode(policy=Policy(rules={'<server>/*': 'ask'}), approve=<your approval step>) so that each call "
            "from a script is approved the same way"
        )
        self.check(
            code,
            [
                "CFM005 line 10: " + _not_converted("agents.Agent", f"`docs` {why}"),
                "CFM005 line 10: " + _not_converted("agents.Agent", f"`mine` {why}"),
            ],
            path="ops.py",
        )

    def test_agents_sdk_dynamic_instructions_and_own_execute_code(self) -> None:
        code = """
            from agents import Agent
            from agents.mcp import MCPServerStdio

            def instructions(context, agent):
                return "Help."

            def build() -> Agent:
                docs = MCPServerStdio(name="docs", params={})
                return Agent(name="a", instructions=instructions, mcp_servers=[docs])
        """
        self.check(
            code,
            ["CFM005 line 9: " + _not_converted("agents.Agent", "its instructions= is not a plain string")],
        )
        own = """
            from agents import Agent
            from agents.mcp import MCPServerStdio

            def execute_code(code):
                return code

            docs = MCPServerStdio(name="docs", params={})
            agent = Agent(name="a", mcp_servers=[docs])
        """
        self.check(
            own,
            [
                "CFM005 line 8: "
                + _not_converted("agents.Agent", "the module already uses the name 'execute_code'")
            ],
        )

    def test_agent_in_a_class_body_and_a_filtered_pydantic_toolset(self) -> None:
        code = """
            from pydantic_ai import Agent
            from pydantic_ai.mcp import MCPServerStdio

            server = MCPServerStdio("notes-mcp")

            class Bots:
                notes = Agent("openai:gpt-4.1", toolsets=[server])

            filtered = Agent("openai:gpt-4.1", toolsets=[server.filtered(lambda ctx, tool: True)])
        """
        self.check(
            code,
            [
                "CFM005 line 7: " + _not_converted("pydantic_ai.Agent", "the agent is built in a class body"),
                "CFM005 line 9: "
                + _not_converted(
                    "pydantic_ai.Agent",
                    "`server.filtered(lambda ctx, tool: True)` cannot be traced to the MCP server it constructs",
                ),
            ],
        )

    def test_langchain_get_tools(self) -> None:
        code = """
            from langchain_mcp_adapters.client import MultiServerMCPClient

            async def tools() -> list:
                client = MultiServerMCPClient({})
                return await client.get_tools()
        """
        self.check(
            code,
            [f"CFM005 line 5: {_step('langchain_mcp_adapters.client.MultiServerMCPClient.get_tools')}"],
        )

    def test_smolagents_crewai_adk(self) -> None:
        code = """
            from crewai_tools import MCPServerAdapter
            from google.adk.tools.mcp_tool.mcp_toolset import MCPToolset
            from smolagents import ToolCollection

            with ToolCollection.from_mcp({}, trust_remote_code=True) as collection:
                pass
            with MCPServerAdapter({}) as crew_tools:
                pass
            toolset = MCPToolset(connection_params=None)
        """
        self.check(
            code,
            [
                f"CFM005 line 5: {_step('smolagents.ToolCollection.from_mcp')}",
                f"CFM005 line 7: {_step('crewai_tools.MCPServerAdapter')}",
                f"CFM005 line 9: {_step('google.adk.tools.mcp_tool.mcp_toolset.MCPToolset')}",
            ],
        )

    def test_sites_are_read_from_the_shared_api_table(self) -> None:
        # spellings the audit knew and the rule did not: ADK's McpToolset, smolagents' MCPClient, langchain's
        # package-level MultiServerMCPClient; a config loader of pydantic-ai is not a site (its servers are)
        code = """
            from google.adk.tools.mcp_tool import McpToolset
            from langchain_mcp_adapters import MultiServerMCPClient
            from pydantic_ai.mcp import load_mcp_servers
            from smolagents import MCPClient

            toolset = McpToolset(connection_params=None)
            servers = load_mcp_servers("mcp.json")
            with MCPClient({"url": "http://localhost:8000/mcp"}) as tools:
                pass
            async def tools() -> list:
                return await MultiServerMCPClient({}).get_tools()
        """
        self.check(
            code,
            [
                f"CFM005 line 6: {_step('google.adk.tools.mcp_tool.McpToolset')}",
                f"CFM005 line 8: {_step('smolagents.MCPClient')}",
                f"CFM005 line 11: {_step('langchain_mcp_adapters.MultiServerMCPClient.get_tools')}",
            ],
        )

    # ------------------------------------------------------------------ not frameworks with MCP
    def test_agent_without_mcp_servers(self) -> None:
        self.check(
            """
            from agents import Agent

            agent = Agent(name="plain", instructions="No MCP here.", tools=[])
            empty = Agent(name="empty", mcp_servers=[])
            """,
            [],
        )

    def test_local_class_named_agent(self) -> None:
        self.check(
            """
            class Agent:
                def __init__(self, **kwargs):
                    self.kwargs = kwargs

            agent = Agent(mcp_servers=["not", "mcp"], toolsets=[])
            """,
            [],
        )

    def test_get_tools_on_something_else(self) -> None:
        self.check(
            """
            import httpx

            class Registry:
                async def get_tools(self):
                    return httpx.get("https://example.com").json()

            async def main():
                return await Registry().get_tools()
            """,
            [],
        )

    def test_code_mode_agent(self) -> None:
        self.check(
            """
            from cfmigrate.runtime import CodeMode

            code_mode = CodeMode(servers_dir="servers")
            tools = code_mode.tool_definitions("anthropic")
            """,
            [],
        )
