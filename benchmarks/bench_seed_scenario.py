"""Direct MCP vs code mode, billed request by request against honest scripted models.

Both agents use the real `anthropic` SDK against `tests/support/scripted_api.py` on 127.0.0.1 and real
in-repo MCP servers over stdio. The models (`tests/support/honest_models.py`) only use what their
requests showed them -- the server's honesty check (`tests/support/honesty.py`) refuses any turn that
uses a tool, module, argument or result field the request never showed, or quotes a fact it never
showed -- and every turn is cut at the request's `max_tokens`.

Scenarios (`--scenario`, default `seed`; `all` runs the three):

* `seed` -- the fixture's task: transcript from Drive, attached to the Salesforce lead, the team told in
  Slack (3 servers, 50 tools, a ~12k-token transcript). Direct: `fixtures/seed-scenario/agent.py`; code
  mode: the same file after `cfmigrate migrate --write` (into `build/seed-migrated/`), or `--code-agent`.
* `records` -- 30 helpdesk tickets listed 10 per page, the stale pending ones closed (one retry after the
  helpdesk's error), counts per priority posted to chat (2 servers, 22 tools); `fixtures/records-scenario/`.
* `small` -- five weather tools, where the audit says "keep direct MCP"; code mode is the agent after
  `cfmigrate migrate --write --all` (plain `--write` leaves it alone); `fixtures/small-toolset/`.
  Both are in `benchmarks/more_scenarios.py`.

Billed input per request = o200k_base count of the request's system + tools + messages as compact JSON,
plus Anthropic's documented tool-use system prompt (`cfmigrate.analyzers.pricing`, 346 tokens for the
fixture's claude-sonnet-4-6) whenever the request sends tools -- on both sides. It is an estimate, not
Claude's count. Latency: see `cfmigrate.analyzers.measure.LATENCY_DEFINITION`.

Usage: python benchmarks/bench_seed_scenario.py [--scenario NAME|all] [--code-agent PATH] [--keep DIR]
       [--records FILE] [--log DIR]
`--log DIR` writes `direct.jsonl` and `code.jsonl` (in `DIR/<scenario>/` with `--scenario all`): one
line per model call, `{"request": <body>, "response": <body>}`; `benchmarks/recount_logs.py DIR`
recounts them with an independent o200k_base tokenizer. `--records FILE` writes one JSON line per run
for `cfmigrate measure FILE#direct FILE#code`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "fixtures" / "seed-scenario"
MIGRATED_AGENT = REPO / "build" / "seed-migrated" / "agent.py"
sys.path.insert(0, str(REPO / "tests"))

from support.honest_models import SeedCodeModel, SeedDirectModel  # noqa: E402
from support.honesty import honesty_check  # noqa: E402
from support.scripted_api import SEED_TASK, Record, ScriptedAPI, request_tokens  # noqa: E402

from cfmigrate.analyzers import pricing  # noqa: E402
from cfmigrate.analyzers.measure import LATENCY_DEFINITION, describe_speed  # noqa: E402
from cfmigrate.analyzers.tokens import BpeTokenizer, compact  # noqa: E402

TOKEN_LABEL = (
    "estimate: o200k_base over system + tools + messages (compact JSON) + Anthropic's documented "
    "tool-use system prompt on every request that sends tools; not Claude's count"
)
O200K = BpeTokenizer("o200k_base")
DIRECT_MAX_TOKENS = 16_384  # the seed's direct baseline: the output budget copying the transcript needs
TARGET = 0.987


class BenchmarkError(Exception):
    """The scenario could not run or its checks failed; the message says which step."""


def tool_use_prompt(request: Mapping[str, Any]) -> int:
    """Anthropic's documented tool-use system prompt for the request's model (tools are sent)."""
    overhead = pricing.tool_use_overhead(str(request.get("model")), "anthropic")
    if overhead.tokens is None:
        raise BenchmarkError(
            f"no documented tool-use prompt size for {request.get('model')!r}: {overhead.note}"
        )
    return overhead.tokens


@dataclass(frozen=True)
class RunResult:
    """One agent's run: every request the scripted model answered, and what the agent answered."""

    mode: str
    agent: str
    records: tuple[Record, ...]
    answer: str
    wall_s: float
    log: tuple[str, ...] = ()

    @property
    def requests(self) -> int:
        return len(self.records)

    @property
    def billed_input(self) -> int:
        return sum(r.input_tokens or 0 for r in self.records)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens or 0 for r in self.records)

    @property
    def per_request(self) -> list[int]:
        return [r.input_tokens or 0 for r in self.records]

    @property
    def tool_use_prompt(self) -> int:
        return sum(
            r.input_tokens - request_tokens(r.request) for r in self.records if r.request and r.input_tokens
        )

    @property
    def stop_reasons(self) -> list[str]:
        return [str(r.response.get("stop_reason")) for r in self.records]

    @property
    def discovery(self) -> int:
        """Tokens spent learning the tools, counted once (o200k_base).

        Direct MCP: the tool definitions sent with the first request. Code mode: the discovery and
        documentation scripts (`# step: discover` / `# step: read`) and their printed output.
        """
        if not self.records or not self.records[0].request:
            return 0
        last = self.records[-1].request or {}
        if self.mode.startswith("direct"):
            return O200K.count(compact(self.records[0].request.get("tools") or []))
        total, ids = 0, {}
        for message in last.get("messages") or []:
            for block in message.get("content") or [] if isinstance(message.get("content"), list) else []:
                if block.get("type") == "tool_use" and re.match(
                    r"# step: (discover|read)\b", str((block.get("input") or {}).get("code", ""))
                ):
                    ids[block.get("id")] = True
                    total += O200K.count(compact(block))
                elif block.get("type") == "tool_result" and block.get("tool_use_id") in ids:
                    total += O200K.count(compact(block))
        return total


