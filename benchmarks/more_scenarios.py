"""The two scenarios unlike the seed, run by `bench_seed_scenario.py --scenario records|small|all`.

* `records` -- `fixtures/records-scenario/`: a helpdesk server (17 tools) holding 30 tickets, listed at most
  10 per page, and a chat server (5 tools). The task closes the pending tickets last updated before
  2025-03-01 (tagging each `auto-closed`) and posts the queue's open counts per priority and the closed
  ids to #support-leads. The helpdesk refuses to close a ticket that waits on the requester without a
  public reply (an account trigger its tool documentation does not mention), so both sides fail once
  and retry. The decision framework says "hybrid" (22 tools, 2 servers): `cfmigrate migrate --write`
  rewrites the agent.
* `small` -- `fixtures/small-toolset/`: one weather server with five tools; weather, forecast and local
  time for one city, and a frost alert when tomorrow's low is below zero. The decision framework says
  "keep direct MCP" (5 tools < 20, one server), so `cfmigrate migrate --write` leaves the agent alone;
  the code-mode side is what `cfmigrate migrate --write --all` makes of it, and the report says so.

Both run the fixture agent as written for direct MCP and the migrated agent for code mode, through the
same `drive()`, honesty check, accounting and logs as the seed (`bench_seed_scenario.py`, passed in as
`bench`, whose helpers these functions use).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "fixtures" / "records-scenario"
SMALL = REPO / "fixtures" / "small-toolset"
sys.path.insert(0, str(REPO / "tests"))

from support.scenario_models import (  # noqa: E402
    OPEN_STATUSES,
    PRIORITIES,
    RECORDS_CHANNEL,
    RECORDS_CUTOFF,
    RECORDS_TAG,
    RECORDS_TASK,
    SMALL_TASK,
    RecordsCodeModel,
    RecordsDirectModel,
    SmallCodeModel,
    SmallDirectModel,
)

RECORDS_TOOLS = (("helpdesk", "list_tickets"), ("helpdesk", "update_ticket"), ("chat", "post_message"))
SMALL_TOOLS = (
    ("weather", "get_current_weather"),
    ("weather", "get_forecast"),
    ("weather", "get_local_time"),
    ("weather", "create_alert"),
)


def _path_env() -> dict[str, str]:
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def records_env(state: Path) -> dict[str, str]:
    """Credentials (random, never printed) and fresh state files for the helpdesk and chat servers."""
    state.mkdir(parents=True, exist_ok=True)
    return {
        "HELPDESK_API_TOKEN": secrets.token_hex(12),
        "CHAT_BOT_TOKEN": secrets.token_hex(12),
        "HELPDESK_DATA": str(state / "helpdesk.json"),
        "CHAT_DATA": str(state / "chat.json"),
        **_path_env(),
    }


def small_env(state: Path) -> dict[str, str]:
    state.mkdir(parents=True, exist_ok=True)
    return {
        "WEATHER_API_KEY": secrets.token_hex(12),
        "WEATHER_DATA": str(state / "weather.json"),
        **_path_env(),
    }


def _load(path: Path, what: str, bench: ModuleType) -> dict[str, Any]:
    if not path.is_file():
        raise bench.BenchmarkError(f"{path}: the {what} server never saved anything")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _failed_once(run: Any, marker: str) -> int:
    """How many tool results in the run's last request were errors mentioning `marker`."""
    last = run.records[-1].request or {}
    count = 0
    for message in last.get("messages") or []:
        for block in message.get("content") if isinstance(message.get("content"), list) else []:
            if block.get("type") != "tool_result" or not block.get("is_error"):
                continue
            content = block.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            count += marker in text
    return count


# ------------------------------------------------------------------------------------------------
# records


