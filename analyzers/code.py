"""Static analysis of Python files: MCP servers declared or defined in code, and the agents that use them.

Read-only: files are parsed with libcst and names are resolved through their imports; no code is
imported or executed. `PREFILTER` is a byte-level test that lets `discover` skip almost every file
without parsing it.
"""

from __future__ import annotations

import ast
import codecs
import io
import re
import tokenize
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from cfmigrate.analyzers.code_apis import provider_of_model
from cfmigrate.analyzers.code_eval import Decl, Event, ModuleAnalysis, SrvRef
from cfmigrate.analyzers.configs import redact_args, redact_url
from cfmigrate.analyzers.model import (
    Agent,
    CallSite,
    Manifest,
    Problem,
    ServerSpec,
    SourceRef,
    ToolDef,
)

__all__ = [
    "MAX_FILE_BYTES",
    "PREFILTER",
    "ConfigRef",
    "PythonFacts",
    "analyze_python",
    "is_relevant",
    "module_name",
]

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Python files larger than this are skipped (with an info Problem): generated or vendored code."""

_ROOTS = (
    "mcp",
    "fastmcp",
    "mcp_use",
    "mcp_types",
    "langchain_mcp_adapters",
    "agents",
    "pydantic_ai",
    "google",
    "smolagents",
    "crewai_tools",
    "crewai",
    "cfmigrate",
    "servers",
    "openai",  # hosted MCP tools: tools=[{"type": "mcp", ...}]
    "anthropic",  # the MCP connector: mcp_servers=[{"type": "url", ...}]
)
PREFILTER: re.Pattern[bytes] = re.compile(
    rb"(?m)^[ \t]*(?:from[ \t]+|import[ \t]+(?:[\w.]+(?:[ \t]+as[ \t]+\w+)?[ \t]*,[ \t]*)*)(?:"
    + b"|".join(r.encode() for r in _ROOTS)
    + rb")\b"
)
"""An import of a package this analysis knows. Every MCP API it recognises is reached through one of
these imports, so a file with no match cannot hold anything relevant."""

_MARKERS = (b"mcp", b"cfmigrate", b"servers")
"""Lower-cased byte strings one of which every relevant file contains: checked first because a plain
substring test is several times faster than the regex."""

_CALL_KINDS: frozenset[str] = frozenset(
    {"call_tool", "list_tools", "tools_param", "prompt_tools", "framework", "code_mode"}
)
_SDK_FRAMEWORKS = ("anthropic", "openai")


@dataclass(frozen=True)
class ConfigRef:
    """A config file an agent reads by a literal path; `discover` links the agent to that file's servers."""

    agent: str
    candidates: tuple[str, ...]  # repository-relative paths to try, nearest first
    source: SourceRef


@dataclass(frozen=True)
class PythonFacts:
    """What one Python file contributes to the inventory."""

    servers: tuple[ServerSpec, ...] = ()  # servers declared in code with literal args
    defined: tuple[
        Manifest, ...
    ] = ()  # MCP servers defined in this file (origin="code"): their tools statically
    agents: tuple[Agent, ...] = ()
    problems: tuple[Problem, ...] = ()
    config_refs: tuple[ConfigRef, ...] = ()


def is_relevant(data: bytes) -> bool:
    """The byte prefilter: a quick substring test, then `PREFILTER`."""
    lowered = data.lower()
    if not any(marker in lowered for marker in _MARKERS):
        return False
    return PREFILTER.search(data) is not None


def module_name(rel: str) -> str:
    """Dotted module name of a repository-relative `.py` path (`pkg/__init__.py` -> `pkg`)."""
    stem = rel[:-3] if rel.endswith(".py") else rel
    parts = [p for p in stem.split("/") if p]
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _decode(source: bytes, rel: str) -> tuple[str | None, Problem | None]:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as exc:
        return None, Problem(
            "warning",
            f"cannot read {rel}: {exc.msg}; the file was skipped",
            SourceRef(rel, getattr(exc, "lineno", None) or 1),
            "fix the encoding declaration",
        )
    try:
        codecs.lookup(encoding)
        return source.decode(encoding), None
    except UnicodeDecodeError as exc:
        line = source[: exc.start].count(b"\n") + 1
        return None, Problem(
            "warning",
            f"cannot read {rel}: byte 0x{source[exc.start]:02x} at line {line} is not valid {encoding}; the file was skipped",
            SourceRef(rel, line),
            "save the file as UTF-8 (or declare its encoding)",
        )
    except LookupError:
        return None, Problem(
            "warning",
            f"cannot read {rel}: unknown encoding {encoding!r}; the file was skipped",
            SourceRef(rel, 1),
            "declare a known encoding, or save the file as UTF-8",
        )


