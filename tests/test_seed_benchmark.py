"""The seed scenario end to end on code mode: real SDK, scripted model, real servers, generated package, sandbox.

The run is the benchmark's default comparison (`seed_run` in tests/conftest.py, shared with
tests/test_migrate_seed.py): one run, checked by both files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.seed_run import load_module

REPO = Path(__file__).resolve().parents[1]


def check(bench: ModuleType, result: Any, logs: Path) -> None:
    probes = bench.transcript_probes((bench.FIXTURE / "data" / "transcript.txt").read_text())
    # (a) direct MCP: one round trip per tool call, the transcript re-sent on every later request
    assert result.direct.requests == 6
    assert bench.leaked(result.direct.records, probes)
    # (b) code mode: discovery, (documentation when the signatures lack something), attach, post, answer;
    # compare() already raised unless the note holds the whole transcript, the Slack note's next steps
    # were quoted from text the model was shown, and the honesty check passed every turn
    assert 3 <= result.code.requests <= 5
    # the one-line search results carry the return fields as the code reads them: no documentation round
    steps = re.findall(r"# step: ([a-z-]+)", json.dumps(result.code.records[-1].request))
    assert steps == ["discover", "attach", "post"], steps
    assert bench.leaked(result.code.records, probes[:-3]) == []
    assert [t["name"] for t in result.code.records[0].request["tools"]] == ["execute_code"]
    assert result.context_tokens < 600
    # the same accounting on both sides: the documented tool-use prompt on every request (all send tools)
    assert result.direct.tool_use_prompt == 346 * result.direct.requests
    assert result.code.tool_use_prompt == 346 * result.code.requests
    assert 0 < result.code.discovery < result.direct.discovery
    assert result.reduction == pytest.approx(1 - result.code.billed_input / result.direct.billed_input)
    text = bench.report(result)
    assert "tool-use system prompt" in text and "reduction in billed input tokens" in text
    assert f"floor: code mode's first request carries {result.code.per_request[0]:,} tokens" in text
    assert result.floor == 2 * result.code.per_request[0] and "alternative: every tool's line" in text
    assert bench.describe_speed(result.direct.wall_s * 1000, result.code.wall_s * 1000) in text
    # the logs recount to the printed figures with an independent o200k_base implementation
    recount = load_module("recount_logs", REPO / "benchmarks" / "recount_logs.py")
    direct, code = recount.recount(logs / "direct.jsonl"), recount.recount(logs / "code.jsonl")
    assert direct.agrees and code.agrees
    assert direct.billed_input == result.direct.billed_input and code.billed_input == result.code.billed_input
    assert f"{direct.billed_input:,}" in text and f"{code.billed_input:,}" in text
    first = json.loads((logs / "code.jsonl").read_text().splitlines()[0])
    assert set(first) == {"request", "response"} and first["request"]["max_tokens"] == 4096


@pytest.mark.slow
def test_default_run_migrates_the_fixture_and_its_records_pass_measure(seed_run: Any, tmp_path: Path) -> None:
    """The default code-mode agent is `cfmigrate migrate --write`'s output; `measure` accepts the records
    and reports latency with the benchmark's definition."""
    from typer.testing import CliRunner

    from cfmigrate.migrate.cli import app

    bench, result = seed_run.bench, seed_run.comparison
    bench.write_logs(tmp_path / "logs", result)
    check(bench, result, tmp_path / "logs")
    migrated = seed_run.migrated / "agent.py"  # not build/: the suite writes nothing into the tree
    assert migrated.parent.parent == seed_run.workdir
    assert result.code.agent == str(migrated)
    assert "CodeMode" in migrated.read_text()
    records = tmp_path / "bench.jsonl"
    bench.write_records(records, result)
    measured = CliRunner().invoke(app, ["measure", f"{records}#direct", f"{records}#code"])
    assert measured.exit_code in (0, 1), measured.output
    assert "o200k_base" in measured.output
    speed = bench.describe_speed(result.direct.wall_s * 1000, result.code.wall_s * 1000)
    assert speed in measured.output and bench.LATENCY_DEFINITION in measured.output


@pytest.mark.slow
def test_the_seed_agent_as_written_is_cut_off_copying_the_transcript(seed_run: Any) -> None:
    """max_tokens 4,096 (the fixture agent as written) cannot hold the ~12k-token copy: the turn is cut and the
    agent's loop stops (the benchmark's first run; the direct run as a process is in tests/test_seed_scenario.py)."""
    run = seed_run.comparison.as_written
    assert run is not None
    records = run.records  # compare() raised on a failed run or a model error
    assert [r.response["stop_reason"] for r in records] == ["tool_use", "tool_use", "tool_use", "max_tokens"]
    assert records[-1].output_tokens == 4096
    assert [b["type"] for b in records[-1].response["content"]] == ["text"]  # the cut tool_use is not sent
    crm_file = seed_run.workdir / "state-as-written" / "crm.json"
    crm = json.loads(crm_file.read_text()) if crm_file.exists() else {"notes": {}}
    dana = "00Q5f00001Dw7XYEAZ"  # the lead the transcript belongs on; its one note predates the run
    assert all(n["parent_id"] != dana or n["id"] == "0695f00000Ab1CdEAF" for n in crm["notes"].values())
