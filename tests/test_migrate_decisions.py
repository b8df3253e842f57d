"""`cfmigrate migrate` follows the audit's decision, never strands an agent's tools, and survives odd files.

Agents the decision framework keeps on direct MCP are skipped unless `--all`; an agent reaching a server
the generated package does not cover is skipped with the fix; non-UTF-8 files and syntax errors are
reported with file:line (exit 2) while the other files are still migrated. The CLI runs in this process
(tests/support/cli.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support.cli import Done, cfmigrate
from support.linked import DECLARATION, WEATHER_SERVER, linked

from cfmigrate.migrate.runner import migrate

REPO = Path(__file__).resolve().parents[1]

LOOP = linked("""\
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
            result = await session.call_tool(block.name, block.input)
            out.append(result.content[0].text)
    return out
""")


def cli(*args: str, cwd: Path) -> Done:
    return cfmigrate("migrate", *args, cwd=cwd)


def write_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in {"weather_server.py": WEATHER_SERVER, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_seed_agent_is_not_moved_when_servers_setting_leaves_some_of_its_servers_out(tmp_path: Path) -> None:
    root = tmp_path / "seed"
    shutil.copytree(REPO / "fixtures" / "seed-scenario", root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text('[tool.cfmigrate]\nservers = ["drive"]\n')
    before = (root / "agent.py").read_bytes()
    result = migrate(root, write=True, allow_dirty=True, generate=False)
    assert (root / "agent.py").read_bytes() == before
    assert not result.changed
    [(path, line, why)] = result.skipped
    assert (path, line) == ("agent.py", 94)
    assert "reaches servers 'crm', 'slack' with no generated wrappers" in why
    assert "add servers 'crm', 'slack' to `[tool.cfmigrate] servers` in pyproject.toml" in why
    # Without the filter every server is covered (static analysis of their code) and the agent moves.
    (root / "pyproject.toml").unlink()
    assert migrate(root, allow_dirty=True, generate=False).changed[0].path == "agent.py"


def test_agent_the_audit_cannot_decide_for_is_left_alone_even_with_all(tmp_path: Path) -> None:
    config = {"mcpServers": {"weather": {"command": "weather-mcp", "args": []}}}
    agent = LOOP.replace(DECLARATION, "")  # it takes its session as a parameter: no server is linked to it
    root = tmp_path / "r"
    root.mkdir()
    (root / "agent.py").write_text(agent)
    (root / ".mcp.json").write_text(json.dumps(config))
    done = cli(".", "--write", "--all", "--no-generate", cwd=root)
    assert done.returncode == 0, done.stderr
    assert (root / "agent.py").read_text() == agent
    assert "skipped, left on direct MCP (1):" in done.stderr
    assert "agent not moved onto code mode: the audit cannot decide for it" in done.stderr
    assert "needs manual migration" not in done.stderr


def test_small_agent_kept_by_the_decision_framework_unless_all(tmp_path: Path) -> None:
    root = tmp_path / "fw"
    shutil.copytree(REPO / "fixtures" / "frameworks", root, ignore=shutil.ignore_patterns("__pycache__"))
    kept = cli(".", "--no-diff", cwd=root)
    assert kept.returncode == 0 and "would rewrite" not in kept.stderr
    assert (
        "agents/anthropic_loop.py:36  agents.anthropic_loop kept on direct MCP by the decision framework "
        "(5 tools < 20; one server: a contained toolset); `cfmigrate migrate --all` migrates it anyway"
    ) in kept.stderr
    assert (
        "agents/openai_chat.py:22  agents.openai_chat kept on direct MCP by the decision framework (3 tools"
        in (kept.stderr)
    )
    forced = cli(".", "--no-diff", "--all", "agents/anthropic_loop.py", cwd=root)
    assert "would rewrite agents/anthropic_loop.py" in forced.stderr, forced.stderr
    assert "decision framework" not in forced.stderr


def test_non_utf8_file_is_an_error_with_its_line_and_others_are_migrated(tmp_path: Path) -> None:
    latin = b"# caf\xe9\nfrom mcp import ClientSession\n\n\nasync def f(session: ClientSession):\n"
    latin += b'    return await session.call_tool("x", {})\n'
    late = b'from mcp import ClientSession\nasync def f(session: ClientSession):\n    return "\xe9"\n'
    late += b'    await session.call_tool("x", {})\n'
    root = write_repo(tmp_path / "r", {"a_latin.py": latin, "b_agent.py": LOOP, "c_late.py": late})
    done = cli(".", "--write", "--no-generate", cwd=root)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "errors (2):" in done.stderr
    assert "a_latin.py:1  not valid UTF-8 and no PEP 263 coding cookie" in done.stderr
    assert "c_late.py:3  not valid utf-8 (byte 0xe9)" in done.stderr
    assert (root / "a_latin.py").read_bytes() == latin
    assert "handle_tool_use" in (root / "b_agent.py").read_text()


def test_latin1_file_with_a_coding_cookie_is_migrated_and_kept_in_latin1(tmp_path: Path) -> None:
    source = ("# -*- coding: latin-1 -*-\n# café agent\n" + LOOP).encode("latin-1")
    root = write_repo(tmp_path / "r", {"agent.py": source})
    done = cli(".", "--write", "--no-generate", cwd=root)
    assert done.returncode == 1, done.stderr
    data = (root / "agent.py").read_bytes()
    assert b"# caf\xe9 agent" in data  # still latin-1, not re-encoded as UTF-8
    text = data.decode("latin-1")
    assert "code_mode.handle_tool_use(block.name, block.input)" in text
    compile(data, "agent.py", "exec")


def test_syntax_errors_carry_pythons_own_message(tmp_path: Path) -> None:
    broken = "from mcp import ClientSession\n\nx = (1,\nsession.call_tool('x', {})\n"
    root = write_repo(tmp_path / "r", {"broken.py": broken})
    done = cli(".", "--no-generate", cwd=root)
    assert done.returncode == 2
    line = next(row for row in done.stderr.splitlines() if "broken.py" in row)
    try:
        compile(broken, "broken.py", "exec")
    except SyntaxError as exc:
        assert line.strip() == f"broken.py:{exc.lineno}  syntax error: {exc.msg}; file left alone"
    assert "expected one of" not in done.stderr
