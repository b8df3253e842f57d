"""Turn an audit into a migration plan: where a repository stands, what to move in which order, the
eight weeks with the exact commands, how success is measured, and what it saves.

Every figure in a plan is either an audit figure copied unchanged (with the audit JSON field it came
from) or computed from such figures with the formula stated next to it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cfmigrate.analyzers.measure import (
    DAYS_PER_MONTH,
    REPORT_SCHEMA,
    VALIDATION_PACKAGES,
    AgentFigure,
    AuditReport,
    ServerFigure,
    ToolFigure,
    WorkflowFigure,
    source_ref,
)
from cfmigrate.analyzers.model import Problem
from cfmigrate.analyzers.compare import Task

PLAN_SCHEMA = "cfmigrate.plan/1"
DEFAULT_SANDBOX_PER_MONTH = 500.0
MONTHS_PER_YEAR = 12

# The calendar the ROI assumes (days counted from the start of week 1).
SANDBOX_FROM_DAY = 7  # week 2: the proof of concept needs the sandbox
FIRST_LIVE_DAY = 42  # week 7: the first agent runs on code mode in production after weeks 4-6
ROLLOUT_LIVE_DAY = 56  # week 9: the other candidates, after the rollout of weeks 7-8
PAYBACK_HORIZON_DAYS = 10 * 365

# Targets, from the roadmap.
TARGET_REDUCTION = 70.0  # percent fewer billed input tokens, production
TARGET_POC_REDUCTION = 50.0  # percent, proof of concept
TARGET_ERROR_RATE = 5.0  # percent of tasks
TARGET_SPEEDUP = 3.0  # times faster per task (the roadmap expects 3-5x)
TARGET_POC_SECONDS = 5.0

MIGRATE = ("code-first", "hybrid")
DECISION_TEXT = {
    "code-first": "move to code mode",
    "hybrid": "move to code mode, MCP stays the transport",
    "keep-mcp": "keep on direct MCP",
    "already-code-mode": "already on code mode",
    "unknown": "cannot decide yet",
}


# --------------------------------------------------------------------------------------------------
# Money


def daily_cost(requests_per_day: float, tokens: float, price_per_mtok: float) -> float:
    """USD per day for that many requests of that many input tokens."""
    return requests_per_day * tokens * price_per_mtok / 1_000_000


@dataclass(frozen=True)
class RoiLine:
    """One agent's part of the ROI: its per-request input before and after, and when it goes live."""

    agent: str
    requests_per_day: int
    tokens_before: int
    tokens_after: int
    price_per_mtok: float
    price_source: str
    live_from_day: int

    @property
    def daily_before(self) -> float:
        return daily_cost(self.requests_per_day, self.tokens_before, self.price_per_mtok)

    @property
    def daily_after(self) -> float:
        return daily_cost(self.requests_per_day, self.tokens_after, self.price_per_mtok)

    @property
    def daily_savings(self) -> float:
        return self.daily_before - self.daily_after


@dataclass(frozen=True)
class Roi:
    """Savings per month and year net of the sandbox, and the day the running cost is paid back."""

    lines: tuple[RoiLine, ...]
    sandbox_per_month: float = DEFAULT_SANDBOX_PER_MONTH
    one_off_cost: float = 0.0
    sandbox_from_day: int = SANDBOX_FROM_DAY

    @property
    def daily_before(self) -> float:
        return sum(line.daily_before for line in self.lines)

    @property
    def daily_after(self) -> float:
        return sum(line.daily_after for line in self.lines)

    @property
    def daily_savings(self) -> float:
        return self.daily_before - self.daily_after

    @property
    def monthly_before(self) -> float:
        return self.daily_before * DAYS_PER_MONTH

    @property
    def monthly_after(self) -> float:
        return self.daily_after * DAYS_PER_MONTH

    @property
    def monthly_savings(self) -> float:
        """Gross: the input spend that code mode removes, before the sandbox is paid."""
        return self.daily_savings * DAYS_PER_MONTH

    @property
    def monthly_net(self) -> float:
        return self.monthly_savings - self.sandbox_per_month

    @property
    def break_even_requests_per_day(self) -> int | None:
        """Requests per agent per day at which the savings pay for the sandbox (same token figures and prices)."""
        per_request = sum(
            (line.tokens_before - line.tokens_after) * line.price_per_mtok / 1_000_000 for line in self.lines
        )
        if per_request <= 0:
            return None
        return math.ceil(self.sandbox_per_month / DAYS_PER_MONTH / per_request)

    @property
    def yearly_net(self) -> float:
        return self.monthly_net * MONTHS_PER_YEAR

    @property
    def first_live_day(self) -> int | None:
        return min((line.live_from_day for line in self.lines), default=None)

    def net_on_day(self, day: int) -> float:
        """Savings minus sandbox cost on one day (day 0 is the first day of week 1)."""
        saved = sum(line.daily_savings for line in self.lines if day >= line.live_from_day)
        sandbox = self.sandbox_per_month / DAYS_PER_MONTH if day >= self.sandbox_from_day else 0.0
        return saved - sandbox

    def cumulative(self, days: int) -> list[float]:
        """Cumulative net savings at the end of each of the first `days` days, one-off cost included."""
        out: list[float] = []
        total = -self.one_off_cost
        for day in range(days):
            total += self.net_on_day(day)
            out.append(total)
        return out

    @property
    def payback_day(self) -> int | None:
        """The first day (counting from 1) at whose end everything spent has been earned back."""
        if not self.lines or self.monthly_net <= 0:
            return None
        total = -self.one_off_cost
        for day in range(PAYBACK_HORIZON_DAYS):
            total += self.net_on_day(day)
            if day >= (self.first_live_day or 0) and total >= 0:
                return day + 1
        return None


# --------------------------------------------------------------------------------------------------
# The plan


@dataclass(frozen=True)
class AgentRow:
    """One agent as the plan shows it; `index` is its position in the audit's `agents` list."""

    index: int
    name: str
    source: str
    decision: str
    decision_text: str
    reasons: tuple[str, ...]
    servers: tuple[str, ...]
    servers_basis: str
    unknown_servers: tuple[str, ...]
    tool_count: int
    threshold: str
    definition_tokens: int
    overhead_tokens: int
    overhead_note: str
    system_prompt_tokens: int
    per_request_tokens: int
    tool_context_tokens: int  # definition_tokens + overhead_tokens: what code mode replaces
    code_mode_tokens: int
    reduction: float  # audit figure: (tool context - code mode) / tool context
    overhead_ratio: float | None  # None when the code alone cannot tell
    overhead_ratio_basis: str
    workflow_basis: str  # one sentence on the workflow figure, or ""
    price_per_mtok: float
    price_source: str
    monthly_before: float
    monthly_after: float
    monthly_waste: float
    migrate: bool
    rank: int | None
    workflow: WorkflowFigure | None
    tool_sequence: tuple[str, ...]


