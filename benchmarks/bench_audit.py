"""`cfmigrate audit` on a folder holding one manifest, as a ratio to `cfmigrate --version`.

    python benchmarks/bench_audit.py [--runs N]

Both commands run in fresh processes (what a user waits for); the median of N runs each is taken
after one warm-up run (which fills the count cache a warm audit reads instead of the vocabulary).
Target: the audit within 3x of `--version`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "fixtures" / "manifests" / "server-github.tools.json"


def _median(args: list[str], runs: int) -> float:
    subprocess.run(args, check=True, capture_output=True)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    cli = [sys.executable, "-m", "cfmigrate.migrate.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(MANIFEST, tmp)
        version = _median([*cli, "--version"], runs)
        audit = _median([*cli, "audit", tmp, "-f", "json"], runs)
    print(f"cfmigrate --version: {version:.3f} s (median of {runs})")
    print(f"cfmigrate audit <one manifest>: {audit:.3f} s (median of {runs})")
    print(f"ratio: {audit / version:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
