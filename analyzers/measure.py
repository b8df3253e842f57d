"""Turn an Inventory into figures: what tool schemas cost per tool, server and agent, the projection
onto code mode, the decision per agent, and the money.

Every figure carries the label of the tokenizer that produced it; nothing here touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from cfmigrate.analyzers import pricing
from cfmigrate.analyzers.clients import ClientFigure, GatewayList, client_figures
from cfmigrate.analyzers.model import Agent, Inventory, Manifest, Problem, ServerSpec, SourceRef, ToolDef
from cfmigrate.analyzers.tokens import Provider, Tokenizer, tool_cost

REPORT_SCHEMA = "cfmigrate.audit/1"
DAYS_PER_MONTH = 30

Decision = Literal["keep-mcp", "code-first", "hybrid", "already-code-mode", "unknown"]
Threshold = Literal["manageable", "degradation begins", "serious", "architectural crisis", "on code mode"]

# Anthropic's tool search tool, the one definition sent in place of deferred tools: "~500 tokens"
# per Anthropic's "Introducing advanced tool use" (anthropic.com/engineering/advanced-tool-use, 2025-11-24).
TOOL_SEARCH_TOKENS = 500
TOOL_SEARCH_SOURCE = 'Anthropic, "Introducing advanced tool use" (2025-11-24): tool search tool ~500 tokens'


class ExactTools(Protocol):
    """Exact tool-definition counts by subtraction (Anthropic's count_tokens): see analyzers.anthropic_count."""

    @property
    def label(self) -> str: ...

    def tools(self, tools: Sequence[ToolDef]) -> Any:
        """An object with `total` (count(with) - count(without)) and `per_tool` (marginals by name)."""
        ...

    def tool_set_total(self, tools: Sequence[ToolDef]) -> int: ...


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
    includes_tool_prompt: bool = False  # `fixed` was measured with the tool-use prompt (exact mode)


@dataclass(frozen=True)
class ToolFigure:
    server: str
    tool: str
    tokens: int  # the tool's definition; in exact mode its marginal cost within its server's set
    description_tokens: int | None  # None in exact mode (not counted: a description has no marginal)
    schema_tokens: int | None


@dataclass(frozen=True)
class ServerFigure:
    name: str
    status: Literal["known", "unknown"]
    transport: str
    source: str
    manifest: str | None  # provenance label, e.g. "catalog, server version 0.6.2"
    tool_count: int | None
    tokens: int | None  # all tool definitions, in the report's provider rendering (exact: sum of marginals)
    description_tokens: int | None
    tools: tuple[ToolFigure, ...] = ()
    package: str | None = None
    note: str = ""
    # exact mode only: count(with the server's tools) - count(without), and what no single tool
    # accounts for (Anthropic's tool-use prompt, as measured): measured_tokens = tokens + preamble
    measured_tokens: int | None = None
    preamble_tokens: int | None = None
    aliases: tuple[str, ...] = ()  # other names the repository gives the same launch


@dataclass(frozen=True)
class WorkflowFigure:
    """Billed input over one task: the sum over requests of the context at each request."""

    basis: str  # "literal call sequence (lower bound: tool results not visible)" or "trace FILE"
    calls: int
    requests_before: int
    billed_before: int
    requests_after: int
    billed_after: int
    before_basis: str = ""  # where billed_before comes from ("measured: ..." or "projected: ...")
    after_basis: str = ""

    @property
    def reduction(self) -> float:
        return (
            0.0 if not self.billed_before else (self.billed_before - self.billed_after) / self.billed_before
        )


@dataclass(frozen=True)
class AgentFigure:
    """One agent's figures. A figure the audit cannot know is None (shown as "?"), never a guess."""

    name: str
    source: str
    framework: str
    provider: str
    model: str | None
    servers: tuple[str, ...]
    servers_basis: str  # "static", "all servers of the config it loads", "servers unknown", "none"
    unknown_servers: tuple[str, ...]
    tool_count: int | None  # None: its servers cannot be linked, or none of their tools are known
    tool_count_is_lower_bound: bool  # some of its servers have unknown tools
    threshold: Threshold | None
    definition_tokens: int | None
    overhead_tokens: int | None
    overhead_note: str
    system_prompt_tokens: int
    tool_context_tokens: int | None  # definitions + tool-use prompt: what --fail-over compares
    per_request_tokens: int | None  # tool context + system prompt, before the user's question
    code_mode_tokens: int | None  # projected tool context on code mode (prompt + execute tool + docs read)
    code_mode_per_request_tokens: int | None  # code_mode_tokens + the agent's own system prompt
    deferred_tokens: int | None  # tool context with provider-native deferred loading
    deferred_note: str
    reduction: float | None  # "cut": 1 - code_mode_tokens / tool_context_tokens, the one definition
    decision: Decision
    reasons: tuple[str, ...]
    basis: str  # how the token figures were obtained, e.g. "o200k_base estimate + 346 tokens of ..."
    price_per_mtok: float | None
    price_source: str
    monthly_cost_before: float | None
    monthly_cost_after: float | None
    monthly_waste: float | None
    code_mode: bool
    workflow: WorkflowFigure | None = None
    tool_sequence: tuple[str, ...] = ()
    breakdown: Mapping[str, int] = field(default_factory=dict)  # the parts of tool_context_tokens


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
    tool_scripts: tuple[Mapping[str, Any], ...] = ()  # code with MCP calls and no model request
    clients: tuple[ClientFigure, ...] = ()  # config-only agents: client configs no Python agent reads

    def to_json(self) -> dict[str, Any]:
        """The documented, versioned JSON form (schema `cfmigrate.audit/1`)."""
        data = asdict(self)
        for agent, fig in zip(data["agents"], self.agents, strict=True):
            if fig.workflow is not None:
                agent["workflow"]["reduction"] = round(fig.workflow.reduction, 4)
            agent["breakdown"] = dict(fig.breakdown)
        for problem, p in zip(data["problems"], self.problems, strict=True):
            problem["source"] = str(p.source) if p.source else None
        return data


def _figures_for(
    manifest: Manifest,
    spec: ServerSpec | None,
    provider: Provider,
    tok: Tokenizer,
    exact: ExactTools | None = None,
    aliases: tuple[str, ...] = (),
) -> ServerFigure:
    allowed = set(spec.tool_filter) if spec and spec.tool_filter else None
    tools = [t for t in manifest.tools if allowed is None or t.name in allowed]
    figs = []
    measured: int | None = None
    preamble: int | None = None
    if exact is not None and tools:
        counts = exact.tools(tools)
        measured = int(counts.total)
        for t in sorted(tools, key=lambda t: t.name):
            figs.append(ToolFigure(manifest.server, t.name, int(counts.per_tool[t.name]), None, None))
        preamble = measured - sum(f.tokens for f in figs)
    else:
        for t in sorted(tools, key=lambda t: t.name):
            c = tool_cost(t, provider, tok)
            figs.append(ToolFigure(manifest.server, t.name, c.total, c.description, c.schema))
    note = f"tool_filter keeps {len(tools)} of {len(manifest.tools)}" if allowed is not None else ""
    descriptions = [f.description_tokens for f in figs]
    return ServerFigure(
        name=manifest.server,
        status="known",
        transport=spec.transport if spec else "unknown",
        source=str(spec.source) if spec else str(manifest.source or ""),
        manifest=manifest.label(),
        tool_count=len(figs),
        tokens=sum(f.tokens for f in figs),
        description_tokens=None
        if any(d is None for d in descriptions)
        else sum(d or 0 for d in descriptions),
        tools=tuple(figs),
        package=(spec.package if spec else None) or manifest.package,
        note=note,
        measured_tokens=measured,
        preamble_tokens=preamble,
        aliases=aliases,
    )


def measure_servers(
    inv: Inventory, provider: Provider, tok: Tokenizer, exact: ExactTools | None = None
) -> tuple[ServerFigure, ...]:
    """One figure per server: configured servers, plus servers known only from a manifest or from code."""
    out: list[ServerFigure] = []
    seen: set[str] = set()
    for spec in inv.servers:
        if spec.name in seen:
            continue
        seen.add(spec.name)
        aliases = inv.aliases.get(spec.name, ()) if inv.aliases else ()
        m = inv.manifest(spec.name)
        if m is not None:
            out.append(_figures_for(m, spec, provider, tok, exact, aliases))
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
                    aliases=aliases,
                )
            )
    for m in inv.manifests:
        if m.server not in seen:
            seen.add(m.server)
            out.append(_figures_for(m, None, provider, tok, exact))
    return tuple(sorted(out, key=lambda s: s.name))


