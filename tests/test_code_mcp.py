"""Static analysis of MCP clients and servers written directly against the SDK (1.x and 2.x), look-alikes,
and bad input. The extraction of an MCPServer's tools is compared with what the live server reports."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from cfmigrate.analyzers.code import MAX_FILE_BYTES, PREFILTER, PythonFacts, analyze_python, is_relevant

REPO = Path(__file__).resolve().parents[1]
NEGATIVES = REPO / "fixtures" / "negatives"


def analyze(source: str, rel: str = "agent.py") -> PythonFacts:
    return analyze_python(textwrap.dedent(source).encode(), rel)


# --- clients -------------------------------------------------------------------------------------

ALIASED = """
    import asyncio
    import mcp as m
    from mcp import ClientSession as CS
    import mcp.client.stdio

    params = m.StdioServerParameters(command="uvx", args=["mcp-server-git", "--repository", "."])

    async def status(session: CS) -> None:
        await session.call_tool("git_status", {"repo_path": "."})

    async def main() -> None:
        async with mcp.client.stdio.stdio_client(params) as (read, write):
            async with CS(read, write) as session:
                await session.initialize()
                await session.call_tool("git_log", {"repo_path": ".", "max_count": 3})
                await status(session)
"""


def test_aliased_imports_are_mcp() -> None:
    f = analyze(ALIASED)
    [spec] = f.servers
    assert (spec.name, spec.command, spec.args, spec.package) == (
        "git",
        "uvx",
        ("mcp-server-git", "--repository", "."),
        "mcp-server-git",
    )
    [agent] = f.agents
    assert agent.framework == "mcp"
    assert agent.servers == ("git",)
    assert agent.tool_sequence == ("git_status", "git_log")
    assert [(c.source.line, c.tool, c.server) for c in agent.call_sites] == [
        (10, "git_status", None),  # a parameter annotated ClientSession: MCP, server not knowable here
        (16, "git_log", "git"),
    ]


def test_mcp2_client_over_stdio_parameters_and_url() -> None:
    f = analyze(
        """
        from mcp import Client, StdioServerParameters

        async def main():
            async with Client(StdioServerParameters(command="mcp-server-time")) as local:
                await local.call_tool("get_current_time", {"timezone": "UTC"})
            async with Client("https://mcp.deepwiki.com/mcp") as remote:
                tools = await remote.list_tools()
        """
    )
    assert [(s.name, s.transport) for s in f.servers] == [("deepwiki", "http"), ("time", "stdio")]
    [agent] = f.agents
    assert [(c.kind, c.api, c.server) for c in agent.call_sites] == [
        ("call_tool", "mcp.Client.call_tool", "time"),
        ("list_tools", "mcp.Client.list_tools", "deepwiki"),
    ]


def test_mcp1_streamable_http_and_sse_transports_keep_header_names_only() -> None:
    f = analyze(
        """
        import os
        from mcp import ClientSession
        from mcp.client.sse import sse_client
        from mcp.client.streamable_http import streamablehttp_client

        async def main():
            headers = {"Authorization": "Bearer sk-live-1234567890abcdef", "X-Team": os.getenv("TEAM_ID")}
            async with streamablehttp_client("https://tools.example.com/mcp", headers=headers) as (r, w, _):
                async with ClientSession(r, w) as s:
                    await s.call_tool("search", {"q": "x"})
            async with sse_client("http://localhost:9000/sse") as (r2, w2):
                async with ClientSession(r2, w2) as s2:
                    await s2.list_tools()
        """
    )
    specs = {s.name: s for s in f.servers}
    assert set(specs) == {"example", "localhost-9000"}
    assert specs["example"].transport == "http"
    assert specs["example"].header_names == ("Authorization", "X-Team")
    assert specs["example"].env_refs == ("${TEAM_ID}",)
    assert specs["localhost-9000"].transport == "sse"
    dumped = json.dumps([vars(s) for s in f.servers], default=str)
    assert "sk-live" not in dumped  # header values are never kept


def test_env_values_are_never_stored_and_secret_args_are_redacted() -> None:
    f = analyze(
        """
        from mcp import StdioServerParameters
        brave_params = StdioServerParameters(
            command="npx",
            args=["-y", "@modelcontextprotocol/server-brave-search", "--api-key", "BSAabcdef0123456789xyz"],
            env={"BRAVE_API_KEY": "BSAabcdef0123456789xyz", "REGION": "eu"},
        )
        """
    )
    [spec] = f.servers
    assert spec.name == "brave"
    assert spec.env_names == ("BRAVE_API_KEY", "REGION")
    assert "BSAabcdef0123456789xyz" not in json.dumps(vars(spec), default=str)


def test_fastmcp_client_to_script_and_config_dict() -> None:
    f = analyze(
        """
        from fastmcp import Client

        async def main():
            async with Client("servers/echo.py") as c:
                await c.call_tool("echo", {"text": "hi"})
            config = {"mcpServers": {"weather": {"url": "https://weather.example.com/mcp"}}}
            async with Client(config) as multi:
                await multi.call_tool("forecast", {"city": "Oslo"})
        """,
        rel="apps/agent.py",
    )
    specs = {s.name: s for s in f.servers}
    assert specs["echo"].command == "python" and specs["echo"].args == ("servers/echo.py",)
    assert specs["weather"].url == "https://weather.example.com/mcp"
    [agent] = f.agents
    assert [(c.api, c.tool, c.server) for c in agent.call_sites] == [
        ("fastmcp.Client.call_tool", "echo", "echo"),
        ("fastmcp.Client.call_tool", "forecast", "weather"),
    ]


def test_fastmcp_client_on_a_transport_bound_to_a_name() -> None:
    """`transport = StdioTransport(...)` then `Client(transport)` (inline too) links the server it launches."""
    f = analyze(
        """
        from fastmcp import Client
        from fastmcp.client.transports import StdioTransport, StreamableHttpTransport

        class Desk:
            def __init__(self):
                transport = StdioTransport(command="python", args=["srv/desk.py"], env={"DESK_DATA": "d.json"})
                self.client = Client(transport)

            async def go(self):
                async with self.client:
                    await self.client.call_tool("open_ticket", {"title": "x"})
                async with Client(StreamableHttpTransport("http://127.0.0.1:9000/mcp")) as web:
                    await web.call_tool("ping", {})
        """
    )
    by_tool = {c.tool: c.server for c in f.agents[0].call_sites} if f.agents else {}
    specs = {s.name: s for s in f.servers}
    desk = specs[by_tool["open_ticket"]]
    assert (desk.command, desk.args, desk.env_names) == ("python", ("srv/desk.py",), ("DESK_DATA",))
    assert specs[by_tool["ping"]].url == "http://127.0.0.1:9000/mcp"


def test_client_session_group_reaches_every_server_it_connects() -> None:
    """`for params in SERVERS: await group.connect_to_server(params)` links every server of the list."""
    f = analyze(
        """
        import anthropic
        from mcp import ClientSessionGroup, StdioServerParameters

        SERVERS = [
            StdioServerParameters(command="python", args=["desk.py"]),
            StdioServerParameters(command="python", args=["kb.py"]),
        ]

        async def main(task):
            async with ClientSessionGroup() as group:
                for params in SERVERS:
                    await group.connect_to_server(params)
                await group.call_tool("create_ticket", {"title": task})
                await anthropic.AsyncAnthropic().messages.create(model="claude-sonnet-5", max_tokens=9, messages=[])
        """
    )
    [agent] = f.agents
    assert sorted(s.args[0] for s in f.servers) == ["desk.py", "kb.py"]
    assert len(agent.servers) == 2
    [site] = agent.call_sites
    assert site.tool == "create_ticket"


def test_a_sync_agent_behind_an_anyio_portal_is_an_agent() -> None:
    """`portal.wrap_async_context_manager(...)` yields what it enters; `portal.call(session.call_tool, ...)` is the call."""
    f = analyze(
        """
        from anyio.from_thread import start_blocking_portal
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from openai import OpenAI

        PARAMS = StdioServerParameters(command="python", args=["desk.py"])

        def main(task):
            with (
                start_blocking_portal() as portal,
                portal.wrap_async_context_manager(stdio_client(PARAMS)) as (read, write),
                portal.wrap_async_context_manager(ClientSession(read, write)) as session,
            ):
                portal.call(session.initialize)
                portal.call(session.call_tool, "create_ticket", {"title": task})
                tools = portal.call(session.list_tools).tools
                OpenAI().chat.completions.create(model="gpt-5", messages=[], tools=tools)
        """
    )
    [agent] = f.agents
    [spec] = f.servers
    assert spec.args == ("desk.py",)
    calls = [(c.tool, c.server, c.source.line) for c in agent.call_sites if c.tool]
    assert calls == [("create_ticket", spec.name, 16)]


QUICKSTART = """
    import sys
    from contextlib import AsyncExitStack
    from anthropic import Anthropic
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    class MCPClient:
        def __init__(self):
            self.exit_stack = AsyncExitStack()

        async def connect_to_server(self, server_script_path: str):
            params = StdioServerParameters(command="python", args=[server_script_path])
            read, write = await self.exit_stack.enter_async_context(stdio_client(params))
            self.session = await self.exit_stack.enter_async_context(ClientSession(read, write))

        async def ask(self, q):
            Anthropic().messages.create(model="claude-sonnet-5", max_tokens=9, messages=[])
            await self.session.call_tool("ping", {})

    async def main():
        client = MCPClient()
        await client.connect_to_server(SCRIPT)
