"""Tool-list snapshots: `.cfmigrate/manifests/<server>.json`, the lock file `generate` builds from.

A snapshot holds one server's `tools/list` result as `audit --connect` saw it (format and schema id in
`cfmigrate.analyzers.model`). Writing is atomic and deterministic, so refreshing an unchanged server is
a byte-for-byte no-op and a changed one shows up as a reviewable diff.

File names: a server name made only of ASCII letters, digits, `.`, `_` and `-` (not starting with `.`,
lower case, at most 80 characters, not a Windows device name) is used as is. Any other name is
sanitised (other characters become `_`) and gets `-<first 8 hex digits of sha256(name)>` appended,
so two different names never share a file, even on a case-insensitive file system. The file's own
`"server"` field, not its file name, says which server it belongs to.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfmigrate.analyzers.model import (
    SNAPSHOT_DIR,
    SNAPSHOT_SCHEMA,
    Manifest,
    Problem,
    SourceRef,
    ToolDef,
    manifest_hash,
)

__all__ = [
    "read_snapshot",
    "read_snapshots",
    "render_snapshot",
    "snapshot_file_name",
    "snapshot_path",
    "write_snapshot",
]

_SAFE = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,79}")
_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9._-]")
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)


def snapshot_file_name(server: str) -> str:
    """The file name (with `.json`) that holds `server`'s snapshot; see the module docstring for the rule."""
    if _SAFE.fullmatch(server) and server.split(".")[0] not in _WINDOWS_DEVICES:
        return f"{server}.json"
    stem = _UNSAFE_CHAR.sub("_", server).lstrip(".")[:80] or "server"
    digest = hashlib.sha256(server.encode()).hexdigest()[:8]
    return f"{stem}-{digest}.json"


def snapshot_path(root: Path, server: str) -> Path:
    """Where the snapshot of `server` lives under the repository `root`."""
    return Path(root) / SNAPSHOT_DIR / snapshot_file_name(server)


def render_snapshot(manifest: Manifest) -> bytes:
    """The exact bytes of `manifest`'s snapshot: sorted keys, two-space indent, tools by name, newline."""
    tools = sorted((t.to_wire() for t in manifest.tools), key=lambda t: str(t["name"]))
    doc = {
        "schema": SNAPSHOT_SCHEMA,
        "server": manifest.server,
        "serverInfo": {"name": manifest.server_name, "version": manifest.server_version},
        "protocolVersion": manifest.protocol_version,
        "sha256": manifest_hash(manifest.tools),
        "tools": tools,
    }
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_snapshot(root: Path, manifest: Manifest) -> bool:
    """Write `manifest`'s snapshot atomically; return False when the file already held these exact bytes."""
    path = snapshot_path(root, manifest.server)
    data = render_snapshot(manifest)
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def _error(rel: str, message: str, line: int | None = None) -> tuple[None, list[Problem]]:
    hint = "re-create it with `cfmigrate audit --connect` (or delete it and list the server again)"
    return None, [Problem("error", f"snapshot {rel}: {message}", SourceRef(rel, line), hint)]


def _tool(raw: Any, index: int) -> ToolDef | str:
    """A ToolDef from one wire tool entry, or a message saying what is wrong with it."""
    if not isinstance(raw, Mapping):
        return f"tools[{index}] is not an object"
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        return f"tools[{index}] has no string 'name'"
    schema = raw.get("inputSchema")
    if not isinstance(schema, Mapping):
        return f"tool {name!r} has no object 'inputSchema'"
    output = raw.get("outputSchema")
    if output is not None and not isinstance(output, Mapping):
        return f"tool {name!r}: 'outputSchema' is not an object"
    annotations = raw.get("annotations")
    if annotations is not None and not isinstance(annotations, Mapping):
        return f"tool {name!r}: 'annotations' is not an object"
    description = raw.get("description")
    title = raw.get("title")
    return ToolDef(
        name=name,
        description=description if isinstance(description, str) else "",
        input_schema=dict(schema),
        output_schema=dict(output) if output is not None else None,
        title=title if isinstance(title, str) else None,
        annotations=dict(annotations) if annotations is not None else None,
    )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def read_snapshot(path: Path, rel: str) -> tuple[Manifest | None, list[Problem]]:
    """Load one snapshot file (`rel` is its repository-relative POSIX path, used in messages)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return _error(rel, f"is not UTF-8 ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        return _error(rel, f"cannot be read ({exc.strerror or exc})")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return _error(rel, f"is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})", exc.lineno)
    if not isinstance(doc, dict):
        return _error(rel, "is not a JSON object")
    if doc.get("schema") != SNAPSHOT_SCHEMA:
        return _error(rel, f"has schema {doc.get('schema')!r}, expected {SNAPSHOT_SCHEMA!r}")
    server = doc.get("server")
    if not isinstance(server, str) or not server:
        return _error(rel, "has no string 'server'")
    raw_tools = doc.get("tools")
    if not isinstance(raw_tools, list):
        return _error(rel, "has no 'tools' list")
    problems: list[Problem] = []
    tools: list[ToolDef] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_tools):
        tool = _tool(raw, index)
        if isinstance(tool, str):
            return _error(rel, tool)
        if tool.name in seen:
            problems.append(
                Problem(
                    "warning",
                    f"snapshot {rel}: tool {tool.name!r} is listed twice; the first is used",
                    SourceRef(rel),
                )
            )
            continue
        seen.add(tool.name)
        tools.append(tool)
    info = doc.get("serverInfo")
    info = info if isinstance(info, dict) else {}
    stamped = doc.get("sha256")
    if stamped != manifest_hash(tools):
        problems.append(
            Problem(
                "warning",
                f"snapshot {rel}: its sha256 does not match its tools (edited by hand or merged?); the tools are used",
                SourceRef(rel),
                "refresh it with `cfmigrate audit --connect` to re-stamp it",
            )
        )
    manifest = Manifest(
        server=server,
        tools=tuple(tools),
        origin="snapshot",
        source=SourceRef(rel),
        server_name=_optional_str(info.get("name")),
        server_version=_optional_str(info.get("version")),
        protocol_version=_optional_str(doc.get("protocolVersion")),
    )
    return manifest, problems


def read_snapshots(root: Path) -> tuple[dict[str, Manifest], list[Problem]]:
    """Load every `*.json` snapshot under `root/.cfmigrate/manifests`, keyed by server name."""
    folder = Path(root) / SNAPSHOT_DIR
    if not folder.is_dir():
        return {}, []
    found: dict[str, Manifest] = {}
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.json")):
        rel = f"{SNAPSHOT_DIR}/{path.name}"
        manifest, found_problems = read_snapshot(path, rel)
        problems.extend(found_problems)
        if manifest is None:
            continue
        if manifest.server in found:
            kept = found[manifest.server]
            if path.name == snapshot_file_name(manifest.server):
                kept, manifest = manifest, kept
                found[manifest.server] = kept
            problems.append(
                Problem(
                    "warning",
                    f"snapshot {manifest.source} is also for server {manifest.server!r}; {kept.source} is used",
                    manifest.source,
                    "delete the stale copy",
                )
            )
            continue
        found[manifest.server] = manifest
    return found, problems
