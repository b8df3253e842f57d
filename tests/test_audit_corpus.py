"""The audit corpus: small repositories for each attribution case, each with an expected inventory
(`tests/expected/audit-corpus/<name>.json`, written by `tests/expected/audit_corpus.py` and reviewed by
hand), compared exactly; and `plan` and `migrate` name the same agents, decisions and cut as the audit."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from cfmigrate.generators.plan.build import build_plan, priced
from cfmigrate.migrate.audit import AuditOptions, run_audit

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "fixtures" / "audit-corpus"
EXPECTED = REPO / "tests" / "expected" / "audit-corpus"


def _regen() -> Any:
    spec = importlib.util.spec_from_file_location(
        "audit_corpus_regen", REPO / "tests/expected/audit_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REGEN = _regen()
FIXTURES: list[str] = REGEN.fixtures()


def test_corpus_has_at_least_twelve_repositories_each_with_an_expected_inventory() -> None:
    assert len(FIXTURES) >= 12
    assert sorted(p.stem for p in EXPECTED.glob("*.json")) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_inventory_matches_the_reviewed_expectation(name: str) -> None:
    expected = json.loads((EXPECTED / f"{name}.json").read_text())
    assert REGEN.inventory(name) == expected


@pytest.mark.parametrize("name", FIXTURES)
def test_plan_agrees_with_the_audit(name: str) -> None:
    """Same agents (those with known figures and price), same decisions, same cut; the rest counted."""
    report = run_audit(CORPUS / name, AuditOptions(progress=False))
    plan = build_plan(report, audit_source="`cfmigrate audit .`")
    known = {a.name: a for a in report.agents if priced(a, None)}
    rows = {row.name: row for row in plan.agents}
    assert set(rows) == set(known)
    for agent_name, row in rows.items():
        assert row.decision == known[agent_name].decision
        assert row.reduction == known[agent_name].reduction
    left_out = len(report.agents) - len(known)
    counted = [n for n in plan.notes if "left out of this plan" in n]
    assert counted == ([] if not left_out else [counted[0]])
    if left_out:
        assert counted[0].startswith(f"{left_out} of {len(report.agents)} agents are left out")


_NAMED = re.compile(r"^\s+(?P<file>\S+?):\d+\s+(?P<name>\S+) (?:kept on|not moved|is )", re.M)
_CODE_MODE = re.compile(r"^note: (?P<file>\S+?): (?P<name>\S+) is already on code mode", re.M)
_REWRITTEN = re.compile(r"^(?:rewrote|would rewrite) (?P<file>\S+)", re.M)
_UNCHANGED = re.compile(r"^\s+(?P<file>\S+?):\d+\s+left unchanged", re.M)


def _migrate_summary(name: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`cfmigrate migrate --check --no-diff --no-generate` in a copy, through the CLI's app in this process
    (0.2 CPU-s instead of 1.8 for a fresh interpreter; the CLI as a process is tested in test_migrate_runner)."""
    from typer.testing import CliRunner

    from cfmigrate.migrate.cli import app

    work = tmp / name
    shutil.copytree(CORPUS / name, work)
    with monkeypatch.context() as here:
        here.chdir(work)
        result = CliRunner().invoke(app, ["migrate", "--check", "--no-diff", "--no-generate", "-j", "1"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"migrate crashed on {name}:\n{result.output[-2000:]}") from result.exception
    assert result.exit_code in (0, 1), result.output[-2000:]
    return result.output


@pytest.mark.parametrize("name", FIXTURES)
def test_migrate_names_the_agents_the_audit_names(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = run_audit(CORPUS / name, AuditOptions(progress=False))
    summary = _migrate_summary(name, tmp_path, monkeypatch)
    named = {m["name"] for m in _NAMED.finditer(summary)} | {m["name"] for m in _CODE_MODE.finditer(summary)}
    touched = {m["file"] for m in _REWRITTEN.finditer(summary)} | {
        m["file"] for m in _UNCHANGED.finditer(summary)
    }
    agent_files = {a.source.rsplit(":", 1)[0] for a in report.agents}
    # every agent the audit reports is either named by migrate or sits in a file migrate rewrites
    for agent in report.agents:
        assert agent.name in named or agent.source.rsplit(":", 1)[0] in touched, (agent.name, summary)
    # migrate names no agent the audit does not report, and touches no file without one (a helper, a tool script)
    assert named <= {a.name for a in report.agents}, summary
    assert touched <= agent_files, summary


def test_plan_on_an_already_migrated_repository_is_a_real_plan_with_charts() -> None:
    """The README tour ends with `cfmigrate plan . -f html` after `migrate --write`: the agent is in the
    plan as already on code mode, with its figures and a chart, not an empty plan."""
    from cfmigrate.generators.plan.render import render_html

    report = run_audit(CORPUS / "migrated", AuditOptions(progress=False))
    plan = build_plan(report, audit_source="`cfmigrate audit .`")
    assert [(a.name, a.decision) for a in plan.agents] == [("triage", "already-code-mode")]
    assert plan.agents[0].tool_count == 40 and plan.agents[0].code_mode_tokens > 0
    html = render_html(plan)
    assert html.count("<svg") >= 1 and "triage" in html