"""


@pytest.mark.parametrize(
    ("defined", "args"),
    [
        ('SCRIPT = "srv/desk.py"', ("srv/desk.py",)),  # every caller passes the same constant: linked
        ("SCRIPT = sys.argv[1]", None),  # a run-time value: unknown, as before
    ],
)
def test_a_parameter_takes_the_value_every_caller_passes(defined: str, args: tuple[str, ...] | None) -> None:
    """The quickstart client's `connect_to_server(server_script_path)` launched with a module constant."""
    f = analyze(QUICKSTART + "\n" + textwrap.indent(defined, "    ") + "\n")
    assert [s.args for s in f.servers] == ([args] if args else [])


def test_callers_that_disagree_leave_the_parameter_unknown() -> None:
    f = analyze(
        QUICKSTART.replace(
            "await client.connect_to_server(SCRIPT)",
            'await client.connect_to_server("a.py")\n        await client.connect_to_server(SCRIPT)',
        )
        + '\n    SCRIPT = "b.py"\n'
    )
    assert f.servers == ()


def test_two_agents_in_one_module_are_split_per_class() -> None:
    f = analyze(
        """
        from anthropic import Anthropic
        from openai import OpenAI
        from mcp import ClientSession

        class Researcher:
            def __init__(self, session: ClientSession):
                self.session = session
                self.llm = Anthropic()

            async def run(self):
                await self.session.call_tool("search", {"q": "x"})
                self.llm.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=[])

        class Writer:
            def __init__(self, session: ClientSession):
                self.session = session
                self.llm = OpenAI()

            async def run(self):
                await self.session.call_tool("write", {"text": "x"})
                self.llm.responses.create(model="gpt-4.1", input="hi", instructions="Write well.")
        """,
        rel="pkg/team.py",
    )
    assert [(a.name, a.provider, a.model, a.tool_sequence) for a in f.agents] == [
        ("pkg.team:Researcher", "anthropic", "claude-haiku-4-5", ("search",)),
        ("pkg.team:Writer", "openai", "gpt-4.1", ("write",)),
    ]
    assert f.agents[1].system_prompt_chars == len("Write well.")


