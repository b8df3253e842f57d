"""Discovery: one walk of a repository into a deterministic Inventory of servers, manifests and agents.

Config files go to `configs.parse_config_file`, `tools/list` dumps to `manifests.load_manifest_file`,
snapshots are read from `.cfmigrate/manifests/`, and Python files pass a byte prefilter before the
few that can matter are parsed (in parallel on large trees). Then everything is merged: one spec per
server name, the best manifest per server, agents linked to the servers they reach.
"""

from __future__ import annotations

import multiprocessing
import os
import posixpath
import re
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from cfmigrate.analyzers.configs import is_config_candidate, parse_config_file
from cfmigrate.analyzers.manifests import HEAD_BYTES, is_manifest_candidate, load_manifest_file, match_catalog
from cfmigrate.analyzers.model import (
    SNAPSHOT_DIR,
    Agent,
    Inventory,
    Manifest,
    Problem,
    ServerSpec,
    SourceRef,
)
from cfmigrate.analyzers.naming import to_identifier
from cfmigrate.analyzers.snapshots import read_snapshots
from cfmigrate.analyzers.walk import Walker

if TYPE_CHECKING:  # the code scanner (libcst) is imported only when there are Python files to scan
    from cfmigrate.analyzers.code import PythonFacts

__all__ = ["PARALLEL_MIN_FILES", "PARALLEL_MIN_TREE", "discover"]

PARALLEL_MIN_FILES = 16
"""Below this many Python files that pass the prefilter, parsing stays in this process."""
PARALLEL_MIN_TREE = 2000
"""From this many Python files on, reading and prefiltering are spread over worker processes too."""

_BATCH = 8


@dataclass
class _Scan:
    """What the walk and the per-file readers produced, before merging."""

    files: int = 0
    bytes: int = 0
    config_specs: list[ServerSpec] = field(default_factory=list)
    parsed_configs: dict[str, list[ServerSpec]] = field(default_factory=dict)
    manifest_files: list[Manifest] = field(default_factory=list)
    python: list[tuple[str, PythonFacts]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    python_files: list[tuple[str, str]] = field(default_factory=list)  # every (path, rel) walked


def _read_python(path: str, rel: str) -> tuple[bytes | None, int, Problem | None]:
    from cfmigrate.analyzers.code import MAX_FILE_BYTES

    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            size = os.fstat(fd).st_size
            if size > MAX_FILE_BYTES:
                return (
                    None,
                    0,
                    Problem(
                        "info",
                        f"{rel} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB and was not analysed",
                        SourceRef(rel),
                        "if it holds agent code, split it or list it under `include` in [tool.cfmigrate]",
                    ),
                )
            chunks: list[bytes] = []
            while chunk := os.read(fd, max(size + 1, 1 << 16)):  # to EOF, even if the file changed size
                chunks.append(chunk)
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        finally:
            os.close(fd)
        return data, len(data), None
    except OSError as exc:
        return (
            None,
            0,
            Problem(
                "warning",
                f"cannot read {rel}: {exc.strerror or type(exc).__name__}; it was not scanned",
                SourceRef(rel),
                "fix its permissions, or leave it out with `exclude` in [tool.cfmigrate]",
            ),
        )


@dataclass
class _PyResult:
    """Python files of one batch: bytes read, problems met, facts of the files that passed the prefilter."""

    bytes: int = 0
    facts: list[tuple[str, PythonFacts]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    relevant: list[tuple[str, str]] = field(default_factory=list)


def _python_batch(batch: Sequence[tuple[str, str]], analyze: bool = True) -> _PyResult:
    """Read a batch of (absolute path, rel) files, prefilter them, and parse the few that pass."""
    out = _PyResult()
    if not batch:
        return out
    from cfmigrate.analyzers.code import analyze_python, is_relevant

    for path, rel in batch:
        data, size, problem = _read_python(path, rel)
        out.bytes += size
        if problem is not None:
            out.problems.append(problem)
        if data is None or not is_relevant(data):
            continue
        if analyze:
            out.facts.append((rel, analyze_python(data, rel)))
        else:
            out.relevant.append((path, rel))
    return out


def _prefiltered_batch(batch: Sequence[tuple[str, str]]) -> _PyResult:
    return _python_batch(batch, analyze=True)


def _pool_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    # fork is the cheapest start, and safe while this process runs a single thread
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _in_pool(batches: list[list[tuple[str, str]]], workers: int) -> list[_PyResult]:
    """Batches in worker processes; if the pool cannot start or breaks, the same work runs here instead."""
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(batches)), mp_context=_pool_context()) as pool:
            return list(pool.map(_prefiltered_batch, batches))
    except (OSError, BrokenProcessPool):
        return [_prefiltered_batch(batch) for batch in batches]


