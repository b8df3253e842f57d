"""Session settings: the suite writes nothing into the source tree, and hypothesis runs are deterministic.

Bytecode: child processes (MCP servers, CLIs, agents) get PYTHONDONTWRITEBYTECODE, and this process
stops writing from here on (run the suite as `python -B -m pytest` so pytest's own imports write none).
Hypothesis keeps its example database and caches in the temp dir instead of `./.hypothesis`; the
cache provider is off in `addopts` (no `./.pytest_cache`).

CI (and a plain `pytest`) uses the "ci" hypothesis profile: `derandomize=True`, so a property test explores
the same examples on every run and a failure found once is found again. `HYPOTHESIS_PROFILE=explore pytest ...`
draws fresh random examples (and more of them) to look for new bugs; keep each one found as an `@example`.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import mcp.client.stdio  # noqa: F401  (see below)
import pytest
from hypothesis import configuration, settings

# `mcp.client.stdio.stdio_client(..., errlog=sys.stderr)` binds sys.stderr when the module is first imported.
# Tests run the CLI in this process under typer's CliRunner, which swaps sys.stderr for a stream without a file
# descriptor; a first import inside such a call would leave every later stdio client of this worker failing with
# "UnsupportedOperation: fileno". Importing it here binds the real stream, whatever order the tests run in.

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
sys.dont_write_bytecode = True
configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "cfmigrate-hypothesis")

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=300, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ---------------------------------------------------------------------------------------------- xdist scheduling
# The README runs `pytest -n auto --dist loadgroup`. pytest-xdist 3.8 cannot group by marks under pytest 9.2
# (it renames `item._nodeid`, which pytest no longer reads), so the units are defined here, by node id:
# every test file is one unit (its module fixtures are built once), except the files in SPREAD, whose tests
# are a unit each (the end-to-end agent cases, 10-25 s apiece, spread over the workers), and the files in
# SHARED, which are one unit together (they share one session fixture on one worker). Long units are handed
# out first (HEAVY, in the order of their measured CPU time, then any unit holding a `slow` test) and the many
# fast files fill in behind them, so no long test starts last and leaves the other worker idle.
SPREAD = ("tests/e2e/test_agents.py",)
SHARED = {
    "tests/test_migrate_seed.py": "seed run",
    "tests/test_seed_benchmark.py": "seed run",
    "tests/test_typing.py": "mypy",
    "tests/test_generate_golden.py": "mypy",
    "tests/test_generate_props.py": "mypy",
}


# Wall seconds per unit, measured on 2026-12-05 on idle cores with the fork server (`-p support.cputime`,
# tests/README.md); only the order matters, a stale figure costs some balance, never a result.
HEAVY = (
    "mypy",  # 40
    "tests/test_migrate_runner.py",  # 21
    "tests/test_runtime_footprint.py",  # 21
    "tests/test_sandbox_attacks.py",  # 18
    "tests/test_serve.py",  # 17
    "tests/test_migrate_listings.py",  # 17
    "tests/test_connect.py",  # 16
    "tests/test_migrate_decisions.py",  # 13
    "tests/test_migrate_integration.py",  # 12
    "seed run",  # 12
    "tests/test_runtime_codemode.py",  # 11
    "tests/test_more_scenarios.py",  # 11
    "tests/test_migrate_follows_audit.py",  # 10
    "tests/e2e/test_agents.py",  # 21 cases of 1-8
)


def unit_of(nodeid: str) -> str:
    """The work unit a test belongs to (one worker runs a unit's tests in order)."""
    path = nodeid.split("::", 1)[0]
    if path in SPREAD:
        return nodeid
    return SHARED.get(path, path)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    config.option.loadscopereorder = False  # keep the order the workers collected (below)
    return Units(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    members: dict[str, list[pytest.Item]] = {}
    for item in items:
        members.setdefault(unit_of(item.nodeid), []).append(item)
    slow = {u for u, its in members.items() if any(i.get_closest_marker("slow") for i in its)}

    def rank(unit: str) -> tuple[int, int]:
        path = unit.split("::", 1)[0]
        if path in HEAVY or unit in HEAVY:
            return (0, HEAVY.index(path if path in HEAVY else unit))
        return (1, 0) if unit in slow else (2, -len(members[unit]))

    order = sorted(members, key=rank)
    items[:] = [item for u in order for item in members[u]]


def pytest_configure(config: pytest.Config) -> None:
    # libcst builds and drops hundreds of thousands of small objects per migration; collecting the young
    # generation every 700 of them cost ~10% of the in-process tests' CPU. Fewer, larger collections here.
    gc.set_threshold(100_000, 20, 20)
    # Python processes the tests start fork from a warm interpreter (tests/support/forkserver.py): in each
    # xdist worker, or in the one process of a run without xdist; never in the xdist controller, which runs none.
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        from support import forkserver

        forkserver.install()


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()  # the imported modules and collected tests stay for the whole run: never traverse them again


def pytest_unconfigure(config: pytest.Config) -> None:
    from support import forkserver

    if forkserver.ACTIVE is not None:
        forkserver.ACTIVE.stop()
        forkserver.ACTIVE = None


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The seed benchmark's default run (fixture migrated by migrate --write, direct and code mode), run once."""
    from support.seed_run import run

    return run(tmp_path_factory.mktemp("seed-run"))


@pytest.fixture(scope="session")
def strict_mypy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One `mypy --strict` run over every package the test files declared (support.strict_mypy.include): the
    standard library and the third-party packages they import are analysed once, not once per package."""
    from support.strict_mypy import run

    return run(tmp_path_factory.mktemp("strict-mypy"))
