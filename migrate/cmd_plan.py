"""`cfmigrate plan [PATH]`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cfmigrate.analyzers.audit_json import AuditFileError, load_audit
from cfmigrate.analyzers.compare import MeasureError, read_tasks
from cfmigrate.analyzers.measure import AuditReport
from cfmigrate.generators.plan import (
    DEFAULT_SANDBOX_PER_MONTH,
    build_plan,
    render_html,
    render_json,
    render_markdown,
)


class PlanFormat(StrEnum):
    markdown = "markdown"
    html = "html"
    json = "json"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def plan(
    path: Annotated[
        Path, typer.Argument(help="Repository to plan for (audited first, unless --from-audit).")
    ] = Path("."),
    format: Annotated[
        PlanFormat,
        typer.Option("--format", "-f", help="markdown, html (one self-contained page with charts) or json."),
    ] = PlanFormat.markdown,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the plan to this file instead of stdout.")
    ] = None,
    from_audit: Annotated[
        Path | None,
        typer.Option(
            "--from-audit", help="Use this `cfmigrate audit --format json` file instead of auditing PATH."
        ),
    ] = None,
    requests_per_day: Annotated[
        int | None,
        typer.Option(
            "--requests-per-day", min=1, help="Model requests per agent per day (default: the audit's, 1000)."
        ),
    ] = None,
    price: Annotated[
        float | None,
        typer.Option(
            "--price",
            min=0.0,
            metavar="USD_PER_MTOK",
            help="USD per million input tokens for every agent (default: by model, from the audit).",
        ),
    ] = None,
    sandbox_cost: Annotated[
        float,
        typer.Option(
            "--sandbox-cost", min=0.0, metavar="USD_PER_MONTH", help="What the sandbox costs per month."
        ),
    ] = DEFAULT_SANDBOX_PER_MONTH,
    one_off_cost: Annotated[
        float,
        typer.Option(
            "--one-off-cost",
            min=0.0,
            metavar="USD",
            help="One-off cost of the migration, counted in the payback.",
        ),
    ] = 0.0,
    trace: Annotated[
        Path | None,
        typer.Option(
            "--trace",
            help="JSONL log of model requests with usage (or benchmark records): where the tokens go, per task.",
        ),
    ] = None,
) -> None:
    """Turn an audit into an 8-week migration plan with commands, targets, ROI and payback."""
    try:
        kind, tasks = read_tasks(str(trace)) if trace is not None else ("trace", None)
        if from_audit is not None:
            report = load_audit(from_audit)
            source = f"`{from_audit.name}`"
        else:
            # the audit reads request logs itself; benchmark records only feed the plan's breakdown
            report = _audit(path, requests_per_day, price, trace if kind == "trace" else None)
            source = "`cfmigrate audit .`"
        the_plan = build_plan(
            report,
            audit_source=source,
            requests_per_day=requests_per_day,
            price=price,
            sandbox_per_month=sandbox_cost,
            one_off_cost=one_off_cost,
            trace=tasks,
        )
    except (AuditFileError, MeasureError) as exc:
        raise _fail(str(exc)) from None
    if format is PlanFormat.html:
        text = render_html(the_plan)
    elif format is PlanFormat.json:
        text = render_json(the_plan)
    else:
        text = render_markdown(the_plan)
    if output is None:
        sys.stdout.write(text)
        return
    from cfmigrate.analyzers.files import atomic_write_text

    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise _fail(f"{output}: cannot write the plan ({exc.strerror or exc})") from None
    typer.echo(f"wrote {output}", err=True)


def _audit(path: Path, requests_per_day: int | None, price: float | None, trace: Path | None) -> AuditReport:
    """Run the audit the plan is built from; its failures become one-line errors (exit 2)."""
    from cfmigrate.analyzers.settings import SettingsError
    from cfmigrate.migrate.audit import AuditError, AuditOptions, run_audit

    opts = AuditOptions(requests_per_day=requests_per_day, price=price, trace=trace, progress=False)
    try:
        return run_audit(path, opts)
    except (AuditError, SettingsError) as exc:
        raise _fail(str(exc)) from None
    except Exception as exc:  # a tokenizer failure surfaces as one line, as in `cfmigrate audit`
        if type(exc).__name__ in ("TokenCountError", "TokenizerError"):
            raise _fail(str(exc)) from None
        raise
