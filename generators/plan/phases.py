"""The roadmap's prose: eight weeks of phases, each with its steps and exact commands for this repository."""

from __future__ import annotations

import json
from collections.abc import Sequence

from cfmigrate.analyzers.measure import VALIDATION_PACKAGES, AuditReport, WorkflowFigure
from cfmigrate.generators.plan.model import (
    TARGET_ERROR_RATE,
    TARGET_POC_REDUCTION,
    TARGET_POC_SECONDS,
    TARGET_REDUCTION,
    AgentRow,
    Phase,
    Roi,
    Setting,
    Step,
    money,
    weeks_and_days,
)


def workflow_text(w: WorkflowFigure, sequence: Sequence[str] = ()) -> str:
    """One sentence on a workflow's billed input before and after, in Markdown."""
    if w.before_basis.startswith("measured"):
        seen = f"the logged tasks take {w.requests_before} requests and bill {w.billed_before:,} input tokens on direct MCP"
    else:
        calls = f" (`{'` → `'.join(sequence)}`)" if sequence else ""
        seen = (
            f"the {w.calls} tool calls written in the code{calls} take {w.requests_before} requests and bill "
            f"{w.billed_before:,} input tokens on direct MCP"
        )
    return (
        f"{seen}; on code mode {w.requests_after} requests bill {w.billed_after:,}, {w.reduction:.1%} less "
        f"({basis_words(w)})"
    )


def basis_words(w: WorkflowFigure | None) -> str:
    """The audit's workflow basis in plain words."""
    if w is None:
        return ""
    if w.basis.startswith("literal"):
        return "tool results are not visible in code, so the real direct-MCP figure is higher"
    if w.before_basis.startswith("measured"):
        return "direct MCP " + w.basis.replace("trace:", "from the log:", 1) + "; code mode projected"
    return w.basis


TRACE_LINE = (
    '{"task": "<task id>", "agent": "<agent name>", "usage": {"input_tokens": N, "output_tokens": M}, '
    '"latency_ms": N, "error": null}'
)


