"""`cfmigrate measure`: compare before and after (two audits, two request logs, or scenario benchmark
records) per agent, against the plan's targets.

A request log is JSONL, one model request per line:
    {"task": "<id>", "agent": "<name>", "usage": {"input_tokens": N, "output_tokens": M},
     "latency_ms": N, "error": null}
`task`, `agent`, `latency_ms` (or `duration_ms`), `output_tokens` and `error` are optional. Lines of one
task are the requests it took; a line without `task` is a task of its own. Input tokens are what the
provider reported in `usage` (Anthropic cache tokens and OpenAI `prompt_tokens` are counted as input).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cfmigrate.analyzers.audit_json import AuditFileError, audit_from_json
from cfmigrate.analyzers.measure import REPORT_SCHEMA, AuditReport

COMPARE_SCHEMA = "cfmigrate.measure/1"
BILLED_LABEL = "as billed (usage.input_tokens from the provider)"
Kind = Literal["audit", "trace", "benchmark"]
Status = Literal["pass", "fail", "n/a"]

# Names the scenario benchmark uses for its two runs; a record's `mode` (or `variant`) says which.
BEFORE_MODES = ("direct", "direct-mcp", "mcp", "before")
AFTER_MODES = ("code", "code-mode", "code_mode", "after")


class MeasureError(Exception):
    """Input that cannot be compared; the message names the file (and line) and what to do."""


@dataclass(frozen=True)
class Task:
    """One task from a log: the input and output tokens of each model request it took."""

    agent: str
    task: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    latency_ms: float | None  # the sum over its requests, when every request has one
    failed: bool


@dataclass(frozen=True)
class Sample:
    """What one input says about one agent."""

    agent: str
    kind: Kind
    label: str  # the tokenizer label, or the billed-usage label
    basis: str
    input_per_request: float
    input_per_task: float | None = None
    output_per_task: float | None = None
    requests_per_task: float | None = None
    latency_ms_per_task: float | None = None
    error_rate: float | None = None
    tasks: int | None = None
    requests: int | None = None


@dataclass(frozen=True)
class Source:
    """One parsed input file: its kind and a sample per agent."""

    path: str
    kind: Kind
    label: str
    samples: Mapping[str, Sample]


@dataclass(frozen=True)
class Targets:
    min_reduction: float = 70.0  # percent fewer input tokens (strictly more than this)
    max_error_rate: float = 5.0  # percent of tasks (strictly less than this)
    min_speedup: float | None = None  # before latency / after latency (at least this)


@dataclass(frozen=True)
class Check:
    metric: str
    target: str
    value: str
    status: Status


@dataclass(frozen=True)
class AgentComparison:
    agent: str
    before: Sample
    after: Sample
    unit: str  # "per task" or "per request"
    reduction: float
    speedup: float | None
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.status != "fail" for c in self.checks)


@dataclass(frozen=True)
class Comparison:
    schema: str
    before: str
    after: str
    kind: str
    label: str
    targets: Targets
    agents: tuple[AgentComparison, ...]
    unmatched: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.agents)


# --------------------------------------------------------------------------------------------------
# Reading


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _usage(rec: Mapping[str, Any], where: str) -> tuple[int, int]:
    usage = rec.get("usage")
    if not isinstance(usage, dict):
        raise MeasureError(
            f"{where}: no `usage` object; each line needs usage.input_tokens (the API response's usage)"
        )
    tokens = usage.get("input_tokens", usage.get("prompt_tokens"))
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        raise MeasureError(f"{where}: usage.input_tokens must be a whole number >= 0, got {tokens!r}")
    for extra in ("cache_creation_input_tokens", "cache_read_input_tokens"):
        value = usage.get(extra)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise MeasureError(f"{where}: usage.{extra} must be a whole number >= 0, got {value!r}")
            tokens += value
    out = usage.get("output_tokens", usage.get("completion_tokens", 0))
    if out is None:
        out = 0
    if not isinstance(out, int) or isinstance(out, bool) or out < 0:
        raise MeasureError(f"{where}: usage.output_tokens must be a whole number >= 0, got {out!r}")
    return tokens, out


def _latency(rec: Mapping[str, Any], where: str) -> float | None:
    for key in ("latency_ms", "duration_ms"):
        if key in rec and rec[key] is not None:
            value = rec[key]
            if not _num(value) or value < 0:
                raise MeasureError(f"{where}: {key} must be a number of milliseconds >= 0, got {value!r}")
            return float(value)
    return None


def _failed(rec: Mapping[str, Any]) -> bool:
    error = rec.get("error")
    return bool(error) or rec.get("is_error") is True


def _text(value: Any, where: str, key: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise MeasureError(f"{where}: `{key}` must be a string, got {type(value).__name__}")


def tasks_from_records(
    records: Iterable[tuple[str, Mapping[str, Any]]], agent_default: str = ""
) -> list[Task]:
    """Group request records (each with the place it came from) into tasks, in first-seen order."""
    groups: dict[tuple[str, str], list[tuple[int, int, float | None, bool]]] = {}
    for where, rec in records:
        if not isinstance(rec, dict):
            raise MeasureError(f"{where}: each line must be a JSON object with usage.input_tokens")
        agent = _text(rec.get("agent"), where, "agent") or agent_default
        task = _text(rec.get("task", rec.get("task_id")), where, "task") or f"@{where}"
        tokens, out = _usage(rec, where)
        groups.setdefault((agent, task), []).append((tokens, out, _latency(rec, where), _failed(rec)))
    tasks = []
    for (agent, task), reqs in groups.items():
        lat = [r[2] for r in reqs]
        tasks.append(
            Task(
                agent=agent,
                task=task,
                inputs=tuple(r[0] for r in reqs),
                outputs=tuple(r[1] for r in reqs),
                latency_ms=sum(x for x in lat if x is not None) if all(x is not None for x in lat) else None,
                failed=any(r[3] for r in reqs),
            )
        )
    return tasks


def sample_from_tasks(
    agent: str, tasks: Sequence[Task], kind: Kind, basis: str, label: str = BILLED_LABEL
) -> Sample:
    """Per-task means for one agent's tasks."""
    n = len(tasks)
    requests = sum(len(t.inputs) for t in tasks)
    timed = [t.latency_ms for t in tasks if t.latency_ms is not None]
    return Sample(
        agent=agent,
        kind=kind,
        label=label,
        basis=f"{basis}: {requests} request{'s' if requests != 1 else ''} in {n} task{'s' if n != 1 else ''}",
        input_per_request=sum(sum(t.inputs) for t in tasks) / requests if requests else 0.0,
        input_per_task=sum(sum(t.inputs) for t in tasks) / n,
        output_per_task=sum(sum(t.outputs) for t in tasks) / n,
        requests_per_task=requests / n,
        latency_ms_per_task=statistics.fmean(timed) if len(timed) == n else None,
        error_rate=sum(1 for t in tasks if t.failed) / n,
        tasks=n,
        requests=requests,
    )


