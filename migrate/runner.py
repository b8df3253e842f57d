"""The migrate runner: find agent files, run the rules on each (in parallel), diff, and write atomically.

The rules never touch the disk. The runner reads each candidate file as bytes, lets libcst keep its
encoding and line endings, runs the selected rules in ID order, re-parses the result, and hands back
old and new bytes; `--write` then replaces files atomically. One file that cannot be read, parsed or
rewritten is reported and counted, and the others go on.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import io
import json
import os
import re
import shutil
import subprocess
import time
import tokenize
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import libcst as cst
from libcst.codemod import CodemodContext

from cfmigrate.analyzers.code_apis import MCP_PACKAGES
from cfmigrate.analyzers.code_repo import module_name
from cfmigrate.analyzers.files import atomic_write_bytes
from cfmigrate.analyzers.model import Agent, Inventory, Manifest, Problem, ServerSpec
from cfmigrate.analyzers.settings import Settings, load_settings
from cfmigrate.analyzers.walk import iter_files
from cfmigrate.migrate.rules import REGISTRY, MigrationPlan, MigrationRule, Site, select_rules
from cfmigrate.migrate.rules._base import CACHE_KEY, ORIGINAL_KEY, ORPHANS_KEY, PATH_KEY, POLICY_KEY
from cfmigrate.migrate.rules._base import line_map as _line_map
from cfmigrate.migrate.rules._launch import (
    LAUNCH_KEY,
    Launch,
    call_keys,
    find_launches,
    resolved_wrapper,
    session_groups,
    session_openers,
)
from cfmigrate.migrate.rules._plan import (
    PLAN_KEY,
    SITES_KEY,
    AgentUnit,
    ToolNames,
    tool_names_from_manifests,
    tool_names_from_package,
)
from cfmigrate.migrate.units import Manual, select, whole_agents

if TYPE_CHECKING:
    from cfmigrate.generators.api import GenerateOptions

Status = Literal["unchanged", "changed", "error"]
# A file no agent of the audit holds is still parsed (to report a file that cannot be read) when it mentions
# MCP (or the runtime) and something a rule rewrites.
_MCP_MARKS = (b"mcp", b"MCP", b"code_mode", b"CodeMode")
# Every rule resolves receivers through this file's imports, so a candidate imports an MCP client, a
# framework that loads MCP tools, or the runtime (or already uses `code_mode`).
_MCP_IMPORT = re.compile(
    rb"^[ \t]*(?:from|import)[ \t]+(?:"
    + b"|".join(re.escape(package.encode()) for package in MCP_PACKAGES)
    + rb")\b|code_mode",
    re.MULTILINE,
)
_SERIAL_BELOW = 8  # fewer candidate files than this: no worker processes (their start-up costs more)


class MigrateError(Exception):
    """The run cannot proceed (bad path, dirty work tree, unusable settings); the message says what to do."""


@dataclass(frozen=True)
class FileResult:
    """What the rules did to one file."""

    path: str  # POSIX, relative to the root
    status: Status
    sites: tuple[Site, ...] = ()
    error: str = ""
    line: int = 0  # where the error is (0: the whole file)
    old: bytes = b""
    new: bytes = b""

    def diff(self) -> str:
        """Unified diff of the change (empty when unchanged)."""
        if self.status != "changed":
            return ""
        old = _text(self.old).splitlines(keepends=True)
        new = _text(self.new).splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{self.path}", f"b/{self.path}")
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
        )


@dataclass(frozen=True)
class Wrappers:
    """Whether the generated package the rewritten code imports exists and is current."""

    state: Literal["current", "generated", "missing", "stale", "not-needed", "unknown"]
    message: str


@dataclass(frozen=True)
class MigrationResult:
    """The outcome of one run over a tree."""

    root: str
    files: tuple[FileResult, ...]
    scanned: int
    parsed: int
    rules: tuple[str, ...]
    written: bool = False
    wrappers: Wrappers | None = None
    notes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    seconds: float = 0.0
    skipped: tuple[tuple[str, int, str], ...] = ()  # (path, line, why and the fix): agents left on direct MCP
    manual: tuple[Manual, ...] = ()  # agents the decision would migrate that could not be rewritten whole

    @property
    def changed(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "changed")

    @property
    def errors(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "error")

    def sites(self, *, applied: bool | None = None, manual: bool | None = None) -> list[tuple[str, Site]]:
        """Every (path, site), filtered by whether it was rewritten and whether it needs a manual step."""
        found = [
            (f.path, s)
            for f in self.files
            for s in f.sites
            if (applied is None or s.applied == applied) and (manual is None or s.manual == manual)
        ]
        return sorted(found, key=lambda item: (item[0], item[1].line, item[1].rule))

    def counts(self) -> dict[str, tuple[int, int]]:
        """Rule ID -> (sites rewritten, sites left alone)."""
        done: Counter[str] = Counter()
        left: Counter[str] = Counter()
        for _, site in self.sites():
            (done if site.applied else left)[site.rule] += 1
        return {rule: (done[rule], left[rule]) for rule in self.rules}

    def diff(self) -> str:
        return "".join(f.diff() for f in self.changed)


# ---------------------------------------------------------------------------------------- the plan


def build_plan(
    root: Path, settings: Settings | None = None, *, refresh: bool = False, all_agents: bool = False
) -> tuple[MigrationPlan, list[str], list[Problem]]:
    """The name map and runtime setup for a tree, from one discovery and the generator's own IR.

    Names come from `generators.build.build_package` over the same manifests `generate` uses
    (snapshots, manifest files, the catalog), so imports match the generated package exactly,
    renames and skipped tools included. `refresh` lists every server's tools live first. An agent the
    audit's decision framework keeps on direct MCP is held back unless `all_agents`; an agent reaching a
    server without generated wrappers is always held back (moving it would lose those tools).
    """
    from cfmigrate.analyzers.discover import discover
    from cfmigrate.analyzers.measure import VALIDATION_PACKAGES, decide_agent
    from cfmigrate.generators.inputs import USABLE_ORIGINS

    root = root.resolve()
    settings = settings if settings is not None else load_settings(root)
    options = generate_options(root, settings)
    notes: list[str] = []
    problems: list[Problem] = []
    if refresh:
        from cfmigrate.generators.api import refresh as refresh_snapshots

        problems.extend(p for p in refresh_snapshots(options) if p.level == "error")
    inventory = discover(root, include=settings.include, exclude=settings.exclude)
    specs = {s.name: s for s in inventory.servers}
    wanted = set(settings.servers)
    usable = [
        m for m in inventory.manifests if m.origin in USABLE_ORIGINS and (not wanted or m.server in wanted)
    ]
    estimated = {m.server: m.label() for m in inventory.manifests if m.origin not in USABLE_ORIGINS}
    package = options.out_dir.name
    tools = _names(usable, specs, package, settings, notes)
    for manifest in inventory.manifests:
        if manifest.origin in USABLE_ORIGINS:
            continue
        for tool in manifest.tools:
            tools.setdefault(tool.name, ())
            reason = (
                f"server {manifest.server!r} has no tool snapshot (its tools are only {estimated[manifest.server]}), "
                "so no wrapper is generated; run `cfmigrate generate --refresh` (or migrate --refresh)"
            )
            tools[tool.name] = (
                *tools[tool.name],
                ToolNames(manifest.server, tool.name, "", "", collision=reason),
            )
    validation = {
        s.name for s in inventory.servers if s.package and s.package.startswith(VALIDATION_PACKAGES)
    }
    keep = _expand_keep([*settings.keep_direct, *sorted(validation)], usable)
    configs = Counter(
        s.source.path for s in inventory.servers if not s.origin.startswith("code") and not s.disabled
    )
    config = sorted(configs.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if configs else None
    generated = {m.server for m in usable}
    snapshotted = {m.server for m in inventory.manifests if m.origin in USABLE_ORIGINS}
    units: list[AgentUnit] = []
    for agent in inventory.agents:
        if agent.code_mode:
            decision, action, reason = (
                "already-code-mode",
                "code-mode",
                f"{agent.name} is already on code mode; left alone",
            )
        else:
            decision = decide_agent(agent, inventory)[0]
            reason = _hold_reason(agent, inventory, generated, snapshotted, wanted, keep, all_agents)
            action = "held" if reason else "migrate"
        units.append(
            AgentUnit(
                name=agent.name,
                path=agent.source.path,
                line=agent.source.line or 1,
                files=agent.files or (agent.source.path,),
                servers=agent.servers,
                framework=agent.framework,
                decision=decision,
                action=action,  # type: ignore[arg-type]
                reason=reason,
            )
        )
    # Per file, what the rules need of the agents in it (a helper module gets its agents' servers); the
    # agents that move come first where a file holds some that move and some that stay.
    file_servers: dict[str, set[str]] = {}
    file_configs: dict[str, str] = {}
    moving = {u.name for u in units if u.action == "migrate"}
    for agent in sorted(inventory.agents, key=lambda a: a.name not in moving):
        declared = {
            specs[n].source.path
            for n in agent.servers
            if n in specs and not specs[n].origin.startswith("code")
        }
        for rel in agent.files or (agent.source.path,):
            if agent.name in moving or not any(rel in u.files for u in units if u.name in moving):
                file_servers.setdefault(rel, set()).update(agent.servers)
            if len(declared) == 1:
                file_configs.setdefault(rel, next(iter(declared)))
    notes.extend(
        f"{script.source.path}: {script.name} is a tool script (it calls MCP tools and sends no model request): "
        "not an agent, left alone"
        for script in inventory.tool_scripts
    )
    site_servers = {
        str(site.source): site.server
        for agent in inventory.agents
        for site in agent.call_sites
        if site.server and site.source.line
    }
    if not usable:
        notes.append(
            "no tool snapshots (.cfmigrate/manifests/) or catalog matches: literal tool calls cannot be mapped to "
            "wrappers; run `cfmigrate generate --refresh` (or `cfmigrate migrate --refresh`) first"
        )
    if validation:
        notes.append(
            f"kept on direct MCP (formal validation, as the audit decides): {', '.join(sorted(validation))}"
        )
    plan = MigrationPlan(
        agents={u.name: (u.decision, u.action) for u in units},
        units=tuple(units),
        tools=tools,
        keep_direct=frozenset(keep),
        package=package,
        servers_dir=os.path.relpath(options.out_dir, root).replace(os.sep, "/"),
        config=config,
        root=str(root),
        file_servers={rel: tuple(sorted(servers)) for rel, servers in file_servers.items() if servers},
        site_servers=site_servers,
        file_configs=file_configs,
        server_ids={
            t.server: t.module.rsplit(".", 1)[-1] for entries in tools.values() for t in entries if t.module
        },
        code_servers={
            str(s.source): s.name
            for s in inventory.servers
            if s.origin.startswith("code") and s.source.line and not s.disabled
        },
    )
    return plan, notes, problems


def _hold_reason(
    agent: Agent,
    inventory: Inventory,
    generated: set[str],
    snapshotted: set[str],
    wanted: set[str],
    keep: set[str],
    all_agents: bool,
) -> str:
    """Why this agent stays on direct MCP (with the fix), or "" when it can move onto code mode."""
    from cfmigrate.analyzers.measure import decide_agent

    decision, reasons, tool_count = decide_agent(agent, inventory)
    if decision == "unknown":
        fix = (
            "link its servers statically (a config file or literal server parameters), then run again"
            if any("cannot be linked" in r or "could be linked" in r for r in reasons)
            else "run `cfmigrate migrate --refresh` so their tools are listed"
        )
        return f"{agent.name} not moved onto code mode: the audit cannot decide for it ({'; '.join(reasons)}); {fix}"
    if decision == "keep-mcp" and not all_agents:
        if reasons and reasons[0].startswith(f"{tool_count} tools (< 20)"):
            rest = "; ".join(reasons[1:]) or "schema overhead is modest"
            why = f"{tool_count} tool{'s' * (tool_count != 1)} < 20; {rest}"
        else:
            why = "; ".join(reasons)
        return (
            f"{agent.name} kept on direct MCP by the decision framework ({why}); "
            "`cfmigrate migrate --all` migrates it anyway"
        )
    # Servers it reaches, as the audit counts them: the ones linked to it (never "every configured server").
    reach = set(agent.servers)

    def kept_whole(server: str) -> bool:
        manifest = inventory.manifest(server)
        tools = {t.name for t in manifest.tools} if manifest is not None else set()
        return server in keep or bool(tools and all(f"{server}/{t}" in keep for t in tools))

    if reach and all(kept_whole(server) for server in reach):
        return (
            f"{agent.name} kept on direct MCP: every server it reaches ({', '.join(sorted(reach))}) is kept direct "
            "(`keep-direct` in [tool.cfmigrate], or a browser-automation/validation server)"
        )
    specs = {s.name: s for s in inventory.servers if not s.disabled}
    unlaunchable = sorted(
        name
        for name in reach
        if name not in keep and (name not in specs or specs[name].transport == "unknown")
    )
    if unlaunchable:
        return (
            f"{agent.name} not moved onto code mode: how {_names_list(unlaunchable)} {'is' if len(unlaunchable) == 1 else 'are'} "
            "started is not known statically, so CodeMode could not start "
            f"{'it' if len(unlaunchable) == 1 else 'them'} the way the agent does; declare the server in an MCP config "
            "or with literal server parameters"
        )
    missing = sorted(
        server
        for server in reach
        if server not in generated
        and server not in keep
        and not any(entry.startswith(f"{server}/") for entry in keep)
    )
    if not missing:
        return ""
    fixes: list[str] = []
    unsnapshotted = [s for s in missing if s not in snapshotted]
    left_out = [s for s in missing if wanted and s not in wanted]
    if unsnapshotted:
        fixes.append(
            f"run `cfmigrate generate --refresh` (or `cfmigrate migrate --refresh`) so "
            f"{_names_list(unsnapshotted)} get{'s' * (len(unsnapshotted) == 1)} a tool snapshot"
        )
    if left_out:
        fixes.append(f"add {_names_list(left_out)} to `[tool.cfmigrate] servers` in pyproject.toml")
    return (
        f"{agent.name} not moved onto code mode: it reaches {_names_list(missing)} with no generated wrappers, "
        f"so it would lose those tools; {' and '.join(fixes)}"
    )


def _names_list(servers: Sequence[str]) -> str:
    if len(servers) == 1:
        return f"server {servers[0]!r}"
    return f"servers {', '.join(map(repr, servers))}"


def generate_options(root: Path, settings: Settings) -> GenerateOptions:
    """The options `cfmigrate generate` would use for this tree (same out dir, servers and renames)."""
    from cfmigrate.generators.api import GenerateOptions

    return GenerateOptions(
        root=root.resolve(),
        out=settings.out or "servers",
        servers=tuple(settings.servers),
        renames=tuple(sorted(settings.rename.items())),
    )


def _names(
    manifests: Sequence[Manifest],
    specs: dict[str, ServerSpec],
    package: str,
    settings: Settings,
    notes: list[str],
) -> dict[str, tuple[ToolNames, ...]]:
    """Wrapper names from the generator's IR; when the package cannot be built, every call says why."""
    from cfmigrate.generators.build import GenerateError, build_package

    if not manifests:
        return {}
    try:
        ir = build_package(
            [(specs.get(m.server), m) for m in manifests], package=package, renames=settings.rename
        )
    except GenerateError as exc:
        notes.append(f"`cfmigrate generate` cannot build the package: {exc}")
        names = tool_names_from_manifests(manifests, package, settings.rename)
        return {k: tuple(replace(t, collision=str(exc)) for t in v) for k, v in names.items()}
    return tool_names_from_package(ir)


