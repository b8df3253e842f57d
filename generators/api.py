"""`generate` and `generate --check` as functions: estate -> IR -> rendered files -> disk (or a diff)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING

from cfmigrate.analyzers.model import Problem
from cfmigrate.generators import __version__
from cfmigrate.generators.errors import NoManifests
from cfmigrate.generators.writer import (
    TreeDiff,
    check_out_dir,
    compare,
    digest,
    input_hashes,
    repository_digest,
    stamp_key,
    stamp_matches,
    unified_diff,
    write_stamp,
    write_tree,
)

if TYPE_CHECKING:
    from cfmigrate.generators.inputs import Estate
    from cfmigrate.generators.ir import PackageIR


@dataclass(frozen=True)
class GenerateOptions:
    """What to generate and where (paths as given; `out` relative to `root` unless absolute)."""

    root: Path
    out: str = "servers"
    manifest_files: tuple[Path, ...] = ()
    servers: tuple[str, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()
    discover: bool = True  # read the repository's configs and snapshots (off: only manifest files)

    @property
    def out_dir(self) -> Path:
        return (self.root / self.out).resolve()

    def key_material(self) -> dict[str, object]:
        return {
            "out": self.out,
            "manifests": sorted(str(p) for p in self.manifest_files),
            "servers": sorted(self.servers),
            "renames": sorted(self.renames),
            "discover": self.discover,
        }


@dataclass(frozen=True)
class Outcome:
    """What a run did or found."""

    package: PackageIR | None
    files: dict[str, bytes] = field(default_factory=dict)
    written: bool = False
    diff: TreeDiff | None = None
    diff_text: str = ""
    problems: tuple[Problem, ...] = ()
    fast_path: bool = False  # `--check` answered from the stamp without rendering
    provenance: tuple[str, ...] = ()  # one line per server whose tools do not come from a snapshot
    seconds: float = 0.0

    @property
    def in_sync(self) -> bool:
        return self.fast_path or (self.diff is not None and self.diff.clean)

    @property
    def tool_count(self) -> int:
        return sum(len(s.tools) for s in self.package.servers) if self.package else 0


@lru_cache(maxsize=1)
def generator_fingerprint() -> str:
    """cfmigrate's version, the generator's and analyzers' sources, templates, and the pinned tools' versions."""
    h = hashlib.sha256(__version__.encode())
    # the analyzers count too: a server's tools may come from static analysis of its source
    for package, suffix in (
        ("cfmigrate.generators", ".py"),
        ("cfmigrate.templates", ".jinja"),
        ("cfmigrate.analyzers", ".py"),
        ("cfmigrate.analyzers", ".json"),  # the bundled catalog: a server's tools may come from it
    ):
        base = resources.files(package)
        for entry in sorted(_walk(base), key=lambda e: e[0]):
            if entry[0].endswith(suffix):
                h.update(entry[0].encode() + b"\0" + entry[1] + b"\0")
    for dist in ("datamodel-code-generator", "ruff", "pydantic"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(dist.encode())
    return h.hexdigest()


def _walk(base: resources.abc.Traversable, prefix: str = "") -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for child in base.iterdir():
        name = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                out.extend(_walk(child, name + "/"))
        else:
            out.append((name, child.read_bytes()))
    return out


def _repository(options: GenerateOptions) -> Callable[[], str]:
    """The repository digest the stamp records: every file a scan may read, when the run scans the repository."""
    if not options.discover:
        return lambda: ""
    return lambda: repository_digest(options.root, options.out_dir)


def _key(options: GenerateOptions) -> str:
    return stamp_key(options.key_material(), generator_fingerprint())


def build(
    options: GenerateOptions, estate: Estate | None = None
) -> tuple[Estate, PackageIR, dict[str, bytes]]:
    """Load the estate (unless given), build the IR and render every file (nothing is written)."""
    from cfmigrate.generators.build import build_package
    from cfmigrate.generators.inputs import load_estate
    from cfmigrate.generators.render import render_package

    check_out_dir(options.root, options.out_dir)
    if estate is None:
        estate = load_estate(
            options.root,
            options.out_dir,
            manifest_files=options.manifest_files,
            servers=options.servers,
            discover_repo=options.discover,
        )
    if not estate.pairs:
        errors = "; ".join(p.message for p in estate.problems if p.level == "error")
        if options.discover:
            looked = (
                f"found no tool snapshot (.cfmigrate/), manifest file or known server in the MCP configs "
                f"under {options.root}; list the configured servers' tools with `cfmigrate generate --refresh`, "
                "or pass --manifest FILE (a tools/list JSON dump)"
            )
        else:
            looked = "--no-discover reads only --manifest files and none was given; pass --manifest FILE"
        raise NoManifests(
            f"no tool manifests to generate from: {looked}{f' ({errors})' if errors else ''}", errors
        )
    package = build_package(
        estate.pairs, package=options.out_dir.name, renames=dict(options.renames), bases=estate.bases
    )
    return estate, package, render_package(package)


def generate(options: GenerateOptions, estate: Estate | None = None) -> Outcome:
    """Render the package and replace the output directory with it (a no-op when nothing changed)."""
    started = time.perf_counter()
    estate, package, files = build(options, estate)
    written = write_tree(options.out_dir, files)
    outputs = {rel: digest(data) for rel, data in files.items()}
    inputs = input_hashes(options.root, estate.inputs)
    write_stamp(options.root, _key(options), inputs, outputs, _repository(options)())
    return Outcome(
        package=package,
        files=files,
        written=written,
        diff=compare(options.out_dir, files),
        problems=(*estate.problems, *package.problems),
        provenance=estate.provenance,
        seconds=time.perf_counter() - started,
    )


def check(options: GenerateOptions, estate: Estate | None = None, *, fast: bool = True) -> Outcome:
    """Compare the package on disk with a fresh render; never writes. `fast`: trust a matching stamp."""
    started = time.perf_counter()
    check_out_dir(options.root, options.out_dir)
    if (
        fast
        and estate is None
        and stamp_matches(options.root, options.out_dir, _key(options), _repository(options))
    ):
        return Outcome(package=None, fast_path=True, seconds=time.perf_counter() - started)
    estate, package, files = build(options, estate)
    diff = compare(options.out_dir, files)
    label = _label(options)
    text = "" if diff.clean else unified_diff(options.out_dir, files, diff, label)
    return Outcome(
        package=package,
        files=files,
        diff=diff,
        diff_text=text,
        problems=(*estate.problems, *package.problems),
        provenance=estate.provenance,
        seconds=time.perf_counter() - started,
    )


def _label(options: GenerateOptions) -> str:
    try:
        return options.out_dir.relative_to(options.root.resolve()).as_posix()
    except ValueError:
        return options.out_dir.as_posix()


def refresh(options: GenerateOptions) -> list[Problem]:
    """List every configured server's tools live and rewrite its snapshot (the audit's connector)."""
    from cfmigrate.analyzers.connect import connect_all
    from cfmigrate.generators.inputs import load_estate

    estate = load_estate(options.root, options.out_dir, servers=options.servers, discover_repo=True)
    specs = [s for s in estate.specs if not s.disabled]
    problems = [p for p in estate.problems if p.level == "error"]
    for result in connect_all(specs, root=options.root, write=True):
        if result.problem is not None:
            problems.append(result.problem)
    return problems