SERVERS_UNKNOWN = "servers unknown (not statically knowable; nothing is assumed)"


def _agent_servers(agent: Agent, inv: Inventory) -> tuple[tuple[str, ...], str]:
    """The servers an agent reaches, and how that is known. Never every configured server by assumption."""
    if agent.servers:
        return tuple(sorted(set(agent.servers))), (
            "all servers of the config it loads" if agent.all_servers else "static"
        )
    if agent.code_mode:
        return (), "none"
    return (), SERVERS_UNKNOWN


def _decide(
    agent: Agent,
    servers: Sequence[ServerFigure],
    basis: str,
    tool_count: int | None,
    lower_bound: bool,
    reduction: float | None,
) -> tuple[Decision, tuple[str, ...]]:
    """The MISSION's decision framework, applied to what the audit can see (and only to that)."""
    if agent.code_mode:
        return "already-code-mode", ("already runs model-written code against a code interface",)
    if basis == SERVERS_UNKNOWN:
        return "unknown", (
            "its MCP servers cannot be linked statically: no tool count, no money, no decision",
        )
    if not servers:
        return "unknown", ("no MCP server could be linked to this agent",)
    unknown = [s.name for s in servers if s.status == "unknown"]
    if tool_count is None:
        return "unknown", (f"tools of {', '.join(unknown)} are unknown — run `cfmigrate audit --connect`",)
    validation = [s.name for s in servers if s.package and s.package.startswith(VALIDATION_PACKAGES)]
    steps = len(agent.tool_sequence)
    reasons: list[str] = []
    count = f"at least {tool_count}" if lower_bound else str(tool_count)
    if validation and len(validation) == len(servers):
        return "keep-mcp", (
            f"browser automation / formal validation server ({', '.join(validation)}): step-by-step tool calls are the point",
        )
    if tool_count < 20:
        if lower_bound:
            return "unknown", (
                f"{count} tools known; tools of {', '.join(unknown)} are unknown, so the count is a lower "
                "bound below the 20-tool line — run `cfmigrate audit --connect` to decide",
            )
        reasons.append(f"{tool_count} tools (< 20): schema overhead is modest")
        if len(servers) == 1:
            reasons.append("one server: a contained toolset")
        if steps > 3:
            reasons.append(f"but {steps} tool calls in one flow: consider code mode for that workflow")
        return "keep-mcp", tuple(reasons)
    reasons.append(
        f"{count} tools (> 20): {threshold(tool_count)}" + (" (lower bound)" if lower_bound else "")
    )
    if reduction is not None:
        reasons.append(f"code mode would cut the per-request tool context by {reduction:.0%}")
    if steps > 3:
        reasons.append(f"multi-step: {steps} literal tool calls in sequence")
    if validation:
        reasons.append(f"keep {', '.join(validation)} on direct MCP (formal validation)")
    if len(servers) > 1:
        reasons.append(f"{len(servers)} MCP servers: keep MCP as the transport under a code interface")
        return "hybrid", tuple(reasons)
    return "code-first", tuple(reasons)


