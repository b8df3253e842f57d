"""CFM008: MCP sessions the rewrite left unread go, with the helpers and imports only they used; nothing still read."""

from __future__ import annotations

from libcst.codemod import CodemodContext, CodemodTest

from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules._base import ORPHANS_KEY
from cfmigrate.migrate.rules._plan import SITES_KEY
from cfmigrate.migrate.rules.cfm008_dead_sessions import RemoveDeadSessions

PLAN = MigrationPlan()
DESCRIBE = '\n\n    def describe(tools):\n        return ", ".join(t["name"] for t in tools)\n'

SEED_LIKE = (
    """
    import json
    from contextlib import AsyncExitStack
    from pathlib import Path

    from cfmigrate.runtime import CodeMode
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    CONFIG = Path("servers.json")


    def load_servers(path=CONFIG):
        \"\"\"Launch parameters from the config.\"\"\"
        return {n: StdioServerParameters(**s) for n, s in json.loads(path.read_text()).items()}
"""
    + DESCRIBE
    + """

    async def run(task):
        async with AsyncExitStack() as stack:
            code_mode = await stack.enter_async_context(CodeMode(servers_dir="servers"))
            sessions = {}
            tools = code_mode.tool_definitions("anthropic")
            for params in load_servers().values():
                read, write = await stack.enter_async_context(stdio_client(params))
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                listing = await session.list_tools()
                for t in listing.tools:
                    sessions[t.name] = session
            return await code_mode.handle_tool_use("execute_code", {"code": task}), tools
"""
)


