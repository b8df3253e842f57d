"""Honest scripted models for the two benchmark scenarios unlike the seed.

* **records** (`fixtures/records-scenario/`): 30 helpdesk tickets, listed 10 per page; the task closes
  the stale pending ones (tagging each) and posts the queue's open counts per priority to chat. The
  helpdesk refuses to close a ticket that waits on the requester without a public reply, a rule its
  tool documentation does not mention: both models meet that error once and retry with a comment.
* **small** (`fixtures/small-toolset/`): a five-tool weather server; the task reads the weather, the
  forecast and the local time for one city and sets a frost alert when tomorrow's low is below zero.

Both sides follow the rules of ``support.honest_models``: every turn passes the honesty check (tools,
arguments, modules, result fields and quoted facts must appear in the request it answers), the code-mode
models discover through ``search_tools`` (one typed line per tool, return fields included; they read
the full documentation only when a line leaves out a result field they need), react to a failed script by reading its error, and the direct models
make the independent calls of one step in parallel (one turn), as Claude does.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from support.honest_models import (
    CodeModel,
    Need,
    Run,
    ToolInfo,
    error_line,
    import_lines,
    lit,
    printed_value,
)
from support.honesty import HonestTurn
from support.scripted_api import Exchange, PolicyError, ToolCall, Turn, exchanges, find_tool, user_task

# ---------------------------------------------------------------------------------------------------
# records: close stale pending tickets, post the queue's counts

RECORDS_TASK = (
    "Triage the support queue: close every ticket that is pending (waiting on the customer) and was last "
    "updated before 2025-03-01, and tag each one auto-closed. Then post to #support-leads how many tickets "
    "are still open (new, open or pending) per priority, and which tickets you closed."
)
RECORDS_CHANNEL = "#support-leads"
RECORDS_CUTOFF = "2025-03-01"
RECORDS_TAG = "auto-closed"
PRIORITIES = ("urgent", "high", "normal", "low")
OPEN_STATUSES = ("new", "open", "pending")
CLOSING_NOTE = (
    "We are closing this ticket because we have not heard back since before 1 March. "
    "Reply to this message and it reopens."
)


def records_summary(closed: Sequence[str], still_open: Mapping[str, int]) -> str:
    """The #support-leads message both sides write (counts first, then the ids, as the agent's prompt asks)."""
    counts = ", ".join(f"{p} {still_open.get(p, 0)}" for p in PRIORITIES)
    return (
        f"Queue triage: {sum(still_open.values())} tickets still open by priority: {counts}. "
        f"Closed {len(closed)} pending tickets not updated since before {RECORDS_CUTOFF} "
        f"(tagged {RECORDS_TAG}): {', '.join(sorted(closed))}."
    )


def _json(exchange: Exchange) -> Any:
    try:
        return json.loads(exchange.result or "")
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{exchange.name} did not return JSON: {(exchange.result or '')[:200]!r}") from exc


