"""`cfmigrate serve`: the gateway driven by the real mcp `Client` over stdio and streamable HTTP.

One repository holds the seed scenario's three in-repo MCPServers (drive, crm, slack), the npm memory server,
the PyPI time server (kept on direct MCP by `keep-direct`) and a server that refuses to start. One gateway per
transport serves the whole module.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from support.real_servers import REPO, npm_server, pypi_server

from cfmigrate.migrate.serve import gateway_command, gateway_estate, gateway_tools
from cfmigrate.runtime.gateway import tool_list_text

T = TypeVar("T")

SECRETS = {
    "DRIVE_ACCESS_TOKEN": "ya29.drive-secret-4f1c",
    "CRM_API_TOKEN": "00D5f-crm-secret-9a7e",
    "SLACK_BOT_TOKEN": "xoxb-slack-secret-77d2",
    "FLAKY_TOKEN": "flaky-canary-5e0b9",
    "GW_API_KEY": "gw-remote-key-0c41d",
}

FLAKY_SERVER = '''"""A server that starts only when FLAKY_MODE=ok (it leaks its token to stderr when it refuses)."""

import os
import sys

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

mcp = MCPServer("flaky", log_level="WARNING")


@mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
def ping(text: str) -> str:
    """Answer with the text."""
    return text


if __name__ == "__main__":
    if os.environ.get("FLAKY_MODE") != "ok":
        print(f"flaky: refusing to start (token={os.environ.get('FLAKY_TOKEN')})", file=sys.stderr)
        sys.exit(3)
    mcp.run()
'''


def start_remote() -> tuple[subprocess.Popen[str], str]:
    """tests/servers/http_server.py over streamable HTTP; every request needs X-Api-Key = $GW_API_KEY."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "tests" / "servers" / "http_server.py"),
            "streamable-http",
            "X-Api-Key",
            "GW_API_KEY",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GW_API_KEY": SECRETS["GW_API_KEY"]},
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise AssertionError(f"http_server.py did not start (got {line!r})")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/mcp"


