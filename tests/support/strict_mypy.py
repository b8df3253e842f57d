"""One `mypy --strict` run over every package the suite type-checks (tests/conftest.py `strict_mypy`).

The packages are the cfmigrate package, the golden `servers/` trees and the packages generated for the
property test's examples. Checking each of them in its own process analysed the standard library and the
third-party packages they import again in every process, or loaded them from a cache each time. anthropic
alone is 3,300 modules, and that analysis, not our own files, is most of the cost. One run analyses them once.

Each test file declares its packages at import with `include(name, make, shown_as)`. `make(folder)` lays the
package out under its import name in the run's folder, usually as a link to the real tree. The generated
packages import themselves relatively, so the name is free. The first test that asks for the `strict_mypy`
fixture runs mypy once over everything declared in the session. Each test then asserts
`result.problems(name) == ""` for its own packages: a package fails on any error in its own files, on a
message that names no declared package, when mypy did not run to the end, or when it checked a different
number of files than the declared packages hold.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# name -> (lays the package out in the folder it is given, where its files really are: shown in failures)
PACKAGES: dict[str, tuple[Callable[[Path], None], str]] = {}
SUMMARY = re.compile(
    r"^(?:Success: no issues found in|Found \d+ errors? in \d+ files? \(checked) (\d+) source files?\)?$"
)


def include(name: str, make: Callable[[Path], None], shown_as: str) -> None:
    """Check package `name` in the session's run; `make(folder)` creates `folder` holding the package."""
    assert name.isidentifier(), name
    assert PACKAGES.get(name, (make, shown_as))[1] == shown_as, f"{name} is declared twice"
    PACKAGES[name] = (make, shown_as)


def link(source: Path) -> Callable[[Path], None]:
    """A `make` for `include` that checks the folder `source` itself, through a link named after the package."""

    def make(folder: Path) -> None:
        folder.symlink_to(source, target_is_directory=True)

    return make


def source_count(folder: Path) -> int:
    """The sources `mypy -p` finds in a package folder, by its rule: one per folder (a package, or a namespace
    package without `__init__.py`), one per module (a `.pyi` stub and its `.py` are one)."""
    count = 0
    for _, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [
            d for d in dirs if d not in ("__pycache__", "site-packages", "node_modules") and d[0] != "."
        ]
        stems = {f.rsplit(".", 1)[0] for f in files if f.endswith((".py", ".pyi")) and f[0] != "."}
        count += 1 + len({stem for stem in stems if stem != "__init__" and "." not in stem})
    return count


@dataclass(frozen=True)
class StrictMypy:
    packages: dict[str, int]  # package name -> how many sources mypy should find in it
    shown_as: dict[str, str]  # package name -> where its files are
    returncode: int
    stdout: str
    stderr: str

    def problems(self, name: str) -> str:
        """Why package `name` does not pass `mypy --strict` in this run; "" when it passes."""
        if name not in self.packages:
            return f"{name}: not in the run (declare it with support.strict_mypy.include)"
        out = [f"{name}/ is {self.shown_as[name]}"]
        if self.returncode not in (0, 1):
            return "\n".join(
                [f"mypy stopped with exit status {self.returncode}", *out, self.stdout, self.stderr]
            )
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        summary = [m for m in map(SUMMARY.match, lines) if m]
        own = [line for line in lines if line.startswith(f"{name}/")]
        stray = [
            line
            for line in lines
            if not SUMMARY.match(line) and not any(line.startswith(f"{n}/") for n in self.packages)
        ]
        expected = sum(self.packages.values())
        checked = int(summary[-1].group(1)) if summary else None
        found = own + stray
        if checked != expected:
            counts = ", ".join(f"{n} {c}" for n, c in sorted(self.packages.items()))
            found.append(f"mypy checked {checked} source files, the packages hold {expected} ({counts})")
        if self.returncode == 1 and len(summary) == len(lines):
            found.append("mypy exited 1 without naming an error")
        return "\n".join([*out, *found, self.stderr]) if found else ""


def run(root: Path) -> StrictMypy:
    """Lay out every declared package under `root` and type-check them all in one `mypy --strict` process."""
    counts: dict[str, int] = {}
    for name, (make, _) in sorted(PACKAGES.items()):
        make(root / name)
        counts[name] = source_count(root / name)
    # No cache: nothing reads it after this run, and writing it costs 2.5 CPU-s (`--no-incremental` alone still
    # writes one). MYPY* variables (MYPYPATH, MYPY_NUM_WORKERS, MYPY_FORCE_COLOR…) would change what runs or
    # how it prints.
    args = ["--strict", "--namespace-packages", "--explicit-package-bases", "--no-incremental"]
    args += ["--cache-dir", os.devnull]
    for name in counts:
        args += ["-p", name]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYPY")}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", *args], cwd=root, env=env, capture_output=True, text=True
    )
    shown = {name: PACKAGES[name][1] for name in counts}
    return StrictMypy(counts, shown, done.returncode, done.stdout, done.stderr)
