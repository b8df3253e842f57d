"""The `cfmigrate migrate` CLI over each fixture repository, compared with the expected trees.

The expected trees are written by `tests/expected/regen.py` (run it after an intended change); this
test reruns the CLI on fresh copies, compares every changed file byte for byte, checks the files it
did not change are untouched, that `ruff check` finds nothing new in the output, and that a second
run (`--check`) has nothing left to do.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from support.cli import Done, cfmigrate

EXPECTED = Path(__file__).resolve().parent / "expected"


def _regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cfm_expected_regen", EXPECTED / "regen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


regen = _regen()


def _ruff(path: Path) -> set[str]:
    """ruff's default rules on one file, as 'CODE message' (lines left out so old and new compare)."""
    from ruff.__main__ import find_ruff_bin

    done = subprocess.run(
        [str(find_ruff_bin()), "check", "--isolated", "--no-cache", "--output-format", "concise", path.name],
        capture_output=True,
        text=True,
        check=False,
        cwd=path.parent,  # the same working directory shape for the original and the migrated copy
    )
    found = set()
    for line in done.stdout.splitlines():
        parts = line.split(": ", 1)
        if len(parts) == 2 and line.startswith(f"{path.name}:"):
            found.add(parts[1])
    return found


def _in_process(root: Path, *args: str) -> Done:
    return cfmigrate("migrate", str(root), *args, cwd=root)


@pytest.mark.parametrize("fixture", sorted(regen.FIXTURES))
def test_cli_over_fixture_matches_expected_tree(
    fixture: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cfmigrate.migrate.cli import app

    # The console script as a real process on the seed fixture; the CLI's app in this process on the others
    # (tests/support/cli.py: the same command, 2 CPU-s less each).
    run = None if fixture == "seed-scenario" else _in_process
    root, changed, summary, code = regen.migrate_fixture(fixture, tmp_path, run)
    expected_dir = EXPECTED / fixture
    expected = (
        {
            p.relative_to(expected_dir).as_posix(): p.read_bytes()
            for p in expected_dir.rglob("*")
            if p.is_file()
        }
        if expected_dir.is_dir()
        else {}
    )
    assert sorted(changed) == sorted(expected), (
        "the set of migrated files changed: run tests/expected/regen.py if intended"
    )
    for rel, data in changed.items():
        assert data == expected[rel], (
            f"{fixture}/{rel} differs from tests/expected (regen.py rewrites it if intended)"
        )
    assert summary == (EXPECTED / f"{fixture}.summary.txt").read_text()
    # pre-commit convention: files rewritten -> 1; so is an agent the decision would migrate that still needs
    # manual migration (its files are unchanged, but the work is not done)
    manual = "needs manual migration" in summary
    assert code == (1 if changed or manual else 0), summary
    original = Path(regen.REPO) / "fixtures" / regen.VARIANTS.get(fixture, fixture)
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in changed:
            assert path.read_bytes() == (original / rel).read_bytes(), f"{rel} was touched but not reported"
    for rel in changed:
        if rel.endswith(".py"):
            new_problems = _ruff(root / rel) - _ruff(original / rel)
            assert not new_problems, f"ruff finds new problems in migrated {rel}: {sorted(new_problems)}"
    # the second look through the CLI's app in this process (0.3 CPU-s instead of 2 for a fresh interpreter)
    with monkeypatch.context() as here:
        here.chdir(root)
        again = CliRunner().invoke(app, ["migrate", str(root), "--check", "--no-generate"])
    if again.exception is not None and not isinstance(again.exception, SystemExit):
        raise AssertionError(f"migrate --check crashed:\n{again.output}") from again.exception
    assert again.exit_code == (1 if manual else 0), again.stderr
    assert again.stdout == "", "a second run must change nothing"


def test_expected_trees_cover_the_interesting_fixtures() -> None:
    assert (EXPECTED / "seed-scenario" / "agent.py").is_file()
    migrated = (EXPECTED / "seed-scenario" / "agent.py").read_text()
    assert "await code_mode.handle_tool_use(block.name, block.input)" in migrated
    assert 'tools = code_mode.tool_definitions("anthropic")' in migrated
    assert "system = SYSTEM_PROMPT.format(tool_list=code_mode.system_prompt())" in migrated
    assert "Never share customer documents outside northwind-robotics.com" in migrated  # instructions kept
    assert "Tools available:" not in migrated and "def load_servers" not in migrated
    assert "stdio_client" not in migrated and "sessions = {}" not in migrated
    assert "stack.enter_async_context(\n            CodeMode(" in migrated
    assert ".call_tool(" not in migrated
    assert not (EXPECTED / "negatives").exists() or not any((EXPECTED / "negatives").rglob("*.py"))
    # By default the decision framework keeps every small frameworks agent on direct MCP.
    assert not (EXPECTED / "frameworks").exists() or not any((EXPECTED / "frameworks").rglob("*.py"))
    kept = (EXPECTED / "frameworks.summary.txt").read_text()
    assert (
        "agents/anthropic_loop.py:36  agents.anthropic_loop kept on direct MCP by the decision framework "
        "(5 tools < 20; one server: a contained toolset)" in kept
    )
    # --all migrates them, never agents the audit cannot decide for (servers with unknown tools).
    converted = (EXPECTED / "frameworks-all" / "agents" / "anthropic_loop.py").read_text()
    assert "await self.code_mode.handle_tool_use(" in converted and "code_mode.tool_definitions(" in converted
    summary = (EXPECTED / "frameworks-all.summary.txt").read_text()
    assert "rewrote agents/anthropic_loop.py" in summary and "rewrote agents/openai_chat.py" in summary
    assert "rewrote agents/pydantic_ai_agent.py" not in summary
    assert (
        "agents/pydantic_ai_agent.py:11  agents.pydantic_ai_agent not moved onto code mode: the audit cannot "
        "decide for it (tools of calendar, run_python are unknown" in summary
    )
    # each agent the decision would move and no codemod can rewrite whole is named, at the line the audit reports
    assert "needs manual migration, files left unchanged (5):" in summary
    assert (
        "agents/mcp_use_config_agent.py:11  agents.mcp_use_config_agent not moved onto code mode: no codemod "
        "rewrites its mcp-use code (agents/mcp_use_config_agent.py); move it by hand" in summary
    )
    # an agent whose every server is kept direct is skipped, not manual work
    assert (
        "agents/mcp_use_agent.py:22  agents.mcp_use_agent kept on direct MCP: every server it reaches (playwright)"
        in summary
    )
    assert "agents/prompt_chatbot.py:32  agents.prompt_chatbot not moved onto code mode" in summary
    assert "agents/adk_agent.py:14  CFM005: Google ADK loads the MCP tools itself" in summary
    assert "agents/prompt_chatbot.py:36  CFM002: the tool name is computed here" in summary
    for held in ("crewai_agent.py:8", "smolagents_agent.py:16", "langchain_agent.py:30"):
        assert f"agents/{held}  agents." in summary and "the audit cannot decide for it" in summary
