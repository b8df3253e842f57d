"""Render a `cfmigrate measure` comparison: a text table, Markdown for a PR comment, or the versioned JSON."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from cfmigrate.analyzers.compare import AgentComparison, Comparison, pct
from cfmigrate.analyzers.measure import LATENCY_DEFINITION, describe_speed

_KINDS = {"audit": "two audits", "trace": "two request logs", "benchmark": "scenario benchmark runs"}


def _fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def metric_rows(c: AgentComparison) -> list[list[str]]:
    """metric, before, after, change rows for one agent."""
    b, a = c.before, c.after
    rows = []
    if c.unit == "per task":
        rows.append(
            [
                "input tokens per task",
                _fmt(b.input_per_task),
                _fmt(a.input_per_task),
                f"-{pct(c.reduction)}" if c.reduction >= 0 else f"+{pct(-c.reduction)}",
            ]
        )
    rows.append(
        [
            "input tokens per request",
            _fmt(b.input_per_request),
            _fmt(a.input_per_request),
            _change(b.input_per_request, a.input_per_request),
        ]
    )
    rows.append(
        [
            "requests per task",
            _fmt(b.requests_per_task, 1),
            _fmt(a.requests_per_task, 1),
            _change(b.requests_per_task, a.requests_per_task),
        ]
    )
    rows.append(
        [
            "output tokens per task",
            _fmt(b.output_per_task),
            _fmt(a.output_per_task),
            _change(b.output_per_task, a.output_per_task),
        ]
    )
    rows.append(
        [
            "latency per task",
            _fmt(b.latency_ms_per_task, suffix=" ms"),
            _fmt(a.latency_ms_per_task, suffix=" ms"),
            _speed(b.latency_ms_per_task, a.latency_ms_per_task),
        ]
    )
    rows.append(
        [
            "error rate",
            _fmt(None if b.error_rate is None else b.error_rate * 100, 1, "%"),
            _fmt(None if a.error_rate is None else a.error_rate * 100, 1, "%"),
            "",
        ]
    )
    return rows


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or not before:
        return "-"
    d = (after - before) / before
    return "no change" if abs(d) < 0.0005 else f"{d * 100:+.1f}%"


def _speed(before_ms: float | None, after_ms: float | None) -> str:
    return describe_speed(before_ms, after_ms)


def render_text(c: Comparison) -> str:
    """A plain, aligned report for the terminal and CI logs."""
    out = [
        f"cfmigrate measure: {c.before} -> {c.after}  ({_KINDS.get(c.kind, c.kind)}; tokens: {c.label})",
        "",
    ]
    for ac in c.agents:
        out.append(f"{ac.agent}: {'PASS' if ac.passed else 'FAIL'}")
        rows = [["metric", "before", "after", "change"], *metric_rows(ac)]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            out.append(
                "  "
                + "  ".join(
                    cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(r)
                ).rstrip()
            )
        for ch in ac.checks:
            out.append(f"  [{ch.status}] {ch.metric}: {ch.value} (target {ch.target})")
        out.append(f"  before: {ac.before.basis}")
        out.append(f"  after:  {ac.after.basis}")
        out.append("")
    for u in c.unmatched:
        out.append(f"not compared: {u}")
    out.append(LATENCY_DEFINITION)
    failed = [a.agent for a in c.agents if not a.passed]
    out.append(
        f"Summary: {len(c.agents)} agent{'s' if len(c.agents) != 1 else ''} compared; "
        + (f"targets missed by {', '.join(failed)}" if failed else "all targets met")
    )
    return "\n".join(out) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(c: Comparison) -> str:
    """The comparison as Markdown, for a pull request comment."""
    out = [
        "## cfmigrate measure",
        "",
        f"`{c.before}` → `{c.after}` ({_KINDS.get(c.kind, c.kind)}; tokens: {c.label})",
        "",
    ]
    for ac in c.agents:
        out += [f"### {ac.agent}: {'✅ targets met' if ac.passed else '❌ target missed'}", ""]
        out += ["| metric | before | after | change |", "|---|---:|---:|---:|"]
        out += ["| " + " | ".join(_md_cell(x) for x in r) + " |" for r in metric_rows(ac)]
        out += ["", "| check | target | result | status |", "|---|---|---|---|"]
        out += [
            f"| {_md_cell(ch.metric)} | {_md_cell(ch.target)} | {_md_cell(ch.value)} | {ch.status} |"
            for ch in ac.checks
        ]
        out += ["", f"Before: {ac.before.basis}. After: {ac.after.basis}.", ""]
    if c.unmatched:
        out += ["Not compared: " + "; ".join(c.unmatched), ""]
    return "\n".join(out)


def to_json(c: Comparison) -> dict[str, Any]:
    data = asdict(c)
    data["passed"] = c.passed
    for agent, ac in zip(data["agents"], c.agents, strict=True):
        agent["passed"] = ac.passed
    return data


def render_json(c: Comparison) -> str:
    return json.dumps(to_json(c), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