def _expand_keep(entries: Iterable[str], manifests: Sequence[Manifest]) -> set[str]:
    """`keep-direct` entries as the runtime reads them: "server/tool" (a bare server name expands to its tools)."""
    by_server = {m.server: m for m in manifests}
    out: set[str] = set()
    for entry in entries:
        if "/" in entry or entry not in by_server:
            out.add(entry)
        else:
            out.update(f"{entry}/{t.name}" for t in by_server[entry].tools)
    return out


# ---------------------------------------------------------------------------------------- one file


def transform_source(
    source: bytes, rel: str, plan: MigrationPlan, rule_ids: Sequence[str], *, location: Path | None = None
) -> FileResult:
    """Run the rules over one file's bytes; never raises (a failure becomes an error result).

    `location` is the file's real path: when given, the import block is re-sorted with ruff under the
    repository's own settings -- but only if it was sorted before the rewrite.
    """
    parsed = parse_source(source, rel)
    if isinstance(parsed, FileResult):
        return parsed
    module = parsed
    sites: list[Site] = []
    orphans: set[tuple[str, str]] = set()
    policy: dict[str, str] = {}
    code = original = module.code
    cache: dict[str, object] = {}
    launches = _find_launches(module, rel, plan)
    seeded = resolved_wrapper(module)  # the parsed file has unique nodes: its wrapper needs no copy
    if seeded is not None:
        cache["wrapper"] = seeded
    for rule_id in rule_ids:
        rule: type[MigrationRule] = REGISTRY[rule_id]
        scratch: dict[str, object] = {
            PLAN_KEY: plan,
            PATH_KEY: rel,
            SITES_KEY: sites,
            ORPHANS_KEY: orphans,
            POLICY_KEY: policy,
            CACHE_KEY: cache,
            LAUNCH_KEY: launches,
            ORIGINAL_KEY: original,
        }
        if not rule.needed(code, scratch, plan):
            continue
        module_full, package_full = _module_names(rel)
        context = CodemodContext(
            filename=rel, scratch=scratch, full_module_name=module_full, full_package_name=package_full
        )
        first_site, seen = len(sites), code
        try:
            changed = rule(context, plan).transform_module(module)
            if len(sites) > first_site and seen != original:  # lines of the rule's input -> lines of the file
                where = _line_map(original, seen)
                sites[first_site:] = [replace(site, line=where(site.line)) for site in sites[first_site:]]
            if changed is not module:
                module = changed
                code = module.code
        except Exception as exc:  # a rule bug must not stop the run: report it for this file
            return FileResult(
                rel,
                "error",
                error=f"{rule_id} failed on this file ({type(exc).__name__}: {exc}); file left alone",
            )
    new = module.bytes
    if new == source:
        return FileResult(rel, "unchanged", tuple(sites))
    sites.extend(_second_sessions(launches, module, original, rel, plan))
    try:
        reparsed = cst.parse_module(new)
        compile(reparsed.code, rel, "exec", dont_inherit=True)
    except (cst.ParserSyntaxError, SyntaxError, ValueError) as exc:
        return FileResult(
            rel, "error", tuple(sites), error=f"the rewritten file does not parse ({exc}); file left alone"
        )
    if location is not None:
        new = tidy_imports(source, new, location)
    return FileResult(rel, "changed", tuple(sites), old=source, new=new)