@dataclass(frozen=True)
class Step:
    """One thing to do; `command` is a shell line to run from the repository root, `code` Python to paste."""

    text: str
    command: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Phase:
    weeks: str
    title: str
    goal: str
    steps: tuple[Step, ...]
    done_when: tuple[str, ...]


@dataclass(frozen=True)
class Setting:
    name: str
    value: str
    why: str


@dataclass(frozen=True)
class Metric:
    name: str
    target: str
    baseline: str
    command: str


@dataclass(frozen=True)
class Segment:
    """One part of the input the model is billed for, for the "where the tokens go" chart."""

    label: str
    tokens: int
    source: str


@dataclass(frozen=True)
class Breakdown:
    """Where one task's (or one request's) input tokens go, before and after."""

    agent: str
    unit: str  # "per task (N requests)" or "per request"
    before: tuple[Segment, ...]
    after: tuple[Segment, ...]
    note: str

    @property
    def before_total(self) -> int:
        return sum(s.tokens for s in self.before)

    @property
    def after_total(self) -> int:
        return sum(s.tokens for s in self.after)


@dataclass(frozen=True)
class Plan:
    schema: str
    repository: str
    tokenizer: str
    audit_source: str
    audit_schema: str
    code_mode_source: str
    requests_per_day: int
    requests_per_day_source: str
    price_override: float | None
    servers: tuple[ServerFigure, ...]
    agents: tuple[AgentRow, ...]  # candidates by rank, then the others
    problems: tuple[Problem, ...]
    totals: Mapping[str, Any]
    phases: tuple[Phase, ...]
    sandbox: tuple[Setting, ...]
    monitoring: tuple[Setting, ...]
    metrics: tuple[Metric, ...]
    roi: Roi
    breakdown: Breakdown | None
    summary: tuple[str, ...]
    trace_line: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def candidates(self) -> tuple[AgentRow, ...]:
        return tuple(a for a in self.agents if a.migrate)

    @property
    def kept(self) -> tuple[AgentRow, ...]:
        return tuple(a for a in self.agents if a.decision == "keep-mcp")

    @property
    def top(self) -> AgentRow | None:
        return self.candidates[0] if self.candidates else None


def _ratio(part: int, whole: int) -> float:
    return 0.0 if whole <= 0 else part / whole


def _rows(report: AuditReport, requests_per_day: int, price: float | None) -> tuple[AgentRow, ...]:
    rows: list[AgentRow] = []
    for index, a in enumerate(report.agents):
        context = a.per_request_tokens - a.system_prompt_tokens  # the tool context the audit prices
        per_mtok = a.price_per_mtok if price is None else price
        price_source = a.price_source if price is None else "--price"
        migrate = a.decision in MIGRATE
        after = a.code_mode_tokens if migrate else context
        month = DAYS_PER_MONTH
        w = a.workflow
        ratio: float | None
        if w is not None and w.basis.startswith("trace") and w.billed_before > 0:
            ratio = min(1.0, _ratio(w.requests_before * context, w.billed_before))
            basis = "from the trace: tool context x requests / billed input per task"
        elif a.system_prompt_tokens > 0:
            ratio = _ratio(context, a.per_request_tokens)
            basis = "tool context / tool context + system prompt (the question is not visible in code)"
        else:
            ratio = None
            basis = "needs a trace: the code shows neither the system prompt nor the question"
        rows.append(
            AgentRow(
                index=index,
                name=a.name,
                source=a.source,
                decision=a.decision,
                decision_text=DECISION_TEXT.get(a.decision, a.decision),
                reasons=a.reasons,
                servers=a.servers,
                servers_basis=a.servers_basis,
                unknown_servers=a.unknown_servers,
                tool_count=a.tool_count,
                threshold=a.threshold,
                definition_tokens=a.definition_tokens,
                overhead_tokens=a.overhead_tokens,
                overhead_note=a.overhead_note,
                system_prompt_tokens=a.system_prompt_tokens,
                per_request_tokens=a.per_request_tokens,
                tool_context_tokens=context,
                code_mode_tokens=a.code_mode_tokens,
                reduction=a.reduction,
                overhead_ratio=ratio,
                overhead_ratio_basis=basis,
                workflow_basis=workflow_text(w, a.tool_sequence) if w is not None else "",
                price_per_mtok=per_mtok,
                price_source=price_source,
                monthly_before=round(daily_cost(requests_per_day, context, per_mtok) * month, 2),
                monthly_after=round(daily_cost(requests_per_day, after, per_mtok) * month, 2),
                monthly_waste=round(
                    daily_cost(requests_per_day, max(0, context - after), per_mtok) * month, 2
                ),
                migrate=migrate,
                rank=None,
                workflow=w,
                tool_sequence=a.tool_sequence,
            )
        )
    order = {"code-first": 0, "hybrid": 0, "keep-mcp": 1, "already-code-mode": 2, "unknown": 3}
    rows.sort(key=lambda r: (order.get(r.decision, 4), -r.monthly_waste, -r.reduction, r.name))
    ranked: list[AgentRow] = []
    rank = 0
    for r in rows:
        if r.migrate:
            rank += 1
            ranked.append(_replace_rank(r, rank))
        else:
            ranked.append(r)
    return tuple(ranked)


def _replace_rank(row: AgentRow, rank: int) -> AgentRow:
    from dataclasses import replace

    return replace(row, rank=rank)


def roi_for(
    agents: Iterable[AgentRow], requests_per_day: int, sandbox_per_month: float, one_off_cost: float = 0.0
) -> Roi:
    """The ROI of moving the candidates: the first goes live in week 7, the others after the rollout."""
    lines = tuple(
        RoiLine(
            agent=a.name,
            requests_per_day=requests_per_day,
            tokens_before=a.tool_context_tokens,
            tokens_after=a.code_mode_tokens,
            price_per_mtok=a.price_per_mtok,
            price_source=a.price_source,
            live_from_day=FIRST_LIVE_DAY if a.rank == 1 else ROLLOUT_LIVE_DAY,
        )
        for a in agents
        if a.migrate
    )
    return Roi(lines=lines, sandbox_per_month=sandbox_per_month, one_off_cost=one_off_cost)


