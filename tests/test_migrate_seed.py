"""The migrated seed agent is `cfmigrate migrate --write` output, and it runs the scenario on the code-mode runtime.

The seed benchmark's default run (`seed_run`, shared with tests/test_seed_benchmark.py) copies
`fixtures/seed-scenario/`, lists the three real servers' tools (`migrate_tree(..., refresh=True)`), generates
the wrappers and rewrites `agent.py`; it then drives that agent against the scripted Messages API and the
real fixture servers. This test checks the migration, that the transcript reached the CRM without ever
entering a model request, and the reduction in billed input tokens (against a regression floor; the seed
target itself is the benchmark script's exit status).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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
    # measured 88.97 % (181,646 -> 20,039 billed input tokens, o200k_base) on 2026-12-05. The 98.7 % target
    # is checked by `python benchmarks/bench_seed_scenario.py`, which prints the ratio and exits 1 when missed.
    assert comparison.reduction >= 0.80, bench.report(comparison)
    # the logs recount to the same billed figures with an independent o200k_base implementation
    logs = tmp_path / "logs"
    bench.write_logs(logs, comparison)
    recount = _load("recount_logs", REPO / "benchmarks" / "recount_logs.py")
    direct, code = recount.recount(logs / "direct.jsonl"), recount.recount(logs / "code.jsonl")
    assert direct.agrees and code.agrees
    assert (direct.billed_input, code.billed_input) == (
        comparison.direct.billed_input,
        comparison.code.billed_input,
    )
