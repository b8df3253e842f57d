"""Connect-time tool listings move onto `CodeMode.list_tools(server)`, so the agent's own sessions die whole.

Multi-server chatbots print what each server offers as they connect and route tool calls through a
table of sessions filled at the same time. After the rewrite only that listing (and the dead table)
still touches the sessions; CFM008 reads the listing from CodeMode instead and removes the sessions.
Where the server's name is not known at the listing, nothing moves and the agent needs manual work.
"""

from __future__ import annotations

import textwrap

import pytest

from cfmigrate.migrate.rules import MigrationPlan, all_rules
from cfmigrate.migrate.runner import transform_source

RULES = tuple(r.RULE_ID for r in all_rules())
TWO = MigrationPlan(file_servers={"bot.py": ("helpdesk", "kb")}, config="servers_config.json")
ONE = MigrationPlan(file_servers={"bot.py": ("helpdesk",)})

CHAT_METHOD = """
    async def chat(self, query):
        messages = [{"role": "user", "content": query}]
        while True:
            response = self.llm.messages.create(
                model="claude-opus-5", max_tokens=1000, messages=messages, tools=self.available_tools
            )
            if response.stop_reason != "tool_use":
                return response.content[0].text
            results = []
            for use in response.content:
                if use.type == "tool_use":
                    session = self.SESSIONS[use.name]
                    result = await session.call_tool(use.name, use.input)
                    results.append({"type": "tool_result", "tool_use_id": use.id, "content": result.content[0].text})
            messages.append({"role": "user", "content": results})
"""
CHAT = "\n" + textwrap.indent(textwrap.dedent(CHAT_METHOD), " " * 12)  # a method of the classes below


def run(source: str, plan: MigrationPlan = TWO) -> tuple[str, list[str]]:
    result = transform_source(textwrap.dedent(source).encode(), "bot.py", plan, RULES)
    assert result.status != "error", result.error
    text = (result.new or result.old or b"").decode()
    return text, [f"{s.rule}:{s.applied}:{s.message}" for s in result.sites]


def manual(sites: list[str]) -> list[str]:
    return [s for s in sites if ":False:" in s]


CONFIG_IN_METHOD = """
                with open("servers_config.json") as f:
                    config = json.load(f)
                for name, spec in config["mcpServers"].items():"""
CONFIG_ON_SELF = """
                for name, spec in self.servers.items():"""


@pytest.mark.parametrize(
    "table", [CONFIG_IN_METHOD, CONFIG_ON_SELF], ids=["config-in-method", "servers-on-self"]
)
def test_a_config_loop_printing_each_servers_tools_lists_them_from_code_mode(table: str) -> None:
    source = (
        """
        import json
        from contextlib import AsyncExitStack

        from anthropic import Anthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client


        class Chat:
            def __init__(self):
                self.exit_stack = AsyncExitStack()
                self.sessions: dict[str, ClientSession] = {}
                self.available_tools = []
                self.llm = Anthropic()
                with open("servers_config.json") as f:
                    self.servers = json.load(f)["mcpServers"]

            async def connect(self):TABLE
                    params = StdioServerParameters(command=spec["command"], args=spec["args"], env=spec.get("env"))
                    read, write = await self.exit_stack.enter_async_context(stdio_client(params))
                    session = await self.exit_stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    response = await session.list_tools()
                    for tool in response.tools:
                        self.sessions[tool.name] = session
                        self.available_tools.append(
                            {"name": tool.name, "description": tool.description, "input_schema": tool.inputSchema}
                        )
                    print(f"connected to {name}: {len(response.tools)} tools")
""".replace("TABLE", table)
        + CHAT.replace("SESSIONS", "sessions")
    )
    text, sites = run(source)
    assert not manual(sites), sites
    assert "response = await self.code_mode.list_tools(name)" in text, text
    assert 'print(f"connected to {name}: {len(response.tools)} tools")' in text
    for gone in ("ClientSession", "stdio_client", "StdioServerParameters", "self.sessions", "initialize()"):
        assert gone not in text, (gone, text)
    assert "self.code_mode.handle_tool_use(use.name, use.input)" in text
    assert any("connect-time tool listing" in s for s in sites), sites