def _breakdown(top: AgentRow | None, tasks: Sequence[Task] | None, tokenizer: str) -> Breakdown | None:
    if top is None:
        return None
    context = top.tool_context_tokens
    system = top.system_prompt_tokens
    w = top.workflow
    mine = [t for t in tasks or () if t.agent in ("", top.name) and t.inputs]
    if not mine and len({t.agent for t in tasks or ()}) == 1:
        mine = [t for t in tasks or () if t.inputs]  # one agent in the log: it is the one being planned
    if mine:
        n = len(mine)
        requests = sum(len(t.inputs) for t in mine) / n
        billed = sum(sum(t.inputs) for t in mine) / n
        fixed = context + system
        question = max(0.0, sum(t.inputs[0] for t in mine) / n - fixed)
        results = max(0.0, billed - requests * (fixed + question))
        before = (
            Segment(
                "tool definitions",
                round(requests * context),
                f"{requests:g} requests x {context:,} (audit: definition_tokens + overhead_tokens)",
            ),
            Segment(
                "system prompt",
                round(requests * system),
                f"{requests:g} requests x {system:,} (audit: system_prompt_tokens)",
            ),
            Segment(
                "the question",
                round(requests * question),
                "first request of each task minus the fixed context, re-sent on every request",
            ),
            Segment(
                "tool results and replies",
                round(results),
                "the rest of the logged input: what earlier steps appended",
            ),
        )
        after_total = w.billed_after if w is not None else 3 * top.code_mode_tokens
        after = (
            Segment(
                "code-mode prompt, execute tool, tool docs read",
                after_total,
                "audit: workflow.billed_after" if w else "3 requests x code_mode_tokens",
            ),
        )
        return Breakdown(
            agent=top.name,
            unit=f"per task (mean of {n} logged task{'s' if n != 1 else ''}, {requests:g} requests each)",
            before=before,
            after=after,
            note=(
                "Before: the logged input (usage.input_tokens), split with the audit's count of the fixed context "
                f"({tokenizer}). After: the audit's projection ({tokenizer}); what the scripts print is not "
                "included until a code-mode log exists (`cfmigrate measure`)."
            ),
        )
    if w is not None:
        results = max(0, w.billed_before - w.requests_before * (context + system))
        before_segments = [
            Segment(
                "tool definitions",
                w.requests_before * context,
                f"{w.requests_before} requests x {context:,} (audit: workflow.requests_before x (definition_tokens + overhead_tokens))",
            ),
            Segment(
                "system prompt",
                w.requests_before * system,
                f"{w.requests_before} requests x {system:,} (audit: system_prompt_tokens)",
            ),
        ]
        if results:
            before_segments.append(
                Segment(
                    "the question, tool results and replies",
                    results,
                    "audit: workflow.billed_before minus the fixed context",
                )
            )
        return Breakdown(
            agent=top.name,
            unit=f"per task ({w.requests_before} requests on direct MCP, {w.requests_after} on code mode)",
            before=tuple(before_segments),
            after=(
                Segment(
                    "code-mode prompt, execute tool, tool docs read",
                    w.billed_after,
                    "audit: workflow.billed_after",
                ),
            ),
            note=(
                "The question and the tool results are not visible in code: they add to the direct-MCP bar on every "
                "request, and they are what code mode keeps in the sandbox. Log real requests and pass "
                "`--trace requests.jsonl` to see them."
                if not results
                else f"From the audit: {basis_words(w)}."
            ),
        )
    return Breakdown(
        agent=top.name,
        unit="per request",
        before=(
            Segment("tool definitions", context, "audit: definition_tokens + overhead_tokens"),
            Segment("system prompt", system, "audit: system_prompt_tokens"),
        ),
        after=(
            Segment(
                "code-mode prompt, execute tool, tool docs read",
                top.code_mode_tokens,
                "audit: code_mode_tokens",
            ),
        ),
        note=(
            "The question and tool results are not visible in code; log real requests and pass "
            "`--trace requests.jsonl` to measure them."
        ),
    )


def workflow_text(w: WorkflowFigure, sequence: Sequence[str] = ()) -> str:
    """One sentence on a workflow's billed input before and after, in Markdown."""
    if w.basis.startswith("trace"):
        seen = f"the logged tasks take {w.requests_before} requests and bill {w.billed_before:,} input tokens on direct MCP"
    else:
        calls = f" (`{'` → `'.join(sequence)}`)" if sequence else ""
        seen = (
            f"the {w.calls} tool calls written in the code{calls} take {w.requests_before} requests and bill "
            f"{w.billed_before:,} input tokens on direct MCP"
        )
    return (
        f"{seen}; on code mode {w.requests_after} requests bill {w.billed_after:,}, {w.reduction:.1%} less "
        f"({basis_words(w)})"
    )


def basis_words(w: WorkflowFigure | None) -> str:
    """The audit's workflow basis in plain words."""
    if w is None:
        return ""
    if w.basis.startswith("literal"):
        return "tool results are not visible in code, so the real direct-MCP figure is higher"
    if w.basis.startswith("trace"):
        return "direct MCP " + w.basis.replace("trace:", "from the log:", 1) + "; code mode projected"
    return w.basis


def _money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def _weeks_and_days(day: int) -> str:
    week = (day - 1) // 7 + 1
    return f"day {day} (week {week})"


TRACE_LINE = (
    '{"task": "<task id>", "agent": "<agent name>", "usage": {"input_tokens": N, "output_tokens": M}, '
    '"latency_ms": N, "error": null}'
)


