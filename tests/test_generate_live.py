"""End to end on real servers: `cfmigrate generate --refresh` lists five live MCP servers (PyPI and npm),
snapshots them and generates the package; a separate Python process then calls the generated functions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli import cfmigrate as in_process

from tests.support.real_servers import npm_server, pypi_server

pytestmark = pytest.mark.slow

CALLER = textwrap.dedent(
    """
    import asyncio, json, sys
    from servers import SERVERS, ToolError, search_tools
    from servers.everything import echo, get_structured_content
    from servers.filesystem import list_allowed_directories, read_text_file, write_file
    from servers.git import git_status, git_status_sync
    from servers.memory import create_entities, create_relations, open_nodes, read_graph
    from servers.time import convert_time, get_current_time_sync

    work, repo = sys.argv[1], sys.argv[2]
    out = {"servers": list(SERVERS)}

    async def main():
        path = f"{work}/notes/hello.txt"
        out["write"] = (await write_file(path=path, content="line one\\nline two\\n")).text
        read = await read_text_file(path=path)
        out["read"], out["read_head"] = read.content_, (await read_text_file(path=path, head=1)).content_
        out["allowed"] = (await list_allowed_directories()).text
        made = await create_entities(entities=[
            {"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]},
            {"name": "Analytical Engine", "entityType": "machine", "observations": []},
        ])
        out["created"] = [e.name for e in made.entities]
        await create_relations(relations=[{"from": "Ada", "to": "Analytical Engine", "relationType": "programmed"}])
        graph = await read_graph()
        out["graph"] = {
            "entities": sorted((e.name, e.entity_type) for e in graph.entities),
            "relations": [(r.from_, r.relation_type, r.to) for r in graph.relations],
        }
        out["opened"] = [e.name for e in (await open_nodes(names=["Ada"])).entities]
        converted = await convert_time(source_timezone="UTC", time="12:00", target_timezone="Asia/Tokyo")
        out["tokyo"] = converted.target.datetime
        out["git_status"] = (await git_status(repo_path=repo)).text
        out["echo"] = (await echo(message="ping")).text
        weather = await get_structured_content(location="New York")
        out["weather_keys"] = sorted(weather.structured_content)
        try:
            await read_text_file(path="/etc/hostname")
        except ToolError as exc:
            out["error"] = {"server": exc.server, "tool": exc.tool, "kind": exc.kind, "message": exc.message}

    asyncio.run(main())
    now = get_current_time_sync(timezone="Europe/Paris")
    out["now"] = {"timezone": now.timezone, "has_datetime": "T" in now.datetime}
    out["git_status_sync"] = git_status_sync(repo_path=repo).text == out["git_status"]
    out["search"] = search_tools("entities", detail="name")
    print(json.dumps(out))
    """
)


def test_generate_from_live_servers_and_call_them(tmp_path: Path) -> None:
    project = tmp_path / "project"
    work = tmp_path / "work"
    repo = tmp_path / "repo"
    for folder in (project, work / "notes", repo):
        folder.mkdir(parents=True)
    git_env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=git_env)
    (repo / "untracked.txt").write_text("new\n")
    config = {
        "mcpServers": {
            "time": {"command": pypi_server("mcp-server-time")},
            "git": {"command": pypi_server("mcp-server-git")},
            "filesystem": {"command": npm_server("mcp-server-filesystem"), "args": [str(work)]},
            "memory": {
                "command": npm_server("mcp-server-memory"),
                "env": {"MEMORY_FILE_PATH": "${MEMORY_FILE_PATH}"},
            },
            "everything": {"command": npm_server("mcp-server-everything"), "args": ["stdio"]},
        }
    }
    (project / ".mcp.json").write_text(json.dumps(config, indent=2))
    env = {**os.environ, "MEMORY_FILE_PATH": str(tmp_path / "memory.jsonl")}
    cfmigrate = Path(sys.executable).with_name("cfmigrate")
    # the CLI's app in this process (tests/support/cli.py); the five servers it lists are real processes
    done = in_process(
        "generate",
        "--refresh",
        "--root",
        str(project),
        cwd=project,
        env={"MEMORY_FILE_PATH": env["MEMORY_FILE_PATH"]},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 servers" in done.stdout
    snapshots = sorted(p.name for p in (project / ".cfmigrate" / "manifests").glob("*.json"))
    assert snapshots == ["everything.json", "filesystem.json", "git.json", "memory.json", "time.json"]
    check = subprocess.run(
        [str(cfmigrate), "generate", "--check", "--root", str(project)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr

    launch = json.loads((project / "servers" / "_servers.json").read_text())["servers"]
    assert launch["memory"]["env"] == ["MEMORY_FILE_PATH"]
    assert str(tmp_path / "memory.jsonl") not in json.dumps(launch)  # names only, never values

    caller = project / "caller.py"
    caller.write_text(CALLER)
    run = subprocess.run(
        [sys.executable, str(caller), str(work), str(repo)],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["servers"] == ["everything", "filesystem", "git", "memory", "time"]
    assert (work / "notes" / "hello.txt").read_text() == "line one\nline two\n"
    assert out["read"] == "line one\nline two\n" and out["read_head"] == "line one"
    assert str(work) in out["allowed"]
    assert out["created"] == ["Ada", "Analytical Engine"]
    assert out["graph"] == {
        "entities": [["Ada", "person"], ["Analytical Engine", "machine"]],
        "relations": [["Ada", "programmed", "Analytical Engine"]],
    }
    assert out["opened"] == ["Ada"]
    assert out["tokyo"].startswith("20") and "21:00" in out["tokyo"]
    assert "untracked.txt" in out["git_status"] and out["git_status_sync"] is True
    assert "ping" in out["echo"]
    assert out["weather_keys"] == ["conditions", "humidity", "temperature"]
    assert out["now"] == {"timezone": "Europe/Paris", "has_datetime": True}
    assert out["error"]["server"] == "filesystem" and out["error"]["tool"] == "read_text_file"
    assert out["error"]["kind"] == "tool" and "outside allowed directories" in out["error"]["message"]
    assert "servers.memory.create_entities" in out["search"]
