"""The seed scenario, direct MCP vs code mode, billed request by request against a scripted Messages API.

Both agents use the real `anthropic` SDK against `tests/support/scripted_api.py` on 127.0.0.1 and the real
fixture MCP servers (Drive-, Salesforce- and Slack-like, ~50 tools, a ~12k-token transcript):

(a) `fixtures/seed-scenario/agent.py`, the direct-MCP agent (every tool schema on every request);
(b) a code-mode agent on `cfmigrate.runtime.CodeMode` with the package `cfmigrate generate` writes for the
    three servers: by default the output of `cfmigrate migrate --write` on a fresh copy of the fixture
    (written to `build/seed-migrated/`), or `--code-agent PATH` (a module with `async def run(task)`).

Billed input tokens are the sum over requests of each request's input as the scripted server counts it
(o200k_base over system + tools + messages): an estimate, not Claude's count. The run checks that the
transcript really reached the CRM and that it never appeared in a request of the code-mode run.

Usage: python benchmarks/bench_seed_scenario.py [--code-agent PATH] [--keep DIR] [--records FILE]
`--records FILE` writes one JSON line per run (`mode`, `requests[].usage`, `wall_s`) for
`cfmigrate measure FILE#direct FILE#code`.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
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

from support.scripted_api import (  # noqa: E402
    SEED_TASK,
    TOKEN_LABEL,
    CodeModePolicy,
    DirectMCPPolicy,
    Record,
    ScriptedAPI,
)

TARGET = 0.987


class BenchmarkError(Exception):
    """The scenario could not run or its checks failed; the message says which step."""


@dataclass(frozen=True)
class RunResult:
    """One agent's run: what the scripted model was asked, and what the agent answered."""

    mode: str
    agent: str
    records: tuple[Record, ...]
    answer: str
    wall_s: float

    @property
    def requests(self) -> int:
        return len(self.records)

    @property
    def billed_input(self) -> int:
        return sum(r.input_tokens or 0 for r in self.records)

    @property
    def output_tokens(self) -> int:
        return sum(r.output_tokens or 0 for r in self.records)


@dataclass(frozen=True)
class Comparison:
    """Both runs and the checks on the code-mode run."""

    direct: RunResult
    code: RunResult
    transcript_chars: int
    note_id: str
    context_tokens: int
    context_label: str

    @property
    def reduction(self) -> float:
        return (self.direct.billed_input - self.code.billed_input) / self.direct.billed_input


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


def copy_fixture(dest: Path) -> Path:
    """A private copy of the seed repository (so generated files and state never touch the fixture)."""
    shutil.copytree(FIXTURE, dest, ignore=shutil.ignore_patterns("servers", ".cfmigrate", "__pycache__"))
    return dest


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


def generate_package(repo: Path) -> None:
    """What `cfmigrate generate --refresh` does: list the three servers' tools live, then write `servers/`."""
    from cfmigrate.generators.api import GenerateOptions, generate, refresh

    options = GenerateOptions(root=repo)
    problems = [p for p in refresh(options) if p.level == "error"]
    if problems:
        raise BenchmarkError(f"listing the tools of the seed servers failed: {problems[0].message}")
    outcome = generate(options)
    if not (repo / "servers" / "_runtime.py").is_file():
        raise BenchmarkError(
            f"cfmigrate generate wrote no package in {repo}: {[p.message for p in outcome.problems][:3]}"
        )
    missing = [
        f"{server}/{tool}"
        for server, tool in (
            ("drive", "search_files"),
            ("drive", "get_document"),
            ("crm", "find_lead"),
            ("crm", "attach_note_to_lead"),
            ("slack", "post_message"),
        )
        if not (repo / "servers" / server / f"{tool}.py").is_file()
    ]
    if missing:
        reasons = [p.message for p in outcome.problems if any(m.split("/")[1] in p.message for m in missing)]
        raise BenchmarkError(f"cfmigrate generate did not write {', '.join(missing)}: {reasons[:3]}")


