"""`cfmigrate migrate [PATH...]`: rewrite agents from direct MCP tool calling to code mode, reviewably."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cfmigrate.analyzers.settings import SettingsError
from cfmigrate.migrate.rules import REGISTRY, all_rules
from cfmigrate.migrate.rules import UnknownRuleError as _UnknownRule
from cfmigrate.migrate.runner import MigrateError, MigrationResult, repository_root
from cfmigrate.migrate.runner import migrate as run_migrate


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def rules_table() -> str:
    """`--list-rules`: ID, what it rewrites, and whether it can be turned off."""
    lines = []
    for rule in all_rules():
        flag = "  (always on when needed)" if rule.ALWAYS else ""
        lines.append(f"{rule.RULE_ID}  {rule.TITLE}{flag}\n        {rule.DESCRIPTION}")
    return "\n".join(lines) + "\n"


def render_summary(result: MigrationResult, *, check: bool) -> str:
    """The summary printed after the diff: files, sites per rule, what was left alone and why."""
    out: list[str] = []
    verb = "rewrote" if result.written else "would rewrite"
    for item in result.changed:
        out.append(f"{verb} {item.path}")
    n = len(result.changed)
    state = (
        f"{n} file{'s' * (n != 1)} {'changed' if result.written else 'would change'}"
        if n
        else "nothing to change"
    )
    out.append(
        f"cfmigrate migrate: {state}; {result.parsed} of {result.scanned} Python files parsed, "
        f"{len(result.errors)} error{'s' * (len(result.errors) != 1)} ({result.seconds:.2f} s)"
    )
    counts = result.counts()
    for rule_id in result.rules:
        done, left = counts.get(rule_id, (0, 0))
        rule = REGISTRY[rule_id]
        out.append(f"  {rule_id}  {rule.TITLE:<44} {done:>3} rewritten, {left:>3} left alone")
    listed = {(m.path, m.line) for m in result.manual}
    left_alone = [(p, s) for p, s in result.sites(applied=False, manual=False) if (p, s.line) not in listed]
    if left_alone:
        out.append(f"left alone ({len(left_alone)}):")
        out.extend(f"  {path}:{site.line}  {site.rule}  {site.message}" for path, site in left_alone)
    manual = [(p, s) for p, s in result.sites(manual=True) if (p, s.line) not in listed]
    if manual:
        out.append(f"to do by hand ({len(manual)}):")
        out.extend(f"  {path}:{site.line}  {site.rule}  {site.message}" for path, site in manual)
    if result.manual:
        out.append(f"needs manual migration, files left unchanged ({len(result.manual)}):")
        out.extend(f"  {m.path}:{m.line}  {m.reason}" for m in result.manual)
    if result.skipped:
        out.append(f"skipped, left on direct MCP ({len(result.skipped)}):")
        out.extend(f"  {path}:{line}  {why}" for path, line, why in result.skipped)
    if result.errors:
        out.append(f"errors ({len(result.errors)}):")
        out.extend(
            f"  {item.path}{f':{item.line}' if item.line else ''}  {item.error}" for item in result.errors
        )
    for note in result.notes:
        out.append(f"note: {note}")
    if result.wrappers is not None and result.wrappers.state != "not-needed":
        suffix = ""
        if result.wrappers.state in ("missing", "stale") and not result.written:
            suffix = " (runs first with --write)" if not check else ""
        out.append(f"wrappers: {result.wrappers.message}{suffix}")
    return "\n".join(out) + "\n"


def migrate(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Repository root (default: .), or files/folders inside the current repository."),
    ] = None,
    write: Annotated[
        bool, typer.Option("--write", help="Apply the changes (atomic writes); exit 1 when files changed.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when changes are pending.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run only these rule IDs (comma-separated or repeated)."),
    ] = None,
    disable: Annotated[
        list[str] | None, typer.Option("--disable", help="Skip these rule IDs (comma-separated or repeated).")
    ] = None,
    list_rules: Annotated[
        bool, typer.Option("--list-rules", help="Print the rules in the order they run, and exit.")
    ] = False,
    allow_dirty: Annotated[
        bool,
        typer.Option("--allow-dirty", help="Let --write run over uncommitted changes in the git work tree."),
    ] = False,
    no_generate: Annotated[
        bool,
        typer.Option(
            "--no-generate",
            help="Do not run `cfmigrate generate` first when the wrappers are missing or stale.",
        ),
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="List every server's tools live first and update the snapshots (as generate --refresh).",
        ),
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff/--no-diff", help="Print the unified diff (default) or only the summary.")
    ] = True,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", help="Worker processes (default: CPU count).")
    ] = None,
    all_agents: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also migrate agents the decision framework keeps on direct MCP (e.g. fewer than 20 tools).",
        ),
    ] = False,
) -> None:
    """Rewrite agents to code mode over MCP: typed wrappers, the runtime's dispatch, tool definitions and prompt."""
    if list_rules:
        typer.echo(rules_table(), nl=False)
        raise typer.Exit(0)
    if write and check:
        raise _fail("--check never writes: use either --check or --write")
    given = list(paths or [])
    if len(given) == 1 and given[0].is_dir():
        root, targets = given[0], []
    else:
        root, targets = repository_root(Path.cwd()), given
        outside = [t for t in targets if not t.resolve().is_relative_to(root)]
        if outside:
            raise _fail(
                f"{outside[0]} is outside the repository root {root}; "
                "run cfmigrate from the repository that holds it (or pass that repository as the only PATH)"
            )
    try:
        result = run_migrate(
            root,
            targets=targets,
            only=_split(only),
            disable=_split(disable),
            write=write,
            allow_dirty=allow_dirty,
            generate=not no_generate,
            refresh=refresh,
            jobs=jobs,
            all_agents=all_agents,
        )
    except (MigrateError, SettingsError, _UnknownRule) as exc:
        raise _fail(str(exc)) from None
    if diff:  # --write prints what it wrote, too
        sys.stdout.write(result.diff())
    sys.stderr.write(render_summary(result, check=check))
    if result.errors:
        raise typer.Exit(2)
    if (check or write) and (result.changed or result.manual):
        raise typer.Exit(1)  # changes pending or written, or an agent still needs manual migration
    raise typer.Exit(0)
