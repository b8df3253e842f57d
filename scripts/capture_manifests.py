"""Refresh fixtures/manifests/ (and optionally the bundled catalog) from the live MCP servers.

Each installed server is started over stdio, every `tools/list` page is read with the `mcp` 2.x
client (initialize handshake, as the catalog was captured), and the tools are written exactly as
they arrived on the wire: `{"tools": [...]}`, two-space indent, trailing newline. Servers that are
not installed here are skipped with the command that installs them.

    python scripts/capture_manifests.py                 # refresh fixtures/manifests/
    python scripts/capture_manifests.py --check         # compare only; exit 1 when a dump differs
    python scripts/capture_manifests.py --catalog       # also refresh analyzers/catalog/ + index.json
    python scripts/capture_manifests.py --only mcp-server-git --only server-memory

Exit codes: 0 done (skips included), 1 `--check` found a difference, 2 a server failed to list.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.message import SessionMessage

from cfmigrate.analyzers.files import atomic_write_text
from cfmigrate.analyzers.manifests import CATALOG_SCHEMA, CatalogEntry, catalog_entries

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "manifests"
CATALOG = REPO / "analyzers" / "catalog"
NPM_DIR = REPO / ".ci" / "npm-servers"
NPM_BIN = NPM_DIR / "node_modules" / ".bin"
MAX_PAGES = 100


@dataclass(frozen=True)
class Target:
    """How to start one catalog server so that it lists its tools without real credentials."""

    file: str
    executable: str
    args: tuple[str, ...] = ()  # "{tmp}" and "{repo}" are replaced by scratch directories
    env: Mapping[str, str] = field(default_factory=dict)


TARGETS: tuple[Target, ...] = (
    # The time server writes the machine's zone into a description; pin it so captures are stable.
    Target("mcp-server-time.tools.json", "mcp-server-time", env={"TZ": "UTC"}),
    Target("mcp-server-git.tools.json", "mcp-server-git", ("--repository", "{repo}")),
    Target("mcp-server-fetch.tools.json", "mcp-server-fetch"),
    Target("server-filesystem.tools.json", "mcp-server-filesystem", ("{tmp}",)),
    Target("server-everything.tools.json", "mcp-server-everything", ("stdio",)),
    Target("server-memory.tools.json", "mcp-server-memory", env={"MEMORY_FILE_PATH": "{tmp}/memory.jsonl"}),
    # Placeholders: these servers check that the variables exist, not that they are valid, to list tools.
    Target(
        "server-github.tools.json", "mcp-server-github", env={"GITHUB_PERSONAL_ACCESS_TOKEN": "placeholder"}
    ),
    Target(
        "server-slack.tools.json",
        "mcp-server-slack",
        env={"SLACK_BOT_TOKEN": "placeholder", "SLACK_TEAM_ID": "T00000000"},
    ),
    Target("playwright-mcp.tools.json", "playwright-mcp", ("--headless",)),
)


@dataclass(frozen=True)
class Capture:
    """What one live server returned."""

    tools: list[Any]
    pages: int
    server_name: str | None
    server_version: str | None
    protocol_version: str
    seconds: float


Status = Literal["unchanged", "updated", "differs", "new", "skipped", "failed"]


def wire_json(tools: Sequence[Any]) -> str:
    """The on-disk form of a dump: the wire objects as received, two-space indent, trailing newline."""
    return json.dumps({"tools": list(tools)}, indent=2, ensure_ascii=False) + "\n"


def index_json(entries: Sequence[CatalogEntry], note: str) -> str:
    """analyzers/catalog/index.json for these entries."""
    manifests = [
        {
            "file": e.file,
            "package": e.package,
            "registry": e.registry,
            "version": e.version,
            "server_name": e.server_name,
            "server_version": e.server_version,
            "protocol_version": e.protocol_version,
            "tool_count": e.tool_count,
            "bins": list(e.bins),
            "modules": list(e.modules),
            "images": list(e.images),
        }
        for e in entries
    ]
    return json.dumps({"schema": CATALOG_SCHEMA, "source": note, "manifests": manifests}, indent=2) + "\n"


INDEX_NOTE = (
    "tools/list of each package captured over stdio with the mcp 2.3.0 Python client (protocol "
    "negotiated with the initialize handshake); refresh with scripts/capture_manifests.py --catalog"
)


def executable_for(target: Target, entry: CatalogEntry) -> tuple[str | None, str]:
    """The installed server program, or None and how to install it."""
    if entry.registry == "pypi":
        beside = Path(sys.executable).parent / target.executable
        found = str(beside) if beside.exists() else shutil.which(target.executable)
        return found, f"pip install {entry.package}=={entry.version}"
    path = NPM_BIN / target.executable
    hint = (
        f'add "{entry.package}": "{entry.version}" to .ci/npm-servers/package.json, '
        "then run npm install --prefix .ci/npm-servers"
    )
    return (str(path) if path.exists() else None), hint


def installed_version(entry: CatalogEntry) -> str | None:
    """The installed package's version, read from its metadata."""
    if entry.registry == "pypi":
        try:
            return metadata.version(entry.package)
        except metadata.PackageNotFoundError:
            return None
    manifest = NPM_DIR / "node_modules" / entry.package / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, json.JSONDecodeError):
        return None
    return version if isinstance(version, str) else None