@dataclass(frozen=True)
class Comparison:
    """Both runs of one scenario, and what was checked."""

    scenario: str
    title: str
    direct: RunResult
    code: RunResult
    checks: tuple[str, ...]
    notes: tuple[str, ...] = ()
    context_tokens: int = 0
    context_label: str = ""
    index_tokens: int = 0  # every tool's one-line entry (search_tools("")): an index in the system prompt
    tool_count: int = 0
    as_written: RunResult | None = None  # the seed agent as written (cut off), before the direct baseline

    @property
    def reduction(self) -> float:
        return (self.direct.billed_input - self.code.billed_input) / self.direct.billed_input

    @property
    def floor(self) -> int:
        """Two requests carrying only what code mode's first request carries (instructions, code-mode prompt,
        execute_code, the task, the tool-use prompt): no code-mode run of this agent can cost less, since the
        model must see its script's output before it answers."""
        return 2 * self.code.per_request[0] if self.code.per_request else 0

    @property
    def with_index(self) -> int:
        """Estimate: this code run with every tool's line in the system prompt instead of its discovery round
        (the round's request dropped; each later request without the round's script and output, plus the index)."""
        later = self.code.per_request[1:]
        return sum(n - self.code.discovery + self.index_tokens for n in later)


def index_tokens(servers: Path) -> tuple[int, int]:
    """(tokens, tools) of what `search_tools("")` prints for a generated package: one line per tool, the
    index a client could put in the system prompt instead of a discovery round (o200k_base)."""
    from cfmigrate.generators.costs import search_tokens

    files = {p.relative_to(servers).as_posix(): p.read_bytes() for p in servers.rglob("*.py")}
    files.update({p.relative_to(servers).as_posix(): p.read_bytes() for p in servers.glob("*.json")})
    spec = importlib.util.spec_from_file_location("_bench_index", servers / "_index.py")
    if spec is None or spec.loader is None:
        raise BenchmarkError(f"{servers}: no _index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    count = len(module.TOOLS)
    return search_tokens(files, servers.name, [("", "summary", count)], O200K), count


# ------------------------------------------------------------------------------------------------
# set-up


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def copy_fixture(dest: Path, fixture: Path = FIXTURE) -> Path:
    """A private copy of a fixture repository (so generated files and state never touch the fixture)."""
    shutil.copytree(fixture, dest, ignore=shutil.ignore_patterns("servers", ".cfmigrate", "__pycache__"))
    return dest


def with_max_tokens(agent: Path, value: int) -> Path:
    """Set `MAX_TOKENS = value` in a copied agent (the only change), or fail if the line is not there."""
    source = agent.read_text(encoding="utf-8")
    changed, n = re.subn(r"^MAX_TOKENS = \d[\d_]*$", f"MAX_TOKENS = {value}", source, flags=re.MULTILINE)
    if n != 1:
        raise BenchmarkError(f"{agent}: no `MAX_TOKENS = N` line to raise")
    agent.write_text(changed, encoding="utf-8")
    return agent


def server_env(state: Path) -> dict[str, str]:
    """Credentials (random, never printed) and a fresh state file per server."""
    state.mkdir(parents=True, exist_ok=True)
    return {
        "DRIVE_ACCESS_TOKEN": secrets.token_hex(12),
        "CRM_API_TOKEN": secrets.token_hex(12),
        "SLACK_BOT_TOKEN": secrets.token_hex(12),
        "DRIVE_DATA": str(state / "drive.json"),
        "CRM_DATA": str(state / "crm.json"),
        "SLACK_DATA": str(state / "slack.json"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def generate_package(repo: Path, expected: tuple[tuple[str, str], ...] = ()) -> None:
    """What `cfmigrate generate --refresh` does: list the servers' tools live, then write `servers/`."""
    from cfmigrate.generators.api import GenerateOptions, generate, refresh

    options = GenerateOptions(root=repo)
    problems = [p for p in refresh(options) if p.level == "error"]
    if problems:
        raise BenchmarkError(f"listing the tools of the servers in {repo} failed: {problems[0].message}")
    outcome = generate(options)
    if not (repo / "servers" / "_runtime.py").is_file():
        raise BenchmarkError(
            f"cfmigrate generate wrote no package in {repo}: {[p.message for p in outcome.problems][:3]}"
        )
    missing = [
        f"{server}/{tool}"
        for server, tool in expected
        if not (repo / "servers" / server / f"{tool}.py").is_file()
    ]
    if missing:
        raise BenchmarkError(f"cfmigrate generate did not write {', '.join(missing)}")


def load_module(name: str, path: Path) -> ModuleType:
    """A module loaded from its path (registered in sys.modules once)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BenchmarkError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_agent(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BenchmarkError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise BenchmarkError(f"{path}: the agent module must define `async def run(task)`")
    return module


async def drive(mode: str, agent_path: Path, policy: Any, env: Mapping[str, str], task: str) -> RunResult:
    """Run one agent against a fresh honest scripted model; every request is recorded."""
    with (
        ScriptedAPI(policy, check=honesty_check, tool_use_prompt=tool_use_prompt) as api,
        environment({**env, "ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "sk-scripted"}),
    ):
        agent = load_agent(agent_path, "bench_agent_" + re.sub(r"\W", "_", mode))
        run: Callable[[str], Awaitable[str]] = agent.run
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(run(task), 600)
        except Exception as exc:
            errors = api.errors()
            why = errors[0].error if errors else f"{type(exc).__name__}: {exc}"
            raise BenchmarkError(f"{mode}: the run failed: {why}") from None
        wall = time.perf_counter() - started
        if api.errors():
            raise BenchmarkError(f"{mode}: the scripted model answered an error: {api.errors()[0].error}")
        records = tuple(r for r in api.message_records() if r.status == 200)
        log = tuple(api.log_lines())
    return RunResult(
        mode=mode, agent=str(agent_path), records=records, answer=answer, wall_s=round(wall, 3), log=log
    )


# ------------------------------------------------------------------------------------------------
# checks


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def transcript_probes(transcript: str) -> list[str]:
    """Distinctive pieces of the transcript: 60-character slices from lines spread over the whole text."""
    lines = [line.strip() for line in transcript.splitlines() if len(line.strip()) > 80]
    step = max(1, len(lines) // 24)
    return [line[10:70] for line in lines[::step]]


def leaked(records: tuple[Record, ...], probes: list[str]) -> list[int]:
    """Indices of requests that carry any piece of the transcript."""
    hits = []
    for record in records:
        text = "\n".join(_strings(record.request))
        if any(p in text for p in probes):
            hits.append(record.index)
    return hits


def note_with_transcript(crm_state: Path, transcript: str) -> str:
    """The id of a CRM note that holds the whole transcript, or an error naming what is there instead."""
    if not crm_state.is_file():
        raise BenchmarkError(f"{crm_state}: the CRM never saved anything, so no note was attached")
    data = json.loads(crm_state.read_text(encoding="utf-8"))
    notes = data.get("notes", {})
    for note_id, note in sorted(notes.items()):
        if transcript.strip() in str(note.get("body", "")):
            return str(note_id)
    sizes = {k: len(str(v.get("body", ""))) for k, v in notes.items()}
    raise BenchmarkError(
        f"no CRM note holds the full transcript ({len(transcript)} chars); note sizes: {sizes}"
    )


def slack_announcement(slack_state: Path, channel: str, note_id: str) -> str:
    """The text of the message in `channel` that points at the note (it must exist and be short)."""
    data = json.loads(slack_state.read_text(encoding="utf-8")) if slack_state.is_file() else {}
    for info in (data.get("channels") or {}).values():
        if info.get("name") == channel.lstrip("#"):
            for message in info.get("messages") or []:
                if note_id in str(message.get("text", "")):
                    return str(message["text"])
    raise BenchmarkError(f"no message in {channel} mentions note {note_id}")


def shown_to_model(records: tuple[Record, ...], upto: int) -> str:
    """Everything the requests before index `upto` (exclusive) carried, as one text."""
    return "\n".join("\n".join(_strings(r.request)) for r in records[:upto])


def check_seed_run(run: RunResult, env: Mapping[str, str], transcript: str) -> list[str]:
    """The seed task was done: full transcript on the lead, a short Slack note whose facts the model saw."""
    note_id = note_with_transcript(Path(env["CRM_DATA"]), transcript)
    announcement = slack_announcement(Path(env["SLACK_DATA"]), "#sales-updates", note_id)
    if len(announcement) > 1000:
        raise BenchmarkError(
            f"{run.mode}: the Slack message is {len(announcement)} chars: the transcript was pasted"
        )
    recap = announcement.split("Next steps from the call's recap:", 1)[-1]
    items = re.findall(r"\(\d+\) ([^;]+?)(?=; \(\d+\)|\.$)", recap)
    if not items:
        raise BenchmarkError(f"{run.mode}: the Slack message names no next steps: {announcement!r}")
    post = next(
        i
        for i, r in enumerate(run.records)
        if announcement[:40] in json.dumps(r.response, ensure_ascii=False)
    )
    seen = shown_to_model(run.records, post + 1)
    unseen = [item for item in items if item not in seen]
    if unseen:
        raise BenchmarkError(f"{run.mode}: the Slack message states {unseen} which the model was never shown")
    return [
        f"{run.mode}: CRM note {note_id} holds the whole transcript; #sales-updates got {len(announcement)} chars "
        f"naming {len(items)} next steps, each quoted from text the model was shown before it wrote them"
    ]


# ------------------------------------------------------------------------------------------------
# the seed scenario


SEED_TOOLS = (
    ("drive", "search_files"),
    ("drive", "get_document"),
    ("crm", "find_lead"),
    ("crm", "attach_note_to_lead"),
    ("slack", "post_message"),
)


async def compare(code_agent: Path | str | None = None, workdir: Path | None = None) -> Comparison:
    """The seed scenario: the fixture agent as written, the direct baseline, and code mode.

    `code_agent`: a module path, or None for the default: the fixture migrated by
    `cfmigrate migrate --write` into `build/seed-migrated/` now.
    """
    base = workdir or Path(tempfile.mkdtemp(prefix="cfm-seed-bench-"))
    transcript = (FIXTURE / "data" / "transcript.txt").read_text(encoding="utf-8")
    probes = transcript_probes(transcript)
    notes: list[str] = []

    # 1. the fixture agent exactly as written: max_tokens 4,096 cannot hold the transcript's copy
    as_written_repo = copy_fixture(base / "as-written")
    as_written_env = server_env(base / "state-as-written")
    as_written = await drive(
        "direct MCP (as written)", as_written_repo / "agent.py", SeedDirectModel(), as_written_env, SEED_TASK
    )
    cut = [i + 1 for i, reason in enumerate(as_written.stop_reasons) if reason == "max_tokens"]
    attached = Path(as_written_env["CRM_DATA"]).is_file() and transcript.strip() in Path(
        as_written_env["CRM_DATA"]
    ).read_text(encoding="utf-8")
    if not cut or attached:
        raise BenchmarkError(
            "the fixture agent with max_tokens 4,096 was expected to be cut off while copying the transcript "
            f"(stop reasons {as_written.stop_reasons}, transcript attached: {attached})"
        )
    notes.append(
        f"The fixture agent as written (max_tokens 4,096) is cut off at request {cut[0]} "
        f"(stop_reason max_tokens) while copying the ~12k-token transcript into attach_note_to_lead; "
        f"its loop then stops, so the note is never attached ({as_written.requests} requests, "
        f"{as_written.billed_input:,} billed input tokens, task not done). The direct baseline below is the "
        f"same agent with MAX_TOKENS = {DIRECT_MAX_TOKENS:,} (the one change), the cheapest direct run that does the task."
    )

    # 2. the direct baseline
    direct_repo = copy_fixture(base / "direct")
    with_max_tokens(direct_repo / "agent.py", DIRECT_MAX_TOKENS)
    direct_env = server_env(base / "state-direct")
    direct = await drive("direct MCP", direct_repo / "agent.py", SeedDirectModel(), direct_env, SEED_TASK)
    if not leaked(direct.records, probes):
        raise BenchmarkError(
            "the transcript probes found nothing in the direct run: the leak check would prove nothing"
        )
    checks = check_seed_run(direct, direct_env, transcript)

    # 3. code mode
    code_repo = copy_fixture(base / "code")
    code_env = server_env(base / "state-code")
    with environment(code_env):
        generate_package(code_repo, SEED_TOOLS)
    if code_agent is None:
        from cfmigrate.migrate.runner import migrate_tree

        # with a workdir (tests), the migrated copy stays in it; by hand, it lands in build/seed-migrated/
        target = workdir / "seed-migrated" if workdir is not None else MIGRATED_AGENT.parent
        with environment(code_env):
            # from a copy: --refresh starts the servers in the tree it reads (no __pycache__ in fixtures/)
            migrate_tree(copy_fixture(base / "seed-source"), target, refresh=True)
        code_agent = target / "agent.py"
    code = await drive("code mode", Path(code_agent), SeedCodeModel(), code_env, SEED_TASK)
    checks += check_seed_run(code, code_env, transcript)
    hits = leaked(code.records, probes[:-3])  # the last probes lie in the recap the model prints on purpose
    if hits:
        raise BenchmarkError(f"the transcript's body appeared in code-mode request(s) {hits}")
    checks.append(
        f"code mode: no piece of the transcript's body appeared in any of its {code.requests} requests"
    )

    from cfmigrate.analyzers.tokens import BpeTokenizer
    from cfmigrate.runtime import CodeMode

    async with CodeMode(servers_dir=code_repo / "servers", config=code_repo / ".mcp.json") as cm:
        tokens, label = cm.context_tokens("anthropic", BpeTokenizer("o200k_base"))
    index, tool_count = index_tokens(code_repo / "servers")
    return Comparison(
        scenario="seed",
        title="Seed: transcript Drive -> Salesforce lead -> Slack (3 servers, 50 tools)",
        direct=direct,
        code=code,
        checks=tuple(checks),
        notes=tuple(notes),
        context_tokens=tokens,
        context_label=label,
        index_tokens=index,
        tool_count=tool_count,
        as_written=as_written,
    )


# ------------------------------------------------------------------------------------------------
# output


def write_records(path: Path, results: list[Comparison] | Comparison) -> None:
    """One JSON line per run, in the benchmark-record form `cfmigrate measure` reads."""
    lines = []
    for result in results if isinstance(results, list) else [results]:
        for mode, run in (("direct", result.direct), ("code", result.code)):
            lines.append(
                json.dumps(
                    {
                        "scenario": "seed-scenario" if result.scenario == "seed" else result.scenario,
                        "mode": mode,
                        "agent": run.agent,
                        "wall_s": round(run.wall_s, 3),
                        "token_label": TOKEN_LABEL,
                        "ok": True,
                        "requests": [
                            {
                                "usage": {
                                    "input_tokens": r.input_tokens or 0,
                                    "output_tokens": r.output_tokens or 0,
                                }
                            }
                            for r in run.records
                        ],
                    },
                    sort_keys=True,
                )
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_logs(directory: Path, result: Comparison) -> None:
    """`direct.jsonl` and `code.jsonl`: one `{"request": ..., "response": ...}` line per model call."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, run in (("direct", result.direct), ("code", result.code)):
        (directory / f"{name}.jsonl").write_text("".join(line + "\n" for line in run.log), encoding="utf-8")


def report(result: Comparison) -> str:
    d, c = result.direct, result.code
    rows = [
        ("requests to the model", f"{d.requests}", f"{c.requests}"),
        ("billed input tokens (sum over requests)", f"{d.billed_input:,}", f"{c.billed_input:,}"),
        ("  of which the tool-use system prompt", f"{d.tool_use_prompt:,}", f"{c.tool_use_prompt:,}"),
        ("tokens spent on discovery (once)", f"{d.discovery:,}", f"{c.discovery:,}"),
        (
            "mean input tokens per request",
            f"{d.billed_input / d.requests:,.0f}",
            f"{c.billed_input / c.requests:,.0f}",
        ),
        ("output tokens", f"{d.output_tokens:,}", f"{c.output_tokens:,}"),
        ("latency per task (wall time)", f"{d.wall_s * 1000:,.0f} ms", f"{c.wall_s * 1000:,.0f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        result.title,
        f"token figures: {TOKEN_LABEL}",
        f"code-mode agent: {c.agent}",
        "",
        f"{'':<{width}}  {'direct MCP':>14}  {'code mode':>14}",
    ]
    lines += [f"{label:<{width}}  {a:>14}  {b:>14}" for label, a, b in rows]
    lines.append(
        f"{'input tokens per request':<{width}}  direct: {' / '.join(f'{n:,}' for n in d.per_request)}"
    )
    lines.append(f"{'':<{width}}  code:   {' / '.join(f'{n:,}' for n in c.per_request)}")
    verdict = "met" if result.reduction >= TARGET else "NOT met"
    lines += [
        "",
        f"reduction in billed input tokens: {result.reduction:.2%} (seed target >= {TARGET:.1%}: {verdict})"
        if result.scenario == "seed"
        else f"reduction in billed input tokens: {result.reduction:.2%}"
        + (f" (code mode costs {-result.reduction:.2%} more)" if result.reduction < 0 else ""),
        f"latency: code mode is {describe_speed(d.wall_s * 1000, c.wall_s * 1000)} ({LATENCY_DEFINITION}; "
        "the scripted model answers at once, so this is the agents' own time: servers, sandbox, tool calls)",
    ]
    if result.context_tokens:
        lines.append(
            f"code-mode system prompt + execute_code tool: {result.context_tokens} tokens ({result.context_label})"
        )
    if result.scenario == "seed" and c.per_request:
        best = 1 - result.floor / d.billed_input
        lines.append(
            f"floor: code mode's first request carries {c.per_request[0]:,} tokens before any discovery (the agent's "
            f"instructions, the code-mode prompt, execute_code, the task, the tool-use prompt) and a run needs at "
            f"least 2 requests (a script, then the answer after its output): >= {result.floor:,} tokens, at most "
            f"{best:.2%} fewer; the {TARGET:.1%} target leaves {max(0, round(d.billed_input * (1 - TARGET)) - result.floor):,} "
            "tokens for discovery, the script and its output together"
        )
    if result.index_tokens and c.discovery:
        lines.append(
            f"alternative: every tool's line in the system prompt ({result.tool_count} tools, {result.index_tokens:,} "
            f"tokens on each request) instead of the discovery round: about {result.with_index:,} billed input "
            f"tokens for this run (estimate from its requests: the round's request dropped, each later request "
            f"without the round's {c.discovery:,} tokens plus the index) vs {c.billed_input:,} measured"
        )
    lines += [f"check: {line}" for line in result.checks]
    lines += [f"note: {line}" for line in result.notes]
    return "\n".join(lines)


SCENARIOS = ("seed", "records", "small")


async def run_scenario(name: str, code_agent: Path | None, workdir: Path) -> Comparison:
    if name == "seed":
        return await compare(code_agent, workdir)
    if name in ("records", "small"):
        more_scenarios = load_module("more_scenarios", Path(__file__).with_name("more_scenarios.py"))
        workdir.mkdir(parents=True, exist_ok=True)
        runner = more_scenarios.compare_records if name == "records" else more_scenarios.compare_small
        result: Comparison = await runner(sys.modules[__name__], workdir)
        return result
    raise BenchmarkError(f"unknown scenario {name!r} (choose from {', '.join(SCENARIOS)} or all)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenario", default="seed", choices=[*SCENARIOS, "all"])
    parser.add_argument(
        "--code-agent",
        help="seed only: agent module with `async def run(task)` "
        "(default: migrate the fixture now with `cfmigrate migrate --write` into build/seed-migrated/)",
    )
    parser.add_argument("--keep", type=Path, help="keep the working copies in this directory")
    parser.add_argument("--records", type=Path, help="write one JSON line per run for `cfmigrate measure`")
    parser.add_argument(
        "--log", type=Path, help="write direct.jsonl and code.jsonl (every request and response)"
    )
    args = parser.parse_args()
    workdir = args.keep.resolve() if args.keep else None
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    scratch = workdir or Path(tempfile.mkdtemp(prefix="cfm-bench-"))
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results: list[Comparison] = []
    try:
        agent = Path(args.code_agent).resolve() if args.code_agent else None

        async def run_all() -> None:  # one event loop for every scenario: the agents' SDK clients close in it
            for name in names:
                results.append(await run_scenario(name, agent if name == "seed" else None, scratch / name))

        asyncio.run(run_all())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print("\n\n".join(report(r) for r in results))
    if args.log is not None:
        for r in results:
            write_logs(args.log / r.scenario if len(results) > 1 else args.log, r)
        print(f"\nlogs: {args.log} (recount: python benchmarks/recount_logs.py {args.log})")
    if args.records is not None:
        write_records(args.records, results)
        print(f"records: {args.records} (cfmigrate measure {args.records}#direct {args.records}#code)")
    seed = next((r for r in results if r.scenario == "seed"), None)
    if seed is not None and seed.reduction < TARGET:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
