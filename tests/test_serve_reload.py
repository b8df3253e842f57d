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
from test_serve import SERVE, Connected

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


def wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_reload_keeps_text_when_unchanged_and_announces_a_change(tmp_path: Path) -> None:
    from mcp.client.stdio import StdioServerParameters, stdio_client

    root = tmp_path / "repo"
    shutil.copytree(REPO / "fixtures" / "small-toolset", root)
    generate(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CFM_")}
    env.update(WEATHER_API_KEY="wx-secret-1234", WEATHER_DATA=str(tmp_path / "weather.json"))
    errlog = (tmp_path / "gateway.stderr").open("w+", encoding="utf-8")
    params = StdioServerParameters(command=SERVE[0], args=[*SERVE[1:], str(root)], env=env)
    gateway = Connected(lambda: stdio_client(params, errlog=errlog))
    events: list[str] = []
    try:
        first = tool_list_text(gateway.run(gateway.client.list_tools()).tools)

        async def listen() -> None:
            async with gateway.client.listen(tools_list_changed=True) as subscription:
                async for event in subscription:
                    events.append(type(event).__name__)

        listener = asyncio.run_coroutine_threadsafe(listen(), gateway.loop)

        def log() -> str:
            errlog.flush()
            return (tmp_path / "gateway.stderr").read_text(encoding="utf-8")

        # a regenerate that writes the same files: reloaded, not announced, the same bytes
        for path in sorted((root / "servers").rglob("*.py")):
            os.utime(path)
        wait_for(lambda: "tool list unchanged" in log())
        assert tool_list_text(gateway.run(gateway.client.list_tools()).tools) == first
        assert events == []

        # a new server: regenerated, announced, listed and callable
        (root / "mcp_servers" / "shout_server.py").write_text(SHOUT_SERVER, encoding="utf-8")
        config = json.loads((root / ".mcp.json").read_text(encoding="utf-8"))
        config["mcpServers"]["shout"] = {"command": sys.executable, "args": ["mcp_servers/shout_server.py"]}
        (root / ".mcp.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        generate(root)
        wait_for(lambda: events == ["ToolsListChanged"])
        second = gateway.run(gateway.client.list_tools()).tools
        assert tool_list_text(second) != first
        listing = next(t for t in second if t.name == "list_tools")
        assert listing.input_schema["properties"]["server"]["enum"] == ["shout", "weather"]
        result = gateway.call(
            "execute_code",
            {"code": "from servers.shout import shout\nprint((await shout(text='reloaded')).text)"},
        )
        assert not result.is_error, result.content[0].text
        assert result.content[0].text.strip() == "RELOADED!"
        assert "wx-secret-1234" not in log()
        listener.cancel()
    finally:
        gateway.close()
        errlog.close()
