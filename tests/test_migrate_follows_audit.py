"""On every fixture, `cfmigrate audit` and `cfmigrate migrate` name the same agents with the same decisions.

migrate moves exactly the agents the audit decides "code-first" or "hybrid" (plus "keep direct MCP"
ones with `--all`), never "unknown" ones, and leaves agents already on code mode alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cfmigrate.migrate.audit import run_audit
from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.runner import build_plan

REPO = Path(__file__).resolve().parents[1]
TREES = sorted(
    [p for p in (REPO / "fixtures").iterdir() if p.is_dir()]
    + [p for p in (REPO / "tests" / "e2e" / "agents").iterdir() if (p / "case.json").is_file()]
)
MOVED = {"code-first", "hybrid"}


@pytest.mark.parametrize("tree", TREES, ids=[f"{p.parent.name}/{p.name}" for p in TREES])
def test_audit_and_migrate_agree(tree: Path, tmp_path: Path) -> None:
    root = tmp_path / tree.name
    shutil.copytree(tree, root, ignore=shutil.ignore_patterns("__pycache__", "case.json"))
    audited = {a.name: a.decision for a in run_audit(root).agents}
    for all_agents in (False, True):
        _agree(build_plan(root, all_agents=all_agents)[0], audited, all_agents)


def _agree(plan: MigrationPlan, audited: dict[str, str], all_agents: bool) -> None:
    assert set(plan.agents) == set(audited), (
        f"audit names {sorted(audited)}, migrate names {sorted(plan.agents)}"
    )
    for name, (decision, outcome) in plan.agents.items():
        assert decision == audited[name], f"{name}: audit decides {audited[name]}, migrate {decision}"
        if decision == "already-code-mode":
            assert outcome == "code-mode"
        elif outcome == "migrate":
            assert decision in MOVED or (all_agents and decision == "keep-mcp"), (name, decision)
        else:  # held: the decision keeps it, or a server it reaches has no wrappers / no known launch
            assert outcome == "held", (name, outcome)
            assert decision not in MOVED or _reaches_unusable(plan, name), (name, decision)
        if decision == "unknown":
            assert outcome == "held", f"{name}: an agent the audit cannot decide for is never migrated"


def _reaches_unusable(plan: MigrationPlan, name: str) -> bool:
    """An agent the decision would move may still be held when a server it reaches cannot be used."""
    return any(u.name == name and "not moved onto code mode" in u.reason for u in plan.units)
