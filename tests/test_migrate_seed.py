"""The migrated seed agent is `cfmigrate migrate --write` output, and it runs the scenario on the code-mode runtime.

`migrate_tree` copies `fixtures/seed-scenario/`, lists the three real servers' tools (`--refresh`), generates
the wrappers and rewrites `agent.py`; the scenario benchmark then drives that agent against the scripted
Messages API and the real fixture servers, checks the transcript reached the CRM without ever entering a
model request, and measures the reduction in billed input tokens.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cfmigrate.migrate.runner import migrate_tree

REPO = Path(__file__).resolve().parents[1]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_seed_scenario", REPO / "benchmarks" / "bench_seed_scenario.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_migrated_seed_agent_runs_end_to_end_with_the_reduction(tmp_path: Path) -> None:
    bench = _bench()
    with bench.environment(bench.server_env(tmp_path / "state-migrate")):
        # from a copy: --refresh starts the servers in the tree it reads (their imports would write __pycache__)
        source = bench.copy_fixture(tmp_path / "seed-source")
        result = migrate_tree(source, tmp_path / "seed-migrated", refresh=True)
    assert [f.path for f in result.changed] == ["agent.py"] and result.written
    assert result.wrappers is not None and result.wrappers.state == "generated"
    agent = (tmp_path / "seed-migrated" / "agent.py").read_text()
    assert ".call_tool(" not in agent and "code_mode.handle_tool_use(block.name, block.input)" in agent
    comparison = asyncio.run(bench.compare(tmp_path / "seed-migrated" / "agent.py", tmp_path / "bench"))
    assert comparison.code.agent == str(tmp_path / "seed-migrated" / "agent.py")
    assert comparison.reduction >= bench.TARGET, bench.report(comparison)
    assert comparison.code.requests < comparison.direct.requests