def build_phases(plan_agents: Sequence[AgentRow], report: AuditReport, roi: Roi) -> tuple[Phase, ...]:
    candidates = [a for a in plan_agents if a.migrate]
    kept = [a for a in plan_agents if a.decision == "keep-mcp"]
    unknown = [a for a in plan_agents if a.decision == "unknown"]
    top = candidates[0] if candidates else None
    unknown_servers = sorted(
        {s for a in plan_agents for s in a.unknown_servers}
        | {s.name for s in report.servers if s.status == "unknown"}
    )

    week1: list[Step] = [
        Step(
            "Re-run the audit and keep its JSON next to this plan; every figure here comes from it.",
            "cfmigrate audit . --format json --output audit.json",
        ),
    ]
    if unknown_servers:
        week1.append(
            Step(
                f"List the tools of {', '.join(unknown_servers)} live (their tools are not in the repository), "
                "which also writes the snapshots `cfmigrate generate` needs.",
                "cfmigrate audit . --connect --format json --output audit.json",
            )
        )
    week1.append(
        Step(
            "Log one day of real model requests, one JSON line per request, from each agent's loop "
            "(the `usage` the API returns, the task it belongs to, how long it took, whether it failed).",
        )
    )
    week1.append(
        Step(
            "Measure the real workflows from that log: billed input per task, tool context share, requests per task.",
            "cfmigrate audit . --trace requests.jsonl --format json --output audit-traced.json",
        )
    )
    multi = [a.name for a in candidates if len(a.tool_sequence) > 3]
    heavy = [a.name for a in candidates if a.overhead_ratio is not None and a.overhead_ratio > 0.5]
    look = []
    if heavy:
        look.append(f"more than half of each request is tool definitions: {', '.join(heavy)}")
    if multi:
        look.append(f"more than 3 tool calls in one flow: {', '.join(multi)}")
    week1.append(
        Step(
            "Mark the workflows that gain most: more than 50% overhead, more than 3 tool calls, large documents, "
            "personal data passing through the model"
            + (f" (already visible: {'; '.join(look)})." if look else ".")
        )
    )

    poc_steps: tuple[Step, ...]
    if top is None:
        poc_steps = (
            Step(
                "No agent needs to move: the proof of concept is not needed. Re-run the audit when agents or servers change.",
                "cfmigrate audit . --format json --output audit.json",
            ),
        )
        prod_steps: tuple[Step, ...] = ()
        rollout: list[Step] = []
    else:
        poc_steps = (
            _generate_step(report, top),
            *(
                Step(
                    f"Keep the tools of {', '.join(kept_servers)} on direct MCP (formal validation): list them in "
                    '`keep_direct` as "server/tool" entries, or in `[tool.cfmigrate] keep_direct`.'
                )
                for kept_servers in [_validation_servers(report, top)]
                if kept_servers
            ),
            Step(
                f"Preview the rewrite of `{top.name}` ({top.source}): tool schemas out, the execute-code tool and "
                "the code-first prompt in. Nothing is written.",
                f"cfmigrate migrate {file_of(top)}",
            ),
            Step(
                f"Run one real workflow of `{top.name}` on code mode with the sandbox settings below, logging requests "
                "as in week 1 to `poc.jsonl` (the direct-MCP log of the same workflow is `before.jsonl`). "
                "The runtime is set up like this in the agent:",
                code=_runtime_snippet(report, top),
            ),
            Step(
                f"Compare: the proof of concept needs more than {TARGET_POC_REDUCTION:.0f}% fewer billed input tokens.",
                f"cfmigrate measure before.jsonl poc.jsonl --min-reduction {TARGET_POC_REDUCTION:.0f}",
            ),
        )
        prod_steps = (
            Step(
                f"Apply the rewrite to `{top.name}` on a clean branch (it refuses to write over uncommitted changes) "
                "and review the diff like any pull request.",
                f"cfmigrate migrate {file_of(top)} --write",
            ),
            Step(
                "Keep the wrappers in step with the servers: fail CI (and the pre-commit hook) when a server's tools "
                "change or a migrated call site is reverted.",
                "cfmigrate generate --check && cfmigrate migrate --check",
            ),
            Step(
                "Return script errors to the model as tool results so it can fix its own code; keep stdout/stderr captured and cut."
            ),
            Step(
                "Require human approval for tools the servers mark destructive; allow read-only tools automatically; rate-limit tool calls per task."
            ),
            Step(
                "Set up the monitoring below before switching traffic; switch gradually and compare every week.",
                "cfmigrate measure before.jsonl after.jsonl",
            ),
        )
        rollout = []
        for a in candidates[1:]:
            rollout.append(
                Step(
                    f"{a.rank}. `{a.name}` ({a.source}): {money(a.monthly_waste)} a month of tool context, "
                    f"{a.tool_context_tokens:,} → {a.code_mode_tokens:,} tokens per request.",
                    f"cfmigrate migrate {file_of(a)} --write",
                )
            )
        if rollout:
            rollout.insert(
                0,
                Step(
                    "Move the other candidates, highest waste first, one at a time, each with its own before/after log:"
                ),
            )
            rollout.append(
                Step("Measure each one against its own baseline before moving the next (section 4).")
            )
        else:
            rollout.append(
                Step(
                    f"`{top.name}` is the only agent to move; use weeks 7-8 to write down how it was done for the next agent."
                )
            )
    if kept:
        rollout.append(
            Step(
                f"Keep {'these agents' if len(kept) > 1 else 'this agent'} on direct MCP (few tools, or step-by-step "
                "validation is the point; the reasons are in section 2): "
                + ", ".join(f"`{a.name}`" for a in kept)
                + "."
            )
        )
    if unknown:
        rollout.append(
            Step(
                "Decide after the tools are known: " + ", ".join(f"`{a.name}`" for a in unknown) + ".",
                "cfmigrate audit . --connect",
            )
        )
    rollout.append(
        Step(
            "Write down the decision rule for new agents: fewer than 20 tools stays on MCP; more, or multi-step workflows over large data, go code-first."
        )
    )
    rollout.append(
        Step(
            "Gate CI on the production targets for every migrated agent.",
            f"cfmigrate measure before.jsonl after.jsonl --min-reduction {TARGET_REDUCTION:.0f} --max-error-rate {TARGET_ERROR_RATE:.0f}",
        )
    )

    payback = roi.payback_day
    return (
        Phase(
            "Week 1",
            "Assess",
            "Know what every agent pays for tool definitions, from the code and from real traffic.",
            tuple(week1),
            ("audit.json and one day of requests.jsonl are checked in or attached to this plan",),
        ),
        Phase(
            "Weeks 2-3",
            f"Proof of concept on `{top.name}`" if top else "Proof of concept",
            f"One workflow of `{top.name}` runs on code mode in the sandbox."
            if top
            else "Nothing to prove: no agent is a candidate.",
            poc_steps,
            (
                (
                    "the workflow completes on code mode",
                    f"more than {TARGET_POC_REDUCTION:.0f}% fewer billed input tokens than on direct MCP",
                    "no security incident: nothing left the sandbox except through the tool channel",
                    f"under {TARGET_POC_SECONDS:.0f} s total for the workflow",
                )
                if top
                else ()
            ),
        ),
        Phase(
            "Weeks 4-6",
            f"Put `{top.name}` into production" if top else "Production",
            f"`{top.name}` serves real traffic on code mode, monitored, from week 7."
            if top
            else "No change to production.",
            prod_steps,
            (
                (
                    f"more than {TARGET_REDUCTION:.0f}% fewer billed input tokens per task",
                    f"error rate under {TARGET_ERROR_RATE:.0f}%",
                    "dashboards and alerts below are live",
                )
                if top
                else ()
            ),
        ),
        Phase(
            "Weeks 7-8",
            "Roll out",
            (
                (
                    "The other candidates move, highest waste first; the rest stay where they are."
                    if len(candidates) > 1
                    else "Make the move repeatable for the next agent, and say which agents stay on direct MCP."
                )
                + (f" The sandbox is paid back on {weeks_and_days(payback)}." if payback else "")
            ),
            tuple(rollout),
            (
                "every candidate is migrated or has a date",
                "the agents kept on direct MCP are listed with the reason",
            ),
        ),
    )


