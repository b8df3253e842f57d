"""`cfmigrate audit [PATH]`."""

from __future__ import annotations

import io
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cfmigrate.analyzers.settings import SettingsError
from cfmigrate.analyzers.tokens import TokenizerError
from cfmigrate.generators.audit_report import render_json, render_markdown, render_terminal
from cfmigrate.migrate.audit import AuditError, AuditOptions, exit_code, run_audit


class Format(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class ProviderChoice(StrEnum):
    anthropic = "anthropic"
    openai = "openai"


def fail(message: str) -> typer.Exit:
    """Print a one-line error to stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def audit(
    path: Annotated[Path, typer.Argument(help="Repository to audit.")] = Path("."),
    format: Annotated[
        Format, typer.Option("--format", "-f", help="Output: table (terminal), json, markdown.")
    ] = Format.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="o200k_base (default), cl100k_base (offline estimates), or anthropic (exact, needs --model and a key)."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model for prices, tool-use overhead and exact counts.")
    ] = None,
    provider: Annotated[
        ProviderChoice | None,
        typer.Option(help="Render tools as this provider receives them (default: per agent)."),
    ] = None,
    price: Annotated[
        float | None,
        typer.Option(min=0.0, max=10_000.0, help="USD per million input tokens (default: table by model)."),
    ] = None,
    requests_per_day: Annotated[
        int | None, typer.Option(min=1, help="Requests per agent per day (default 1000).")
    ] = None,
    fail_over: Annotated[
        int | None,
        typer.Option(
            help="Exit 1 when an agent's per-request tool context exceeds TOKENS.", metavar="TOKENS"
        ),
    ] = None,
    connect: Annotated[
        bool, typer.Option(help="Start/connect each server and list its tools live; writes snapshots.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Per-server timeout for --connect, seconds.")
    ] = 30.0,
    trace: Annotated[
        Path | None,
        typer.Option(help="JSONL of logged requests with usage: billed input per task from real traffic."),
    ] = None,
    include: Annotated[
        list[str] | None, typer.Option(help="Only scan paths matching this glob (repeatable).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Skip paths matching this glob (repeatable).")
    ] = None,
    jobs: Annotated[int | None, typer.Option(help="Parser processes (default: CPU count).")] = None,
) -> None:
    """Find MCP servers, tools and agents; measure what tool schemas cost; recommend per agent."""
    opts = AuditOptions(
        tokenizer=tokenizer,
        model=model,
        provider=provider.value if provider else None,
        price=price,
        requests_per_day=requests_per_day,
        include=tuple(include or ()),
        exclude=tuple(exclude or ()),
        connect=connect,
        timeout=timeout,
        trace=trace,
        jobs=jobs,
        progress=sys.stderr.isatty(),
    )
    try:
        report = run_audit(path, opts)
    except (AuditError, SettingsError, TokenizerError) as exc:
        raise fail(str(exc)) from None
    if format is Format.json:
        text = render_json(report)
    elif format is Format.markdown:
        text = render_markdown(report)
    else:
        text = ""
    if output is not None:
        from cfmigrate.analyzers.files import atomic_write_text

        if format is Format.table:
            console = Console(file=io.StringIO(), record=True, width=140, force_terminal=False)
            render_terminal(report, console)
            text = console.export_text()
        atomic_write_text(output, text)
    elif format is Format.table:
        render_terminal(report, Console(highlight=False))
    else:
        sys.stdout.write(text)
    settings_fail_over = fail_over
    if settings_fail_over is None:
        from cfmigrate.analyzers.settings import load_settings

        settings_fail_over = load_settings(path.resolve()).fail_over
    raise typer.Exit(exit_code(report, settings_fail_over))
