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


def make_estate(root: Path) -> Path:
    """The seed scenario plus an npm server, a PyPI server kept direct, and a server that cannot start."""
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
    (root / ".mcp.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    (root / "pyproject.toml").write_text('[tool.cfmigrate]\nkeep-direct = ["time"]\n', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "cfmigrate.migrate.cli", "generate", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
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
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_estate(tmp_path_factory.mktemp("serve-estate"))


SERVE = [sys.executable, "-m", "cfmigrate.migrate.cli", "serve"]
DENY = ["--deny", "crm/convert_lead", "--deny", "time/convert_time"]


@pytest.fixture(scope="module", params=["stdio", "http"])
def gateway(request: pytest.FixtureRequest, estate: Path) -> Iterator[Connected]:
    env = gateway_env(estate)
    errlog = (estate / f"gateway-{request.param}.stderr").open("w+", encoding="utf-8")
    proc: subprocess.Popen[str] | None = None
    if request.param == "stdio":
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], str(estate), *DENY], env=env)
        connected = Connected(lambda: stdio_client(params, errlog=errlog))
    else:
        from mcp.client.streamable_http import streamable_http_client

        port = free_port()
        proc = subprocess.Popen(
            [*SERVE, str(estate), "--http", str(port), *DENY],
            env=env,
            stderr=errlog,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        wait_for_port(port, proc)
        connected = Connected(lambda: streamable_http_client(f"http://127.0.0.1:{port}/mcp"))
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
        "crm": False, "drive": False, "flaky": False, "memory": False, "slack": False, "time": True,
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
    assert found.splitlines()[0].startswith("servers.crm.attach_note_to_lead(lead_id: str")
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
    assert error and "servers: crm, drive, flaky, memory, slack, time" in unknown


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
