"""migrate takes its agents from the audit's program model: which agents, which files each spans, what moves.

The corpus cases are run in process (`migrate(..., write=False)`), on copies, over the same fixtures
`tests/test_audit_corpus.py` compares with the audit.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cfmigrate.migrate.audit import AuditOptions, run_audit
from cfmigrate.migrate.rules._plan import AgentUnit
from cfmigrate.migrate.runner import MigrationResult, migrate
from cfmigrate.migrate.units import select

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "fixtures" / "audit-corpus"


def _copy(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(CORPUS / name, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _run(root: Path, *, all_agents: bool = False) -> MigrationResult:
    return migrate(root, write=False, generate=False, jobs=1, all_agents=all_agents)


def _unit(name: str, files: tuple[str, ...], action: str, framework: str = "anthropic") -> AgentUnit:
    return AgentUnit(
        name=name,
        path=files[0],
        line=3,
        files=files,
        servers=("s",),
        framework=framework,
        decision="hybrid" if action == "migrate" else "keep-mcp",
        action=action,  # type: ignore[arg-type]
        reason=f"{name} kept on direct MCP by the decision framework" if action == "held" else "",
    )


# ------------------------------------------------------------------------------------------ the corpus


def test_helper_agent_is_named_where_the_audit_reports_it_and_its_helper_is_not_an_agent(
    tmp_path: Path,
) -> None:
    root = _copy("helper-agent", tmp_path)
    (audited,) = run_audit(root, AuditOptions(progress=False)).agents
    result = _run(root)
    assert result.changed == () and result.manual == ()
    assert [(p, line, why.split(" ", 1)[0]) for p, line, why in result.skipped] == [
        ("assistant.py", 14, "assistant")
    ]
    assert audited.source == "assistant.py:14" and audited.decision == "keep-mcp"


def test_helper_agent_with_all_is_rewritten_whole_or_left_identical_with_the_reason(tmp_path: Path) -> None:
    """--all moves it, but the rewrite would have to follow the helper's session into toolbox.py (its
    `run(name, arguments)` dispatch is not a tool-use block the rules can route): nothing is written, and
    the agent is listed at the line the audit reports, with the site that blocks it."""
    root = _copy("helper-agent", tmp_path)
    result = _run(root, all_agents=True)
    assert result.changed == ()
    reasons = {(m.path, m.line): m.reason for m in result.manual}
    assert reasons[("assistant.py", 14)].startswith(
        "assistant not moved onto code mode: the codemods cannot rewrite"
    )
    assert "toolbox.py:34 (CFM002)" in reasons[("assistant.py", 14)]
    assert reasons[("toolbox.py", 34)].startswith("CFM002: the tool name is computed here")


def test_helper_function_agent_is_named_and_left_for_manual_migration(tmp_path: Path) -> None:
    """The audit decides `hybrid` for bot.agent (27 tools through the client bot/mcp_tools.py builds). No
    codemod can follow that client into bot/agent.py yet, so the honest outcome is: both files unchanged,
    the agent under "needs manual migration" with the reason, and --check failing (exit 1) because the
    decision would migrate it."""
    root = _copy("helper-function", tmp_path)
    (audited,) = run_audit(root, AuditOptions(progress=False)).agents
    assert audited.decision == "hybrid"
    result = _run(root)
    assert result.changed == () and result.skipped == ()
    (only,) = result.manual
    assert (only.path, only.line) == ("bot/agent.py", 13)
    assert only.reason.startswith("bot.agent not moved onto code mode: its MCP code is in bot/mcp_tools.py")


def test_subagents_are_decided_one_by_one_and_the_code_first_one_waits_for_its_session(
    tmp_path: Path,
) -> None:
    """Six framework agents in one module: the five kept on direct MCP are skipped one by one, and only
    team:github_agent (code-first) is considered. CFM005 can convert its construction alone, but main()
    still connects the `github` server for every agent (`servers = [..., github]`), so CodeMode would
    start it a second time: the honest outcome is team.py unchanged and team:github_agent under "needs
    manual migration" with that reason (not the five kept agents' servers, which are not its own)."""
    root = _copy("subagents", tmp_path)
    decisions = {a.name: a.decision for a in run_audit(root, AuditOptions(progress=False)).agents}
    assert [n for n, d in decisions.items() if d == "code-first"] == ["team:github_agent"]
    result = _run(root)
    assert sorted(why.split(" ", 1)[0] for _, _, why in result.skipped) == sorted(
        n for n, d in decisions.items() if d == "keep-mcp"
    )
    assert result.changed == ()
    reasons = {(m.path, m.line): m.reason for m in result.manual}
    assert reasons[("team.py", 22)].startswith("team:github_agent not moved onto code mode")
    assert "server 'github' is still opened after the rewrite" in reasons[("team.py", 15)]
    assert not any("'files'" in why or "'git'" in why for why in reasons.values())


def test_a_tool_script_is_never_rewritten(tmp_path: Path) -> None:
    root = _copy("tool-script", tmp_path)
    for all_agents in (False, True):
        result = _run(root, all_agents=all_agents)
        assert result.changed == () and result.manual == () and result.skipped == ()
        assert any(n.startswith("backup.py: backup is a tool script") for n in result.notes)


# ------------------------------------------------------------------------------------------ selection