def _phases(plan_agents: Sequence[AgentRow], report: AuditReport, roi: Roi) -> tuple[Phase, ...]:
    candidates = [a for a in plan_agents if a.migrate]
    kept = [a for a in plan_agents if a.decision == "keep-mcp"]
    unknown = [a for a in plan_agents if a.decision == "unknown"]
    top = candidates[0] if candidates else None
    unknown_servers = sorted(
        {s for a in plan_agents for s in a.unknown_servers}
        | {s.name for s in report.servers if s.status == "unknown"}
    )

    week1: list[Step] = [
        Step(
            "Re-run the audit and keep its JSON next to this plan; every figure here comes from it.",
            "cfmigrate audit . --format json --output audit.json",
        ),
    ]
    if unknown_servers:
        week1.append(
            Step(
                f"List the tools of {', '.join(unknown_servers)} live (their tools are not in the repository), "
                "which also writes the snapshots `cfmigrate generate` needs.",
                "cfmigrate audit . --connect --format json --output audit.json",
            )
        )
    week1.append(
        Step(
            "Log one day of real model requests, one JSON line per request, from each agent's loop "
            "(the `usage` the API returns, the task it belongs to, how long it took, whether it failed).",
        )
    )
    week1.append(
        Step(
            "Measure the real workflows from that log: billed input per task, tool context share, requests per task.",
            "cfmigrate audit . --trace requests.jsonl --format json --output audit-traced.json",
        )
    )
    multi = [a.name for a in candidates if len(a.tool_sequence) > 3]
    heavy = [a.name for a in candidates if a.overhead_ratio is not None and a.overhead_ratio > 0.5]
    look = []
    if heavy:
        look.append(f"more than half of each request is tool definitions: {', '.join(heavy)}")
    if multi:
        look.append(f"more than 3 tool calls in one flow: {', '.join(multi)}")
    week1.append(
        Step(
            "Mark the workflows that gain most: more than 50% overhead, more than 3 tool calls, large documents, "
            "personal data passing through the model"
            + (f" (already visible: {'; '.join(look)})." if look else ".")
        )
    )

    poc_steps: tuple[Step, ...]
    if top is None:
        poc_steps = (
            Step(
                "No agent needs to move: the proof of concept is not needed. Re-run the audit when agents or servers change.",
                "cfmigrate audit . --format json --output audit.json",
            ),
        )
        prod_steps: tuple[Step, ...] = ()
        rollout: list[Step] = []
    else:
        poc_steps = (
            _generate_step(report, top),
            *(
                Step(
                    f"Keep the tools of {', '.join(kept_servers)} on direct MCP (formal validation): list them in "
                    '`keep_direct` as "server/tool" entries, or in `[tool.cfmigrate] keep_direct`.'
                )
                for kept_servers in [_validation_servers(report, top)]
                if kept_servers
            ),
            Step(
                f"Preview the rewrite of `{top.name}` ({top.source}): tool schemas out, the execute-code tool and "
                "the code-first prompt in. Nothing is written.",
                f"cfmigrate migrate {_file_of(top)}",
            ),
            Step(
                f"Run one real workflow of `{top.name}` on code mode with the sandbox settings below, logging requests "
                "as in week 1 to `poc.jsonl` (the direct-MCP log of the same workflow is `before.jsonl`). "
                "The runtime is set up like this in the agent:",
                code=_runtime_snippet(report, top),
            ),
            Step(
                f"Compare: the proof of concept needs more than {TARGET_POC_REDUCTION:.0f}% fewer billed input tokens.",
                f"cfmigrate measure before.jsonl poc.jsonl --min-reduction {TARGET_POC_REDUCTION:.0f}",
            ),
        )
        prod_steps = (
            Step(
                f"Apply the rewrite to `{top.name}` on a clean branch (it refuses to write over uncommitted changes) "
                "and review the diff like any pull request.",
                f"cfmigrate migrate {_file_of(top)} --write",
            ),
            Step(
                "Keep the wrappers in step with the servers: fail CI (and the pre-commit hook) when a server's tools "
                "change or a migrated call site is reverted.",
                "cfmigrate generate --check && cfmigrate migrate --check",
            ),
            Step(
                "Return script errors to the model as tool results so it can fix its own code; keep stdout/stderr captured and cut."
            ),
            Step(
                "Require human approval for tools the servers mark destructive; allow read-only tools automatically; rate-limit tool calls per task."
            ),
            Step(
                "Set up the monitoring below before switching traffic; switch gradually and compare every week.",
                "cfmigrate measure before.jsonl after.jsonl",
            ),
        )
        rollout = []
        for a in candidates[1:]:
            rollout.append(
                Step(
                    f"{a.rank}. `{a.name}` ({a.source}): {_money(a.monthly_waste)} a month of tool context, "
                    f"{a.tool_context_tokens:,} → {a.code_mode_tokens:,} tokens per request.",
                    f"cfmigrate migrate {_file_of(a)} --write",
                )
            )
        if rollout:
            rollout.insert(
                0,
                Step(
                    "Move the other candidates, highest waste first, one at a time, each with its own before/after log:"
                ),
            )
            rollout.append(
                Step("Measure each one against its own baseline before moving the next (section 4).")
            )
        else:
            rollout.append(
                Step(
                    f"`{top.name}` is the only agent to move; use weeks 7-8 to write down how it was done for the next agent."
                )
            )
    if kept:
        rollout.append(
            Step(
                f"Keep {'these agents' if len(kept) > 1 else 'this agent'} on direct MCP (few tools, or step-by-step "
                "validation is the point; the reasons are in section 2): "
                + ", ".join(f"`{a.name}`" for a in kept)
                + "."
            )
        )
    if unknown:
        rollout.append(
            Step(
                "Decide after the tools are known: " + ", ".join(f"`{a.name}`" for a in unknown) + ".",
                "cfmigrate audit . --connect",
            )
        )
    rollout.append(
        Step(
            "Write down the decision rule for new agents: fewer than 20 tools stays on MCP; more, or multi-step workflows over large data, go code-first."
        )
    )
    rollout.append(
        Step(
            "Gate CI on the production targets for every migrated agent.",
            f"cfmigrate measure before.jsonl after.jsonl --min-reduction {TARGET_REDUCTION:.0f} --max-error-rate {TARGET_ERROR_RATE:.0f}",
        )
    )

    payback = roi.payback_day
    return (
        Phase(
            "Week 1",
            "Assess",
            "Know what every agent pays for tool definitions, from the code and from real traffic.",
            tuple(week1),
            ("audit.json and one day of requests.jsonl are checked in or attached to this plan",),
        ),
        Phase(
            "Weeks 2-3",
            f"Proof of concept on `{top.name}`" if top else "Proof of concept",
            f"One workflow of `{top.name}` runs on code mode in the sandbox."
            if top
            else "Nothing to prove: no agent is a candidate.",
            poc_steps,
            (
                (
                    "the workflow completes on code mode",
                    f"more than {TARGET_POC_REDUCTION:.0f}% fewer billed input tokens than on direct MCP",
                    "no security incident: nothing left the sandbox except through the tool channel",
                    f"under {TARGET_POC_SECONDS:.0f} s total for the workflow",
                )
                if top
                else ()
            ),
        ),
        Phase(
            "Weeks 4-6",
            f"Put `{top.name}` into production" if top else "Production",
            f"`{top.name}` serves real traffic on code mode, monitored, from week 7."
            if top
            else "No change to production.",
            prod_steps,
            (
                (
                    f"more than {TARGET_REDUCTION:.0f}% fewer billed input tokens per task",
                    f"error rate under {TARGET_ERROR_RATE:.0f}%",
                    "dashboards and alerts below are live",
                )
                if top
                else ()
            ),
        ),
        Phase(
            "Weeks 7-8",
            "Roll out",
            (
                (
                    "The other candidates move, highest waste first; the rest stay where they are."
                    if len(candidates) > 1
                    else "Make the move repeatable for the next agent, and say which agents stay on direct MCP."
                )
                + (f" The sandbox is paid back on {_weeks_and_days(payback)}." if payback else "")
            ),
            tuple(rollout),
            (
                "every candidate is migrated or has a date",
                "the agents kept on direct MCP are listed with the reason",
            ),
        ),
    )