def test_a_connect_method_called_per_config_entry_takes_the_server_name_from_its_parameter() -> None:
    # The course-style chatbot: `connect_to_server(server_name, server_config)` called from a loop over
    # `data.get("mcpServers", {})`, sessions appended to a list and a tool -> session table.
    source = """
        import json
        from contextlib import AsyncExitStack
        from typing import Dict, List

        from anthropic import Anthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client


        class MCP_ChatBot:
            def __init__(self):
                self.sessions: List[ClientSession] = []
                self.exit_stack = AsyncExitStack()
                self.llm = Anthropic()
                self.available_tools = []
                self.tool_to_session: Dict[str, ClientSession] = {}

            async def connect_to_server(self, server_name, server_config):
                try:
                    server_params = StdioServerParameters(**server_config)
                    stdio_transport = await self.exit_stack.enter_async_context(stdio_client(server_params))
                    read, write = stdio_transport
                    session = await self.exit_stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    self.sessions.append(session)
                    response = await session.list_tools()
                    tools = response.tools
                    print(f"Connected to {server_name} with tools:", [t.name for t in tools])
                    for tool in tools:
                        self.tool_to_session[tool.name] = session
                        self.available_tools.append(
                            {"name": tool.name, "description": tool.description, "input_schema": tool.inputSchema}
                        )
                except Exception as e:
                    print(f"Failed to connect to {server_name}: {e}")

            async def connect_to_servers(self):
                try:
                    with open("servers_config.json", "r") as file:
                        data = json.load(file)
                    servers = data.get("mcpServers", {})
                    for server_name, server_config in servers.items():
                        await self.connect_to_server(server_name, server_config)
                except Exception as e:
                    print(f"Error loading server configuration: {e}")
                    raise
""" + CHAT.replace("SESSIONS", "tool_to_session")
    text, sites = run(source)
    assert "response = await self.code_mode.list_tools(server_name)" in text, (text, sites)
    assert 'print(f"Connected to {server_name} with tools:", [t.name for t in tools])' in text
    for gone in ("ClientSession", "stdio_client", "self.sessions", "self.tool_to_session", "read, write"):
        assert gone not in text, (gone, text)
    assert "StdioServerParameters" not in text and "stdio_transport" not in text, text
    assert not manual(sites), sites


def test_a_single_server_agent_lists_its_one_server_by_name() -> None:
    source = """
        from contextlib import AsyncExitStack

        from anthropic import Anthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        PARAMS = StdioServerParameters(command="python", args=["helpdesk_server.py"])


        class Chat:
            def __init__(self):
                self.exit_stack = AsyncExitStack()
                self.sessions = {}
                self.available_tools = []
                self.llm = Anthropic()

            async def connect(self):
                read, write = await self.exit_stack.enter_async_context(stdio_client(PARAMS))
                session = await self.exit_stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                listed = await session.list_tools()
                print("tools:", ", ".join(t.name for t in listed.tools))
                for tool in listed.tools:
                    self.sessions[tool.name] = session
                    self.available_tools.append(
                        {"name": tool.name, "description": tool.description, "input_schema": tool.inputSchema}
                    )
""" + CHAT.replace("SESSIONS", "sessions")
    text, sites = run(source, ONE)
    assert not manual(sites), sites
    assert 'listed = await self.code_mode.list_tools("helpdesk")' in text, text
    assert "ClientSession" not in text and "self.sessions" not in text, text


def test_a_listing_whose_server_cannot_be_named_stays_and_the_agent_needs_manual_work() -> None:
    # A list of launches, not a config's server table: which server a session belongs to is not known here.
    source = """
        from contextlib import AsyncExitStack

        from anthropic import Anthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        LAUNCHES = [StdioServerParameters(command="python", args=[f"{n}_server.py"]) for n in ("helpdesk", "kb")]


        class Chat:
            def __init__(self):
                self.exit_stack = AsyncExitStack()
                self.sessions = {}
                self.available_tools = []
                self.llm = Anthropic()

            async def connect(self):
                for params in LAUNCHES:
                    read, write = await self.exit_stack.enter_async_context(stdio_client(params))
                    session = await self.exit_stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    response = await session.list_tools()
                    print(f"{params.args[0]}: {len(response.tools)} tools")
                    for tool in response.tools:
                        self.sessions[tool.name] = session
                        self.available_tools.append(
                            {"name": tool.name, "description": tool.description, "input_schema": tool.inputSchema}
                        )
""" + CHAT.replace("SESSIONS", "sessions")
    text, sites = run(source)
    assert "code_mode.list_tools" not in text, text
    assert any("CodeMode would start that server a second time" in s for s in manual(sites)), sites


