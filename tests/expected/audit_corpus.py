"""Regenerate the expected inventories of the audit corpus (never edit them by hand; review them).

    python tests/expected/audit_corpus.py            # rewrite tests/expected/audit-corpus/<fixture>.json
    python tests/expected/audit_corpus.py --check    # exit 1 when an expected file is out of date

Each fixture under `fixtures/audit-corpus/` is audited offline (o200k_base, the default settings) and
the part of the report that says *who* sends requests with *which* tools is stored: every agent with
its file:line, framework, provider, model, servers, tool count and decision; the tool scripts; the
servers with their tool counts and aliases. Token figures are left out on purpose (other tests pin
them); the corpus pins attribution.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "fixtures" / "audit-corpus"
EXPECTED = Path(__file__).resolve().parent / "audit-corpus"


def fixtures() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.is_dir())


def inventory(name: str) -> dict[str, Any]:
    """The attribution part of `cfmigrate audit --format json` for one corpus fixture."""
    from cfmigrate.generators.audit_report import render_json
    from cfmigrate.migrate.audit import AuditOptions, run_audit

    report = json.loads(render_json(run_audit(CORPUS / name, AuditOptions(progress=False))))
    agents = [
        {
            "name": a["name"],
            "source": a["source"],
            "files": a["files"],
            "framework": a["framework"],
            "provider": a["provider"],
            "model": a["model"],
            "code_mode": a["code_mode"],
            "servers": a["servers"],
            "servers_basis": a["servers_basis"],
            "unknown_servers": a["unknown_servers"],
            "tool_count": a["tool_count"],
            "tool_count_is_lower_bound": a["tool_count_is_lower_bound"],
            "decision": a["decision"],
            "reduction": a["reduction"],
        }
        for a in sorted(report["agents"], key=lambda a: (a["source"], a["name"]))
    ]
    scripts = [
        {"name": s["name"], "source": s["source"], "servers": s["servers"]}
        for s in sorted(report["tool_scripts"], key=lambda s: (s["source"], s["name"]))
    ]
    servers = [
        {"name": s["name"], "source": s["source"], "tool_count": s["tool_count"], "aliases": s["aliases"]}
        for s in report["servers"]
    ]
    return {"agents": agents, "tool_scripts": scripts, "servers": servers}


def text(name: str) -> str:
    return json.dumps(inventory(name), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    EXPECTED.mkdir(exist_ok=True)
    for name in fixtures():
        path = EXPECTED / f"{name}.json"
        new = text(name)
        if args.check:
            if not path.exists() or path.read_text() != new:
                stale.append(name)
        else:
            path.write_text(new)
    for name in stale:
        print(f"out of date: tests/expected/audit-corpus/{name}.json", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
