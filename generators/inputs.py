"""What `generate` builds from: the repository's servers and their snapshots, plus manifest files given by hand."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cfmigrate.analyzers.manifests import load_manifest_file
from cfmigrate.analyzers.model import Manifest, Problem, ServerSpec

# Manifest origins a package may be generated from. Discovery already picks, per server, the best list in the
# audit's priority order (snapshot > manifest file > static analysis of the server's code > catalog).
USABLE_ORIGINS = frozenset({"snapshot", "manifest-file", "live", "code", "catalog"})
REFRESH_HINT = "run `cfmigrate generate --refresh` to lock the live list"


@dataclass(frozen=True)
class Estate:
    """Servers to generate: (launch spec, manifest) pairs, and the files they were read from."""

    pairs: tuple[tuple[ServerSpec | None, Manifest], ...]
    specs: tuple[ServerSpec, ...]  # every server the configs declare (for --refresh)
    bases: dict[str, str] = field(
        default_factory=dict
    )  # server -> config folder, relative to the package dir
    inputs: tuple[str, ...] = ()  # POSIX paths (relative to root) of every file read
    problems: tuple[Problem, ...] = ()
    provenance: tuple[str, ...] = ()  # one line per server whose tools do not come from a snapshot


def provenance_line(manifest: Manifest, by_hand: bool = False) -> str:
    """How a server's tool list was obtained, for a server generated from something other than a snapshot."""
    where = f" {manifest.source}" if manifest.source is not None else ""
    if manifest.origin == "code":
        what = f"static analysis of{where or ' its source'}"
    elif manifest.origin == "catalog":
        what = f"the bundled catalog (server version {manifest.server_version or 'unknown'})"
    elif manifest.origin == "live":
        what = "a live tools/list (not saved as a snapshot)"
    else:
        what = f"manifest file{where}"
    if by_hand:
        return f"{manifest.server}: tools from {what} (--manifest)"
    return f"{manifest.server}: tools from {what} ({REFRESH_HINT})"


def _manifest_arg_error(rel: str, problems: Sequence[Problem]) -> str:
    """One message for an unusable `--manifest` file: which file, what is wrong, and what to do."""
    errors = [p for p in problems if p.level == "error"]
    if not errors:
        return (
            f"--manifest {rel}: not a tools/list manifest; pass a JSON dump of a server's tools/list result"
        )
    first = errors[0]
    hint = f"; {first.hint}" if first.hint else ""
    return f"--manifest {rel}: {first.message}{hint}"


def read_manifest_args(root: Path, manifest_files: Sequence[Path]) -> list[Manifest]:
    """Load every `--manifest` file, or raise one GenerateError naming each unusable file (nothing is written)."""
    from cfmigrate.generators.build import GenerateError

    loaded: list[Manifest] = []
    errors: list[str] = []
    for given in manifest_files:
        path = given.resolve()
        rel = os.path.relpath(path, root).replace(os.sep, "/") if path.is_relative_to(root) else str(path)
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            errors.append(
                f"--manifest {given} {what}; check the path (it is relative to the current directory)"
            )
            continue
        manifest, found = load_manifest_file(path, rel)
        if manifest is None or any(p.level == "error" for p in found):
            errors.append(_manifest_arg_error(rel, found))
            continue
        loaded.append(manifest)
    if errors:
        raise GenerateError("; ".join(errors))
    return loaded


def _inventory(root: Path) -> tuple[tuple[ServerSpec, ...], dict[str, Manifest], list[Problem]]:
    """Servers from the repository's configs and the best manifest of each (discovery, when installed)."""
    try:
        from cfmigrate.analyzers.discover import discover
    except ImportError:
        return _fallback_inventory(root)
    inventory = discover(root)
    manifests = {m.server: m for m in inventory.manifests}
    return tuple(inventory.servers), manifests, list(inventory.problems)