def _samples(tasks: Sequence[Task], kind: Kind, basis: str, label: str = BILLED_LABEL) -> dict[str, Sample]:
    by_agent: dict[str, list[Task]] = {}
    for t in tasks:
        by_agent.setdefault(t.agent, []).append(t)
    return {a: sample_from_tasks(a, ts, kind, basis, label) for a, ts in sorted(by_agent.items())}


def _audit_samples(report: AuditReport, path: str) -> dict[str, Sample]:
    out = {}
    for i, a in enumerate(report.agents):
        if a.per_request_tokens is None:
            continue  # the audit could not count its tools: no figure to compare (never invent one)
        w = a.workflow
        per_task = None
        rpt = None
        if w is not None and not a.code_mode:
            per_task = float(w.billed_before)
            rpt = float(w.requests_before)
        out[a.name] = Sample(
            agent=a.name,
            kind="audit",
            label=report.tokenizer,
            basis=f"{path}: agents[{i}].per_request_tokens"
            + (" and .workflow.billed_before" if per_task is not None else ""),
            input_per_request=float(a.per_request_tokens),
            input_per_task=per_task,
            requests_per_task=rpt,
        )
    return out


def _is_run(rec: Mapping[str, Any]) -> bool:
    """A benchmark run record: a mode and the list of its model requests."""
    return isinstance(rec.get("requests"), list) and _has_mode(rec)