def _file_of(agent: AgentRow) -> str:
    """The agent's file, relative to the repository root (its source without the line)."""
    path, _, line = agent.source.rpartition(":")
    return path if path and line.isdigit() else agent.source


def _generate_step(report: AuditReport, agent: AgentRow) -> Step:
    """Generate the wrappers for the agent's servers, listing their tools live first when no snapshot exists."""
    kept = _validation_servers(report, agent)
    names = [n for n in agent.servers if n not in kept]
    flags = " ".join(f"--server {n}" for n in names)
    labels = {s.name: s.manifest or "" for s in report.servers}
    stale = [n for n in names if not labels.get(n, "").startswith(("snapshot", "live"))]
    if stale:
        return Step(
            f"Generate the typed `servers/` package for {', '.join(names)}: one module per tool, calling the real "
            f"MCP servers. The tools of {', '.join(stale)} are not in a snapshot yet, so `--refresh` starts the "
            "servers and lists them live: set the environment variables they need first (the names are in the MCP "
            "config; values are read, never written).",
            f"cfmigrate generate --refresh {flags}",
        )
    return Step(
        f"Generate the typed `servers/` package for {', '.join(names)}: one module per tool, calling the real MCP "
        "servers, from the snapshots in `.cfmigrate/manifests/`.",
        f"cfmigrate generate {flags}",
    )


def _validation_servers(report: AuditReport, agent: AgentRow) -> list[str]:
    """The agent's servers that the audit keeps on direct MCP for formal validation (browser automation)."""
    return [
        s.name
        for s in report.servers
        if s.name in agent.servers and s.package and s.package.startswith(VALIDATION_PACKAGES)
    ]


def _config_file(report: AuditReport, agent: AgentRow) -> str:
    """The client config the agent's servers come from, when they share one; else `.mcp.json`."""
    files = {s.source.rsplit(":", 1)[0] for s in report.servers if s.name in agent.servers and s.source}
    files = {f for f in files if f.endswith((".json", ".toml", ".yaml", ".yml"))}
    return files.pop() if len(files) == 1 else ".mcp.json"


def _runtime_snippet(report: AuditReport, agent: AgentRow) -> str:
    return (
        "from cfmigrate.runtime import CodeMode, Limits\n"
        "\n"
        "code_mode = CodeMode(\n"
        '    servers_dir="servers",\n'
        f"    config={json.dumps(_config_file(report, agent))},\n"
        "    limits=Limits(memory_mb=100, timeout_s=10),  # network blocked, filesystem isolated: the defaults\n"
        '    audit_log="logs/code-mode.jsonl",  # every script and tool call, for the monitoring\n'
        ")"
    )


SANDBOX = (
    Setting(
        "memory", "100 MB", "enough for filtering documents in Python; raise it only when a script needs more"
    ),
    Setting("timeout", "10 s wall clock per script", "kills runaway loops; the whole process group is ended"),
    Setting(
        "network",
        "blocked",
        "scripts reach tools only through the host's tool channel (no credentials inside)",
    ),
    Setting(
        "filesystem",
        "isolated: writes only in the work directory (`workspace/`, `skills/`)",
        "state between runs, nothing else",
    ),
    Setting(
        "output",
        "stdout and stderr captured, cut at a fixed size with a note",
        "only what the script prints goes back to the model",
    ),
)

MONITORING = (
    Setting(
        "billed input tokens per task",
        "usage.input_tokens per request, summed per task",
        f"alert when the reduction falls under {TARGET_REDUCTION:.0f}%",
    ),
    Setting(
        "script execution time",
        "the runtime's JSONL audit log, per script",
        "alert on timeouts; p95 under the 10 s limit",
    ),
    Setting(
        "error rate",
        "failed tasks / tasks; script errors the model could not fix",
        f"alert above {TARGET_ERROR_RATE:.0f}%",
    ),
    Setting(
        "cost per day",
        "input tokens x price, per agent",
        "compare with the plan's daily figure after the switch",
    ),
    Setting(
        "tool calls",
        "server, tool, duration, outcome per call (the runtime's audit log)",
        "review destructive calls; watch for retry storms",
    ),
)