class TestRemoveDeadSessions(CodemodTest):
    TRANSFORM = RemoveDeadSessions

    def check(
        self,
        before: str,
        after: str,
        orphans: set[tuple[str, str]],
        warnings: list[str] | None = None,
    ) -> list[str]:
        context = CodemodContext(scratch={ORPHANS_KEY: set(orphans), SITES_KEY: []})
        self.assertCodemod(before, after, plan=PLAN, context_override=context, expected_warnings=warnings)
        return [s.message for s in context.scratch[SITES_KEY] if s.applied]

    # ------------------------------------------------------------------ removed
    def test_session_loop_helpers_and_imports_of_the_seed_agent(self) -> None:
        after = """
            from contextlib import AsyncExitStack
            from pathlib import Path

            from cfmigrate.runtime import CodeMode

            CONFIG = Path("servers.json")


            def describe(tools):
                return ", ".join(t["name"] for t in tools)


            async def run(task):
                async with AsyncExitStack() as stack:
                    code_mode = await stack.enter_async_context(CodeMode(servers_dir="servers"))
                    tools = code_mode.tool_definitions("anthropic")
                    return await code_mode.handle_tool_use("execute_code", {"code": task}), tools
        """
        applied = self.check(
            SEED_LIKE,
            after,
            {("run", "sessions")},
            [
                "CFM008 line 9: CONFIG is now unused: only code the migration removed read it; delete it unless "
                "another module imports it"
            ],
        )
        assert applied == [
            "removed MCP session code nothing reads any more (listing, params, read, session, sessions, t, write)",
            "removed load_servers(): only code the migration removed called it",
        ]

    def test_helper_only_the_old_prompt_called_goes(self) -> None:
        applied = self.check(SEED_LIKE, SEED_LIKE.replace(DESCRIBE, ""), {("run", "describe")})
        assert applied == ["removed describe(): only code the migration removed called it"]

    def test_framework_server_items_of_a_with_go_and_code_mode_stays(self) -> None:
        before = """
            from agents import Agent, Runner
            from agents.mcp import MCPServerStdio, MCPServerStreamableHttp
            from cfmigrate.runtime import CodeMode

            async def main():
                async with (
                    MCPServerStdio(name="fs", params={"command": "npx"}) as fs,
                    MCPServerStreamableHttp(name="gh", params={"url": "http://x"}) as gh,
                    CodeMode(servers_dir="servers") as code_mode,
                ):
                    agent = Agent(name="a", instructions=code_mode.system_prompt(), mcp_servers=[gh])
                    return await Runner.run(agent, "go")
        """
        after = """
            from agents import Agent, Runner
            from agents.mcp import MCPServerStreamableHttp
            from cfmigrate.runtime import CodeMode

            async def main():
                async with (
                    MCPServerStreamableHttp(name="gh", params={"url": "http://x"}) as gh,
                    CodeMode(servers_dir="servers") as code_mode,
                ):
                    agent = Agent(name="a", instructions=code_mode.system_prompt(), mcp_servers=[gh])
                    return await Runner.run(agent, "go")
        """
        self.check(before, after, {("main", "fs"), ("main", "gh")})

    def test_transport_and_session_items_go_when_nothing_reads_them(self) -> None:
        before = """
            from cfmigrate.runtime import CodeMode
            from mcp import ClientSession
            from mcp.client.stdio import stdio_client

            async def ask(params, task):
                async with stdio_client(params) as (read, write), ClientSession(read, write) as session, CodeMode() as code_mode:
                    return await code_mode.handle_tool_use("execute_code", {"code": task})
        """
        after = """
            from cfmigrate.runtime import CodeMode

            async def ask(params, task):
                async with CodeMode() as code_mode:
                    return await code_mode.handle_tool_use("execute_code", {"code": task})
        """
        self.check(before, after, {("ask", "session")})

    def test_session_set_up_inside_a_loop_that_does_more(self) -> None:
        before = """
            from mcp import ClientSession
            from mcp.client.stdio import stdio_client

            async def start(stack, servers):
                sessions = {}
                for name, params in servers.items():
                    print("starting", name)
                    read, write = await stack.enter_async_context(stdio_client(params))
                    session = await stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    sessions[name] = session
                return len(servers)
        """
        after = """
            async def start(stack, servers):
                for name, params in servers.items():
                    print("starting", name)
                return len(servers)
        """
        self.check(before, after, {("start", "sessions")})

    # ------------------------------------------------------------------ left alone
    def test_sessions_still_read_for_a_kept_direct_tool(self) -> None:
        code = SEED_LIKE.replace(
            'return await code_mode.handle_tool_use("execute_code", {"code": task}), tools',
            'return await sessions["browser_snapshot"].call_tool("browser_snapshot", {}), tools',
        )
        self.check(code, code, {("run", "sessions")})

    def test_dead_sessions_the_migration_did_not_make_dead(self) -> None:
        self.check(SEED_LIKE, SEED_LIKE, {("other_function", "sessions")})

    def test_sessions_stored_on_an_attribute_or_a_parameter(self) -> None:
        code = """
            from mcp import ClientSession

            class Agent:
                async def connect(self, stack, read, write, registry):
                    session = await stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    self.sessions["main"] = session
                    registry["main"] = session
        """
        self.check(code, code, {("Agent.connect", "session")})

    def test_a_function_that_inspects_its_locals(self) -> None:
        code = """
            from mcp import ClientSession

            async def connect(stack, read, write):
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                return locals()
        """
        self.check(code, code, {("connect", "session")})

    def test_a_with_whose_only_item_is_the_session_is_unwrapped(self) -> None:
        before = """
            from mcp import ClientSession

            async def ask(read, write, task):
                async with ClientSession(read, write) as session:
                    return task
        """
        after = """
            async def ask(read, write, task):
                return task
        """
        self.check(before, after, {("ask", "session")})

    def test_not_an_mcp_session(self) -> None:
        code = """
            import httpx

            async def fetch(stack):
                sessions = {}
                client = await stack.enter_async_context(httpx.AsyncClient())
                sessions["web"] = client
                return 1
        """
        self.check(code, code, {("fetch", "sessions")})

    def test_exported_decorated_and_still_called_helpers_stay(self) -> None:
        code = """
            import functools

            __all__ = ["describe"]


            def describe(tools):
                return ", ".join(tools)


            @functools.cache
            def listing(tools):
                return ", ".join(tools)


            def names(tools):
                return ", ".join(tools)


            def run(tools):
                return names(tools)
        """
        self.check(
            code,
            code,
            {("run", "describe"), ("run", "listing"), ("run", "names")},
            [
                "CFM008 line 11: listing is now unused: only code the migration removed read it; delete it unless "
                "another module imports it"
            ],
        )


