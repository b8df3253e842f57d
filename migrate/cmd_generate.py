"""`cfmigrate generate`: the typed `servers/` package from the best known tool lists, or `--check` that it is current."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cfmigrate.analyzers.model import Problem
from cfmigrate.analyzers.settings import SettingsError, load_settings
from cfmigrate.generators.api import GenerateOptions, Outcome, check
from cfmigrate.generators.api import generate as run_generate
from cfmigrate.generators.api import refresh as run_refresh
from cfmigrate.generators.errors import GenerateFailure, NoManifests
from cfmigrate.generators.writer import check_out_dir


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _report(problems: tuple[Problem, ...] | list[Problem], verbose: bool) -> None:
    notes = 0
    for p in problems:
        if p.level == "info" and not verbose:
            notes += 1
            continue
        where = f" ({p.source})" if p.source else ""
        hint = f"\n  hint: {p.hint}" if p.hint else ""
        typer.echo(f"{p.level}: {p.message}{where}{hint}", err=True)
    if notes:
        typer.echo(
            f"note: {notes} schema details are left to the server to check; --verbose lists them", err=True
        )


def generate(
    root: Annotated[
        Path, typer.Option("--root", help="Repository root (configs, .cfmigrate/ snapshots, pyproject.toml).")
    ] = Path("."),
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            help="Package directory, relative to --root (default: [tool.cfmigrate] out, else servers).",
        ),
    ] = None,
    manifest: Annotated[
        list[Path] | None,
        typer.Option(
            "--manifest",
            help="A tools/list JSON dump to generate from (repeatable); wins over a snapshot of the same server.",
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh", help="Connect to every configured server, rewrite its snapshot, then generate."
        ),
    ] = False,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 with a diff when the package is stale or hand-edited; never writes."
        ),
    ] = False,
    server: Annotated[
        list[str] | None,
        typer.Option(
            "--server", help="Only this server (repeatable; default: [tool.cfmigrate] servers, else all)."
        ),
    ] = None,
    no_discover: Annotated[
        bool,
        typer.Option(
            "--no-discover", help="Do not read the repository's configs and snapshots; only --manifest files."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also list schema details left to the server.")
    ] = False,
) -> None:
    """Generate the typed servers/ package (one module per tool) from tool snapshots, or --check it.

    Per server the best known tool list is used: snapshot, then manifest file, then static analysis of the
    server's own source, then the bundled catalog; a line names each server not generated from a snapshot.
    """
    if check_only and refresh:
        raise _fail("--check never writes, so it cannot --refresh; run `cfmigrate generate --refresh` first")
    root = root.resolve()
    if not root.is_dir():
        raise _fail(f"--root {root} is not a directory")
    try:
        settings = load_settings(root)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    options = GenerateOptions(
        root=root,
        out=out or settings.out or "servers",
        manifest_files=tuple(manifest or ()),
        servers=tuple(server or settings.servers),
        renames=tuple(sorted(settings.rename.items())),
        discover=not no_discover,
    )
    try:
        check_out_dir(options.root, options.out_dir)  # before --refresh writes any snapshot
        if check_only and not options.out_dir.is_dir():
            typer.echo(
                f"{options.out}/ does not exist under {root}: write it with `cfmigrate generate`", err=True
            )
            raise typer.Exit(1)
        if refresh:
            _report(run_refresh(options), verbose)
        outcome = check(options) if check_only else run_generate(options)
    except NoManifests as exc:
        if not refresh:
            raise _fail(str(exc)) from None
        errors = f" ({exc.errors})" if exc.errors else ""
        raise _fail(
            f"no tool manifests to generate from: --refresh listed no server's tools (none configured in the MCP "
            f"configs under {root}, or none answered: see above); add the servers to an MCP config such as "
            f".mcp.json, or pass --manifest FILE{errors}"
        ) from None
    except GenerateFailure as exc:
        raise _fail(str(exc)) from None
    for line in outcome.provenance:
        typer.echo(line, err=True)
    _report(outcome.problems, verbose)
    raise typer.Exit(_summary(options, outcome, check_only))


def _summary(options: GenerateOptions, outcome: Outcome, check_only: bool) -> int:
    label = options.out
    if check_only:
        if outcome.in_sync:
            how = " (stamp)" if outcome.fast_path else ""
            typer.echo(f"{label}/ is up to date{how} [{outcome.seconds:.2f} s]")
            return 0
        sys.stdout.write(outcome.diff_text)
        diff = outcome.diff
        assert diff is not None
        counts = f"{len(diff.changed)} changed, {len(diff.added)} missing, {len(diff.removed) + len(diff.foreign)} extra"
        typer.echo(f"{label}/ is stale or hand-edited ({counts}): run `cfmigrate generate`", err=True)
        return 1
    servers = len(outcome.package.servers) if outcome.package else 0
    state = "written" if outcome.written else "unchanged"
    typer.echo(
        f"{label}/: {servers} servers, {outcome.tool_count} tools, {len(outcome.files)} files, {state} "
        f"[{outcome.seconds:.2f} s]"
    )
    return 0


def main() -> None:
    """`python -m cfmigrate.migrate.cmd_generate [OPTIONS]`: this command alone, without loading the others."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(generate)
    app()


if __name__ == "__main__":
    main()