def build_plan(
    report: AuditReport,
    *,
    audit_source: str,
    requests_per_day: int | None = None,
    price: float | None = None,
    sandbox_per_month: float = DEFAULT_SANDBOX_PER_MONTH,
    one_off_cost: float = 0.0,
    trace: Sequence[Task] | None = None,
) -> Plan:
    """The plan for one audited repository."""
    rpd = requests_per_day or report.requests_per_day
    agents = _rows(report, rpd, price)
    roi = roi_for(agents, rpd, sandbox_per_month, one_off_cost)
    candidates = [a for a in agents if a.migrate]
    top = candidates[0] if candidates else None
    repo = Path(report.root).name or report.root
    tok = report.tokenizer
    summary: list[str] = []
    n_agents = len(agents)
    if not agents:
        summary.append(
            f"No agent in this repository calls MCP tools, so there is nothing to migrate. "
            f"The audit found {len(report.servers)} MCP server{'s' if len(report.servers) != 1 else ''} "
            f"in {report.files_scanned:,} files scanned."
        )
        tools = int(report.totals.get("tools", 0) or 0)
        if tools:
            summary.append(
                f"Their {tools:,} known tools cost {int(report.totals.get('definition_tokens', 0) or 0):,} tokens of "
                f"definitions ({tok}); an agent that loaded them all would send that with every request. "
                "Run `cfmigrate plan` in the repository of the agents that use these servers."
            )
    else:
        servers_used = sorted({s for a in agents for s in a.servers})
        unknown_used = sorted({s for a in agents for s in a.unknown_servers})
        direct = [a for a in agents if a.decision != "already-code-mode"]
        worst = max(direct or agents, key=lambda a: a.tool_context_tokens)
        known_text = (
            f"tools unknown for {', '.join(unknown_used)}"
            if unknown_used
            else ("all with known tools" if len(servers_used) > 1 else "its tools are known")
        )
        summary.append(
            f"{n_agents} agent{'s' if n_agents != 1 else ''} use{'s' if n_agents == 1 else ''} {len(servers_used)} MCP "
            f"server{'s' if len(servers_used) != 1 else ''} ({known_text}). "
            + (
                (f"The heaviest, `{worst.name}`," if n_agents > 1 else f"`{worst.name}` ({_file_of(worst)})")
                + f" sends {worst.tool_count} tool definitions costing "
                f"{worst.tool_context_tokens:,} tokens with every request, before the question is read ({tok})."
                if direct
                else f"All of them already run on code mode: {worst.tool_context_tokens:,} tokens of tool context "
                f"per request at most ({tok}), whatever the number of tools behind them."
            )
        )
    if top is not None:
        summary.append(
            f"Move `{top.name}` first ({top.decision_text}). On code mode it would read "
            f"{top.code_mode_tokens:,} tokens of tool context per request instead of {top.tool_context_tokens:,}: "
            f"{top.reduction:.0%} less."
        )
        if top.workflow is not None:
            summary.append("Per task: " + workflow_text(top.workflow, top.tool_sequence) + ".")
        prices = sorted({a.price_per_mtok for a in candidates})
        price_text = (
            f"${prices[0]:.2f}"
            if len(prices) == 1
            else "$" + "–$".join(f"{p:.2f}" for p in (prices[0], prices[-1]))
        )
        summary.append(
            f"At {rpd:,} requests a day per agent and {price_text} per million input tokens, moving "
            f"{len(candidates)} agent{'s' if len(candidates) != 1 else ''} saves {_money(roi.monthly_savings)} a month; "
            f"after {_money(roi.sandbox_per_month)} a month for the sandbox that is {_money(roi.monthly_net)} a month "
            f"({_money(roi.yearly_net)} a year)."
            + (
                f" The {'sandbox and the one-off cost are' if roi.one_off_cost else 'sandbox cost is'} earned back on {_weeks_and_days(roi.payback_day)}."
                if roi.payback_day
                else (
                    " At these inputs the savings do not cover the sandbox: do not migrate for cost alone"
                    + (
                        f" (it pays for itself above {roi.break_even_requests_per_day:,} requests a day per agent)."
                        if roi.break_even_requests_per_day
                        else "."
                    )
                )
            )
        )
    elif agents:
        summary.append(
            "No agent needs to move to code mode: "
            + "; ".join(f"`{a.name}`: {a.decision_text}" for a in agents)
            + "."
        )
    kept = [a for a in agents if a.decision == "keep-mcp"]
    if kept and top is not None:
        summary.append("Stay on direct MCP: " + ", ".join(f"`{a.name}`" for a in kept) + ".")
    notes: list[str] = []
    if (
        trace is not None
        and top is not None
        and len({t.agent for t in trace}) > 1
        and not any(t.agent in ("", top.name) and t.inputs for t in trace)
    ):
        names = ", ".join(sorted({t.agent for t in trace})) or "none"
        notes.append(
            f"The trace has no requests of `{top.name}` (agents in it: {names}); log its requests with "
            f'"agent": "{top.name}" to see where its tokens go.'
        )
    if any(a.system_prompt_tokens == 0 for a in agents):
        notes.append(
            "System prompts are not counted by this audit (0 tokens): the per-request figures cover tool context only."
        )
    if candidates:
        notes.append(
            "The ROI counts the tool context of each request only (definitions and the tool-use prompt), so it is a "
            "lower bound: tool results that pass through the model on direct MCP are re-billed on every later request, "
            "and code mode keeps them in the sandbox."
        )
    metrics = _metrics(top, tok)
    return Plan(
        schema=PLAN_SCHEMA,
        repository=repo,
        tokenizer=tok,
        audit_source=audit_source,
        audit_schema=report.schema,
        code_mode_source=report.code_mode_source,
        requests_per_day=rpd,
        requests_per_day_source="--requests-per-day" if requests_per_day else "audit: requests_per_day",
        price_override=price,
        servers=report.servers,
        agents=agents,
        problems=report.problems,
        totals=report.totals,
        phases=_phases(agents, report, roi),
        sandbox=SANDBOX,
        monitoring=MONITORING,
        metrics=metrics,
        roi=roi,
        breakdown=_breakdown(top, trace, tok),
        summary=tuple(s for s in summary if s),
        trace_line=TRACE_LINE,
        notes=tuple(notes),
    )


def _metrics(top: AgentRow | None, tok: str) -> tuple[Metric, ...]:
    base = (
        f"{top.tool_context_tokens:,} tokens of tool context per request ({tok}); "
        f"projected {top.code_mode_tokens:,} ({top.reduction:.0%} less)"
        if top
        else "-"
    )
    return (
        Metric(
            "token reduction, (MCP - code) / MCP, billed input per task",
            f"> {TARGET_REDUCTION:.0f}%",
            base,
            f"cfmigrate measure before.jsonl after.jsonl --min-reduction {TARGET_REDUCTION:.0f}",
        ),
        Metric(
            "error rate (tasks with a failed request)",
            f"< {TARGET_ERROR_RATE:.0f}%",
            "from the week-1 log",
            f"cfmigrate measure before.jsonl after.jsonl --max-error-rate {TARGET_ERROR_RATE:.0f}",
        ),
        Metric(
            "latency per task, direct MCP / code mode",
            f"{TARGET_SPEEDUP:.0f}-5x faster",
            "from the week-1 log (latency_ms)",
            f"cfmigrate measure before.jsonl after.jsonl --min-speedup {TARGET_SPEEDUP:.0f}",
        ),
        Metric(
            "requests per task",
            "fewer than on direct MCP",
            f"{top.workflow.requests_before} per task in the audit ({basis_words(top.workflow)})"
            if top and top.workflow
            else "from the week-1 log",
            "cfmigrate measure before.jsonl after.jsonl",
        ),
        Metric(
            "monthly input cost of tool context",
            "the plan's after figure",
            f"{_money(top.monthly_before)} → {_money(top.monthly_after)} for `{top.name}`" if top else "-",
            "cfmigrate audit . --format json --output audit-after.json && cfmigrate measure audit.json audit-after.json",
        ),
        Metric(
            "wrappers match the servers",
            "no drift",
            "-",
            "cfmigrate generate --check",
        ),
    )


