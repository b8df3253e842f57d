"""The migrate runner: find agent files, run the rules on each (in parallel), diff, and write atomically.

The rules never touch the disk. The runner reads each candidate file as bytes, lets libcst keep its
encoding and line endings, runs the selected rules in ID order, re-parses the result, and hands back
old and new bytes; `--write` then replaces files atomically. One file that cannot be read, parsed or
rewritten is reported and counted, and the others go on.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import libcst as cst
from libcst.codemod import CodemodContext

from cfmigrate.analyzers.files import atomic_write_bytes
from cfmigrate.analyzers.model import Manifest, Problem
from cfmigrate.analyzers.settings import Settings, load_settings
from cfmigrate.analyzers.walk import iter_files
from cfmigrate.migrate.rules import REGISTRY, MigrationPlan, MigrationRule, Site, select_rules
from cfmigrate.migrate.rules._base import ORPHANS_KEY, PATH_KEY
from cfmigrate.migrate.rules._plan import PLAN_KEY, SITES_KEY, tool_names_from_manifests

Status = Literal["unchanged", "changed", "error"]
# A file is parsed only when it mentions MCP (or the runtime) and something a rule rewrites.
_MCP_MARK = re.compile(rb"mcp|MCP|code_mode|CodeMode")
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
    old: bytes = b""
    new: bytes = b""

    def diff(self) -> str:
        """Unified diff of the change (empty when unchanged)."""
        if self.status != "changed":
            return ""
        old = _text(self.old).splitlines(keepends=True)
        new = _text(self.new).splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{self.path}", f"b/{self.path}")
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


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

    @property
    def changed(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "changed")

    @property
    def errors(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.status == "error")

    def sites(self, *, applied: bool | None = None, manual: bool | None = None) -> list[tuple[str, Site]]:
        """Every (path, site), filtered by whether it was rewritten and whether it needs a manual step."""
        return [
            (f.path, s)
            for f in self.files
            for s in f.sites
            if (applied is None or s.applied == applied) and (manual is None or s.manual == manual)
        ]

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


def build_plan(root: Path, settings: Settings | None = None) -> tuple[MigrationPlan, list[str], list[Problem]]:
    """The name map and runtime setup for a tree: the same servers and manifests `generate` builds from."""
    from cfmigrate.generators.inputs import load_estate

    settings = settings if settings is not None else load_settings(root)
    out = settings.out or "servers"
    out_dir = (root / out).resolve()
    estate = load_estate(root, out_dir)
    manifests: list[Manifest] = [m for _, m in estate.pairs]
    notes: list[str] = []
    package = out_dir.name
    servers_dir = os.path.relpath(out_dir, root.resolve()).replace(os.sep, "/")
    tools = tool_names_from_manifests(manifests, package=package, renames=settings.rename)
    keep = _expand_keep(settings.keep_direct, manifests)
    configs = Counter(spec.source.path for spec, m in estate.pairs if spec is not None and not spec.origin.startswith("code"))
    config = sorted(configs.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if configs else None
    file_servers: dict[str, tuple[str, ...]] = {}
    site_servers: dict[str, str] = {}
    try:
        from cfmigrate.analyzers.discover import discover
    except ImportError:
        pass
    else:
        inventory = discover(root)
        for agent in inventory.agents:
            if agent.servers:
                file_servers[agent.source.path] = tuple(sorted({*file_servers.get(agent.source.path, ()), *agent.servers}))
            for site in agent.call_sites:
                if site.server and site.source.line:
                    site_servers[str(site.source)] = site.server
    if not manifests:
        notes.append(
            "no tool snapshots found (.cfmigrate/manifests/): literal tool calls cannot be mapped to wrappers; "
            "run `cfmigrate audit --connect` or `cfmigrate generate --refresh` first"
        )
    plan = MigrationPlan(
        tools=tools,
        keep_direct=frozenset(keep),
        package=package,
        servers_dir=servers_dir,
        config=config,
        root=str(root),
        file_servers=file_servers,
        site_servers=site_servers,
    )
    return plan, notes, list(estate.problems)


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


def transform_source(source: bytes, rel: str, plan: MigrationPlan, rule_ids: Sequence[str]) -> FileResult:
    """Run the rules over one file's bytes; never raises (a failure becomes an error result)."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return FileResult(rel, "error", error=f"syntax error at line {exc.raw_line}: {exc.message}; file left alone")
    except (UnicodeDecodeError, LookupError) as exc:
        return FileResult(rel, "error", error=f"cannot decode the file ({exc}); file left alone")
    sites: list[Site] = []
    orphans: set[tuple[str, str]] = set()
    for rule_id in rule_ids:
        rule: type[MigrationRule] = REGISTRY[rule_id]
        context = CodemodContext(
            filename=rel, scratch={PLAN_KEY: plan, PATH_KEY: rel, SITES_KEY: sites, ORPHANS_KEY: orphans}
        )
        try:
            module = rule(context, plan).transform_module(module)
        except Exception as exc:  # a rule bug must not stop the run: report it for this file
            return FileResult(rel, "error", error=f"{rule_id} failed on this file ({type(exc).__name__}: {exc}); file left alone")
    new = module.bytes
    if new == source:
        return FileResult(rel, "unchanged", tuple(sites))
    try:
        reparsed = cst.parse_module(new)
        compile(reparsed.code, rel, "exec", dont_inherit=True)
    except (cst.ParserSyntaxError, SyntaxError, ValueError) as exc:
        return FileResult(rel, "error", tuple(sites), error=f"the rewritten file does not parse ({exc}); file left alone")
    return FileResult(rel, "changed", tuple(sites), old=source, new=new)