def analyze_python(source: bytes, rel: str) -> PythonFacts:
    """Find the MCP servers, tool definitions and agents in one Python file, without running it."""
    if len(source) > MAX_FILE_BYTES:
        return PythonFacts(
            problems=(
                Problem(
                    "info",
                    f"{rel} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB and was not analysed",
                    SourceRef(rel),
                    "if it holds agent code, split it or list it under `include` in [tool.cfmigrate]",
                ),
            )
        )
    if not is_relevant(source):
        return PythonFacts()
    text, problem = _decode(source, rel)
    if text is None:
        return PythonFacts(problems=(problem,) if problem else ())
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        line, message = exc.raw_line, exc.message
        try:  # CPython's parser points at the offending line more precisely
            compile(text, rel, "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
        except SyntaxError as syntax:
            line, message = syntax.lineno or line, syntax.msg
        except (ValueError, RecursionError, MemoryError):
            pass
        return PythonFacts(
            problems=(
                Problem(
                    "warning",
                    f"cannot parse {rel}: {message} (line {line}); the file was skipped",
                    SourceRef(rel, line),
                    "fix the syntax error, or leave the file out with `exclude` in [tool.cfmigrate]",
                ),
            )
        )
    except RecursionError:
        return PythonFacts(problems=(_too_deep(rel),))
    try:
        analysis = ModuleAnalysis(module, rel)
        analysis.run()
        return _facts(analysis, rel)
    except RecursionError:
        return PythonFacts(problems=(_too_deep(rel),))
    except Exception as exc:  # a bug here must not stop the audit of the other files
        return PythonFacts(
            problems=(
                Problem(
                    "warning",
                    f"cfmigrate could not analyse {rel} ({type(exc).__name__}: {exc}); the file was skipped",
                    SourceRef(rel),
                    "please report this with the file (or a reduced copy)",
                ),
            )
        )


def _too_deep(rel: str) -> Problem:
    return Problem(
        "warning",
        f"{rel} is nested too deeply to analyse; the file was skipped",
        SourceRef(rel),
        "leave it out with `exclude` in [tool.cfmigrate]",
    )


# --- assembling the facts ----------------------------------------------------------------------------


def _server_names(decls: list[Decl]) -> dict[int, str]:
    """A final name per declaration: identical launches share one name, different ones never do."""
    names: dict[int, str] = {}
    by_launch: dict[tuple[object, ...], str] = {}
    taken: dict[str, tuple[object, ...]] = {}
    for index, decl in enumerate(decls):
        launch = decl.launch()
        if launch in by_launch and not decl.explicit_name:
            names[index] = by_launch[launch]
            continue
        base = decl.name()
        name, n = base, 1
        while name in taken and taken[name] != launch:
            n += 1
            name = f"{base}-{n}"
        taken[name] = launch
        by_launch.setdefault(launch, name)
        names[index] = name
    return names


def _spec(decl: Decl, name: str, rel: str) -> ServerSpec:
    transport = decl.kind if decl.kind in ("stdio", "http", "sse") else "unknown"
    return ServerSpec(
        name=name,
        transport=transport,  # type: ignore[arg-type]
        source=SourceRef(rel, decl.line),
        origin=decl.origin,
        command=decl.command,
        args=redact_args(decl.args),
        cwd=decl.cwd,
        url=redact_url(decl.url) if decl.url else None,
        env_names=decl.env_names,
        header_names=decl.header_names,
        env_refs=decl.env_refs,
        package=decl.package,
        tool_filter=decl.tool_filter,
    )


def _facts(analysis: ModuleAnalysis, rel: str) -> PythonFacts:
    problems: list[Problem] = []
    names = _server_names(analysis.decls)
    specs: dict[str, ServerSpec] = {}
    for index, decl in enumerate(analysis.decls):
        name = names[index]
        if name in specs:
            continue
        specs[name] = _spec(decl, name, rel)
    for line, origin, parts in analysis.incomplete:
        problems.append(
            Problem(
                "info",
                f"an MCP server declared at {rel}:{line} ({origin.removeprefix('code:')}) is built from values "
                f"known only at run time ({', '.join(parts)}); it is not listed as a server",
                SourceRef(rel, line),
                "declare the server in .mcp.json (or with literal values) so cfmigrate can start it",
            )
        )
    defined: list[Manifest] = []
    seen_defined: set[str] = set()
    for server in analysis.defined:
        if server.name in seen_defined:
            continue
        seen_defined.add(server.name)
        tools: dict[str, ToolDef] = {}
        for tool in server.tools:
            tools.setdefault(tool.name, tool)
        defined.append(
            Manifest(
                server=server.name,
                tools=tuple(sorted(tools.values(), key=lambda t: t.name)),
                origin="code",
                source=SourceRef(rel, server.line),
                server_name=server.name,
            )
        )
        for tool_name, annotation in sorted(set(server.unknown_types)):
            problems.append(
                Problem(
                    "info",
                    f"tool {tool_name!r} of server {server.name!r} ({rel}): the type {annotation!r} is not "
                    "visible to static analysis; that part of its schema is left open",
                    SourceRef(rel, server.line),
                    "run `cfmigrate audit --connect` to read the exact schema from the server",
                )
            )
    agents, config_refs = _agents(analysis.events, names, rel)
    return PythonFacts(
        servers=tuple(sorted(specs.values(), key=lambda s: s.name)),
        defined=tuple(sorted(defined, key=lambda m: m.server)),
        agents=agents,
        problems=tuple(problems),
        config_refs=config_refs,
    )


def _server_name(ref: SrvRef, names: dict[int, str]) -> str:
    return names[ref] if isinstance(ref, int) else ref


def _agents(
    events: list[tuple[str | None, Event]], names: dict[int, str], rel: str
) -> tuple[tuple[Agent, ...], tuple[ConfigRef, ...]]:
    by_unit: dict[str | None, list[Event]] = defaultdict(list)
    for unit, event in events:
        by_unit[unit].append(event)
    mcp_units = [u for u, evs in by_unit.items() if any(e.mcp for e in evs)]
    if not mcp_units:
        return (), ()
    module = module_name(rel)
    anchored = [
        u for u in mcp_units if u is not None and any(e.kind in ("model", "anchor") for e in by_unit[u])
    ]
    groups: list[tuple[str, list[Event]]]
    if len(anchored) >= 2:
        groups = [
            (f"{module}:{u}" if u is not None else module, by_unit[u])
            for u in sorted(mcp_units, key=lambda u: (u is not None, u or ""))
        ]
        fallback = False
    else:
        groups = [(module, [e for evs in by_unit.values() for e in evs])]
        fallback = True
    agents: list[Agent] = []
    refs: list[ConfigRef] = []
    for name, evs in groups:
        agent, agent_refs = _agent(name, evs, names, rel, fallback)
        agents.append(agent)
        refs.extend(agent_refs)
    return tuple(agents), tuple(refs)


def _agent(
    name: str, events: Iterable[Event], names: dict[int, str], rel: str, fallback: bool
) -> tuple[Agent, list[ConfigRef]]:
    ordered = sorted(events, key=lambda e: (e.line, e.kind, e.api, e.tool or ""))
    call_sites: list[CallSite] = []
    servers: set[str] = set()
    configs: dict[tuple[str, ...], int] = {}
    for event in ordered:
        event_servers = sorted({_server_name(r, names) for r in event.servers})
        servers.update(event_servers)
        if event.configs:
            configs.setdefault(tuple(sorted(event.configs, key=lambda c: (c.count("/") == 0, c))), event.line)
        if event.kind in _CALL_KINDS:
            call_sites.append(
                CallSite(
                    kind=event.kind,  # type: ignore[arg-type]
                    source=SourceRef(rel, event.line),
                    api=event.api,
                    tool=event.tool,
                    server=event_servers[0] if len(event_servers) == 1 else None,
                    detail=event.detail,
                )
            )
    if fallback and not servers and not configs and names:
        servers.update(names.values())
    framework = next(
        (e.framework for e in ordered if e.kind in ("framework", "anchor") and e.framework),
        None,
    ) or next((e.framework for e in ordered if e.kind == "model" and e.framework), None)
    model = next((e.model for e in ordered if e.model), None)
    provider = next((e.provider for e in ordered if e.kind == "model" and e.provider), None) or next(
        (e.provider for e in ordered if e.provider and e.provider != "unknown"), None
    )
    if provider is None and model:
        provider = provider_of_model(model)
    mcp_lines = [e.line for e in ordered if e.mcp]
    agent = Agent(
        name=name,
        source=SourceRef(rel, min(mcp_lines) if mcp_lines else None),
        framework=framework or "mcp",
        servers=tuple(sorted(servers)),
        call_sites=tuple(call_sites),
        code_mode=any(e.code_mode for e in ordered),
        model=model,
        provider=provider if provider in ("anthropic", "openai") else "unknown",  # type: ignore[arg-type]
        system_prompt_chars=max((e.system_chars for e in ordered), default=0),
        tool_sequence=tuple(e.tool for e in ordered if e.kind == "call_tool" and e.tool),
    )
    refs = [
        ConfigRef(name, cands, SourceRef(rel, line))
        for cands, line in sorted(configs.items(), key=lambda kv: kv[1])
    ]
    return agent, refs