class RecordsDirectModel:
    """Direct MCP: list every page, close the matches in one parallel turn, retry after the error, post."""

    def respond(self, request: Mapping[str, Any]) -> Turn:
        user_task(request)
        lt, ut, pm = (find_tool(request, n) for n in ("list_tickets", "update_ticket", "post_message"))
        done = exchanges(request)
        pages = [e for e in done if e.name == lt]
        if not pages:
            return Turn("I'll list the whole queue first.", (ToolCall(lt, {"page_size": 10}),))
        if pages[-1].is_error:
            failure = error_line(pages[-1].result or "")
            return HonestTurn(f"I could not list the tickets: {failure}", quotes=(failure,))
        token = _json(pages[-1]).get("next_page_token")
        if token:
            return HonestTurn(
                "More tickets on the next page.",
                (ToolCall(lt, {"page_size": 10, "page_token": token}),),
                quotes=(str(token),),
            )
        tickets = {t["id"]: t for p in pages for t in _json(p).get("tickets") or []}
        stale = sorted(
            i for i, t in tickets.items() if t["status"] == "pending" and t["updated_at"] < RECORDS_CUTOFF
        )
        updates = [e for e in done if e.name == ut]
        latest = {str(e.input.get("ticket_id")): e for e in updates}
        if not updates:
            if not stale:
                return HonestTurn("No pending ticket is older than the cut-off; nothing to close.")
            return HonestTurn(
                f"{len(stale)} pending tickets were last updated before {RECORDS_CUTOFF}; closing them.",
                tuple(
                    ToolCall(ut, {"ticket_id": i, "status": "closed", "tags_add": [RECORDS_TAG]})
                    for i in stale
                ),
                quotes=tuple(stale),
            )
        failed = [i for i in stale if latest.get(i) is None or latest[i].is_error]
        if failed:
            tries = Counter(str(e.input.get("ticket_id")) for e in updates)
            reason = (latest[failed[0]].result or "") if failed[0] in latest else ""
            if "comment" not in reason or max(tries[i] for i in failed) > 1:
                failure = error_line(reason) if reason else f"no update was made for {failed[0]}"
                return HonestTurn(f"I could not close {', '.join(failed)}: {failure}", quotes=tuple(failed))
            return HonestTurn(
                "The helpdesk wants a public reply when a waiting ticket is closed; closing again with one.",
                tuple(
                    ToolCall(
                        ut,
                        {
                            "ticket_id": i,
                            "status": "closed",
                            "tags_add": [RECORDS_TAG],
                            "comment": CLOSING_NOTE,
                        },
                    )
                    for i in failed
                ),
                quotes=tuple(failed),
            )
        posts = [e for e in done if e.name == pm]
        still_open = Counter(
            t["priority"] for i, t in tickets.items() if t["status"] in OPEN_STATUSES and i not in stale
        )
        if not posts:
            return HonestTurn(
                "All closed. Posting the summary.",
                (ToolCall(pm, {"channel": RECORDS_CHANNEL, "text": records_summary(stale, still_open)}),),
                quotes=tuple(stale),
            )
        if posts[-1].is_error:
            failure = error_line(posts[-1].result or "")
            return HonestTurn(f"The tickets are closed but the post failed: {failure}", quotes=(failure,))
        return HonestTurn(
            f"Done: closed {', '.join(stale)} (tagged {RECORDS_TAG}) and posted the queue summary to "
            f"{RECORDS_CHANNEL}: {sum(still_open.values())} tickets still open.",
            quotes=tuple(stale),
        )


