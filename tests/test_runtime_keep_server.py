"""`CodeMode(keep_direct=...)` with a bare server name keeps every tool that server lists (real demo MCP server)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_runtime_codemode import SERVER_TOKEN, make_demo_repo

from cfmigrate.runtime import CodeMode, CodeModeError, Limits

DEMO_TOOLS = ["delete_notes", "echo", "fail", "get_contact", "save_note", "token_length"]


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("keep-server-repo")
    saved = {k: os.environ.get(k) for k in ("DEMO_TOKEN", "DEMO_DATA")}
    os.environ.update(DEMO_TOKEN=SERVER_TOKEN, DEMO_DATA=str(root / "data"))
    try:
        yield make_demo_repo(root)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _code_mode(repo: Path, **kwargs: Any) -> CodeMode:
    return CodeMode(
        servers_dir=repo / "servers", config=repo / ".mcp.json", limits=Limits(timeout_s=20), **kwargs
    )


def test_bare_server_name_keeps_all_its_tools(demo_repo: Path) -> None:
    async def scenario() -> None:
        async with _code_mode(demo_repo, keep_direct=("demo",)) as cm:
            names = [t["name"] for t in cm.tool_definitions("anthropic")]
            assert names == ["execute_code", *DEMO_TOOLS]
            assert {k.server for k in cm.kept.values()} == {"demo"}
            assert "Also callable directly as tools: " + ", ".join(DEMO_TOOLS) in cm.system_prompt()
            direct = await cm.handle_tool_use("echo", {"text": "kept with its server"})
            assert direct.text == "kept with its server" and not direct.is_error

    asyncio.run(scenario())


def test_server_and_one_of_its_tools_together_and_a_plain_tool_name(demo_repo: Path) -> None:
    async def scenario() -> None:
        async with _code_mode(demo_repo, keep_direct=("demo/echo", "demo")) as cm:
            assert sorted(cm.kept) == DEMO_TOOLS  # no "two kept tools are named 'echo'" error
        async with _code_mode(demo_repo, keep_direct=("echo",)) as cm:
            assert sorted(cm.kept) == ["echo"]  # a name that is not a server is still a tool name
        with pytest.raises(CodeModeError, match="no tool 'nope' on any server"):
            async with _code_mode(demo_repo, keep_direct=("nope",)):
                pass

    asyncio.run(scenario())
