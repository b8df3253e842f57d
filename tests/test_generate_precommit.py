"""The real `pre-commit` running this checkout's `.pre-commit-hooks.yaml` in a temporary git repository:
a stale or hand-edited `servers/` package blocks the commit, a fresh one passes. Offline: the hook repo is
a local git repository and the hooks use the installed cfmigrate (`language: system`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cfmigrate.analyzers.manifests import load_manifest_file
from cfmigrate.analyzers.model import Manifest
from cfmigrate.analyzers.snapshots import write_snapshot

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to run pre-commit")


def _run(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def _git_repo(path: Path, env: dict[str, str]) -> None:
    path.mkdir(parents=True)
    _run(["git", "init", "-q", "-b", "main"], path, env)
    _run(["git", "config", "user.email", "dev@example.com"], path, env)
    _run(["git", "config", "user.name", "Dev"], path, env)
    _run(["git", "config", "commit.gpgsign", "false"], path, env)


def _time_manifest(drop_tool: str | None = None) -> Manifest:
    src = REPO / "fixtures" / "manifests" / "mcp-server-time.tools.json"
    manifest, _ = load_manifest_file(src, src.name)
    assert manifest is not None
    tools = tuple(t for t in manifest.tools if t.name != drop_tool)
    return Manifest("time", tools, "snapshot", server_name="mcp-time", server_version="2026.10.19")


def test_pre_commit_blocks_a_stale_package(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    (tmp_path / "gitconfig").write_text("")
    hooks = tmp_path / "hooks-repo"
    _git_repo(hooks, env)
    shutil.copy(REPO / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    _run(["git", "add", "."], hooks, env)
    _run(["git", "commit", "-q", "-m", "hooks"], hooks, env)
    rev = _run(["git", "rev-parse", "HEAD"], hooks, env).stdout.strip()

    project = tmp_path / "project"
    _git_repo(project, env)
    (project / ".mcp.json").write_text('{"mcpServers": {"time": {"command": "mcp-server-time"}}}\n')
    write_snapshot(project, _time_manifest(drop_tool="convert_time"))
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks.as_uri()}\n    rev: {rev}\n    hooks:\n      - id: cfmigrate-generate-check\n"
    )
    _run([str(BIN / "pre-commit"), "install"], project, env)
    _run([str(BIN / "cfmigrate"), "generate"], project, env)
    assert (project / "servers" / "time" / "get_current_time.py").is_file()
    _run(["git", "add", "."], project, env)
    fresh = _run(["git", "commit", "-m", "servers package"], project, env, check=False)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "Passed" in fresh.stdout + fresh.stderr

    # a hand edit to a generated file is caught
    module = project / "servers" / "time" / "get_current_time.py"
    module.write_text(module.read_text().replace("Get current time", "Get the time"))
    _run(["git", "add", "."], project, env)
    edited = _run(["git", "commit", "-m", "tweak"], project, env, check=False)
    assert edited.returncode != 0
    output = edited.stdout + edited.stderr
    assert "Failed" in output and '-    """Get the time' in output and "is stale or hand-edited" in output
    _run(["git", "checkout", "--", "."], project, env)
    _run(["git", "reset", "-q", "HEAD", "--", "."], project, env)
    _run(["git", "checkout", "--", "."], project, env)

    # a refreshed snapshot without a regenerate is caught; regenerating fixes it
    write_snapshot(project, _time_manifest())
    _run(["git", "add", "."], project, env)
    stale = _run(["git", "commit", "-m", "new snapshot"], project, env, check=False)
    assert stale.returncode != 0
    assert "servers/time/convert_time.py" in stale.stdout + stale.stderr
    _run([str(BIN / "cfmigrate"), "generate"], project, env)
    _run(["git", "add", "."], project, env)
    regenerated = _run(["git", "commit", "-m", "new snapshot + package"], project, env, check=False)
    assert regenerated.returncode == 0, regenerated.stdout + regenerated.stderr
    assert (project / "servers" / "time" / "convert_time.py").is_file()


def test_hook_definitions() -> None:
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["cfmigrate-generate-check"]["entry"] == "cfmigrate generate --check"
    assert hooks["cfmigrate-generate"]["entry"] == "cfmigrate generate"
    for hook_id in ("cfmigrate-generate-check", "cfmigrate-generate"):
        assert hooks[hook_id]["pass_filenames"] is False and hooks[hook_id]["language"] == "system"
