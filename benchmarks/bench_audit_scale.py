"""Audit speed: each fixture repository (discovery alone and the whole audit), ten copies of the standard
library against `grep -rlE`, parsing throughput on agent files, and token counting throughput.

Run: `python benchmarks/bench_audit_scale.py` (one run, numbers printed; nothing is asserted).
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


def whole_audits() -> None:
    """run_audit() per fixture: discovery + token counts + the code-mode projection, cold and warm cache."""
    from cfmigrate.migrate.audit import run_audit

    print("\nWhole audit per fixture (run_audit(): discovery, token counts, code-mode projection):")
    with tempfile.TemporaryDirectory(prefix="cfmigrate-cache-") as cache:
        old = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = cache
        try:
            for fixture in sorted(p for p in (REPO / "fixtures").iterdir() if p.is_dir()):
                times = []
                for _ in range(2):  # first run fills the read-cost cache, second is what a re-run costs
                    start = time.perf_counter()
                    report = run_audit(fixture)
                    times.append(time.perf_counter() - start)
                verdict = "ok" if times[1] < 1 else "OVER 1 s"
                print(
                    f"  {fixture.name:<16} cold {times[0] * 1000:6.0f} ms  warm {times[1] * 1000:6.0f} ms  "
                    f"{report.totals['tools']:4d} tools priced  [{verdict}]"
                )
        finally:
            if old is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = old


def parse_throughput(copies: int = 60) -> None:
    """Files that pass the prefilter and are parsed: the frameworks fixture copied `copies` times."""
    src = REPO / "fixtures" / "frameworks"
    with tempfile.TemporaryDirectory(prefix="cfmigrate-parse-") as tmp:
        root = Path(tmp)
        for i in range(copies):
            shutil.copytree(src, root / f"copy{i}")
        files = sum(1 for p in root.rglob("*.py") if is_relevant(p.read_bytes()))
        size = sum(p.stat().st_size for p in root.rglob("*.py")) / 1e6
        start = time.perf_counter()
        inv = discover(root)
        elapsed = time.perf_counter() - start
        start = time.perf_counter()
        discover(root, jobs=1)
        serial = time.perf_counter() - start
        print(
            f"\nParsing: {copies} copies of fixtures/frameworks = {files} MCP-relevant Python files, {size:.1f} MB"
        )
        print(
            f"  discover():       {elapsed:.2f} s  {files / elapsed:6.0f} parsed files/s  "
            f"({len(inv.agents)} agents); jobs=1: {serial:.2f} s ({serial / elapsed:.2f}x slower)"
        )


def token_throughput() -> None:
    """Tokens/s over every tool of the nine real manifests, rendered as Anthropic receives them."""
    from cfmigrate.analyzers.manifests import catalog
    from cfmigrate.analyzers.tokens import BpeTokenizer, compact, get_encoding, render_tool

    texts = [compact(render_tool(t, "anthropic")) for m in catalog() for t in m.tools]
    print(f"\nToken counting: {len(texts)} tool definitions of the nine real manifests")
    for name in ("o200k_base", "cl100k_base"):
        start = time.perf_counter()
        get_encoding(name)
        load = time.perf_counter() - start
        tok = BpeTokenizer(name)
        rounds = 20
        start = time.perf_counter()
        total = 0
        for _ in range(rounds):
            total += sum(tok.count(t) for t in texts)
        elapsed = time.perf_counter() - start
        print(
            f"  {tok.label:<22} {total // rounds:6d} tokens per pass  {total / elapsed:12,.0f} tokens/s  "
            f"(vocabulary load {load * 1000:.0f} ms)"
        )


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
    whole_audits()
    parse_throughput()
    token_throughput()


if __name__ == "__main__":
    main()