def _count_tools(
    agent: Agent, inv: Inventory, names: Sequence[str]
) -> tuple[list[ServerFigure], int | None, bool]:
    """Server figures (tool counts only), the known tool count and whether it is a lower bound."""
    figs: list[ServerFigure] = []
    for name in names:
        spec = inv.server(name)
        manifest = inv.manifest(name)
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
    return figs, *_tool_count(figs)


def _tool_count(figs: Sequence[ServerFigure]) -> tuple[int | None, bool]:
    known = [f for f in figs if f.status == "known"]
    if not known:
        return None, False
    return sum(f.tool_count or 0 for f in known), len(known) < len(figs)


def decide_agent(agent: Agent, inv: Inventory) -> tuple[Decision, tuple[str, ...], int]:
    """The audit's decision for one agent from tool counts alone (no tokenizer): (decision, reasons, tool count).

    Same servers and `_decide` as `measure`; the token-reduction reason is left out, since no
    tokens are counted here. An unknown tool count is reported as 0 with decision "unknown".
    """
    names, basis = _agent_servers(agent, inv)
    figs, tool_count, lower = _count_tools(agent, inv, names)
    decision, reasons = _decide(agent, figs, basis, tool_count, lower, None)
    return decision, reasons, tool_count or 0


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


def _workflow(
    calls: int, before_per_request: int, after_per_request: int, fixed: int, label: str = ""
) -> WorkflowFigure:
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
        before_basis=f"projected ({label}): {requests_before} requests x the per-request context",
        after_basis=f"projected ({label}): discover, run, answer",
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
    trace: Mapping[str, list[dict[str, Any]]], after_per_request: int, fixed: int, name: str, label: str = ""
) -> WorkflowFigure | None:
    chosen = {t: [r for r in recs if r.get("agent") in (None, name)] for t, recs in trace.items()}
    recs = [r for rs in chosen.values() for r in rs]
    if not recs:
        return None
    tasks = max(1, sum(1 for rs in chosen.values() if rs))
    billed = sum(int(r["usage"]["input_tokens"]) for r in recs) // tasks
    calls = sum(int(r.get("tool_calls", 0)) for r in recs) // tasks
    return WorkflowFigure(
        basis=(
            f"before measured from the trace ({len(recs)} logged requests over {tasks} task(s), API usage, "
            f"mean per task); after projected ({label}) — the two sides are not the same measurement"
        ),
        calls=calls,
        requests_before=round(len(recs) / tasks),
        billed_before=billed,
        requests_after=3,
        billed_after=fixed + 2 * after_per_request,
        before_basis=f"measured: billed input from {len(recs)} logged requests (trace usage.input_tokens)",
        after_basis=f"projected ({label}): discover, run, answer on code mode",
    )


