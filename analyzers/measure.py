"""Turn an Inventory into figures: what tool schemas cost per tool, server and agent, the projection
onto code mode, the decision per agent, and the money.

Every figure carries the label of the tokenizer that produced it; nothing here touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from cfmigrate.analyzers import pricing
from cfmigrate.analyzers.model import Agent, Inventory, Manifest, Problem, ServerSpec, SourceRef, ToolDef
from cfmigrate.analyzers.tokens import Provider, Tokenizer, tool_cost

REPORT_SCHEMA = "cfmigrate.audit/1"
DAYS_PER_MONTH = 30

Decision = Literal["keep-mcp", "code-first", "hybrid", "already-code-mode", "unknown"]
Threshold = Literal["manageable", "degradation begins", "serious", "architectural crisis"]

# Servers whose value is formal, step-by-step validation (browser automation tests): keep them on MCP.
VALIDATION_PACKAGES = ("@playwright/mcp", "@executeautomation/playwright-mcp-server", "puppeteer")


LATENCY_DEFINITION = (
    "latency per task: wall time from the agent's start to its final answer; "
    "speed-up = before / after, shown as 'N.NNx faster' or 'N.NNx slower'"
)


def describe_speed(before_ms: float | None, after_ms: float | None) -> str:
    """'3.10x faster' / '1.20x slower' from two latencies per task (the one definition `measure`,
    the benchmarks and the README use; the ratio is computed once, from the latencies themselves)."""
    if not before_ms or not after_ms:
        return "-"
    if abs(before_ms - after_ms) < 0.0005 * before_ms:
        return "same"
    if before_ms > after_ms:
        return f"{before_ms / after_ms:.2f}x faster"
    return f"{after_ms / before_ms:.2f}x slower"


def threshold(tool_count: int) -> Threshold:
    """The MISSION's tool-count bands: < 10, 10-20, 20-40, 40+."""
    if tool_count < 10:
        return "manageable"
    if tool_count <= 20:
        return "degradation begins"
    if tool_count <= 40:
        return "serious"
    return "architectural crisis"


@dataclass(frozen=True)
class CodeModeCosts:
    """What the model reads on code mode (from the generator and the runtime), in the audit's tokenizer.

    fixed: the code-first system prompt plus the one execute-code tool definition, per request.
    tool_doc: (server, tool) -> tokens of that tool's generated module (what reading it costs).
    server_index: server -> tokens of that server's generated index.
    """

    fixed: int
    tool_doc: Mapping[tuple[str, str], int] = field(default_factory=dict)
    server_index: Mapping[str, int] = field(default_factory=dict)
    source: str = ""
    problems: tuple[Problem, ...] = ()  # servers whose package could not be rendered (priced as today)


@dataclass(frozen=True)
class ToolFigure:
    server: str
    tool: str
    tokens: int
    description_tokens: int
    schema_tokens: int


@dataclass(frozen=True)
class ServerFigure:
    name: str
    status: Literal["known", "unknown"]
    transport: str
    source: str
    manifest: str | None  # provenance label, e.g. "catalog, server version 0.6.2"
    tool_count: int | None
    tokens: int | None  # all tool definitions, in the report's provider rendering
    description_tokens: int | None
    tools: tuple[ToolFigure, ...] = ()
    package: str | None = None
    note: str = ""


@dataclass(frozen=True)
class WorkflowFigure:
    """Billed input over one task: the sum over requests of the context at each request."""

    basis: str  # "literal call sequence (lower bound: tool results not visible)" or "trace FILE"
    calls: int
    requests_before: int
    billed_before: int
    requests_after: int
    billed_after: int

    @property
    def reduction(self) -> float:
        return (
            0.0 if not self.billed_before else (self.billed_before - self.billed_after) / self.billed_before
        )


