"""Render an AuditReport: a terminal report (rich), Markdown for a PR comment, or the versioned JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cfmigrate.analyzers.clients import INSTALL_NAMES, ClientFigure
from cfmigrate.analyzers.measure import AgentFigure, AuditReport, ServerFigure

if TYPE_CHECKING:  # rich is imported by the terminal rendering only: JSON and Markdown runs never load it
    from rich.console import Console

_DECISION = {
    "keep-mcp": "keep direct MCP",
    "code-first": "code-first",
    "hybrid": "hybrid (code interface over MCP)",
    "already-code-mode": "already on code mode",
    "unknown": "unknown",
}


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:,.2f}"


def _cut(a: AgentFigure) -> str:
    """The one "cut": 1 - code-mode tool context / today's tool context (AgentFigure.reduction)."""
    if a.reduction is None:
        return "-"
    return f"{a.reduction:.0%}" if a.reduction >= 0 else f"+{-a.reduction:.0%}"


def _tools(a: AgentFigure) -> str:
    if a.tool_count is None:
        return "?"
    return f"≥{a.tool_count}" if a.tool_count_is_lower_bound else str(a.tool_count)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _less(reduction: float) -> str:
    """'85.1% less', or '12.0% more' when code mode would cost more."""
    return f"{reduction:.1%} less" if reduction >= 0 else f"{-reduction:.1%} more"


def summary_line(r: AuditReport) -> str:
    t = r.totals
    left_out = t.get("agents_left_out", 0)
    scripts = t.get("tool_scripts", 0)
    return (
        f"{_count(t['servers'], 'server')} ({t['servers_unknown']} with unknown tools), "
        f"{_count(t['tools'], 'tool')} costing {t['definition_tokens']:,} tokens of definitions; "
        f"{_count(t['agents'], 'agent')}, {t['agents_to_migrate']} to migrate"
        + (f"; {_count(scripts, 'tool script')} (no model call)" if scripts else "")
        + f"; monthly input spend on tool context {_money(t['monthly_cost_before'])} -> "
        f"{_money(t['monthly_cost_after'])}"
        + (
            f" over {t.get('agents_priced', 0)} priced agents ({left_out} left out: figures unknown)"
            if left_out
            else ""
        )
        + f" ({r.tokenizer})"
    )


