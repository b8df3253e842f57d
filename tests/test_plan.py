"""`cfmigrate plan`: ROI arithmetic, reading audits back, and plans whose figures equal the audit's."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cfmigrate.analyzers.audit_json import AuditFileError, audit_from_json, load_audit
from cfmigrate.analyzers.compare import Task
from cfmigrate.analyzers.measure import AgentFigure, AuditReport, CodeModeCosts, WorkflowFigure, measure
from cfmigrate.analyzers.model import Agent, Inventory, Manifest, ServerSpec, SourceRef, ToolDef
from cfmigrate.analyzers.tokens import BpeTokenizer
from cfmigrate.generators.plan import (
    FIRST_LIVE_DAY,
    Roi,
    RoiLine,
    build_plan,
    plan_to_json,
    render_html,
    render_markdown,
)

MANIFESTS = Path(__file__).resolve().parent.parent / "fixtures" / "manifests"


def _tools(file: str) -> tuple[ToolDef, ...]:
    data = json.loads((MANIFESTS / file).read_text(encoding="utf-8"))
    return tuple(
        ToolDef(t["name"], t.get("description", ""), t.get("inputSchema", {})) for t in data["tools"]
    )


def real_inventory() -> Inventory:
    """Three agents over the real GitHub, filesystem, memory and time manifests."""
    servers = {
        "github": "server-github.tools.json",
        "filesystem": "server-filesystem.tools.json",
        "memory": "server-memory.tools.json",
        "time": "mcp-server-time.tools.json",
    }
    specs = tuple(
        ServerSpec(name, "stdio", SourceRef(".mcp.json", i + 2), "claude-code", command="npx")
        for i, name in enumerate(servers)
    )
    manifests = tuple(
        Manifest(name, _tools(file), "manifest-file", SourceRef(file)) for name, file in servers.items()
    )
    agents = (
        Agent(
            "release_bot",
            SourceRef("agents/release_bot.py", 10),
            "anthropic",
            servers=("github", "filesystem", "memory"),
            model="claude-sonnet-4-5",
            provider="anthropic",
            tool_sequence=("get_file_contents", "read_file", "create_or_update_file", "create_pull_request"),
        ),
        Agent(
            "repo_reader",
            SourceRef("agents/repo_reader.py", 5),
            "anthropic",
            servers=("github",),
            model="claude-sonnet-4-5",
            provider="anthropic",
        ),
        Agent(
            "clock",
            SourceRef("agents/clock.py", 3),
            "mcp",
            servers=("time",),
            model="claude-haiku-4-5",
            provider="anthropic",
        ),
    )
    return Inventory(
        root="/tmp/demo-repo", servers=specs, manifests=manifests, agents=agents, files_scanned=7
    )


def real_report() -> AuditReport:
    costs = CodeModeCosts(
        fixed=520,
        server_index={"github": 610, "filesystem": 330, "memory": 240, "time": 90},
        source="test costs",
    )
    return measure(real_inventory(), BpeTokenizer("o200k_base"), costs)


def mission_report() -> AuditReport:
    """One agent with exactly the MISSION's ROI inputs: 150k tokens per request on MCP, 2k on code mode, $3/MTok."""
    base = real_report()
    a = base.agents[0]
    agent = replace(
        a,
        name="mission_agent",
        definition_tokens=150_000 - a.overhead_tokens,
        per_request_tokens=150_000,
        tool_context_tokens=150_000,
        code_mode_tokens=2_000,
        reduction=round(148_000 / 150_000, 4),
        decision="hybrid",
        price_per_mtok=3.0,
        price_source="--price",
    )
    return replace(base, agents=(agent,))


# ---------------------------------------------------------------------------------------------- ROI


def test_roi_reproduces_the_mission_example() -> None:
    line = RoiLine("a", 1000, 150_000, 2_000, 3.0, "--price", FIRST_LIVE_DAY)
    roi = Roi((line,), sandbox_per_month=500.0)
    assert line.daily_before == pytest.approx(450.0)
    assert line.daily_after == pytest.approx(6.0)
    assert roi.daily_savings == pytest.approx(444.0)
    assert roi.monthly_savings == pytest.approx(13_320.0)
    assert roi.monthly_net == pytest.approx(12_820.0)
    assert roi.yearly_net == pytest.approx(153_840.0)
    # sandbox from day 8 (week 2): 35 days x $16.67 = $583.33 before the agent saves from day 43;
    # $427.33 net a day after that -> paid back at the end of day 44.
    assert roi.payback_day == 44


def test_roi_payback_with_a_one_off_cost_and_when_savings_never_cover_the_sandbox() -> None:
    line = RoiLine("a", 1000, 150_000, 2_000, 3.0, "--price", FIRST_LIVE_DAY)
    with_one_off = Roi((line,), sandbox_per_month=500.0, one_off_cost=10_000.0)
    # 10,000 + 583.33 to earn back at 427.33 a day from day 43: 24.77 days -> day 67
    assert with_one_off.payback_day == 67
    small = RoiLine("b", 10, 5_000, 1_000, 3.0, "--price", FIRST_LIVE_DAY)  # $3.60 a month saved
    never = Roi((small,), sandbox_per_month=500.0)
    assert never.monthly_net < 0
    assert never.payback_day is None
    assert Roi((), 500.0).payback_day is None


