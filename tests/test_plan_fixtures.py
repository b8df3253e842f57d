"""`cfmigrate plan` on every fixture repository, through the real CLI and the real audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cfmigrate.migrate.cli import app

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REPOS = ("seed-scenario", "frameworks", "config-zoo", "negatives")
runner = CliRunner()


def _invoke(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result


@pytest.fixture(scope="module")
def audits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """One `cfmigrate audit --format json` file per fixture repository."""
    out = {}
    base = tmp_path_factory.mktemp("audits")
    for repo in REPOS:
        path = base / f"{repo}.json"
        result = runner.invoke(
            app, ["audit", str(FIXTURES / repo), "--format", "json", "--output", str(path)]
        )
        assert result.exit_code in (0, 1), result.output
        out[repo] = (path, json.loads(path.read_text(encoding="utf-8")))
    return out


def _money(value: float) -> str:
    return f"${value:,.2f}"


@pytest.mark.parametrize("repo", REPOS)
def test_plan_figures_equal_the_audit_json(repo: str, audits: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    path, audit = audits[repo]
    plan = json.loads(_invoke("plan", "--from-audit", str(path), "--format", "json").stdout)
    assert plan["schema"] == "cfmigrate.plan/1"
    assert plan["tokenizer"] == audit["tokenizer"]
    # every agent whose figures are known, and only those (unknown stays unknown: left out, counted)
    known = [a for a in audit["agents"] if a["monthly_cost_before"] is not None]
    assert len(plan["agents"]) == len(known)
    left_out = len(audit["agents"]) - len(known)
    assert (f"{left_out} of {len(audit['agents'])} agents are left out" in " ".join(plan["notes"])) == bool(
        left_out
    )
    for row in plan["agents"]:
        src = audit["agents"][row["index"]]
        assert row["name"] == src["name"]
        for key in (
            "tool_count",
            "definition_tokens",
            "overhead_tokens",
            "per_request_tokens",
            "code_mode_tokens",
            "decision",
            "reduction",
        ):
            assert row[key] == src[key], (repo, row["name"], key)
        assert row["monthly_before"] == src["monthly_cost_before"]
        assert row["monthly_after"] == src["monthly_cost_after"]
        assert row["monthly_waste"] == src["monthly_waste"]
    ranked = [a for a in plan["agents"] if a["migrate"]]
    assert [a["rank"] for a in ranked] == list(range(1, len(ranked) + 1))
    assert [a["monthly_waste"] for a in ranked] == sorted((a["monthly_waste"] for a in ranked), reverse=True)
    assert {a["name"] for a in ranked} == {
        a["name"] for a in audit["agents"] if a["decision"] in ("code-first", "hybrid")
    }


@pytest.mark.parametrize("repo", REPOS)
def test_plan_markdown_on_each_fixture(repo: str, audits: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    _, audit = audits[repo]
    md = _invoke("plan", str(FIXTURES / repo)).stdout  # runs the audit itself
    assert md.startswith(f"# Migration plan: {repo}\n")
    assert f"Token counts are **{audit['tokenizer']}**" in md
    assert "Traceback" not in md and "{{" not in md and "None" not in md
    if not audit["agents"]:
        assert "No agent in this repository calls MCP tools, so there is nothing to migrate." in md
        return
    for a in audit["agents"]:
        if a["monthly_cost_before"] is None:  # figures unknown: left out of the plan, and counted
            continue
        assert f"`{a['name']}`" in md
        assert f"{a['per_request_tokens']:,}" in md
        assert _money(a["monthly_cost_before"]) in md
    for phase in ("### Week 1: Assess", "### Weeks 2-3:", "### Weeks 4-6:", "### Weeks 7-8: Roll out"):
        assert phase in md


def test_plan_of_path_and_from_audit_agree(audits: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    path, _ = audits["seed-scenario"]
    direct = json.loads(_invoke("plan", str(FIXTURES / "seed-scenario"), "--format", "json").stdout)
    stored = json.loads(_invoke("plan", "--from-audit", str(path), "--format", "json").stdout)
    direct.pop("audit_source")
    stored.pop("audit_source")
    assert direct == stored


def test_seed_scenario_plan_reads_like_a_plan(
    audits: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    path, audit = audits["seed-scenario"]
    movers = sorted(
        (a for a in audit["agents"] if a["decision"] in ("code-first", "hybrid")),
        key=lambda a: (-a["monthly_waste"], a["name"]),
    )
    assert movers, "the seed scenario's agent must be a migration candidate"
    top = movers[0]
    assert top["tool_count"] >= 40 and len(top["servers"]) == 3
    out = tmp_path / "plan.md"
    _invoke("plan", "--from-audit", str(path), "--output", str(out))
    md = out.read_text(encoding="utf-8")
    context = top["definition_tokens"] + top["overhead_tokens"]
    assert f"Move `{top['name']}` first" in md
    assert f"| 1 | `{top['name']}` |" in md
    assert f"{context:,} → {top['code_mode_tokens']:,}" in md
    assert f"### Weeks 2-3: Proof of concept on `{top['name']}`" in md
    for line in (
        "   cfmigrate audit . --format json --output audit.json\n",
        f"   cfmigrate generate --refresh {' '.join('--server ' + n for n in top['servers'])}\n",
        f"   cfmigrate migrate {top['source'].rsplit(':', 1)[0]} --write\n",
        "   cfmigrate measure before.jsonl poc.jsonl --min-reduction 50\n",
        "limits=Limits(memory_mb=100, timeout_s=10)",
        'config=".mcp.json"',
    ):
        assert line in md, line
    # ROI from the audit's own figures: 30 days of requests_per_day x tokens x price
    daily_before = audit["requests_per_day"] * context * top["price_per_mtok"] / 1e6
    assert f"Input spend on tool context: {_money(daily_before)} a day before" in md
    assert _money(top["monthly_waste"]) in md
    if top["workflow"]:
        assert f"bill {top['workflow']['billed_before']:,} input tokens on direct MCP" in md
    assert "$500.00 a month for the sandbox" in md


def test_plan_passes_requests_and_price_to_the_audit(tmp_path: Path) -> None:
    repo = str(FIXTURES / "seed-scenario")
    audit_path = tmp_path / "audit.json"
    runner.invoke(
        app,
        [
            "audit",
            repo,
            "--requests-per-day",
            "5000",
            "--price",
            "1.5",
            "--format",
            "json",
            "--output",
            str(audit_path),
        ],
    )
    audit = json.loads(audit_path.read_text(encoding="utf-8"))
    plan = json.loads(
        _invoke("plan", repo, "--requests-per-day", "5000", "--price", "1.5", "--format", "json").stdout
    )
    by_name = {a["name"]: a for a in audit["agents"]}
    for row in plan["agents"]:
        assert row["monthly_before"] == by_name[row["name"]]["monthly_cost_before"]
        assert row["price_per_mtok"] == 1.5


def test_plan_bad_input_exits_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["plan", "--from-audit", str(tmp_path / "none.json")])
    assert (
        missing.exit_code == 2 and missing.stderr.startswith("error: ") and "no such file" in missing.stderr
    )
    not_a_dir = runner.invoke(app, ["plan", str(tmp_path / "nowhere")])
    assert not_a_dir.exit_code == 2 and "not a directory" in not_a_dir.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "cfmigrate.audit/1"}', encoding="utf-8")
    wrong = runner.invoke(app, ["plan", "--from-audit", str(bad)])
    assert wrong.exit_code == 2 and "bad.json: `totals` is missing" in wrong.stderr
    trace = tmp_path / "t.jsonl"
    trace.write_text("{}\n", encoding="utf-8")
    bad_trace = runner.invoke(app, ["plan", str(FIXTURES / "negatives"), "--trace", str(trace)])
    assert bad_trace.exit_code == 2 and "t.jsonl:1" in bad_trace.stderr


def _seed_log(path: Path, fixed: int, agent: str) -> list[int]:
    """Two logged tasks of the seed workflow: a 60-token question, then the transcript carried along."""
    inputs = [fixed + 60, fixed + 60 + 12_000, fixed + 60 + 24_000, fixed + 60 + 24_800]
    lines = [
        {
            "task": f"t{t}",
            "agent": agent,
            "usage": {"input_tokens": n, "output_tokens": 150},
            "latency_ms": 3_000,
        }
        for t in range(2)
        for n in inputs
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return inputs


def test_plan_with_a_request_log_splits_where_the_tokens_go(
    audits: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    _, audit = audits["seed-scenario"]
    top = max(audit["agents"], key=lambda a: a["monthly_waste"])
    context = top["definition_tokens"] + top["overhead_tokens"]
    log = tmp_path / "requests.jsonl"
    inputs = _seed_log(log, top["per_request_tokens"], top["name"])
    plan = json.loads(
        _invoke("plan", str(FIXTURES / "seed-scenario"), "--trace", str(log), "--format", "json").stdout
    )
    parts = {s["label"]: s["tokens"] for s in plan["breakdown"]["before"]}
    assert parts["tool definitions"] == 4 * context
    assert parts["the question"] == 4 * 60
    assert parts["tool results and replies"] == 12_000 + 24_000 + 24_800
    assert plan["breakdown"]["before_total"] == sum(inputs)
    row = next(a for a in plan["agents"] if a["name"] == top["name"])
    # the audit read the same log: the overhead ratio is now measured, per task
    assert row["workflow"]["billed_before"] == sum(inputs)
    assert row["overhead_ratio"] == pytest.approx(4 * context / sum(inputs))
    html = _invoke("plan", str(FIXTURES / "seed-scenario"), "--trace", str(log), "--format", "html").stdout
    assert "the question — 240 (direct MCP)" in html


def test_plan_reads_benchmark_records_as_the_direct_mcp_log(
    audits: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    _, audit = audits["seed-scenario"]
    top = max(audit["agents"], key=lambda a: a["monthly_waste"])
    fixed = top["per_request_tokens"]
    runs = [
        {
            "scenario": "seed-scenario",
            "mode": "direct",
            "wall_s": 9.5,
            "requests": [{"usage": {"input_tokens": n}} for n in (fixed + 80, fixed + 12_080)],
        },
        {
            "scenario": "seed-scenario",
            "mode": "code",
            "wall_s": 2.5,
            "requests": [{"usage": {"input_tokens": n}} for n in (1_500, 1_900)],
        },
    ]
    records = tmp_path / "bench.jsonl"
    records.write_text("".join(json.dumps(r) + "\n" for r in runs), encoding="utf-8")
    plan = json.loads(
        _invoke("plan", str(FIXTURES / "seed-scenario"), "--trace", str(records), "--format", "json").stdout
    )
    parts = {s["label"]: s["tokens"] for s in plan["breakdown"]["before"]}
    assert parts["the question"] == 2 * 80 and parts["tool results and replies"] == 12_000