def test_a_session_table_still_read_elsewhere_keeps_the_sessions() -> None:
    # `self.sessions` is also read by a health check: the table, the sessions and the listing stay.
    source = """
        import json
        from contextlib import AsyncExitStack

        from anthropic import Anthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client


        class Chat:
            def __init__(self):
                self.exit_stack = AsyncExitStack()
                self.sessions = {}
                self.available_tools = []
                self.llm = Anthropic()

            async def connect(self):
                config = json.load(open("servers_config.json"))
                for name, spec in config["mcpServers"].items():
                    params = StdioServerParameters(command=spec["command"], args=spec["args"])
                    read, write = await self.exit_stack.enter_async_context(stdio_client(params))
                    session = await self.exit_stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    response = await session.list_tools()
                    print(name, len(response.tools))
                    for tool in response.tools:
                        self.sessions[tool.name] = session
                        self.available_tools.append(
                            {"name": tool.name, "description": tool.description, "input_schema": tool.inputSchema}
                        )

            async def ping_all(self):
                for session in set(self.sessions.values()):
                    await session.send_ping()
""" + CHAT.replace("SESSIONS", "sessions")
    text, sites = run(source)
    assert "code_mode.list_tools" not in text, text
    assert "self.sessions[tool.name] = session" in text
    assert manual(sites), sites


QUICKSTART_LOOP = """
    async def process_query(self, query):
        response = await self.session.list_tools()
        available_tools = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.inputSchema}
            for tool in response.tools
        ]
        messages = [{"role": "user", "content": query}]
        while True:
            response = self.anthropic.messages.create(
                model="claude-sonnet-5", max_tokens=1000, messages=messages, tools=available_tools
            )
            results = []
            for content in response.content:
                if content.type == "tool_use":
                    result = await self.session.call_tool(content.name, content.input)
                    results.append({"type": "tool_result", "tool_use_id": content.id, "content": result.content})
            if not results:
                return response.content[0].text
            messages.append({"role": "assistant", "content": response.content})
            messages.append({"role": "user", "content": results})
"""


CONNECT_LOCALS = """
            read, write = await self.exit_stack.enter_async_context(stdio_client(PARAMS))
            self.session = await self.exit_stack.enter_async_context(ClientSession(read, write))
"""
CONNECT_ON_SELF = """
            server_params = StdioServerParameters(command="python", args=["helpdesk_server.py"], env=None)
            stdio_transport = await self.exit_stack.enter_async_context(stdio_client(server_params))
            self.stdio, self.write = stdio_transport
            self.session = await self.exit_stack.enter_async_context(ClientSession(self.stdio, self.write))
"""


@pytest.mark.parametrize("connect", [CONNECT_LOCALS, CONNECT_ON_SELF], ids=["locals", "transport-on-self"])
def test_a_session_held_on_self_and_listed_at_connect_time_moves_whole(connect: str) -> None:
    # The quickstart client's shape with a fixed server: `self.session`, its tools printed on connect.
    source = (
        """
        from contextlib import AsyncExitStack
        from typing import Optional

        from anthropic import Anthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        PARAMS = StdioServerParameters(command="python", args=["helpdesk_server.py"])


        class MCPClient:
            def __init__(self):
                self.session: Optional[ClientSession] = None
                self.exit_stack = AsyncExitStack()
                self.anthropic = Anthropic()

            async def connect_to_server(self):"""
        + connect.rstrip().replace("\n            ", "\n                ")
        + """
                await self.session.initialize()
                response = await self.session.list_tools()
                tools = response.tools
                print("Connected to server with tools:", [tool.name for tool in tools])
"""
        + "\n"
        + textwrap.indent(textwrap.dedent(QUICKSTART_LOOP), " " * 12)
    )
    text, sites = run(source, ONE)
    assert not manual(sites), (sites, text)
    assert 'response = await self.code_mode.list_tools("helpdesk")' in text, text
    assert 'print("Connected to server with tools:", [tool.name for tool in tools])' in text
    for gone in ("ClientSession", "self.session", "stdio_client", "self.stdio"):
        assert gone not in text, (gone, text)
    launch = "server_params" if "server_params" in connect else "PARAMS"
    assert f'"helpdesk": {launch},' in text, text  # the agent's own launch is what CodeMode starts


