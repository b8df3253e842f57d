"""`cfmigrate migrate` speed: ten copies of the standard library (the audit benchmark's large tree), the
codemods on real agent files, and the seed scenario migrated into `build/seed-migrated/`.

Run: `python benchmarks/bench_migrate.py [--no-seed]` (one run, numbers printed; nothing is asserted).

1. Large tree: the stdlib's .py files copied ten times (as `bench_audit.py` does). A dry run of the whole
   command (discovery for the plan, walk, byte prefilter, parsing of candidate files in parallel) and the
   file pass alone (plan already built): files/s and MB/s for each, and how many files were parsed.
2. Codemods: all rules on every agent of `fixtures/frameworks` and `fixtures/seed-scenario`, repeated,
   in one process: files/s and lines/s of agent code actually rewritten or analysed.
3. Seed: `migrate_tree(fixtures/seed-scenario, build/seed-migrated)` with `--refresh` (the servers' tools
   listed live, wrappers generated): the agent `benchmarks/bench_seed_scenario.py` runs on code mode.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from cfmigrate.migrate.rules import all_rules
from cfmigrate.migrate.runner import build_plan, migrate, migrate_tree, transform_source

REPO = Path(__file__).resolve().parents[1]
REPEAT = 5


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def large_tree() -> None:
    copy_stdlib = _load("bench_audit").copy_stdlib
    with tempfile.TemporaryDirectory(prefix="cfm-bench-migrate-") as tmp:
        root = Path(tmp)
        files, size = copy_stdlib(root)
        mb = size / 1e6
        print(f"\nLarge tree: {files} files, {mb:.1f} MB (stdlib x10)")
        start = time.perf_counter()
        result = migrate(root, generate=False)
        whole = time.perf_counter() - start
        print(
            f"  whole command (dry run)   {whole:6.2f} s  {result.scanned / whole:8.0f} files/s  {mb / whole:6.1f} MB/s  "
            f"{result.parsed} parsed, {len(result.changed)} would change, {len(result.errors)} errors"
        )
        start = time.perf_counter()
        plan, _, _ = build_plan(root)
        planning = time.perf_counter() - start
        start = time.perf_counter()
        result = migrate(root, generate=False, plan=plan)
        files_only = time.perf_counter() - start
        print(f"  plan (discovery + names)  {planning:6.2f} s")
        print(
            f"  file pass alone           {files_only:6.2f} s  {result.scanned / files_only:8.0f} files/s  "
            f"{mb / files_only:6.1f} MB/s"
        )


def codemods() -> None:
    agents = [
        *sorted((REPO / "fixtures" / "frameworks" / "agents").glob("*.py")),
        REPO / "fixtures" / "seed-scenario" / "agent.py",
    ]
    rule_ids = tuple(r.RULE_ID for r in all_rules())
    plans = {
        root: build_plan(root)[0]
        for root in {p.parents[1] if p.parent.name == "agents" else p.parent for p in agents}
    }
    jobs = []
    for path in agents:
        root = path.parents[1] if path.parent.name == "agents" else path.parent
        jobs.append((path.read_bytes(), path.relative_to(root).as_posix(), plans[root]))
    lines = sum(data.count(b"\n") for data, _, _ in jobs)
    start = time.perf_counter()
    changed = 0
    for _ in range(REPEAT):
        for data, rel, plan in jobs:
            changed += transform_source(data, rel, plan, rule_ids).status == "changed"
    elapsed = time.perf_counter() - start
    count = len(jobs) * REPEAT
    print(
        f"\nCodemods on agent files: {len(jobs)} agents x {REPEAT}, all {len(rule_ids)} rules, one process\n"
        f"  {elapsed:6.2f} s  {count / elapsed:6.1f} files/s  {lines * REPEAT / elapsed:8.0f} lines/s  "
        f"({changed // REPEAT} of {len(jobs)} files rewritten per round)"
    )


def seed() -> None:
    state = Path(tempfile.mkdtemp(prefix="cfm-seed-state-"))
    env = {
        "DRIVE_ACCESS_TOKEN": secrets.token_hex(12),
        "CRM_API_TOKEN": secrets.token_hex(12),
        "SLACK_BOT_TOKEN": secrets.token_hex(12),
        "DRIVE_DATA": str(state / "drive.json"),
        "CRM_DATA": str(state / "crm.json"),
        "SLACK_DATA": str(state / "slack.json"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        start = time.perf_counter()
        result = migrate_tree(
            REPO / "fixtures" / "seed-scenario", REPO / "build" / "seed-migrated", refresh=True
        )
        elapsed = time.perf_counter() - start
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    counts = ", ".join(f"{rule} {done}" for rule, (done, _) in result.counts().items() if done)
    wrappers = result.wrappers.message if result.wrappers else ""
    print(
        f"\nSeed scenario -> build/seed-migrated/ ({elapsed:.2f} s, tools listed live, wrappers generated)\n"
        f"  files rewritten: {', '.join(f.path for f in result.changed)}; sites: {counts}\n  {wrappers}\n"
        "  next: python benchmarks/bench_seed_scenario.py --code-agent build/seed-migrated/agent.py"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-seed", action="store_true", help="skip writing build/seed-migrated/")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    large_tree()
    codemods()
    if not args.no_seed:
        seed()


if __name__ == "__main__":
    main()