@dataclass(frozen=True)
class AgentFigure:
    name: str
    source: str
    framework: str
    provider: str
    model: str | None
    servers: tuple[str, ...]
    servers_basis: (
        str  # "static", "all servers of the config it loads", "assumed: every configured server", "none"
    )
    unknown_servers: tuple[str, ...]
    tool_count: int
    threshold: Threshold
    definition_tokens: int
    overhead_tokens: int
    overhead_note: str
    system_prompt_tokens: int
    per_request_tokens: int  # definitions + overhead + system prompt, before the user's question
    code_mode_tokens: (
        int  # projected tool context: code-first prompt + execute tool + docs read + tool-use prompt
    )
    reduction: float
    decision: Decision
    reasons: tuple[str, ...]
    price_per_mtok: float
    price_source: str
    monthly_cost_before: float
    monthly_cost_after: float
    monthly_waste: float
    code_mode: bool
    workflow: WorkflowFigure | None = None
    tool_sequence: tuple[str, ...] = ()
    code_mode_per_request_tokens: int = (
        0  # code_mode_tokens + the agent's own system prompt (migrate keeps it)
    )


@dataclass(frozen=True)
class AuditReport:
    schema: str
    root: str
    tokenizer: str
    provider: str
    requests_per_day: int
    code_mode_source: str
    servers: tuple[ServerFigure, ...]
    agents: tuple[AgentFigure, ...]
    problems: tuple[Problem, ...]
    files_scanned: int
    totals: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The documented, versioned JSON form (schema `cfmigrate.audit/1`)."""
        data = asdict(self)
        for agent, fig in zip(data["agents"], self.agents, strict=True):
            if fig.workflow is not None:
                agent["workflow"]["reduction"] = round(fig.workflow.reduction, 4)
        for problem, p in zip(data["problems"], self.problems, strict=True):
            problem["source"] = str(p.source) if p.source else None
        return data


def _figures_for(
    manifest: Manifest, spec: ServerSpec | None, provider: Provider, tok: Tokenizer
) -> ServerFigure:
    allowed = set(spec.tool_filter) if spec and spec.tool_filter else None
    tools = [t for t in manifest.tools if allowed is None or t.name in allowed]
    figs = []
    for t in sorted(tools, key=lambda t: t.name):
        c = tool_cost(t, provider, tok)
        figs.append(ToolFigure(manifest.server, t.name, c.total, c.description, c.schema))
    note = f"tool_filter keeps {len(tools)} of {len(manifest.tools)}" if allowed is not None else ""
    return ServerFigure(
        name=manifest.server,
        status="known",
        transport=spec.transport if spec else "unknown",
        source=str(spec.source) if spec else str(manifest.source or ""),
        manifest=manifest.label(),
        tool_count=len(figs),
        tokens=sum(f.tokens for f in figs),
        description_tokens=sum(f.description_tokens for f in figs),
        tools=tuple(figs),
        package=(spec.package if spec else None) or manifest.package,
        note=note,
    )


def measure_servers(inv: Inventory, provider: Provider, tok: Tokenizer) -> tuple[ServerFigure, ...]:
    """One figure per server: configured servers, plus servers known only from a manifest or from code."""
    out: list[ServerFigure] = []
    seen: set[str] = set()
    for spec in inv.servers:
        if spec.name in seen:
            continue
        seen.add(spec.name)
        m = inv.manifest(spec.name)
        if m is not None:
            out.append(_figures_for(m, spec, provider, tok))
        else:
            out.append(
                ServerFigure(
                    name=spec.name,
                    status="unknown",
                    transport=spec.transport,
                    source=str(spec.source),
                    manifest=None,
                    tool_count=None,
                    tokens=None,
                    description_tokens=None,
                    package=spec.package,
                    note="tools unknown — run with --connect",
                )
            )
    for m in inv.manifests:
        if m.server not in seen:
            seen.add(m.server)
            out.append(_figures_for(m, None, provider, tok))
    return tuple(sorted(out, key=lambda s: s.name))


def _agent_servers(agent: Agent, inv: Inventory) -> tuple[tuple[str, ...], str]:
    configured = tuple(sorted({s.name for s in inv.servers if not s.disabled}))
    if agent.servers:
        return tuple(sorted(set(agent.servers))), "static"
    if agent.all_servers:
        return configured, "all servers of the config it loads"
    if agent.code_mode or not configured:
        return (), "none"
    return configured, "assumed: every configured server (not statically knowable)"


def _decide(
    agent: Agent, servers: Sequence[ServerFigure], tool_count: int, reduction: float
) -> tuple[Decision, tuple[str, ...]]:
    """The MISSION's decision framework, applied to what the audit can see."""
    if agent.code_mode:
        return "already-code-mode", ("already runs model-written code against a code interface",)
    if not servers:
        return "unknown", ("no MCP server could be linked to this agent",)
    if any(s.status == "unknown" for s in servers) and tool_count == 0:
        return "unknown", ("tools of its servers are unknown — run `cfmigrate audit --connect`",)
    validation = [s.name for s in servers if s.package and s.package.startswith(VALIDATION_PACKAGES)]
    steps = len(agent.tool_sequence)
    reasons: list[str] = []
    if validation and len(validation) == len(servers):
        return "keep-mcp", (
            f"browser automation / formal validation server ({', '.join(validation)}): step-by-step tool calls are the point",
        )
    if tool_count < 20:
        reasons.append(f"{tool_count} tools (< 20): schema overhead is modest")
        if len(servers) == 1:
            reasons.append("one server: a contained toolset")
        if steps > 3:
            reasons.append(f"but {steps} tool calls in one flow: consider code mode for that workflow")
        return "keep-mcp", tuple(reasons)
    reasons.append(f"{tool_count} tools (> 20): {threshold(tool_count)}")
    reasons.append(f"code mode would cut per-request definitions by {reduction:.0%}")
    if steps > 3:
        reasons.append(f"multi-step: {steps} literal tool calls in sequence")
    if validation:
        reasons.append(f"keep {', '.join(validation)} on direct MCP (formal validation)")
    if len(servers) > 1:
        reasons.append(f"{len(servers)} MCP servers: keep MCP as the transport under a code interface")
        return "hybrid", tuple(reasons)
    return "code-first", tuple(reasons)