def make_estate(root: Path, remote_url: str) -> Path:
    """The seed scenario plus an npm server, a PyPI server kept direct, a remote HTTP server with a key in a
    header, and a server that cannot start (it could when the tools were listed)."""
    shutil.copytree(REPO / "fixtures" / "seed-scenario", root, dirs_exist_ok=True)
    (root / "mcp_servers" / "flaky_server.py").write_text(FLAKY_SERVER, encoding="utf-8")
    config = json.loads((root / ".mcp.json").read_text(encoding="utf-8"))
    config["mcpServers"]["memory"] = {
        "command": npm_server("mcp-server-memory"),
        "env": {"MEMORY_FILE_PATH": "${GW_MEMORY_FILE}"},
    }
    config["mcpServers"]["time"] = {
        "command": pypi_server("mcp-server-time"),
        "args": ["--local-timezone", "UTC"],
    }
    config["mcpServers"]["flaky"] = {
        "command": sys.executable,
        "args": ["mcp_servers/flaky_server.py"],
        "env": {"FLAKY_MODE": "${FLAKY_MODE}", "FLAKY_TOKEN": "${FLAKY_TOKEN}"},
    }
    config["mcpServers"]["remote"] = {
        "type": "http",
        "url": remote_url,
        "headers": {"X-Api-Key": "${GW_API_KEY}"},
    }
    (root / ".mcp.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (root / "pyproject.toml").write_text('[tool.cfmigrate]\nkeep-direct = ["time"]\n', encoding="utf-8")
    env = {**gateway_env(root), "FLAKY_MODE": "ok"}  # every server answers while its tools are listed
    done = subprocess.run(
        [sys.executable, "-m", "cfmigrate.migrate.cli", "generate", "--refresh", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return root


def gateway_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLAKY_", "CFM_"))}
    env.update(SECRETS)
    env.update(
        DRIVE_DATA=str(root / "state" / "drive.json"),
        CRM_DATA=str(root / "state" / "crm.json"),
        SLACK_DATA=str(root / "state" / "slack.json"),
        GW_MEMORY_FILE=str(root / "state" / "memory.jsonl"),
        FLAKY_MODE="broken",
        # the configs launch `python`: the test interpreter's, as in an activated venv
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    (root / "state").mkdir(exist_ok=True)
    return env


class Connected:
    """An mcp `Client` held open by its own task on a background loop, shared by the module's tests."""

    def __init__(self, open_transport: Any, **client_options: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._stop: asyncio.Event | None = None
        self.client: Any = None
        self.url: str | None = None  # the gateway's URL when it serves HTTP
        self.errors: list[BaseException] = []
        ready = threading.Event()

        async def hold() -> None:
            from mcp import Client

            self._stop = asyncio.Event()
            try:
                async with Client(open_transport(), read_timeout_seconds=120, **client_options) as client:
                    self.client = client
                    ready.set()
                    await self._stop.wait()
            except BaseException as exc:  # surfaced by the fixture
                self.errors.append(exc)
                ready.set()

        self.task = asyncio.run_coroutine_threadsafe(hold(), self.loop)
        assert ready.wait(120), "the gateway did not answer initialize within 120 s"
        if self.errors:
            raise self.errors[0]

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        return self.run(self.client.call_tool(name, arguments))

    def text(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        result = self.call(name, arguments)
        return "\n".join(c.text for c in result.content if c.type == "text"), bool(result.is_error)

    def close(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        try:
            self.task.result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the gateway exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"the gateway did not listen on {port} within {timeout} s")


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    remote, url = start_remote()
    try:
        yield make_estate(tmp_path_factory.mktemp("serve-estate"), url)
    finally:
        remote.terminate()
        remote.wait(30)


SERVE = [sys.executable, "-m", "cfmigrate.migrate.cli", "serve"]
# the remote fixture's tools carry no annotations, so they count as destructive unless allowed
POLICY = ["--deny", "crm/convert_lead", "--deny", "time/convert_time", "--allow", "remote/*"]


@pytest.fixture(scope="module", params=["stdio", "http"])
def gateway(request: pytest.FixtureRequest, estate: Path) -> Iterator[Connected]:
    env = gateway_env(estate)
    errlog = (estate / f"gateway-{request.param}.stderr").open("w+", encoding="utf-8")
    proc: subprocess.Popen[str] | None = None
    if request.param == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], str(estate), *POLICY], env=env)
        connected = Connected(lambda: stdio_client(params, errlog=errlog))
    else:
        from mcp.client.streamable_http import streamable_http_client

        port = free_port()
        proc = subprocess.Popen(
            [*SERVE, str(estate), "--http", str(port), *POLICY],
            env=env,
            stderr=errlog,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        wait_for_port(port, proc)
        connected = Connected(lambda: streamable_http_client(f"http://127.0.0.1:{port}/mcp"))
        connected.url = f"http://127.0.0.1:{port}/mcp"
    connected.errlog = errlog  # type: ignore[attr-defined]
    try:
        yield connected
    finally:
        connected.close()
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        errlog.close()


# ------------------------------------------------------------------------------------------------ without a server


def test_estate_serves_configured_servers_and_keeps_time_direct(estate: Path) -> None:
    found = gateway_estate(estate)
    assert {s.name: s.kept_direct for s in found.served} == {
        "crm": False, "drive": False, "flaky": False, "memory": False, "remote": False, "slack": False,
        "time": True,
    }  # fmt: skip
    assert found.unserved == ()
    assert found.kept == ("time/convert_time", "time/get_current_time")
    assert found.configs == ((estate / ".mcp.json").resolve(),)
    assert gateway_command(estate) == ["cfmigrate", "serve", str(estate)]


def test_tool_list_is_constant_and_small(estate: Path) -> None:
    first, second = gateway_tools(estate), gateway_tools(estate)
    assert [t.name for t in first] == [
        "execute_code",
        "search_tools",
        "list_tools",
        "convert_time",
        "get_current_time",
    ]
    assert tool_list_text(first) == tool_list_text(second)
    for secret in SECRETS.values():
        assert secret not in tool_list_text(first)


def test_missing_package_is_one_line_and_exit_2(tmp_path: Path) -> None:
    shutil.copytree(REPO / "fixtures" / "seed-scenario", tmp_path / "repo")
    done = subprocess.run([*SERVE, str(tmp_path / "repo")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "run `cfmigrate generate`" in lines[0], done.stderr
    assert done.stdout == ""


# ------------------------------------------------------------------------------------------- through the client


def test_lists_the_same_tools_as_gateway_tools(gateway: Connected, estate: Path) -> None:
    listed = gateway.run(gateway.client.list_tools())
    assert tool_list_text(listed.tools) == tool_list_text(gateway_tools(estate))
    again = gateway.run(gateway.client.list_tools())
    assert tool_list_text(again.tools) == tool_list_text(listed.tools)
    assert gateway.client.protocol_version == "2026-07-28"
    instructions = gateway.client.instructions or ""
    assert (
        "execute_code" in instructions
        and "Also callable directly as tools: convert_time, get_current_time" in instructions
    )


def test_discovery_by_query_and_by_server(gateway: Connected, estate: Path) -> None:
    found, error = gateway.text("search_tools", {"query": "transcript note lead", "limit": 3})
    assert not error, found
    assert found.splitlines()[0].startswith("servers.crm.attach_note_to_lead(")
    names, error = gateway.text("search_tools", {"query": "entities", "detail": "name"})
    assert not error and "servers.memory.create_entities" in names.splitlines()
    index, error = gateway.text("list_tools", {"server": "memory"})
    generated = (estate / "servers" / "memory" / "__init__.py").read_text(encoding="utf-8")
    assert not error and index.splitlines()[0].startswith("memory (memory-server 0.6.3): 9 tools.")
    assert all(line in generated for line in index.splitlines())  # the generated index, not a second renderer
    overview, _ = gateway.text("list_tools", {})
    assert overview == ast.get_docstring(
        ast.parse((estate / "servers" / "__init__.py").read_text(encoding="utf-8"))
    )
    assert "crm (20 tools)" in overview and "memory (9 tools)" in overview
    unknown, error = gateway.text("list_tools", {"server": "nope"})
    assert error and "servers: crm, drive, flaky, memory, remote, slack, time" in unknown


CHAIN = """
from servers.time import get_current_time
from servers.memory import create_entities, open_nodes
now = await get_current_time(timezone="UTC")
stamp = now.structured_content["datetime"] if now.structured_content else now.text
import uuid
name = f"run-{uuid.uuid4().hex}"
await create_entities(entities=[{"name": name, "entityType": "event", "observations": [f"ran at {stamp}"]}])
nodes = await open_nodes(names=[name])
print("remembered:", "ran at " + stamp in nodes.text, len(stamp) > 10)
"""


def test_script_chains_two_servers(gateway: Connected) -> None:
    text, error = gateway.text("execute_code", {"code": CHAIN})
    assert not error, text
    assert text.strip() == "remembered: True True"


def test_script_chains_seed_servers_and_keeps_secrets_out(gateway: Connected) -> None:
    code = (
        "from servers.crm import find_lead\n"
        "from servers.slack import list_channels\n"
        "leads = await find_lead(query='Dana')\n"
        "channels = await list_channels()\n"
        "import os\n"
        "print(leads.total_size, 'eng-robotics' in channels.text, sorted(k for k in os.environ if 'TOKEN' in k))\n"
    )
    text, error = gateway.text("execute_code", {"code": code})
    assert not error, text
    assert text.strip() == "1 True []"
    for secret in SECRETS.values():
        assert secret not in text


def test_kept_direct_tool_is_passed_through(gateway: Connected) -> None:
    result = gateway.call("get_current_time", {"timezone": "UTC"})
    assert not result.is_error
    payload = json.loads(result.content[0].text)
    assert payload["timezone"] == "UTC" and payload["datetime"][:2] == "20"


def test_policy_denies_in_scripts_and_pass_through(gateway: Connected) -> None:
    code = (
        "from servers.crm import convert_lead\n"
        "from servers import ToolError\n"
        "try:\n"
        "    await convert_lead(lead_id='00Q5f000004NbQ2EAK')\n"
        "except ToolError as exc:\n"
        "    print('refused:', exc.message)\n"
    )
    text, error = gateway.text("execute_code", {"code": code})
    assert not error, text
    assert "refused: denied: the host's policy denies crm/convert_lead" in text
    direct, error = gateway.text(
        "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    )
    assert error and "the host's policy denies time/convert_time" in direct


def test_a_server_that_fails_to_start_is_a_clear_error_and_the_gateway_keeps_serving(
    gateway: Connected,
) -> None:
    code = (
        "from servers.flaky import ping\n"
        "from servers import ToolError\n"
        "try:\n"
        "    await ping(text='hello')\n"
        "except ToolError as exc:\n"
        "    print('failed:', exc.message)\n"
    )
    text, error = gateway.text("execute_code", {"code": code})
    assert not error, text
    assert "failed: server flaky could not be started" in text
    assert SECRETS["FLAKY_TOKEN"] not in text
    after, error = gateway.text(
        "execute_code",
        {"code": "from servers.crm import list_users\nprint(len((await list_users()).text) > 0)"},
    )
    assert not error and after.strip() == "True"


def test_audit_log_has_the_calls_and_no_secrets(gateway: Connected, estate: Path) -> None:
    gateway.text("execute_code", {"code": "print('audited')"})
    gateway.call("get_current_time", {"timezone": "UTC"})  # a pass-through call, allowed
    gateway.call(  # a pass-through call the policy refuses
        "convert_time", {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}
    )
    log = (estate / ".cfmigrate" / "audit.jsonl").read_text(encoding="utf-8")
    events = [json.loads(line) for line in log.splitlines()]
    assert any(
        e.get("event") == "tool_call" and e.get("via") == "direct" and e.get("server") == "time"
        for e in events
    )
    assert any(e.get("event") == "tool_call" and e.get("outcome") == "refused" for e in events)
    for secret in SECRETS.values():
        assert secret not in log


DELETE = """
import uuid
from servers.memory import create_entities, delete_entities, open_nodes
from servers import ToolError
name = f"doomed-{uuid.uuid4().hex}"
await create_entities(entities=[{"name": name, "entityType": "note", "observations": ["x"]}])
try:
    await delete_entities(entity_names=[name])
    print("deleted")
except ToolError as exc:
    print("refused:", exc.message)
print("left:", name in (await open_nodes(names=[name])).text)
"""


def test_destructive_call_is_refused_when_the_client_cannot_be_asked(gateway: Connected) -> None:
    # a 2026-07-28 connection: the server may not send the client a request mid-call, so nobody is asked
    text, error = gateway.text("execute_code", {"code": DELETE})
    assert not error, text
    assert (
        "refused: denied: memory/delete_entities is marked destructive and no approver is configured" in text
    )
    assert text.strip().endswith("left: True")


def test_a_legacy_client_is_asked_before_a_destructive_call(gateway: Connected) -> None:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.types import ElicitResult

    if gateway.url is None:
        pytest.skip(
            "one stdio client per gateway process: asked over HTTP, where a second client can connect"
        )
    url = gateway.url
    asked: list[str] = []
    answers = [True, False]

    async def confirm(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"allow": answers.pop(0)})

    legacy = Connected(lambda: streamable_http_client(url), mode="legacy", elicitation_callback=confirm)
    try:
        assert legacy.client.protocol_version != "2026-07-28"
        allowed, error = legacy.text("execute_code", {"code": DELETE})
        assert not error and allowed.strip().splitlines() == ["deleted", "left: False"], allowed
        declined, error = legacy.text("execute_code", {"code": DELETE})
        assert (
            not error
            and "refused: denied: memory/delete_entities is marked destructive and the approver declined it"
            in declined
        )
        assert len(asked) == 2
        assert asked[0].startswith("A script the model wrote wants to call memory/delete_entities with {")
    finally:
        legacy.close()


def test_http_refuses_other_hosts_and_origins(gateway: Connected) -> None:
    import httpx

    if gateway.url is None:
        pytest.skip("HTTP only")
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream"}
    rebound = httpx.post(gateway.url, json=body, headers={**headers, "Host": "evil.example"}, timeout=30)
    foreign = httpx.post(
        gateway.url, json=body, headers={**headers, "Origin": "http://evil.example"}, timeout=30
    )
    assert (rebound.status_code, foreign.status_code) == (421, 403)


def test_remote_http_server_gets_its_key_from_the_host_only(gateway: Connected) -> None:
    code = (
        "from servers.remote import add, whoami\n"
        "import os\n"
        "print((await add(a=2, b=3)).text, (await whoami()).text, 'GW_API_KEY' in os.environ)\n"
    )
    text, error = gateway.text("execute_code", {"code": code})
    assert not error, text
    assert text.strip() == "5 http-fixture False"
    assert SECRETS["GW_API_KEY"] not in text


def test_estate_names_what_it_cannot_serve_and_skips_itself(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "fixtures" / "small-toolset", root)
    config = json.loads((root / ".mcp.json").read_text(encoding="utf-8"))
    config["mcpServers"].update(
        {
            "off": {"command": "python", "args": ["mcp_servers/retired_server.py"], "disabled": True},
            "far": {"type": "http", "url": "https://mcp.example.invalid/mcp"},
            "gateway": {"command": "cfmigrate", "args": ["serve", "."]},
        }
    )
    (root / ".mcp.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (root / "pyproject.toml").write_text(
        '[tool.cfmigrate]\nkeep-direct = ["weather/get_local_time", "nope"]\n', encoding="utf-8"
    )
    done = subprocess.run(
        [*SERVE[:-1], "generate", "--root", str(root)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    found = gateway_estate(root)
    assert [(s.name, s.kept_direct) for s in found.served] == [("weather", True)]
    reasons = {u.name: u.reason for u in found.unserved}
    assert sorted(reasons) == ["far", "off"]  # the gateway's own entry is neither served nor reported
    assert reasons["off"] == "disabled in its config"
    assert "its tools are unknown" in reasons["far"] and "cfmigrate generate --refresh" in reasons["far"]
    assert found.kept == ("weather/get_local_time",)
    assert found.notes == ("keep-direct 'nope': no known server or tool of that name (not passed through)",)
    names = [t.name for t in gateway_tools(root)]
    assert names == ["execute_code", "search_tools", "list_tools", "get_local_time"]
    started = subprocess.run(
        [*SERVE, str(root)], capture_output=True, text=True, timeout=120, input=""
    )  # stdin closed at once: the gateway starts, names what it does not serve, and ends
    assert "cfmigrate serve: not serving far (.mcp.json): its tools are unknown" in started.stderr
    assert "cfmigrate serve: not serving off (.mcp.json): disabled in its config" in started.stderr
    assert "Traceback" not in started.stderr


def test_a_kept_tool_named_like_a_gateway_tool_is_prefixed() -> None:
    from cfmigrate.analyzers.model import Manifest, ToolDef
    from cfmigrate.migrate.serve import _kept_tools

    manifests = {
        "docs": Manifest(
            server="docs",
            tools=(ToolDef("search_tools", "Search the docs."), ToolDef("read", "Read a page.")),
            origin="snapshot",
        )
    }
    notes: list[str] = []
    kept = _kept_tools(["docs"], manifests, {"docs": "docs"}, notes)
    assert [(k.server, k.name, k.definition.name) for k in kept] == [
        ("docs", "read", "read"),
        ("docs", "search_tools", "docs_search_tools"),
    ]
    assert notes == []


def test_gateway_log_names_the_failed_server_without_its_secret(gateway: Connected) -> None:
    gateway.text(
        "execute_code",
        {
            "code": "from servers.flaky import ping\ntry:\n    await ping(text='x')\nexcept Exception:\n    pass"
        },
    )
    errlog = gateway.errlog  # type: ignore[attr-defined]
    errlog.flush()
    log = Path(errlog.name).read_text(encoding="utf-8")
    assert "server flaky" in log and "flaky: refusing to start (token=***)" in log
    for secret in SECRETS.values():
        assert secret not in log


def test_a_busy_http_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*SERVE, str(tmp_path), "--http", str(port)], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 2
    assert (
        done.stderr
        == f"error: --http {port}: cannot listen on 127.0.0.1:{port} (Address already in use); pick another port\n"
    )


def test_a_call_the_client_gives_up_on_stops_its_script(gateway: Connected) -> None:
    from mcp import MCPError

    code = "import time\ntime.sleep(25)\nprint('too late')"
    with pytest.raises(MCPError):
        gateway.run(gateway.client.call_tool("execute_code", {"code": code}, read_timeout_seconds=2))
    started = time.monotonic()
    text, error = gateway.text("execute_code", {"code": "print('next')"})
    assert not error and text.strip() == "next"
    assert time.monotonic() - started < 15  # the abandoned script was stopped, not waited for
