"""The benchmark's records and small-toolset scenarios, each run once: honest turns, right side effects, logs recount."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.honesty import honesty_problems
from support.scripted_api import ToolCall, Turn

REPO = Path(__file__).resolve().parents[1]


def load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load("bench_seed_scenario", REPO / "benchmarks" / "bench_seed_scenario.py")


def scenarios(bench: ModuleType) -> ModuleType:
    module: ModuleType = bench.load_module("more_scenarios", REPO / "benchmarks" / "more_scenarios.py")
    return module


@pytest.fixture(scope="module")
def records(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    work = tmp_path_factory.mktemp("records")
    run = scenarios(bench).compare_records(bench, work, work / "records-migrated")
    return asyncio.run(asyncio.wait_for(run, 300)), work


@pytest.fixture(scope="module")
def small(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    work = tmp_path_factory.mktemp("small")
    run = scenarios(bench).compare_small(bench, work, work / "small-migrated")
    return asyncio.run(asyncio.wait_for(run, 300)), work


def replayed_turn(response: dict[str, Any]) -> Turn:
    """The turn the scripted model sent, rebuilt from the logged response."""
    blocks = response["content"]
    return Turn(
        "".join(b["text"] for b in blocks if b["type"] == "text"),
        tuple(ToolCall(b["name"], b["input"]) for b in blocks if b["type"] == "tool_use"),
    )


def assert_honest_and_recounted(bench: ModuleType, result: Any, logs: Path) -> None:
    """Every logged turn passes the honesty check again; the logs recount to the printed figures."""
    bench.write_logs(logs, result)
    for name in ("direct", "code"):
        lines = [json.loads(line) for line in (logs / f"{name}.jsonl").read_text().splitlines()]
        assert lines, name
        for line in lines:
            assert honesty_problems(line["request"], replayed_turn(line["response"])) == []
            assert line["request"]["max_tokens"] == 4096
    recount = load("recount_logs", REPO / "benchmarks" / "recount_logs.py")
    direct, code = recount.recount(logs / "direct.jsonl"), recount.recount(logs / "code.jsonl")
    assert direct.agrees and code.agrees
    assert (direct.billed_input, code.billed_input) == (result.direct.billed_input, result.code.billed_input)
    text = bench.report(result)
    assert f"{direct.billed_input:,}" in text and f"{code.billed_input:,}" in text
    assert bench.describe_speed(result.direct.wall_s * 1000, result.code.wall_s * 1000) in text
    # the same accounting on both sides: every request sends tools, so each carries the tool-use prompt
    assert result.direct.tool_use_prompt == 346 * result.direct.requests
    assert result.code.tool_use_prompt == 346 * result.code.requests
    assert [t["name"] for t in result.code.records[0].request["tools"]] == ["execute_code"]


def test_records_scenario(bench: ModuleType, records: tuple[Any, Path]) -> None:
    result, work = records
    assert_honest_and_recounted(bench, result, work / "logs")
    seed = json.loads((REPO / "fixtures/records-scenario/data/helpdesk_seed.json").read_text())["tickets"]
    stale = {i for i, t in seed.items() if t["status"] == "pending" and t["updated_at"] < "2025-03-01"}
    assert len(seed) == 30 and len(stale) == 7
    for side in ("direct", "code"):
        after = json.loads((work / f"state-{side}" / "helpdesk.json").read_text())["tickets"]
        closed = {i for i, t in after.items() if t["status"] == "closed" and "auto-closed" in t["tags"]}
        assert closed == stale, side
        assert all(after[i]["status"] == t["status"] for i, t in seed.items() if i not in stale), side
        still_open = Counter(
            t["priority"] for t in after.values() if t["status"] in ("new", "open", "pending")
        )
        chat = json.loads((work / f"state-{side}" / "chat.json").read_text())
        (post,) = [
            m["text"]
            for c in chat["channels"].values()
            if c["name"] == "support-leads"
            for m in c["messages"]
        ]
        assert all(f"{p} {still_open[p]}" in post for p in ("urgent", "high", "normal", "low")), post
        assert all(i in post for i in stale)
    # paging: three list_tickets turns on direct MCP; the helpdesk's error met once by each side, then fixed
    direct_calls = [
        b
        for m in result.direct.records[-1].request["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if b["type"] == "tool_use"
    ]
    assert [b["name"] for b in direct_calls].count("list_tickets") == 3
    assert [b["name"] for b in direct_calls].count("update_ticket") == 14
    code_runs = [
        b
        for m in result.code.records[-1].request["messages"]
        for b in (m["content"] if isinstance(m["content"], list) else [])
        if b["type"] == "tool_result"
    ]
    failed = [b for b in code_runs if b.get("is_error")]
    assert len(failed) == 1 and "comment" in json.dumps(failed[0]["content"])
    assert "CodeMode" in (work / "records-migrated" / "agent.py").read_text()
    assert result.code.requests < result.direct.requests and 0 < result.reduction < 1


def test_small_toolset_scenario(bench: ModuleType, small: tuple[Any, Path]) -> None:
    result, work = small
    assert_honest_and_recounted(bench, result, work / "logs")
    for side in ("direct", "code"):
        alerts = json.loads((work / f"state-{side}" / "weather.json").read_text())["alerts"]
        assert [(a["city"], a["kind"]) for a in alerts] == [("Oslo", "frost")], side
    assert "-6.5" in result.direct.answer and "-6.5" in result.code.answer
    # plain `migrate --write` keeps the agent on direct MCP; the code-mode side is `--all`'s output
    assert any("kept on direct MCP by the decision framework" in n for n in result.notes)
    assert "CodeMode" in (work / "small-migrated" / "agent.py").read_text()
    # on five tools the tool definitions are cheap: code mode does not pay (whatever the figure, it is printed)
    assert result.direct.discovery < 1000
    assert f"{result.reduction:.2%}" in bench.report(result)
