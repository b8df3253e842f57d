"""The seed scenario end to end on code mode: real SDK, scripted model, real servers, generated package, sandbox."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks" / "bench_seed_scenario.py"
MIGRATED = REPO / "build" / "seed-migrated" / "agent.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_seed_scenario", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def check(bench: ModuleType, result: Any) -> None:
    probes = bench.transcript_probes((bench.FIXTURE / "data" / "transcript.txt").read_text())
    # (a) direct MCP: one round trip per tool call, the transcript re-sent on every later request
    assert result.direct.requests == 6
    assert bench.leaked(result.direct.records, probes)
    # (b) code mode: one script does all five calls; compare() already raised unless a CRM note holds
    # the whole transcript and #sales-updates got a short message pointing at it
    assert result.code.requests == 2
    assert result.note_id
    assert bench.leaked(result.code.records, probes) == []
    assert [t["name"] for t in result.code.records[0].request["tools"]] == ["execute_code"]
    assert result.context_tokens < 600
    assert result.reduction >= bench.TARGET, bench.report(result)
    report = bench.report(result)
    assert "estimate, o200k_base" in report and "reduction in billed input tokens" in report


@pytest.mark.slow
def test_default_run_migrates_the_fixture_and_its_records_pass_measure(tmp_path: Path) -> None:
    """The default code-mode agent is `cfmigrate migrate --write`'s output; `measure` accepts the records."""
    from typer.testing import CliRunner

    from cfmigrate.migrate.cli import app

    bench = load_bench()
    result = asyncio.run(asyncio.wait_for(bench.compare(None, workdir=tmp_path), 900))
    check(bench, result)
    assert result.code.agent == str(MIGRATED)
    assert "CodeMode" in MIGRATED.read_text()
    records = tmp_path / "bench.jsonl"
    bench.write_records(records, result)
    measured = CliRunner().invoke(app, ["measure", f"{records}#direct", f"{records}#code", "-f", "json"])
    assert measured.exit_code == 0, measured.output
    assert "estimate, o200k_base" in measured.output