def test_plan_renders_the_mission_roi_from_an_audit() -> None:
    plan = build_plan(mission_report(), audit_source="`audit.json`", requests_per_day=1000, price=3.0)
    md = render_markdown(plan)
    assert "$450.00 a day before, $6.00 a day after" in md
    assert "**$12,820.00 a month net, $153,840.00 a year**" in md
    assert "Saved: $13,320.00 a month; minus $500.00 for the sandbox" in md
    assert "earned back on **day 44 (week 7)**" in md
    data = plan_to_json(plan)
    assert data["roi"]["monthly_net"] == 12_820.0
    assert data["roi"]["yearly_net"] == 153_840.0
    assert data["roi"]["payback_day"] == 44


def test_sandbox_cost_option_changes_the_net() -> None:
    plan = build_plan(
        mission_report(), audit_source="x", requests_per_day=1000, price=3.0, sandbox_per_month=2_000.0
    )
    assert plan.roi.monthly_net == pytest.approx(11_320.0)
    assert "minus $2,000.00 for the sandbox" in render_markdown(plan)


# ---------------------------------------------------------------------------------------------- audit JSON


def test_audit_json_round_trips() -> None:
    report = real_report()
    data = json.loads(json.dumps(report.to_json()))
    again = audit_from_json(data, "audit.json")
    assert again.to_json() == report.to_json()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "audit.json:1: not valid JSON"),
        ('{"schema": "cfmigrate.audit/9"}', "schema 'cfmigrate.audit/9' is not 'cfmigrate.audit/1'"),
        ("[1, 2]", "must be a JSON object"),
    ],
)
def test_load_audit_rejects_bad_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "audit.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AuditFileError, match=r"audit\.json") as err:
        load_audit(path)
    assert expected in str(err.value)


def test_load_audit_names_a_missing_or_mistyped_key(tmp_path: Path) -> None:
    data = real_report().to_json()
    del data["agents"][1]["definition_tokens"]
    data["agents"][0]["tool_count"] = "many"
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(AuditFileError) as err:
        load_audit(path)
    assert "`agents[0].tool_count` must be an integer" in str(err.value)
    with pytest.raises(AuditFileError, match="no such file"):
        load_audit(tmp_path / "missing.json")


# ---------------------------------------------------------------------------------------------- plan content


def test_plan_figures_equal_the_audit_figures() -> None:
    report = real_report()
    plan = build_plan(report, audit_source="`audit.json`")
    data = plan_to_json(plan)
    audit = {a["name"]: a for a in report.to_json()["agents"]}
    assert {a["name"] for a in data["agents"]} == set(audit)
    for row in data["agents"]:
        src = audit[row["name"]]
        assert report.agents[row["index"]].name == row["name"]
        for key in (
            "tool_count",
            "definition_tokens",
            "overhead_tokens",
            "per_request_tokens",
            "code_mode_tokens",
            "reduction",
            "decision",
        ):
            assert row[key] == src[key], key
        # same requests per day and price as the audit -> the same monthly figures
        assert row["monthly_before"] == src["monthly_cost_before"]
        assert row["monthly_after"] == src["monthly_cost_after"]
        assert row["monthly_waste"] == src["monthly_waste"]
    assert data["tokenizer"] == report.tokenizer == "estimate, o200k_base"


def test_plan_ranks_candidates_and_keeps_small_agents_on_mcp() -> None:
    report = real_report()
    plan = build_plan(report, audit_source="`audit.json`")
    decisions = {a.name: a.decision for a in report.agents}
    assert decisions["release_bot"] == "hybrid"
    assert decisions["repo_reader"] == "code-first"
    assert decisions["clock"] == "keep-mcp"
    assert [a.name for a in plan.candidates] == ["release_bot", "repo_reader"]
    assert [a.rank for a in plan.candidates] == [1, 2]
    assert plan.candidates[0].monthly_waste >= plan.candidates[1].monthly_waste
    md = render_markdown(plan)
    top = plan.candidates[0]
    assert (
        f"| 1 | `release_bot` | move to code mode, MCP stays the transport | {top.tool_context_tokens:,} → {top.code_mode_tokens:,} |"
        in md
    )
    assert "### Weeks 2-3: Proof of concept on `release_bot`" in md
    assert "2. `repo_reader` (agents/repo_reader.py:5)" in md  # rollout order
    assert "Keep this agent on direct MCP" in md and "`clock`" in md
    for command in (
        "cfmigrate audit . --format json --output audit.json",
        "cfmigrate generate --refresh --server filesystem --server github --server memory",
        "cfmigrate migrate agents/release_bot.py",
        "cfmigrate migrate agents/release_bot.py --write",
        "cfmigrate generate --check && cfmigrate migrate --check",
        "cfmigrate migrate agents/repo_reader.py --write",
        "cfmigrate measure before.jsonl poc.jsonl --min-reduction 50",
        "cfmigrate measure before.jsonl after.jsonl --min-reduction 70",
        "cfmigrate measure before.jsonl after.jsonl --max-error-rate 5",
    ):
        assert f"   {command}\n" in md or f"`{command}`" in md, command
    for setting in (
        "| memory | 100 MB |",
        "| timeout | 10 s wall clock per script |",
        "| network | blocked |",
        "| filesystem | isolated",
    ):
        assert setting in md
    assert "Monitoring to set up" in md and "billed input tokens per task" in md
    # every token figure is labelled with its tokenizer
    assert "Token counts are **estimate, o200k_base**" in md
    assert md.count("estimate, o200k_base") >= 3


