"""One default run of the seed benchmark, shared by the tests that check it (tests/conftest.py `seed_run`).

`bench.compare(None, workdir)` copies `fixtures/seed-scenario/`, runs the agent as written and the direct
baseline, migrates a copy with `migrate_tree(..., refresh=True)` (the servers listed live) and runs the
migrated agent on code mode. The migration's own result is recorded on the way (the runner's function is
wrapped for the run, never replaced), so a test can check what `migrate --write` did as well as the runs.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "benchmarks" / "bench_seed_scenario.py"


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class SeedRun:
    bench: ModuleType
    comparison: Any  # bench.Comparison
    migration: Any  # cfmigrate.migrate.runner.MigrationResult of the code-mode side
    workdir: Path

    @property
    def migrated(self) -> Path:
        """The migrated copy of the fixture the code-mode run used."""
        return self.workdir / "seed-migrated"


def run(workdir: Path) -> SeedRun:
    """The benchmark's default comparison in `workdir`, with the result of the migration it ran."""
    from cfmigrate.migrate import runner

    bench = load_module("bench_seed_scenario", BENCH)
    real = runner.migrate_tree
    migrations: list[Any] = []

    def recorded(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        migrations.append(result)
        return result

    runner.migrate_tree = recorded  # type: ignore[assignment]
    try:
        comparison = asyncio.run(asyncio.wait_for(bench.compare(None, workdir=workdir), 900))
    finally:
        runner.migrate_tree = real  # type: ignore[assignment]
    assert len(migrations) == 1, f"compare() migrated {len(migrations)} times"
    return SeedRun(bench, comparison, migrations[0], workdir)