def _run_file(job: tuple[str, str, MigrationPlan, tuple[str, ...]]) -> FileResult:
    path, rel, plan, rule_ids = job
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return FileResult(rel, "error", error=f"cannot read: {exc.strerror or exc}")
    return transform_source(data, rel, plan, rule_ids)


def is_candidate(data: bytes, rules: Sequence[type[MigrationRule]]) -> bool:
    """The byte prefilter: worth parsing only when it mentions MCP and something a rule rewrites."""
    if not _MCP_MARK.search(data):
        return False
    return any(trigger in data for rule in rules for trigger in rule.TRIGGERS)


# ---------------------------------------------------------------------------------------- the run


def migrate(
    root: Path,
    *,
    only: Sequence[str] = (),
    disable: Sequence[str] = (),
    write: bool = False,
    allow_dirty: bool = False,
    generate: bool = True,
    jobs: int | None = None,
    plan: MigrationPlan | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationResult:
    """Rewrite (or, without `write`, only diff) every agent file under `root`."""
    started = time.perf_counter()
    root = Path(root)
    if not root.exists():
        raise MigrateError(f"{root}: no such file or directory")
    single = root.is_file()
    base = root.parent if single else root
    settings = load_settings(base)
    rules = select_rules(only, disable)
    notes: list[str] = []
    problems: list[Problem] = []
    if plan is None:
        plan, found_notes, problems = build_plan(base, settings)
        notes.extend(found_notes)
    files: list[tuple[Path, str]]
    walk_problems: list[Problem] = []
    if single:
        files = [(root, root.name)]
    else:
        skip = f"{plan.servers_dir.rstrip('/')}/"
        files = [
            (p, rel)
            for p, rel in iter_files(root, settings.include, settings.exclude, problems=walk_problems)
            if rel.endswith(".py") and not rel.startswith(skip)
        ]
    problems.extend(walk_problems)
    results: list[FileResult] = []
    jobs_list: list[tuple[str, str, MigrationPlan, tuple[str, ...]]] = []
    rule_ids = tuple(r.RULE_ID for r in rules)
    for path, rel in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            results.append(FileResult(rel, "error", error=f"cannot read: {exc.strerror or exc}"))
            continue
        if rules and is_candidate(data, rules):
            jobs_list.append((str(path), rel, plan, rule_ids))
    if progress:
        progress(f"{len(files)} Python files, {len(jobs_list)} to parse")
    results.extend(_map(jobs_list, jobs))
    results.sort(key=lambda r: r.path)
    result = MigrationResult(
        root=str(base),
        files=tuple(results),
        scanned=len(files),
        parsed=len(jobs_list),
        rules=tuple(r.RULE_ID for r in rules),
        notes=tuple(notes),
        problems=tuple(problems),
    )
    needs = _needs_wrappers(result, plan)
    wrappers = check_wrappers(base, plan, settings, needed=needs)
    if write and result.changed:
        if not allow_dirty:
            dirty = dirty_paths(base)
            if dirty:
                shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
                raise MigrateError(
                    f"uncommitted changes in the git work tree ({shown}): commit or stash them so the migration "
                    "is its own reviewable diff, or pass --allow-dirty"
                )
        if generate and wrappers.state in ("missing", "stale"):
            wrappers = run_generate(base, wrappers)
        for item in result.changed:
            target = base / item.path if not single else root
            atomic_write_bytes(target, item.new)
        result = replace(result, written=True)
    return replace(result, wrappers=wrappers, seconds=time.perf_counter() - started)


def _map(jobs_list: list[tuple[str, str, MigrationPlan, tuple[str, ...]]], jobs: int | None) -> list[FileResult]:
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
    """Whether `servers/` exists and matches the snapshots (via the generator's own check when available)."""
    command = f"cfmigrate generate {root}" if str(root) != "." else "cfmigrate generate"
    if not needed:
        return Wrappers("not-needed", "the rewritten code does not use the generated package")
    package_dir = root / plan.servers_dir
    if not (package_dir / "__init__.py").is_file():
        return Wrappers("missing", f"{plan.servers_dir}/ does not exist: `{command}` builds it")
    checker = _generator_check()
    if checker is None:
        return Wrappers("unknown", f"{plan.servers_dir}/ exists; run `{command} --check` to confirm it is current")
    try:
        current = checker(root)
    except Exception as exc:  # the generator's own error, reported not raised
        return Wrappers("unknown", f"could not check {plan.servers_dir}/ ({exc}); run `{command} --check`")
    if current:
        return Wrappers("current", f"{plan.servers_dir}/ is up to date")
    return Wrappers("stale", f"{plan.servers_dir}/ is stale: `{command}` regenerates it")


def _generator_check() -> Callable[[Path], bool] | None:
    try:
        from cfmigrate.migrate.cmd_generate import package_is_current
    except ImportError:
        return None
    return package_is_current  # type: ignore[no-any-return]


def run_generate(root: Path, wrappers: Wrappers) -> Wrappers:
    """Build or refresh the wrappers with the generator before writing code that imports them."""
    try:
        from cfmigrate.migrate.cmd_generate import generate_package
    except ImportError:
        return Wrappers(wrappers.state, f"{wrappers.message} (run it before running the migrated agent)")
    try:
        generate_package(root)
    except Exception as exc:
        raise MigrateError(f"`cfmigrate generate` failed before the migration wrote anything: {exc}") from None
    return Wrappers("generated", "the wrappers were generated first (`cfmigrate generate`)")


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
    "transform_source",
]
