"""`cfmigrate serve [PATH]`: one MCP server (stdio, or streamable HTTP on 127.0.0.1) in front of a repository's servers."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from cfmigrate.migrate import __version__


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def serve(
    path: Annotated[
        Path, typer.Argument(help="Repository to serve (its configs and generated servers/).")
    ] = Path("."),
    http: Annotated[
        int | None,
        typer.Option(
            "--http",
            min=1,
            max=65535,
            metavar="PORT",
            help="Serve streamable HTTP on http://127.0.0.1:PORT/mcp instead of stdio.",
        ),
    ] = None,
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="An MCP config holding the servers' env/header values, read before the repository's (repeatable).",
        ),
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow", metavar="SERVER/TOOL", help="Policy: allow these calls (wildcards; repeatable)."
        ),
    ] = None,
    deny: Annotated[
        list[str] | None,
        typer.Option(
            "--deny", metavar="SERVER/TOOL", help="Policy: refuse these calls (wildcards; repeatable)."
        ),
    ] = None,
    ask: Annotated[
        list[str] | None,
        typer.Option(
            "--ask",
            metavar="SERVER/TOOL",
            help="Policy: ask the user before these calls (wildcards; repeatable).",
        ),
    ] = None,
    install: Annotated[
        str | None,
        typer.Option(
            "--install",
            metavar="CLIENT",
            help="Point CLIENT's config in the repository at the gateway instead of the servers it serves "
            "(claude-code, cursor, vscode, codex, gemini, windsurf, claude-desktop, cline, roo, kiro, amazon-q, "
            "zed): a diff, and with --write the change plus a backup next to the config.",
        ),
    ] = None,
    uninstall: Annotated[
        str | None,
        typer.Option(
            "--uninstall",
            metavar="CLIENT",
            help="Restore CLIENT's config from the backup --install wrote, byte for byte (diff; --write applies).",
        ),
    ] = None,
    write: Annotated[
        bool,
        typer.Option("--write", help="With --install/--uninstall: apply the change (default: a dry run)."),
    ] = False,
) -> None:
    """Serve the repository's MCP estate as one MCP server: discovery, execute_code, kept-direct tools.

    The servers behind it start on first use; their credentials stay in this process. Run `cfmigrate generate`
    first: the gateway serves the generated servers/ package and reloads when it is regenerated.
    """
    if install is not None or uninstall is not None or write:
        policy = [
            f"--{flag}={pattern}"
            for flag, given in (("allow", allow), ("deny", deny), ("ask", ask))
            for pattern in given or ()
        ]
        _install(
            path, install=install, uninstall=uninstall, write=write, http=http, config=config, policy=policy
        )
    _serve(path, http=http, configs=tuple(config or ()), allow=allow or [], deny=deny or [], ask=ask or [])


def _install(
    path: Path,
    *,
    install: str | None,
    uninstall: str | None,
    write: bool,
    http: int | None,
    config: list[Path] | None,
    policy: list[str],
) -> None:
    """`--install/--uninstall CLIENT [--write]`: a diff (secret values as ***), then what moved and what stayed.

    `--allow/--deny/--ask` given with `--install` go into the gateway entry, so the client's gateway applies them.

    Exit codes follow `migrate`: 1 when the config changes or would change, 0 when there is nothing to do,
    2 on an error (one line on stderr, nothing written).
    """
    from cfmigrate.migrate.install import (
        GatewayView,
        InstallError,
        apply_install,
        apply_uninstall,
        plan_install,
        plan_uninstall,
        summary,
    )
    from cfmigrate.migrate.serve import ServeError, gateway_estate

    if install is not None and uninstall is not None:
        raise _fail("--install and --uninstall are exclusive; pass one of them")
    if install is None and uninstall is None:
        raise _fail("--write applies --install CLIENT or --uninstall CLIENT; pass one of them")
    if http is not None or config:
        raise _fail("--install/--uninstall edit a client config and start nothing: drop --http and --config")
    if uninstall is not None and policy:
        raise _fail("--allow/--deny/--ask go into the gateway entry with --install; --uninstall takes none")
    root = path.resolve()
    if not root.is_dir():
        raise _fail(f"{path} is not a directory; pass the repository whose client config to edit")

    def view() -> GatewayView:
        estate = gateway_estate(root)
        return GatewayView(
            served={s.name: s.config for s in estate.served},
            unserved={u.name: u.reason for u in estate.unserved},
        )

    try:
        if install is not None:
            plan = plan_install(root, install, view, policy)
            if write:
                apply_install(plan)
        else:
            assert uninstall is not None
            plan = plan_uninstall(root, uninstall)
            if write:
                apply_uninstall(plan)
    except (InstallError, ServeError) as exc:
        raise _fail(str(exc)) from None
    sys.stdout.write(plan.diff())
    for line in summary(plan, written=write):
        typer.echo(line, err=True)
    raise typer.Exit(1 if plan.state == "change" else 0)


def _serve(
    path: Path,
    *,
    http: int | None,
    configs: tuple[Path, ...],
    allow: list[str],
    deny: list[str],
    ask: list[str],
) -> None:
    from cfmigrate.migrate.serve import ServeError, gateway_estate
    from cfmigrate.runtime.gateway import GatewayError, GatewaySpec
    from cfmigrate.runtime.gateway import serve as run_gateway
    from cfmigrate.runtime.policy import Decision, Policy

    for given in configs:
        if not given.is_file():
            raise _fail(
                f"--config {given} does not exist; pass an MCP config file (JSON, JSONC, TOML or YAML)"
            )
    rules: dict[str, Decision] = {}
    by_decision: tuple[tuple[Decision, list[str]], ...] = (("allow", allow), ("ask", ask), ("deny", deny))
    for decision, patterns in by_decision:  # deny wins a tie
        for pattern in patterns:
            rules[pattern] = decision
    policy = Policy(rules=rules)
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="cfmigrate serve: %(message)s")
    # start-up protections and reloads, for the operator
    logging.getLogger("cfmigrate").setLevel(logging.INFO)
    first = True

    def load() -> GatewaySpec:
        nonlocal first
        estate = gateway_estate(path, configs=configs)
        if first:
            first = False
            for server in estate.unserved:
                where = f" ({server.config})" if server.config else ""
                typer.echo(f"cfmigrate serve: not serving {server.name}{where}: {server.reason}", err=True)
            for note in estate.notes:
                typer.echo(f"cfmigrate serve: {note}", err=True)
        return estate.spec(policy)

    def ready(_gateway: object) -> None:
        if http is not None:
            typer.echo(f"cfmigrate serve: http://127.0.0.1:{http}/mcp", err=True)

    try:
        asyncio.run(
            run_gateway(
                load, transport="http" if http is not None else "stdio", port=http or 0, version=__version__,
                ready=ready,
            )
        )  # fmt: skip
    except (ServeError, GatewayError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