def test_hosted_mcp_tools_and_anthropic_connector_are_declarations() -> None:
    f = analyze(
        """
        import anthropic
        from openai import OpenAI

        client = OpenAI()
        resp = client.responses.create(
            model="gpt-4.1",
            input="What is in the repo?",
            tools=[{"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.deepwiki.com/mcp",
                    "allowed_tools": ["ask_question"], "require_approval": "never"}],
        )
        claude = anthropic.Anthropic()
        msg = claude.beta.messages.create(
            model="claude-sonnet-4-5", max_tokens=1000, messages=[],
            mcp_servers=[{"type": "url", "url": "https://example-server.modelcontextprotocol.io/sse",
                          "name": "example-mcp", "authorization_token": "YOUR_TOKEN"}],
            betas=["mcp-client-2025-04-04"],
        )
        """
    )
    specs = {s.name: s for s in f.servers}
    assert specs["deepwiki"].tool_filter == ("ask_question",)
    assert specs["deepwiki"].origin == "code:openai.responses.mcp"
    assert specs["example-mcp"].transport == "sse"
    assert "YOUR_TOKEN" not in json.dumps([vars(s) for s in f.servers], default=str)
    [agent] = f.agents
    assert agent.servers == ("deepwiki", "example-mcp")


def test_code_mode_markers() -> None:
    generated = analyze(
        """
        import asyncio
        from servers.github import create_issue
        from servers import search_tools

        async def main():
            print(search_tools("issue"))
            await create_issue(owner="o", repo="r", title="t")
        """
    )
    [agent] = generated.agents
    assert agent.code_mode
    assert [c.api for c in agent.call_sites] == ["servers.github", "servers.search_tools"]
    execute = analyze(
        """
        from anthropic import Anthropic
        from mcp import ClientSession

        TOOLS = [{"name": "execute_code", "description": "Run Python", "input_schema": {"type": "object"}}]

        def step(client: Anthropic, messages):
            return client.messages.create(model="claude-sonnet-4-5", max_tokens=4096, tools=TOOLS, messages=messages)
        """
    )
    [agent] = execute.agents
    assert agent.code_mode and agent.provider == "anthropic"