def test_plan_uses_a_trace_to_split_where_the_tokens_go() -> None:
    report = real_report()
    top = next(a for a in report.agents if a.name == "release_bot")
    fixed = top.per_request_tokens
    # two tasks: a 40-token question, then results of 3,000 and 9,000 tokens appended over 3 requests
    tasks = [
        Task("release_bot", "t1", (fixed + 40, fixed + 3_040, fixed + 12_040), (10, 10, 10), None, False),
        Task("release_bot", "t2", (fixed + 40, fixed + 3_040, fixed + 12_040), (10, 10, 10), None, False),
    ]
    plan = build_plan(report, audit_source="x", trace=tasks)
    b = plan.breakdown
    assert b is not None and b.agent == "release_bot"
    parts = {s.label: s.tokens for s in b.before}
    assert parts["tool definitions"] == 3 * (top.definition_tokens + top.overhead_tokens)
    assert parts["the question"] == 3 * 40
    assert parts["tool results and replies"] == 3_000 + 12_000
    assert b.before_total == sum(tasks[0].inputs)


def test_plan_without_agents_says_so_plainly() -> None:
    report = replace(real_report(), agents=())
    plan = build_plan(report, audit_source="x")
    md = render_markdown(plan)
    assert "No agent in this repository calls MCP tools, so there is nothing to migrate." in md
    assert "No agent moves, so there is nothing to save or pay back." in md
    assert plan.roi.lines == () and plan.breakdown is None
    html = render_html(plan)
    assert "nothing to migrate" in html and "<svg" not in html


def test_requests_per_day_and_price_override_the_audit() -> None:
    report = real_report()
    plan = build_plan(report, audit_source="x", requests_per_day=5000, price=1.0)
    row = plan.candidates[0]
    assert row.price_per_mtok == 1.0 and row.price_source == "--price"
    assert row.monthly_before == round(5000 * 30 * row.tool_context_tokens * 1.0 / 1e6, 2)
    md = render_markdown(plan)
    assert "| Requests per day, per agent | 5,000 | --requests-per-day |" in md
    assert "equal to the audit's `monthly_cost_before`" not in md


def test_plan_output_is_deterministic() -> None:
    a = render_markdown(build_plan(real_report(), audit_source="x"))
    b = render_markdown(build_plan(real_report(), audit_source="x"))
    assert a == b
    assert "/tmp/demo-repo" not in a  # commands and text are relative to the repository root


def test_workflow_figures_reach_the_plan() -> None:
    report = real_report()
    top = next(a for a in report.agents if a.name == "release_bot")
    assert isinstance(top.workflow, WorkflowFigure)
    md = render_markdown(build_plan(report, audit_source="x"))
    w = top.workflow
    assert f"take {w.requests_before} requests and bill {w.billed_before:,} input tokens on direct MCP" in md
    assert f"on code mode {w.requests_after} requests bill {w.billed_after:,}, {w.reduction:.1%} less" in md
    assert "`get_file_contents` → `read_file` → `create_or_update_file` → `create_pull_request`" in md


def test_agent_figures_are_not_altered_by_the_plan() -> None:
    report = real_report()
    before = json.dumps(report.to_json(), sort_keys=True)
    build_plan(report, audit_source="x", requests_per_day=7, price=9.0)
    assert json.dumps(report.to_json(), sort_keys=True) == before
    assert all(isinstance(a, AgentFigure) for a in report.agents)


def test_an_agent_whose_tool_count_is_unknown_keeps_it_unknown_in_the_plan() -> None:
    """Counted tool context but uncounted tools (e.g. some of its servers' tools are unknown): no number is
    made up for the count, its threshold or its definition/overhead split."""
    a = mission_report().agents[0]
    agent = replace(a, tool_count=None, threshold=None, definition_tokens=None, overhead_tokens=None)
    plan = build_plan(replace(mission_report(), agents=(agent,)), audit_source="x", requests_per_day=1000)
    (row,) = plan.agents
    assert [row.tool_count, row.threshold, row.definition_tokens, row.overhead_tokens] == [None] * 4
    md = render_markdown(plan)
    assert "sends tool definitions (how many is unknown) costing 150,000 tokens" in md
    assert "None" not in md
    assert "| unknown | 150,000 |" in md
    html = render_html(plan)
    assert "None" not in html and '<td class="n">unknown</td>' in html
    row_json = plan_to_json(plan)["agents"][0]
    assert row_json["tool_count"] is None and row_json["threshold"] is None