def check_records(bench: ModuleType, run: Any, env: dict[str, str]) -> list[str]:
    """The right tickets were closed (and nothing else changed), and the chat post states the right counts."""
    seed = json.loads((RECORDS / "data" / "helpdesk_seed.json").read_text(encoding="utf-8"))["tickets"]
    after = _load(Path(env["HELPDESK_DATA"]), "helpdesk", bench)["tickets"]
    stale = sorted(
        i for i, t in seed.items() if t["status"] == "pending" and t["updated_at"] < RECORDS_CUTOFF
    )
    wrong = [
        i
        for i in stale
        if after[i]["status"] != "closed"
        or RECORDS_TAG not in after[i]["tags"]
        or not any(c["public"] and c["author"] == "Northwind Support" for c in after[i]["comments"])
    ]
    if wrong:
        raise bench.BenchmarkError(f"{run.mode}: tickets {wrong} were not closed, tagged and answered")
    touched = [
        i
        for i, t in seed.items()
        if i not in stale and (after[i]["status"], after[i]["tags"]) != (t["status"], t["tags"])
    ]
    if touched or len(after) != len(seed):
        raise bench.BenchmarkError(f"{run.mode}: tickets outside the rule changed: {touched}")
    still_open = Counter(t["priority"] for t in after.values() if t["status"] in OPEN_STATUSES)
    chat = _load(Path(env["CHAT_DATA"]), "chat", bench)
    posts = [
        m["text"]
        for c in chat["channels"].values()
        if c["name"] == RECORDS_CHANNEL[1:]
        for m in c["messages"]
    ]
    if len(posts) != 1:
        raise bench.BenchmarkError(f"{run.mode}: {RECORDS_CHANNEL} got {len(posts)} messages, not one")
    post = posts[0]
    missing = [f"{p} {still_open.get(p, 0)}" for p in PRIORITIES if f"{p} {still_open.get(p, 0)}" not in post]
    missing += [i for i in stale if i not in post]
    if missing or f"{sum(still_open.values())} tickets still open" not in post:
        raise bench.BenchmarkError(
            f"{run.mode}: the {RECORDS_CHANNEL} message is wrong (lacks {missing}): {post!r}"
        )
    return [
        f"{run.mode}: the {len(stale)} stale pending tickets of 30 are closed, tagged {RECORDS_TAG} and answered; "
        f"no other ticket changed; {RECORDS_CHANNEL} got one message with the right counts "
        f"({sum(still_open.values())} open: {', '.join(f'{p} {still_open.get(p, 0)}' for p in PRIORITIES)}) and ids"
    ]


def migrated(bench: ModuleType, fixture: Path, dest: Path, env: dict[str, str], *, all_agents: bool) -> Any:
    """`cfmigrate migrate --write [--all]` on a fresh copy of the fixture in `dest` (snapshots refreshed live)."""
    from cfmigrate.migrate.runner import migrate_tree

    with bench.environment(env):
        return migrate_tree(fixture, dest, refresh=True, all_agents=all_agents)


def code_agent(bench: ModuleType, result: Any, dest: Path) -> Path:
    agent = dest / "agent.py"
    if not any(f.path == "agent.py" for f in result.changed) or "CodeMode" not in agent.read_text(
        encoding="utf-8"
    ):
        why = (
            "; ".join(s[2] for s in result.skipped)
            or "; ".join(p.message for p in result.problems)
            or "no change"
        )
        raise bench.BenchmarkError(f"cfmigrate migrate --write did not rewrite {dest / 'agent.py'}: {why}")
    return agent


async def context(bench: ModuleType, dest: Path) -> dict[str, Any]:
    """The code-mode prompt's size, and the size of an index of every tool in the system prompt."""
    from cfmigrate.analyzers.tokens import BpeTokenizer
    from cfmigrate.runtime import CodeMode

    async with CodeMode(servers_dir=dest / "servers", config=dest / ".mcp.json") as cm:
        tokens, label = cm.context_tokens("anthropic", BpeTokenizer("o200k_base"))
    index, tools = bench.index_tokens(dest / "servers")
    return {
        "context_tokens": int(tokens),
        "context_label": str(label),
        "index_tokens": index,
        "tool_count": tools,
    }


async def compare_records(bench: ModuleType, workdir: Path, migrate_to: Path | None = None) -> Any:
    """Direct MCP (the fixture agent as written) vs code mode (the agent after `migrate --write`).

    `migrate_to`: where the migrated copy goes (default `build/records-migrated/`, kept for reading).
    """
    direct_repo = bench.copy_fixture(workdir / "direct", RECORDS)
    direct_env = records_env(workdir / "state-direct")
    direct = await bench.drive(
        "direct MCP", direct_repo / "agent.py", RecordsDirectModel(), direct_env, RECORDS_TASK
    )
    checks = check_records(bench, direct, direct_env)

    code_env = records_env(workdir / "state-code")
    dest = migrate_to or REPO / "build" / "records-migrated"
    result = migrated(bench, RECORDS, dest, code_env, all_agents=False)
    agent = code_agent(bench, result, dest)
    code = await bench.drive("code mode", agent, RecordsCodeModel(), code_env, RECORDS_TASK)
    checks += check_records(bench, code, code_env)

    direct_errors, code_errors = _failed_once(direct, "comment"), _failed_once(code, "comment")
    if not direct_errors or code_errors != 1:
        raise bench.BenchmarkError(
            f"the helpdesk's close-needs-a-reply error was expected once per side (direct: {direct_errors} "
            f"failed calls, code: {code_errors} failed scripts)"
        )
    pages = sum(
        1
        for m in (direct.records[-1].request or {}).get("messages") or []
        for b in (m.get("content") if isinstance(m.get("content"), list) else [])
        if b.get("type") == "tool_use" and str(b.get("name")).endswith("list_tickets")
    )
    checks.append(
        f"paging and the error path: direct MCP listed {pages} pages in {pages} turns and retried {direct_errors} "
        "failed update_ticket calls (one parallel turn); code mode paged inside one script, its first script "
        "failed on the first update (nothing changed) and the rewritten one passed"
    )
    sizes = await context(bench, dest)
    return bench.Comparison(
        scenario="records",
        title="Records: 30 helpdesk tickets paged, filtered, 7 closed, counts posted (2 servers, 22 tools)",
        direct=direct,
        code=code,
        checks=tuple(checks),
        notes=(
            "The direct model makes independent calls in one turn (all 7 closes, then all 7 retries), as "
            "Claude does with parallel tool use; one call per turn would cost direct MCP more requests.",
            f"code-mode agent: `cfmigrate migrate --write` (decision: {_decision(RECORDS)})",
        ),
        **sizes,
    )


