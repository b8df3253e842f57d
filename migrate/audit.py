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
from cfmigrate.analyzers.discover import discover
from cfmigrate.analyzers.files import atomic_write_text
from cfmigrate.analyzers.measure import AuditReport, CodeModeCosts, load_trace, measure
from cfmigrate.analyzers.model import Inventory, Manifest, Problem
from cfmigrate.analyzers.settings import Settings, load_settings
from cfmigrate.analyzers.tokens import ENCODINGS, BpeTokenizer, Provider, Tokenizer


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
            provider=opts.provider or (s.provider if s.provider in ("anthropic", "openai") else None),  # type: ignore[arg-type]
            price=opts.price if opts.price is not None else s.price,
            requests_per_day=opts.requests_per_day or s.requests_per_day or pricing.DEFAULT_REQUESTS_PER_DAY,
            include=tuple(opts.include) or s.include,
            exclude=tuple(opts.exclude) or s.exclude,
        ),
        s,
    )


def make_tokenizer(name: str, model: str | None) -> Tokenizer:
    if name in ENCODINGS:
        return BpeTokenizer(name)
    if name == "anthropic":
        if not model:
            raise AuditError("--tokenizer anthropic needs --model (e.g. --model claude-sonnet-4-6)")
        from cfmigrate.analyzers.anthropic_count import AnthropicTokenizer

        return AnthropicTokenizer(model=model)
    raise AuditError(f"unknown --tokenizer {name!r}: choose {', '.join(ENCODINGS)} or anthropic")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfmigrate" / "read-costs"


def _read_costs(
    manifest: Manifest, tok: Tokenizer, renames: Mapping[str, str]
) -> dict[str, object] | Problem:
    """One server's code-mode read costs, cached by generator version, tokenizer and manifest hash."""
    from cfmigrate.generators.costs import code_mode_read_costs
    from cfmigrate.generators.errors import GenerateFailure
    from cfmigrate.migrate import __version__

    renamed = json.dumps(sorted(renames.items()))
    key = hashlib.sha256(
        f"{__version__}|{tok.label}|{manifest.server}|{manifest.sha256}|{renamed}".encode()
    ).hexdigest()
    path = _cache_dir() / f"{key}.json"
    try:
        cached: dict[str, object] = json.loads(path.read_text())
        return cached
    except (OSError, ValueError):
        pass
    try:
        read = code_mode_read_costs([manifest], tok, renames=renames).servers[0]
    except GenerateFailure as exc:
        return Problem(
            "warning",
            f"server {manifest.server!r}: its code interface cannot be generated ({exc}); "
            "its code-mode cost is counted as today's, with no saving",
            manifest.source,
            "see `cfmigrate generate` for the fix",
        )
    data: dict[str, object] = {"index": read.index, "tools": {t.tool: t.module for t in read.tools}}
    try:
        atomic_write_text(path, json.dumps(data, sort_keys=True))
    except OSError:  # a read-only home only costs speed
        pass
    return data


def code_mode_costs(
    manifests: Sequence[Manifest], tok: Tokenizer, renames: Mapping[str, str] | None = None
) -> CodeModeCosts:
    """What the model reads on code mode, measured on the real generated package and runtime prompt."""
    from cfmigrate.runtime import CodeMode

    tool_doc: dict[tuple[str, str], int] = {}
    server_index: dict[str, int] = {}
    problems: list[Problem] = []
    for manifest in manifests:
        if not manifest.tools:
            continue
        read = _read_costs(manifest, tok, renames or {})
        if isinstance(read, Problem):
            problems.append(read)
            continue
        server_index[manifest.server] = int(read["index"])  # type: ignore[call-overload]
        tools = read["tools"]
        assert isinstance(tools, dict)
        tool_doc.update({(manifest.server, name): int(n) for name, n in tools.items()})
    fixed, _label = CodeMode(servers_dir=None, config=None, audit_log=False).context_tokens("anthropic", tok)
    return CodeModeCosts(
        fixed=fixed,
        tool_doc=tool_doc,
        server_index=server_index,
        source="code-first prompt + execute tool (cfmigrate.runtime) and the generated package's modules",
        problems=tuple(problems),
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


def run_audit(root: Path, opts: AuditOptions | None = None) -> AuditReport:
    """Discover, optionally list live, and measure one repository."""
    root = root.resolve()
    if not root.is_dir():
        raise AuditError(f"{root}: not a directory; pass the repository to audit")
    given = opts or AuditOptions()
    price_source = "--price" if given.price is not None else "[tool.cfmigrate] price in pyproject.toml"
    opts, settings = merged_options(root, given)
    assert opts.tokenizer is not None
    tok = make_tokenizer(opts.tokenizer, opts.model)
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
    prime = getattr(tok, "prime_tools", None)
    if prime is not None:  # exact counts: each tool's figure is its marginal cost within its server's set
        for manifest in inv.manifests:
            if manifest.tools:
                prime(manifest.tools)
    costs = code_mode_costs(inv.manifests, tok, settings.rename)
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
    )
    return report


def exit_code(report: AuditReport, fail_over: int | None) -> Literal[0, 1]:
    """1 when any agent's per-request tool context exceeds the --fail-over gate."""
    if fail_over is not None and report.totals["max_per_request_tokens"] > fail_over:
        return 1
    return 0


def problems_text(problems: Sequence[Problem]) -> list[str]:
    return [
        f"{p.level}: {p.source}: {p.message}" if p.source else f"{p.level}: {p.message}" for p in problems
    ]
