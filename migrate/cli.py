"""The `cfmigrate` command line: parse options, call one function per command, render, set the exit code."""

from __future__ import annotations

from typing import Annotated

import typer

from cfmigrate.migrate import __version__

app = typer.Typer(
    name="cfmigrate",
    help="Move MCP agents from direct tool calling to code mode over MCP transport.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cfmigrate {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Audit, generate and migrate: direct MCP tool calling -> code interface over MCP transport."""


# Each command lives in its own module and registers itself here (one line each).
from cfmigrate.migrate import cmd_audit  # noqa: E402
from cfmigrate.migrate import cmd_measure, cmd_plan  # noqa: E402
from cfmigrate.migrate import cmd_generate  # noqa: E402
from cfmigrate.migrate import cmd_migrate  # noqa: E402

app.command("audit")(cmd_audit.audit)
app.command("plan")(cmd_plan.plan)
app.command("measure")(cmd_measure.measure)
app.command("generate")(cmd_generate.generate)
app.command("migrate")(cmd_migrate.migrate)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
