"""The seed scenario end to end on code mode: real SDK, scripted model, real servers, generated package, sandbox."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_seed_scenario.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_seed_scenario", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_code_mode_moves_the_transcript_without_showing_it_to_the_model(tmp_path: Path) -> None:
    bench = load_bench()
    result = asyncio.run(asyncio.wait_for(bench.compare(workdir=tmp_path), 900))

    # (a) direct MCP: one round trip per tool call, the transcript re-sent on every later request
    assert result.direct.requests == 6
    assert bench.leaked(
        result.direct.records,
        bench.transcript_probes((bench.FIXTURE / "data" / "transcript.txt").read_text()),
    )
    # (b) code mode: one script does all five calls
    assert result.code.requests == 2
    assert result.note_id  # compare() raised unless a CRM note holds the whole transcript ...
    assert (
        bench.leaked(
            result.code.records,
            bench.transcript_probes((bench.FIXTURE / "data" / "transcript.txt").read_text()),
        )
        == []
    )
    # ... and no code-mode request carried any part of it (checked again here)
    tools = result.code.records[0].request["tools"]
    assert [t["name"] for t in tools] == ["execute_code"]
    assert result.context_tokens < 600
    assert result.reduction >= bench.TARGET, bench.report(result)
    assert result.code.billed_input < 2_500
    report = bench.report(result)
    assert "estimate, o200k_base" in report and "reduction in billed input tokens" in report
