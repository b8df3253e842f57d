"""Discovery speed: each fixture repository, and ten copies of the standard library against `grep -rlE`.

Run: `python benchmarks/bench_audit.py` (one run, numbers printed; nothing is asserted).
Targets: every fixture repository < 1 s; the large tree within 3x of grep over the same files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from cfmigrate.analyzers.code import is_relevant
from cfmigrate.analyzers.discover import discover

REPO = Path(__file__).resolve().parents[1]
COPIES = 10
GREP_PATTERN = "mcp|call_tool|tools="


def copy_stdlib(dest: Path) -> tuple[int, int]:
    """Copy the stdlib's .py files (no site-packages, no caches) COPIES times; return (files, bytes)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources: list[Path] = []
    for folder, dirs, files in os.walk(stdlib):
        dirs[:] = sorted(d for d in dirs if d not in ("site-packages", "__pycache__"))
        sources.extend(Path(folder) / f for f in sorted(files) if f.endswith(".py"))
    total = 0
    for i in range(COPIES):
        for src in sources:
            target = dest / f"copy{i}" / src.relative_to(stdlib)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            total += src.stat().st_size if i == 0 else 0
    return len(sources) * COPIES, total * COPIES


def timed_grep(root: Path) -> tuple[float, int]:
    start = time.perf_counter()
    out = subprocess.run(["grep", "-rlE", GREP_PATTERN, str(root)], capture_output=True, check=False)
    return time.perf_counter() - start, len(out.stdout.splitlines())


def main() -> None:
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print("\nFixture repositories (discover(), in this process; first call includes lazy set-up):")
    for fixture in sorted(p for p in (REPO / "fixtures").iterdir() if p.is_dir()):
        start = time.perf_counter()
        inv = discover(fixture)
        elapsed = time.perf_counter() - start
        verdict = "ok" if elapsed < 1 else "OVER 1 s"
        print(
            f"  {fixture.name:<16} {elapsed * 1000:7.0f} ms  {inv.files_scanned:4d} files  "
            f"{len(inv.servers):3d} servers  {len(inv.agents):3d} agents  {len(inv.manifests):3d} manifests  [{verdict}]"
        )

    with tempfile.TemporaryDirectory(prefix="cfmigrate-bench-") as tmp:
        root = Path(tmp)
        files, size = copy_stdlib(root)
        mb = size / 1e6
        print(f"\nLarge tree: {COPIES} copies of the stdlib's .py files = {files} files, {mb:.1f} MB")
        timed_grep(root)  # warm the page cache so both sides read from memory
        grep_s, grep_hits = timed_grep(root)
        relevant = sum(1 for p in root.rglob("*.py") if is_relevant(p.read_bytes()))
        start = time.perf_counter()
        inv = discover(root)
        serial_start = time.perf_counter()
        serial = discover(root, jobs=1)
        serial_s = time.perf_counter() - serial_start
        ours_s = serial_start - start
        assert serial == inv
        print(f"  grep -rlE '{GREP_PATTERN}': {grep_s:.3f} s, {grep_hits} files match")
        print(f"  cfmigrate prefilter passes {relevant} files (the rest are never parsed)")
        print(
            f"  discover():        {ours_s:.3f} s  {files / ours_s:9.0f} files/s  {mb / ours_s:7.1f} MB/s  "
            f"ratio to grep {ours_s / grep_s:.2f}x (target <= 3x)"
        )
        print(
            f"  discover(jobs=1):  {serial_s:.3f} s  {files / serial_s:9.0f} files/s  {mb / serial_s:7.1f} MB/s  "
            f"ratio to grep {serial_s / grep_s:.2f}x"
        )
        print(f"  found: {len(inv.servers)} servers, {len(inv.agents)} agents, {len(inv.problems)} problems")


if __name__ == "__main__":
    main()
