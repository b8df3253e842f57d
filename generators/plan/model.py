"""The plan's data: the calendar and targets it assumes, the ROI arithmetic, and the frozen records
build_plan fills and the renderers read."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cfmigrate.analyzers.clients import ClientFigure
from cfmigrate.analyzers.measure import DAYS_PER_MONTH, ServerFigure, WorkflowFigure
from cfmigrate.analyzers.model import Problem

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
    tool_count: int | None  # None: the audit could not count its tools (unknown stays unknown)
    threshold: str | None
    definition_tokens: int | None
    overhead_tokens: int | None
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
    clients: tuple[
        ClientFigure, ...
    ] = ()  # config-only agents and their gateway path (the audit's `clients`)

    @property
    def candidates(self) -> tuple[AgentRow, ...]:
        return tuple(a for a in self.agents if a.migrate)

    @property
    def kept(self) -> tuple[AgentRow, ...]:
        return tuple(a for a in self.agents if a.decision == "keep-mcp")

    @property
    def top(self) -> AgentRow | None:
        return self.candidates[0] if self.candidates else None


def money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def weeks_and_days(day: int) -> str:
    week = (day - 1) // 7 + 1
    return f"day {day} (week {week})"