def load_agent(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BenchmarkError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise BenchmarkError(f"{path}: the agent module must define `async def run(task)`")
    return module


async def drive(mode: str, agent_path: Path, policy: Any, env: Mapping[str, str]) -> RunResult:
    """Run one agent against a fresh scripted model; every request is recorded."""
    with (
        ScriptedAPI(policy) as api,
        environment({**env, "ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "sk-scripted"}),
    ):
        agent = load_agent(agent_path, f"seed_agent_{mode.replace(' ', '_')}")
        run: Callable[[str], Awaitable[str]] = agent.run
        started = time.perf_counter()
        answer = await asyncio.wait_for(run(SEED_TASK), 600)
        wall = time.perf_counter() - started
        if api.errors():
            raise BenchmarkError(f"{mode}: the scripted model answered an error: {api.errors()[0].error}")
        records = tuple(r for r in api.message_records() if r.status == 200)
    return RunResult(mode=mode, agent=str(agent_path), records=records, answer=answer, wall_s=wall)


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


# ------------------------------------------------------------------------------------------------


async def compare(code_agent: Path | str | None = None, workdir: Path | None = None) -> Comparison:
    """Run both agents on private copies of the fixture and check the code-mode run.

    `code_agent`: a module path, or None for the default: the fixture migrated by
    `cfmigrate migrate --write` into `build/seed-migrated/` now.
    """
    base = workdir or Path(tempfile.mkdtemp(prefix="cfm-seed-bench-"))
    transcript = (FIXTURE / "data" / "transcript.txt").read_text(encoding="utf-8")
    probes = transcript_probes(transcript)

    direct_repo = copy_fixture(base / "direct")
    direct_env = server_env(base / "state-direct")
    direct = await drive("direct MCP", direct_repo / "agent.py", DirectMCPPolicy(), direct_env)
    if not leaked(direct.records, probes):
        raise BenchmarkError(
            "the transcript probes found nothing in the direct run: the leak check would prove nothing"
        )

    code_repo = copy_fixture(base / "code")
    code_env = server_env(base / "state-code")
    with environment(code_env):
        generate_package(code_repo)
    if code_agent is None:
        from cfmigrate.migrate.runner import migrate_tree

        with environment(code_env):
            migrate_tree(FIXTURE, MIGRATED_AGENT.parent, refresh=True)
        code_agent = MIGRATED_AGENT
    agent_path = Path(code_agent)
    code = await drive("code mode", agent_path, CodeModePolicy(), code_env)
    note_id = note_with_transcript(Path(code_env["CRM_DATA"]), transcript)
    announcement = slack_announcement(Path(code_env["SLACK_DATA"]), "#sales-updates", note_id)
    if len(announcement) > 1000:
        raise BenchmarkError(
            f"the Slack message is {len(announcement)} chars: the transcript was pasted into Slack"
        )
    hits = leaked(code.records, probes)
    if hits:
        raise BenchmarkError(f"the transcript appeared in code-mode request(s) {hits}")

    from cfmigrate.analyzers.tokens import BpeTokenizer
    from cfmigrate.runtime import CodeMode

    async with CodeMode(servers_dir=code_repo / "servers", config=code_repo / ".mcp.json") as cm:
        tokens, label = cm.context_tokens("anthropic", BpeTokenizer("o200k_base"))
    return Comparison(
        direct=direct,
        code=code,
        transcript_chars=len(transcript),
        note_id=note_id,
        context_tokens=tokens,
        context_label=label,
    )


def write_records(path: Path, result: Comparison) -> None:
    """One JSON line per run, in the benchmark-record form `cfmigrate measure` reads."""
    lines = []
    for mode, run in (("direct", result.direct), ("code", result.code)):
        lines.append(
            json.dumps(
                {
                    "scenario": "seed-scenario",
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


def report(result: Comparison) -> str:
    d, c = result.direct, result.code
    rows = [
        ("requests to the model", f"{d.requests}", f"{c.requests}"),
        ("billed input tokens (sum over requests)", f"{d.billed_input:,}", f"{c.billed_input:,}"),
        ("output tokens", f"{d.output_tokens:,}", f"{c.output_tokens:,}"),
        ("wall time", f"{d.wall_s:.2f} s", f"{c.wall_s:.2f} s"),
        (
            "input tokens per request",
            " / ".join(f"{r.input_tokens:,}" for r in d.records),
            " / ".join(f"{r.input_tokens:,}" for r in c.records),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        "Seed scenario: transcript Drive -> Salesforce lead -> Slack",
        f"token figures: {TOKEN_LABEL}",
        f"code-mode agent: {c.agent}",
        "",
        f"{'':<{width}}  {'direct MCP':>14}  {'code mode':>14}",
    ]
    for label, a, b in rows[:-1]:
        lines.append(f"{label:<{width}}  {a:>14}  {b:>14}")
    lines.append(f"{rows[-1][0]:<{width}}  direct: {rows[-1][1]}")
    lines.append(f"{'':<{width}}  code:   {rows[-1][2]}")
    lines += [
        "",
        f"reduction in billed input tokens: {result.reduction:.2%} (target >= {TARGET:.1%}: {'met' if result.reduction >= TARGET else 'NOT met'})",
        f"output tokens ratio: {c.output_tokens / max(1, d.output_tokens):.2f}x; wall time ratio: {d.wall_s / max(c.wall_s, 1e-9):.2f}x faster",
        f"code-mode system prompt + execute_code tool: {result.context_tokens} tokens ({result.context_label})",
        f"transcript ({result.transcript_chars:,} chars) is in CRM note {result.note_id}; it appeared in 0 of {c.requests} code-mode requests",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--code-agent",
        help="agent module with `async def run(task)` "
        "(default: migrate the fixture now with `cfmigrate migrate --write` into build/seed-migrated/)",
    )
    parser.add_argument("--keep", type=Path, help="keep the working copies in this directory")
    parser.add_argument("--records", type=Path, help="write one JSON line per run for `cfmigrate measure`")
    args = parser.parse_args()
    workdir = args.keep.resolve() if args.keep else None
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    scratch = workdir or Path(tempfile.mkdtemp(prefix="cfm-seed-bench-"))
    try:
        agent = Path(args.code_agent).resolve() if args.code_agent else None
        result = asyncio.run(compare(agent, scratch))
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        if workdir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(report(result))
    if args.records is not None:
        write_records(args.records, result)
        print(f"records: {args.records} (cfmigrate measure {args.records}#direct {args.records}#code)")
    if result.reduction < TARGET:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