# --------------------------------------------------------------------------------------------------
# Charts: geometry computed here, the template only draws it


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str = "start"
    size: int = 12
    weight: str = "normal"
    fill: str = "#222"


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = "#ccc"
    dash: str = ""
    width: float = 1.0


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    caption: str
    width: int
    height: int
    rects: tuple[Rect, ...] = ()
    texts: tuple[Text, ...] = ()
    lines: tuple[Line, ...] = ()
    path: str = ""  # one polyline, for the savings curve
    area: str = ""
    dots: tuple[tuple[float, float, str], ...] = ()


BEFORE = "#c8553d"
AFTER = "#2a9d8f"
SEGMENT_COLOURS = ("#c8553d", "#e9a23b", "#6c8ebf", "#8d6a9f")


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 x 10^k) that splits `span` into about `target_ticks` parts."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def _short(n: float) -> str:
    a = abs(n)
    if a >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if a >= 1_000:
        return f"{n / 1_000:.1f}k".replace(".0k", "k")
    return f"{n:.0f}"


def _short_money(n: float) -> str:
    return ("-" if n < 0 else "") + "$" + _short(abs(n))


def tokens_chart(plan: Plan) -> Chart | None:
    """Tokens per request per agent, on direct MCP and on code mode."""
    rows = [a for a in plan.agents if a.tool_context_tokens or a.code_mode_tokens][:12]
    if not rows:
        return None
    label_w, right = 190, 90
    width = 760
    plot = width - label_w - right
    bar, gap, group = 16, 4, 52
    top = 34
    height = top + group * len(rows) + 10
    vmax: float = (
        max(
            max(a.tool_context_tokens, a.code_mode_tokens if a.migrate else a.tool_context_tokens)
            for a in rows
        )
        or 1
    )
    step = nice_step(vmax)
    vmax = math.ceil(vmax / step) * step
    rects: list[Rect] = []
    texts: list[Text] = [
        Text(label_w, 14, "direct MCP", size=12),
        Text(label_w + 110, 14, "code mode (projected)", size=12),
    ]
    rects += [
        Rect(label_w - 16, 4, 12, 12, BEFORE, "direct MCP"),
        Rect(label_w + 94, 4, 12, 12, AFTER, "code mode"),
    ]
    lines: list[Line] = []
    ticks = int(vmax / step)
    for i in range(ticks + 1):
        x = label_w + plot * i / ticks
        lines.append(Line(x, top - 6, x, height - 8, "#e3e3e3"))
        texts.append(Text(x, height, _short(step * i), anchor="middle", size=10, fill="#777"))
    for i, a in enumerate(rows):
        y = top + i * group
        after = a.code_mode_tokens if a.migrate else a.tool_context_tokens
        wb = plot * a.tool_context_tokens / vmax
        wa = plot * after / vmax
        name = a.name if len(a.name) <= 26 else a.name[:25] + "…"
        texts.append(Text(label_w - 8, y + bar + 2, name, anchor="end", size=12, weight="bold"))
        texts.append(
            Text(
                label_w - 8,
                y + bar + 16,
                a.decision_text if len(a.decision_text) < 30 else "move to code mode",
                anchor="end",
                size=10,
                fill="#666",
            )
        )
        rects.append(
            Rect(
                label_w,
                y,
                max(wb, 1.5),
                bar,
                BEFORE,
                f"{a.name}: {a.tool_context_tokens:,} tokens per request on direct MCP",
            )
        )
        rects.append(
            Rect(
                label_w,
                y + bar + gap,
                max(wa, 1.5),
                bar,
                AFTER if a.migrate else "#b5b5b5",
                f"{a.name}: {after:,} tokens per request after",
            )
        )
        texts.append(Text(label_w + max(wb, 1.5) + 6, y + bar - 3, f"{a.tool_context_tokens:,}", size=11))
        after_label = f"{after:,}" + (f"  (−{a.reduction:.0%})" if a.migrate else "  (stays on MCP)")
        texts.append(Text(label_w + max(wa, 1.5) + 6, y + 2 * bar + gap - 3, after_label, size=11))
    return Chart(
        "chart-tokens",
        "Tokens per request, per agent",
        f"Tool context sent with every request (definitions + tool-use prompt), before and after. {plan.tokenizer}.",
        width,
        height + 6,
        tuple(rects),
        tuple(texts),
        tuple(lines),
    )


def breakdown_chart(plan: Plan) -> Chart | None:
    """Where the input tokens go, on direct MCP and on code mode, for the first candidate."""
    b = plan.breakdown
    if b is None or not (b.before_total or b.after_total):
        return None
    width, label_w, right = 760, 120, 80
    plot = width - label_w - right
    vmax = max(b.before_total, b.after_total) or 1
    rects: list[Rect] = []
    texts: list[Text] = []
    bar = 30
    rows = (("direct MCP", b.before, 12), ("code mode", b.after, 12 + bar + 18))
    colour_of: dict[str, str] = {}
    for label, segments, y in rows:
        x = float(label_w)
        texts.append(Text(label_w - 8, y + bar / 2 + 4, label, anchor="end", size=12, weight="bold"))
        total = sum(s.tokens for s in segments)
        for s in segments:
            if s.tokens <= 0:
                continue
            colour = colour_of.setdefault(
                s.label,
                AFTER if label == "code mode" else SEGMENT_COLOURS[len(colour_of) % len(SEGMENT_COLOURS)],
            )
            w = plot * s.tokens / vmax
            rects.append(Rect(x, y, max(w, 1.5), bar, colour, f"{s.label}: {s.tokens:,} tokens ({s.source})"))
            x += max(w, 1.5)
        texts.append(Text(x + 6, y + bar / 2 + 4, f"{total:,}", size=12, weight="bold"))
    # legend, one row per segment with its value
    y = 12 + 2 * bar + 18 + 30
    for label, segments, _ in rows:
        for s in segments:
            if s.tokens <= 0 or s.label not in colour_of:
                continue
            rects.append(Rect(label_w, y - 10, 12, 12, colour_of[s.label], s.label))
            texts.append(Text(label_w + 18, y, f"{s.label} — {s.tokens:,} ({label})", size=11))
            y += 18
    return Chart(
        "chart-breakdown",
        f"Where the input tokens go: `{b.agent}`, {b.unit}",
        f"{b.note} Token counts: {plan.tokenizer}.",
        width,
        int(y),
        tuple(rects),
        tuple(texts),
    )