def _basis(
    tok: Tokenizer, exact: ExactTools | None, provider: Provider, overhead: pricing.Overhead, code_mode: bool
) -> str:
    """How an agent's figures were obtained, in words a reader can check."""
    if exact is not None:
        return (
            f"{exact.label}: count(with tools) - count(without tools), one request per tool set; "
            "the tool-use prompt is measured, not taken from a table"
        )
    encoding = tok.label.removeprefix("estimate, ")
    if overhead.tokens:
        return (
            f"{encoding} estimate + {overhead.tokens} tokens of Anthropic's documented tool-use prompt"
            " (Claude tokens, from the table)"
        )
    if provider == "anthropic":
        return f"{encoding} estimate; Anthropic's tool-use prompt not counted ({overhead.note})"
    return f"{encoding} estimate"


def _deferred(
    figs: Sequence[ServerFigure], agent: Agent, provider: Provider, overhead: int | None
) -> tuple[int | None, str]:
    """Per-request tool context with provider-native deferred tool loading, where it is documented."""
    if provider != "anthropic":
        return None, (
            "OpenAI tool_search defers tools too, but the size of what it sends is not published: not estimated"
        )
    if any(s.status == "unknown" for s in figs) or not figs:
        return None, "tools unknown"
    used = set(agent.tool_sequence)
    loaded = sum(t.tokens for s in figs for t in s.tools if t.tool in used)
    total = TOOL_SEARCH_TOKENS + loaded + (overhead or 0)
    what = (
        f"definitions of the {len(used)} tools it calls, loaded on demand" if used else "no tool loaded yet"
    )
    return total, (
        f"Anthropic tool search with defer_loading: ~{TOOL_SEARCH_TOKENS} tokens for the search tool "
        f"({TOOL_SEARCH_SOURCE}) + {what}"
        + (" + the tool-use prompt" if overhead else "")
        + "; Claude Code defers MCP tools this way by default"
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
    exact: ExactTools | None = None,
    gateway: GatewayList | None = None,
) -> AuditReport:
    """Figures for every server and agent of the inventory, and for client configs no agent reads.

    With `exact` (Anthropic count_tokens), a server's figure is count(with its tools) - count(without)
    and each tool's its marginal difference; an agent's tool context is count(with all its tools) -
    count(without), the measured tool-use prompt included (no table figure is added). Descriptions
    have no marginal cost of their own and are not counted in that mode.
    """
    report_provider: Provider = provider or "anthropic"
    label = exact.label if exact is not None else tok.label
    servers = measure_servers(inv, report_provider, tok, exact)
    by_name = {s.name: s for s in servers}
    agents: list[AgentFigure] = []
    for agent in inv.agents:
        # OpenAI-compatible providers (Groq, Ollama) receive tools in OpenAI's function format
        a_provider: Provider = provider or (
            "openai" if agent.provider in ("openai", "groq", "ollama") else "anthropic"
        )
        names, basis = _agent_servers(agent, inv)
        figs = (
            [by_name[n] for n in names if n in by_name]
            if a_provider == report_provider
            else list(measure_servers(_restrict(inv, names), a_provider, tok))
        )
        figs += [
            ServerFigure(n, "unknown", "unknown", "", None, None, None, None, note="not declared anywhere")
            for n in names
            if n not in {f.name for f in figs}
        ]
        unknown = tuple(sorted(f.name for f in figs if f.status == "unknown"))
        tool_count, lower = _tool_count(figs)
        known = [f for f in figs if f.status == "known"]
        a_model = model or agent.model
        system_tokens = count_system(agent) if count_system else 0
        table_overhead = pricing.tool_use_overhead(a_model, a_provider)
        # definitions and the tool-use prompt sent with them
        definitions: int | None = None
        overhead: int | None = None
        overhead_note = "no tools sent"
        breakdown: dict[str, int] = {}
        if agent.code_mode:
            definitions, overhead, overhead_note = 0, 0, "on code mode: its tool context is the code-mode one"
        elif tool_count is not None:
            definitions = sum(f.tokens or 0 for f in known)
            if exact is not None and tool_count:
                everything = [t for f in known for t in _tool_defs(inv, f)]
                if len(known) == 1 and known[0].measured_tokens is not None:
                    measured = known[0].measured_tokens
                else:
                    measured = exact.tool_set_total(everything)
                overhead = measured - definitions
                overhead_note = (
                    f"{overhead} tokens measured: count(with its tools) - count(without) - the tools' "
                    "marginal costs (Anthropic's tool-use prompt and framing)"
                )
            elif tool_count:
                overhead, overhead_note = table_overhead.tokens or 0, table_overhead.note
            else:
                overhead = 0
            breakdown = {"tool definitions": definitions, "tool-use prompt": overhead}
        # code mode projection
        code_tokens: int | None = None
        if tool_count is not None or agent.code_mode:
            code_tokens = _code_mode_tokens(known, agent, costs)
            if not costs.includes_tool_prompt:
                code_tokens += table_overhead.tokens or 0
        if agent.code_mode:
            tool_context = code_tokens
        elif definitions is not None and overhead is not None:
            tool_context = definitions + overhead
        else:
            tool_context = None
        reduction: float | None = None
        if agent.code_mode and code_tokens is not None:
            reduction = 0.0  # already there: nothing left to cut
        elif tool_context and code_tokens is not None:
            reduction = round((tool_context - code_tokens) / tool_context, 4)
        decision, reasons = _decide(agent, figs, basis, tool_count, lower, reduction)
        deferred, deferred_note = (
            _deferred(known if not unknown else figs, agent, a_provider, overhead)
            if tool_count is not None and not agent.code_mode
            else (None, "not applicable" if agent.code_mode else "tools unknown")
        )
        if (
            deferred is not None
            and code_tokens is not None
            and decision in ("keep-mcp", "code-first", "hybrid")
        ):
            steps = len(agent.tool_sequence)
            if deferred <= code_tokens and steps <= 3:
                reasons += (
                    f"provider-native deferred loading would send ~{deferred:,} tokens per request "
                    f"(code mode {code_tokens:,}) without rewriting code: enough while flows stay short "
                    f"({steps} literal tool calls)",
                )
            elif steps > 3:
                reasons += (
                    f"deferred loading (~{deferred:,} tokens/request) trims definitions but still round-trips "
                    f"every result through the model over {steps} calls: code mode does not",
                )
        p = pricing.input_price(a_model, price, price_source)
        money_known = p.per_mtok is not None and tool_context is not None and code_tokens is not None
        before = after = waste = None
        if money_known:
            assert p.per_mtok is not None and tool_context is not None and code_tokens is not None
            month = requests_per_day * DAYS_PER_MONTH / 1_000_000 * p.per_mtok
            kept = code_tokens if decision in ("code-first", "hybrid") else tool_context
            before = round(tool_context * month, 2)
            after = round(kept * month, 2)
            waste = round(max(0, tool_context - kept) * month, 2)
        workflow = None
        per_request = None if tool_context is None else tool_context + system_tokens
        code_per_request = None if code_tokens is None else code_tokens + system_tokens
        if trace is not None and code_per_request is not None:
            workflow = _trace_workflow(trace, code_per_request, costs.fixed, agent.name, label)
        elif agent.tool_sequence and not agent.code_mode and per_request and code_per_request:
            workflow = _workflow(len(agent.tool_sequence), per_request, code_per_request, costs.fixed, label)
        agents.append(
            AgentFigure(
                name=agent.name,
                source=str(agent.source),
                framework=agent.framework,
                provider=agent.provider
                if provider is None and agent.provider in ("groq", "ollama")
                else a_provider,
                model=a_model,
                servers=names,
                servers_basis=basis,
                unknown_servers=unknown,
                tool_count=tool_count,
                tool_count_is_lower_bound=lower,
                threshold="on code mode"
                if agent.code_mode
                else (threshold(tool_count) if tool_count is not None else None),
                definition_tokens=definitions,
                overhead_tokens=overhead,
                overhead_note=overhead_note,
                system_prompt_tokens=system_tokens,
                tool_context_tokens=tool_context,
                per_request_tokens=per_request,
                code_mode_tokens=code_tokens,
                code_mode_per_request_tokens=code_per_request,
                deferred_tokens=deferred,
                deferred_note=deferred_note,
                reduction=reduction,
                decision=decision,
                reasons=reasons,
                basis=_basis(tok, exact, a_provider, table_overhead, agent.code_mode),
                price_per_mtok=p.per_mtok,
                price_source=p.source,
                monthly_cost_before=before,
                monthly_cost_after=after,
                monthly_waste=waste,
                code_mode=agent.code_mode,
                workflow=workflow,
                tool_sequence=agent.tool_sequence,
                breakdown=breakdown,
            )
        )
    agents.sort(key=lambda a: (-(a.monthly_waste or 0), a.monthly_waste is None, a.name))
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
    known_servers = [s for s in servers if s.status == "known"]
    priced = [a for a in agents if a.monthly_cost_before is not None]
    contexts = [a for a in agents if a.tool_context_tokens is not None]
    top = max(contexts, key=lambda a: a.tool_context_tokens or 0, default=None)
    totals = {
        "servers": len(servers),
        "servers_unknown": len(servers) - len(known_servers),
        "tools": sum(s.tool_count or 0 for s in known_servers),
        "definition_tokens": sum(s.tokens or 0 for s in known_servers),
        "agents": len(agents),
        "agents_to_migrate": sum(1 for a in agents if a.decision in ("code-first", "hybrid")),
        "agents_priced": len(priced),
        "agents_left_out": len(agents) - len(priced),
        "monthly_cost_before": round(sum(a.monthly_cost_before or 0 for a in priced), 2),
        "monthly_cost_after": round(sum(a.monthly_cost_after or 0 for a in priced), 2),
        "monthly_waste": round(sum(a.monthly_waste or 0 for a in priced), 2),
        "max_tool_context_tokens": top.tool_context_tokens if top else 0,
        "max_tool_context_agent": top.name if top else None,
        "tool_scripts": len(inv.tool_scripts),
    }
    return AuditReport(
        schema=REPORT_SCHEMA,
        root=inv.root,
        tokenizer=exact.label if exact is not None else tok.label,
        provider=report_provider,
        requests_per_day=requests_per_day,
        code_mode_source=costs.source,
        servers=servers,
        agents=tuple(agents),
        problems=inv.problems + costs.problems + tuple(extra),
        files_scanned=inv.files_scanned,
        totals=totals,
        tool_scripts=tuple(
            {"name": a.name, "source": str(a.source), "servers": list(a.servers)} for a in inv.tool_scripts
        ),
        clients=_clients(inv, servers, gateway, report_provider, tok, exact, label),
    )


