"""Snapshots: file naming, deterministic atomic writes, and reading them back with clear problems."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cfmigrate.analyzers.model import SNAPSHOT_SCHEMA, Manifest, ToolDef, manifest_hash
from cfmigrate.analyzers.snapshots import (
    read_snapshot,
    read_snapshots,
    render_snapshot,
    snapshot_file_name,
    snapshot_path,
    write_snapshot,
)

REPO = Path(__file__).resolve().parents[1]


def _manifest_file(name: str) -> Path:
    for folder in (REPO / "fixtures" / "manifests", Path("/work/shared/manifests")):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{name} is in neither fixtures/manifests/ nor /work/shared/manifests/")


def _from_wire(server: str, path: Path) -> Manifest:
    tools = []
    for raw in json.loads(path.read_text())["tools"]:
        tools.append(
            ToolDef(
                name=raw["name"],
                description=raw.get("description", ""),
                input_schema=raw["inputSchema"],
                output_schema=raw.get("outputSchema"),
                title=raw.get("title"),
                annotations=raw.get("annotations"),
            )
        )
    return Manifest(
        server, tuple(tools), "live", server_name="x", server_version="1.0", protocol_version="2025-11-25"
    )


def _tool(name: str, description: str = "d") -> ToolDef:
    return ToolDef(name=name, description=description, input_schema={"type": "object", "properties": {}})


def test_plain_names_are_kept_and_others_get_a_hash_suffix() -> None:
    assert snapshot_file_name("github") == "github.json"
    assert snapshot_file_name("mcp-server-git") == "mcp-server-git.json"
    assert snapshot_file_name("time_2.0") == "time_2.0.json"
    for odd in ("GitHub", "@org/server", "a b", "../etc/passwd", ".hidden", "con", "NUL", "x" * 200, "", "é"):
        name = snapshot_file_name(odd)
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*-[0-9a-f]{8}\.json", name), (odd, name)
        assert "/" not in name and not name.startswith(".")
        assert len(name) <= 100
    assert snapshot_path(Path("/r"), "time") == Path("/r/.cfmigrate/manifests/time.json")


@given(st.lists(st.text(min_size=0, max_size=30), min_size=2, max_size=12, unique=True))
def test_distinct_names_never_share_a_file_even_case_insensitively(names: list[str]) -> None:
    files = [snapshot_file_name(n).lower() for n in names]
    assert len(set(files)) == len(files)


def test_write_is_deterministic_and_a_rewrite_is_a_no_op(tmp_path: Path) -> None:
    manifest = _from_wire("everything", _manifest_file("server-everything.tools.json"))
    assert write_snapshot(tmp_path, manifest) is True
    path = snapshot_path(tmp_path, "everything")
    first = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    assert write_snapshot(tmp_path, manifest) is False
    assert path.stat().st_mtime_ns == mtime
    # The same tools in another order give the same bytes.
    shuffled = Manifest(
        "everything",
        tuple(reversed(manifest.tools)),
        "live",
        server_name="x",
        server_version="1.0",
        protocol_version="2025-11-25",
    )
    assert render_snapshot(shuffled) == first
    assert write_snapshot(tmp_path, shuffled) is False
    doc = json.loads(first)
    assert list(doc) == sorted(doc)
    assert doc["schema"] == SNAPSHOT_SCHEMA and doc["server"] == "everything"
    assert doc["serverInfo"] == {"name": "x", "version": "1.0"}
    assert doc["protocolVersion"] == "2025-11-25"
    assert doc["sha256"] == manifest_hash(manifest.tools)
    assert [t["name"] for t in doc["tools"]] == sorted(t.name for t in manifest.tools)
    assert first.endswith(b"}\n") and b"\n  " in first
    assert sorted(p.name for p in path.parent.iterdir()) == ["everything.json"]  # no temp files left


def test_a_changed_tool_list_rewrites_the_file(tmp_path: Path) -> None:
    base = Manifest("s", (_tool("a"), _tool("b")), "live")
    assert write_snapshot(tmp_path, base) is True
    changed = Manifest("s", (_tool("a"), _tool("b", "new description")), "live")
    assert write_snapshot(tmp_path, changed) is True
    loaded, problems = read_snapshot(snapshot_path(tmp_path, "s"), ".cfmigrate/manifests/s.json")
    assert problems == []
    assert loaded is not None and loaded.tools[1].description == "new description"


def test_roundtrip_keeps_tools_hash_and_server_info(tmp_path: Path) -> None:
    for file, server in (
        ("server-filesystem.tools.json", "filesystem"),
        ("mcp-server-time.tools.json", "time"),
        ("server-memory.tools.json", "@scope/memory server"),
    ):
        manifest = _from_wire(server, _manifest_file(file))
        write_snapshot(tmp_path, manifest)
    found, problems = read_snapshots(tmp_path)
    assert problems == []
    assert sorted(found) == ["@scope/memory server", "filesystem", "time"]
    fs = found["filesystem"]
    original = _from_wire("filesystem", _manifest_file("server-filesystem.tools.json"))
    assert fs.origin == "snapshot"
    assert fs.source is not None and fs.source.path == ".cfmigrate/manifests/filesystem.json"
    assert fs.sha256 == original.sha256
    assert {t.name: t for t in fs.tools} == {t.name: t for t in original.tools}
    assert (fs.server_name, fs.server_version, fs.protocol_version) == ("x", "1.0", "2025-11-25")
    assert fs.label() == "snapshot .cfmigrate/manifests/filesystem.json"


def test_failed_write_leaves_the_old_snapshot_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(tmp_path, Manifest("s", (_tool("a"),), "live"))
    path = snapshot_path(tmp_path, "s")
    before = path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError):
        write_snapshot(tmp_path, Manifest("s", (_tool("a"), _tool("b")), "live"))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["s.json"]


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    folder = tmp_path / ".cfmigrate" / "manifests"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"schema": "cfmigrate.snapshot/1",\n "tools": [,]}', "is not valid JSON"),
        ("[1, 2]", "is not a JSON object"),
        ('{"schema": "cfmigrate.snapshot/9", "server": "s", "tools": []}', "expected 'cfmigrate.snapshot/1'"),
        ('{"schema": "cfmigrate.snapshot/1", "tools": []}', "has no string 'server'"),
        ('{"schema": "cfmigrate.snapshot/1", "server": "s"}', "has no 'tools' list"),
        (
            '{"schema": "cfmigrate.snapshot/1", "server": "s", "tools": [{"name": "t"}]}',
            "tool 't' has no object",
        ),
        (
            '{"schema": "cfmigrate.snapshot/1", "server": "s", "tools": [{"inputSchema": {}}]}',
            "no string 'name'",
        ),
        (b'{"server": "\xff"}', "is not UTF-8"),
    ],
)
def test_broken_snapshots_are_errors_naming_the_file(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    path = _write(tmp_path, "bad.json", text)
    manifest, problems = read_snapshot(path, ".cfmigrate/manifests/bad.json")
    assert manifest is None
    assert len(problems) == 1 and problems[0].level == "error"
    assert expected in problems[0].message
    assert problems[0].message.startswith("snapshot .cfmigrate/manifests/bad.json")
    assert "audit --connect" in problems[0].hint
    found, all_problems = read_snapshots(tmp_path)
    assert found == {} and len(all_problems) == 1


def test_invalid_json_problem_points_at_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.json", '{\n  "schema": "cfmigrate.snapshot/1",\n  "tools": [,]\n}')
    _, problems = read_snapshot(path, "x.json")
    assert problems[0].source is not None and problems[0].source.line == 3


def test_hand_edited_snapshot_is_used_with_a_warning(tmp_path: Path) -> None:
    write_snapshot(tmp_path, Manifest("s", (_tool("a"),), "live"))
    path = snapshot_path(tmp_path, "s")
    doc = json.loads(path.read_text())
    doc["tools"][0]["description"] = "edited"
    doc["tools"].append(dict(doc["tools"][0]))
    path.write_text(json.dumps(doc))
    manifest, problems = read_snapshot(path, "s.json")
    assert manifest is not None and [t.description for t in manifest.tools] == ["edited"]
    messages = " | ".join(p.message for p in problems)
    assert "listed twice" in messages and "sha256 does not match" in messages
    assert all(p.level == "warning" for p in problems)


def test_two_files_for_one_server_keep_the_canonical_one(tmp_path: Path) -> None:
    write_snapshot(tmp_path, Manifest("s", (_tool("a"),), "live"))
    copy = json.loads(snapshot_path(tmp_path, "s").read_text())
    copy["tools"] = []
    copy["sha256"] = manifest_hash(())
    _write(tmp_path, "a-copy.json", json.dumps(copy))
    found, problems = read_snapshots(tmp_path)
    assert [t.name for t in found["s"].tools] == ["a"]
    assert len(problems) == 1 and "a-copy.json" in problems[0].message


def test_no_snapshot_folder_reads_as_empty(tmp_path: Path) -> None:
    assert read_snapshots(tmp_path) == ({}, [])
