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
) -> None:
    """Serve the repository's MCP estate as one MCP server: discovery, execute_code, kept-direct tools.

    The servers behind it start on first use; their credentials stay in this process. Run `cfmigrate generate`
    first: the gateway serves the generated servers/ package and reloads when it is regenerated.
    """
    _serve(path, http=http, configs=tuple(config or ()), allow=allow or [], deny=deny or [], ask=ask or [])


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
