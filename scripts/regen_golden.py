"""Regenerate the golden `servers/` trees under tests/golden/ (never edit them by hand).

    python scripts/regen_golden.py                 # both trees, from the stored inputs
    python scripts/regen_golden.py --refresh-seed  # first re-list the seed-scenario servers live

* `tests/golden/manifests/servers/` — the nine real manifests in fixtures/manifests/ (no launch specs).
* `tests/golden/seed-scenario/servers/` — the seed-scenario estate: its `.mcp.json` plus tool snapshots
  kept in `tests/golden/seed-scenario/snapshots/` (captured from the live fixture servers with
  `--refresh-seed`, which starts them with throwaway tokens and data files).

`tests/test_generate_golden.py` renders the same way (`render_golden`) and compares file by file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
MANIFESTS = REPO / "fixtures" / "manifests"
SEED = REPO / "fixtures" / "seed-scenario"
SEED_SNAPSHOTS = GOLDEN / "seed-scenario" / "snapshots"
NAMES = ("manifests", "seed-scenario")


def _copy_seed(target: Path) -> Path:
    """The seed-scenario repository without caches, with the stored snapshots in `.cfmigrate/manifests/`."""
    root = target / "seed-scenario"
    shutil.copytree(SEED, root, ignore=shutil.ignore_patterns("__pycache__", ".cfmigrate", "servers"))
    if SEED_SNAPSHOTS.is_dir():
        shutil.copytree(SEED_SNAPSHOTS, root / ".cfmigrate" / "manifests")
    return root


def render_golden(name: str) -> dict[str, bytes]:
    """The files of one golden package, rendered from its stored inputs (nothing under tests/ is written)."""
    from cfmigrate.generators.api import GenerateOptions, build

    if name == "manifests":
        with tempfile.TemporaryDirectory() as tmp:
            files = sorted(MANIFESTS.glob("*.tools.json"))
            options = GenerateOptions(root=Path(tmp), manifest_files=tuple(files), discover=False)
            return build(options)[2]
    if name == "seed-scenario":
        with tempfile.TemporaryDirectory() as tmp:
            root = _copy_seed(Path(tmp))
            return build(GenerateOptions(root=root))[2]
    raise ValueError(f"unknown golden tree {name!r}; choose one of {', '.join(NAMES)}")


def refresh_seed_snapshots() -> None:
    """List the seed-scenario servers' tools live and store the snapshots `render_golden` reads."""
    from cfmigrate.analyzers.connect import connect_all
    from cfmigrate.analyzers.discover import discover

    with tempfile.TemporaryDirectory() as tmp:
        root = _copy_seed(Path(tmp))
        shutil.rmtree(root / ".cfmigrate", ignore_errors=True)
        data = Path(tmp) / "data"
        data.mkdir()
        os.environ.update(
            {f"{n}_DATA": str(data / f"{n.lower()}.json") for n in ("DRIVE", "CRM", "SLACK")}
            | {"DRIVE_ACCESS_TOKEN": "golden", "CRM_API_TOKEN": "golden", "SLACK_BOT_TOKEN": "golden"}
        )
        os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        specs = discover(root).servers
        results = connect_all(specs, root=root, write=True, progress=False)
        failed = [r.problem.message for r in results if r.problem is not None and r.manifest is None]
        if failed:
            raise SystemExit("could not list the seed-scenario servers:\n" + "\n".join(failed))
        shutil.rmtree(SEED_SNAPSHOTS, ignore_errors=True)
        shutil.copytree(root / ".cfmigrate" / "manifests", SEED_SNAPSHOTS)
    print(f"snapshots: {', '.join(sorted(p.name for p in SEED_SNAPSHOTS.glob('*.json')))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--refresh-seed", action="store_true", help="re-list the seed-scenario servers live first"
    )
    args = parser.parse_args()
    from cfmigrate.generators.writer import write_tree

    if args.refresh_seed or not SEED_SNAPSHOTS.is_dir():
        refresh_seed_snapshots()
    for name in NAMES:
        out = GOLDEN / name / "servers"
        changed = write_tree(out, render_golden(name))
        print(f"{out.relative_to(REPO)}: {'rewritten' if changed else 'unchanged'}")


if __name__ == "__main__":
    main()
