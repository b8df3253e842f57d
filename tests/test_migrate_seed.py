"""The migrated seed agent is `cfmigrate migrate --write` output, and it runs the scenario on the code-mode runtime.

The seed benchmark's default run (`seed_run`, shared with tests/test_seed_benchmark.py) copies
`fixtures/seed-scenario/`, lists the three real servers' tools (`migrate_tree(..., refresh=True)`), generates
the wrappers and rewrites `agent.py`; it then drives that agent against the scripted Messages API and the
real fixture servers. This test checks the migration, that the transcript reached the CRM without ever
entering a model request, and the reduction in billed input tokens (against a regression floor; the seed
target itself is the benchmark script's exit status).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.seed_run import load_module

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_migrated_seed_agent_runs_end_to_end_with_the_reduction(seed_run: Any, tmp_path: Path) -> None:
    bench, comparison, result = seed_run.bench, seed_run.comparison, seed_run.migration
    assert [f.path for f in result.changed] == ["agent.py"] and result.written
    assert result.wrappers is not None and result.wrappers.state == "generated"
    agent = (seed_run.migrated / "agent.py").read_text()
    assert ".call_tool(" not in agent and "code_mode.handle_tool_use(block.name, block.input)" in agent
    assert comparison.code.agent == str(seed_run.migrated / "agent.py")
    # compare() raised unless both runs did the task (the CRM note holds the whole transcript, the Slack
    # update's next steps were quoted from text the model was shown) and the honesty check passed every turn
    probes = bench.transcript_probes((bench.FIXTURE / "data" / "transcript.txt").read_text())
    assert bench.leaked(comparison.direct.records, probes)  # the probes do detect the transcript
    assert bench.leaked(comparison.code.records, probes[:-3]) == []  # it never reached the model on code mode
    assert [t["name"] for t in comparison.code.records[0].request["tools"]] == ["execute_code"]
    assert comparison.code.requests < comparison.direct.requests
    assert comparison.reduction == pytest.approx(
        1 - comparison.code.billed_input / comparison.direct.billed_input
    )
    # Regression floor, not the seed target: the honest run (scripted models use only what they were shown)
    # measured 94.97 % (181,646 -> 9,128 billed input tokens over 4 requests, o200k_base) on 2026-12-05; the
    # token figures are deterministic. The 98.7 % target is checked by `python benchmarks/bench_seed_scenario.py`,
    # which prints the ratio and the floor that puts it out of reach, and exits 1 when missed.
    assert comparison.reduction >= 0.93, bench.report(comparison)
    # the logs recount to the same billed figures with an independent o200k_base implementation
    logs = tmp_path / "logs"
    bench.write_logs(logs, comparison)
    recount = load_module("recount_logs", REPO / "benchmarks" / "recount_logs.py")
    direct, code = recount.recount(logs / "direct.jsonl"), recount.recount(logs / "code.jsonl")
    assert direct.agrees and code.agrees
    assert (direct.billed_input, code.billed_input) == (
        comparison.direct.billed_input,
        comparison.code.billed_input,
    )