def render_json(r: AuditReport) -> str:
    return json.dumps(r.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _server_rows(servers: Sequence[ServerFigure]) -> list[list[str]]:
    rows = []
    for s in servers:
        per_tool = f"{s.tokens // s.tool_count:,}" if s.tokens and s.tool_count else "-"
        rows.append(
            [
                s.name,
                s.transport,
                _n(s.tool_count),
                _n(s.tokens),
                per_tool,
                (s.manifest or s.note)
                + (
                    f"; measured {s.measured_tokens:,} = count(with) - count(without), of which "
                    f"{s.preamble_tokens:,} tool-use prompt"
                    if s.measured_tokens is not None and s.preamble_tokens is not None
                    else ""
                )
                + (f"; also named {', '.join(s.aliases)}" if s.aliases else ""),
                s.source,
            ]
        )
    return rows


def _agent_rows(agents: Sequence[AgentFigure]) -> list[list[str]]:
    rows = []
    for a in agents:
        rows.append(
            [
                a.name,
                a.framework,
                ", ".join(a.servers)
                or ("servers unknown" if a.servers_basis.startswith("servers unknown") else "-"),
                _tools(a),
                _n(a.tool_context_tokens),
                _n(a.code_mode_tokens),
                _n(a.deferred_tokens),
                _cut(a),
                _DECISION[a.decision],
                _money(a.monthly_waste),
            ]
        )
    return rows


SERVER_HEAD = ["server", "transport", "tools", "tokens", "per tool", "tools from", "declared in"]
AGENT_HEAD = [
    "agent",
    "framework",
    "servers",
    "tools",
    "tool context/request",
    "on code mode",
    "deferred loading",
    "cut",
    "decision",
    "waste/month",
]


_SHORT = {
    "keep-mcp": "keep MCP",
    "code-first": "code-first",
    "hybrid": "hybrid",
    "already-code-mode": "on code mode",
    "unknown": "unknown",
}


CLIENT_HEAD = ["client", "config", "servers", "tools", "today/request", "with gateway", "cut"]
CLIENTS_TITLE = "Config-only agents (client configs no Python agent reads): tool definitions per request"


def _client_cut(c: ClientFigure) -> str:
    if c.reduction is None:
        return "-"
    return f"{c.reduction:.0%}" if c.reduction >= 0 else f"+{-c.reduction:.0%}"


def _client_rows(clients: Sequence[ClientFigure]) -> list[list[str]]:
    return [
        [
            c.label + (" (installed)" if c.installed else ""),
            c.config,
            ", ".join(c.servers),
            _n(c.tool_count),
            _n(c.tokens_before),
            _n(c.tokens_with_gateway),
            _client_cut(c),
        ]
        for c in clients
    ]


def client_lines(c: ClientFigure) -> list[str]:
    """The notes under a config-only agent: what stays direct, how to install, how the figures were made."""
    lines = []
    if c.unknown_servers:
        lines.append(f"tools unknown for {', '.join(c.unknown_servers)}: run with --connect")
    if c.tokens_with_gateway is not None:
        tools = f"{c.gateway_tool_count} tools" if c.gateway_tool_count is not None else "its tools"
        direct = f" + {', '.join(c.direct)} kept direct" if c.direct else ""
        lines.append(f"with the gateway: {tools} and its instructions (`cfmigrate serve`{direct})")
    if c.note:
        lines.append(f"with the gateway: unknown ({c.note})")
    name = INSTALL_NAMES.get(c.client)
    if c.reduction is not None and c.reduction < 0:
        lines.append(
            "the gateway would send more than the definitions it replaces (few tools): keep these servers direct"
        )
    if c.installed:
        lines.append(
            f"{c.config} already points at the gateway (`cfmigrate serve --uninstall {name}` restores it)"
        )
    elif name is not None and not (c.reduction is not None and c.reduction < 0):
        lines.append(
            f"install: `cfmigrate serve --install {name}` (a diff first; --write applies, with a backup)"
        )
    lines.append(f"figures: {c.basis}")
    return lines


def render_terminal(r: AuditReport, console: Console) -> None:
    """The human report: servers, agents ranked by waste, reasons, problems, summary line.

    Text from the repository (names, paths, messages) is escaped: `[tool.cfmigrate]` stays literal.
    """
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    e = escape
    console.print(
        f"[bold]cfmigrate audit[/bold] {e(r.root)}  ({r.files_scanned:,} files; tokens: {e(r.tokenizer)})"
    )
    st = Table(title="MCP servers", box=box.SIMPLE_HEAVY, title_justify="left")
    for h in ("server", "tools", "tokens", "per tool"):
        st.add_column(h, justify="left" if h == "server" else "right", no_wrap=True)
    st.add_column("tools from", overflow="fold")
    for row in _server_rows(r.servers):
        st.add_row(e(row[0]), row[2], row[3], row[4], e(f"{row[5]} ({row[1]}, {row[6]})"))
    console.print(st if r.servers else "No MCP servers found.")
    at = Table(title="Agents, ranked by monthly waste", box=box.SIMPLE_HEAVY, title_justify="left")
    at.add_column("agent", overflow="fold")
    for h in ("tools", "tool ctx/req", "code mode", "deferred", "cut", "decision", "waste/mo"):
        at.add_column(h, justify="left" if h == "decision" else "right", no_wrap=True)
    for a in r.agents:
        at.add_row(
            e(a.name),
            _tools(a),
            _n(a.tool_context_tokens),
            _n(a.code_mode_tokens),
            _n(a.deferred_tokens),
            _cut(a),
            _SHORT[a.decision],
            _money(a.monthly_waste),
        )
    console.print(at if r.agents else "No agents that use MCP tools found.")
    for a in r.agents:
        console.print(
            f"[bold]{e(a.name)}[/bold] ({e(a.source)}, {a.framework}, {a.provider}) — {_DECISION[a.decision]}; "
            + _status(a)
        )
        lines = [*a.reasons]
        lines.append(f"figures: {a.basis}")
        if a.breakdown:
            lines.append("tool context: " + _breakdown(a))
        if len(a.files) > 1:
            lines.append(f"code in: {', '.join(a.files)} (migrate rewrites them together or not at all)")
        if a.servers_basis != "static":
            lines.append(f"servers: {a.servers_basis}")
        if a.unknown_servers:
            lines.append(f"tools unknown for {', '.join(a.unknown_servers)}: run with --connect")
        if a.workflow:
            w = a.workflow
            lines.append(
                f"workflow: {w.requests_before} requests, {w.billed_before:,} billed input tokens -> "
                f"{w.requests_after} requests, {w.billed_after:,} on code mode ({_less(w.reduction)}; {w.basis})"
            )
        if a.system_prompt_tokens:
            lines.append(f"system prompt: {a.system_prompt_tokens:,} tokens (static text of the prompt)")
        lines.append(f"tool-use overhead: {a.overhead_note}")
        if a.deferred_tokens is not None or a.deferred_note not in ("tools unknown", "not applicable"):
            lines.append(f"deferred loading: {a.deferred_note}")
        price = "?" if a.price_per_mtok is None else f"${a.price_per_mtok}/MTok"
        lines.append(f"price: {price} ({a.price_source})")
        for line in lines:
            console.print(f"  - {e(line)}")
    if r.clients:
        ct = Table(title=CLIENTS_TITLE, box=box.SIMPLE_HEAVY, title_justify="left")
        ct.add_column("client", overflow="fold")
        for h in ("servers", "tools", "today", "with gateway", "cut"):
            ct.add_column(h, justify="left" if h == "servers" else "right", no_wrap=h != "servers")
        for row in _client_rows(r.clients):
            ct.add_row(e(f"{row[0]} ({row[1]})"), e(row[2]), *row[3:])
        console.print(ct)
        for c in r.clients:
            console.print(f"[bold]{e(c.label)}[/bold] ({e(c.config)})")
            for line in client_lines(c):
                console.print(f"  - {e(line)}")
    for t in r.tool_scripts:
        console.print(
            f"[dim]tool script[/dim] {e(str(t['name']))} ({e(str(t['source']))}): calls MCP tools, sends no "
            "model request — not an agent, no workflow estimate"
        )
    for p in r.problems:
        style = {"error": "red", "warning": "yellow"}.get(p.level, "dim")
        where = f"{p.source}: " if p.source else ""
        text = f"{where}{p.message}" + (f" — {p.hint}" if p.hint else "")
        console.print(f"[{style}]{p.level}[/{style}]: {e(text)}")
    console.print(f"[bold]Summary:[/bold] {e(summary_line(r))}")


def _status(a: AgentFigure) -> str:
    if a.servers_basis.startswith("servers unknown"):
        return "servers unknown: no tool count, no money, no decision"
    if a.tool_count is None:
        return f"tools unknown ({', '.join(a.unknown_servers)})"
    tools = f"{_tools(a)} tools from {', '.join(a.servers) or 'no server'}"
    return f"{a.threshold} ({tools})"


def _breakdown(a: AgentFigure) -> str:
    parts = " + ".join(f"{v:,} {k}" for k, v in a.breakdown.items())
    return f"{parts} = {a.tool_context_tokens:,}" if a.tool_context_tokens is not None else parts


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(r: AuditReport) -> str:
    """A PR-comment-sized Markdown report."""
    out = [
        "## cfmigrate audit",
        "",
        f"Token figures: **{r.tokenizer}**. Code-mode projection: {r.code_mode_source}.",
        "",
        f"**Summary:** {summary_line(r)}",
        "",
        "### Agents, ranked by monthly waste",
        "",
        _md_table(AGENT_HEAD, _agent_rows(r.agents)) if r.agents else "No agents that use MCP tools found.",
        "",
    ]
    for a in r.agents:
        out.append(f"- **{a.name}** (`{a.source}`): {_DECISION[a.decision]} — " + "; ".join(a.reasons))
        out.append(f"  - figures: {a.basis}")
        if len(a.files) > 1:
            out.append(
                f"  - code in: {', '.join(f'`{f}`' for f in a.files)} (rewritten together or not at all)"
            )
        if a.breakdown:
            out.append(f"  - tool context: {_breakdown(a)}")
        if a.deferred_tokens is not None:
            out.append(f"  - deferred loading: ~{a.deferred_tokens:,} tokens/request ({a.deferred_note})")
        if a.workflow:
            w = a.workflow
            out.append(
                f"  - workflow: {w.billed_before:,} → {w.billed_after:,} billed input tokens "
                f"({_less(w.reduction)}; {w.basis})"
            )
    if r.clients:
        out += ["", f"### {CLIENTS_TITLE}", "", _md_table(CLIENT_HEAD, _client_rows(r.clients)), ""]
        for c in r.clients:
            out.append(f"- **{c.label}** (`{c.config}`): " + "; ".join(client_lines(c)))
    if r.tool_scripts:
        out += ["", "### Tool scripts (MCP calls, no model request: not agents)", ""]
        out += [f"- `{t['source']}` {t['name']}" for t in r.tool_scripts]
    out += ["", "### MCP servers", ""]
    out.append(_md_table(SERVER_HEAD, _server_rows(r.servers)) if r.servers else "No MCP servers found.")
    if r.problems:
        out += ["", "### Problems", ""]
        out += [
            f"- {p.level}: `{p.source}` {p.message}" if p.source else f"- {p.level}: {p.message}"
            for p in r.problems
        ]
    return "\n".join(out) + "\n"