def test_a_helper_file_given_alone_brings_its_whole_agent() -> None:
    """pre-commit passes only the changed files: the agent of a helper module is rewritten with all its files."""
    agent = _unit("app.agent", ("app/agent.py", "app/tools.py"), "migrate")
    other = _unit("cli", ("cli.py",), "migrate")
    chosen = select([agent, other], ["app/tools.py"])
    assert chosen.files == ("app/agent.py", "app/tools.py") and chosen.units == (agent,)


def test_an_agent_sharing_a_file_with_one_that_stays_is_manual_unless_separable() -> None:
    moving = _unit("mod:a", ("mod.py",), "migrate")
    loop = _unit("mod:b", ("mod.py",), "held")
    chosen = select([moving, loop])
    assert chosen.files == () and chosen.skipped == (("mod.py", 3, loop.reason),)
    (manual,) = chosen.manual
    assert manual.reason.startswith("mod:a not moved onto code mode: mod.py also holds mod:b")
    assert "--all" in manual.reason
    framework = _unit("mod:b", ("mod.py",), "held", framework="openai-agents")
    assert select([moving, framework]).files == ("mod.py",)  # CFM005 leaves the kept construction alone
    shared_helper = _unit("other", ("other.py", "mod.py"), "held", framework="openai-agents")
    assert select([moving, shared_helper]).manual  # a multi-file agent is never "separable"
    migrated = AgentUnit("mod:c", "mod.py", 9, ("mod.py",), (), "anthropic", "already-code-mode", "code-mode")
    (manual,) = select([moving, migrated]).manual
    assert "already on code mode" in manual.reason and "--all" not in manual.reason


def test_an_agent_whose_servers_are_all_kept_direct_is_skipped_not_manual(tmp_path: Path) -> None:
    """`keep-direct` covering every server an agent reaches leaves nothing to move: skipped with the reason,
    not "needs manual migration" (which would fail --check for an agent the user chose to keep)."""
    from support.linked import WEATHER_SERVER, linked

    loop = linked(
        """\
import anthropic
from mcp import ClientSession


async def step(session: ClientSession, messages: list) -> list:
    client = anthropic.AsyncAnthropic()
    listed = await session.list_tools()
    tools = [{"name": t.name, "description": t.description, "input_schema": t.inputSchema} for t in listed.tools]
    reply = await client.messages.create(model="m", max_tokens=9, tools=tools, messages=messages)
    return [await session.call_tool(b.name, b.input) for b in reply.content if b.type == "tool_use"]
"""
    )
    root = tmp_path / "repo"
    root.mkdir()
    (root / "weather_server.py").write_text(WEATHER_SERVER)
    (root / "agent.py").write_text(loop)
    moved = _run(root, all_agents=True)
    assert [f.path for f in moved.changed] == ["agent.py"]  # without keep-direct it moves
    (root / "pyproject.toml").write_text('[tool.cfmigrate]\nkeep-direct = ["weather"]\n')
    kept = _run(root, all_agents=True)
    assert kept.changed == () and kept.manual == ()
    ((path, _, why),) = kept.skipped
    assert path == "agent.py" and "every server it reaches (weather) is kept direct" in why


PAIR = '''\
"""Two specialists: one over the time server, one over GitHub."""

from agents import Agent
from agents.mcp import MCPServerStdio

clock = MCPServerStdio(name="time", params={"command": "uvx", "args": ["mcp-server-time"]})
github = MCPServerStdio(name="github", params={"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]})

time_agent = Agent(name="Time", instructions="Answer time questions.", mcp_servers=[clock], model="gpt-4.1")
github_agent = Agent(name="GitHub", instructions="Work with issues.", mcp_servers=[github], model="gpt-4.1")
'''


def test_a_code_first_sub_agent_is_converted_alone_beside_one_kept_direct(tmp_path: Path) -> None:
    """The audit decides keep-mcp for team:time_agent (2 tools) and code-first for team:github_agent (26):
    only the second construction moves, CodeMode launches only its server, the first stays byte-identical."""
    root = tmp_path / "pair"
    root.mkdir()
    (root / "team.py").write_text(PAIR)
    decisions = {a.name: a.decision for a in run_audit(root, AuditOptions(progress=False)).agents}
    assert decisions == {"team:time_agent": "keep-mcp", "team:github_agent": "code-first"}
    result = _run(root)
    assert result.manual == () and [(p, line) for p, line, _ in result.skipped] == [("team.py", 9)]
    (team,) = result.changed
    new = team.new.decode()
    time_line = next(line for line in PAIR.splitlines() if line.startswith("time_agent = "))
    assert time_line in new.splitlines() and 'clock = MCPServerStdio(name="time"' in new
    assert "mcp_servers=[github]" not in new and "tools=[execute_code]" in new
    launches = new[new.index("launches=") : new.index("policy=")]
    assert '"github"' in launches and '"time"' not in launches


def test_an_agent_behind_a_blocking_portal_is_told_how_to_migrate() -> None:
    """No codemod rewrites `portal.call(session.call_tool, ...)`: the reason names the portal and the by-hand steps."""
    from cfmigrate.migrate.units import _unreached

    unit = AgentUnit("bot", "bot.py", 9, ("bot.py",), ("desk",), "openai", "code-first", "migrate")
    source = "with portal.wrap_async_context_manager(ClientSession(r, w)) as session:\n    ...\n"
    assert "anyio blocking portal" in _unreached(unit, source)
    assert "portal.call(code_mode.handle_tool_use, name, arguments)" in _unreached(unit, source)
    assert (
        _unreached(unit, "session = ClientSession(r, w)\n") == "no codemod rewrites its openai code (bot.py)"
    )