# ------------------------------------------------------------------------------------------------
# small


def check_small(bench: ModuleType, run: Any, env: dict[str, str]) -> list[str]:
    seed = json.loads((SMALL / "data" / "weather_seed.json").read_text(encoding="utf-8"))["cities"]["oslo"]
    tomorrow = next(d for d in seed["forecast"] if d["date"] == "2025-03-15")
    alerts = _load(Path(env["WEATHER_DATA"]), "weather", bench)["alerts"]
    frost = [a for a in alerts if a["city"] == "Oslo" and a["kind"] == "frost"]
    if len(alerts) != 1 or len(frost) != 1:
        raise bench.BenchmarkError(f"{run.mode}: expected one frost alert for Oslo, found {alerts}")
    facts = [
        str(seed["current"]["temperature_c"]),
        str(tomorrow["min_c"]),
        str(tomorrow["max_c"]),
        frost[0]["id"],
    ]
    missing = [f for f in facts if f not in run.answer]
    if missing or not re.search(r"2025-03-14T10:00:00\+01:00", run.answer):
        raise bench.BenchmarkError(
            f"{run.mode}: the answer lacks {missing or 'the local time'}: {run.answer!r}"
        )
    return [
        f"{run.mode}: one frost alert ({frost[0]['id']}) set for Oslo (tomorrow's low {tomorrow['min_c']} °C); "
        "the answer states the current temperature, tomorrow's range and the local time as the server gave them"
    ]


def _decision(fixture: Path) -> str:
    from cfmigrate.analyzers.discover import discover
    from cfmigrate.analyzers.measure import decide_agent

    inventory = discover(fixture)
    agent = next(a for a in inventory.agents if a.source.path.endswith("agent.py"))
    decision, reasons, _ = decide_agent(agent, inventory)
    return f"{decision}: {'; '.join(reasons)}"


async def compare_small(bench: ModuleType, workdir: Path, migrate_to: Path | None = None) -> Any:
    """Direct MCP vs code mode where the audit keeps direct MCP (`migrate_to`: default `build/small-migrated/`)."""
    direct_repo = bench.copy_fixture(workdir / "direct", SMALL)
    direct_env = small_env(workdir / "state-direct")
    direct = await bench.drive(
        "direct MCP", direct_repo / "agent.py", SmallDirectModel(), direct_env, SMALL_TASK
    )
    checks = check_small(bench, direct, direct_env)

    code_env = small_env(workdir / "state-code")
    dest = migrate_to or REPO / "build" / "small-migrated"
    refused = migrated(bench, SMALL, dest, code_env, all_agents=False)
    if refused.changed or not refused.skipped:
        raise bench.BenchmarkError(
            "cfmigrate migrate --write was expected to keep the small-toolset agent on direct MCP, "
            f"but it changed {[f.path for f in refused.changed]}"
        )
    result = migrated(bench, SMALL, dest, code_env, all_agents=True)
    agent = code_agent(bench, result, dest)
    code = await bench.drive("code mode", agent, SmallCodeModel(), code_env, SMALL_TASK)
    checks += check_small(bench, code, code_env)
    sizes = await context(bench, dest)
    return bench.Comparison(
        scenario="small",
        title='Small toolset: weather, forecast, local time, frost alert (1 server, 5 tools; audit: "keep direct MCP")',
        direct=direct,
        code=code,
        checks=tuple(checks),
        notes=(
            f"`cfmigrate migrate --write` left the agent on direct MCP: {refused.skipped[0][2]}",
            "the code-mode agent is what `cfmigrate migrate --write --all` makes of it (the only difference)",
        ),
        **sizes,
    )
