"""CPU seconds per test and per file, the test's own process and the children it waited for (servers, CLIs, agents).

Wall time on a shared machine says little; CPU time does not depend on the load. Opt in with `-p`:

    python -B -m pytest -p support.cputime --cpu-report /tmp/cpu tests/test_foo.py   # -n 2 works too
    python tests/support/cputime.py /tmp/cpu                                           # the table

Each process (each xdist worker) appends one JSON line per test to `<dir>/<worker>.jsonl`, plus a `<startup>`
line (interpreter start and collection, before the first test). A child counts when it is waited for: a server a
session fixture keeps running is billed to the test that stops it.
"""

from __future__ import annotations

import collections
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

_out: IO[str] | None = None
_started = time.time()
_first = True


def _cpu() -> tuple[float, float]:
    from support import forkserver  # programs forked by the overlay's servers are not our children

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    forked = forkserver.cpu_seconds(forkserver.ACTIVE)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime + forked


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cpu-report", metavar="DIR", help="write CPU seconds per test to DIR (support.cputime)"
    )


def _write(config: pytest.Config, record: dict[str, Any]) -> None:
    global _out
    folder = config.getoption("--cpu-report")
    if not folder:
        return
    if _out is None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        _out = (Path(folder) / f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.jsonl").open("a")
    _out.write(json.dumps(record) + "\n")
    _out.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _first
    if _first:
        _first = False
        own, children = _cpu()
        _write(
            item.config,
            {"test": "<startup>", "own": own, "children": children, "wall": time.time() - _started},
        )
    own0, children0 = _cpu()
    wall0 = time.time()
    yield
    own1, children1 = _cpu()
    record = {
        "test": item.nodeid,
        "own": own1 - own0,
        "children": children1 - children0,
        "wall": time.time() - wall0,
    }
    _write(item.config, record)


def report(folder: Path, top: int = 20) -> str:
    """The files and tests that cost the most CPU, from a `--cpu-report` folder."""
    files: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    tests: list[tuple[float, str]] = []
    startup = 0.0
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            r = json.loads(line)
            cpu = r["own"] + r["children"]
            if r["test"] == "<startup>":
                startup += cpu
                continue
            row = files[r["test"].split("::", 1)[0]]
            row[0] += cpu
            row[1] += r["wall"]
            row[2] += 1
            tests.append((cpu, r["test"]))
    total = sum(row[0] for row in files.values())
    lines = [
        f"{len(tests)} tests: {total:.0f} CPU-s ({total / 60:.1f} min) + {startup:.0f} CPU-s start-up and collection"
    ]
    lines.append(f"{'CPU-s':>7} {'wall-s':>7} {'tests':>5}  file")
    for name, (cpu, wall, n) in sorted(files.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"{cpu:7.1f} {wall:7.1f} {n:5d}  {name}")
    lines.append(f"{'CPU-s':>7}  test")
    lines += [f"{cpu:7.1f}  {name}" for cpu, name in sorted(tests, reverse=True)[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20))
