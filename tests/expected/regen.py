"""Regenerate the expected trees of `cfmigrate migrate` over the fixture repositories (never edit them by hand).

    python tests/expected/regen.py            # rewrite tests/expected/<fixture>/ and <fixture>.summary.txt
    python tests/expected/regen.py --check    # exit 1 when an expected tree is out of date

Each fixture is copied to a temporary folder, the real CLI runs `cfmigrate migrate --write` there, and
every file the migration changed is stored under `tests/expected/<fixture>/` (same relative path);
files it did not change are not stored (the test checks they stayed byte-identical). The summary the
CLI printed (timings removed) is stored beside it.
"""

from __future__ import annotations

import argparse
import filecmp
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).resolve().parent
# fixture -> extra CLI options (every run also gets --write --allow-dirty --no-generate)
FIXTURES: dict[str, tuple[str, ...]] = {
    "seed-scenario": (),
    "frameworks": (),
    "negatives": (),
    "config-zoo": (),
    "frameworks-all": ("--all",),
}
# expected tree name -> the fixture it runs on, when they differ (the same fixture under other options)
VARIANTS: dict[str, str] = {"frameworks-all": "frameworks"}
_TIMING = re.compile(r" \(\d+\.\d+ s\)")


def cli() -> str:
    """The installed `cfmigrate` next to this interpreter."""
    path = Path(sys.executable).with_name("cfmigrate")
    return str(path) if path.exists() else "cfmigrate"


def copy_fixture(name: str, dst: Path) -> Path:
    """A private copy of a fixture repository (caches left out)."""
    target = dst / name
    shutil.copytree(
        REPO / "fixtures" / VARIANTS.get(name, name),
        target,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".cfmigrate-stamp*"),
    )
    return target


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`cfmigrate migrate <root> ...` as a user would run it."""
    return subprocess.run(
        [cli(), "migrate", str(root), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=root,
    )


def migrate_fixture(
    name: str, work: Path, run: Callable[..., Any] | None = None
) -> tuple[Path, dict[str, bytes], str, int]:
    """Run the migration on a copy: (the copy, changed files by relative path, summary, exit code).

    `run(root, *args)` runs `cfmigrate migrate <root> ARGS` and returns an object with `returncode` and
    `stderr`; by default the installed console script (`run_cli`).
    """
    root = copy_fixture(name, work)
    before = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    done = (run or run_cli)(root, "--write", "--allow-dirty", "--no-generate", *FIXTURES[name])
    changed = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and before.get(p.relative_to(root).as_posix()) != p.read_bytes()
    }
    return root, changed, _TIMING.sub("", done.stderr), done.returncode


def regenerate(check: bool = False) -> list[str]:
    """Rewrite (or, with check, compare) every expected tree; returns the fixtures that differ."""
    stale: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cfm-expected-") as tmp:
        for name in FIXTURES:
            _, changed, summary, _ = migrate_fixture(name, Path(tmp) / "run")
            fresh = Path(tmp) / "fresh" / name
            fresh.mkdir(parents=True)
            for rel, data in changed.items():
                (fresh / rel).parent.mkdir(parents=True, exist_ok=True)
                (fresh / rel).write_bytes(data)
            target = EXPECTED / name
            summary_path = EXPECTED / f"{name}.summary.txt"
            same = (
                summary_path.is_file() and summary_path.read_text() == summary and _same_tree(fresh, target)
            )
            if same:
                continue
            stale.append(name)
            if not check:
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(fresh, target)
                summary_path.write_text(summary)
    return stale


def _same_tree(a: Path, b: Path) -> bool:
    if not b.is_dir():
        return not any(a.rglob("*"))
    cmp = filecmp.dircmp(a, b)
    stack = [cmp]
    while stack:
        cur = stack.pop()
        if cur.left_only or cur.right_only or cur.funny_files:
            return False
        _, mismatch, errors = filecmp.cmpfiles(cur.left, cur.right, cur.common_files, shallow=False)
        if mismatch or errors:
            return False
        stack.extend(cur.subdirs.values())
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report out-of-date expected trees")
    args = parser.parse_args()
    stale = regenerate(check=args.check)
    for name in stale:
        print(f"{'stale' if args.check else 'rewrote'}: tests/expected/{name}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