def savings_chart(plan: Plan, weeks: int = 52) -> Chart | None:
    """Cumulative net savings over the first year, with the sandbox cost and the go-live dates marked."""
    roi = plan.roi
    if not roi.lines:
        return None
    days = weeks * 7
    cum = roi.cumulative(days)
    points = [0.0] + [cum[7 * w - 1] for w in range(1, weeks + 1)]
    width, height = 760, 300
    left, right, top, bottom = 70, 20, 20, 40
    pw, ph = width - left - right, height - top - bottom
    lo, hi = min(0.0, *points), max(0.0, *points)
    step = nice_step(hi - lo or 1.0)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step if hi > 0 else step
    if hi == lo:
        hi = lo + step

    def px(week: float) -> float:
        return left + pw * week / weeks

    def py(v: float) -> float:
        return top + ph * (hi - v) / (hi - lo)

    lines: list[Line] = []
    texts: list[Text] = []
    v = lo
    while v <= hi + step / 2:
        lines.append(
            Line(
                left,
                py(v),
                width - right,
                py(v),
                "#999" if abs(v) < step / 2 else "#e3e3e3",
                width=1.2 if abs(v) < step / 2 else 1.0,
            )
        )
        texts.append(Text(left - 6, py(v) + 4, _short_money(v), anchor="end", size=10, fill="#777"))
        v += step
    for w in range(0, weeks + 1, 4):
        texts.append(
            Text(
                px(w),
                height - bottom + 16,
                f"wk {w}" if w else "start",
                anchor="middle",
                size=10,
                fill="#777",
            )
        )
    markers = [
        (SANDBOX_FROM_DAY / 7, "sandbox from week 2"),
        ((roi.first_live_day or FIRST_LIVE_DAY) / 7, "first agent live, week 7"),
    ]
    if any(line.live_from_day == ROLLOUT_LIVE_DAY for line in roi.lines):
        markers.append((ROLLOUT_LIVE_DAY / 7, "rollout done, week 9"))
    for i, (wk, label) in enumerate(markers):
        lines.append(Line(px(wk), top, px(wk), top + ph, "#888", dash="4 3"))
        texts.append(Text(px(wk) + 4, top + 12 + 14 * i, label, size=10, fill="#555"))
    coords = [(px(i), py(p)) for i, p in enumerate(points)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"{px(0):.1f},{py(0):.1f} " + path + f" {px(weeks):.1f},{py(0):.1f}"
    dots: list[tuple[float, float, str]] = []
    if roi.payback_day and roi.payback_day <= days:
        d = roi.payback_day
        x, y = px(d / 7), py(cum[d - 1])
        dots.append((x, y, f"paid back on {_weeks_and_days(d)}"))
        texts.append(Text(x + 8, y + 16, f"paid back: day {d}", size=11, weight="bold", fill="#1d6f65"))
    end = points[-1]
    texts.append(
        Text(
            px(weeks) - 4,
            py(end) - 8,
            f"{_money(end)} after {weeks} weeks",
            anchor="end",
            size=12,
            weight="bold",
            fill="#1d6f65" if end >= 0 else BEFORE,
        )
    )
    return Chart(
        "chart-savings",
        "Savings over time",
        (
            f"Cumulative input-token savings minus {_money(roi.sandbox_per_month)} a month for the sandbox"
            + (f" and a one-off {_money(roi.one_off_cost)}" if roi.one_off_cost else "")
            + f", at {plan.requests_per_day:,} requests a day per agent."
        ),
        width,
        height,
        (),
        tuple(texts),
        tuple(lines),
        path,
        area,
        tuple(dots),
    )


# --------------------------------------------------------------------------------------------------
# Rendering


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("cfmigrate.templates", ""),
        autoescape=select_autoescape(
            enabled_extensions=("html.jinja",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = _money
    env.filters["pct"] = lambda v: f"{v:.0%}"
    env.filters["pct1"] = lambda v: f"{v:.1%}"
    env.filters["n"] = lambda v: f"{v:,}" if isinstance(v, int) else f"{v:,.1f}"
    env.filters["cell"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    env.filters["codeify"] = _codeify
    env.filters["day"] = _weeks_and_days
    return env


def _codeify(text: str) -> Any:
    """HTML-escape text and turn `backticked` parts into <code> elements."""
    from markupsafe import Markup, escape

    parts = str(escape(text)).split("`")
    out = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return Markup(out)


def _context(plan: Plan) -> dict[str, Any]:
    return {
        "plan": plan,
        "roi": plan.roi,
        "any_traced": any(a.overhead_ratio_basis.startswith("from the trace") for a in plan.agents),
        "any_unmeasured": any(a.overhead_ratio is None for a in plan.agents),
        "charts": [
            c for c in (tokens_chart(plan), breakdown_chart(plan), savings_chart(plan)) if c is not None
        ],
        "decision_text": DECISION_TEXT,
        "first_live_day": FIRST_LIVE_DAY,
        "rollout_live_day": ROLLOUT_LIVE_DAY,
        "sandbox_from_day": SANDBOX_FROM_DAY,
        "days_per_month": DAYS_PER_MONTH,
        "months_per_year": MONTHS_PER_YEAR,
    }


def render_markdown(plan: Plan) -> str:
    """The plan as Markdown, for a pull request, a wiki page or an e-mail."""
    text: str = _env().get_template("plan/plan.md.jinja").render(**_context(plan))
    return re.sub(r"\n{3,}", "\n\n", text)


def render_html(plan: Plan) -> str:
    """The plan as one self-contained HTML page with inline SVG charts (no scripts, no external assets)."""
    text: str = _env().get_template("plan/plan.html.jinja").render(**_context(plan))
    return text


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON (schema `cfmigrate.plan/1`): every figure, with the ROI's derived values."""
    data = asdict(plan)
    roi = plan.roi
    data["roi"].update(
        daily_before=round(roi.daily_before, 2),
        daily_after=round(roi.daily_after, 2),
        monthly_before=round(roi.monthly_before, 2),
        monthly_after=round(roi.monthly_after, 2),
        monthly_savings=round(roi.monthly_savings, 2),
        monthly_net=round(roi.monthly_net, 2),
        yearly_net=round(roi.yearly_net, 2),
        payback_day=roi.payback_day,
        break_even_requests_per_day=roi.break_even_requests_per_day,
    )
    for problem, p in zip(data["problems"], plan.problems, strict=True):
        problem["source"] = str(p.source) if p.source else None
    if plan.breakdown is not None:
        data["breakdown"]["before_total"] = plan.breakdown.before_total
        data["breakdown"]["after_total"] = plan.breakdown.after_total
    return data


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
