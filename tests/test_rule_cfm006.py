"""CFM006: `CodeMode` is opened next to the agent's MCP sessions when the rewritten code uses `code_mode`."""

from __future__ import annotations

from libcst.codemod import CodemodContext, CodemodTest

from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules._base import PATH_KEY, POLICY_KEY
from cfmigrate.migrate.rules._plan import ToolNames
from cfmigrate.migrate.rules.cfm006_code_mode_instance import InsertCodeMode

PLAN = MigrationPlan(
    config=".mcp.json",
    keep_direct=frozenset({"playwright/browser_snapshot", "other/tool"}),
    file_servers={"agents/bot.py": ("playwright", "drive")},
    server_ids={"playwright": "playwright"},
)


class TestInsertCodeMode(CodemodTest):
    TRANSFORM = InsertCodeMode
    maxDiff = None

    def check(
        self, before: str, after: str, warnings: list[str] | None = None, path: str = "agent.py"
    ) -> None:
        context = CodemodContext(scratch={PATH_KEY: path})
        self.assertCodemod(before, after, plan=PLAN, context_override=context, expected_warnings=warnings)

    def test_exit_stack_in_one_function(self) -> None:
        before = """
            from contextlib import AsyncExitStack
            from pathlib import Path

            async def run(messages):
                async with AsyncExitStack() as stack:
                    tools = code_mode.tool_definitions("anthropic")
                    return tools
        """
        after = """
            from contextlib import AsyncExitStack
            from pathlib import Path
            from cfmigrate.runtime import CodeMode, Policy

            async def run(messages):
                async with AsyncExitStack() as stack:
                    code_mode = await stack.enter_async_context(
                        CodeMode(
                            servers_dir=Path(__file__).with_name("servers"),
                            config=Path(__file__).with_name(".mcp.json"),
                            policy=Policy(destructive="allow"),
                        )
                    )
                    tools = code_mode.tool_definitions("anthropic")
                    return tools
        """
        self.check(before, after)

    def test_with_statement_of_an_mcp2_client_in_a_subfolder_with_kept_tools(self) -> None:
        before = """
            from mcp import Client

            async def run(url):
                async with Client(url) as client:
                    return code_mode.tool_definitions("openai")
        """
        after = """
            from mcp import Client
            from cfmigrate.runtime import CodeMode, Policy
            from pathlib import Path

            async def run(url):
                async with Client(url) as client, CodeMode(
                    servers_dir=Path(__file__).resolve().parents[1] / "servers",
                    config=Path(__file__).resolve().parents[1] / ".mcp.json",
                    keep_direct=("playwright/browser_snapshot",),
                    policy=Policy(destructive="allow"),
                ) as code_mode:
                    return code_mode.tool_definitions("openai")
        """
        self.check(before, after, path="agents/bot.py")

    def test_class_whose_connect_method_enters_sessions_on_its_stack(self) -> None:
        before = """
            from contextlib import AsyncExitStack
            from mcp import ClientSession

            class Agent:
                def __init__(self):
                    self.stack = AsyncExitStack()

                async def connect(self, read, write):
                    \"\"\"Open the session.\"\"\"
                    self.session = await self.stack.enter_async_context(ClientSession(read, write))

                async def ask(self, block):
                    return await code_mode.handle_tool_use(block.name, block.input)
        """
        after = """
            from contextlib import AsyncExitStack
            from mcp import ClientSession
            from cfmigrate.runtime import CodeMode, Policy
            from pathlib import Path

            class Agent:
                def __init__(self):
                    self.stack = AsyncExitStack()

                async def connect(self, read, write):
                    \"\"\"Open the session.\"\"\"
                    self.code_mode = await self.stack.enter_async_context(
                        CodeMode(
                            servers_dir=Path(__file__).with_name("servers"),
                            config=Path(__file__).with_name(".mcp.json"),
                            policy=Policy(destructive="allow"),
                        )
                    )
                    self.session = await self.stack.enter_async_context(ClientSession(read, write))

                async def ask(self, block):
                    return await self.code_mode.handle_tool_use(block.name, block.input)
        """
        self.check(before, after)

    def check_launch(self, before: str, after: str, warnings: list[str] | None = None) -> None:
        """With the agent's own launch `transport` (a name bound in `__init__`) handed to CodeMode."""
        from cfmigrate.migrate.rules._launch import LAUNCH_KEY, Launch

        launch = Launch("desk", "transport", ("transport",), (), 5, True)
        context = CodemodContext(scratch={PATH_KEY: "agent.py", LAUNCH_KEY: [launch]})
        self.assertCodemod(before, after, plan=PLAN, context_override=context, expected_warnings=warnings)

    def test_class_holding_its_client_on_self_gets_code_mode_in_init_after_the_launch(self) -> None:
        """`self.client = Client(transport)` in __init__, entered later: CodeMode is built where `transport` exists."""
        before = """
            from fastmcp import Client
            from fastmcp.client.transports import StdioTransport

            class Desk:
                def __init__(self):
                    transport = StdioTransport(command="python", args=["desk.py"])
                    self.client = Client(transport)

                async def ask(self, use):
                    async with self.client:
                        return await code_mode.handle_tool_use(use.name, use.input)
        """
        after = """
            from fastmcp import Client
            from fastmcp.client.transports import StdioTransport
            from cfmigrate.runtime import CodeMode, Policy
            from pathlib import Path

            class Desk:
                def __init__(self):
                    transport = StdioTransport(command="python", args=["desk.py"])
                    self.code_mode = CodeMode(
                        servers_dir=Path(__file__).with_name("servers"),
                        config=Path(__file__).with_name(".mcp.json"),
                        launches={
                            "desk": transport,
                        },
                        policy=Policy(destructive="allow"),
                    )
                    self.client = Client(transport)

                async def ask(self, use):
                    async with self.client:
                        return await self.code_mode.handle_tool_use(use.name, use.input)
        """
        self.check_launch(before, after)

    def test_module_level_code_mode_never_reads_a_function_local_launch(self) -> None:
        """No session to open next to: a module-level CodeMode could not see `transport`, so nothing is placed."""
        before = """
            from fastmcp.client.transports import StdioTransport

            def build():
                transport = StdioTransport(command="python", args=["desk.py"])
                return transport

            async def ask(use):
                return await code_mode.handle_tool_use(use.name, use.input)
        """
        self.check_launch(
            before,
            before,
            warnings=[
                "CFM006 line 3: the launch of server 'desk' (line 5) reads transport, which is not bound where "
                "code_mode opens; CodeMode could not start the server the way the agent does"
            ],
        )

    def test_no_session_opened_falls_back_to_a_module_level_code_mode_that_opens_itself(self) -> None:
        before = """
            import asyncio

            def tools():
                return code_mode.tool_definitions("anthropic")
        """
        after = """
            import asyncio
            from cfmigrate.runtime import CodeMode, Policy
            from pathlib import Path

            code_mode = CodeMode(
                servers_dir=Path(__file__).with_name("servers"),
                config=Path(__file__).with_name(".mcp.json"),
                policy=Policy(destructive="allow"),
            )


            def tools():
                return code_mode.tool_definitions("anthropic")
        """
        self.check(before, after)  # the runtime opens it on first use: no manual step

    # ------------------------------------------------------------------ left alone
    def test_code_mode_already_bound(self) -> None:
        code = """
            from cfmigrate.runtime import CodeMode

            code_mode = CodeMode(servers_dir="servers")

            def tools():
                return code_mode.tool_definitions("anthropic")
        """
        self.check(code, code)

    def test_no_use_of_code_mode(self) -> None:
        code = """
            from contextlib import AsyncExitStack

            async def run():
                async with AsyncExitStack() as stack:
                    return stack
        """
        self.check(code, code)

    def test_attribute_named_code_mode_is_not_a_use(self) -> None:
        code = """
            class Settings:
                code_mode = False

            def enabled(settings: Settings) -> bool:
                return settings.code_mode
        """
        self.check(code, code)

    def test_local_binding_in_function(self) -> None:
        code = """
            from cfmigrate.runtime import CodeMode

            async def run():
                async with CodeMode(servers_dir="servers") as code_mode:
                    return code_mode.system_prompt()
        """
        self.check(code, code)

    def test_code_mode_given_as_a_parameter(self) -> None:
        code = """
            async def ask(code_mode, block):
                return await code_mode.handle_tool_use(block.name, block.input)
        """
        self.check(code, code)

    def test_code_mode_only_read_off_another_object(self) -> None:
        code = """
            def tools(agent):
                return agent.code_mode.tool_definitions("anthropic")
        """
        self.check(code, code)


