"""CFM003: tool lists built from MCP tools → `code_mode.tool_definitions(provider)` (other lists left alone)."""

from __future__ import annotations

from libcst.codemod import CodemodTest

from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules.cfm003_tool_list import ToolListToCodeMode

PLAN = MigrationPlan()


class TestToolList(CodemodTest):
    TRANSFORM = ToolListToCodeMode

    def check(self, before: str, after: str, warnings: list[str] | None = None) -> None:
        self.assertCodemod(before, after, plan=PLAN, expected_warnings=warnings)

    # ------------------------------------------------------------------ rewrites
    def test_anthropic_comprehension_mcp1(self) -> None:
        before = """
            from mcp import ClientSession

            async def tools_of(session: ClientSession) -> list:
                response = await session.list_tools()
                return [
                    {"name": t.name, "description": t.description, "input_schema": t.inputSchema}
                    for t in response.tools
                ]
        """
        after = """
            from mcp import ClientSession

            async def tools_of(session: ClientSession) -> list:
                response = await session.list_tools()
                return code_mode.tool_definitions("anthropic")
        """
        self.check(before, after)

    def test_loop_append_into_self_attribute_with_other_statements(self) -> None:
        before = """
            from mcp import ClientSession

            class Agent:
                def __init__(self) -> None:
                    self.tools = []
                    self.routes = {}

                async def add(self, session: ClientSession) -> None:
                    listed = await session.list_tools()
                    for tool in listed.tools:
                        self.routes[tool.name] = session
                        self.tools.append({"name": tool.name, "description": tool.description, "input_schema": tool.input_schema})
        """
        after = """
            from mcp import ClientSession

            class Agent:
                def __init__(self) -> None:
                    self.tools = code_mode.tool_definitions("anthropic")
                    self.routes = {}

                async def add(self, session: ClientSession) -> None:
                    listed = await session.list_tools()
                    for tool in listed.tools:
                        self.routes[tool.name] = session
        """
        self.check(before, after)

    def test_session_group_tools_keyed_by_name(self) -> None:
        """`ClientSessionGroup.tools` maps each tool's name to the tool: the key is the tool name."""
        before = """
            from mcp import ClientSessionGroup

            async def tools(group: ClientSessionGroup):
                return [
                    {"name": name, "description": tool.description or "", "input_schema": tool.input_schema}
                    for name, tool in group.tools.items()
                ]
        """
        after = """
            from mcp import ClientSessionGroup

            async def tools(group: ClientSessionGroup):
                return code_mode.tool_definitions("anthropic")
        """
        self.check(before, after)

    def test_openai_shape_through_a_helper_and_list_of_generator_mcp2(self) -> None:
        before = """
            from mcp import Client

            def to_openai(tool) -> dict:
                return {"type": "function", "function": {"name": tool.name, "parameters": tool.input_schema}}

            async def run(url: str):
                async with Client(url) as client:
                    listed = await client.list_tools()
                    first = [to_openai(t) for t in listed.tools]
                    second = list(to_openai(t) for t in listed.tools)
                    return first, second
        """
        after = """
            from mcp import Client

            def to_openai(tool) -> dict:
                return {"type": "function", "function": {"name": tool.name, "parameters": tool.input_schema}}

            async def run(url: str):
                async with Client(url) as client:
                    listed = await client.list_tools()
                    first = code_mode.tool_definitions("openai")
                    second = code_mode.tool_definitions("openai")
                    return first, second
        """
        self.check(before, after)

    def test_loop_only_appending_is_removed_and_extend_form(self) -> None:
        before = """
            import fastmcp

            async def run(c: fastmcp.Client):
                tools = []
                for t in await c.list_tools():
                    tools.append({"name": t.name, "input_schema": t.inputSchema})
                more = []
                more.extend([{"name": t.name, "input_schema": t.inputSchema} for t in await c.list_tools()])
                return tools, more
        """
        after = """
            import fastmcp

            async def run(c: fastmcp.Client):
                tools = code_mode.tool_definitions("anthropic")
                more = code_mode.tool_definitions("anthropic")
                return tools, more
        """
        self.check(before, after)

    # ------------------------------------------------------------------ left alone
    def test_same_shape_from_non_mcp_objects(self) -> None:
        code = """
            from dataclasses import dataclass

            @dataclass
            class MyTool:
                name: str
                description: str
                input_schema: dict

            LOCAL = [MyTool("calc", "adds", {})]
            tools = [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in LOCAL]
        """
        self.check(code, code)

    def test_user_mcpclient_and_httpx(self) -> None:
        code = """
            import httpx

            class MCPClient:
                def list_tools(self):
                    return httpx.get("https://example.com/tools").json()

            def tools_for_model(client: MCPClient):
                return [{"name": t.name, "input_schema": t.inputSchema} for t in client.list_tools().tools]
        """
        self.check(code, code)

    def test_already_migrated_and_static_tool_lists(self) -> None:
        code = """
            WEATHER = {"name": "weather", "description": "Forecast", "input_schema": {"type": "object"}}

            def tools(code_mode):
                return [WEATHER, *code_mode.tool_definitions("anthropic")]
        """
        self.check(code, code)

    def test_list_that_does_not_start_empty(self) -> None:
        code = """
            from mcp import ClientSession

            CALCULATOR = {"name": "calc", "input_schema": {}}

            async def run(session: ClientSession):
                tools = [CALCULATOR]
                for t in (await session.list_tools()).tools:
                    tools.append({"name": t.name, "input_schema": t.inputSchema})
                return tools
        """
        self.check(
            code,
            code,
            [
                "CFM003 line 8: tools does not start as an empty list; add code_mode.tool_definitions('anthropic') by hand"
            ],
        )

    def test_responses_api_flat_shape(self) -> None:
        before = """
            from mcp import ClientSession

            async def run(session: ClientSession):
                listed = await session.list_tools()
                return [{"type": "function", "name": t.name, "parameters": t.input_schema} for t in listed.tools]
        """
        after = """
            from mcp import ClientSession

            async def run(session: ClientSession):
                listed = await session.list_tools()
                return code_mode.tool_definitions("openai-responses")
        """
        self.check(before, after)