def _python(files: list[tuple[str, str]], jobs: int | None) -> _PyResult:
    """Prefilter and parse every Python file: in this process for small trees, in worker processes for large ones."""
    workers = jobs if jobs is not None else min(os.cpu_count() or 1, 8)
    total = _PyResult()
    if not files:  # nothing to scan: the code scanner is not even imported
        return total
    if workers > 1 and len(files) >= PARALLEL_MIN_TREE:
        # large tree: reading and prefiltering dominate, so they are spread over the workers too
        size = max(64, len(files) // (workers * 8))
        results = _in_pool([files[i : i + size] for i in range(0, len(files), size)], workers)
    else:
        first = _python_batch(files, analyze=False)
        relevant = first.relevant
        if workers > 1 and len(relevant) >= PARALLEL_MIN_FILES:
            results = _in_pool([relevant[i : i + _BATCH] for i in range(0, len(relevant), _BATCH)], workers)
        else:
            results = [_python_batch(relevant, analyze=True)]
        for result in results:
            result.bytes = 0  # these files were counted when they were first read
        results.append(first)
    for result in results:
        total.bytes += result.bytes
        total.facts.extend(result.facts)
        total.problems.extend(result.problems)
    return total


def _scan(root: Path, include: Sequence[str], exclude: Sequence[str], jobs: int | None) -> _Scan:
    scan = _Scan()
    walker = Walker(root, include, exclude)
    python_files: list[tuple[str, str]] = []
    snapshot_prefix = SNAPSHOT_DIR + "/"
    for text_path, rel in walker.entries():
        scan.files += 1
        if rel.startswith(snapshot_prefix):
            continue  # read by read_snapshots below
        if rel.endswith(".py"):
            python_files.append((text_path, rel))
            continue
        path = Path(text_path)
        handled = False
        if is_config_candidate(rel):
            result = parse_config_file(path, rel)
            if result is not None:
                specs, problems = result
                scan.config_specs.extend(specs)
                scan.parsed_configs[rel] = list(specs)
                scan.problems.extend(problems)
                scan.bytes += _size(path)
                handled = True
        if not handled and rel.lower().endswith(".json"):
            try:
                with open(path, "rb") as fh:
                    head = fh.read(HEAD_BYTES)
            except OSError:
                head = b""
            if is_manifest_candidate(rel, head):
                manifest, problems = load_manifest_file(path, rel)
                scan.problems.extend(problems)
                scan.bytes += _size(path)
                if manifest is not None:
                    scan.manifest_files.append(manifest)
    scan.problems.extend(walker.problems)
    python = _python(python_files, jobs)
    scan.bytes += python.bytes
    scan.problems.extend(python.problems)
    scan.python = sorted(python.facts, key=lambda item: item[0])
    scan.python_files = python_files
    return scan


_ROUNDS = 3
"""Rounds of reading files again with what their imports offer (a chain of three modules needs two)."""


def _across_files(scan: _Scan) -> None:
    """Second look at the files that import what another module of the repository offers (a server
    table, a prompt, a helper class wrapping an MCP session): they are analysed again with those values,
    and a helper whose servers an importing agent now reaches is no longer reported on its own."""
    if not scan.python:  # no Python file was analysed: the code scanner is not even imported
        return
    from cfmigrate.analyzers.code import analyze_python
    from cfmigrate.analyzers.code_repo import (
        External,
        HelperClass,
        HelperFunction,
        external_context,
        find_module,
        module_name,
    )

    by_rel = {rel: facts.exports for rel, facts in scan.python if facts.exports is not None}
    facts_of = dict(scan.python)
    # modules the analysed files import from this repository, which the prefilter skipped (a settings
    # module holding a server table or a prompt imports nothing MCP)
    paths = {rel: path for path, rel in scan.python_files}
    modules = {module_name(rel): rel for rel in paths}
    wanted: set[str] = set()
    for rel, exports in list(by_rel.items()):
        for written in exports.imports:
            found = find_module(written, rel, modules)
            if found is not None and found not in facts_of:
                wanted.add(found)
    for rel in sorted(wanted):
        data, _, _ = _read_python(paths[rel], rel)
        if data is not None:
            facts = analyze_python(data, rel, force=True)
            if facts.exports is not None:
                facts_of[rel] = facts
                by_rel[rel] = facts.exports
    if not any(e.constants or e.helpers or e.functions or e.servers for e in by_rel.values()):
        return

    def add_importers() -> None:
        """Files the prefilter skipped that import a module offering helpers by name (`from toolbox import
        Toolbox`); an importer of plain constants is itself an MCP file the prefilter kept."""
        names = "|".join(
            sorted(
                {re.escape(e.module.rpartition(".")[2]) for e in by_rel.values() if e.helpers or e.functions}
            )
        )
        importing = re.compile(rf"(?m)^[ \t]*(?:from|import)[ \t]+[\w.]*\b(?:{names})\b".encode())
        for path, rel in scan.python_files if names else ():
            if rel in facts_of:
                continue
            data, _, _ = _read_python(path, rel)
            if data is not None and importing.search(data):
                facts = analyze_python(data, rel, force=True)
                if facts.exports is not None:
                    facts_of[rel] = facts
                    by_rel[rel] = facts.exports

    # A file is read again with what its imports offer; what it offers in turn may then have grown (a helper
    # whose launch constant lives in a third module), so its importers are read again, a few rounds at most.
    contexts: dict[str, dict[str, External]] = {}
    for _ in range(_ROUNDS):
        add_importers()
        grown = False
        for rel in sorted(facts_of):
            offered = facts_of[rel].exports
            context = external_context(rel, offered, by_rel) if offered is not None else {}
            if not context or contexts.get(rel) == context:
                continue
            data, _, _ = _read_python(paths.get(rel, ""), rel)
            if data is None:
                continue
            contexts[rel] = context
            facts = analyze_python(data, rel, context, force=True)
            facts_of[rel] = facts
            if facts.exports is not None and facts.exports != by_rel.get(rel):
                by_rel[rel] = facts.exports
                grown = True
        if not grown:
            break
    consumed: dict[str, set[int]] = {}
    for rel, context in contexts.items():
        if facts_of[rel].agents:
            for value in context.values():
                if isinstance(value, HelperClass | HelperFunction):
                    consumed.setdefault(value.rel, set()).update(value.lines)
    for rel, lines in consumed.items():
        helper_file = facts_of.get(rel)
        if helper_file is None:
            continue
        kept = tuple(
            a
            for a in helper_file.agents
            if not a.call_sites or not {s.source.line for s in a.call_sites} <= lines
        )
        facts_of[rel] = replace(helper_file, agents=kept)
    first = {rel for rel, _ in scan.python}
    scan.python = sorted(
        (
            (rel, f)
            for rel, f in facts_of.items()
            if rel in first or f.agents or f.servers or f.defined or f.problems or f.config_refs
        ),
        key=lambda item: item[0],
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _launch(spec: ServerSpec) -> tuple[object, ...]:
    """A server's identity: what starts it (command, args and the folder it starts in) or where it answers
    (URL). The same command in two working directories is two servers (relative paths in its args, the
    files it reads); one launch under several names is one server."""
    if spec.url:
        return ("url", spec.url.rstrip("/"))
    return ("command", spec.command, spec.args, _workdir(spec))


_WORKSPACE = ("${workspaceFolder}", "${workspaceRoot}", "${PWD}")


def _workdir(spec: ServerSpec) -> str | None:
    """The folder a stdio server is started in when its declaration names one (`cwd`, resolved against the
    declaring file's folder), repository-relative; None for the repository root or no `cwd` (where agents
    and clients normally start it)."""
    cwd = (spec.cwd or "").replace("\\", "/")
    if not cwd:
        return None
    base = _spec_base(spec)
    for prefix in _WORKSPACE:
        if cwd.startswith(prefix):
            cwd, base = cwd[len(prefix) :].lstrip("/") or ".", ""
            break
    if "${" in cwd or cwd.startswith("~") or posixpath.isabs(cwd):
        return posixpath.normpath(cwd)
    folder = posixpath.normpath(posixpath.join(base, cwd))
    return None if folder == "." else folder


# --- servers -------------------------------------------------------------------------------------


def _anchor_to_root(spec: ServerSpec, root: Path) -> ServerSpec:
    """A server declared in `pkg/agent.py` with `args=["servers/x.py"]` means a path from the working
    directory, normally the repository root; tools that resolve relative paths from the declaring file's
    folder (as they do for configs) get `cwd` pointing back at the root."""
    folder = posixpath.dirname(spec.source.path)
    if spec.transport != "stdio" or spec.cwd or not folder:
        return spec
    for arg in (spec.command or "", *spec.args):
        if arg.startswith(("-", "/", "{")) or (
            "/" not in arg and not arg.endswith((".py", ".js", ".mjs", ".ts"))
        ):
            continue
        if (root / arg).exists() and not (root / folder / arg).exists():
            return replace(spec, cwd=posixpath.relpath(".", folder))
    return spec


def _duplicate(kept: ServerSpec, spec: ServerSpec) -> Problem:
    """Two configs give one server name different launches: the first one is used."""
    return Problem(
        "warning",
        f"server {spec.name!r} is declared in both {kept.source} and {spec.source} with different "
        f"launch settings; the one in {kept.source.path} is used",
        spec.source,
        "rename one of them (generated wrappers use the server name), or make the declarations agree",
    )


_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]"})


def _local_endpoint(url: str | None) -> tuple[int, str] | None:
    """(port, path) of a URL on this machine, else None: how a literal URL finds a server the repository
    defines and serves over HTTP."""
    if not url:
        return None
    parts = urlsplit(url)
    if (parts.hostname or "") not in _LOCAL_HOSTS:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return port, parts.path.rstrip("/") or "/"


def _merge_servers(
    config_specs: list[ServerSpec], python: list[tuple[str, PythonFacts]], problems: list[Problem], root: Path
) -> tuple[dict[str, ServerSpec], dict[str, dict[str, str]]]:
    """One spec per name; returns the specs and, per Python file, how its server names map to final ones."""
    final: dict[str, ServerSpec] = {}
    by_launch: dict[tuple[object, ...], str] = {}
    # Shallowest config first: the repository's own config wins over one nested in a subfolder.
    ordered = sorted(
        config_specs, key=lambda s: (s.source.path.count("/"), s.source.path, s.source.line or 0, s.name)
    )
    renamed: dict[str, str] = {}  # another name for a launch already kept -> the kept name
    served = {_local_endpoint(url): name for _, facts in python for name, url in facts.served}
    for spec in ordered:
        own = served.get(_local_endpoint(spec.url)) if spec.url else None
        if own is not None and own != spec.name and own not in final:
            renamed[spec.name] = own  # the repository's own server, reached by its literal local URL
            spec = replace(spec, name=own)
        kept = final.get(spec.name)
        if kept is None:
            same = by_launch.get(_launch(spec))
            if same is not None and (spec.command or spec.url):
                renamed[spec.name] = same  # one launch under several names: one server, aliases listed
                continue
            final[spec.name] = spec
            by_launch.setdefault(_launch(spec), spec.name)
        elif _launch(kept) != _launch(spec):
            problems.append(_duplicate(kept, spec))
    aliases: dict[str, dict[str, str]] = {"": renamed}
    for rel, facts in python:
        mapping: dict[str, str] = {}
        for declared in facts.servers:
            spec = _anchor_to_root(declared, root)
            same = by_launch.get(_launch(spec))
            if same is not None:
                mapping[spec.name] = same
                continue
            own = served.get(_local_endpoint(spec.url)) if spec.url else None
            if own is not None and own not in final:
                # the repository's own server, reached by its literal local URL: one server, its name
                spec = replace(spec, name=own)
                mapping[declared.name] = own
            name, n = spec.name, 1
            while name in final:
                n += 1
                name = f"{spec.name}-{n}"
            if name != spec.name:
                problems.append(
                    Problem(
                        "info",
                        f"server {spec.name!r} declared in code at {spec.source} differs from the one in "
                        f"{final[spec.name].source}; it is listed as {name!r}",
                        spec.source,
                        "give one of them another name if they are different servers",
                    )
                )
            final[name] = replace(spec, name=name)
            by_launch[_launch(spec)] = name
            mapping[spec.name] = name
        aliases[rel] = mapping
    return final, aliases


# --- manifests -----------------------------------------------------------------------------------


def _spec_base(spec: ServerSpec) -> str:
    """Folder a spec's relative paths start from: its file's folder, above dot-folders (.vscode/, .cursor/)."""
    folder = posixpath.dirname(spec.source.path)
    while folder and posixpath.basename(folder).startswith("."):
        folder = posixpath.dirname(folder)
    return folder


def _launched_files(spec: ServerSpec, root: Path) -> set[str]:
    """Repository paths of Python files a stdio spec may start (`python x.py`, `uv run x.py`, `-m pkg.mod`)."""
    if spec.transport != "stdio" or not spec.command:
        return set()
    bases = {_spec_base(spec), ""}
    if spec.source.path.endswith(".py"):
        bases = {"", posixpath.dirname(spec.source.path)}
    if spec.cwd:
        cwd = spec.cwd.replace("${workspaceFolder}", "").replace("${PWD}", "").lstrip("/")
        if not os.path.isabs(spec.cwd) or cwd != spec.cwd:
            bases |= {posixpath.normpath(posixpath.join(b, cwd)) for b in list(bases)}
    args = list(spec.args)
    root_text = str(root).replace("\\", "/").rstrip("/") + "/"
    found: set[str] = set()
    items = [spec.command, *args]
    for i, raw in enumerate(items):
        arg = raw.replace("\\", "/")
        for prefix in ("${workspaceFolder}/", "${PWD}/", "./"):
            if arg.startswith(prefix):
                arg = arg[len(prefix) :]
        if arg.startswith(root_text):
            arg = arg[len(root_text) :]
        if i > 0 and items[i - 1] in ("--directory", "--cwd"):
            bases |= {posixpath.normpath(posixpath.join(b, arg)) for b in list(bases)}
            continue
        if i > 0 and items[i - 1] == "-m":
            module = arg.replace(".", "/")
            for b in bases:
                for candidate in (f"{module}.py", f"{module}/__main__.py", f"src/{module}.py"):
                    found.add(posixpath.normpath(posixpath.join(b, candidate)))
            continue
        path = arg.split(":", 1)[0] if arg.count(":") == 1 and not arg.startswith("/") else arg
        if path.endswith(".py") and not os.path.isabs(path):
            for b in bases:
                found.add(posixpath.normpath(posixpath.join(b, path)))
    return found


def _choose_manifests(
    specs: dict[str, ServerSpec],
    snapshots: dict[str, Manifest],
    manifest_files: list[Manifest],
    python: list[tuple[str, PythonFacts]],
    root: Path,
    problems: list[Problem],
) -> tuple[Manifest, ...]:
    """Per server the best tool list: snapshot > manifest file > static analysis of code > catalog."""
    from_files: dict[str, Manifest] = {}
    for m in sorted(manifest_files, key=lambda m: (m.source.path if m.source else "", m.server)):
        from_files.setdefault(m.server, m)
    defined: dict[str, list[Manifest]] = {}
    for rel, facts in python:
        if facts.defined:
            defined[rel] = list(facts.defined)
    from_code: dict[str, Manifest] = {}
    used_defined: set[tuple[str, str]] = set()
    for name in sorted(specs):
        spec = specs[name]
        for rel in sorted(_launched_files(spec, root)):
            if defined.get(rel):
                m = defined[rel][0]
                from_code[name] = replace(m, server=name)
                used_defined.add((rel, m.server))
                break
    all_defined = [(rel, m) for rel, ms in sorted(defined.items()) for m in ms]
    for rel, m in all_defined:
        if (rel, m.server) in used_defined:
            continue
        same_name = specs.get(m.server)
        if (
            same_name is not None
            and m.server not in from_code
            and (same_name.transport != "stdio" or not same_name.package)
        ):
            from_code[m.server] = m  # a local server reached by URL under the same name
            used_defined.add((rel, m.server))
    for rel, m in all_defined:
        if (rel, m.server) in used_defined or m.server in specs or m.server in from_code:
            continue
        from_code[m.server] = m
        problems.append(
            Problem(
                "info",
                f"MCP server {m.server!r} is defined in {rel} but no config or agent in this repository starts it",
                m.source,
                "add it to .mcp.json if agents should use it",
            )
        )
    chosen: dict[str, Manifest] = {}
    names = sorted(set(specs) | set(snapshots) | set(from_files) | set(from_code))
    for name in names:
        pick = snapshots.get(name) or from_files.get(name) or from_code.get(name)
        if pick is None and name in specs:
            pick = match_catalog(specs[name])
        if pick is not None:
            chosen[name] = pick if pick.server == name else replace(pick, server=name)
    return tuple(chosen[n] for n in sorted(chosen))


# --- agents --------------------------------------------------------------------------------------


def _link_agents(
    python: list[tuple[str, PythonFacts]],
    aliases: dict[str, dict[str, str]],
    specs: dict[str, ServerSpec],
    parsed_configs: dict[str, list[ServerSpec]],
    root: Path,
    problems: list[Problem],
) -> list[Agent]:
    by_identifier: dict[str, str] = {}
    for name in sorted(specs):
        by_identifier.setdefault(to_identifier(name), name)
    agents: list[Agent] = []
    renamed = aliases.get("", {})
    for rel, facts in python:
        mapping = {**renamed, **aliases.get(rel, {})}
        refs_by_agent: dict[str, list[tuple[str, ...]]] = {}
        for ref in facts.config_refs:
            refs_by_agent.setdefault(ref.agent, []).append(ref.candidates)
        for agent in facts.agents:
            servers = {mapping.get(s, s) for s in agent.servers}
            all_servers = agent.all_servers
            for candidates in refs_by_agent.get(agent.name, []):
                config = _resolve_config(candidates, parsed_configs, specs, root, problems)
                if config is not None:
                    servers |= {renamed.get(s.name, s.name) for s in config}
                    all_servers = True
            call_sites = []
            for site in agent.call_sites:
                server = mapping.get(site.server, site.server) if site.server else None
                if site.kind == "code_mode" and site.api.startswith("servers.") and server is None:
                    server = by_identifier.get(site.api.split(".")[1])
                    if server:
                        servers.add(server)
                call_sites.append(replace(site, server=server) if server != site.server else site)
            agents.append(
                replace(
                    agent,
                    servers=tuple(sorted(servers)),
                    all_servers=all_servers,
                    call_sites=tuple(call_sites),
                )
            )
    return agents


_DIRECT_ONLY = frozenset({"call_tool", "list_tools"})


def is_tool_script(agent: Agent) -> bool:
    """Code that calls MCP tools itself and sends no model request: a tool script, not an agent."""
    kinds = {site.kind for site in agent.call_sites}
    # no model call and no framework agent: the framework stays "mcp" (a model call sets its SDK)
    return bool(kinds) and kinds <= _DIRECT_ONLY and agent.framework == "mcp" and not agent.code_mode


def _resolve_config(
    candidates: Iterable[str],
    parsed: dict[str, list[ServerSpec]],
    specs: dict[str, ServerSpec],
    root: Path,
    problems: list[Problem],
) -> list[ServerSpec] | None:
    """The servers of the config file an agent names by a literal path (parsed now if the walk skipped it)."""
    for rel in candidates:
        rel = posixpath.normpath(rel)
        if rel.startswith("../") or rel == ".." or os.path.isabs(rel):
            continue
        if rel in parsed:
            return parsed[rel] or None
        path = root / rel
        if not path.is_file():
            continue
        result = parse_config_file(path, rel)
        if result is None:
            parsed[rel] = []
            continue
        found, found_problems = result
        problems.extend(found_problems)
        parsed[rel] = list(found)
        for spec in found:
            kept = specs.get(spec.name)
            if kept is None:
                specs[spec.name] = spec
            elif _launch(kept) != _launch(spec):
                problems.append(_duplicate(kept, spec))
        return parsed[rel] or None
    return None


# --- the entry point -----------------------------------------------------------------------------


def _problem_key(p: Problem) -> tuple[str, int, str, str]:
    return (p.source.path if p.source else "", (p.source.line or 0) if p.source else 0, p.level, p.message)


def discover(
    root: Path,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    jobs: int | None = None,
) -> Inventory:
    """Walk `root` once and return everything found about MCP servers, their tools and the agents using them."""
    root = Path(root).absolute()
    scan = _scan(root, include, exclude, jobs)
    _across_files(scan)
    problems = list(scan.problems)
    for _, facts in scan.python:
        problems.extend(facts.problems)
    specs, aliases = _merge_servers(scan.config_specs, scan.python, problems, root)
    linked = _link_agents(scan.python, aliases, specs, scan.parsed_configs, root, problems)
    agents = [a for a in linked if not is_tool_script(a)]
    scripts = [a for a in linked if is_tool_script(a)]
    snapshots, snapshot_problems = read_snapshots(root)
    problems.extend(snapshot_problems)
    manifests = _choose_manifests(specs, snapshots, scan.manifest_files, scan.python, root, problems)
    unique = {_problem_key(p): p for p in problems}
    also: dict[str, list[str]] = {}
    for other, kept in aliases.get("", {}).items():
        also.setdefault(kept, []).append(other)
    return Inventory(
        aliases={k: tuple(sorted(v)) for k, v in also.items()},
        root=str(root),
        servers=tuple(specs[n] for n in sorted(specs)),
        manifests=manifests,
        agents=tuple(sorted(agents, key=lambda a: (a.source.path, a.source.line or 0, a.name))),
        tool_scripts=tuple(sorted(scripts, key=lambda a: (a.source.path, a.source.line or 0, a.name))),
        problems=tuple(unique[k] for k in sorted(unique)),
        files_scanned=scan.files,
        bytes_scanned=scan.bytes,
    )