class TestInsertCodeModeForFrameworks(CodemodTest):
    TRANSFORM = InsertCodeMode

    def test_parenthesized_with_of_framework_servers_and_a_carried_tool_filter(self) -> None:
        before = """
            from agents.mcp import MCPServerStdio

            async def main():
                async with (
                    MCPServerStdio(name="docs", params={}) as docs,
                ):
                    return code_mode.system_prompt()
        """
        after = """
            from agents.mcp import MCPServerStdio
            from cfmigrate.runtime import CodeMode, Policy
            from pathlib import Path

            async def main():
                async with (
                    MCPServerStdio(name="docs", params={}) as docs,
                    CodeMode(
                        servers_dir=Path(__file__).with_name("servers"),
                        config=Path(__file__).with_name(".mcp.json"),
                        policy=Policy(
                            rules={
                                "docs/*": "deny",
                                "docs/search": "allow",
                            },
                            destructive="allow",
                        ),
                    ) as code_mode,
                ):
                    return code_mode.system_prompt()
        """
        rules = {"docs/search": "allow", "docs/*": "deny"}
        context = CodemodContext(scratch={PATH_KEY: "agent.py", POLICY_KEY: rules})
        self.assertCodemod(before, after, plan=PLAN, context_override=context)

    def test_a_server_kept_whole_is_kept_by_its_bare_id(self) -> None:
        plan = MigrationPlan(
            config=".mcp.json",
            tools={
                name: (ToolNames("playwright", name, name, "servers.playwright"),)
                for name in ("browser_snapshot", "browser_click")
            },
            keep_direct=frozenset({"playwright/browser_snapshot", "playwright/browser_click"}),
            file_servers={"agent.py": ("playwright",)},
            server_ids={"playwright": "playwright"},
        )
        before = """
            from mcp import Client

            async def run(url):
                async with Client(url) as client:
                    return code_mode.tool_definitions("openai")
        """
        after = """
            from mcp import Client
            from cfmigrate.runtime import CodeMode, Policy
            from pathlib import Path

            async def run(url):
                async with Client(url) as client, CodeMode(
                    servers_dir=Path(__file__).with_name("servers"),
                    config=Path(__file__).with_name(".mcp.json"),
                    keep_direct=("playwright",),
                    policy=Policy(destructive="allow"),
                ) as code_mode:
                    return code_mode.tool_definitions("openai")
        """
        self.assertCodemod(
            before, after, plan=plan, context_override=CodemodContext(scratch={PATH_KEY: "agent.py"})
        )
