"""`cfmigrate measure BEFORE AFTER`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cfmigrate.analyzers.compare import MeasureError, Targets, compare
from cfmigrate.generators.measure_report import render_json, render_markdown, render_text


class MeasureFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def measure(
    before: Annotated[
        str,
        typer.Argument(
            help="Direct-MCP side: audit JSON, JSONL request log, or benchmark records (FILE#MODE).",
            metavar="BEFORE",
        ),
    ],
    after: Annotated[str, typer.Argument(help="Code-mode side, in the same kind of file.", metavar="AFTER")],
    format: Annotated[
        MeasureFormat, typer.Option("--format", "-f", help="table (plain text), json or markdown.")
    ] = MeasureFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file instead of stdout.")
    ] = None,
    min_reduction: Annotated[
        float,
        typer.Option(
            "--min-reduction",
            min=0.0,
            max=100.0,
            metavar="PERCENT",
            help="Fail unless input tokens fall by more than this.",
        ),
    ] = 70.0,
    max_error_rate: Annotated[
        float,
        typer.Option(
            "--max-error-rate",
            min=0.0,
            max=100.0,
            metavar="PERCENT",
            help="Fail unless the after error rate is below this.",
        ),
    ] = 5.0,
    min_speedup: Annotated[
        float | None,
        typer.Option(
            "--min-speedup", min=0.0, metavar="X", help="Fail unless latency per task falls by this factor."
        ),
    ] = None,
) -> None:
    """Compare before and after per agent against the targets; exit 1 when one is missed."""
    targets = Targets(min_reduction=min_reduction, max_error_rate=max_error_rate, min_speedup=min_speedup)
    try:
        result = compare(before, after, targets)
    except MeasureError as exc:
        raise _fail(str(exc)) from None
    if format is MeasureFormat.json:
        text = render_json(result)
    elif format is MeasureFormat.markdown:
        text = render_markdown(result)
    else:
        text = render_text(result)
    if output is None:
        sys.stdout.write(text)
    else:
        from cfmigrate.analyzers.files import atomic_write_text

        try:
            atomic_write_text(output, text)
        except OSError as exc:
            raise _fail(f"{output}: cannot write the report ({exc.strerror or exc})") from None
    raise typer.Exit(0 if result.passed else 1)
