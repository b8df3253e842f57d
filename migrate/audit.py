"""`cfmigrate audit`: discovery + optional live listing + measurement, as one function the CLI and `plan` call."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from cfmigrate.analyzers import pricing
from cfmigrate.analyzers.clients import CLIENT_ORIGINS, GatewayList, gateway_tool_defs
from cfmigrate.analyzers.discover import discover
from cfmigrate.analyzers.files import atomic_write_text
from cfmigrate.analyzers.measure import AuditReport, CodeModeCosts, load_trace, measure
from cfmigrate.analyzers.model import Inventory, Manifest, Problem
from cfmigrate.analyzers.settings import Settings, load_settings
from cfmigrate.analyzers.tokens import ENCODINGS, BpeTokenizer, CachedCounts, Provider, Tokenizer


class AuditError(Exception):
    """A fatal, user-fixable problem (bad option, unreadable root); the CLI prints it and exits 2."""


@dataclass(frozen=True)
class AuditOptions:
    tokenizer: str | None = None  # "o200k_base" (default), "cl100k_base", or "anthropic"
    model: str | None = None
    provider: Provider | None = None
    price: float | None = None
    requests_per_day: int | None = None
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    connect: bool = False
    timeout: float = 30.0
    trace: Path | None = None
    jobs: int | None = None
    progress: bool = True


def merged_options(root: Path, opts: AuditOptions) -> tuple[AuditOptions, Settings]:
    """Command-line options win over `[tool.cfmigrate]`, which wins over defaults."""
    s = load_settings(root)
    return (
        replace(
            opts,
            tokenizer=opts.tokenizer or s.tokenizer or "o200k_base",
            model=opts.model or s.model,
            provider=opts.provider or s.provider,  # type: ignore[arg-type]
            price=opts.price if opts.price is not None else s.price,
            requests_per_day=opts.requests_per_day
            if opts.requests_per_day is not None
            else s.requests_per_day
            if s.requests_per_day is not None
            else pricing.DEFAULT_REQUESTS_PER_DAY,
            include=tuple(opts.include) or s.include,
            exclude=tuple(opts.exclude) or s.exclude,
        ),
        s,
    )


def make_tokenizer(name: str, model: str | None, timeout: float | None = None) -> Tokenizer:
    if name in ENCODINGS:
        return CachedCounts(BpeTokenizer(name))
    if name == "anthropic":
        if not model:
            raise AuditError("--tokenizer anthropic needs --model (e.g. --model claude-sonnet-5)")
        from cfmigrate.analyzers.anthropic_count import AnthropicTokenizer

        return AnthropicTokenizer(model=model, timeout=timeout)
    raise AuditError(f"unknown --tokenizer {name!r}: choose {', '.join(ENCODINGS)} or anthropic")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfmigrate" / "read-costs"


def _read_costs(
    manifest: Manifest, tok: Tokenizer, renames: Mapping[str, str], wanted: set[str] | None = None
) -> dict[str, object] | Problem:
    """One server's code-mode read costs (its index, its tool modules).

    Offline estimates are cheap to count and cached whole by generator version, tokenizer and
    manifest hash; exact counts (count_tokens) are asked only for the modules in `wanted`.
    """
    from cfmigrate.generators.costs import module_read_costs
    from cfmigrate.generators.errors import GenerateFailure
    from cfmigrate.generators.ir import PACKAGE_FORMAT
    from cfmigrate.migrate import __version__

    exact = hasattr(tok, "request_tokens")
    renamed = json.dumps(sorted(renames.items()))
    key = hashlib.sha256(  # the layout format too: a new layout costs differently under the same version
        f"{__version__}|{PACKAGE_FORMAT}|{tok.label}|{manifest.server}|{manifest.sha256}|{renamed}".encode()
    ).hexdigest()
    path = _cache_dir() / f"{key}.json"
    if not exact:
        try:
            cached: dict[str, object] = json.loads(path.read_text())
            return cached
        except (OSError, ValueError):
            pass
    try:
        index, modules = module_read_costs(
            manifest, tok, renames=renames, tools=(wanted or set()) if exact else None
        )
    except GenerateFailure as exc:
        return Problem(
            "warning",
            f"server {manifest.server!r}: its code interface cannot be generated ({exc}); "
            "its code-mode cost is counted as today's, with no saving",
            manifest.source,
            "see `cfmigrate generate` for the fix",
        )
    data: dict[str, object] = {"index": index, "tools": modules}
    if not exact:
        try:
            atomic_write_text(path, json.dumps(data, sort_keys=True))
        except OSError:  # a read-only home only costs speed
            pass
    return data


def code_mode_costs(
    manifests: Sequence[Manifest],
    tok: Tokenizer,
    renames: Mapping[str, str] | None = None,
    *,
    needed: Mapping[str, set[str]] | None = None,
) -> CodeModeCosts:
    """What the model reads on code mode, measured on the real generated package and runtime prompt.

    `needed` (server -> the tools its agents call) limits the work to the servers some agent reaches;
    nothing is counted that the report does not use. With exact counts (count_tokens) the fixed part
    is one request: the code-first prompt and the execute tool, by subtraction, tool-use prompt included.
    """
    from cfmigrate.runtime import CodeMode

    tool_doc: dict[tuple[str, str], int] = {}
    server_index: dict[str, int] = {}
    problems: list[Problem] = []
    exact = getattr(tok, "request_tokens", None)
    for manifest in manifests:
        if not manifest.tools or (needed is not None and manifest.server not in needed):
            continue
        wanted = needed.get(manifest.server) if needed is not None else None
        read = _read_costs(manifest, tok, renames or {}, wanted)
        if isinstance(read, Problem):
            problems.append(read)
            continue
        server_index[manifest.server] = int(read["index"])  # type: ignore[call-overload]
        tools = read["tools"]
        assert isinstance(tools, dict)
        tool_doc.update({(manifest.server, name): int(n) for name, n in tools.items()})
    code_mode = CodeMode(servers_dir=None, config=None, audit_log=False)
    if exact is not None:
        fixed = int(exact(code_mode.system_prompt(), [code_mode.code_tool("anthropic")]))
    else:
        fixed, _label = code_mode.context_tokens("anthropic", tok)
    return CodeModeCosts(
        fixed=fixed,
        tool_doc=tool_doc,
        server_index=server_index,
        source="code-first prompt + execute tool (cfmigrate.runtime) and the generated package's modules"
        + (
            "; prompt and tool counted by count_tokens subtraction, tool-use prompt included" if exact else ""
        ),
        problems=tuple(problems),
        includes_tool_prompt=exact is not None,
    )


def _with_live(inv: Inventory, root: Path, opts: AuditOptions) -> Inventory:
    from cfmigrate.analyzers.connect import connect_all

    specs = [s for s in inv.servers if not s.disabled]
    results = connect_all(specs, root=root, timeout=opts.timeout, progress=opts.progress, write=True)
    live = {r.server: r.manifest for r in results if r.manifest is not None}
    problems = [r.problem for r in results if r.problem is not None]
    manifests = [live.get(m.server, m) for m in inv.manifests]
    manifests += [m for name, m in sorted(live.items()) if inv.manifest(name) is None]
    return replace(inv, manifests=tuple(manifests), problems=inv.problems + tuple(problems))


def _needed(inv: Inventory) -> dict[str, set[str]]:
    """Server -> the tools its agents call literally: what the code-mode projection has to count."""
    needed: dict[str, set[str]] = {}
    for agent in inv.agents:
        if not agent.servers:
            continue
        for server in agent.servers:
            manifest = inv.manifest(server)
            names = {t.name for t in manifest.tools} if manifest else set()
            needed.setdefault(server, set()).update(set(agent.tool_sequence) & names)
    return needed


def gateway_list(root: Path, inv: Inventory) -> GatewayList | None:
    """The gateway's tools/list for the repository (`cfmigrate serve`, nothing started), when a config-only
    client needs it, and per client config the servers `serve --install` would leave in it."""
    reached = {name for agent in inv.agents for name in agent.servers}
    configs = {s.source.path for s in inv.servers if s.origin in CLIENT_ORIGINS and s.name not in reached}
    if not configs:
        return None
    from cfmigrate.migrate.install import GatewayView, InstallError, plan_install
    from cfmigrate.migrate.install_clients import CLIENTS
    from cfmigrate.migrate.serve import ServeError, gateway_estate
    from cfmigrate.runtime.gateway import GatewayError, gateway_instructions, gateway_tool_list

    try:
        estate = gateway_estate(root)
        spec = estate.spec()
        tools = gateway_tool_defs(gateway_tool_list(spec))
        instructions = gateway_instructions(spec)
    except (ServeError, GatewayError) as exc:
        return GatewayList(None, source=str(exc))
    view = GatewayView(
        served={s.name: s.config for s in estate.served}, unserved={u.name: u.reason for u in estate.unserved}
    )
    direct: dict[str, frozenset[str]] = {}
    for client in CLIENTS:
        place = next(
            (p for p in client.places if (root / p.path).is_file()), None
        )  # what --install would edit
        if place is None or place.path not in configs:
            continue
        try:
            plan = plan_install(root, client.name, view)
        except InstallError:
            continue
        if plan.state != "installed":
            direct[place.path] = frozenset(k.name for k in plan.kept)
    return GatewayList(
        tools,
        served=frozenset(s.name for s in estate.served),
        source=f"`cfmigrate serve` tools/list over {estate.servers_dir.name}/ ({len(estate.served)} servers)",
        instructions=instructions,
        direct=direct,
    )


def run_audit(root: Path, opts: AuditOptions | None = None) -> AuditReport:
    """Discover, optionally list live, and measure one repository."""
    root = root.resolve()
    if not root.is_dir():
        raise AuditError(f"{root}: not a directory; pass the repository to audit")
    given = opts or AuditOptions()
    opts, settings = merged_options(root, given)
    price_source = "--price" if given.price is not None else f"[tool.cfmigrate] price in {settings.source}"
    assert opts.tokenizer is not None
    if opts.tokenizer == "anthropic" and opts.provider == "openai":
        raise AuditError(
            "--tokenizer anthropic counts Claude's tokens, but --provider openai renders tools as OpenAI "
            "receives them: use --tokenizer o200k_base for OpenAI, or --provider anthropic"
        )
    trace = None
    if opts.trace is not None:
        try:
            trace = load_trace(opts.trace)
        except OSError as exc:
            raise AuditError(f"{opts.trace}: cannot read the trace ({exc.strerror})") from None
        except ValueError as exc:
            raise AuditError(str(exc)) from None
    inv = discover(root, include=opts.include, exclude=opts.exclude, jobs=opts.jobs)
    if opts.connect:
        inv = _with_live(inv, root, opts)
    tok = make_tokenizer(opts.tokenizer, opts.model, timeout=opts.timeout)
    exact = tok if hasattr(tok, "request_tokens") else None
    if exact is not None and opts.provider is None:
        openai_agents = [a.name for a in inv.agents if a.provider == "openai"]
        if openai_agents:
            raise AuditError(
                f"--tokenizer anthropic counts Claude's tokens, but {', '.join(openai_agents[:3])} "
                "call OpenAI: pass --provider anthropic to count their tools as Claude would receive "
                "them, or use --tokenizer o200k_base"
            )
    if inv.agents:
        costs = code_mode_costs(inv.manifests, tok, settings.rename, needed=_needed(inv))
    else:  # no agent: nothing is projected onto code mode
        costs = CodeModeCosts(fixed=0, source="not computed: no agent found")
    report = measure(
        inv,
        tok,
        costs,
        provider=opts.provider,
        model=opts.model,
        price=opts.price,
        requests_per_day=opts.requests_per_day or pricing.DEFAULT_REQUESTS_PER_DAY,
        trace=trace,
        count_system=lambda agent: tok.count(agent.system_prompt) if agent.system_prompt else 0,
        price_source=price_source,
        exact=exact,  # type: ignore[arg-type]
        gateway=gateway_list(root, inv),
    )
    if isinstance(tok, CachedCounts):
        tok.save()
    return report


def exit_code(report: AuditReport, fail_over: int | None) -> tuple[Literal[0, 1], str | None]:
    """1 and a message when an agent's per-request tool context exceeds the --fail-over gate."""
    if fail_over is None:
        return 0, None
    over = [
        a for a in report.agents if a.tool_context_tokens is not None and a.tool_context_tokens > fail_over
    ]
    if not over:
        return 0, None
    worst = max(over, key=lambda a: a.tool_context_tokens or 0)
    others = f" (and {len(over) - 1} more)" if len(over) > 1 else ""
    return 1, (
        f"--fail-over {fail_over:,}: agent {worst.name} ({worst.source}) sends {worst.tool_context_tokens:,} "
        f"tokens of tool context per request{others} ({report.tokenizer})"
    )


def problems_text(problems: Sequence[Problem]) -> list[str]:
    return [
        f"{p.level}: {p.source}: {p.message}" if p.source else f"{p.level}: {p.message}" for p in problems
    ]