def file_of(agent: AgentRow) -> str:
    """The agent's file, relative to the repository root (its source without the line)."""
    path, _, line = agent.source.rpartition(":")
    return path if path and line.isdigit() else agent.source


def _generate_step(report: AuditReport, agent: AgentRow) -> Step:
    """Generate the wrappers for the agent's servers, listing their tools live first when no snapshot exists."""
    kept = _validation_servers(report, agent)
    names = [n for n in agent.servers if n not in kept]
    flags = " ".join(f"--server {n}" for n in names)
    labels = {s.name: s.manifest or "" for s in report.servers}
    stale = [n for n in names if not labels.get(n, "").startswith(("snapshot", "live"))]
    if stale:
        return Step(
            f"Generate the typed `servers/` package for {', '.join(names)}: one module per tool, calling the real "
            f"MCP servers. The tools of {', '.join(stale)} are not in a snapshot yet, so `--refresh` starts the "
            "servers and lists them live: set the environment variables they need first (the names are in the MCP "
            "config; values are read, never written).",
            f"cfmigrate generate --refresh {flags}",
        )
    return Step(
        f"Generate the typed `servers/` package for {', '.join(names)}: one module per tool, calling the real MCP "
        "servers, from the snapshots in `.cfmigrate/manifests/`.",
        f"cfmigrate generate {flags}",
    )


def _validation_servers(report: AuditReport, agent: AgentRow) -> list[str]:
    """The agent's servers that the audit keeps on direct MCP for formal validation (browser automation)."""
    return [
        s.name
        for s in report.servers
        if s.name in agent.servers and s.package and s.package.startswith(VALIDATION_PACKAGES)
    ]


def _config_file(report: AuditReport, agent: AgentRow) -> str:
    """The client config the agent's servers come from, when they share one; else `.mcp.json`."""
    files = {s.source.rsplit(":", 1)[0] for s in report.servers if s.name in agent.servers and s.source}
    files = {f for f in files if f.endswith((".json", ".toml", ".yaml", ".yml"))}
    return files.pop() if len(files) == 1 else ".mcp.json"


def _runtime_snippet(report: AuditReport, agent: AgentRow) -> str:
    return (
        "from cfmigrate.runtime import CodeMode, Limits\n"
        "\n"
        "code_mode = CodeMode(\n"
        '    servers_dir="servers",\n'
        f"    config={json.dumps(_config_file(report, agent))},\n"
        "    limits=Limits(memory_mb=100, timeout_s=10),  # network blocked, filesystem isolated: the defaults\n"
        '    audit_log="logs/code-mode.jsonl",  # every script and tool call, for the monitoring\n'
        ")"
    )


SANDBOX = (
    Setting(
        "memory", "100 MB", "enough for filtering documents in Python; raise it only when a script needs more"
    ),
    Setting("timeout", "10 s wall clock per script", "kills runaway loops; the whole process group is ended"),
    Setting(
        "network",
        "blocked",
        "scripts reach tools only through the host's tool channel (no credentials inside)",
    ),
    Setting(
        "filesystem",
        "isolated: writes only in the work directory (`workspace/`, `skills/`)",
        "state between runs, nothing else",
    ),
    Setting(
        "output",
        "stdout and stderr captured, cut at a fixed size with a note",
        "only what the script prints goes back to the model",
    ),
)

MONITORING = (
    Setting(
        "billed input tokens per task",
        "usage.input_tokens per request, summed per task",
        f"alert when the reduction falls under {TARGET_REDUCTION:.0f}%",
    ),
    Setting(
        "script execution time",
        "the runtime's JSONL audit log, per script",
        "alert on timeouts; p95 under the 10 s limit",
    ),
    Setting(
        "error rate",
        "failed tasks / tasks; script errors the model could not fix",
        f"alert above {TARGET_ERROR_RATE:.0f}%",
    ),
    Setting(
        "cost per day",
        "input tokens x price, per agent",
        "compare with the plan's daily figure after the switch",
    ),
    Setting(
        "tool calls",
        "server, tool, duration, outcome per call (the runtime's audit log)",
        "review destructive calls; watch for retry storms",
    ),
)
