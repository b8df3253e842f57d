"""Recount the benchmark's request logs with an independent o200k_base tokenizer.

Usage: python benchmarks/recount_logs.py DIR [DIR ...]

Each DIR holds `direct.jsonl` and `code.jsonl` from `bench_seed_scenario.py --log DIR` (or one
sub-folder per scenario). Every line is `{"request": <body>, "response": <body>}`. For each request
this counts, with the `bpe-openai` package's own o200k_base implementation (not the tiktoken-based
counter the scripted server uses), the compact JSON of the request's `system`, `tools` and `messages`,
adds Anthropic's documented tool-use system prompt when `tools` is non-empty (the size comes from
the table in `cfmigrate.analyzers.pricing` for the request's `model`), and prints the per-request
figures and their sum. It exits 1 when a recount differs from the `usage.input_tokens` the scripted
server sent back.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpe_openai

from cfmigrate.analyzers import pricing

ENCODING = bpe_openai.get_encoding("o200k_base")


@dataclass(frozen=True)
class Recount:
    """One log file, recounted."""

    path: Path
    per_request: tuple[int, ...]
    reported: tuple[int, ...]  # usage.input_tokens as the scripted server answered
    tool_use_prompt: int
    output_tokens: int

    @property
    def billed_input(self) -> int:
        return sum(self.per_request)

    @property
    def agrees(self) -> bool:
        return self.per_request == self.reported


def count_request(body: dict[str, Any]) -> tuple[int, int]:
    """(billed input tokens, of which the tool-use prompt) for one request body."""
    payload = {key: body[key] for key in ("system", "tools", "messages") if key in body}
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    tokens = len(ENCODING.encode(text))
    overhead = 0
    if body.get("tools"):
        found = pricing.tool_use_overhead(str(body.get("model")), "anthropic").tokens
        if found is None:
            raise SystemExit(f"no documented tool-use prompt size for model {body.get('model')!r}")
        overhead = found
    return tokens + overhead, overhead


def recount(path: Path) -> Recount:
    per_request, reported = [], []
    prompt = output = 0
    for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            body, response = entry["request"], entry["response"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}:{no}: not a {{request, response}} line ({exc})") from None
        billed, overhead = count_request(body)
        per_request.append(billed)
        prompt += overhead
        usage = response.get("usage") or {}
        reported.append(int(usage.get("input_tokens", -1)))
        output += int(usage.get("output_tokens", 0))
    return Recount(path, tuple(per_request), tuple(reported), prompt, output)


def logs_in(directory: Path) -> list[Path]:
    found = sorted(directory.glob("direct.jsonl")) + sorted(directory.glob("code.jsonl"))
    found += sorted(directory.glob("*/direct.jsonl")) + sorted(directory.glob("*/code.jsonl"))
    return sorted(set(found))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    paths = [p for arg in argv for p in logs_in(Path(arg))]
    if not paths:
        print(f"error: no direct.jsonl or code.jsonl under {', '.join(argv)}", file=sys.stderr)
        return 2
    ok = True
    print(
        "tokens: o200k_base (bpe-openai) over system + tools + messages as compact JSON, plus the tool-use prompt"
    )
    for r in (recount(p) for p in paths):
        ok &= r.agrees
        print(
            f"{r.path}: {len(r.per_request)} requests, {r.billed_input:,} billed input tokens "
            f"({r.tool_use_prompt:,} of them the tool-use prompt), {r.output_tokens:,} output tokens; "
            f"per request {' / '.join(f'{n:,}' for n in r.per_request)}; "
            + (
                "matches the logged usage"
                if r.agrees
                else f"DIFFERS from the logged usage {list(r.reported)}"
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