class TestSessionsNothingReads(CodemodTest):
    """Sessions held on `self`, nested `with` statements and session parameters the rewrite left unread."""

    TRANSFORM = RemoveDeadSessions

    def check(self, before: str, after: str, orphans: set[tuple[str, str]]) -> list[str]:
        context = CodemodContext(scratch={ORPHANS_KEY: set(orphans), SITES_KEY: []})
        self.assertCodemod(before, after, plan=PLAN, context_override=context)
        return [s.message for s in context.scratch[SITES_KEY] if s.applied]

    def test_a_with_left_without_items_is_unwrapped(self) -> None:
        before = """
            from cfmigrate.runtime import CodeMode
            from mcp import ClientSession
            from mcp.client.stdio import stdio_client


            async def run(params, task):
                async with stdio_client(params) as (read, write):
                    async with ClientSession(read, write) as session, CodeMode() as code_mode:
                        await session.initialize()
                        return await code_mode.handle_tool_use("execute_code", {"code": task})
        """
        after = """
            from cfmigrate.runtime import CodeMode


            async def run(params, task):
                async with CodeMode() as code_mode:
                    return await code_mode.handle_tool_use("execute_code", {"code": task})
        """
        self.check(before, after, {("run", "session")})

    def test_a_client_held_on_self_and_entered_without_as_goes(self) -> None:
        """`self.client = Client(transport)` + `async with self.client:`: the with is unwrapped, the client goes."""
        before = """
            from fastmcp import Client
            from fastmcp.client.transports import StdioTransport


            class Desk:
                def __init__(self):
                    transport = StdioTransport(command="python", args=["desk.py"])
                    self.code_mode = CodeMode(launches={"desk": transport})
                    self.client = Client(transport)

                async def ask(self, task):
                    async with self.client:
                        print("asking")
                        return await self.code_mode.handle_tool_use("execute_code", {"code": task})
        """
        after = """
            from fastmcp.client.transports import StdioTransport


            class Desk:
                def __init__(self):
                    transport = StdioTransport(command="python", args=["desk.py"])
                    self.code_mode = CodeMode(launches={"desk": transport})

                async def ask(self, task):
                    print("asking")
                    return await self.code_mode.handle_tool_use("execute_code", {"code": task})
        """
        assert self.check(before, after, {("Desk.ask", "self")})

    def test_a_client_on_self_read_elsewhere_stays(self) -> None:
        before = """
            from fastmcp import Client


            class Desk:
                def __init__(self):
                    self.client = Client("desk.py")

                async def ask(self, task):
                    async with self.client:
                        print(await self.client.list_resources())
                        return await self.code_mode.handle_tool_use("execute_code", {"code": task})
        """
        assert not self.check(before, before, {("Desk.ask", "self")})

    def test_a_session_held_on_self_goes_with_its_transport(self) -> None:
        before = """
            from contextlib import AsyncExitStack

            from mcp import ClientSession, StdioServerParameters
            from mcp.client.stdio import stdio_client


            class Bot:
                def __init__(self):
                    self.session: ClientSession | None = None
                    self.stack = AsyncExitStack()

                async def connect(self):
                    params = StdioServerParameters(command="python", args=["srv.py"])
                    self.code_mode = await self.stack.enter_async_context(CodeMode(launches={"srv": params}))
                    read, write = await self.stack.enter_async_context(stdio_client(params))
                    self.session = await self.stack.enter_async_context(ClientSession(read, write))
                    await self.session.initialize()

                async def ask(self, task):
                    return await self.code_mode.handle_tool_use("execute_code", {"code": task})
        """
        after = """
            from contextlib import AsyncExitStack

            from mcp import StdioServerParameters


            class Bot:
                def __init__(self):
                    self.stack = AsyncExitStack()

                async def connect(self):
                    params = StdioServerParameters(command="python", args=["srv.py"])
                    self.code_mode = await self.stack.enter_async_context(CodeMode(launches={"srv": params}))

                async def ask(self, task):
                    return await self.code_mode.handle_tool_use("execute_code", {"code": task})
        """
        applied = self.check(before, after, {("Bot.ask", "self")})
        assert any("self.session" in m for m in applied), applied

    def test_a_session_still_read_on_self_stays(self) -> None:
        before = """
            from mcp import ClientSession


            class Bot:
                async def connect(self, read, write):
                    self.session = await self.stack.enter_async_context(ClientSession(read, write))
                    await self.session.initialize()

                async def names(self):
                    return await self.session.list_tools()

                async def ask(self, task):
                    return await self.code_mode.handle_tool_use("execute_code", {"code": task})
        """
        self.check(before, before, {("Bot.ask", "self")})

    def test_an_unread_session_parameter_goes_with_the_callers_argument(self) -> None:
        before = """
            from mcp import ClientSession, StdioServerParameters
            from mcp.client.stdio import stdio_client

            PARAMS = StdioServerParameters(command="python", args=["srv.py"])


            async def agent(session: ClientSession, task: str) -> str:
                return await code_mode.handle_tool_use("execute_code", {"code": task})


            async def main(task: str) -> str:
                async with stdio_client(PARAMS) as (read, write), ClientSession(read, write) as session:
                    await session.initialize()
                    return await agent(session, task)
        """
        after = """
            from mcp import StdioServerParameters

            PARAMS = StdioServerParameters(command="python", args=["srv.py"])


            async def agent(task: str) -> str:
                return await code_mode.handle_tool_use("execute_code", {"code": task})


            async def main(task: str) -> str:
                return await agent(task)
        """
        self.check(before, after, {("agent", "session"), ("main", "session")})

    def test_an_exported_function_keeps_its_parameter(self) -> None:
        before = """
            from mcp import ClientSession

            __all__ = ["agent"]


            async def agent(session: ClientSession, task: str) -> str:
                return await code_mode.handle_tool_use("execute_code", {"code": task})
        """
        self.check(before, before, {("agent", "session")})