def _module_names(rel: str) -> tuple[str, str]:
    """The dotted module and package of a file, so that import changes resolve its relative imports."""
    module = module_name(rel)
    return module, module if rel.endswith("__init__.py") else module.rpartition(".")[0]


def _find_launches(module: cst.Module, rel: str, plan: MigrationPlan) -> list[Launch]:
    """The agent's own launches in this file (see `rules._launch`); none when the file cannot be analysed."""
    try:
        return find_launches(module, rel, plan)
    except Exception:  # an analysis bug must not stop the run: the file keeps the package's launch specs
        return []


def _second_sessions(
    launches: Sequence[Launch], module: cst.Module, original: str, rel: str, plan: MigrationPlan
) -> list[Site]:
    """An agent on CodeMode that still opens its own MCP session would start that server a second time.

    Sessions of servers the audit keeps on direct MCP may stay (the agent keeps calling them itself).
    """
    code = module.code
    if "CodeMode(" not in code and f"{plan.code_mode_var}." not in code:
        return []
    left = call_keys(code)
    sites = [
        Site(
            "CFM006",
            launch.line,
            False,
            f"the agent's own session of server {launch.server!r} is still opened after the rewrite (something "
            "still reads it), so CodeMode would start the server a second time",
        )
        for launch in launches
        if any(key in left for key in launch.openers)
    ]
    if sites or plan.kept_entries(rel):
        return sites
    try:
        rewritten = cst.parse_module(code)
        lines, groups = session_openers(rewritten), set(session_groups(rewritten))
    except Exception:  # the rewritten file is checked again below; this check stays silent then
        return []
    where = _line_map(original, code)
    if plan.held_marks(rel):  # agents of this file kept on direct MCP keep opening their own servers
        reach = set(plan.file_servers.get(rel, ()))
        theirs = {
            int(spot)
            for at, name in plan.code_servers.items()
            for path, _, spot in [at.rpartition(":")]
            if path == rel and spot.isdigit() and name not in reach
        }
        lines = [line for line in lines if where(line) not in theirs]
    return [
        Site(
            "CFM006",
            where(line),
            False,
            "the agent still opens its own MCP session here after the rewrite (something still reads it), so "
            "CodeMode would start that server a second time; remove that code by hand, then run again"
            if line not in groups
            else "the agent still opens its own MCP session here after the rewrite: its mcp ClientSessionGroup "
            "still connects every server (connect_to_server) beside CodeMode, which would start each a second "
            "time, and no codemod replaces a session group; hand its servers' launches to "
            "CodeMode(launches={...}) and drop the group by hand",
        )
        for line in lines
    ]


