"""CFM005: framework-managed MCP agents are reported with the framework's manual step (nothing rewritten)."""

from __future__ import annotations

from libcst.codemod import CodemodContext, CodemodTest

from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules._plan import SITES_KEY
from cfmigrate.migrate.rules.cfm005_framework import FRAMEWORK_APIS, FrameworkAgents

PLAN = MigrationPlan()


def _step(api: str) -> str:
    framework, _, step = FRAMEWORK_APIS[api]
    return f"{framework} loads the MCP tools itself; by hand: {step}"


class TestFrameworkAgents(CodemodTest):
    TRANSFORM = FrameworkAgents

    def check(self, code: str, warnings: list[str]) -> None:
        context = CodemodContext(scratch={SITES_KEY: []})
        self.assertCodemod(code, code, plan=PLAN, context_override=context, expected_warnings=warnings)
        sites = context.scratch[SITES_KEY]
        self.assertTrue(all(s.manual and not s.applied for s in sites))

    def test_openai_agents_sdk_mcp_servers(self) -> None:
        code = """
            from agents import Agent
            from agents.mcp import MCPServerStdio

            def build(server: MCPServerStdio) -> Agent:
                return Agent(name="ops", instructions="Help.", mcp_servers=[server])
        """
        self.check(code, [f"CFM005 line 5: {_step('agents.Agent')}"])

    def test_pydantic_ai_toolsets_and_langchain_get_tools(self) -> None:
        code = """
            from langchain_mcp_adapters.client import MultiServerMCPClient
            from pydantic_ai import Agent as PydanticAgent

            agent = PydanticAgent("anthropic:claude", toolsets=[])

            async def tools() -> list:
                client = MultiServerMCPClient({})
                return await client.get_tools()
        """
        self.check(
            code,
            [
                f"CFM005 line 4: {_step('pydantic_ai.Agent')}",
                f"CFM005 line 8: {_step('langchain_mcp_adapters.client.MultiServerMCPClient.get_tools')}",
            ],
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

    # ------------------------------------------------------------------ not frameworks with MCP
    def test_agent_without_mcp_servers(self) -> None:
        self.check(
            """
            from agents import Agent

            agent = Agent(name="plain", instructions="No MCP here.", tools=[])
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