class RecordsCodeModel(CodeModel):
    """Code mode: discover, (read the docs), one script that pages, filters, closes and posts; fix; answer."""

    queries = ("list tickets", "update ticket status tags", "post message channel")
    needs = (
        Need(
            "list_tickets",
            ("page_size", "page_token"),
            ("tickets", "next_page_token", "id_", "status", "priority", "updated_at"),
        ),
        Need("update_ticket", ("ticket_id", "status", "tags_add")),
        Need("post_message", ("channel", "text")),
    )
    first_step = "triage"

    def script(self, tools: Mapping[str, ToolInfo], comment: bool) -> str:
        lt, ut, pm = (self.info(tools, n) for n in ("list_tickets", "update_ticket", "post_message"))
        extra = f", comment={lit(CLOSING_NOTE)}" if comment else ""
        counts = ", ".join(f"{p} {{still_open[{p!r}]}}" for p in PRIORITIES)
        return f"""# step: triage
from collections import Counter
{import_lines(lt, ut, pm)}
tickets, token = [], None
while True:
    page = await {lt.tool}(page_size=10, page_token=token)
    tickets += page.tickets
    token = page.next_page_token
    if not token:
        break
stale = sorted(t.id_ for t in tickets if t.status == "pending" and t.updated_at < {lit(RECORDS_CUTOFF)})
for ticket_id in stale:
    await {ut.tool}(ticket_id=ticket_id, status="closed", tags_add=[{lit(RECORDS_TAG)}]{extra})
still_open = Counter(t.priority for t in tickets if t.status in {OPEN_STATUSES!r} and t.id_ not in stale)
text = (
    f"Queue triage: {{sum(still_open.values())}} tickets still open by priority: {counts}. "
    f"Closed {{len(stale)}} pending tickets not updated since before {RECORDS_CUTOFF} "
    f"(tagged {RECORDS_TAG}): {{', '.join(stale)}}."
)
await {pm.tool}(channel={lit(RECORDS_CHANNEL)}, text=text)
print(f"tickets listed: {{len(tickets)}}")
print(f"closed: {{', '.join(stale)}}")
print(f"still open: {{sum(still_open.values())}}")
print(f"posted: {{text}}")
"""

    def step(
        self,
        name: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        if name != "triage":
            raise PolicyError(f"unknown step {name!r}")
        return Turn(
            "Now the whole triage in one script: every page, the stale pending tickets closed, the summary posted.",
            (ToolCall(tool, {"code": self.script(tools, comment=False)}),),
        )

    def fix(self, failed: Run, tools: Mapping[str, ToolInfo]) -> Turn | None:
        """The helpdesk's close-needs-a-reply rule: the error names `comment`; the signature offers it."""
        if failed.step != "triage" or "comment" not in failed.output:
            return None
        if "comment" not in self.info(tools, "update_ticket").params or "comment=" in failed.code:
            return None
        return HonestTurn(
            "The helpdesk wants a public reply when a waiting ticket is closed; running it again with one.",
            (ToolCall(self._tool, {"code": self.script(tools, comment=True)}),),
            quotes=(error_line(failed.output),),
        )

    def respond(self, request: Mapping[str, Any]) -> Turn:
        from support.honest_models import code_tool

        self._tool = code_tool(request)
        return super().respond(request)

    def after(
        self,
        step: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        if step != "triage":
            raise PolicyError(f"no step follows {step!r}")
        closed, still_open = (
            printed_value(runs[-1].output, "closed"),
            printed_value(runs[-1].output, "still open"),
        )
        return HonestTurn(
            f"Done: closed {closed} (tagged {RECORDS_TAG}) and posted the queue summary to {RECORDS_CHANNEL}: "
            f"{still_open} tickets still open.",
            quotes=(closed, still_open),
        )


# ---------------------------------------------------------------------------------------------------
# small: five weather tools, one city


SMALL_TASK = (
    "I'm visiting our Oslo site tomorrow (2025-03-15). What's the weather there now, what's the forecast "
    "for tomorrow, and what time is it there? If tomorrow's low is below 0 °C, set a frost alert for Oslo."
)


@dataclass(frozen=True)
class SmallWords:
    city: str = "Oslo"
    tomorrow: str = "2025-03-15"


def small_answer(now: Mapping[str, Any], day: Mapping[str, Any], local_time: str, alert: str | None) -> str:
    text = (
        f"Oslo now: {now['temperature_c']} °C, {now['condition']} (local time {local_time}). "
        f"Tomorrow: {day['min_c']} to {day['max_c']} °C, {day['condition']}."
    )
    return text + (f" Frost alert set ({alert})." if alert else " No frost alert needed.")


class SmallDirectModel:
    """Direct MCP: the three reads in one parallel turn, the alert when the low is below zero, the answer."""

    def __init__(self, words: SmallWords | None = None) -> None:
        self.w = words or SmallWords()

    def respond(self, request: Mapping[str, Any]) -> Turn:
        user_task(request)
        cw, fc, lt, ca = (
            find_tool(request, n)
            for n in ("get_current_weather", "get_forecast", "get_local_time", "create_alert")
        )
        by = {e.name: e for e in exchanges(request)}
        if not by:
            return Turn(
                "Checking the weather, the forecast and the local time in Oslo.",
                (
                    ToolCall(cw, {"city": self.w.city}),
                    ToolCall(fc, {"city": self.w.city, "days": 2}),
                    ToolCall(lt, {"city": self.w.city}),
                ),
            )
        failed = [e for e in by.values() if e.is_error]
        if failed:
            failure = error_line(failed[0].result or "")
            return HonestTurn(f"The weather service failed: {failure}", quotes=(failure,))
        now, forecast, local = _json(by[cw]), _json(by[fc]), _json(by[lt])
        day = next((d for d in forecast.get("days") or [] if d.get("date") == self.w.tomorrow), None)
        if day is None:
            return HonestTurn(f"The forecast has no entry for {self.w.tomorrow}.")
        facts = (
            str(now["temperature_c"]),
            now["condition"],
            local["local_time"],
            str(day["min_c"]),
            str(day["max_c"]),
        )
        if day["min_c"] < 0 and ca not in by:
            return HonestTurn(
                f"Tomorrow's low is {day['min_c']} °C; setting a frost alert.",
                (ToolCall(ca, {"city": self.w.city, "kind": "frost", "threshold_c": 0}),),
                quotes=(str(day["min_c"]),),
            )
        alert = str(_json(by[ca])["id"]) if ca in by else None
        return HonestTurn(
            small_answer(now, day, local["local_time"], alert), quotes=(*facts, *([alert] if alert else []))
        )


class SmallCodeModel(CodeModel):
    """Code mode: discover, (read the docs), one script for the reads and the conditional alert, answer."""

    queries = ("current weather", "forecast", "local time", "create alert")
    needs = (
        Need("get_current_weather", ("city",), ("temperature_c", "condition")),
        Need("get_forecast", ("city", "days"), ("days", "date", "min_c", "max_c", "condition")),
        Need("get_local_time", ("city",), ("local_time",)),
        Need("create_alert", ("city", "kind", "threshold_c"), ("id_",)),
    )
    first_step = "weather"

    def __init__(self, words: SmallWords | None = None) -> None:
        self.w = words or SmallWords()

    def step(
        self,
        name: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        if name != "weather":
            raise PolicyError(f"unknown step {name!r}")
        cw, fc, lt, ca = (
            self.info(tools, n)
            for n in ("get_current_weather", "get_forecast", "get_local_time", "create_alert")
        )
        city = lit(self.w.city)
        code = f"""# step: weather
{import_lines(cw, fc, lt, ca)}
now = await {cw.tool}(city={city})
forecast = await {fc.tool}(city={city}, days=2)
local = await {lt.tool}(city={city})
day = next(d for d in forecast.days if d.date == {lit(self.w.tomorrow)})
print(f"now: {{now.temperature_c}} C, {{now.condition}}")
print(f"local time: {{local.local_time}}")
print(f"tomorrow: {{day.min_c}} to {{day.max_c}} C, {{day.condition}}")
if day.min_c < 0:
    alert = await {ca.tool}(city={city}, kind="frost", threshold_c=0)
    print(f"alert: {{alert.id_}}")
else:
    print("alert: none")
"""
        return Turn(
            "Now one script: the three reads, and the alert if tomorrow's low is below zero.",
            (ToolCall(tool, {"code": code}),),
        )

    def after(
        self,
        step: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        if step != "weather":
            raise PolicyError(f"no step follows {step!r}")
        out = runs[-1].output
        now = re.fullmatch(r"(.+) C, (.+)", printed_value(out, "now"))
        day = re.fullmatch(r"(.+) to (.+) C, (.+)", printed_value(out, "tomorrow"))
        if now is None or day is None:
            raise PolicyError(f"the script printed something unexpected: {out[:300]!r}")
        local, alert = printed_value(out, "local time"), printed_value(out, "alert")
        answer = small_answer(
            {"temperature_c": now.group(1), "condition": now.group(2)},
            {"min_c": day.group(1), "max_c": day.group(2), "condition": day.group(3)},
            local,
            None if alert == "none" else alert,
        )
        return HonestTurn(answer, quotes=(*now.groups(), *day.groups(), local, alert))