def decide_agent(agent: Agent, inv: Inventory) -> tuple[Decision, tuple[str, ...], int]:
    """The audit's decision for one agent from tool counts alone (no tokenizer): (decision, reasons, tool count).

    Same servers and `_decide` as `measure`; the token-reduction reason of a code-first or hybrid
    decision is left out, since no tokens are counted here.
    """
    names, _ = _agent_servers(agent, inv)
    figs: list[ServerFigure] = []
    for name in names:
        spec = next((s for s in inv.servers if s.name == name), None)
        manifest = inv.manifest(name)
        if spec is None and manifest is None:
            continue
        count: int | None = None
        if manifest is not None:
            allowed = set(spec.tool_filter) if spec and spec.tool_filter else None
            count = sum(1 for t in manifest.tools if allowed is None or t.name in allowed)
        figs.append(
            ServerFigure(
                name=name,
                status="known" if manifest is not None else "unknown",
                transport=spec.transport if spec else "unknown",
                source=str(spec.source) if spec else str(manifest.source or "") if manifest else "",
                manifest=manifest.label() if manifest else None,
                tool_count=count,
                tokens=None,
                description_tokens=None,
                package=(spec.package if spec else None) or (manifest.package if manifest else None),
            )
        )
    tool_count = sum(f.tool_count or 0 for f in figs)
    decision, reasons = _decide(agent, figs, tool_count, 0.0)
    return decision, tuple(r for r in reasons if not r.startswith("code mode would cut")), tool_count


def _code_mode_tokens(servers: Sequence[ServerFigure], agent: Agent, costs: CodeModeCosts) -> int:
    """Per-request context on code mode: fixed prompt + the docs the agent has to read once."""
    docs = 0
    used = set(agent.tool_sequence)
    for s in servers:
        names = {t.tool for t in s.tools}
        hits = sorted(used & names)
        if s.tools and s.name not in costs.server_index:  # no package could be rendered: no saving claimed
            docs += s.tokens or 0
        elif hits:
            docs += sum(costs.tool_doc.get((s.name, t), 0) for t in hits)
        else:
            docs += costs.server_index.get(s.name, 0)
    return costs.fixed + docs


def _workflow(calls: int, before_per_request: int, after_per_request: int, fixed: int) -> WorkflowFigure:
    """Sum over requests, counting only what is statically known (definitions, prompts, docs read)."""
    requests_before = calls + 1
    requests_after = 3  # discover/read docs, run the script, answer
    return WorkflowFigure(
        basis="literal call sequence; lower bound (tool results are not visible statically — use --trace)",
        calls=calls,
        requests_before=requests_before,
        billed_before=requests_before * before_per_request,
        requests_after=requests_after,
        billed_after=fixed + 2 * after_per_request,
    )