@asynccontextmanager
async def recording(
    params: StdioServerParameters, errlog: Any, sink: list[dict[str, Any]]
) -> AsyncIterator[Any]:
    """A stdio transport that also keeps every raw JSON-RPC result, so key order stays as sent."""
    async with stdio_client(params, errlog=errlog) as (read, write):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            async with send:
                async for message in read:
                    if isinstance(message, SessionMessage):
                        result = getattr(message.message, "result", None)
                        if isinstance(result, dict):
                            sink.append(result)
                    await send.send(message)

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                yield receive, write
            finally:
                tg.cancel_scope.cancel()


async def capture(
    command: str, args: Sequence[str], env: Mapping[str, str], timeout: float, errlog: Any
) -> Capture:
    """Start one server, list every page of tools, and return them as received."""
    raw: list[dict[str, Any]] = []
    params = StdioServerParameters(command=command, args=list(args), env=dict(env))
    started = time.perf_counter()
    with anyio.fail_after(timeout):
        async with Client(recording(params, errlog, raw), mode="legacy", cache=None) as client:
            tools: list[Any] = []
            cursor: str | None = None
            pages = 0
            while True:
                before = len(raw)
                page = await client.list_tools(cursor=cursor)
                pages += 1
                wire = next((r for r in reversed(raw[before:]) if "tools" in r), None)
                if wire is None:
                    raise RuntimeError("tools/list returned no raw result")
                tools.extend(wire["tools"])
                cursor = page.next_cursor
                if not cursor:
                    break
                if pages >= MAX_PAGES:
                    raise RuntimeError(f"more than {MAX_PAGES} pages; is the cursor stuck?")
            info = client.server_info
            return Capture(
                tools=tools,
                pages=pages,
                server_name=info.name if info else None,
                server_version=info.version if info else None,
                protocol_version=client.protocol_version,
                seconds=time.perf_counter() - started,
            )


def _substitute(value: str, scratch: Mapping[str, str]) -> str:
    for key, path in scratch.items():
        value = value.replace("{" + key + "}", path)
    return value


def compare_write(path: Path, text: str, *, check: bool) -> Status:
    """Write `text` to `path` atomically unless it is already there; in check mode only compare."""
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text:
        return "unchanged"
    if check:
        return "differs" if old is not None else "new"
    atomic_write_text(path, text)
    return "updated" if old is not None else "new"


def tool_diff(old_text: str | None, new_tools: Sequence[Any]) -> str:
    """A one-line summary of how a dump changed: tools added, removed, changed."""
    if old_text is None:
        return f"{len(new_tools)} tools (new file)"
    try:
        old = {t["name"]: t for t in json.loads(old_text)["tools"]}
    except (json.JSONDecodeError, KeyError, TypeError):
        return "the old file is not a tools dump"
    new = {t["name"]: t for t in new_tools}
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(n for n in set(old) & set(new) if old[n] != new[n])
    parts = []
    if added:
        parts.append(f"added {', '.join(added)}")
    if removed:
        parts.append(f"removed {', '.join(removed)}")
    if changed:
        parts.append(f"changed {', '.join(changed)}")
    return "; ".join(parts) or "same tools, different key order or formatting"


