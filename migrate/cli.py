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
from typer.core import TyperArgument, TyperCommand, TyperGroup

from cfmigrate.migrate import __version__

# click's UsageError, whichever click Typer runs on (its own copy in recent versions)
_UsageError: type[Exception] = typer.BadParameter.__mro__[1]


class _OneLineError(_UsageError):  # type: ignore[valid-type,misc]
    """A usage error shown as one line on stderr (no usage block), exit code 2."""

    def __init__(self, message: str, command: str, what: str = "options") -> None:
        super().__init__(message)
        self.line = f"error: {message} (`{command} --help` lists the {what})"

    def show(self, file: Any = None) -> None:
        typer.echo(self.line, err=True)


def _one_line(exc: Exception, command: str, what: str = "options") -> _OneLineError:
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return _OneLineError(" ".join(message.replace("Value error, ", "").split()), command, what)


class _Argument(TyperArgument):
    """An argument shown by its name: `PATH` in help, `[PATH]` (optional) or `BEFORE` in the usage line."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        name = self.metavar or (self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return [f"{name}..." if self.nargs != 1 else name]


def _name_params(command: Any) -> None:
    """Help shows names and choices (`--format table|json`, `--model MODEL`, `--jobs N`), not type placeholders."""
    for param in command.params:
        if isinstance(param, TyperArgument):
            param.__class__ = _Argument
            param.metavar = param.metavar or (param.name or "").upper()
            continue
        if getattr(param, "is_flag", False) or getattr(param, "metavar", None) is not None:
            continue
        desc = getattr(param, "type_descriptor", None)  # recent Typer; older ones expose click's `type`
        choices = desc.choices if desc is not None and desc.is_choice else None
        choices = choices or getattr(getattr(param, "type", None), "choices", None)
        if choices:
            param.metavar = "|".join(str(getattr(c, "value", c)) for c in choices)
        elif desc is not None and desc.annotation in (int, int | None):
            param.metavar = "N"
        else:
            param.metavar = (param.name or "").upper()


class _Command(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _name_params(self)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _OneLineError:
            raise
        except _UsageError as exc:
            path = f"{parent.command_path} {info_name}" if parent is not None else f"cfmigrate {info_name}"
            raise _one_line(exc, path) from None


class _Group(TyperGroup):
    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _OneLineError:
            raise
        except _UsageError as exc:
            raise _one_line(exc, "cfmigrate", "commands") from None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except _UsageError as exc:
            raise _one_line(exc, "cfmigrate", "commands") from None


# command name -> (module, function), in the order `--help` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("cfmigrate.migrate.cmd_audit", "audit"),
    "generate": ("cfmigrate.migrate.cmd_generate", "generate"),
    "migrate": ("cfmigrate.migrate.cmd_migrate", "migrate"),
    "plan": ("cfmigrate.migrate.cmd_plan", "plan"),
    "measure": ("cfmigrate.migrate.cmd_measure", "measure"),
    "serve": ("cfmigrate.migrate.cmd_serve", "serve"),
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
        cls=_Group,
    )
    new.callback()(_root)
    for name in commands if commands is not None else list(COMMANDS):
        module, function = COMMANDS[name]
        new.command(name, cls=_Command)(getattr(importlib.import_module(module), function))
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