def load_trace(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Read a JSONL trace of logged model requests (`usage.input_tokens` per line), grouped by task id.

    Each line: {"task": "<id>", "agent": "<name>"?, "usage": {"input_tokens": N, "output_tokens": M}, ...};
    a line without a task id is a task of its own. Raises ValueError naming the file and line.
    """
    tasks: dict[str, list[dict[str, Any]]] = {}
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            usage = rec["usage"]
            int(usage["input_tokens"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{no}: not a request record with usage.input_tokens ({exc})") from None
        task = rec.get("task")
        tasks.setdefault(str(task) if task is not None else f"#line{no}", []).append(rec)
    if not tasks:
        raise ValueError(f"{path}: no request records")
    return tasks


def _trace_workflow(
    trace: Mapping[str, list[dict[str, Any]]], after_per_request: int, fixed: int, name: str
) -> WorkflowFigure | None:
    chosen = {t: [r for r in recs if r.get("agent") in (None, name)] for t, recs in trace.items()}
    recs = [r for rs in chosen.values() for r in rs]
    if not recs:
        return None
    tasks = max(1, sum(1 for rs in chosen.values() if rs))
    billed = sum(int(r["usage"]["input_tokens"]) for r in recs) // tasks
    calls = sum(int(r.get("tool_calls", 0)) for r in recs) // tasks
    return WorkflowFigure(
        basis=f"trace: {len(recs)} logged requests over {tasks} task(s), mean per task",
        calls=calls,
        requests_before=round(len(recs) / tasks),
        billed_before=billed,
        requests_after=3,
        billed_after=fixed + 2 * after_per_request,
    )


def measure(
    inv: Inventory,
    tok: Tokenizer,
    costs: CodeModeCosts,
    *,
    provider: Provider | None = None,
    model: str | None = None,
    price: float | None = None,
    price_source: str = "--price",
    requests_per_day: int = pricing.DEFAULT_REQUESTS_PER_DAY,
    trace: Mapping[str, list[dict[str, Any]]] | None = None,
    count_system: Callable[[Agent], int] | None = None,
) -> AuditReport:
    """Figures for every server and agent of the inventory."""
    report_provider: Provider = provider or "anthropic"
    servers = measure_servers(inv, report_provider, tok)
    by_name = {s.name: s for s in servers}
    agents: list[AgentFigure] = []
    for agent in inv.agents:
        a_provider: Provider = provider or ("openai" if agent.provider == "openai" else "anthropic")
        names, basis = _agent_servers(agent, inv)
        figs = (
            [by_name[n] for n in names if n in by_name]
            if a_provider == report_provider
            else list(measure_servers(_restrict(inv, names), a_provider, tok))
        )
        unknown = tuple(sorted(n for n in names if n not in by_name or by_name[n].status == "unknown"))
        tool_count = sum(f.tool_count or 0 for f in figs)
        # An agent already on code mode sends no tool schemas: its context is the code-mode one.
        definitions = 0 if agent.code_mode else sum(f.tokens or 0 for f in figs)
        a_model = model or agent.model
        # The provider's fixed tool-use prompt is sent whenever tools are: with every tool schema
        # today, and with the one execute-code tool on code mode.
        code_overhead = pricing.tool_use_overhead(a_model, a_provider)
        overhead = (
            code_overhead
            if tool_count or agent.code_mode
            else pricing.Overhead(0, "tools unknown" if unknown else "no tools sent")
        )
        system_tokens = count_system(agent) if count_system else 0
        code_tokens = _code_mode_tokens(figs, agent, costs) + (code_overhead.tokens or 0)
        direct_now = code_tokens if agent.code_mode else definitions + (overhead.tokens or 0)
        per_request = direct_now + system_tokens
        reduction = 0.0 if not direct_now else max(0.0, (direct_now - code_tokens) / direct_now)
        decision, reasons = _decide(agent, figs, tool_count, reduction)
        p = pricing.input_price(a_model, price, price_source)
        month = requests_per_day * DAYS_PER_MONTH / 1_000_000 * p.per_mtok
        after = code_tokens if decision in ("code-first", "hybrid") else direct_now
        workflow = None
        if trace is not None:
            workflow = _trace_workflow(trace, code_tokens + system_tokens, costs.fixed, agent.name)
        elif agent.tool_sequence and not agent.code_mode:
            workflow = _workflow(
                len(agent.tool_sequence), per_request, code_tokens + system_tokens, costs.fixed
            )
        agents.append(
            AgentFigure(
                name=agent.name,
                source=str(agent.source),
                framework=agent.framework,
                provider=a_provider,
                model=a_model,
                servers=names,
                servers_basis=basis,
                unknown_servers=unknown,
                tool_count=tool_count,
                threshold=threshold(tool_count),
                definition_tokens=definitions,
                overhead_tokens=overhead.tokens or 0,
                overhead_note=overhead.note,
                system_prompt_tokens=system_tokens,
                per_request_tokens=per_request,
                code_mode_tokens=code_tokens,
                code_mode_per_request_tokens=code_tokens + system_tokens,
                reduction=round(reduction, 4),
                decision=decision,
                reasons=reasons,
                price_per_mtok=p.per_mtok,
                price_source=p.source,
                monthly_cost_before=round(direct_now * month, 2),
                monthly_cost_after=round(after * month, 2),
                monthly_waste=round(max(0, direct_now - after) * month, 2),
                code_mode=agent.code_mode,
                workflow=workflow,
                tool_sequence=agent.tool_sequence,
            )
        )
    agents.sort(key=lambda a: (-a.monthly_waste, a.name))
    extra: list[Problem] = []
    if trace is not None and agents and all(a.workflow is None for a in agents):
        named = sorted(
            {str(r["agent"]) for recs in trace.values() for r in recs if r.get("agent") is not None}
        )
        extra.append(
            Problem(
                "warning",
                "the trace has no requests for any agent found in the code (trace agents: "
                + (", ".join(named[:5]) or "none")
                + f"; agents here: {', '.join(a.name for a in agents[:5])})",
                hint="set each record's `agent` to the agent's name as the audit reports it, or leave it out",
            )
        )
    known = [s for s in servers if s.status == "known"]
    totals = {
        "servers": len(servers),
        "servers_unknown": len(servers) - len(known),
        "tools": sum(s.tool_count or 0 for s in known),
        "definition_tokens": sum(s.tokens or 0 for s in known),
        "agents": len(agents),
        "agents_to_migrate": sum(1 for a in agents if a.decision in ("code-first", "hybrid")),
        "monthly_cost_before": round(sum(a.monthly_cost_before for a in agents), 2),
        "monthly_cost_after": round(sum(a.monthly_cost_after for a in agents), 2),
        "monthly_waste": round(sum(a.monthly_waste for a in agents), 2),
        "max_per_request_tokens": max((a.per_request_tokens for a in agents), default=0),
    }
    return AuditReport(
        schema=REPORT_SCHEMA,
        root=inv.root,
        tokenizer=tok.label,
        provider=report_provider,
        requests_per_day=requests_per_day,
        code_mode_source=costs.source,
        servers=servers,
        agents=tuple(agents),
        problems=inv.problems + costs.problems + tuple(extra),
        files_scanned=inv.files_scanned,
        totals=totals,
    )


def _restrict(inv: Inventory, names: Sequence[str]) -> Inventory:
    keep = set(names)
    return Inventory(
        root=inv.root,
        servers=tuple(s for s in inv.servers if s.name in keep),
        manifests=tuple(m for m in inv.manifests if m.server in keep),
    )


def tools_of(inv: Inventory, servers: Sequence[str]) -> list[tuple[str, ToolDef]]:
    """Every (server, tool) pair the named servers expose, honouring tool filters."""
    out: list[tuple[str, ToolDef]] = []
    for name in servers:
        m = inv.manifest(name)
        spec = inv.server(name)
        if m is None:
            continue
        allowed = set(spec.tool_filter) if spec and spec.tool_filter else None
        out.extend((name, t) for t in m.tools if allowed is None or t.name in allowed)
    return out


def source_ref(text: str) -> SourceRef:
    path, _, line = text.rpartition(":")
    return SourceRef(path, int(line)) if path and line.isdigit() else SourceRef(text)
