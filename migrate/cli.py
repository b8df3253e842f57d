"""The `cfmigrate` command line: parse options, call one function per command, render, set the exit code.

Each command lives in its own module (`cmd_<name>.py`). The console script imports only the module of
the command being run, so `cfmigrate generate --check` does not pay for libcst or the analyzers;
`cli.app` (used by tests and `--help`) has every command.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer

from cfmigrate.migrate import __version__

# command name -> (module, function), in the order `--help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("cfmigrate.migrate.cmd_audit", "audit"),
    "generate": ("cfmigrate.migrate.cmd_generate", "generate"),
    "migrate": ("cfmigrate.migrate.cmd_migrate", "migrate"),
    "plan": ("cfmigrate.migrate.cmd_plan", "plan"),
    "measure": ("cfmigrate.migrate.cmd_measure", "measure"),
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cfmigrate {__version__}")
        raise typer.Exit(0)


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Audit, generate and migrate: direct MCP tool calling -> code interface over MCP transport."""


def build(commands: list[str] | None = None) -> typer.Typer:
    """A Typer app with the named commands (all when None)."""
    new = typer.Typer(
        name="cfmigrate",
        help="Move MCP agents from direct tool calling to code mode over MCP transport.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    new.callback()(_root)
    for name in commands if commands is not None else list(COMMANDS):
        module, function = COMMANDS[name]
        new.command(name)(getattr(importlib.import_module(module), function))
    return new


def __getattr__(name: str) -> Any:
    if name == "app":
        full = build()
        globals()["app"] = full
        return full
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point: load only the command that runs (every command for help)."""
    args = sys.argv[1:]
    wanted = next((a for a in args if not a.startswith("-")), None)
    if wanted in COMMANDS:
        build([wanted])()
    elif "--version" in args and not {"--help", "-h"} & set(args):
        build([])()
    else:
        build()()


if __name__ == "__main__":
    main()