def _has_mode(rec: Mapping[str, Any]) -> bool:
    return any(isinstance(rec.get(k), str) for k in ("mode", "variant"))


def _mode(rec: Mapping[str, Any]) -> str:
    return str(rec.get("mode", rec.get("variant", ""))).lower()


def _label(records: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The token label the records carry (`token_label` or `tokenizer`), else the billed-usage label."""
    for _, rec in records:
        for key in ("token_label", "tokenizer"):
            if isinstance(rec.get(key), str) and rec[key]:
                return str(rec[key])
    return BILLED_LABEL


def _select(
    records: Sequence[tuple[str, Mapping[str, Any]]], want: str | None, spec: str, prefer: Sequence[str] = ()
) -> tuple[list[tuple[str, Mapping[str, Any]]], str]:
    modes = sorted({_mode(r) for _, r in records})
    if want is None:
        want = next((m for m in prefer if m in modes), None)
    if want is None:
        if len(modes) > 1:
            raise MeasureError(
                f"{spec}: holds runs of {', '.join(modes)}; pick one with {spec}#MODE "
                f"(e.g. `cfmigrate measure {spec}#{modes[0]} {spec}#{modes[-1]}`)"
            )
        want = modes[0] if modes else ""
    chosen = [(w, r) for w, r in records if _mode(r) == want.lower()]
    if not chosen:
        raise MeasureError(
            f"{spec}: no benchmark run with mode {want!r}; it has {', '.join(modes) or 'none'}"
        )
    return chosen, want


def _run_tasks(records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Task]:
    """Tasks from benchmark run records: one record per run, `requests` holding each model request's usage."""
    tasks: list[Task] = []
    for where, rec in records:
        agent = _text(rec.get("scenario", rec.get("agent")), where, "agent")
        task = _text(rec.get("task", rec.get("run")), where, "task") or f"@{where}"
        items = [(f"{where} requests[{i}]", r) for i, r in enumerate(rec["requests"])]
        if not items:
            raise MeasureError(f"{where}: benchmark run has no requests")
        bad = next((w for w, r in items if not isinstance(r, dict)), None)
        if bad is not None:
            raise MeasureError(f"{bad}: each request must be a JSON object with usage.input_tokens")
        t = tasks_from_records((w, {**r, "task": task, "agent": agent}) for w, r in items)[0]
        failed = t.failed or _failed(rec) or rec.get("ok") is False
        lat = t.latency_ms
        for key in ("wall_ms", "duration_ms", "latency_ms"):
            if _num(rec.get(key)):
                lat = float(rec[key])
                break
        else:
            if _num(rec.get("wall_s")):
                lat = float(rec["wall_s"]) * 1000
        tasks.append(Task(t.agent, t.task, t.inputs, t.outputs, lat, failed))
    return tasks


def _flat_tasks(records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Task]:
    """Tasks from per-request benchmark records (`mode`, `usage`, optional `run`/`task`, `scenario`/`agent`)."""
    return tasks_from_records(
        (
            where,
            {
                **rec,
                "agent": rec.get("agent", rec.get("scenario")),
                "task": rec.get("task", rec.get("run", rec.get("task_id", _mode(rec)))),
            },
        )
        for where, rec in records
    )


@dataclass(frozen=True)
class _Loaded:
    path: str
    kind: Kind
    label: str
    basis: str
    tasks: tuple[Task, ...] = ()
    report: AuditReport | None = None


def _load(spec: str, prefer: Sequence[str] = ()) -> _Loaded:
    """Parse an audit JSON, a JSONL request log, or benchmark records (`FILE#MODE` picks a run)."""
    path_text, _, mode = spec.partition("#") if "#" in spec and not Path(spec).exists() else (spec, "", "")
    path = Path(path_text)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MeasureError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MeasureError(
            f"{path}: is a directory; pass an audit JSON file or a JSONL request log"
        ) from None
    except UnicodeDecodeError:
        raise MeasureError(
            f"{path}: not UTF-8 text; pass an audit JSON file or a JSONL request log"
        ) from None
    except OSError as exc:
        raise MeasureError(f"{path}: cannot read it ({exc.strerror})") from None
    if not text.strip():
        raise MeasureError(f"{path}: empty; log one JSON line per model request with usage.input_tokens")
    records: list[tuple[str, Any]]
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
        records = []
        for no, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"{path}:{no}", json.loads(line)))
            except json.JSONDecodeError as exc:
                raise MeasureError(
                    f"{path}:{no}: not JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object "
                    "with usage.input_tokens"
                ) from None
    else:
        if isinstance(whole, dict) and "schema" in whole and "usage" not in whole:
            if whole.get("schema") != REPORT_SCHEMA:
                raise MeasureError(
                    f"{path}: schema {whole.get('schema')!r} is not an audit ({REPORT_SCHEMA})"
                )
            try:
                report = audit_from_json(whole, str(path))
            except AuditFileError as exc:
                raise MeasureError(str(exc)) from None
            if mode:
                raise MeasureError(
                    f"{spec}: `#{mode}` only selects a run in benchmark records; drop it for an audit"
                )
            return _Loaded(str(path), "audit", report.tokenizer, str(path), report=report)
        if isinstance(whole, list):
            records = [(f"{path}[{i}]", r) for i, r in enumerate(whole)]
        elif isinstance(whole, dict) and isinstance(whole.get("runs"), list):
            records = [(f"{path} runs[{i}]", r) for i, r in enumerate(whole["runs"])]
        else:
            records = [(f"{path}:1", whole)]
    if not records:
        raise MeasureError(f"{path}: no records")
    objs = [(w, r) for w, r in records if isinstance(r, dict)]
    if len(objs) != len(records):
        where = next(w for w, r in records if not isinstance(r, dict))
        raise MeasureError(f"{where}: each record must be a JSON object with usage.input_tokens")
    if all(_is_run(r) for _, r in objs) or all(_has_mode(r) for _, r in objs):
        chosen, picked = _select(objs, mode or None, str(path), prefer)
        tasks = _run_tasks(chosen) if all(_is_run(r) for _, r in chosen) else _flat_tasks(chosen)
        basis = f"{path} ({picked} runs)" if picked else str(path)
        return _Loaded(str(path), "benchmark", _label(chosen), basis, tuple(tasks))
    if mode:
        raise MeasureError(f"{spec}: `#{mode}` selects a run in benchmark records; {path} is a request log")
    return _Loaded(str(path), "trace", BILLED_LABEL, str(path), tuple(tasks_from_records(objs)))


