"""Every agent repository under tests/e2e/agents/: original run, `cfmigrate migrate --write`, migrated run.

One test per repository (xdist spreads them): the original agent runs against a scripted model that
calls MCP tools directly; a git copy is migrated by the CLI (`migrate --write --refresh`, in this process,
its servers listed live); `generate --check` runs the console script; the copy runs against a scripted
model that writes code against `servers/`. The model must observe the same data (the ticket the host
created before the model's first turn included), the servers must end in the same state, and the
final answer must reach the caller. A case that cannot be migrated safely keeps its files
byte-identical, and the report says why.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.cli import Done
from support.cli import cfmigrate as in_process

from e2e.harness import (
    SCENARIOS,
    Case,
    CodeBrain,
    DirectBrain,
    answer_in,
    cases,
    cfmigrate,
    copy_repo,
    migrate,
    observed_equal,
    offered_tools,
    ruff_unused,
    run_agent,
    served,
)

pytestmark = pytest.mark.slow
CASES = cases()


def migrate_check(repo: Path) -> Done:
    """`cfmigrate migrate --check --no-diff` in the repository, run in this process (tests/support/cli.py)."""
    return in_process("migrate", "--check", "--no-diff", cwd=repo)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=c.pending, strict=True)) if c.pending else c
        for c in CASES
    ],
    ids=[c.name for c in CASES],
)
def test_agent_end_to_end(case: Case, tmp_path: Path) -> None:
    scenario = SCENARIOS[case.scenario]
    repo = copy_repo(case, tmp_path / case.name)

    if case.not_run:  # the original cannot run here; what migrate does to it is still checked
        assert case.expect == "manual", f"{case.name}: only a manual case may skip the runs ({case.not_run})"
        with served(case, repo):
            migration = migrate(repo)
        report = migration.stdout + migration.stderr
        assert migration.changed() == [], f"files changed: {migration.changed()}\n{report}"
        assert case.reason in report, report
        return

    direct = run_agent(case, repo, DirectBrain(scenario))
    host_titles = [t["title"] for t in direct.observed[0][1]["tickets"]]
    assert case.host_ticket in host_titles, f"the model never saw the host's ticket: {direct.observed[0]}"
    direct_answer = answer_in(direct)
    assert direct_answer, f"the final answer did not reach the caller:\n{direct.stdout[-2000:]}"

    with served(case, repo):  # `migrate --refresh` lists the tools of a server that runs on its own live
        migration = migrate(repo)
    report = migration.stdout + migration.stderr
    if case.expect in ("manual", "skipped"):
        # Not migrated safely: every file byte-identical, the report says why (and --check agrees).
        assert migration.changed() == [], (
            f"files changed although the agent was not migrated: {migration.changed()}"
        )
        heading = "needs manual migration" if case.expect == "manual" else "skipped, left on direct MCP"
        assert heading in report and case.reason in report, report
        assert not (repo / "servers").exists() or case.expect == "manual", (
            "a run that migrated nothing wrote servers/"
        )
        check = migrate_check(repo)
        assert check.returncode == (1 if case.expect == "manual" else 0), check.stderr
        return
    assert migration.returncode == 1, f"migrate --write: exit {migration.returncode}\n{report}"
    assert migration.changed(), report
    assert "needs manual migration" not in report, report
    for rel in migration.changed():  # a file that was clean under ruff's F401/F841 stays clean
        if rel.endswith(".py"):
            assert ruff_unused(migration.before[rel], rel) >= ruff_unused(migration.after[rel], rel), (
                f"{rel}: the rewrite left unused imports or variables\n{migration.after[rel].decode()}"
            )
    again = migrate_check(repo)
    assert again.returncode == 0, f"a second run is not a no-op:\n{again.stdout}{again.stderr}"
    stamp = cfmigrate(repo, "generate", "--check")
    assert stamp.returncode == 0, f"servers/ is stale after migrate --write:\n{stamp.stdout}{stamp.stderr}"

    code = run_agent(case, repo, CodeBrain(scenario))
    observed_equal(direct, code)
    assert code.state == direct.state, f"side effects differ:\n direct: {direct.state}\n code:   {code.state}"
    assert answer_in(code) == direct_answer, f"final answer:\n{code.stdout[-2000:]}"
    # What the agent prints besides the answer (e.g. what each server offers at connect time) stays the same.
    if case.same_lines:
        shown = re.compile(case.same_lines)
        before = [line for line in direct.stdout.splitlines() if shown.search(line)]
        assert before, f"the original printed no line matching {case.same_lines!r}"
        after = [line for line in code.stdout.splitlines() if shown.search(line)]
        assert after == before, f"printed lines differ:\n direct: {before}\n code:   {after}"
    assert all(
        name == "execute_code" or name in case.local_tools for r in code.requests for name in offered_tools(r)
    ), "MCP tools still offered"
    assert len(code.scripts) >= 2
    # One session per server per agent: the host's own calls and the model's scripts reach one process.
    assert code.launches and set(code.launches) == set(direct.launches), (
        f"servers started:\n direct: {direct.launches}\n code:   {code.launches}"
    )
    assert all(n == 1 for n in code.launches.values()), f"a server started more than once: {code.launches}"
