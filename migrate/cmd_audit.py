"""`cfmigrate audit [PATH]`."""

from __future__ import annotations

import io
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cfmigrate.analyzers.settings import SettingsError, load_settings
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


# Without a terminal (CI logs, pipes) Rich would wrap at 80 columns and split paths; tables only take
# the width their content needs, so a wide limit keeps each row on one line.
LOG_WIDTH = 200


def _width() -> int | None:
    """None on a terminal (Rich measures it) or when COLUMNS is set; LOG_WIDTH otherwise."""
    return None if sys.stdout.isatty() or os.environ.get("COLUMNS") else LOG_WIDTH


def fail(message: str) -> typer.Exit:
    """Print a one-line error to stderr and return the exit to raise (code 2)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def audit(
    path: Annotated[Path, typer.Argument(help="Repository to audit.")] = Path("."),
    format: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help="Output: table (terminal), json, markdown (default: from -o's suffix, else table).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the report to this file (its folder must exist; .json implies json).",
        ),
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
            min=0,
            help="Exit 1 when an agent's per-request tool context (tool definitions + tool-use prompt, "
            "system prompt excluded) exceeds TOKENS; names the agent.",
            metavar="TOKENS",
        ),
    ] = None,
    connect: Annotated[
        bool, typer.Option(help="Start/connect each server and list its tools live; writes snapshots.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.1, help="Seconds: per server for --connect, per request for --tokenizer anthropic."
        ),
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
    chosen = _output_format(format, output)
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
        gate = fail_over if fail_over is not None else load_settings(path.resolve()).fail_over
    except (AuditError, SettingsError, TokenizerError) as exc:
        raise fail(str(exc)) from None
    if chosen is Format.json:
        text = render_json(report)
    elif chosen is Format.markdown:
        text = render_markdown(report)
    else:
        text = ""
    if output is not None:
        from cfmigrate.analyzers.files import atomic_write_text

        if chosen is Format.table:
            from rich.console import Console

            console = Console(file=io.StringIO(), record=True, width=140, force_terminal=False)
            render_terminal(report, console)
            text = console.export_text()
        atomic_write_text(output, text)
    elif chosen is Format.table:
        from rich.console import Console

        render_terminal(report, Console(highlight=False, width=_width()))
    else:
        sys.stdout.write(text)
    code, message = exit_code(report, gate)
    if message:
        typer.echo(message, err=True)
    raise typer.Exit(code)


_SUFFIX = {".json": Format.json, ".md": Format.markdown, ".markdown": Format.markdown}


def _output_format(format: Format | None, output: Path | None) -> Format:
    """The format to write: the flag, else implied by -o's suffix; a folder is never created."""
    if output is None:
        return format or Format.table
    if not output.parent.is_dir():
        raise fail(
            f"{output}: the folder {output.parent} does not exist; create it first (-o never creates folders)"
        )
    implied = _SUFFIX.get(output.suffix.lower())
    if format is None:
        return implied or Format.table
    if implied is not None and implied is not format:
        raise fail(
            f"{output}: a {output.suffix} file would hold a {format.value} report; drop -f or use -f {implied.value}"
        )
    return format
