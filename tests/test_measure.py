"""Measurement over a hand-built inventory: per tool/server/agent figures, decisions, money, workflow sums."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfmigrate.analyzers import pricing
from cfmigrate.analyzers.measure import CodeModeCosts, load_trace, measure, threshold
from cfmigrate.analyzers.model import Agent, CallSite, Inventory, Manifest, ServerSpec, SourceRef, ToolDef
from cfmigrate.analyzers.tokens import BpeTokenizer, tool_cost

TOK = BpeTokenizer()


def _tools(prefix: str, n: int) -> tuple[ToolDef, ...]:
    schema = {
        "type": "object",
        "properties": {"id": {"type": "string", "description": "The record id."}},
        "required": ["id"],
    }
    return tuple(
        ToolDef(f"{prefix}_{i:02d}", f"Do thing {i} with a {prefix} record and return it.", schema)
        for i in range(n)
    )


def _spec(name: str, **kw) -> ServerSpec:
    return ServerSpec(
        name=name,
        transport="stdio",
        source=SourceRef(".mcp.json", 3),
        origin="claude-code",
        command="x",
        **kw,
    )


def _inventory(agent: Agent, servers: dict[str, int], **spec_kw) -> Inventory:
    return Inventory(
        root="/repo",
        servers=tuple(_spec(n, **spec_kw) for n in servers),
        manifests=tuple(Manifest(n, _tools(n, k), "manifest-file") for n, k in servers.items() if k),
        agents=(agent,),
    )


COSTS = CodeModeCosts(
    fixed=500, tool_doc={("drive", "drive_00"): 120}, server_index={"drive": 300, "crm": 400}, source="test"
)


def _agent(**kw) -> Agent:
    base = dict(
        name="agent.py",
        source=SourceRef("agent.py", 1),
        framework="anthropic",
        provider="anthropic",
        model="claude-sonnet-4-5",
    )
    base.update(kw)
    return Agent(**base)


def test_thresholds_follow_the_mission_bands() -> None:
    assert [threshold(n) for n in (0, 9, 10, 20, 21, 40, 41)] == [
        "manageable",
        "manageable",
        "degradation begins",
        "degradation begins",
        "serious",
        "serious",
        "architectural crisis",
    ]


def test_per_server_and_per_agent_totals_are_sums_of_tool_costs() -> None:
    inv = _inventory(_agent(servers=("drive", "crm")), {"drive": 12, "crm": 14})
    r = measure(inv, TOK, COSTS)
    drive = next(s for s in r.servers if s.name == "drive")
    expected = sum(tool_cost(t, "anthropic", TOK).total for t in _tools("drive", 12))
    assert drive.tokens == expected and drive.tool_count == 12
    a = r.agents[0]
    assert a.tool_count == 26
    assert a.definition_tokens == sum(s.tokens for s in r.servers)
    assert a.overhead_tokens == 346  # documented table, claude-sonnet-4*
    assert a.per_request_tokens == a.definition_tokens + 346
    # no literal calls -> each server's index; the execute tool still brings the tool-use prompt
    assert a.code_mode_tokens == 500 + 300 + 400 + 346
    assert a.decision == "hybrid" and any("2 MCP servers" in r for r in a.reasons)
    assert r.tokenizer == "estimate, o200k_base"


def test_small_agent_stays_on_mcp_and_playwright_is_kept() -> None:
    r = measure(_inventory(_agent(servers=("drive",)), {"drive": 5}), TOK, COSTS)
    assert r.agents[0].decision == "keep-mcp"
    assert r.agents[0].monthly_waste == 0
    inv = _inventory(_agent(servers=("pw",)), {"pw": 25}, package="@playwright/mcp")
    assert measure(inv, TOK, COSTS).agents[0].decision == "keep-mcp"


def test_unknown_server_is_never_counted_as_zero() -> None:
    inv = _inventory(_agent(servers=("mystery",)), {"mystery": 0})
    r = measure(inv, TOK, COSTS)
    s = r.servers[0]
    assert s.status == "unknown" and s.tool_count is None and "--connect" in s.note
    assert r.agents[0].decision == "unknown" and r.agents[0].unknown_servers == ("mystery",)


def test_tool_filter_restricts_the_priced_tools() -> None:
    inv = _inventory(_agent(servers=("drive",)), {"drive": 12}, tool_filter=("drive_00", "drive_01"))
    r = measure(inv, TOK, COSTS)
    assert r.servers[0].tool_count == 2 and "tool_filter" in r.servers[0].note


def test_money_uses_requests_price_and_days() -> None:
    inv = _inventory(_agent(servers=("drive", "crm")), {"drive": 20, "crm": 20})
    r = measure(inv, TOK, COSTS, price=3.0, requests_per_day=1000)
    a = r.agents[0]
    per_month = 1000 * 30 / 1e6 * 3.0
    assert a.monthly_cost_before == round(a.per_request_tokens * per_month, 2)
    assert a.monthly_cost_after == round(a.code_mode_tokens * per_month, 2)
    assert a.monthly_waste == round((a.per_request_tokens - a.code_mode_tokens) * per_month, 2)
    assert a.price_source == "--price"


def test_literal_sequence_gives_a_workflow_sum_over_requests() -> None:
    seq = ("drive_00", "crm_01", "crm_02", "drive_03")
    agent = _agent(
        servers=("drive", "crm"),
        tool_sequence=seq,
        call_sites=(
            CallSite("call_tool", SourceRef("agent.py", 9), "mcp.ClientSession.call_tool", "drive_00"),
        ),
    )
    r = measure(_inventory(agent, {"drive": 12, "crm": 14}), TOK, COSTS)
    w = r.agents[0].workflow
    assert w is not None and w.requests_before == 5
    assert w.billed_before == 5 * r.agents[0].per_request_tokens
    assert w.billed_after < w.billed_before and "lower bound" in w.basis


def test_trace_drives_the_workflow(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text(
        "\n".join(
            json.dumps({"task": t, "usage": {"input_tokens": n, "output_tokens": 10}})
            for t, n in [("a", 20000), ("a", 35000), ("b", 15000), ("b", 30000)]
        )
    )
    r = measure(_inventory(_agent(servers=("drive",)), {"drive": 12}), TOK, COSTS, trace=load_trace(trace))
    w = r.agents[0].workflow
    assert w is not None and w.billed_before == 50000 and w.requests_before == 2


def test_bad_trace_names_file_and_line(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"usage": {"input_tokens": 5}}\n{"nope": 1}\n')
    with pytest.raises(ValueError, match=r"t.jsonl:2"):
        load_trace(trace)


def test_price_and_overhead_tables() -> None:
    assert pricing.input_price("claude-opus-4-5-20251101").per_mtok == 5.0
    assert pricing.input_price("claude-opus-4-1").per_mtok == 15.0
    unknown = pricing.input_price("my-local-llama")
    assert unknown.per_mtok is None and "not in the price table" in unknown.source  # unknown stays unknown
    current = pricing.input_price("claude-sonnet-5")
    assert current.per_mtok == 2.0 and "sonnet-5/overview" in current.source
    assert pricing.input_price("claude-sonnet-5-5").per_mtok == 2.0
    assert pricing.input_price("claude-opus-5-5").per_mtok == 4.0
    assert pricing.input_price("claude-opus-4-6").per_mtok == 5.0  # not the claude-opus-4 row ($15)
    assert pricing.input_price("claude-haiku-5-5").per_mtok is None  # tiered by prompt length: unknown
    assert pricing.input_price("claude-opus-5").per_mtok == 5.0
    assert pricing.tool_use_overhead("claude-sonnet-5", "anthropic").tokens is None  # no published figure
    for row in [*pricing.INPUT_PRICES.values(), *pricing.TOOL_USE_OVERHEAD.values()]:
        assert row.source and row.as_of[:4].isdigit()
    assert pricing.tool_use_overhead("claude-3-5-haiku-latest", "anthropic").tokens == 264
    assert pricing.tool_use_overhead("gpt-4o", "openai").tokens is None


def test_json_is_versioned_and_serialisable() -> None:
    r = measure(_inventory(_agent(servers=("drive",)), {"drive": 3}), TOK, COSTS)
    data = json.loads(json.dumps(r.to_json()))
    assert data["schema"] == "cfmigrate.audit/1" and data["tokenizer"] == "estimate, o200k_base"
    assert data["servers"][0]["tools"][0]["tokens"] > 0


def test_agent_on_code_mode_is_priced_at_its_code_mode_context() -> None:
    r = measure(
        _inventory(_agent(servers=("drive", "crm"), code_mode=True), {"drive": 12, "crm": 14}), TOK, COSTS
    )
    a = r.agents[0]
    assert a.decision == "already-code-mode"
    assert a.definition_tokens == 0
    assert a.per_request_tokens == 500 + 300 + 400 + 346  # code-mode context + tool-use overhead
    assert a.monthly_waste == 0


def test_trace_lines_without_task_are_tasks_of_their_own(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"usage": {"input_tokens": 5}}\n{"usage": {"input_tokens": 7}}\n')
    assert len(load_trace(trace)) == 2


def test_trace_without_records_for_any_agent_is_a_warning(tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"task": "a", "agent": "someone-else", "usage": {"input_tokens": 5}}\n')
    r = measure(_inventory(_agent(servers=("drive",)), {"drive": 12}), TOK, COSTS, trace=load_trace(trace))
    assert r.agents[0].workflow is None
    assert any("no requests for any agent" in p.message and "someone-else" in p.message for p in r.problems)


def test_system_prompt_is_counted_with_the_audit_tokenizer() -> None:
    agent = _agent(servers=("drive",), system_prompt="You are a careful sales assistant. " * 10)
    r = measure(
        _inventory(agent, {"drive": 12}), TOK, COSTS, count_system=lambda a: TOK.count(a.system_prompt)
    )
    a = r.agents[0]
    assert a.system_prompt_tokens == TOK.count(agent.system_prompt) > 0
    assert a.per_request_tokens == a.definition_tokens + a.overhead_tokens + a.system_prompt_tokens
