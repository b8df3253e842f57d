"""The real `pre-commit` running the `cfmigrate-migrate-check` hook of this checkout's `.pre-commit-hooks.yaml`:
a staged agent that still calls MCP tools directly blocks the commit with the diff; the migrated agent passes.
Offline: the hook repository is a local git repository and the hook uses the installed cfmigrate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.linked import WEATHER_SERVER, linked

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to run pre-commit")

AGENT = linked("""\
import anthropic
from mcp import ClientSession


async def step(session: ClientSession, messages: list) -> None:
    listed = await session.list_tools()
    tools = [{"name": t.name, "description": t.description, "input_schema": t.inputSchema} for t in listed.tools]
    reply = await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=9, tools=tools, messages=messages)
    for block in reply.content:
        if block.type == "tool_use":
            await session.call_tool(block.name, block.input)
""")


def _run(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def _git_repo(path: Path, env: dict[str, str]) -> None:
    path.mkdir(parents=True)
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "dev@example.com"],
        ["config", "user.name", "Dev"],
        ["config", "commit.gpgsign", "false"],
    ):
        _run(["git", *args], path, env)


def test_hook_blocks_direct_mcp_agents_and_passes_migrated_ones(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    (tmp_path / "gitconfig").write_text("")
    hooks = tmp_path / "hooks-repo"
    _git_repo(hooks, env)
    shutil.copy(REPO / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    _run(["git", "add", "."], hooks, env)
    _run(["git", "commit", "-q", "-m", "hooks"], hooks, env)
    rev = _run(["git", "rev-parse", "HEAD"], hooks, env).stdout.strip()

    project = tmp_path / "project"
    _git_repo(project, env)
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks.as_uri()}\n    rev: {rev}\n    hooks:\n      - id: cfmigrate-migrate-check\n"
    )
    (project / "notes.md").write_text("not Python: the hook does not run for it\n")
    _run([str(BIN / "pre-commit"), "install"], project, env)
    _run(["git", "add", "notes.md", ".pre-commit-config.yaml"], project, env)
    skipped = _run(["git", "commit", "-m", "docs"], project, env, check=False)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr

    (project / "agent.py").write_text(AGENT)
    (project / "weather_server.py").write_text(WEATHER_SERVER)
    _run(["git", "add", "agent.py", "weather_server.py"], project, env)
    blocked = _run(["git", "commit", "-m", "agent"], project, env, check=False)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "+            await code_mode.handle_tool_use(block.name, block.input)" in output
    assert "would rewrite agent.py" in output
    assert (project / "agent.py").read_text() == AGENT  # --check never writes

    _run(
        [str(BIN / "cfmigrate"), "migrate", ".", "--write", "--no-generate", "--allow-dirty"],
        project,
        env,
        check=False,
    )
    assert "code_mode.handle_tool_use" in (project / "agent.py").read_text()
    _run(["git", "add", "agent.py"], project, env)
    passed = _run(["git", "commit", "-m", "agent on code mode"], project, env, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout + passed.stderr
