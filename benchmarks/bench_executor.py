"""Executor overhead per script (start, run a trivial script, return), against plain `python` process starts.

Prints, from one run on this machine: the warm worker's start time, the median / p90 of N trivial scripts
through `LocalExecutor` (every isolation layer on), the same for a script that calls a tool through the
bridge when a generated package is given, a cold `python -I -S -c pass` and a cold `python -c "import
pydantic"` for comparison, the protections this machine enforces, and the code-mode prompt + tool size.

Usage: python benchmarks/bench_executor.py [-n 50] [--servers PATH/TO/servers --config PATH/TO/.mcp.json]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cfmigrate.analyzers.tokens import BpeTokenizer
from cfmigrate.runtime import CodeMode, Limits, LocalExecutor, SandboxSession

TARGET_MS = 150.0


def stats(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"median {statistics.median(ordered):7.1f} ms   p90 {p90:7.1f} ms   min {ordered[0]:6.1f} ms   (n={len(ordered)})"


def cold_python(args: list[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        out.append((time.perf_counter() - started) * 1000)
    return out


async def executor_samples(n: int) -> tuple[float, list[float], list[tuple[str, bool, str]]]:
    base = Path(tempfile.mkdtemp(prefix="cfm-bench-", dir="/tmp"))
    session = SandboxSession(id="bench", work_dir=base / "work", runtime_dir=base / "rt", limits=Limits())
    executor = LocalExecutor()
    started = time.perf_counter()
    await executor.start(session)
    start_ms = (time.perf_counter() - started) * 1000
    samples = []
    try:
        for _ in range(n):
            started = time.perf_counter()
            result = await executor.run("print('ok')", session=session)
            samples.append((time.perf_counter() - started) * 1000)
            if result.stdout != "ok\n":
                raise SystemExit(f"unexpected result: {result.text()}")
        table = [tuple(p) for p in executor.protections(session)]
    finally:
        await executor.aclose()
        shutil.rmtree(base, ignore_errors=True)
    return start_ms, samples, table  # type: ignore[return-value]


async def tool_samples(servers: Path, config: Path | None, n: int) -> tuple[list[float], int, str]:
    code = "from servers import search_tools\nprint(len(search_tools('', detail='name')))"
    samples = []
    async with CodeMode(servers_dir=servers, config=config) as cm:
        tokens, label = cm.context_tokens("anthropic", BpeTokenizer("o200k_base"))
        for _ in range(n):
            started = time.perf_counter()
            result = await cm.handle_tool_use("execute_code", {"code": code})
            samples.append((time.perf_counter() - started) * 1000)
            if result.is_error:
                raise SystemExit(f"the package script failed: {result.text}")
    return samples, tokens, label


def main() -> None:
    parser = argparse.ArgumentParser(description="Executor overhead per script.")
    parser.add_argument("-n", type=int, default=50, help="scripts to run (default 50)")
    parser.add_argument(
        "--servers", type=Path, help="a generated servers/ package: also time a script that imports it"
    )
    parser.add_argument("--config", type=Path, help="the MCP config for --servers")
    args = parser.parse_args()

    start_ms, samples, table = asyncio.run(executor_samples(args.n))
    print("Local executor, one confined process per script (this machine)")
    print(f"  warm worker start (namespaces, view, preload): {start_ms:.1f} ms, once per session")
    print(f"  trivial script, start to result:    {stats(samples)}")
    median = statistics.median(samples)
    print(
        f"  target < {TARGET_MS:.0f} ms per execution: {'met' if median < TARGET_MS else 'NOT met'} ({median:.1f} ms)"
    )
    if args.servers:
        with_pkg, tokens, label = asyncio.run(tool_samples(args.servers.resolve(), args.config, args.n))
        print(f"  script using the servers package:   {stats(with_pkg)}")
        print(f"  code-mode system prompt + tool definition: {tokens} tokens ({label})")
    cold = cold_python(["-I", "-S", "-c", "pass"], min(args.n, 20))
    pyd = cold_python(["-c", "import pydantic.main"], min(args.n, 10))
    print("For comparison, fresh interpreters (no isolation):")
    print(f"  python -I -S -c pass:               {stats(cold)}")
    print(f"  python -c 'import pydantic.main':   {stats(pyd)}")
    print(
        f"  speed-up of the warm executor over a fresh interpreter with pydantic: {statistics.median(pyd) / median:.1f}x"
    )
    print("Protections on this machine (the bridge row applies to CodeMode sessions, which always have one):")
    for name, enforced, how in table:
        if name == "credentials stay in the host":
            how, enforced = (
                "MCP sessions live in the host; scripts reach tools only through the bridge socket",
                True,
            )
        print(f"  [{'x' if enforced else ' '}] {name}: {how}")


if __name__ == "__main__":
    main()