def _clients(
    inv: Inventory,
    servers: Sequence[ServerFigure],
    gateway: GatewayList | None,
    provider: Provider,
    tok: Tokenizer,
    exact: ExactTools | None,
    label: str,
) -> tuple[ClientFigure, ...]:
    """Config-only agents, priced like the servers: definitions in `provider`'s rendering, same tokenizer."""

    def price(tools: Sequence[ToolDef]) -> int:
        if exact is not None:
            return sum(int(n) for n in exact.tools(tools).per_tool.values()) if tools else 0
        return sum(tool_cost(t, provider, tok).total for t in tools)

    instructions = (
        f"; with the gateway also its instructions ({tok.count(gateway.instructions):,} tokens), which clients "
        "add to the prompt (the servers' own are not known, so not counted today)"
        if gateway is not None and gateway.tools is not None and gateway.instructions
        else ""
    )
    basis = (
        f"{label}; tool definitions as {provider} receives them"
        + (" (sum of marginal counts)" if exact is not None else "")
        + instructions
        + "; the client's own prompt and tool-use framing are the same on both sides and not counted"
    )
    return client_figures(
        inv,
        {s.name: s.tokens for s in servers},
        {s.name: s.tool_count for s in servers},
        gateway,
        price,
        basis,
        tok.count,
    )


def _tool_defs(inv: Inventory, fig: ServerFigure) -> list[ToolDef]:
    manifest = inv.manifest(fig.name)
    if manifest is None:
        return []
    keep = {t.tool for t in fig.tools}
    return [t for t in manifest.tools if t.name in keep]


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
