"""The generated `_runtime.py`: real stdio and streamable-HTTP sessions, errors, timeouts, secrets, the bridge
protocol and `set_transport` — exercised through a generated package imported in this process."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cfmigrate.analyzers.model import Manifest, ServerSpec, SourceRef, ToolDef
from cfmigrate.generators.api import GenerateOptions, generate
from cfmigrate.generators.inputs import Estate

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-test-9b8c7d6e5f4a"

FIXTURE_SERVER = '''
import os, time
from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("runtime-fixture")

@server.tool()
def fail_tool(reason: str) -> str:
    """Fail the way tools fail: an is_error result."""
    raise ToolError(f"tool failed: {reason}")

@server.tool()
def fail_rpc() -> str:
    """Fail with a JSON-RPC error."""
    raise MCPError(-32001, "upstream said no")

@server.tool()
def slow(seconds: float) -> str:
    """Sleep, then answer."""
    time.sleep(seconds)
    return "done"

@server.tool()
def pid() -> int:
    """This server process's id."""
    return os.getpid()

@server.tool()
def env_names() -> str:
    """The names of the environment variables this server process sees."""
    return " ".join(sorted(os.environ))

if __name__ == "__main__":
    server.run("stdio")
'''


def _listing(command: str, args: list[str]) -> tuple[ToolDef, ...]:
    from mcp import Client, StdioServerParameters

    async def run() -> tuple[ToolDef, ...]:
        async with Client(StdioServerParameters(command=command, args=args)) as client:
            tools = (await client.list_tools()).tools
        return tuple(ToolDef(t.name, t.description or "", t.input_schema, t.output_schema) for t in tools)

    return asyncio.run(run())


GET_DOCUMENT = ToolDef(
    "getDocument",
    "Fetch one document.",
    {
        "type": "object",
        "properties": {"documentId": {"type": "string"}, "maxChars": {"type": "integer"}},
        "required": ["documentId"],
    },
    {"type": "object", "properties": {"content": {"type": "string"}, "title": {"type": "string"}}},
)


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("runtime")
    (root / "fixture_server.py").write_text(FIXTURE_SERVER)
    py = sys.executable
    specs = (
        ServerSpec("fixture", "stdio", SourceRef(".mcp.json"), "test", command=py, args=("fixture_server.py",)),
        ServerSpec(
            "crashy", "stdio", SourceRef(".mcp.json"), "test", command=py,
            args=(str(REPO / "tests" / "servers" / "crash.py"),), env_names=("CFM_CRASH_TOKEN",),
        ),
        ServerSpec(
            "needs_env", "stdio", SourceRef(".mcp.json"), "test", command=py, args=("fixture_server.py",),
            env_names=("CFM_RUNTIME_UNSET_VAR",),
        ),
        ServerSpec(
            "named_env", "stdio", SourceRef(".mcp.json"), "test", command=py, args=("fixture_server.py",),
            env_names=("CFM_NAMED_VAR",),
        ),
    )  # fmt: skip
    tools = _listing(py, [str(root / "fixture_server.py")])
    manifests = (
        Manifest("fixture", tools, "live"),
        Manifest("crashy", (ToolDef("go", input_schema={"type": "object"}),), "live"),
        Manifest("needs_env", (ToolDef("go", input_schema={"type": "object"}),), "live"),
        Manifest("named_env", tools, "live"),
        Manifest("docs", (GET_DOCUMENT,), "manifest-file"),
    )
    by_name = {s.name: s for s in specs}
    estate = Estate(pairs=tuple((by_name.get(m.server), m) for m in manifests), specs=specs, bases={})
    name = f"rt_{uuid.uuid4().hex[:8]}"
    generate(GenerateOptions(root=root, out=name, discover=False), estate)
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(root))


def _tool(pkg: ModuleType, server: str, name: str) -> Any:
    return getattr(importlib.import_module(f"{pkg.__name__}.{server}"), name)


def test_stdio_calls_reuse_one_session(pkg: ModuleType) -> None:
    pid = _tool(pkg, "fixture", "pid_sync")
    first = pid()
    assert first.text.isdigit() and first.is_error is False
    assert pid().text == first.text  # same server process: the session was reused
    assert first.content[0].text == first.text and first.isError is False


def test_is_error_result_raises_tool_error(pkg: ModuleType) -> None:
    with pytest.raises(pkg.ToolError) as err:
        _tool(pkg, "fixture", "fail_tool_sync")(reason="disk full")
    exc = err.value
    assert (exc.server, exc.tool, exc.kind, exc.code) == ("fixture", "fail_tool", "tool", None)
    assert "tool failed: disk full" in exc.message and exc.result is not None and exc.result.is_error
    assert str(exc).startswith("fixture.fail_tool: ")


def test_json_rpc_error_raises_tool_error(pkg: ModuleType) -> None:
    async def run() -> None:
        with pytest.raises(pkg.ToolError) as err:
            await _tool(pkg, "fixture", "fail_rpc")()
        assert (err.value.kind, err.value.code, err.value.message) == ("mcp", -32001, "upstream said no")
        assert str(err.value) == "fixture.fail_rpc: upstream said no (code -32001)"

    asyncio.run(run())


def test_call_timeout_then_recovery(pkg: ModuleType) -> None:
    runtime = importlib.import_module(f"{pkg.__name__}._runtime")
    runtime.set_timeouts(call=0.5)
    try:
        with pytest.raises(pkg.ToolError) as err:
            _tool(pkg, "fixture", "slow_sync")(seconds=3)
        assert err.value.kind == "timeout" and "0.5 s" in err.value.message
    finally:
        runtime.set_timeouts(call=120)
    assert _tool(pkg, "fixture", "slow_sync")(seconds=0).text == "done"


def test_invalid_arguments_fail_before_the_call(pkg: ModuleType) -> None:
    with pytest.raises(pkg.ToolError) as err:
        _tool(pkg, "fixture", "slow_sync")(seconds="soon")
    assert err.value.kind == "invalid" and "seconds" in err.value.message


def test_startup_failure_quotes_stderr_without_secrets(
    pkg: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CFM_CRASH_TOKEN", SECRET)
    with pytest.raises(pkg.ToolError) as err:
        _tool(pkg, "crashy", "go_sync")()
    assert err.value.kind == "transport"
    assert "upstream refused the connection" in err.value.message
    assert SECRET not in str(err.value) and "token=***" in err.value.message


def test_missing_environment_variable_is_named(pkg: ModuleType) -> None:
    with pytest.raises(pkg.ToolError) as err:
        _tool(pkg, "needs_env", "go_sync")()
    assert "CFM_RUNTIME_UNSET_VAR" in err.value.message and err.value.kind == "transport"


def test_stdio_server_sees_only_named_variables(pkg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stdio server gets the variables its config names plus the SDK's safe base (PATH, HOME, ...), not
    the whole environment of the process that calls it."""
    monkeypatch.setenv("CFM_NAMED_VAR", "given")
    monkeypatch.setenv("CFM_UNNAMED_SECRET", SECRET)
    names = set(_tool(pkg, "named_env", "env_names_sync")().text.split())
    assert "CFM_NAMED_VAR" in names and "PATH" in names
    assert "CFM_UNNAMED_SECRET" not in names
    from mcp.client.stdio import DEFAULT_INHERITED_ENV_VARS

    assert names <= {"CFM_NAMED_VAR", *DEFAULT_INHERITED_ENV_VARS, "LC_CTYPE", "PWD", "SHLVL", "_"}


def test_unknown_launch_spec(pkg: ModuleType) -> None:
    with pytest.raises(pkg.ToolError) as err:
        _tool(pkg, "docs", "get_document_sync")(document_id="d1")
    assert "no launch spec" in err.value.message


# ---------------------------------------------------------------------------------------------- HTTP


@pytest.fixture
def http_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CFM_HTTP_EXPECTED", SECRET)
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "servers" / "http_server.py"), "streamable-http", "X-Api-Key",
         "CFM_HTTP_EXPECTED"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{line.split()[1]}/mcp"
    finally:
        proc.kill()
        proc.wait()


def test_streamable_http_with_header_from_environment(
    http_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ServerSpec(
        "web", "http", SourceRef(".mcp.json"), "test", url=http_url, header_names=("X-Api-Key",)
    )
    add = ToolDef(
        "add",
        input_schema={
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    )
    name = f"web_{uuid.uuid4().hex[:8]}"
    estate = Estate(pairs=((spec, Manifest("web", (add,), "live")),), specs=(spec,))
    generate(GenerateOptions(root=tmp_path, out=name, discover=False), estate)
    assert SECRET not in (tmp_path / name / "_servers.json").read_text()
    sys.path.insert(0, str(tmp_path))
    try:
        web = importlib.import_module(f"{name}.web")
        errors = importlib.import_module(name)
        with pytest.raises(errors.ToolError) as err:  # no X_API_KEY yet: the server answers 401
            web.add_sync(a=2, b=3)
        assert err.value.kind == "transport"
        monkeypatch.setenv("X_API_KEY", SECRET)
        assert web.add_sync(a=2, b=3).text == "5"
    finally:
        sys.path.remove(str(tmp_path))


# ---------------------------------------------------------------------------------------------- bridge


class BridgeHost:
    """A minimal host on a Unix socket speaking the bridge protocol; records requests and connections."""

    def __init__(self, path: str, replies: dict[str, Any]) -> None:
        self.path = path
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while line := await reader.readline():
            request = json.loads(line)
            self.requests.append(request)
            reply = {"id": request["id"], **self.replies[request["tool"]]}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        writer.close()

    def __enter__(self) -> BridgeHost:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(
            asyncio.start_unix_server(self._handle, self.path), self.loop
        ).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def test_bridge_protocol(pkg: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = str(tmp_path / "bridge.sock")
    ok = {
        "ok": True,
        "result": {
            "content": [{"type": "text", "text": '{"content": "hello", "title": "T"}'}],
            "structuredContent": {"content": "hello", "title": "T"},
            "isError": False,
        },
    }
    with BridgeHost(sock, {"getDocument": ok, "pid": {"ok": False, "error": {"message": "not allowed",
                                                                             "code": None, "kind": "denied"}},
                           "fail_rpc": {"ok": False, "error": {"message": "boom", "code": -32603, "kind": "mcp"}},
                           "fail_tool": {"ok": True, "result": {"content": [{"type": "text", "text": "bad"}],
                                                                "structuredContent": None, "isError": True}}},
                    ) as host:  # fmt: skip
        monkeypatch.setenv("CFMIGRATE_BRIDGE", sock)
        get_document = _tool(pkg, "docs", "get_document")

        async def run() -> None:
            doc = await get_document(document_id="d1")
            assert doc.content_ == "hello" and doc.title == "T"
            assert doc.content[0].type == "text" and doc.text.startswith('{"content"')
            assert doc.structured_content == {"content": "hello", "title": "T"} and doc.is_error is False
            await get_document(document_id="d2", max_chars=10)
            with pytest.raises(pkg.ToolError) as denied:
                await _tool(pkg, "fixture", "pid")()
            assert (denied.value.kind, denied.value.message) == ("denied", "not allowed")
            with pytest.raises(pkg.ToolError) as rpc:
                await _tool(pkg, "fixture", "fail_rpc")()
            assert (rpc.value.kind, rpc.value.code) == ("mcp", -32603)
            with pytest.raises(pkg.ToolError) as tool_error:
                await _tool(pkg, "fixture", "fail_tool")(reason="x")
            assert (tool_error.value.kind, tool_error.value.message) == ("tool", "bad")

        asyncio.run(run())
        assert [r["tool"] for r in host.requests] == [
            "getDocument",
            "getDocument",
            "pid",
            "fail_rpc",
            "fail_tool",
        ]
        assert host.requests[0] == {
            "id": 1,
            "server": "docs",
            "tool": "getDocument",
            "arguments": {"documentId": "d1"},
        }
        assert host.requests[1]["arguments"] == {"documentId": "d2", "maxChars": 10}
        assert host.connections == 1  # one connection carried every call
        assert [r["id"] for r in host.requests] == [1, 2, 3, 4, 5]


def test_bridge_unreachable(pkg: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFMIGRATE_BRIDGE", str(tmp_path / "nobody-listens.sock"))
    with pytest.raises(pkg.ToolError) as err:
        _tool(pkg, "docs", "get_document_sync")(document_id="d1")
    assert err.value.kind == "transport" and "bridge" in err.value.message


def test_set_transport_takes_over(pkg: ModuleType) -> None:
    seen: list[tuple[str, str, dict[str, Any]]] = []

    async def host(server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        seen.append((server, tool, arguments))
        return {"content": [{"type": "text", "text": "via host"}], "structuredContent": {"content": "c"}}

    pkg.set_transport(host)
    try:
        result = _tool(pkg, "docs", "get_document_sync")(document_id="d9")
        assert result.content_ == "c" and result.text == "via host"
        assert seen == [("docs", "getDocument", {"documentId": "d9"})]
        assert asyncio.run(pkg.call_tool("docs", "getDocument", {"documentId": "x"})).text == "via host"
    finally:
        pkg.set_transport(None)


def test_output_that_breaks_its_schema_is_a_tool_error(pkg: ModuleType) -> None:
    async def host(server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {"content": [], "structuredContent": {"content": 42}}

    pkg.set_transport(host)
    try:
        with pytest.raises(pkg.ToolError) as err:
            _tool(pkg, "docs", "get_document_sync")(document_id="d1")
        assert err.value.kind == "invalid" and "outputSchema" in err.value.message
        assert err.value.result is not None and err.value.result.structured_content == {"content": 42}
    finally:
        pkg.set_transport(None)


def test_socket_path_is_short_enough(tmp_path: Path) -> None:
    # AF_UNIX paths are limited (~107 bytes); the bridge tests above rely on pytest's tmp paths fitting.
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(tmp_path / "x.sock"))
    finally:
        s.close()
        os.unlink(tmp_path / "x.sock")