# --- look-alikes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(NEGATIVES.rglob("*.py")), ids=lambda p: p.name)
def test_negative_fixture_files_find_nothing(path: Path) -> None:
    f = analyze_python(path.read_bytes(), str(path.relative_to(NEGATIVES)))
    assert (f.servers, f.defined, f.agents, f.problems) == ((), (), (), ())


@pytest.mark.parametrize(
    "source",
    [
        # a user function called call_tool, and httpx.Client
        """
        import httpx
        from mcp import types

        def call_tool(name, args):
            return httpx.Client().post("/tools/" + name, json=args).json()

        call_tool("search", {})
        """,
        # a user class ClientSession not from mcp, in a file that does import mcp
        """
        from mcp.types import Tool

        class ClientSession:
            async def call_tool(self, name, arguments):
                return None

        async def run():
            s = ClientSession()
            await s.call_tool("x", {})
        """,
        # tools= to unrelated functions, and an Anthropic client built but never given MCP tools
        """
        import anthropic
        from mcp.types import Tool

        def build(tools):
            return tools

        build(tools=[Tool(name="x", inputSchema={"type": "object"})])
        anthropic.Anthropic().messages.create(model="claude-haiku-4-5", max_tokens=5, messages=[], tools=[])
        """,
        # aiohttp.ClientSession
        """
        import aiohttp
        from mcp import types

        async def main():
            async with aiohttp.ClientSession() as session:
                await session.post("https://example.com/call_tool", json={})
        """,
    ],
    ids=["user-call_tool", "user-ClientSession", "unrelated-tools-kwarg", "aiohttp"],
)
def test_look_alikes_in_mcp_importing_files(source: str) -> None:
    f = analyze(source)
    assert f.agents == () and f.servers == () and f.defined == ()


# --- servers defined in code vs the live server ---------------------------------------------------


def _live_tools(script: Path) -> dict[str, dict[str, object]]:
    async def main() -> dict[str, dict[str, object]]:
        # -B: the server runs from the source tree, and the MCP client passes it no PYTHONDONTWRITEBYTECODE
        params = StdioServerParameters(
            command=sys.executable, args=["-B", str(script)], cwd=str(script.parent)
        )
        async with Client(params) as client:
            listed = await client.list_tools()
            return {t.name: t.model_dump(by_alias=True, exclude_none=True) for t in listed.tools}

    return asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.slow
@pytest.mark.parametrize(
    "script",
    [
        REPO / "fixtures" / "frameworks" / "mcp_servers" / "weather_server.py",
        REPO / "fixtures" / "seed-scenario" / "mcp_servers" / "slack_server.py",
    ],
    ids=lambda p: p.name,
)
def test_static_tools_equal_the_live_tools_list(script: Path) -> None:
    facts = analyze_python(script.read_bytes(), script.name)
    [manifest] = facts.defined
    static = {t.name: t.to_wire() for t in manifest.tools}
    live = _live_tools(script)
    assert sorted(static) == sorted(live)
    for name, tool in live.items():
        ours = static[name]
        schema = tool["inputSchema"]
        assert isinstance(schema, dict)
        assert ours["inputSchema"].get("required", []) == schema.get("required", []), name
        assert {k: v.get("type") for k, v in ours["inputSchema"]["properties"].items()} == {
            k: v.get("type") for k, v in schema["properties"].items()
        }, name
        if script.name == "weather_server.py":
            assert ours == tool  # the whole wire form, including $defs, defaults and outputSchema
        else:
            ours.pop("annotations", None)  # imported from a sibling module: outside one file's reach
            tool.pop("annotations", None)
            assert ours == tool