def read_source(spec: str) -> Source:
    """One `measure` argument, as a sample per agent."""
    loaded = _load(spec)
    if loaded.report is not None:
        return Source(loaded.path, "audit", loaded.label, _audit_samples(loaded.report, loaded.path))
    samples = _samples(loaded.tasks, loaded.kind, loaded.basis, loaded.label)
    return Source(loaded.path, loaded.kind, loaded.label, samples)


def read_tasks(spec: str) -> tuple[Kind, list[Task]]:
    """The direct-MCP tasks of a request log or benchmark records (for `plan --trace`), and which it was."""
    loaded = _load(spec, prefer=BEFORE_MODES)
    if loaded.report is not None:
        raise MeasureError(
            f"{loaded.path}: is an audit; --trace takes a JSONL log of model requests with usage"
        )
    return loaded.kind, list(loaded.tasks)


# --------------------------------------------------------------------------------------------------
# Comparing


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _pairs(before: Source, after: Source) -> tuple[list[tuple[str, Sample, Sample]], list[str]]:
    common = sorted(set(before.samples) & set(after.samples))
    if common:
        pairs = [(name or "(all)", before.samples[name], after.samples[name]) for name in common]
        unmatched = sorted(
            [f"{n or '(no agent)'} (only in {before.path})" for n in before.samples if n not in after.samples]
            + [
                f"{n or '(no agent)'} (only in {after.path})"
                for n in after.samples
                if n not in before.samples
            ]
        )
        return pairs, unmatched
    if len(before.samples) == 1 and len(after.samples) == 1:
        (b_name, b), (a_name, a) = next(iter(before.samples.items())), next(iter(after.samples.items()))
        label = b_name if b_name == a_name else f"{b_name or '(no agent)'} → {a_name or '(no agent)'}"
        return [(label, b, a)], []
    raise MeasureError(
        f"no agent appears in both files: {before.path} has {', '.join(sorted(before.samples)) or 'none'}; "
        f"{after.path} has {', '.join(sorted(after.samples)) or 'none'}. Log the same `agent` name before and after"
    )


