"""The migrate runner and CLI: encodings, line endings, broken files, git safety, exit codes, rule selection,
and a tool script left alone with its server (the real `mcp-server-time`) listed live.

Most CLI calls run the CLI's app in this process (tests/support/cli.py); the console script itself runs as a
real process in `test_broken_files_are_reported_and_the_others_migrated` (and `python -m cfmigrate.migrate.cli`
in test_audit_cli, test_serve and test_packaging)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli import Done, cfmigrate
from support.linked import WEATHER_SERVER, linked
from support.real_servers import pypi_server

from cfmigrate.migrate.rules import MigrationPlan, all_rules, select_rules
from cfmigrate.migrate.runner import MigrateError, is_candidate, migrate, transform_source

ALL = tuple(r.RULE_ID for r in all_rules())
CLI = str(Path(sys.executable).with_name("cfmigrate"))

LOOP = linked('''\
"""An agent loop."""

import anthropic
from mcp import ClientSession


async def step(session: ClientSession, messages: list) -> list:
    client = anthropic.AsyncAnthropic()
    listed = await session.list_tools()
    tools = [{"name": t.name, "description": t.description, "input_schema": t.inputSchema} for t in listed.tools]
    reply = await client.messages.create(model="m", max_tokens=9, tools=tools, messages=messages)
    out = []
    for block in reply.content:
        if block.type == "tool_use":
            result = await session.call_tool(block.name, block.input)  # the model's choice
            out.append(result.content[0].text)
    return out
''')


def cli(*args: str, cwd: Path) -> Done:
    """`cfmigrate migrate ARGS` in this process."""
    return cfmigrate("migrate", *args, cwd=cwd)


def console_script(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`cfmigrate migrate ARGS` as a real process (the installed console script)."""
    return subprocess.run(
        [CLI, "migrate", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def repo(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "repo"
    for rel, content in {"weather_server.py": WEATHER_SERVER, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_crlf_encoding_comments_and_formatting_are_kept() -> None:
    source = ("# -*- coding: latin-1 -*-\n# caf\xe9 agent\n" + LOOP).replace("\n", "\r\n").encode("latin-1")
    result = transform_source(source, "agent.py", MigrationPlan(), ALL)
    assert result.status == "changed", result.error
    new = result.new
    assert b"\r\n" in new and b"\n" not in new.replace(b"\r\n", b"")  # every line still ends in CRLF
    assert "# café agent".encode("latin-1") in new
    assert b"# the model's choice" in new
    assert b"code_mode.handle_tool_use(block.name, block.input)" in new
    assert b'tools = code_mode.tool_definitions("anthropic")' in new
    assert b"listed = " not in new  # CFM007: the listing only fed the old tool list
    untouched = [line for line in source.split(b"\r\n") if line.startswith((b"async def", b'"""An'))]
    assert all(line in new for line in untouched)
    again = transform_source(new, "agent.py", MigrationPlan(), ALL)
    assert again.status == "unchanged"


def test_prefilter_skips_files_without_mcp() -> None:
    rules = select_rules()
    assert not is_candidate(b"import os\nprint(tools)\n", rules)
    assert not is_candidate(b"# mcp mentioned, nothing to rewrite\n", rules)
    assert is_candidate(LOOP.encode(), rules)


def test_broken_files_are_reported_and_the_others_migrated(tmp_path: Path) -> None:
    root = repo(
        tmp_path,
        {
            "a_broken.py": "from mcp import ClientSession\ndef f(:\n    session.call_tool('x', {})\n",
            "b_agent.py": LOOP,
            "c_bytes.py": b"from mcp import x\ncall_tool = '\xff\xfe'\n",
        },
    )
    done = console_script(".", "--write", "--no-generate", cwd=root)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "error: " not in done.stderr.splitlines()[0]
    assert "a_broken.py:2  syntax error: invalid syntax; file left alone" in done.stderr
    assert "c_bytes.py" in done.stderr and "errors (2)" in done.stderr
    assert "handle_tool_use" in (root / "b_agent.py").read_text()
    assert (root / "a_broken.py").read_text().startswith("from mcp import ClientSession\ndef f(:")
    assert not [p for p in root.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


def test_check_and_default_modes_write_nothing_and_exit_codes(tmp_path: Path) -> None:
    root = repo(tmp_path, {"agent.py": LOOP})
    shown = cli(".", "--no-generate", cwd=root)
    assert shown.returncode == 0
    assert shown.stdout.startswith("--- a/agent.py\n+++ b/agent.py\n")
    assert "would rewrite agent.py" in shown.stderr
    checked = cli("--check", "--no-generate", "agent.py", cwd=root)
    assert checked.returncode == 1 and (root / "agent.py").read_text() == LOOP
    written = cli(".", "--write", "--no-generate", cwd=root)
    assert written.returncode == 1 and "rewrote agent.py" in written.stderr
    assert written.stdout == shown.stdout  # --diff is the default for --write too: the diff it applied
    again = cli(".", "--check", "--no-generate", cwd=root)
    assert again.returncode == 0 and again.stdout == ""


def test_rule_selection_and_listing(tmp_path: Path) -> None:
    root = repo(tmp_path, {"agent.py": LOOP})
    whole = cli(".", "--no-generate", cwd=root)
    assert "+            result = await code_mode.handle_tool_use" in whole.stdout
    # One rule alone would leave the agent half on MCP: nothing changes, and the summary says why.
    only = cli(".", "--only", "CFM002", "--no-generate", cwd=root)
    assert only.stdout == "" and "CFM003" not in only.stderr
    assert "needs manual migration, files left unchanged" in only.stderr
    assert "the tool list" in only.stderr and "could not be moved onto CodeMode" in only.stderr
    disabled = cli(".", "--disable", "cfm002,CFM004", "--no-generate", cwd=root)
    assert disabled.stdout == "" and "needs manual migration" in disabled.stderr
    unknown = cli(".", "--only", "CFM999", cwd=root)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: unknown rule CFM999")
    forced = cli(".", "--disable", "CFM006", cwd=root)
    assert forced.returncode == 2 and "cannot be disabled" in forced.stderr
    listed = cli("--list-rules", cwd=root)
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines() if line.startswith("CFM")] == list(ALL)


def test_write_refuses_a_dirty_git_work_tree(tmp_path: Path) -> None:
    root = repo(tmp_path, {"agent.py": LOOP})
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@e",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e",
    }
    for args in (["init", "-q"], ["add", "agent.py", "weather_server.py"], ["commit", "-qm", "agent"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    (root / "notes.txt").write_text("work in progress\n")
    refused = cli(".", "--write", "--no-generate", cwd=root)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: uncommitted changes in the git work tree (notes.txt)")
    assert (root / "agent.py").read_text() == LOOP
    allowed = cli(".", "--write", "--no-generate", "--allow-dirty", cwd=root)
    assert allowed.returncode == 1 and "handle_tool_use" in (root / "agent.py").read_text()
    with pytest.raises(MigrateError, match="not a directory"):
        migrate(root / "agent.py")


def test_a_tool_script_is_not_an_agent_and_is_left_alone_even_with_all(tmp_path: Path) -> None:
    """Literal calls with no model request: the audit reports a tool script (no agent, no decision), so
    migrate rewrites nothing there, even with --all and the server's tools listed live by --refresh."""
    server = pypi_server("mcp-server-time")
    agent = textwrap.dedent(
        f"""\
        import asyncio

        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        PARAMS = StdioServerParameters(command={server!r}, args=["--local-timezone=UTC"])


        async def main() -> None:
            async with stdio_client(PARAMS) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                result = await session.call_tool("get_current_time", {{"timezone": "Europe/Paris"}})
                print(result.content[0].text)


        asyncio.run(main())
        """
    )
    config = {"mcpServers": {"time": {"command": server, "args": ["--local-timezone=UTC"]}}}
    root = repo(tmp_path, {"agent.py": agent, ".mcp.json": json.dumps(config)})
    done = cli(".", "--write", "--refresh", "--all", cwd=root)
    assert done.returncode == 0, done.stderr
    assert (root / "agent.py").read_text() == agent
    assert (
        "note: agent.py: agent is a tool script (it calls MCP tools and sends no model request)"
        in done.stderr
    )
    assert not (root / "servers").exists()
    assert (root / ".cfmigrate" / "manifests").is_dir()  # --refresh still listed the server's tools
    assert cli(".", "--check", cwd=root).returncode == 0


def test_sites_of_later_rules_point_at_lines_of_the_original_file() -> None:
    source = (Path(__file__).resolve().parents[1] / "fixtures" / "seed-scenario" / "agent.py").read_bytes()
    result = transform_source(source, "agent.py", MigrationPlan(), ALL)
    assert result.status == "changed", result.error
    lines = source.decode().splitlines()
    by_rule = {(s.rule, s.message.split()[0]): s.line for s in result.sites}
    assert lines[by_rule[("CFM008", "CONFIG_PATH")] - 1].startswith(
        "CONFIG_PATH = "
    )  # after CFM006 added an import
    removed = next(s for s in result.sites if s.rule == "CFM008" and "load_servers()" in s.message)
    assert lines[removed.line - 1].startswith("def load_servers(")
    assert b"def load_servers" not in result.new and b"stdio_client" not in result.new


def test_file_paths_from_a_subfolder_use_the_git_top_folder_as_root(tmp_path: Path) -> None:
    """`cfmigrate migrate agents/x.py` from inside the repo finds its configs; a file elsewhere is refused."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "frameworks", repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    inside = cli("anthropic_loop.py", "--all", "--no-generate", cwd=repo / "agents")
    assert inside.returncode == 0, inside.stderr
    assert "would rewrite agents/anthropic_loop.py" in inside.stdout + inside.stderr
    (tmp_path / "elsewhere.py").write_text("import mcp\n")
    outside = cli(str(tmp_path / "elsewhere.py"), cwd=repo / "agents")
    assert outside.returncode == 2 and "outside the repository root" in outside.stderr
    assert "Traceback" not in outside.stderr


def test_generate_check_answers_from_the_stamp_after_migrate_write(tmp_path: Path) -> None:
    """`migrate --write` regenerates first and records the rewritten agents in the stamp afterwards."""
    import shutil

    from typer.testing import CliRunner

    from cfmigrate.migrate.cli import app

    repo = tmp_path / "seed"
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "seed-scenario", repo)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "i"], cwd=repo, check=True
    )
    runner = CliRunner()
    written = runner.invoke(app, ["migrate", str(repo), "--write", "--no-diff"])
    assert written.exit_code == 1, written.output  # files written
    checked = runner.invoke(app, ["generate", "--root", str(repo), "--check"])
    assert checked.exit_code == 0, checked.output
    assert "(stamp)" in checked.output
