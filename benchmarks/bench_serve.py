"""`cfmigrate serve`: the gateway's tools/list against the estate's full tools/list, in tokens, per fixture.

    python benchmarks/bench_serve.py

For each fixture (the seed scenario, the records scenario, the small toolset, and a nine-server estate built from
the real manifests in fixtures/manifests, Playwright among them) on a private copy: the servers' tools are listed
live (`cfmigrate generate --refresh`; the nine-server estate uses the recorded manifests as snapshots), the
package is generated, and then:

* estate: every served server's tools as one tools/list result (MCP wire JSON, compact), and as the Anthropic API
  receives them in `tools=[...]` plus Anthropic's documented tool-use prompt for claude-sonnet-4-6 (346 tokens,
  `cfmigrate.analyzers.pricing`): what a client that loads every server sends on every request;
* gateway: `cfmigrate serve`'s tools/list on the same two bases, and its `instructions` (the code-first prompt
  a client adds to the model's context), counted separately;
* discovery: what reading every server's index through `list_tools` once costs (a task usually reads
  one or two, or searches);
* the live check: a real gateway process is started (stdio) and its tools/list must be byte-identical to the
  computed one.

Tokenizer: o200k_base (an offline estimate, not Claude's tokenizer).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfmigrate.analyzers.discover import discover
from cfmigrate.analyzers.manifests import load_manifest_file
from cfmigrate.analyzers.model import Manifest, ToolDef
from cfmigrate.analyzers.pricing import tool_use_overhead
from cfmigrate.analyzers.snapshots import write_snapshot
from cfmigrate.analyzers.tokens import BpeTokenizer, compact, render_tool
from cfmigrate.migrate.serve import gateway_estate, gateway_tools
from cfmigrate.runtime.gateway import gateway_instructions, package_docstring, package_servers, tool_list_text

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = BpeTokenizer("o200k_base")
MODEL = "claude-sonnet-4-6"

# the nine recorded manifests, as a repository would declare their servers
NINE = {
    "fetch": ("mcp-server-fetch.tools.json", ["uvx", "mcp-server-fetch"]),
    "git": ("mcp-server-git.tools.json", ["uvx", "mcp-server-git"]),
    "time": ("mcp-server-time.tools.json", ["uvx", "mcp-server-time"]),
    "playwright": ("playwright-mcp.tools.json", ["npx", "-y", "@playwright/mcp@latest"]),
    "everything": ("server-everything.tools.json", ["npx", "-y", "@modelcontextprotocol/server-everything"]),
    "filesystem": (
        "server-filesystem.tools.json",
        ["npx", "-y", "@modelcontextprotocol/server-filesystem", "."],
    ),
    "github": ("server-github.tools.json", ["npx", "-y", "@modelcontextprotocol/server-github"]),
    "memory": ("server-memory.tools.json", ["npx", "-y", "@modelcontextprotocol/server-memory"]),
    "slack": ("server-slack.tools.json", ["npx", "-y", "@modelcontextprotocol/server-slack"]),
}


@dataclass(frozen=True)
class Row:
    fixture: str
    servers: int
    tools: int
    estate_wire: int
    estate_request: int
    gateway_tools: int
    kept: int
    gateway_wire: int
    gateway_request: int
    instructions: int
    indexes: int
    live_identical: bool


def _wire_tool(tool: ToolDef) -> Any:
    from mcp.types import Tool

    return Tool.model_validate(tool.to_wire())


def _anthropic_tokens(tools: list[dict[str, Any]]) -> int:
    overhead = tool_use_overhead(MODEL, "anthropic").tokens or 0
    return TOKENIZER.count(compact(tools)) + overhead


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cfmigrate.migrate.cli", *args]


def prepare_fixture(name: str, work: Path) -> Path:
    root = work / name
    shutil.copytree(REPO / "fixtures" / name, root)
    # the fixtures' configs launch `python`: this interpreter's, as in an activated venv
    env = dict(
        os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    for var in ("DRIVE", "CRM", "SLACK", "HELPDESK", "CHAT", "WEATHER"):
        env[f"{var}_DATA"] = str(work / f"{name}-{var.lower()}.json")
    _run(_cli("generate", "--refresh", "--root", str(root)), env)
    return root


def prepare_nine(work: Path) -> Path:
    root = work / "nine-servers"
    root.mkdir()
    config = {"mcpServers": {name: {"command": cmd[0], "args": cmd[1:]} for name, (_, cmd) in NINE.items()}}
    (root / ".mcp.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    for name, (file, _) in NINE.items():
        path = REPO / "fixtures" / "manifests" / file
        manifest, _problems = load_manifest_file(path, file)
        assert manifest is not None, path
        write_snapshot(root, Manifest(server=name, tools=manifest.tools, origin="snapshot"))
    _run(_cli("generate", "--root", str(root)))
    return root


async def live_tools_text(root: Path) -> str:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=[*_cli("serve", str(root))[1:]])
    with open(os.devnull, "w") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            return tool_list_text((await client.list_tools()).tools)


def measure(label: str, root: Path) -> Row:
    estate = gateway_estate(root)
    inventory = discover(root)
    served = {s.name for s in estate.served}
    manifests = [m for m in inventory.manifests if m.server in served]
    full = [t for m in sorted(manifests, key=lambda m: m.server) for t in m.tools]
    gateway = gateway_tools(root)
    gateway_defs = [
        {"name": t.name, "description": t.description or "", "input_schema": t.input_schema} for t in gateway
    ]
    computed = tool_list_text(gateway)
    live = asyncio.run(live_tools_text(root))
    return Row(
        fixture=label,
        servers=len(manifests),
        tools=len(full),
        estate_wire=TOKENIZER.count(tool_list_text([_wire_tool(t) for t in full])),
        estate_request=_anthropic_tokens([render_tool(t, "anthropic") for t in full]),
        gateway_tools=len(gateway),
        kept=len(estate.kept),
        gateway_wire=TOKENIZER.count(computed),
        gateway_request=_anthropic_tokens(gateway_defs),
        instructions=TOKENIZER.count(gateway_instructions(estate.spec())),
        indexes=sum(
            TOKENIZER.count(package_docstring(estate.servers_dir / server / "__init__.py"))
            for server in package_servers(estate.servers_dir)
        ),
        live_identical=live == computed,
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        work = Path(tmp)
        rows = [
            measure("seed-scenario", prepare_fixture("seed-scenario", work)),
            measure("records-scenario", prepare_fixture("records-scenario", work)),
            measure("small-toolset", prepare_fixture("small-toolset", work)),
            measure("nine real servers (fixtures/manifests)", prepare_nine(work)),
        ]
    print(
        f"tokenizer: {TOKENIZER.label}; per request = tools as Anthropic receives them + {MODEL}'s documented"
    )
    print(
        f"tool-use prompt ({tool_use_overhead(MODEL, 'anthropic').tokens} tokens); wire = the tools/list result, compact JSON"
    )
    print()
    head = (
        "| fixture | servers | tools | estate tools/list (wire) | estate per request | gateway tools "
        "| gateway tools/list (wire) | gateway per request | + instructions | cut per request (with instructions) "
        "| every server's index (list_tools, read once) | live = computed |"
    )
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for r in rows:
        with_instructions = r.gateway_request + r.instructions
        cut = 100 * (r.estate_request - with_instructions) / r.estate_request
        kept = f" ({r.kept} kept direct)" if r.kept else ""
        print(
            f"| {r.fixture} | {r.servers} | {r.tools} | {r.estate_wire:,} | {r.estate_request:,} "
            f"| {r.gateway_tools}{kept} | {r.gateway_wire:,} | {r.gateway_request:,} | {r.instructions:,} "
            f"| {cut:.1f} % | {r.indexes:,} | {'yes' if r.live_identical else 'NO'} |"
        )


if __name__ == "__main__":
    main()
