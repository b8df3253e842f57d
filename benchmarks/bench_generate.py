"""`cfmigrate generate`: generation time, `--check` time, and the tokens the model reads on code mode.

    python benchmarks/bench_generate.py

Prints, from one run: generation time for the nine real manifests and for synthetic 100- and 500-tool
manifests (target: 100 tools < 3 s); `--check` with nothing changed (stamp fast path, in a fresh process,
and a full re-render); and token figures (estimate, o200k_base) for what the model reads in code mode —
the server list, a server's index, a tool module, `search_tools` answers at each level — against the
full schema set of the same servers as the Anthropic API receives it, with ratios; the module read cost per
tool against its JSON definition (max and median over the nine manifests and the bundled catalog); and one
discovery round for the seed scenario's five tools at each detail level.

    python benchmarks/bench_generate.py --tokens   # only the token figures (no timing runs)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cfmigrate.analyzers.manifests import load_manifest_file
from cfmigrate.analyzers.model import Manifest, ToolDef
from cfmigrate.analyzers.tokens import BpeTokenizer
from cfmigrate.generators.api import GenerateOptions, check, generate
from cfmigrate.generators.build import build_package
from cfmigrate.generators.costs import code_mode_read_costs, search_tokens
from cfmigrate.generators.render import render_package

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = sorted((REPO / "fixtures" / "manifests").glob("*.tools.json"))
CATALOG = REPO / "analyzers" / "catalog"


def real_manifests() -> list[Manifest]:
    out = []
    for path in MANIFESTS:
        manifest, _ = load_manifest_file(path, path.name)
        assert manifest is not None, path
        out.append(manifest)
    return out


def synthetic(count: int) -> Manifest:
    """`count` tools shaped like real ones: strings, numbers, enums, optional flags, nested arrays of objects."""
    tools = []
    for i in range(count):
        props: dict[str, object] = {
            "resourceId": {"type": "string", "description": f"Id of the resource {i}."},
            "limit": {"type": "integer", "default": 20, "description": "At most this many."},
            "mode": {"type": "string", "enum": ["fast", "full", "dry-run"], "default": "fast"},
            "includeArchived": {"type": "boolean", "description": "Also archived items."},
        }
        if i % 3 == 0:
            props["filters"] = {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "op": {"enum": ["eq", "lt", "gt"]},
                        "value": {},
                    },
                    "required": ["field", "op"],
                },
            }
        output = (
            {
                "type": "object",
                "properties": {
                    "items": {"type": "array", "items": {"type": "string"}},
                    "next": {"type": "string"},
                },
            }
            if i % 2 == 0
            else None
        )
        tools.append(
            ToolDef(
                name=f"resource{i}_{['list', 'get', 'update', 'delete'][i % 4]}",
                description=f"Operation {i} on resources. Returns matching items; pages with `next`.",
                input_schema={"type": "object", "properties": props, "required": ["resourceId"]},
                output_schema=output,
                annotations={"readOnlyHint": i % 4 < 2},
            )
        )
    return Manifest(f"synthetic-{count}", tuple(tools), "manifest-file")


def timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def generation_times() -> None:
    print("## Generation time (build IR + datamodel-code-generator + templates + ruff; median of 3)")
    real = real_manifests()
    cases = [
        ("9 real manifests", real),
        ("synthetic 100 tools", [synthetic(100)]),
        ("synthetic 500 tools", [synthetic(500)]),
    ]
    for label, manifests in cases:
        tools = sum(len(m.tools) for m in manifests)
        repeat = 1 if tools > 200 else 3
        seconds = timed(
            lambda ms=manifests: render_package(build_package([(None, m) for m in ms], package="servers")),
            repeat,
        )
        print(
            f"  {label:<22} {tools:>4} tools  {seconds:6.2f} s   {100 * seconds / tools:5.2f} s per 100 tools"
        )
    print()


def check_times() -> None:
    print("## `generate --check` with nothing changed (9 real manifests)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        options = GenerateOptions(root=root, manifest_files=tuple(MANIFESTS), discover=False)
        generate(options)
        fast = timed(lambda: check(options))
        full = timed(lambda: check(options, fast=False))
        args = [
            "--root",
            str(root),
            "--no-discover",
            *(a for m in MANIFESTS for a in ("--manifest", str(m))),
            "--check",
        ]

        def proc(cmd: list[str]) -> None:
            done = subprocess.run(cmd + args, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr

        module = timed(lambda: proc([sys.executable, "-m", "cfmigrate.migrate.cmd_generate"]))
        cli = timed(lambda: proc([str(Path(sys.executable).with_name("cfmigrate")), "generate"]))
    print(f"  stamp fast path, in process          {fast * 1000:7.1f} ms")
    print(f"  full re-render and compare           {full * 1000:7.1f} ms")
    print(f"  fresh process, python -m ...cmd_generate {module * 1000:5.0f} ms (target < 500 ms)")
    print(
        f"  fresh process, cfmigrate generate    {cli * 1000:7.0f} ms (includes importing every CLI command)"
    )
    print()


def token_costs() -> None:
    tokenizer = BpeTokenizer("o200k_base")
    costs = code_mode_read_costs(real_manifests(), tokenizer)
    label = costs.tokenizer
    print(f"## Tokens the model reads on code mode vs the full schema set ({label})")
    print(f"  server list (package docstring): {costs.server_list}")
    head = f"  {'server':<20}{'tools':>6}{'direct':>8}{'index':>7}{'s:name':>8}{'s:line':>8}{'s:full':>8}{'module':>8}{'direct/index':>14}"
    print(head)
    for s in costs.servers:
        module = statistics.mean(t.module for t in s.tools) if s.tools else 0
        print(
            f"  {s.server:<20}{len(s.tools):>6}{s.direct:>8}{s.index:>7}{s.search_name:>8}{s.search_summary:>8}"
            f"{s.search_full:>8}{module:>8.0f}{s.direct / s.index:>13.1f}x"
        )
    tools = [t for s in costs.servers for t in s.tools]
    total_index = sum(s.index for s in costs.servers)
    mean_module = statistics.mean(t.module for t in tools)
    mean_direct = statistics.mean(t.direct for t in tools)
    mean_search_full = statistics.mean(t.search_full for t in tools)
    typical = costs.typical(tools_used=2)
    print()
    print(f"  all nine servers, full schema set (direct tool calling, every request): {costs.direct}")
    print(f"  every index read once: {total_index}  -> {costs.direct / total_index:.1f}x smaller")
    print(
        f"  one tool: module {mean_module:.0f} vs definition {mean_direct:.0f} (mean; the module adds models,"
    )
    print(
        f"            signature and call; search_tools(name, 'full', limit=1) gives {mean_search_full:.0f})"
    )
    print(
        f"  typical code-mode read (server list + one index + two tool modules): {typical}"
        f"  -> {costs.direct / typical:.1f}x smaller, {100 * (1 - typical / costs.direct):.1f} % fewer tokens"
    )


SEED_FIVE = ("search_files", "get_document", "find_lead", "attach_note_to_lead", "post_message")


def module_read_ratios() -> None:
    """Reading one tool's module against the JSON definition it replaces, per tool, over the nine manifests."""
    tokenizer = BpeTokenizer("o200k_base")
    for label, folder in (
        ("fixtures/manifests", REPO / "fixtures" / "manifests"),
        ("bundled catalog", CATALOG),
    ):
        manifests = [
            m for p in sorted(folder.glob("*.tools.json")) if (m := load_manifest_file(p, p.name)[0])
        ]
        costs = code_mode_read_costs(manifests, tokenizer)
        tools = [t for s in costs.servers for t in s.tools]
        print(
            f"## Reading one tool's module vs its JSON definition ({costs.tokenizer}; {label}, {len(tools)} tools)"
        )
        for what, picked, ratio in (
            ("every tool, vs {name, description, input_schema}", tools, lambda t: t.ratio),
            ("tools without an outputSchema, same basis", [t for t in tools if not t.has_output], lambda t: t.ratio),
            ("tools with an outputSchema, vs the definition + output_schema", [t for t in tools if t.has_output],
             lambda t: t.ratio_with_output),
            ("every tool, vs the definition + output_schema when declared", tools, lambda t: t.ratio_with_output),
        ):  # fmt: skip
            ratios = sorted(((ratio(t), t) for t in picked), key=lambda pair: pair[0])
            worst = ratios[-1][1]
            print(
                f"  module/definition ratio, {what}: max {ratios[-1][0]:.2f} ({worst.server} {worst.tool}: "
                f"{worst.module} vs {worst.direct_with_output if ratio(worst) != worst.ratio else worst.direct}), "
                f"median {statistics.median(r for r, _ in ratios):.2f}  (target <= 1.30)"
            )
        github = next(t for t in tools if t.server == "server-github" and t.tool == "create_issue")
        print(f"  server-github create_issue: module {github.module} vs definition {github.direct} tokens")
        print()


def discovery_round() -> None:
    """What one discovery round for the seed task's five tools prints, at each detail level."""
    sys.path.insert(0, str(REPO / "scripts"))
    from regen_golden import render_golden

    tokenizer = BpeTokenizer("o200k_base")
    files = render_golden("seed-scenario")
    print(f"## One discovery round for five tools (seed scenario; {tokenizer.label}, the printed text)")
    for detail in ("summary", "full"):
        count = search_tokens(files, "servers", [(name, detail, 1) for name in SEED_FIVE], tokenizer)
        print(
            f'  search_tools(<tool>, detail="{detail}", limit=1) for {", ".join(SEED_FIVE)}: {count} tokens'
        )
    print()


def main() -> None:
    generation_times()
    check_times()
    token_costs()
    print()
    module_read_ratios()
    discovery_round()


if __name__ == "__main__":
    if "--tokens" in sys.argv[1:]:
        token_costs()
        print()
        module_read_ratios()
        discovery_round()
    else:
        main()
