"""The bundled catalog of captured manifests, matching servers to it, and refreshing it from live servers."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
from support.real_servers import npm_server, pypi_server

from cfmigrate.analyzers.configs import parse_config_file
from cfmigrate.analyzers.manifests import catalog, catalog_entries, match_catalog, package_of
from cfmigrate.analyzers.model import ServerSpec, SourceRef

ROOT = Path(__file__).resolve().parents[1]
CATALOG_DIR = ROOT / "analyzers" / "catalog"
FIXTURES = ROOT / "fixtures" / "manifests"
ZOO = ROOT / "fixtures" / "config-zoo"

# The tool counts of /work/shared/manifests/README.md.
README_COUNTS = {
    "mcp-server-time": 2,
    "mcp-server-git": 12,
    "mcp-server-fetch": 1,
    "@modelcontextprotocol/server-filesystem": 14,
    "@modelcontextprotocol/server-everything": 13,
    "@modelcontextprotocol/server-memory": 9,
    "@modelcontextprotocol/server-github": 26,
    "@modelcontextprotocol/server-slack": 8,
    "@playwright/mcp": 25,
}


def stdio(name: str, command: str, *args: str) -> ServerSpec:
    return ServerSpec(
        name=name,
        transport="stdio",
        source=SourceRef(".mcp.json", 1),
        origin="claude-code",
        command=command,
        args=args,
        package=package_of(command, args),
    )


def test_tool_counts_match_the_readme() -> None:
    manifests = catalog()
    assert {m.package: len(m.tools) for m in manifests} == README_COUNTS
    assert {e.package: e.tool_count for e in catalog_entries()} == README_COUNTS


def test_catalog_manifests_carry_their_provenance() -> None:
    for manifest in catalog():
        assert manifest.origin == "catalog"
        assert (
            manifest.package
            and manifest.server_version
            and manifest.server_name
            and manifest.protocol_version
        )
        assert manifest.label() == f"catalog, server version {manifest.server_version}"
    github = next(m for m in catalog() if m.package == "@modelcontextprotocol/server-github")
    assert (github.server_name, github.server_version, github.protocol_version) == (
        "github-mcp-server",
        "0.6.2",
        "2024-11-05",
    )


def test_catalog_files_are_the_fixture_copies() -> None:
    index = json.loads((CATALOG_DIR / "index.json").read_text(encoding="utf-8"))
    files = sorted(e["file"] for e in index["manifests"])
    assert files == sorted(p.name for p in CATALOG_DIR.glob("*.tools.json"))
    assert files == sorted(p.name for p in FIXTURES.glob("*.tools.json"))
    for name in files:
        assert (CATALOG_DIR / name).read_bytes() == (FIXTURES / name).read_bytes(), name
    registries = {e["package"]: (e["registry"], e["version"]) for e in index["manifests"]}
    assert registries["mcp-server-git"] == ("pypi", "2026.10.19")
    assert registries["@playwright/mcp"] == ("npm", "0.0.83")


@pytest.mark.parametrize(
    ("spec", "package", "tools"),
    [
        (
            stdio("fs", "npx", "-y", "@modelcontextprotocol/server-filesystem", "/tmp"),
            "@modelcontextprotocol/server-filesystem",
            14,
        ),
        (stdio("git", "uvx", "mcp-server-git", "--repository", "."), "mcp-server-git", 12),
        (stdio("time", "python", "-m", "mcp_server_time"), "mcp-server-time", 2),
        (
            stdio("gh", "docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "mcp/github"),
            "@modelcontextprotocol/server-github",
            26,
        ),
        (stdio("pw", "npx", "@playwright/mcp@latest", "--headless"), "@playwright/mcp", 25),
        (stdio("fetch", "pipx", "run", "mcp-server-fetch"), "mcp-server-fetch", 1),
        (stdio("mem", "/x/node_modules/.bin/mcp-server-memory"), "@modelcontextprotocol/server-memory", 9),
    ],
)
def test_match_catalog(spec: ServerSpec, package: str, tools: int) -> None:
    found = match_catalog(spec)
    assert found is not None
    assert (found.package, len(found.tools), found.origin) == (package, tools, "catalog")
    assert found.server == spec.name  # renamed so Inventory.manifest(spec.name) finds it


def test_match_catalog_without_a_precomputed_package() -> None:
    spec = ServerSpec("t", "stdio", SourceRef("x", 1), "code", command="uvx", args=("mcp-server-time",))
    found = match_catalog(spec)
    assert found is not None and found.package == "mcp-server-time"


@pytest.mark.parametrize(
    "spec",
    [
        stdio("other", "npx", "-y", "@acme/unknown-mcp-server"),
        stdio("local", "python", "server.py"),
        stdio(
            "gh-go", "docker", "run", "-i", "ghcr.io/github/github-mcp-server"
        ),  # a different server, not the npm one
        ServerSpec("remote", "http", SourceRef("x", 1), "vscode", url="https://api.githubcopilot.com/mcp/"),
    ],
)
def test_no_match(spec: ServerSpec) -> None:
    assert match_catalog(spec) is None


def test_zoo_servers_matched_through_their_configs() -> None:
    matched = {}
    for rel in (
        ".mcp.json",
        "claude_desktop_config.json",
        ".cursor/mcp.json",
        ".vscode/mcp.json",
        ".codex/config.toml",
    ):
        result = parse_config_file(ZOO / rel, rel)
        assert result is not None
        for spec in result[0]:
            found = match_catalog(spec)
            if found:
                matched[f"{rel}:{spec.name}"] = found.package
    assert matched == {
        ".mcp.json:github": "@modelcontextprotocol/server-github",
        ".mcp.json:filesystem": "@modelcontextprotocol/server-filesystem",
        "claude_desktop_config.json:time": "mcp-server-time",
        "claude_desktop_config.json:shop-repo": "mcp-server-git",
        "claude_desktop_config.json:fetch": "mcp-server-fetch",
        "claude_desktop_config.json:slack": "@modelcontextprotocol/server-slack",
        ".cursor/mcp.json:memory": "@modelcontextprotocol/server-memory",
        ".vscode/mcp.json:playwright": "@playwright/mcp",
        ".codex/config.toml:fs": "@modelcontextprotocol/server-filesystem",
    }


# --- the capture script, against real servers --------------------------------------------------


def capture_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "capture_manifests", ROOT / "scripts" / "capture_manifests.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("capture_manifests", module)
    spec.loader.exec_module(sys.modules["capture_manifests"])
    return sys.modules["capture_manifests"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("file", "command", "args", "env"),
    [
        ("mcp-server-time.tools.json", lambda: pypi_server("mcp-server-time"), [], {"TZ": "UTC"}),
        (
            "server-memory.tools.json",
            lambda: npm_server("mcp-server-memory"),
            [],
            {"MEMORY_FILE_PATH": "{tmp}/m.jsonl"},
        ),
    ],
)
def test_live_capture_reproduces_the_fixture_bytes(file: str, command, args, env) -> None:  # type: ignore[no-untyped-def]
    cap = capture_module()
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile("w+") as errlog:
        resolved_env = {k: v.replace("{tmp}", tmp) for k, v in env.items()}
        got = asyncio.run(cap.capture(command(), args, resolved_env, 60.0, errlog))
    assert got.pages == 1
    assert cap.wire_json(got.tools) == (FIXTURES / file).read_text(encoding="utf-8")
    entry = next(e for e in catalog_entries() if e.file == file)
    assert (got.server_name, got.server_version, got.protocol_version) == (
        entry.server_name,
        entry.server_version,
        entry.protocol_version,
    )


def test_capture_check_mode_writes_nothing(tmp_path: Path) -> None:
    cap = capture_module()
    target = tmp_path / "x.tools.json"
    assert cap.compare_write(target, "{}\n", check=True) == "new"
    assert not target.exists()
    assert cap.compare_write(target, "{}\n", check=False) == "new"
    assert cap.compare_write(target, "{}\n", check=False) == "unchanged"
    assert cap.compare_write(target, "[]\n", check=True) == "differs"
    assert target.read_text() == "{}\n"
    assert "added b" in cap.tool_diff('{"tools": [{"name": "a"}]}', [{"name": "a"}, {"name": "b"}])


def test_index_json_is_what_the_script_writes() -> None:
    cap = capture_module()
    assert cap.index_json(catalog_entries(), cap.INDEX_NOTE) == (CATALOG_DIR / "index.json").read_text(
        encoding="utf-8"
    )