def parse_source(source: bytes, rel: str) -> cst.Module | FileResult:
    """The file as a libcst module, or an error result with Python's own message and line.

    The encoding follows PEP 263 (a coding cookie, else UTF-8), so a latin-1 file with its cookie is
    parsed and later written back in latin-1; a file that does not decode is reported, never raised.
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
    except UnicodeDecodeError as exc:
        line = source[: exc.start].count(b"\n") + 1
        byte = source[exc.start : exc.start + 1].hex()
        return FileResult(
            rel,
            "error",
            line=line,
            error=f"not valid {exc.encoding} (byte 0x{byte}); re-save the file as UTF-8 or declare its encoding "
            "with a PEP 263 cookie such as `# -*- coding: latin-1 -*-` on line 1 or 2; file left alone",
        )
    except SyntaxError as exc:  # detect_encoding: bytes that are not UTF-8 and no (or a bad) cookie
        line = next(
            (n for n, raw in enumerate(source.splitlines()[:2], 1) if not _utf8(raw)),
            exc.lineno or 1,
        )
        return FileResult(
            rel,
            "error",
            line=line,
            error="not valid UTF-8 and no PEP 263 coding cookie (Python: "
            f"{exc.msg}); re-save the file as UTF-8 or add `# -*- coding: latin-1 -*-` (its real "
            "encoding) as line 1 or 2; file left alone",
        )
    except LookupError as exc:
        return FileResult(
            rel, "error", line=1, error=f"unknown encoding in the coding cookie ({exc}); file left alone"
        )
    try:
        compile(text, rel, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return FileResult(
            rel, "error", line=exc.lineno or 1, error=f"syntax error: {exc.msg}; file left alone"
        )
    except ValueError as exc:  # e.g. null bytes
        return FileResult(rel, "error", line=1, error=f"cannot compile: {exc}; file left alone")
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as exc:  # valid Python that libcst cannot read
        return FileResult(
            rel,
            "error",
            line=exc.editor_line,
            error="libcst cannot parse this construct (Python accepts it); file left alone",
        )
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        return FileResult(rel, "error", line=1, error=f"cannot decode the file ({exc}); file left alone")


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def tidy_imports(old: bytes, new: bytes, location: Path) -> bytes:
    """Sort the imports the rules added (ruff's I001 under the repo's config) when the original block was sorted."""
    try:
        old.decode("utf-8")
        new.decode("utf-8")
    except UnicodeDecodeError:
        return (
            new  # ruff reads UTF-8 only; a file in another encoding keeps the imports where libcst put them
        )
    fixed_old = _ruff_sort(old, location)
    if fixed_old != old:
        return new  # the user's block was not sorted before: do not start sorting it now
    fixed = _ruff_sort(new, location)
    if fixed is None:
        return new
    try:
        compile(fixed, str(location), "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return new
    return fixed


def _ruff_sort(data: bytes, location: Path) -> bytes | None:
    from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

    try:
        done = subprocess.run(
            [
                str(find_ruff_bin()),
                "check",
                "--select",
                "I001",
                "--fix",
                "--exit-zero",
                "--quiet",
                "--no-cache",
                "--stdin-filename",
                str(location),
                "-",
            ],
            input=data,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 and done.stdout else None


def _run_file(job: tuple[str, str, MigrationPlan, tuple[str, ...]]) -> FileResult:
    path, rel, plan, rule_ids = job
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FileResult(rel, "error", error=f"cannot read: {exc.strerror or exc}")
    return transform_source(data, rel, plan, rule_ids, location=Path(path).resolve())


def is_candidate(data: bytes, rules: Sequence[type[MigrationRule]]) -> bool:
    """The byte prefilter: worth parsing only when it mentions MCP and something a rule rewrites."""
    if not any(mark in data for mark in _MCP_MARKS) or not _MCP_IMPORT.search(data):
        return False
    return any(trigger in data for rule in rules for trigger in rule.TRIGGERS)


# ---------------------------------------------------------------------------------------- the run


def migrate(
    root: Path,
    *,
    targets: Sequence[Path] = (),
    only: Sequence[str] = (),
    disable: Sequence[str] = (),
    write: bool = False,
    allow_dirty: bool = False,
    generate: bool = True,
    refresh: bool = False,
    jobs: int | None = None,
    all_agents: bool = False,
    plan: MigrationPlan | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationResult:
    """Rewrite (or, without `write`, only diff) the agent files of the repository at `root`.

    `targets` narrows the run to some files or folders inside `root` (what a pre-commit hook passes);
    the plan (servers, names, config) always comes from the whole repository. Agents the decision
    framework keeps on direct MCP are left alone (and listed as skipped) unless `all_agents`.
    """
    started = time.perf_counter()
    root = Path(root).resolve()
    if not root.is_dir():
        raise MigrateError(f"{root}: not a directory; pass the repository (or run from its root)")
    settings = load_settings(root)
    rules = select_rules(only, disable)
    notes: list[str] = []
    problems: list[Problem] = []
    # uncommitted work is the user's, not the snapshots `--refresh` is about to write
    dirty_before = dirty_paths(root) if write and not allow_dirty else []
    if plan is None:
        plan, found_notes, problems = build_plan(root, settings, refresh=refresh, all_agents=all_agents)
        notes.extend(found_notes)
    skip = f"{plan.servers_dir.rstrip('/')}/"
    walk_problems: list[Problem] = []
    files = _files(root, targets, settings, walk_problems)
    problems.extend(walk_problems)
    tree = files if not targets else _files(root, (), settings, [])
    paths = {rel: path for path, rel in tree}
    # Which agents move, and which files they span, come from the audit's program model (the plan's units);
    # a file no agent of the audit holds (a tool script, a server, a helper nobody uses) is left alone.
    chosen = select(plan.units, [rel for _, rel in files] if targets else None)
    notes.extend(chosen.notes)
    results: list[FileResult] = []
    jobs_list: list[tuple[str, str, MigrationPlan, tuple[str, ...]]] = []
    rule_ids = tuple(r.RULE_ID for r in rules)
    for rel in chosen.files:
        if rel.startswith(skip) or rel.startswith(".cfmigrate/"):
            continue
        path = paths.get(rel, root / rel)
        if not path.is_file():
            results.append(FileResult(rel, "error", error="cannot read: no such file"))
            continue
        if rules:
            jobs_list.append((str(path), rel, plan, rule_ids))
    checked = 0
    analysed = {rel for unit in plan.units for rel in unit.files}  # the audit read these: they parse
    for path, rel in files:  # no agent of the audit: still reported when it cannot even be read or parsed
        if rel in analysed or rel.startswith(skip) or rel.startswith(".cfmigrate/"):
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            results.append(FileResult(rel, "error", error=f"cannot read: {exc.strerror or exc}"))
            continue
        if rules and is_candidate(data, rules):
            checked += 1
            parsed = parse_source(data, rel)
            if isinstance(parsed, FileResult):
                results.append(parsed)
    if progress:
        progress(f"{len(files)} Python files, {len(jobs_list)} to parse")
    results.extend(_map(jobs_list, jobs))
    results.sort(key=lambda r: r.path)
    results, manual = whole_agents(results, chosen.units, paths, plan.code_mode_var)
    result = MigrationResult(
        root=str(root),
        files=tuple(results),
        scanned=len(files),
        parsed=len(jobs_list) + checked,
        rules=tuple(r.RULE_ID for r in rules),
        notes=tuple(notes),
        problems=tuple(problems),
        skipped=chosen.skipped,
        manual=tuple(sorted({*chosen.manual, *manual}, key=lambda m: (m.path, m.line, m.reason))),
    )
    wrappers = check_wrappers(root, plan, settings, needed=_needs_wrappers(result, plan))
    if write and result.changed:
        if not allow_dirty:
            dirty = dirty_before
            if dirty:
                shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
                raise MigrateError(
                    f"uncommitted changes in the git work tree ({shown}): commit or stash them so the migration "
                    "is its own reviewable diff, or pass --allow-dirty"
                )
        generated = generate and wrappers.state in ("missing", "stale")
        package_dir = root / plan.servers_dir
        existed = package_dir.exists()
        if generated:
            wrappers = run_generate(root, settings)
        launches = _launches(package_dir)  # servers/ as built from the tree before the rewrite
        write_all(root, result.changed)
        # The rewritten agents are inputs of `generate`: it must still build every server they use.
        lost = _lost_launches(root, settings, launches)
        if lost:
            write_all(root, [replace(item, new=item.old) for item in result.changed])
            if generated and not existed:
                shutil.rmtree(package_dir, ignore_errors=True)
            raise MigrateError(
                "nothing was migrated: after the rewrite `cfmigrate generate` would no longer build the launch of "
                f"{_names_list(lost)} as before (declared in code the rewrite removes); declare "
                f"{'it' if len(lost) == 1 else 'them'} in an MCP config such as .mcp.json and run again"
            )
        result = replace(result, written=True)
        if generated:
            # Record the rewritten agents in the generate stamp, so the next `cfmigrate generate --check`
            # (and its pre-commit hook) answers from the stamp again; the package itself is unchanged.
            run_generate(root, settings)
    return replace(result, wrappers=wrappers, seconds=time.perf_counter() - started)


def write_all(root: Path, changed: Sequence[FileResult]) -> None:
    """Write every changed file or none: a failure part-way puts back the files already replaced."""
    done: list[FileResult] = []
    try:
        for item in changed:
            atomic_write_bytes(root / item.path, item.new)
            done.append(item)
    except OSError as exc:
        for item in done:
            with contextlib.suppress(OSError):
                atomic_write_bytes(root / item.path, item.old)
        raise MigrateError(
            f"nothing was migrated: cannot write {getattr(exc, 'filename', '') or 'a file'} "
            f"({exc.strerror or exc}); the files already written were put back"
        ) from None


def _launches(package_dir: Path) -> dict[str, object]:
    """Server id -> its `_servers.json` launch entry (empty when there is no package)."""
    try:
        data = json.loads((package_dir / "_servers.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    servers = data.get("servers") if isinstance(data, dict) else None
    return dict(servers) if isinstance(servers, dict) else {}


def _lost_launches(root: Path, settings: Settings, before: dict[str, object]) -> list[str]:
    """Servers whose launch a fresh `generate` over the rewritten tree would drop, no longer know, or change."""
    if not before:
        return []
    from cfmigrate.generators.api import build

    try:
        _, _, files = build(generate_options(root, settings))
        after = json.loads(files["_servers.json"]).get("servers", {})
    except Exception:  # the generator's own failure is reported by the restamp that follows
        return []
    return sorted(
        sid
        for sid, entry in before.items()
        if isinstance(entry, dict)
        and entry.get("transport") != "unknown"
        and after.get(sid) != entry  # dropped, unknown now, or started another way
    )


def _files(
    root: Path, targets: Sequence[Path], settings: Settings, problems: list[Problem]
) -> list[tuple[Path, str]]:
    """Python files to consider: the whole tree, or the given files and folders inside it."""
    if not targets:
        return [
            (p, rel)
            for p, rel in iter_files(root, settings.include, settings.exclude, problems=problems)
            if rel.endswith(".py")
        ]
    out: dict[str, Path] = {}
    for target in targets:
        path = (target if target.is_absolute() else Path.cwd() / target).resolve()
        if not path.is_relative_to(root):
            raise MigrateError(f"{target} is outside the repository {root}")
        if not path.exists():
            raise MigrateError(f"{target}: no such file or directory")
        if path.is_dir():
            prefix = path.relative_to(root).as_posix()
            for p, rel in iter_files(path, problems=problems):
                if rel.endswith(".py"):
                    out[f"{prefix}/{rel}" if prefix != "." else rel] = p
        elif path.suffix == ".py":
            out[path.relative_to(root).as_posix()] = path
    return [(out[rel], rel) for rel in sorted(out)]


def _map(
    jobs_list: list[tuple[str, str, MigrationPlan, tuple[str, ...]]], jobs: int | None
) -> list[FileResult]:
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    if workers <= 1 or len(jobs_list) < _SERIAL_BELOW:
        return [_run_file(job) for job in jobs_list]
    chunk = max(1, len(jobs_list) // (workers * 8))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_run_file, jobs_list, chunksize=chunk))


def _needs_wrappers(result: MigrationResult, plan: MigrationPlan) -> bool:
    """Whether the rewritten code imports the generated package or opens the runtime on it."""
    marker = f"from {plan.package}.".encode()
    return any(marker in f.new or b"CodeMode(" in f.new for f in result.changed)


def migrate_tree(src: Path, dst: Path, **options: object) -> MigrationResult:
    """Copy `src` to a fresh `dst` and run `migrate --write` there (how the seed benchmark gets its agent)."""
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise MigrateError(f"{src}: not a directory")
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "node_modules"))
    return migrate(dst, write=True, allow_dirty=True, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- git and generate


def repository_root(cwd: Path) -> Path:
    """The git work tree's top folder holding `cwd` (what pre-commit runs in), else `cwd` itself."""
    try:
        out = subprocess.run(
            ["git", "-C", str(cwd), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return cwd.resolve()
    top = out.stdout.strip()
    return Path(top).resolve() if out.returncode == 0 and top else cwd.resolve()


def dirty_paths(root: Path) -> list[str]:
    """Uncommitted (modified, staged or untracked) paths under `root` when it is in a git work tree."""
    try:
        inside = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return []
    status = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=all", "--", "."],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if status.returncode != 0:
        raise MigrateError(f"git status failed in {root}: {status.stderr.strip()}")
    return [line[3:] for line in status.stdout.splitlines() if line.strip()]


def check_wrappers(root: Path, plan: MigrationPlan, settings: Settings, *, needed: bool) -> Wrappers:
    """Whether the generated package exists and matches the snapshots (the generator's own `--check`)."""
    command = (
        "cfmigrate generate"
        if root.resolve() == Path.cwd().resolve()
        else f"cfmigrate generate --root {root}"
    )
    if not needed:
        return Wrappers("not-needed", "the rewritten code does not use the generated package")
    if not (root / plan.servers_dir / "__init__.py").is_file():
        return Wrappers("missing", f"{plan.servers_dir}/ does not exist: `{command}` builds it")
    from cfmigrate.generators.api import check

    try:
        outcome = check(generate_options(root, settings))
    except Exception as exc:  # the generator's own failure is reported, never raised from here
        return Wrappers("unknown", f"could not check {plan.servers_dir}/ ({exc}); run `{command} --check`")
    if outcome.in_sync:
        return Wrappers("current", f"{plan.servers_dir}/ is up to date")
    return Wrappers("stale", f"{plan.servers_dir}/ is stale: `{command}` regenerates it")


def run_generate(root: Path, settings: Settings) -> Wrappers:
    """Build or refresh the wrappers with the generator before writing code that imports them."""
    from cfmigrate.generators.api import generate

    try:
        outcome = generate(generate_options(root, settings))
    except Exception as exc:
        raise MigrateError(f"`cfmigrate generate` failed, so nothing was migrated: {exc}") from None
    if outcome.package is None or not outcome.package.servers:
        raise MigrateError(
            "`cfmigrate generate` found no tool snapshots to build the wrappers from, so nothing was migrated: "
            "run `cfmigrate migrate --refresh` (or `cfmigrate generate --refresh`) with the servers' env set"
        )
    return Wrappers("generated", f"`cfmigrate generate` ran first: {outcome.tool_count} wrappers written")


def _text(data: bytes) -> str:
    try:
        module = cst.parse_module(data)
        return module.code
    except Exception:
        return data.decode("utf-8", "replace")


__all__ = [
    "FileResult",
    "MigrateError",
    "MigrationResult",
    "Wrappers",
    "build_plan",
    "is_candidate",
    "migrate",
    "migrate_tree",
    "repository_root",
    "transform_source",
]
