"""tools/list dumps on disk: every accepted shape loads, anything else is ignored or reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cfmigrate.analyzers.manifests import (
    catalog,
    is_manifest_candidate,
    load_manifest_file,
    parse_manifest_data,
)
from cfmigrate.analyzers.model import SNAPSHOT_SCHEMA, Manifest, manifest_hash

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "manifests"
ZOO = ROOT / "fixtures" / "config-zoo"


def catalog_tools(package: str) -> list[dict[str, Any]]:
    found = next(m for m in catalog() if m.package == package)
    return [t.to_wire() for t in found.tools]


def load(path: Path, rel: str | None = None) -> tuple[Manifest | None, list[Any]]:
    return load_manifest_file(path, rel or path.name)


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("file", "server", "count"),
    [
        ("mcp-server-time.tools.json", "mcp-server-time", 2),
        ("mcp-server-git.tools.json", "mcp-server-git", 12),
        ("mcp-server-fetch.tools.json", "mcp-server-fetch", 1),
        ("server-filesystem.tools.json", "server-filesystem", 14),
        ("server-everything.tools.json", "server-everything", 13),
        ("server-memory.tools.json", "server-memory", 9),
        ("server-github.tools.json", "server-github", 26),
        ("server-slack.tools.json", "server-slack", 8),
        ("playwright-mcp.tools.json", "playwright-mcp", 25),
    ],
)
def test_fixture_manifests_load(file: str, server: str, count: int) -> None:
    manifest, problems = load(FIXTURES / file, f"fixtures/manifests/{file}")
    assert problems == []
    assert manifest is not None
    assert (manifest.server, len(manifest.tools), manifest.origin) == (server, count, "manifest-file")
    assert manifest.source is not None and manifest.source.path == f"fixtures/manifests/{file}"
    # ToolDef keeps the wire shape: rendering it back gives the dump minus fields ToolDef does not model
    raw = json.loads((FIXTURES / file).read_text(encoding="utf-8"))["tools"]
    for tool, wire in zip(manifest.tools, raw, strict=True):
        assert tool.to_wire() == {k: v for k, v in wire.items() if k not in ("execution", "_meta", "icons")}


def test_json_rpc_response() -> None:
    manifest, problems = load(ZOO / "manifests/time.json", "manifests/time.json")
    assert problems == [] and manifest is not None
    assert manifest.server == "time"
    assert [t.to_wire() for t in manifest.tools] == catalog_tools("mcp-server-time")


def test_paged_dump_is_merged_in_order() -> None:
    manifest, problems = load(ZOO / "manifests/shop-repo.json", "manifests/shop-repo.json")
    assert problems == [] and manifest is not None
    assert manifest.server == "shop-repo"
    assert len(manifest.tools) == 12
    assert [t.to_wire() for t in manifest.tools] == catalog_tools("mcp-server-git")


def test_sdk_snake_case_dump() -> None:
    manifest, problems = load(ZOO / "manifests/memory.tools.json", "manifests/memory.tools.json")
    assert problems == [] and manifest is not None
    assert manifest.server == "memory"
    catalog_memory = next(m for m in catalog() if m.package == "@modelcontextprotocol/server-memory")
    assert manifest.sha256 == catalog_memory.sha256  # same tools, annotations back in camelCase
    assert manifest.tools[0].annotations == {
        "readOnlyHint": False,
        "destructiveHint": False,
        "idempotentHint": False,
        "openWorldHint": False,
    }


def test_paged_json_rpc_responses_with_server_info(tmp_path: Path) -> None:
    tools = catalog_tools("mcp-server-git")
    pages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "result": {
                "protocolVersion": "2025-11-25",
                "serverInfo": {"name": "mcp-git", "version": "2026.10.19"},
                "capabilities": {},
            },
        },
        {"jsonrpc": "2.0", "id": 2, "result": {"tools": tools[:5], "nextCursor": "c1"}},
        {"jsonrpc": "2.0", "id": 3, "result": {"tools": tools[5:]}},
    ]
    manifest, problems = load(write(tmp_path, "git-session.json", pages))
    assert problems == [] and manifest is not None
    assert (manifest.server, manifest.server_name, manifest.server_version, manifest.protocol_version) == (
        "mcp-git",
        "mcp-git",
        "2026.10.19",
        "2025-11-25",
    )
    assert [t.name for t in manifest.tools] == [t["name"] for t in tools]


def test_server_info_and_protocol_are_kept(tmp_path: Path) -> None:
    data = {
        "serverInfo": {"name": "mcp-time", "version": "2026.10.19"},
        "protocolVersion": "2025-11-25",
        "tools": catalog_tools("mcp-server-time"),
    }
    manifest, problems = load(write(tmp_path, "whatever.tools.json", data))
    assert problems == [] and manifest is not None
    assert (manifest.server, manifest.server_version, manifest.protocol_version) == (
        "mcp-time",
        "2026.10.19",
        "2025-11-25",
    )


def test_bare_list_and_snapshot(tmp_path: Path) -> None:
    manifest, _ = load(write(tmp_path, "time.tools.json", catalog_tools("mcp-server-time")))
    assert manifest is not None and manifest.server == "time" and len(manifest.tools) == 2
    snapshot = {
        "schema": SNAPSHOT_SCHEMA,
        "server": "clock",
        "serverInfo": {"name": "mcp-time", "version": "1"},
        "tools": catalog_tools("mcp-server-time"),
    }
    manifest, _ = load(write(tmp_path, "clock.json", snapshot))
    assert manifest is not None and (manifest.server, manifest.origin) == ("clock", "snapshot")


def test_empty_tools_list_is_a_manifest(tmp_path: Path) -> None:
    manifest, problems = load(write(tmp_path, "quiet.tools.json", {"tools": []}))
    assert problems == [] and manifest is not None and manifest.tools == ()


def test_not_a_tools_list_fixture() -> None:
    rel = "broken/not-a-manifest.tools.json"
    manifest, problems = load(ZOO / rel, rel)
    assert manifest is None
    assert [(p.level, p.source.path, p.source.line) for p in problems] == [("error", rel, 1)]  # type: ignore[union-attr]
    assert "tools[0]" in problems[0].message and problems[0].hint


def test_other_json_is_ignored(tmp_path: Path) -> None:
    assert load(ZOO / "package.json") == (None, [])
    assert load(write(tmp_path, "schema.json", {"type": "object", "properties": {}})) == (None, [])
    assert load(
        write(tmp_path, "openai-functions.json", [{"type": "function", "function": {"name": "x"}}])
    ) == (None, [])
    bad = tmp_path / "data.json"
    bad.write_text("{not json", encoding="utf-8")
    assert load(bad) == (None, [])


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("x.tools.json", {"server": "x"}, "holds no tools list"),
        ("x.tools.json", {"tools": "see README"}, "is a str, not a list"),
        (
            "x.tools.json",
            {"jsonrpc": "2.0", "id": 2, "error": {"code": -32601, "message": "Method not found"}},
            "JSON-RPC error",
        ),
        ("x.tools.json", {"tools": [{"description": "no name", "inputSchema": {}}]}, "has no tool name"),
        (
            "x.tools.json",
            {"tools": [{"name": "a", "inputSchema": "object"}]},
            "inputSchema is not a JSON object",
        ),
    ],
)
def test_broken_dumps_are_reported(tmp_path: Path, name: str, data: Any, words: str) -> None:
    manifest, problems = load(write(tmp_path, name, data))
    assert any(p.level == "error" and words in p.message for p in problems), problems
    if manifest is not None:
        assert manifest.tools == ()


def test_malformed_json_manifest_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "git.tools.json"
    path.write_text(
        '{\n  "tools": [\n    {"name": "a", "inputSchema": {}}\n    {"name": "b"}\n  ]\n}\n', encoding="utf-8"
    )
    manifest, problems = load(path)
    assert manifest is None
    assert [(p.level, p.source.line) for p in problems] == [("error", 4)]  # type: ignore[union-attr]


def test_warnings_for_incomplete_or_repeated_tools(tmp_path: Path) -> None:
    tools = catalog_tools("mcp-server-time")
    manifest, problems = load(write(tmp_path, "t.tools.json", [{"tools": tools, "nextCursor": "more"}]))
    assert manifest is not None and len(manifest.tools) == 2
    assert [p.level for p in problems] == ["warning"] and "incomplete" in problems[0].message

    manifest, problems = load(write(tmp_path, "u.tools.json", {"tools": tools + tools[:1]}))
    assert manifest is not None and len(manifest.tools) == 2
    assert [p.level for p in problems] == ["warning"] and "listed twice" in problems[0].message

    manifest, problems = load(write(tmp_path, "v.tools.json", {"tools": [{"name": "ping"}]}))
    assert manifest is not None and manifest.tools[0].input_schema == {"type": "object"}
    assert [p.level for p in problems] == ["warning"]


def test_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "b.tools.json"
    binary.write_bytes(b"\x00\xff\x00")
    assert [p.level for p in load(binary)[1]] == ["warning"]
    latin = tmp_path / "l.tools.json"
    latin.write_bytes(b'{"tools": [{"name": "caf\xe9"}]}')
    manifest, problems = load(latin)
    assert manifest is None and "not UTF-8" in problems[0].message
    huge = tmp_path / "h.tools.json"
    huge.write_bytes(b'{"tools": [], "pad": "' + b"x" * (5 * 1024 * 1024 + 1) + b'"}')
    manifest, problems = load(huge)
    assert manifest is None and "MB" in problems[0].message


@pytest.mark.parametrize(
    ("rel", "head", "expected"),
    [
        ("fixtures/manifests/server-github.tools.json", b"{}", True),
        ("dumps/tools.json", b"[]", True),
        ("dumps/github.json", b'{"tools": [{"name": "x", "inputSchema": {}}]}', True),
        ("dumps/memory.json", b'[{"name": "x", "input_schema": {}}]', True),
        ("dumps/github-manifest.json", b'{"tools": [{"name": "x", "description": "' + b"y" * 5000, True),
        ("package.json", b'{"name": "x", "dependencies": {}}', False),
        ("src/tools.py", b'"inputSchema"', False),
        ("data/users.json", b'[{"name": "ann"}]', False),
    ],
)
def test_manifest_candidates(rel: str, head: bytes, expected: bool) -> None:
    assert is_manifest_candidate(rel, head[:4096]) is expected


def test_parse_manifest_data_accepts_decoded_json() -> None:
    manifest, problems = parse_manifest_data(
        {"tools": catalog_tools("mcp-server-time")}, "live/time.tools.json"
    )
    assert problems == [] and manifest is not None
    assert manifest.sha256 == manifest_hash(
        next(m for m in catalog() if m.package == "mcp-server-time").tools
    )
