"""`cfmigrate serve` reloads when `servers/` is regenerated: the same text when nothing changed, a
`tools/list_changed` event (through `subscriptions/listen`) and the new server when something did."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from support.real_servers import REPO
from test_serve import SERVE, Connected, free_port, wait_for_port

from cfmigrate.runtime.gateway import tool_list_text

SHOUT_SERVER = '''"""A second server added to the repository after the gateway started."""

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

mcp = MCPServer("shout", log_level="WARNING")


@mcp.tool(annotations=ToolAnnotations(read_only_hint=True))
def shout(text: str) -> str:
    """Return the text in capitals."""
    return text.upper() + "!"


if __name__ == "__main__":
    mcp.run()
'''


def generate(root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cfmigrate.migrate.cli", "generate", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def wait_for(predicate: Any, timeout: float = 60, state: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out; state: {state() if state else None}")


def test_reload_keeps_text_when_unchanged_and_announces_a_change(tmp_path: Path) -> None:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.types import ToolListChangedNotification

    root = tmp_path / "repo"
    shutil.copytree(REPO / "fixtures" / "small-toolset", root)
    generate(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFM_")}
    env.update(
        WEATHER_API_KEY="wx-secret-1234",
        WEATHER_DATA=str(tmp_path / "weather.json"),
        # the configs launch `python`: the test interpreter's, as in an activated venv
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    errlog = (tmp_path / "gateway.stderr").open("w+", encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [*SERVE, str(root), "--http", str(port)], env=env, stderr=errlog, stdout=subprocess.DEVNULL, text=True
    )
    url = f"http://127.0.0.1:{port}/mcp"
    events: list[str] = []
    notified: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            notified.append(message.method)

    try:
        wait_for_port(port, proc)
        modern = Connected(lambda: streamable_http_client(url))
        legacy = Connected(lambda: streamable_http_client(url), mode="legacy", message_handler=on_message)
    except BaseException:
        proc.terminate()
        raise
    try:
        assert (
            modern.client.protocol_version == "2026-07-28" and legacy.client.protocol_version != "2026-07-28"
        )
        assert legacy.client.server_capabilities.tools.list_changed is True
        first = tool_list_text(modern.run(modern.client.list_tools()).tools)
        # the handshake-era wire model writes `properties` before `type`: stable too, in its own order
        legacy_first = tool_list_text(legacy.run(legacy.client.list_tools()).tools)
        assert json.loads(legacy_first)["tools"] == json.loads(first)["tools"]

        async def listen() -> None:
            async with modern.client.listen(tools_list_changed=True) as subscription:
                async for event in subscription:
                    events.append(type(event).__name__)

        listener = asyncio.run_coroutine_threadsafe(listen(), modern.loop)

        def log() -> str:
            errlog.flush()
            return (tmp_path / "gateway.stderr").read_text(encoding="utf-8")

        # a regenerate that writes the same files: reloaded, not announced, the same bytes
        for path in sorted((root / "servers").rglob("*.py")):
            os.utime(path)
        wait_for(lambda: "tool list unchanged" in log())
        assert tool_list_text(modern.run(modern.client.list_tools()).tools) == first
        assert tool_list_text(legacy.run(legacy.client.list_tools()).tools) == legacy_first
        assert events == [] and notified == []

        # a new server: regenerated, announced to both clients, listed and callable
        (root / "mcp_servers" / "shout_server.py").write_text(SHOUT_SERVER, encoding="utf-8")
        config = json.loads((root / ".mcp.json").read_text(encoding="utf-8"))
        config["mcpServers"]["shout"] = {"command": sys.executable, "args": ["mcp_servers/shout_server.py"]}
        (root / ".mcp.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        generate(root)
        wait_for(
            lambda: events == ["ToolsListChanged"] and notified == ["notifications/tools/list_changed"],
            state=lambda: (events, notified, log()[-3000:]),
        )
        second = modern.run(modern.client.list_tools()).tools
        assert tool_list_text(second) != first
        listing = next(t for t in second if t.name == "list_tools")
        assert listing.input_schema["properties"]["server"]["enum"] == ["shout", "weather"]
        result = legacy.call(
            "execute_code",
            {"code": "from servers.shout import shout\nprint((await shout(text='reloaded')).text)"},
        )
        assert not result.is_error, result.content[0].text
        assert result.content[0].text.strip() == "RELOADED!"
        assert "wx-secret-1234" not in log()
        late = Connected(lambda: streamable_http_client(url))  # a client that connects after the reload
        try:
            assert "Servers: shout, weather." in (late.client.instructions or "")
        finally:
            late.close()
        listener.cancel()
    finally:
        modern.close()
        legacy.close()
        proc.terminate()
        proc.wait(30)
        errlog.close()
