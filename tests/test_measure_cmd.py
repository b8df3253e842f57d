"""`cfmigrate measure BEFORE AFTER`: traces, audits and benchmark records, targets and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cfmigrate.migrate.cli import app

runner = CliRunner()


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _trace(
    agent: str,
    tasks: int,
    inputs: list[int],
    *,
    latency: float = 2000.0,
    failed_tasks: int = 0,
    output: int = 200,
) -> list[dict[str, Any]]:
    out = []
    for t in range(tasks):
        for i, tokens in enumerate(inputs):
            rec: dict[str, Any] = {
                "task": f"{agent}-{t}",
                "agent": agent,
                "usage": {"input_tokens": tokens, "output_tokens": output},
                "latency_ms": latency,
            }
            if t < failed_tasks and i == len(inputs) - 1:
                rec["error"] = "overloaded_error"
            out.append(rec)
    return out


DIRECT = [18_400, 30_600, 31_500, 32_400]  # 4 requests: definitions re-sent, transcript carried along
CODE = [1_900, 2_300, 2_500]  # 3 requests on code mode


def run(*args: str) -> Any:
    return runner.invoke(app, ["measure", *args])


def test_traces_that_meet_the_targets_exit_0(tmp_path: Path) -> None:
    before = _write_jsonl(tmp_path / "before.jsonl", _trace("sales_ops", 5, DIRECT, latency=4000))
    after = _write_jsonl(tmp_path / "after.jsonl", _trace("sales_ops", 5, CODE, latency=1000))
    result = run(str(before), str(after), "--min-speedup", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "sales_ops: PASS" in out
    before_task, after_task = sum(DIRECT), sum(CODE)
    reduction = (before_task - after_task) / before_task
    assert f"{before_task:,}" in out and f"{after_task:,}" in out
    assert f"[pass] input tokens per task: {reduction * 100:.1f}% fewer (target > 70% fewer)" in out
    assert "[pass] error rate: 0.0% (target < 5%)" in out
    assert "[pass] speed-up per task: 5.33x (target >= 3x)" in out  # 16,000 ms -> 3,000 ms
    assert "tokens: as billed (usage.input_tokens from the provider)" in out  # the token label
    assert "requests per task" in out and "4.0" in out and "3.0" in out


def test_too_few_tokens_saved_exits_1(tmp_path: Path) -> None:
    before = _write_jsonl(tmp_path / "before.jsonl", _trace("a", 3, [10_000, 10_000]))
    after = _write_jsonl(tmp_path / "after.jsonl", _trace("a", 3, [4_000, 4_000]))  # 60 % fewer
    result = run(str(before), str(after))
    assert result.exit_code == 1
    assert "[fail] input tokens per task: 60.0% fewer (target > 70% fewer)" in result.stdout
    assert "targets missed by a" in result.stdout
    # the same files pass a looser target
    assert run(str(before), str(after), "--min-reduction", "50").exit_code == 0


def test_error_rate_over_target_exits_1(tmp_path: Path) -> None:
    before = _write_jsonl(tmp_path / "before.jsonl", _trace("a", 10, DIRECT))
    after = _write_jsonl(tmp_path / "after.jsonl", _trace("a", 10, CODE, failed_tasks=1))  # 10 %
    result = run(str(before), str(after), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["schema"] == "cfmigrate.measure/1"
    assert data["passed"] is False
    checks = {c["metric"]: c for c in data["agents"][0]["checks"]}
    assert checks["error rate"]["status"] == "fail" and checks["error rate"]["value"] == "10.0%"
    assert checks["input tokens per task"]["status"] == "pass"
    assert data["agents"][0]["after"]["error_rate"] == pytest.approx(0.1)


def test_missed_latency_target_exits_1(tmp_path: Path) -> None:
    before = _write_jsonl(tmp_path / "before.jsonl", _trace("a", 2, DIRECT, latency=1000))
    after = _write_jsonl(tmp_path / "after.jsonl", _trace("a", 2, CODE, latency=1000))  # 4 s -> 3 s
    assert run(str(before), str(after)).exit_code == 0  # no latency target by default
    result = run(str(before), str(after), "--min-speedup", "3")
    assert result.exit_code == 1
    assert "[fail] speed-up per task: 1.33x (target >= 3x)" in result.stdout


def test_agents_are_paired_by_name_and_unmatched_ones_listed(tmp_path: Path) -> None:
    before = _write_jsonl(
        tmp_path / "b.jsonl", _trace("x", 2, DIRECT) + _trace("y", 2, [5_000]) + _trace("z", 1, [100])
    )
    after = _write_jsonl(tmp_path / "a.jsonl", _trace("x", 2, CODE) + _trace("y", 2, [4_900]))
    result = run(str(before), str(after), "--format", "markdown")
    assert result.exit_code == 1  # y saves only 2 %
    md = result.stdout
    assert "### x: ✅ targets met" in md
    assert "### y: ❌ target missed" in md
    assert "Not compared: z (only in" in md


def test_lines_without_task_are_one_task_each_and_openai_usage_is_read(tmp_path: Path) -> None:
    before = _write_jsonl(
        tmp_path / "b.jsonl", [{"usage": {"prompt_tokens": 9_000, "completion_tokens": 50}}] * 4
    )
    after = _write_jsonl(
        tmp_path / "a.jsonl",
        [{"usage": {"input_tokens": 500, "cache_read_input_tokens": 500, "output_tokens": 50}}] * 4,
    )
    result = run(str(before), str(after), "--format", "json")
    assert result.exit_code == 0, result.output
    agent = json.loads(result.stdout)["agents"][0]
    assert agent["before"]["tasks"] == 4 and agent["before"]["requests_per_task"] == 1.0
    assert agent["after"]["input_per_task"] == 1_000.0  # cache reads count as input
    assert agent["reduction"] == pytest.approx(1 - 1_000 / 9_000, abs=1e-4)


def _audit(agents: list[dict[str, Any]], tokenizer: str = "estimate, o200k_base") -> dict[str, Any]:
    return {
        "schema": "cfmigrate.audit/1",
        "root": "/r",
        "tokenizer": tokenizer,
        "provider": "anthropic",
        "requests_per_day": 1000,
        "code_mode_source": "",
        "servers": [],
        "agents": agents,
        "problems": [],
        "files_scanned": 1,
        "totals": {},
    }


def _agent(name: str, per_request: int, code_mode: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "source": f"{name}.py:1",
        "framework": "anthropic",
        "provider": "anthropic",
        "model": None,
        "servers": [],
        "servers_basis": "static",
        "unknown_servers": [],
        "tool_count": 30,
        "threshold": "serious",
        "definition_tokens": per_request,
        "overhead_tokens": 0,
        "overhead_note": "",
        "system_prompt_tokens": 0,
        "per_request_tokens": per_request,
        "code_mode_tokens": 800,
        "reduction": 0.9,
        "decision": "already-code-mode" if code_mode else "hybrid",
        "reasons": [],
        "price_per_mtok": 3.0,
        "price_source": "default",
        "monthly_cost_before": 0.0,
        "monthly_cost_after": 0.0,
        "monthly_waste": 0.0,
        "code_mode": code_mode,
        "workflow": None,
        "tool_sequence": [],
    }


def test_two_audits_compare_tokens_per_request(tmp_path: Path) -> None:
    before = tmp_path / "audit.json"
    after = tmp_path / "audit-after.json"
    before.write_text(json.dumps(_audit([_agent("bot", 15_000)])), encoding="utf-8")
    after.write_text(json.dumps(_audit([_agent("bot", 900, code_mode=True)])), encoding="utf-8")
    result = run(str(before), str(after))
    assert result.exit_code == 0, result.output
    assert "[pass] input tokens per request: 94.0% fewer" in result.stdout
    assert "[n/a] error rate" in result.stdout
    assert "tokens: estimate, o200k_base" in result.stdout
    after.write_text(json.dumps(_audit([_agent("bot", 9_000, code_mode=True)])), encoding="utf-8")
    assert run(str(before), str(after)).exit_code == 1


def test_an_audit_agent_with_unknown_tokens_is_left_out_not_compared_as_zero(tmp_path: Path) -> None:
    before = tmp_path / "audit.json"
    after = tmp_path / "audit-after.json"
    unknown = {
        **_agent("mystery", 0),
        "per_request_tokens": None,
        "tool_count": None,
        "definition_tokens": None,
    }
    before.write_text(json.dumps(_audit([_agent("bot", 15_000), unknown])), encoding="utf-8")
    after.write_text(json.dumps(_audit([_agent("bot", 900, code_mode=True)])), encoding="utf-8")
    result = run(str(before), str(after), "--format", "json")
    assert result.exit_code == 0, result.output
    assert [a["agent"] for a in json.loads(result.stdout)["agents"]] == ["bot"]


def test_benchmark_records_select_a_mode(tmp_path: Path) -> None:
    def run_record(mode: str, inputs: list[int], wall: float) -> dict[str, Any]:
        return {
            "scenario": "seed",
            "mode": mode,
            "wall_s": wall,
            "requests": [{"usage": {"input_tokens": n, "output_tokens": 100}} for n in inputs],
        }

    bench = _write_jsonl(
        tmp_path / "bench.jsonl",
        [run_record("direct", DIRECT, 12.0), run_record("code", CODE, 3.0)],
    )
    result = run(f"{bench}#direct", f"{bench}#code", "--min-speedup", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    agent = json.loads(result.stdout)["agents"][0]
    assert agent["agent"] == "seed"
    assert agent["before"]["input_per_task"] == sum(DIRECT)
    assert agent["after"]["requests_per_task"] == 3
    assert agent["speedup"] == pytest.approx(4.0)
    bad = run(str(bench), str(bench))
    assert bad.exit_code == 2
    assert "holds runs of code, direct; pick one with" in bad.stderr


def test_flat_benchmark_records_carry_their_token_label(tmp_path: Path) -> None:
    label = "estimate, o200k_base (scripted server)"
    records = [
        {
            "mode": mode,
            "scenario": "seed",
            "run": 1,
            "token_label": label,
            "usage": {"input_tokens": n, "output_tokens": 10},
        }
        for mode, inputs in (("direct", DIRECT), ("code", CODE))
        for n in inputs
    ]
    bench = _write_jsonl(tmp_path / "records.jsonl", records)
    result = run(f"{bench}#direct", f"{bench}#code")
    assert result.exit_code == 0, result.output
    assert f"tokens: {label}" in result.stdout
    assert f"{sum(DIRECT):,}" in result.stdout and f"{sum(CODE):,}" in result.stdout
    missing = run(f"{bench}#direct", f"{bench}#sandbox")
    assert (
        missing.exit_code == 2
        and "no benchmark run with mode 'sandbox'; it has code, direct" in missing.stderr
    )


@pytest.mark.parametrize(
    ("after_text", "message"),
    [
        ('{"usage": {"input_tokens": 10}}\n{oops\n', "after.jsonl:2: not JSON"),
        ('{"usage": {"input_tokens": 10}}\n{"task": "t"}\n', "after.jsonl:2: no `usage` object"),
        (
            '{"usage": {"input_tokens": -3}}\n',
            "after.jsonl:1: usage.input_tokens must be a whole number >= 0",
        ),
        (
            '{"usage": {"input_tokens": 3}, "latency_ms": "fast"}\n',
            "after.jsonl:1: latency_ms must be a number",
        ),
        ("\n\n", "after.jsonl: empty"),
        ("[1]", "after.jsonl[0]: each record must be a JSON object"),
    ],
)
def test_bad_input_exits_2_with_file_and_line(tmp_path: Path, after_text: str, message: str) -> None:
    before = _write_jsonl(tmp_path / "before.jsonl", _trace("a", 1, DIRECT))
    after = tmp_path / "after.jsonl"
    after.write_text(after_text, encoding="utf-8")
    result = run(str(before), str(after))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_mismatched_inputs_exit_2(tmp_path: Path) -> None:
    trace = _write_jsonl(tmp_path / "t.jsonl", _trace("a", 1, DIRECT))
    audit = tmp_path / "audit.json"
    audit.write_text(json.dumps(_audit([_agent("a", 1000)])), encoding="utf-8")
    mixed = run(str(audit), str(trace))
    assert mixed.exit_code == 2 and "compare like with like" in mixed.stderr
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps(_audit([_agent("a", 100)], tokenizer="estimate, cl100k_base")), encoding="utf-8"
    )
    assert (
        "count tokens differently (estimate, o200k_base vs estimate, cl100k_base)"
        in run(str(audit), str(other)).stderr
    )
    missing = run(str(trace), str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "nope.jsonl: no such file" in missing.stderr
    two = _write_jsonl(tmp_path / "two.jsonl", _trace("b", 1, CODE) + _trace("c", 1, CODE))
    unpaired = run(str(trace), str(two))
    assert unpaired.exit_code == 2 and "no agent appears in both files" in unpaired.stderr
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**_audit([]), "agents": [{"name": "x"}]}), encoding="utf-8")
    bad_audit = run(str(audit), str(broken))
    assert bad_audit.exit_code == 2 and "`agents[0].source` is missing" in bad_audit.stderr


def test_output_file_is_written(tmp_path: Path) -> None:
    before = _write_jsonl(tmp_path / "before.jsonl", _trace("a", 2, DIRECT))
    after = _write_jsonl(tmp_path / "after.jsonl", _trace("a", 2, CODE))
    out = tmp_path / "report.md"
    result = run(str(before), str(after), "--format", "markdown", "--output", str(out))
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("## cfmigrate measure")
