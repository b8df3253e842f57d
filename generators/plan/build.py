"""Build a Plan from an audit: rank the agents, compute the ROI, split a trace into where the tokens go."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from cfmigrate.analyzers.clients import INSTALL_NAMES, ClientFigure
from cfmigrate.analyzers.compare import Task
from cfmigrate.analyzers.measure import DAYS_PER_MONTH, AgentFigure, AuditReport
from cfmigrate.generators.plan.model import (
    DECISION_TEXT,
    DEFAULT_SANDBOX_PER_MONTH,
    FIRST_LIVE_DAY,
    MIGRATE,
    PLAN_SCHEMA,
    ROLLOUT_LIVE_DAY,
    TARGET_ERROR_RATE,
    TARGET_REDUCTION,
    TARGET_SPEEDUP,
    AgentRow,
    Breakdown,
    Metric,
    Plan,
    Roi,
    RoiLine,
    Segment,
    daily_cost,
    money,
    weeks_and_days,
)
from cfmigrate.generators.plan.phases import (
    MONITORING,
    SANDBOX,
    TRACE_LINE,
    basis_words,
    build_phases,
    file_of,
    workflow_text,
)


def _ratio(part: int, whole: int) -> float:
    return 0.0 if whole <= 0 else part / whole


def priced(a: AgentFigure, price: float | None) -> bool:
    """Whether every figure the plan needs for this agent is known (nothing is filled in)."""
    return (
        a.tool_context_tokens is not None
        and a.per_request_tokens is not None
        and a.code_mode_tokens is not None
        and a.reduction is not None
        and (price is not None or a.price_per_mtok is not None)
    ) or (
        a.decision == "already-code-mode"
        and a.code_mode_tokens is not None
        and (price is not None or a.price_per_mtok is not None)
    )


def _rows(report: AuditReport, requests_per_day: int, price: float | None) -> tuple[AgentRow, ...]:
    """One row per agent whose figures are all known; the others are left out (and counted)."""
    rows: list[AgentRow] = []
    for index, a in enumerate(report.agents):
        if not priced(a, price):
            continue
        assert a.tool_context_tokens is not None and a.per_request_tokens is not None
        assert a.code_mode_tokens is not None
        context = a.tool_context_tokens  # the tool context the audit prices (the one "cut" base)
        per_mtok = a.price_per_mtok if price is None else price
        assert per_mtok is not None
        price_source = a.price_source if price is None else "--price"
        migrate = a.decision in MIGRATE
        after = a.code_mode_tokens if migrate else context
        month = DAYS_PER_MONTH
        w = a.workflow
        ratio: float | None
        if w is not None and w.before_basis.startswith("measured") and w.billed_before > 0:
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
                reduction=a.reduction or 0.0,
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
                (f"The heaviest, `{worst.name}`," if n_agents > 1 else f"`{worst.name}` ({file_of(worst)})")
                + (
                    f" sends {worst.tool_count} tool definitions costing "
                    if worst.tool_count is not None
                    else " sends tool definitions (how many is unknown) costing "
                )
                + f"{worst.tool_context_tokens:,} tokens with every request, before the question is read ({tok})."
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
            f"{len(candidates)} agent{'s' if len(candidates) != 1 else ''} saves {money(roi.monthly_savings)} a month; "
            f"after {money(roi.sandbox_per_month)} a month for the sandbox that is {money(roi.monthly_net)} a month "
            f"({money(roi.yearly_net)} a year)."
            + (
                f" The {'sandbox and the one-off cost are' if roi.one_off_cost else 'sandbox cost is'} earned back on {weeks_and_days(roi.payback_day)}."
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
    summary += [client_sentence(c) for c in report.clients]
    kept = [a for a in agents if a.decision == "keep-mcp"]
    if kept and top is not None:
        summary.append("Stay on direct MCP: " + ", ".join(f"`{a.name}`" for a in kept) + ".")
    notes: list[str] = []
    left_out = len(report.agents) - len(agents)
    if left_out:
        notes.append(
            f"{left_out} of {len(report.agents)} agents are left out of this plan and its money: their "
            "servers, tools or price are unknown (see `cfmigrate audit`; --connect or --price fill them in)"
        )
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
        phases=build_phases(agents, report, roi),
        sandbox=SANDBOX,
        monitoring=MONITORING,
        metrics=metrics,
        roi=roi,
        breakdown=_breakdown(top, trace, tok),
        summary=tuple(s for s in summary if s),
        trace_line=TRACE_LINE,
        notes=tuple(notes),
        clients=report.clients,
    )


def client_sentence(c: ClientFigure) -> str:
    """One summary line for a config-only agent: what it loads per request, and with the gateway."""
    name = INSTALL_NAMES.get(c.client)
    loads = (
        f"{c.label} loads `{c.config}` ({', '.join(c.servers)}): "
        + (
            f"{c.tool_count:,} tool definitions, {c.tokens_before:,} tokens with every request"
            if c.tokens_before is not None and c.tool_count is not None
            else f"tool definitions of unknown size (tools unknown for {', '.join(c.unknown_servers)})"
        )
        + ", and no Python code to migrate."
    )
    if c.tokens_with_gateway is None:
        return f"{loads} With the `cfmigrate serve` gateway: unknown ({c.note})."
    gateway = f"{c.tokens_with_gateway:,} tokens ({c.gateway_tool_count} tools"
    gateway += f", {', '.join(c.direct)} kept direct)" if c.direct else ")"
    more = c.reduction is not None and c.reduction < 0
    cut = (
        f", {-c.reduction:.0%} more"
        if more
        else (f", {c.reduction:.0%} less" if c.reduction is not None else "")
    )
    if c.installed:
        return f"{loads} It already points at the `cfmigrate serve` gateway: {gateway}{cut}."
    if more:
        return f"{loads} Behind the `cfmigrate serve` gateway it would send {gateway}{cut}: keep it as it is."
    how = f" `cfmigrate serve --install {name}` does it." if name else ""
    return f"{loads} Behind the `cfmigrate serve` gateway it would send {gateway}{cut}.{how}"


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
            f"{money(top.monthly_before)} → {money(top.monthly_after)} for `{top.name}`" if top else "-",
            "cfmigrate audit . --format json --output audit-after.json && cfmigrate measure audit.json audit-after.json",
        ),
        Metric(
            "wrappers match the servers",
            "no drift",
            "-",
            "cfmigrate generate --check",
        ),
    )
