"""discover(): one walk of a repository into a deterministic Inventory."""

from __future__ import annotations

import json
import textwrap
import threading
from pathlib import Path

import pytest

from cfmigrate.analyzers import discover as discover_module
from cfmigrate.analyzers.discover import discover
from cfmigrate.analyzers.model import Inventory, Manifest, ToolDef
from cfmigrate.analyzers.snapshots import write_snapshot
from tests.test_walk import run_unprivileged, world_readable_tmp

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = REPO / "fixtures" / "frameworks"
NEGATIVES = REPO / "fixtures" / "negatives"


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


AGENT = """
    from anthropic import Anthropic
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command="uvx", args=["mcp-server-time"])

    async def main():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                listed = await session.list_tools()
                tools = [{"name": t.name, "input_schema": t.inputSchema} for t in listed.tools]
                Anthropic().messages.create(model="claude-sonnet-5", max_tokens=64, messages=[], tools=tools)
                await session.call_tool("get_current_time", {"timezone": "UTC"})
"""


# --- the fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frameworks() -> Inventory:
    return discover(FRAMEWORKS)


def test_frameworks_servers(frameworks: Inventory) -> None:
    assert [s.name for s in frameworks.servers] == [
        "calendar",
        "fetch",
        "filesystem",
        "filesystem-2",
        "git",
        "github",
        "localhost-8001",
        "math",
        "notes",
        "playwright",
        "pubmed",
        "run_python",
        "search",
        "time",
        "time-2",
        "weather",
    ]
    weather = frameworks.server("weather")
    assert (
        weather is not None and weather.source.path == ".mcp.json"
    )  # the config wins over the same launch in code
    on_disk = [p for p in FRAMEWORKS.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert frameworks.files_scanned == len(on_disk)
    assert frameworks.bytes_scanned > 20_000


def test_frameworks_agents(frameworks: Inventory) -> None:
    summary = {a.name: (a.framework, a.servers, a.all_servers, a.code_mode) for a in frameworks.agents}
    assert summary == {
        "agents.adk_agent": ("adk", ("filesystem",), False, False),
        "agents.anthropic_loop": ("anthropic", ("weather",), False, False),
        "agents.code_mode_agent": ("anthropic", ("notes", "weather"), True, True),
        "agents.crewai_agent": ("crewai", ("localhost-8001",), False, False),
        "agents.langchain_agent": ("langchain", ("math", "search", "time-2"), False, False),
        "agents.mcp_use_agent": ("mcp-use", ("playwright",), False, False),
        "agents.mcp_use_config_agent": ("mcp-use", ("fetch", "playwright"), True, False),
        "agents.openai_agents_sdk": ("openai-agents", ("filesystem-2", "github"), False, False),
        "agents.openai_chat": ("openai", ("notes",), False, False),
        "agents.prompt_chatbot": ("mcp", ("git", "time"), True, False),
        "agents.pydantic_ai_agent": ("pydantic-ai", ("calendar", "run_python"), False, False),
        "agents.smolagents_agent": ("smolagents", ("pubmed",), False, False),
    }
    assert [a.source.path for a in frameworks.agents] == sorted(a.source.path for a in frameworks.agents)


def test_frameworks_manifests_by_priority(frameworks: Inventory) -> None:
    origins = {m.server: (m.origin, len(m.tools)) for m in frameworks.manifests}
    assert origins["weather"] == ("code", 5)  # the MCPServer the config launches, read statically
    assert origins["math"] == ("code", 2)
    assert origins["notes"] == ("code", 3)  # reached by URL, defined under the same name
    assert origins["time"][0] == "catalog" and origins["git"][0] == "catalog"
    for unknown in ("calendar", "github", "localhost-8001", "pubmed", "run_python", "search"):
        assert unknown not in origins  # no manifest at all: the report says "tools unknown"


def test_frameworks_problems_are_only_informative(frameworks: Inventory) -> None:
    assert {p.level for p in frameworks.problems} == {"info"}
    messages = " | ".join(p.message for p in frameworks.problems)
    assert "listed as 'filesystem-2'" in messages and "listed as 'time-2'" in messages


def test_negatives_find_no_mcp() -> None:
    inv = discover(NEGATIVES)
    assert (inv.servers, inv.agents, inv.manifests, inv.problems) == ((), (), (), ())
    assert inv.files_scanned == len(
        [p for p in NEGATIVES.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    )


def test_seed_scenario_agent_links_every_configured_server() -> None:
    inv = discover(REPO / "fixtures" / "seed-scenario")
    assert [s.name for s in inv.servers] == ["crm", "drive", "slack"]
    assert [(m.server, m.origin) for m in inv.manifests] == [
        ("crm", "code"),
        ("drive", "code"),
        ("slack", "code"),
    ]
    [agent] = inv.agents
    assert agent.servers == ("crm", "drive", "slack") and agent.all_servers


# --- behaviour on small repositories ---------------------------------------------------------------


def test_gitignored_agents_and_configs_are_not_scanned(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "scratch/\n*.local.json\n")
    write(tmp_path, "scratch/agent.py", AGENT)
    write(tmp_path, "mcp.local.json", '{"mcpServers": {"x": {"command": "x"}}}')
    write(tmp_path, "agent.py", AGENT)
    inv = discover(tmp_path)
    assert [a.source.path for a in inv.agents] == ["agent.py"]
    assert [s.name for s in inv.servers] == ["time"]


def test_include_and_exclude(tmp_path: Path) -> None:
    write(tmp_path, "agents/a.py", AGENT)
    write(tmp_path, "legacy/b.py", AGENT)
    assert [a.source.path for a in discover(tmp_path, exclude=["legacy/"]).agents] == ["agents/a.py"]
    assert [a.source.path for a in discover(tmp_path, include=["legacy/**"]).agents] == ["legacy/b.py"]


def test_symlink_loop_does_not_hang(tmp_path: Path) -> None:
    write(tmp_path, "pkg/agent.py", AGENT)
    (tmp_path / "pkg" / "again").symlink_to(tmp_path, target_is_directory=True)
    result: list[Inventory] = []
    worker = threading.Thread(target=lambda: result.append(discover(tmp_path, jobs=1)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "discover did not end on a symlink loop"
    assert [a.source.path for a in result[0].agents] == ["pkg/agent.py"]


def _discover_summary(root: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    inv = discover(Path(root), jobs=1)
    problems = [(p.level, p.source.path if p.source else "", p.message) for p in inv.problems]
    return [a.source.path for a in inv.agents], problems


def test_unreadable_file_is_reported_and_the_rest_analysed() -> None:
    with world_readable_tmp() as root:
        write(root, "ok.py", AGENT)
        write(root, "secret_agent.py", AGENT).chmod(0)
        agents, problems = run_unprivileged(_discover_summary, str(root))
    assert agents == ["ok.py"]
    assert [(level, path) for level, path, _ in problems] == [("warning", "secret_agent.py")]
    assert "Permission denied" in problems[0][2]


def test_syntax_error_file_is_reported_and_the_rest_analysed(tmp_path: Path) -> None:
    write(tmp_path, "good.py", AGENT)
    write(tmp_path, "broken.py", "from mcp import ClientSession\n\nasync def main(:\n    pass\n")
    write(tmp_path, "latin.py", "")
    (tmp_path / "latin.py").write_bytes(b"from mcp import ClientSession\nx = '\xe9'\n")
    inv = discover(tmp_path)
    assert [a.source.path for a in inv.agents] == ["good.py"]
    assert [
        (p.level, p.source.path if p.source else None, p.source.line if p.source else None)
        for p in inv.problems
    ] == [
        ("warning", "broken.py", 3),
        ("warning", "latin.py", 2),
    ]


def test_duplicate_server_names_across_configs_warn_and_keep_the_first(tmp_path: Path) -> None:
    write(tmp_path, ".mcp.json", '{"mcpServers": {"git": {"command": "uvx", "args": ["mcp-server-git"]}}}')
    write(
        tmp_path,
        ".vscode/mcp.json",
        '{"servers": {"git": {"command": "uvx", "args": ["mcp-server-git", "--repository", "/srv"]}}}',
    )
    inv = discover(tmp_path)
    [git] = inv.servers
    assert git.source.path == ".mcp.json"
    warnings = [p for p in inv.problems if p.level == "warning"]
    assert len(warnings) == 1
    assert ".mcp.json" in warnings[0].message and ".vscode/mcp.json" in warnings[0].message


SERVER = """
    from mcp.server import MCPServer

    mcp = MCPServer("weather")

    @mcp.tool()
    def forecast(city: str, days: int = 3) -> str:
        \"\"\"Forecast for a city.\"\"\"
        return city

    if __name__ == "__main__":
        mcp.run()
"""


def test_manifest_priority_snapshot_then_file_then_code_then_catalog(tmp_path: Path) -> None:
    write(
        tmp_path,
        ".mcp.json",
        json.dumps(
            {
                "mcpServers": {
                    "weather": {"command": "python", "args": ["servers/weather.py"]},
                    "time": {"command": "uvx", "args": ["mcp-server-time"]},
                    "mystery": {"command": "./bin/mystery-server"},
                }
            }
        ),
    )
    write(tmp_path, "servers/weather.py", SERVER)
    inv = discover(tmp_path)
    assert {m.server: m.origin for m in inv.manifests} == {"time": "catalog", "weather": "code"}
    weather = inv.manifest("weather")
    assert weather is not None and [t.name for t in weather.tools] == ["forecast"]
    assert weather.tools[0].input_schema["required"] == ["city"]

    dump = {"tools": [{"name": "forecast", "description": "dumped", "inputSchema": {"type": "object"}}]}
    write(tmp_path, "manifests/weather.tools.json", json.dumps(dump))
    inv = discover(tmp_path)
    weather = inv.manifest("weather")
    assert weather is not None and weather.origin == "manifest-file"
    assert weather.tools[0].description == "dumped"

    snapshot = Manifest(
        server="weather",
        tools=(ToolDef(name="forecast", description="from a live server", input_schema={"type": "object"}),),
        origin="live",
    )
    write_snapshot(tmp_path, snapshot)
    inv = discover(tmp_path)
    weather = inv.manifest("weather")
    assert weather is not None and weather.origin == "snapshot"
    assert weather.tools[0].description == "from a live server"
    assert inv.manifest("mystery") is None


def test_config_read_by_literal_path_links_all_its_servers(tmp_path: Path) -> None:
    write(
        tmp_path,
        "bot/settings.json",
        json.dumps(
            {
                "mcpServers": {
                    "alpha": {"command": "alpha-mcp"},
                    "beta": {"url": "https://beta.example.com/mcp"},
                }
            }
        ),
    )
    write(
        tmp_path,
        "bot/agent.py",
        """
        import json
        from pathlib import Path
        from mcp import ClientSession, StdioServerParameters

        CONFIG = json.loads((Path(__file__).parent / "settings.json").read_text())

        async def run(session: ClientSession):
            for name in CONFIG["mcpServers"]:
                await session.list_tools()
        """,
    )
    inv = discover(tmp_path)
    assert [s.name for s in inv.servers] == [
        "alpha",
        "beta",
    ]  # the file was parsed because the code reads it
    assert inv.agents == ()  # it lists tools and never calls a model: a tool script, not an agent
    [script] = inv.tool_scripts
    assert script.servers == ("alpha", "beta") and script.all_servers


def test_code_declared_relative_paths_are_anchored_at_the_root(tmp_path: Path) -> None:
    write(tmp_path, "servers/weather.py", SERVER)
    write(
        tmp_path,
        "agents/bot/agent.py",
        """
        from mcp import ClientSession, StdioServerParameters

        weather_params = StdioServerParameters(command="python", args=["servers/weather.py"])

        async def ask(session: ClientSession):
            await session.call_tool("forecast", {"city": "Oslo"})
        """,
    )
    inv = discover(tmp_path)
    [spec] = inv.servers
    assert (spec.name, spec.args, spec.cwd) == ("weather", ("servers/weather.py",), "../..")
    manifest = inv.manifest("weather")
    assert manifest is not None and manifest.origin == "code"  # the file it launches defines the tools


def test_code_mode_import_links_the_generated_server_package(tmp_path: Path) -> None:
    write(tmp_path, ".mcp.json", '{"mcpServers": {"google-drive": {"command": "gdrive-mcp"}}}')
    write(
        tmp_path,
        "agent.py",
        """
        from servers.google_drive import get_document

        async def main():
            print((await get_document(document_id="abc")).text)
        """,
    )
    [agent] = discover(tmp_path).agents
    assert agent.code_mode
    assert agent.servers == ("google-drive",)
    assert agent.call_sites[0].server == "google-drive"


# --- determinism and the parallel paths ------------------------------------------------------------


def test_two_runs_are_equal() -> None:
    assert discover(FRAMEWORKS) == discover(FRAMEWORKS)


def test_parallel_parsing_equals_serial(monkeypatch: pytest.MonkeyPatch) -> None:
    serial = discover(FRAMEWORKS, jobs=1)
    monkeypatch.setattr(discover_module, "PARALLEL_MIN_FILES", 2)
    assert discover(FRAMEWORKS, jobs=2) == serial
    monkeypatch.setattr(discover_module, "PARALLEL_MIN_TREE", 2)
    assert discover(FRAMEWORKS, jobs=2) == serial


def test_a_generated_servers_package_is_not_analysed_as_agent_code(tmp_path: Path) -> None:
    """`cfmigrate generate` output (its `_runtime.py` opens MCP sessions) must not show up as agents or servers."""
    import shutil

    golden = Path(__file__).resolve().parent / "golden" / "seed-scenario" / "servers"
    shutil.copytree(golden, tmp_path / "servers")
    inv = discover(tmp_path)
    assert inv.agents == () and inv.servers == ()
    assert not [p for p in inv.problems if "_runtime.py" in str(p.source)]


def test_server_identity_includes_the_working_directory(tmp_path: Path) -> None:
    """A server is its launch: command + args + cwd. The same command started in two folders is two servers;
    the same launch under several names (and `cwd` spelled two ways) is one server with aliases."""
    config = {
        "mcpServers": {
            "notes-a": {"command": "python", "args": ["server.py"], "cwd": "a"},
            "notes-b": {"command": "python", "args": ["server.py"], "cwd": "b"},
            "notes": {"command": "python", "args": ["server.py"], "cwd": "./a/"},
        }
    }
    write(tmp_path, ".mcp.json", json.dumps(config))
    # the same launch in another config file, its cwd written from the workspace root
    vscode = {
        "servers": {
            "notes-again": {"command": "python", "args": ["server.py"], "cwd": "${workspaceFolder}/a"}
        }
    }
    write(tmp_path, ".vscode/mcp.json", json.dumps(vscode))
    inv = discover(tmp_path)
    assert sorted(s.name for s in inv.servers) == ["notes", "notes-b"]
    assert inv.aliases == {"notes": ("notes-a", "notes-again")}
    # without a cwd, or with the repository root as cwd, the launch is the same one
    plain = {
        "mcpServers": {
            "x": {"command": "uvx", "args": ["mcp-server-time"]},
            "y": {"command": "uvx", "args": ["mcp-server-time"], "cwd": "."},
        }
    }
    other = tmp_path / "other"
    write(other, ".mcp.json", json.dumps(plain))
    inv = discover(other)
    assert [s.name for s in inv.servers] == ["x"] and inv.aliases == {"x": ("y",)}