def compare_samples(name: str, b: Sample, a: Sample, targets: Targets) -> AgentComparison:
    """Token reduction, speed-up and error rate for one agent, checked against the targets."""
    if b.input_per_task is not None and a.input_per_task is not None:
        unit, before, after = "per task", b.input_per_task, a.input_per_task
    else:
        unit, before, after = "per request", b.input_per_request, a.input_per_request
    reduction = (before - after) / before if before else 0.0
    checks = [
        Check(
            f"input tokens {unit}",
            f"> {targets.min_reduction:g}% fewer",
            f"{pct(reduction)} fewer" if reduction >= 0 else f"{pct(-reduction)} more",
            "pass" if before and reduction * 100 > targets.min_reduction else "fail",
        )
    ]
    if a.error_rate is None:
        checks.append(Check("error rate", f"< {targets.max_error_rate:g}%", "not in the input", "n/a"))
    else:
        checks.append(
            Check(
                "error rate",
                f"< {targets.max_error_rate:g}%",
                pct(a.error_rate),
                "pass" if a.error_rate * 100 < targets.max_error_rate else "fail",
            )
        )
    speedup = None
    if b.latency_ms_per_task and a.latency_ms_per_task:
        speedup = b.latency_ms_per_task / a.latency_ms_per_task
    if targets.min_speedup is not None:
        if speedup is None:
            checks.append(
                Check(
                    "speed-up per task", f">= {targets.min_speedup:g}x", "latency not in both inputs", "n/a"
                )
            )
        else:
            checks.append(
                Check(
                    "speed-up per task",
                    f">= {targets.min_speedup:g}x",
                    f"{speedup:.2f}x",
                    "pass" if speedup >= targets.min_speedup else "fail",
                )
            )
    return AgentComparison(
        name, b, a, unit, round(reduction, 4), None if speedup is None else round(speedup, 3), tuple(checks)
    )


def compare(before_spec: str, after_spec: str, targets: Targets) -> Comparison:
    """Read both inputs and compare every agent found in both."""
    before = read_source(before_spec)
    after = read_source(after_spec)
    if (before.kind == "audit") != (after.kind == "audit"):
        raise MeasureError(
            f"compare like with like: {before.path} is {_kind_text(before.kind)} and {after.path} is "
            f"{_kind_text(after.kind)} (audit estimates and billed usage are different measures)"
        )
    if before.label != after.label:
        raise MeasureError(
            f"the two sides count tokens differently ({before.label} vs {after.label}); "
            + (
                "re-run one audit with the other's --tokenizer"
                if before.kind == "audit"
                else "compare runs counted the same way"
            )
        )
    pairs, unmatched = _pairs(before, after)
    agents = tuple(compare_samples(name, b, a, targets) for name, b, a in pairs)
    kind = before.kind if before.kind == after.kind else f"{before.kind} vs {after.kind}"
    return Comparison(
        COMPARE_SCHEMA, before.path, after.path, kind, before.label, targets, agents, tuple(unmatched)
    )


def _kind_text(kind: str) -> str:
    return {"audit": "an audit", "trace": "a request log", "benchmark": "benchmark records"}[kind]