def test_sessions_kept_by_server_name_and_a_tool_to_server_table_go_the_same_way() -> None:
    # `self.sessions[server_name] = session` outside the tool loop; the tool -> server table stays (it
    # holds names, not sessions), the sessions table goes once the dispatch no longer reads it.
    source = """
        import json
        from contextlib import AsyncExitStack

        from anthropic import AsyncAnthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client


        class MultiServerClient:
            def __init__(self):
                self.exit_stack = AsyncExitStack()
                self.sessions: dict[str, ClientSession] = {}
                self.tool_server: dict[str, str] = {}
                self.tools = []
                self.client = AsyncAnthropic()

            async def start(self):
                with open("servers_config.json") as fh:
                    servers = json.load(fh)["mcpServers"]
                for server_name, cfg in servers.items():
                    params = StdioServerParameters(command=cfg["command"], args=cfg.get("args", []))
                    read, write = await self.exit_stack.enter_async_context(stdio_client(params))
                    session = await self.exit_stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    self.sessions[server_name] = session
                    listing = await session.list_tools()
                    print(f"[{server_name}] {', '.join(t.name for t in listing.tools)}")
                    for t in listing.tools:
                        self.tool_server[t.name] = server_name
                        self.tools.append({"name": t.name, "description": t.description, "input_schema": t.inputSchema})

            async def ask(self, question):
                messages = [{"role": "user", "content": question}]
                while True:
                    reply = await self.client.messages.create(
                        model="claude-sonnet-5", max_tokens=800, messages=messages, tools=self.tools
                    )
                    uses = [b for b in reply.content if b.type == "tool_use"]
                    if not uses:
                        return reply.content[0].text
                    messages.append({"role": "assistant", "content": reply.content})
                    results = []
                    for use in uses:
                        session = self.sessions[self.tool_server[use.name]]
                        out = await session.call_tool(use.name, use.input)
                        results.append({"type": "tool_result", "tool_use_id": use.id, "content": out.content[0].text})
                    messages.append({"role": "user", "content": results})
    """
    text, sites = run(source)
    assert not manual(sites), sites
    assert "listing = await self.code_mode.list_tools(server_name)" in text, text
    assert "self.tool_server[t.name] = server_name" in text
    for gone in ("ClientSession", "self.sessions", "stdio_client", "StdioServerParameters"):
        assert gone not in text, (gone, text)


def test_a_function_agent_printing_each_servers_tool_count_lists_them_from_its_code_mode() -> None:
    # No class: the sessions live in a local table inside `async with AsyncExitStack()`; the loop is over the
    # table's keys and reads each entry (`spec = config["mcpServers"][name]`).
    source = """
        import json
        import sys
        from contextlib import AsyncExitStack
        from pathlib import Path

        from anthropic import AsyncAnthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        CONFIG = Path(__file__).with_name("servers_config.json")


        async def run(task):
            llm = AsyncAnthropic()
            config = json.loads(CONFIG.read_text())
            async with AsyncExitStack() as stack:
                sessions = {}
                tools = []
                for name in config["mcpServers"]:
                    spec = config["mcpServers"][name]
                    params = StdioServerParameters(command=spec["command"], args=spec["args"])
                    read, write = await stack.enter_async_context(stdio_client(params))
                    session = await stack.enter_async_context(ClientSession(read, write))
                    await session.initialize()
                    listing = await session.list_tools()
                    print(f"{name}: {len(listing.tools)} tools", file=sys.stderr)
                    for t in listing.tools:
                        sessions[t.name] = session
                        tools.append({"name": t.name, "description": t.description, "input_schema": t.inputSchema})
                messages = [{"role": "user", "content": task}]
                while True:
                    reply = await llm.messages.create(model="claude-sonnet-5", max_tokens=900, tools=tools, messages=messages)
                    messages.append({"role": "assistant", "content": reply.content})
                    uses = [b for b in reply.content if b.type == "tool_use"]
                    if not uses:
                        return reply.content[-1].text
                    results = []
                    for use in uses:
                        out = await sessions[use.name].call_tool(use.name, use.input)
                        results.append({"type": "tool_result", "tool_use_id": use.id, "content": out.content[0].text})
                    messages.append({"role": "user", "content": results})
    """
    text, sites = run(source)
    assert not manual(sites), sites
    assert "listing = await code_mode.list_tools(name)" in text, text
    assert 'print(f"{name}: {len(listing.tools)} tools", file=sys.stderr)' in text
    for gone in ("ClientSession", "sessions", "spec", "StdioServerParameters", "stdio_client"):
        assert gone not in text, (gone, text)
    # CodeMode is entered before the loop that lists from it
    assert text.index("code_mode = await stack.enter_async_context(") < text.index(
        "code_mode.list_tools(name)"
    )