def _fallback_inventory(root: Path) -> tuple[tuple[ServerSpec, ...], dict[str, Manifest], list[Problem]]:
    """Configs found by the audit's walker and the snapshots, for checkouts without `analyzers.discover`."""
    from cfmigrate.analyzers.configs import is_config_candidate, parse_config_file
    from cfmigrate.analyzers.snapshots import read_snapshots
    from cfmigrate.analyzers.walk import iter_files

    problems: list[Problem] = []
    specs: list[ServerSpec] = []
    for path, rel in iter_files(root, problems=problems):
        if not is_config_candidate(rel):
            continue
        parsed = parse_config_file(path, rel)
        if parsed is not None:
            found, found_problems = parsed
            specs.extend(found)
            problems.extend(found_problems)
    snapshots, snapshot_problems = read_snapshots(root)
    problems.extend(snapshot_problems)
    return tuple(specs), snapshots, problems


def _base(root: Path, out_dir: Path, spec: ServerSpec | None) -> str:
    """The folder a server's relative paths resolve against, as seen from the package directory."""
    from cfmigrate.analyzers.connect import config_base

    if spec is None:
        return os.path.relpath(root, out_dir).replace(os.sep, "/")
    base = config_base(root, spec)
    cwd = spec.cwd or ""
    if (
        cwd
        and "${" not in cwd
        and not Path(cwd).is_absolute()
        and not (base / cwd).is_dir()
        and (root / cwd).is_dir()
    ):
        base = root  # the same fallback `audit --connect` applies
    return os.path.relpath(base, out_dir).replace(os.sep, "/")


def load_estate(
    root: Path,
    out_dir: Path,
    *,
    manifest_files: Sequence[Path] = (),
    servers: Sequence[str] = (),
    discover_repo: bool = True,
) -> Estate:
    """The pairs to generate. Manifest files win over snapshots of the same server; `servers` filters by name."""
    root = root.resolve()
    by_hand = read_manifest_args(root, manifest_files)  # before the scan: a bad argument stops everything
    problems: list[Problem] = []
    specs: tuple[ServerSpec, ...] = ()
    manifests: dict[str, Manifest] = {}
    if discover_repo:
        specs, manifests, found = _inventory(root)
        given = {m.source.path for m in by_hand if m.source is not None}
        problems.extend(
            p for p in found if p.level != "info" and not (p.source is not None and p.source.path in given)
        )
    for manifest in by_hand:
        manifests[manifest.server] = manifest
    hand_servers = {m.server for m in by_hand}
    by_name = {s.name: s for s in specs}
    wanted = set(servers)
    unknown = wanted - set(manifests) - set(by_name)
    for name in sorted(unknown):
        problems.append(Problem("error", f"--server {name!r}: no such server in the configs or manifests"))
    pairs: list[tuple[ServerSpec | None, Manifest]] = []
    notes: list[str] = []
    for name in sorted(manifests):
        if wanted and name not in wanted:
            continue
        manifest = manifests[name]
        if manifest.origin not in USABLE_ORIGINS:
            problems.append(
                Problem(
                    "warning",
                    f"server {name!r}: only an estimate of its tools is known ({manifest.label()}); not generated",
                    manifest.source,
                    "run `cfmigrate generate --refresh` to list its tools from the live server",
                )
            )
            continue
        if manifest.origin != "snapshot":
            notes.append(provenance_line(manifest, by_hand=name in hand_servers))
        pairs.append((by_name.get(name), manifest))
    for spec in specs:
        if spec.name not in manifests and (not wanted or spec.name in wanted) and not spec.disabled:
            problems.append(
                Problem(
                    "warning",
                    f"server {spec.name!r}: no tool list is known (no snapshot, manifest file, readable source or "
                    "catalog entry); not generated",
                    spec.source,
                    "run `cfmigrate generate --refresh` (or `cfmigrate audit --connect`) to snapshot its tools",
                )
            )
    inputs = sorted(
        {s.source.path for _, m in pairs if (s := by_name.get(m.server))}
        | {m.source.path for _, m in pairs if m.source is not None}
    )
    return Estate(
        pairs=tuple(pairs),
        specs=tuple(s for s in specs if not wanted or s.name in wanted),
        bases={m.server: _base(root, out_dir.resolve(), spec) for spec, m in pairs},
        inputs=tuple(inputs),
        problems=tuple(problems),
        provenance=tuple(notes),
    )