async def run(only: Sequence[str], out: Path, check: bool, update_catalog: bool, timeout: float) -> int:
    """Capture every selected target; returns the exit code."""
    entries = {e.file: e for e in catalog_entries()}
    unknown = [o for o in only if not any(t.file.startswith(o) for t in TARGETS)]
    if unknown:
        print(
            f"error: unknown server {', '.join(unknown)}; choose from {', '.join(t.file for t in TARGETS)}",
            file=sys.stderr,
        )
        return 2
    targets = [t for t in TARGETS if not only or any(t.file.startswith(o) for o in only)]
    code = 0
    new_entries = dict(entries)
    for target in targets:
        entry = entries[target.file]
        command, install = executable_for(target, entry)
        if command is None:
            print(f"skip     {target.file}: {target.executable} is not installed here ({install})")
            continue
        with (
            tempfile.TemporaryDirectory(prefix="cfm-capture-") as tmp,
            tempfile.TemporaryFile("w+") as errlog,
        ):
            repo = Path(tmp) / "repo"
            repo.mkdir()
            subprocess.run(["git", "init", "-q", str(repo)], check=True)
            scratch = {"tmp": tmp, "repo": str(repo)}
            args = [_substitute(a, scratch) for a in target.args]
            env = {k: _substitute(v, scratch) for k, v in target.env.items()}
            try:
                got = await capture(command, args, env, timeout, errlog)
            except Exception as exc:  # report and go on with the next server
                errlog.seek(0)
                tail = " | ".join(errlog.read().strip().splitlines()[-3:])
                print(
                    f"failed   {target.file}: {type(exc).__name__}: {exc} {('(stderr: ' + tail + ')') if tail else ''}"
                )
                code = 2
                continue
        text = wire_json(got.tools)
        dest = out / target.file
        old_text = dest.read_text(encoding="utf-8") if dest.exists() else None
        status = compare_write(dest, text, check=check)
        version = installed_version(entry)
        print(
            f"{status:<8} {target.file}: {len(got.tools)} tools on {got.pages} page(s), "
            f"{got.server_name} {got.server_version}, protocol {got.protocol_version}, "
            f"{entry.package} {version or '?'}, {got.seconds:.2f} s"
        )
        if status in ("differs", "updated"):
            print(f"         {tool_diff(old_text, got.tools)}")
            if check:
                code = max(code, 1)
        facts = {
            "server_name": (entry.server_name, got.server_name),
            "server_version": (entry.server_version, got.server_version),
            "protocol_version": (entry.protocol_version, got.protocol_version),
            "version": (entry.version, version),
            "tool_count": (entry.tool_count, len(got.tools)),
        }
        for key, (known, live) in facts.items():
            if live is not None and known != live:
                print(f"         catalog index says {key}={known!r}, the live server says {live!r}")
        if update_catalog:
            catalog_status = compare_write(CATALOG / target.file, text, check=check)
            if catalog_status not in ("unchanged",):
                print(f"         catalog copy: {catalog_status}")
            new_entries[target.file] = CatalogEntry(
                file=entry.file,
                package=entry.package,
                registry=entry.registry,
                version=version or entry.version,
                server_name=got.server_name or entry.server_name,
                server_version=got.server_version or entry.server_version,
                protocol_version=got.protocol_version,
                tool_count=len(got.tools),
                bins=entry.bins,
                modules=entry.modules,
                images=entry.images,
            )
    if update_catalog:
        ordered = [new_entries[e.file] for e in catalog_entries()]
        status = compare_write(CATALOG / "index.json", index_json(ordered, INDEX_NOTE), check=check)
        print(f"{status:<8} analyzers/catalog/index.json")
        if check and status != "unchanged":
            code = max(code, 1)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options and capture."""
    parser = argparse.ArgumentParser(description="Refresh fixtures/manifests/ from the live MCP servers.")
    parser.add_argument(
        "--out", type=Path, default=FIXTURES, help="folder for the dumps (default: fixtures/manifests)"
    )
    parser.add_argument(
        "--catalog", action="store_true", help="also refresh analyzers/catalog/ and its index.json"
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="a file name prefix, repeatable"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the files on disk, write nothing; exit 1 on a difference",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per server (default 60)")
    opts = parser.parse_args(argv)
    if not opts.out.is_dir():
        print(f"error: {opts.out} is not a folder", file=sys.stderr)
        return 2
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return anyio.run(run, opts.only, opts.out, opts.check, opts.catalog, opts.timeout)


if __name__ == "__main__":
    sys.exit(main())