def test_lowlevel_server_with_literal_tools_and_model_schema() -> None:
    f = analyze(
        """
        from enum import Enum
        from mcp.server.lowlevel import Server
        from mcp.types import Tool
        from pydantic import BaseModel

        class Names(str, Enum):
            ECHO = "echo"

        class EchoArgs(BaseModel):
            text: str
            times: int = 1

        server = Server("echoer")

        @server.list_tools()
        async def list_tools() -> list[Tool]:
            return [
                Tool(name=Names.ECHO.value, description="Echo text", inputSchema=EchoArgs.model_json_schema()),
                Tool(name="ping", description="Ping", inputSchema={"type": "object", "properties": {}}),
            ]
        """
    )
    [manifest] = f.defined
    assert manifest.server == "echoer"
    tools = {t.name: t for t in manifest.tools}
    assert tools["echo"].input_schema == {
        "properties": {
            "text": {"title": "Text", "type": "string"},
            "times": {"default": 1, "title": "Times", "type": "integer"},
        },
        "required": ["text"],
        "title": "EchoArgs",
        "type": "object",
    }
    assert tools["ping"].input_schema == {"type": "object", "properties": {}}


def test_unresolvable_parameter_types_are_reported_as_open() -> None:
    f = analyze(
        """
        from mcp.server import MCPServer
        from somewhere import Widget

        mcp = MCPServer("w")

        @mcp.tool()
        def place(widget: Widget, count: int) -> str:
            return ""
        """
    )
    [manifest] = f.defined
    [tool] = manifest.tools
    assert tool.input_schema["properties"]["widget"] == {"title": "Widget"}
    assert tool.input_schema["required"] == ["widget", "count"]
    assert [p.level for p in f.problems] == ["info"]
    assert "somewhere.Widget" in f.problems[0].message


# --- prefilter and bad input ---------------------------------------------------------------------


def test_prefilter_needs_an_import_of_a_known_package() -> None:
    assert is_relevant(b"import os\nfrom mcp import ClientSession\n")
    assert is_relevant(b"def f():\n    import mcp.types as t\n")
    assert is_relevant(b"import os, mcp\n")
    assert is_relevant(b"from smolagents import ToolCollection  # from_mcp below\n")
    assert is_relevant(b"from servers.github import create_issue\n")
    assert not is_relevant(b"# talks to the MCP gateway\nimport httpx\n")
    assert not is_relevant(b"from mcp_gateway_client import call_tool\n")
    assert not is_relevant(b"import mcpx\n")
    assert PREFILTER.search(b"from fastmcp import FastMCP") is not None
    assert PREFILTER.search(b"text = 'from mcp import x'") is None


def test_syntax_error_is_a_problem_with_line() -> None:
    f = analyze_python(b"from mcp import ClientSession\n\ndef broken(:\n    pass\n", "bad.py")
    [problem] = f.problems
    assert problem.level == "warning"
    assert problem.source is not None and (problem.source.path, problem.source.line) == ("bad.py", 3)
    assert "cannot parse bad.py" in problem.message
    assert f.agents == ()


def test_non_utf8_is_a_problem_with_line() -> None:
    f = analyze_python(b"from mcp import ClientSession\nname = '\xff\xfe'\n", "latin.py")
    [problem] = f.problems
    assert problem.source is not None and problem.source.line == 2
    assert "not valid utf-8" in problem.message


def test_declared_encoding_is_honoured() -> None:
    source = "# -*- coding: latin-1 -*-\nfrom mcp import StdioServerParameters\np = StdioServerParameters(command='café')\n"
    f = analyze_python(source.encode("latin-1"), "enc.py")
    assert [s.command for s in f.servers] == ["café"]


def test_huge_file_is_skipped_with_info() -> None:
    f = analyze_python(b"from mcp import ClientSession\n" + b"#" * MAX_FILE_BYTES, "huge.py")
    [problem] = f.problems
    assert problem.level == "info" and "larger than 2 MB" in problem.message


def test_runtime_built_server_params_without_a_config_are_reported() -> None:
    """Parameters built from values only known at run time, with no config file read: an info problem."""
    from cfmigrate.analyzers.code import analyze_python

    source = b"""
import os
from mcp import ClientSession, StdioServerParameters

params = StdioServerParameters(command=os.environ["SERVER_CMD"], args=[])

async def run(session: ClientSession) -> None:
    await session.call_tool("ping", {})
"""
    facts = analyze_python(source, "agent.py")
    assert facts.servers == ()
    assert [p.level for p in facts.problems] == ["info"] and "run time" in facts.problems[0].message
