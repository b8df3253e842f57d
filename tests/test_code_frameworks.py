"""Static analysis of the agent per framework family in fixtures/frameworks: exactly what is found."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cfmigrate.analyzers.code import PythonFacts, analyze_python
from cfmigrate.analyzers.model import Agent, ServerSpec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "frameworks"


def facts(rel: str) -> PythonFacts:
    return analyze_python((FIXTURE / rel).read_bytes(), rel)


def only_agent(f: PythonFacts) -> Agent:
    assert len(f.agents) == 1, f.agents
    return f.agents[0]


def sites(agent: Agent) -> list[tuple[str, str, int, str | None, str | None]]:
    return [(c.kind, c.api, c.source.line or 0, c.tool, c.server) for c in agent.call_sites]


def server(f: PythonFacts, name: str) -> ServerSpec:
    found = [s for s in f.servers if s.name == name]
    assert found, [s.name for s in f.servers]
    return found[0]


def test_anthropic_raw_loop_mcp1_client_session() -> None:
    f = facts("agents/anthropic_loop.py")
    assert [s.name for s in f.servers] == ["weather"]
    weather = server(f, "weather")
    assert (weather.transport, weather.command, weather.args) == (
        "stdio",
        "python",
        ("mcp_servers/weather_server.py",),
    )
    assert weather.origin == "code:StdioServerParameters"
    assert weather.env_names == ("LOG_LEVEL", "WEATHER_API_KEY")
    assert weather.env_refs == ("${WEATHER_API_KEY}",)
    assert weather.source.line == 26
    agent = only_agent(f)
    assert agent.name == "agents.anthropic_loop"
    assert (agent.framework, agent.provider, agent.model) == ("anthropic", "anthropic", "claude-sonnet-4-5")
    assert agent.servers == ("weather",)
    assert agent.system_prompt_chars == len(
        "You are a weather assistant. Use the tools to look up forecasts and alerts, and answer in two sentences."
    )
    assert agent.tool_sequence == ("get_alerts", "get_forecast")
    assert sites(agent) == [
        ("list_tools", "mcp.ClientSession.list_tools", 36, None, "weather"),
        ("tools_param", "anthropic.messages.create", 43, None, "weather"),
        ("call_tool", "mcp.ClientSession.call_tool", 52, None, "weather"),
        ("call_tool", "mcp.ClientSession.call_tool", 59, "get_alerts", "weather"),
        ("call_tool", "mcp.ClientSession.call_tool", 60, "get_forecast", "weather"),
    ]
    assert "block.name" in agent.call_sites[2].detail  # the dynamic name is shown, not guessed
    assert not agent.code_mode and not f.problems


def test_openai_chat_loop_mcp2_client() -> None:
    f = facts("agents/openai_chat.py")
    notes = server(f, "notes")
    assert (notes.transport, notes.url, notes.origin) == (
        "http",
        "http://localhost:8765/mcp",
        "code:mcp.Client",
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.model) == ("openai", "openai", "gpt-4.1-mini")
    assert agent.servers == ("notes",)
    assert agent.system_prompt_chars == len(
        "You keep the user's notes. Prefer search before creating a note."
    )
    assert sites(agent) == [
        ("list_tools", "mcp.Client.list_tools", 22, None, "notes"),
        ("tools_param", "openai.chat.completions.create", 29, None, "notes"),
        ("call_tool", "mcp.Client.call_tool", 35, None, "notes"),
        ("call_tool", "mcp.Client.call_tool", 37, "add_note", "notes"),
    ]
    assert agent.tool_sequence == ("add_note",)


def test_openai_agents_sdk() -> None:
    f = facts("agents/openai_agents_sdk.py")
    assert [s.name for s in f.servers] == ["filesystem", "github"]
    fs = server(f, "filesystem")
    assert fs.command == "npx" and fs.args == ("-y", "@modelcontextprotocol/server-filesystem", "./docs")
    assert fs.package == "@modelcontextprotocol/server-filesystem"
    assert fs.tool_filter == ("read_file", "list_directory")
    gh = server(f, "github")
    assert (gh.transport, gh.url, gh.header_names, gh.env_refs) == (
        "http",
        "https://api.githubcopilot.com/mcp/",
        ("Authorization",),
        ("${GITHUB_TOKEN}",),
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.model) == ("openai-agents", "openai", "gpt-4.1")
    assert agent.servers == ("filesystem", "github")
    assert sites(agent) == [("framework", "agents.Agent", 29, None, None)]


def test_pydantic_ai() -> None:
    f = facts("agents/pydantic_ai_agent.py")
    run_python = server(f, "run_python")
    assert (run_python.command, run_python.args) == (
        "deno",
        ("run", "-N", "jsr:@pydantic/mcp-run-python", "stdio"),
    )
    calendar = server(f, "calendar")
    assert (calendar.transport, calendar.url, calendar.header_names) == (
        "http",
        "http://localhost:9000/mcp",
        ("X-Api-Key",),
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.model) == (
        "pydantic-ai",
        "anthropic",
        "anthropic:claude-sonnet-4-0",
    )
    assert agent.servers == ("calendar", "run_python")
    assert sites(agent) == [("framework", "pydantic_ai.Agent", 11, None, None)]


def test_langchain_mcp_adapters() -> None:
    f = facts("agents/langchain_agent.py")
    assert [s.name for s in f.servers] == ["math", "search", "time"]
    assert server(f, "time").package == "mcp-server-time"
    search = server(f, "search")
    assert (search.transport, search.header_names, search.env_refs) == (
        "http",
        ("Authorization",),
        ("${SEARCH_TOKEN}",),
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.model) == (
        "langchain",
        "anthropic",
        "claude-3-7-sonnet-latest",
    )
    assert agent.servers == ("math", "search", "time")
    assert sites(agent) == [
        ("framework", "langchain_mcp_adapters.MultiServerMCPClient.get_tools", 30, None, None)
    ]


def test_smolagents() -> None:
    f = facts("agents/smolagents_agent.py")
    pubmed = server(f, "pubmed")
    assert (pubmed.command, pubmed.args, pubmed.env_names) == (
        "uvx",
        ("--quiet", "pubmedmcp@0.1.3"),
        ("UV_PYTHON",),
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider) == ("smolagents", "anthropic")
    assert sites(agent) == [("framework", "smolagents.ToolCollection.from_mcp", 16, None, "pubmed")]


def test_crewai_adapter_with_tool_names() -> None:
    f = facts("agents/crewai_agent.py")
    [spec] = f.servers
    assert (spec.transport, spec.url, spec.tool_filter) == (
        "sse",
        "http://localhost:8001/sse",
        ("search_papers", "fetch_abstract"),
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.model) == ("crewai", "openai", "gpt-4o")
    assert agent.servers == (spec.name,)
    assert sites(agent) == [("framework", "crewai.MCPServerAdapter", 8, None, spec.name)]


def test_adk_toolset_filter() -> None:
    f = facts("agents/adk_agent.py")
    [spec] = f.servers
    assert spec.name == "filesystem"
    assert spec.args == ("-y", "@modelcontextprotocol/server-filesystem", "/srv/shared")
    assert spec.tool_filter == ("list_directory", "read_file", "search_files")
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.model) == ("adk", "unknown", "gemini-2.0-flash")
    assert agent.system_prompt_chars == len("Help the user find and read files in the shared folder.")
    assert sites(agent) == [("framework", "adk.MCPToolset", 14, None, "filesystem")]


def test_mcp_use_dict_config_and_session() -> None:
    f = facts("agents/mcp_use_agent.py")
    [spec] = f.servers
    assert (spec.name, spec.command, spec.args, spec.env_names) == (
        "playwright",
        "npx",
        ("@playwright/mcp@latest",),
        ("DISPLAY",),
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.model) == ("mcp-use", "openai", "gpt-4o")
    assert sites(agent) == [
        ("framework", "mcp_use.MCPAgent", 22, None, "playwright"),
        ("call_tool", "mcp_use.MCPSession.call_tool", 26, "browser_navigate", "playwright"),
    ]


def test_mcp_use_config_file_is_a_reference() -> None:
    f = facts("agents/mcp_use_config_agent.py")
    assert f.servers == ()
    agent = only_agent(f)
    assert agent.servers == ()
    assert [(r.agent, r.candidates) for r in f.config_refs] == [
        ("agents.mcp_use_config_agent", ("agents/browser_mcp.json", "browser_mcp.json"))
    ]


def test_prompt_listing_chatbot() -> None:
    f = facts("agents/prompt_chatbot.py")
    assert f.servers == ()  # launched from config values only known at run time...
    assert f.problems == ()  # ...of a config file it reads, whose servers are listed from that file
    agent = only_agent(f)
    assert agent.framework == "mcp"
    kinds = [c.kind for c in agent.call_sites]
    assert kinds == ["list_tools", "call_tool", "prompt_tools"]
    assert [r.candidates for r in f.config_refs] == [("servers_config.json",)]


def test_agent_already_on_code_mode() -> None:
    f = facts("agents/code_mode_agent.py")
    agent = only_agent(f)
    assert agent.code_mode
    assert (agent.framework, agent.model) == ("anthropic", "claude-opus-4-1")
    assert agent.call_sites[0].kind == "code_mode"
    assert agent.call_sites[0].api == "cfmigrate.runtime.CodeMode"
    assert [r.candidates for r in f.config_refs] == [("agents/.mcp.json", ".mcp.json")]


def test_mcpserver_2x_definition() -> None:
    f = facts("mcp_servers/weather_server.py")
    assert f.agents == () and f.servers == ()
    [manifest] = f.defined
    assert (manifest.server, manifest.origin, manifest.source and manifest.source.line) == (
        "weather",
        "code",
        11,
    )
    tools = {t.name: t for t in manifest.tools}
    assert sorted(tools) == [
        "compare",
        "forecast_for_location",
        "get_alerts",
        "get_forecast",
        "station_readings",
    ]
    forecast = tools["get_forecast"]
    assert forecast.description == "Forecast for a city, one line per day."
    assert forecast.annotations == {"readOnlyHint": True, "openWorldHint": True}
    assert forecast.input_schema["required"] == ["city"]
    assert forecast.input_schema["properties"]["days"] == {
        "default": 3,
        "description": "How many days ahead",
        "maximum": 5,
        "minimum": 1,
        "title": "Days",
        "type": "integer",
    }
    assert "ctx" not in tools["get_alerts"].input_schema["properties"]  # Context is injected, not an argument
    assert tools["compare"].title == "Compare two cities"
    assert tools["forecast_for_location"].description == "Forecast for a structured location."


def test_fastmcp_1x_and_standalone_fastmcp() -> None:
    [notes] = facts("mcp_servers/notes_fastmcp.py").defined
    assert notes.server == "notes"
    tools = {t.name: t for t in notes.tools}
    assert sorted(tools) == ["add_note", "delete_note", "search_notes"]
    assert tools["add_note"].input_schema["required"] == ["title", "body"]
    assert tools["add_note"].input_schema["properties"]["tags"]["anyOf"] == [
        {"items": {"type": "string"}, "type": "array"},
        {"type": "null"},
    ]
    assert "ctx" not in tools["search_notes"].input_schema["properties"]
    assert tools["delete_note"].description == "Delete a note by title."
    [math] = facts("mcp_servers/math_server.py").defined
    assert [t.name for t in math.tools] == ["add", "multiply"]
    add = math.tools[0]
    # fastmcp 2.x prunes titles and cleans docstrings
    assert add.input_schema == {
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
        "type": "object",
    }
    assert add.description == "Add two numbers."


@pytest.mark.parametrize(
    "rel",
    sorted(str(p.relative_to(FIXTURE)) for p in (FIXTURE / "agents").glob("*.py")),
)
def test_every_fixture_agent_is_found_once_without_problems_it_should_not_have(rel: str) -> None:
    f = facts(rel)
    assert len(f.agents) == 1
    assert all(p.level == "info" for p in f.problems)


# --- other spellings of the same APIs --------------------------------------------------------------


def snippet(source: str) -> PythonFacts:
    return analyze_python(textwrap.dedent(source).encode(), "snippet.py")


def test_smolagents_mcpclient_with_a_url_dict() -> None:
    f = snippet(
        """
        from smolagents import MCPClient, ToolCallingAgent, InferenceClientModel

        with MCPClient({"url": "http://127.0.0.1:8000/mcp", "transport": "streamable-http"}) as tools:
            agent = ToolCallingAgent(tools=tools, model=InferenceClientModel(model_id="Qwen/Qwen2.5-Coder-32B-Instruct"))
            agent.run("x")
        """
    )
    [spec] = f.servers
    assert (spec.transport, spec.url) == ("http", "http://127.0.0.1:8000/mcp")
    agent = only_agent(f)
    assert (agent.framework, agent.model, agent.servers) == (
        "smolagents",
        "Qwen/Qwen2.5-Coder-32B-Instruct",
        (spec.name,),
    )


def test_crewai_with_stdio_parameters_and_spread_environment() -> None:
    f = snippet(
        """
        import os
        from crewai import Agent
        from crewai_tools import MCPServerAdapter
        from mcp import StdioServerParameters

        server_params = StdioServerParameters(
            command="python3", args=["servers/papers_server.py"], env={"UV_PYTHON": "3.12", **os.environ}
        )
        with MCPServerAdapter(server_params) as mcp_tools:
            agent = Agent(role="r", goal="g", backstory="b", tools=mcp_tools)
        """
    )
    [spec] = f.servers
    assert (spec.name, spec.command, spec.env_names) == ("papers", "python3", ("UV_PYTHON",))
    assert only_agent(f).servers == ("papers",)


def test_adk_older_connection_params() -> None:
    f = snippet(
        """
        from google.adk.agents.llm_agent import LlmAgent
        from google.adk.tools.mcp_tool.mcp_toolset import MCPToolset, StdioServerParameters, SseServerParams

        toolset = MCPToolset(connection_params=StdioServerParameters(command="npx", args=["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]))
        remote = MCPToolset(connection_params=SseServerParams(url="http://localhost:8090/sse", headers={"Authorization": "Bearer x"}))
        root_agent = LlmAgent(model="gemini-2.0-flash", name="a", instruction="i", tools=[toolset, remote])
        """
    )
    assert [(s.name, s.transport) for s in f.servers] == [("filesystem", "stdio"), ("localhost-8090", "sse")]
    assert only_agent(f).servers == ("filesystem", "localhost-8090")


def test_pydantic_ai_older_mcp_servers_argument() -> None:
    f = snippet(
        """
        from pydantic_ai import Agent
        from pydantic_ai.mcp import MCPServerHTTP

        server = MCPServerHTTP(url="http://localhost:3001/sse")
        agent = Agent("openai:gpt-4o", mcp_servers=[server])
        """
    )
    [spec] = f.servers
    assert spec.transport == "sse"
    agent = only_agent(f)
    assert (agent.provider, agent.servers) == ("openai", (spec.name,))


def test_langchain_load_mcp_tools_from_a_session() -> None:
    f = snippet(
        """
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from langchain_mcp_adapters.tools import load_mcp_tools
        from langgraph.prebuilt import create_react_agent

        math_params = StdioServerParameters(command="python", args=["math_server.py"])

        async def main():
            async with stdio_client(math_params) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    tools = await load_mcp_tools(session)
                    agent = create_react_agent("openai:gpt-4.1", tools)
        """
    )
    agent = only_agent(f)
    assert (agent.framework, agent.provider, agent.servers) == ("langchain", "openai", ("math",))
    assert sites(agent) == [("framework", "langchain.load_mcp_tools", 13, None, "math")]


def test_client_session_group() -> None:
    f = snippet(
        """
        from mcp import ClientSessionGroup, StdioServerParameters

        async def main():
            async with ClientSessionGroup() as group:
                session = await group.connect_to_server(StdioServerParameters(command="uvx", args=["mcp-server-fetch"]))
                await session.call_tool("fetch", {"url": "https://example.com"})
        """
    )
    agent = only_agent(f)
    assert sites(agent) == [("call_tool", "mcp.ClientSession.call_tool", 7, "fetch", "fetch")]


def test_pydantic_ai_2x_mcp_toolsets() -> None:
    f = snippet(
        """
        from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
        from pydantic_ai import Agent
        from pydantic_ai.mcp import MCPToolset

        helpdesk = MCPToolset(StdioTransport(command="python", args=["helpdesk.py"], env={"DATA": "x.json"}), id="helpdesk")
        wiki = MCPToolset(StreamableHttpTransport("http://localhost:9000/mcp"), id="wiki")
        docs = MCPToolset("https://docs.example.com/mcp", id="docs")
        guessed = MCPToolset("server.py")
        agent = Agent("openai:gpt-5", toolsets=[helpdesk, wiki, docs, guessed])
        """
    )
    by_name = {s.name: s for s in f.servers}
    assert sorted(by_name) == ["docs", "helpdesk", "wiki"]  # a bare script path: FastMCP picks the launcher
    assert (by_name["helpdesk"].transport, by_name["helpdesk"].command, by_name["helpdesk"].args) == (
        "stdio",
        "python",
        ("helpdesk.py",),
    )
    assert (by_name["wiki"].transport, by_name["wiki"].url) == ("http", "http://localhost:9000/mcp")
    assert by_name["docs"].url == "https://docs.example.com/mcp"
    agent = only_agent(f)
    assert agent.framework == "pydantic-ai"
    assert agent.servers == ("docs", "helpdesk", "wiki")
