"""`audit --connect`: list tools of real servers (stdio, streamable HTTP, SSE) and report misbehaving ones."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from support.real_servers import npm_server, pypi_server

from cfmigrate.analyzers.configs import parse_config_file
from cfmigrate.analyzers.connect import (
    ConnectResult,
    config_base,
    connect_all,
    header_env_name,
    list_tools_live,
    missing_env,
)
from cfmigrate.analyzers.model import ServerSpec, SourceRef
from cfmigrate.analyzers.snapshots import read_snapshots, snapshot_path

REPO = Path(__file__).resolve().parents[1]
SERVERS = Path(__file__).resolve().parent / "servers"
PY = sys.executable


def spec(name: str, command: str | None, *args: str, line: int = 1, **kw: object) -> ServerSpec:
    """A stdio (or, with url=, HTTP) spec declared at `.mcp.json:<line>`."""
    transport = kw.pop("transport", "stdio" if command else "http")
    return ServerSpec(
        name=name,
        transport=transport,  # type: ignore[arg-type]
        source=SourceRef(".mcp.json", line),
        origin="test",
        command=command,
        args=args,
        **kw,  # type: ignore[arg-type]
    )


def captured(file: str) -> dict[str, dict[str, object]]:
    """A captured real manifest (fixtures/manifests, or the shared originals) by tool name, ToolDef keys only."""
    keep = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
    for folder in (REPO / "fixtures" / "manifests", Path("/work/shared/manifests")):
        if (folder / file).exists():
            tools = json.loads((folder / file).read_text())["tools"]
            return {t["name"]: {k: v for k, v in t.items() if k in keep} for t in tools}
    raise FileNotFoundError(f"{file} is in neither fixtures/manifests/ nor /work/shared/manifests/")


def expected_names(file: str) -> set[str]:
    return set(captured(file))


def by_name(results: list[ConnectResult]) -> dict[str, ConnectResult]:
    return {r.server: r for r in results}


def gone(pid: int) -> bool:
    """True when the process no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README").write_text("hello\n")
    return repo


def start_http(transport: str, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], str]:
    """Run tests/servers/http_server.py and return it with its MCP endpoint URL."""
    proc = subprocess.Popen(
        [PY, str(SERVERS / "http_server.py"), transport, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    line = proc.stdout.readline() if ready else ""
    if not line.startswith("PORT "):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"http_server.py {transport} did not start (got {line!r})")
    path = "/mcp" if transport == "streamable-http" else "/sse"
    return proc, f"http://127.0.0.1:{int(line.split()[1])}{path}"


@pytest.fixture
def http_server() -> Iterator[str]:
    """The MCPServer fixture over streamable HTTP on an ephemeral port; needs header X-Api-Key."""
    proc, url = start_http(
        "streamable-http", dict(os.environ, CFM_FIXTURE_KEY="k-12345-secret"), "X-Api-Key", "CFM_FIXTURE_KEY"
    )
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def sse_server() -> Iterator[str]:
    proc, url = start_http("sse", dict(os.environ))
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.mark.slow
def test_real_servers_listed_sequentially_and_in_parallel(
    tmp_path: Path, git_repo: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    monkeypatch.setenv("MEMORY_FILE_PATH", str(tmp_path / "memory.jsonl"))
    specs = [
        spec("time", pypi_server("mcp-server-time"), line=2, package="mcp-server-time"),
        spec("git", pypi_server("mcp-server-git"), "--repository", str(git_repo), line=3),
        spec("filesystem", npm_server("mcp-server-filesystem"), str(files), line=4),
        spec("memory", npm_server("mcp-server-memory"), line=5, env_names=("MEMORY_FILE_PATH",)),
        spec("everything", npm_server("mcp-server-everything"), "stdio", line=6),
    ]
    expected = {
        "time": ("mcp-server-time.tools.json", 2, "mcp-time"),
        "git": ("mcp-server-git.tools.json", 12, "mcp-git"),
        "filesystem": ("server-filesystem.tools.json", 14, "secure-filesystem-server"),
        "memory": ("server-memory.tools.json", 9, "memory-server"),
        "everything": ("server-everything.tools.json", 13, "mcp-servers/everything"),
    }

    def check(results: list[ConnectResult]) -> None:
        assert [r.server for r in results] == [s.name for s in specs]  # input order, not finish order
        for result in results:
            file, count, server_name = expected[result.server]
            assert result.problem is None, result.problem
            assert result.manifest is not None
            assert result.manifest.origin == "live"
            assert len(result.manifest.tools) == count
            assert {t.name for t in result.manifest.tools} == expected_names(file)
            assert result.manifest.server_name == server_name
            assert result.manifest.server_version and result.manifest.protocol_version
            if result.server in ("filesystem", "memory", "everything"):
                # Same package versions as the capture: the wire JSON survives the trip through ToolDef.
                assert {t.name: t.to_wire() for t in result.manifest.tools} == captured(file)

    # The machine is shared, so one noisy pair of runs must not fail the test: up to three tries, each
    # timing the servers one by one and then all five at once.
    first_run = True
    tries: list[tuple[float, float]] = []
    for _ in range(3):
        sequential = connect_all(specs, root=tmp_path, parallel=1, timeout=60)
        check(sequential)
        assert all(r.changed is first_run for r in sequential)  # rewrites of unchanged lists are no-ops
        first_run = False
        individual = sum(r.seconds for r in sequential)
        started = time.perf_counter()
        parallel = connect_all(specs, root=tmp_path, parallel=5, timeout=60)
        wall = time.perf_counter() - started
        check(parallel)
        assert [r.changed for r in parallel] == [False] * 5
        tries.append((individual, wall))
        with capfd.disabled():
            print(
                f"\n[connect] 5 real servers: sum of individual times {individual:.2f} s, "
                f"listed in parallel in {wall:.2f} s ({individual / wall:.1f}x)"
            )
        if wall < 0.9 * individual:
            break
    assert any(wall < 0.9 * individual for individual, wall in tries), tries

    found, problems = read_snapshots(tmp_path)
    assert problems == []
    assert {k: len(v.tools) for k, v in found.items()} == {k: v[1] for k, v in expected.items()}
    assert found["time"].sha256 == parallel[0].manifest.sha256  # type: ignore[union-attr]
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""


@pytest.mark.slow
def test_failures_are_reported_and_the_rest_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-t0ken-value"
    monkeypatch.setenv("CFM_CRASH_TOKEN", secret)
    monkeypatch.delenv("CFM_TEST_NOT_SET", raising=False)
    pidfile = tmp_path / "hang.pids"
    marker = tmp_path / "started.marker"
    specs = [
        spec("time", pypi_server("mcp-server-time"), line=2),
        spec("hang", PY, str(SERVERS / "hang.py"), str(pidfile), line=3),
        spec("crash", PY, str(SERVERS / "crash.py"), "3", line=4, env_names=("CFM_CRASH_TOKEN",)),
        spec("garbage", PY, str(SERVERS / "garbage.py"), "exit", line=5),
        spec("chatty", PY, str(SERVERS / "garbage.py"), "stay", line=6),
        spec(
            "needs-env",
            PY,
            "-c",
            f"open({str(marker)!r}, 'w')",
            line=7,
            env_names=("CFM_TEST_NOT_SET",),
        ),
        spec("missing-command", "cfm-no-such-command-anywhere", line=8),
    ]
    # Long enough for a real server to start on a loaded machine: this test is about failure isolation,
    # not speed. Two servers (hang, chatty) each use up the whole timeout, so serialised failures would take
    # at least 2 x TIMEOUT; run side by side they take about one.
    timeout = 10
    started = time.perf_counter()
    results = by_name(connect_all(specs, root=tmp_path, timeout=timeout, parallel=8))
    wall = time.perf_counter() - started

    ok = results["time"]
    assert ok.problem is None and ok.manifest is not None and len(ok.manifest.tools) == 2
    assert sorted(p.name for p in (tmp_path / ".cfmigrate" / "manifests").iterdir()) == ["time.json"]

    hang = results["hang"]
    assert hang.manifest is None and hang.problem is not None and hang.problem.level == "error"
    assert "'hang'" in hang.problem.message and "declared in .mcp.json:3" in hang.problem.message
    assert "did not finish" in hang.problem.message and f"within {timeout} s" in hang.problem.message
    assert "process group was killed" in hang.problem.message
    assert "hang: started, will never answer" in hang.problem.message  # its stderr
    assert timeout <= hang.seconds < timeout + 5
    leader, child = (int(p) for p in pidfile.read_text().split())
    assert gone(leader) and gone(child), "the whole process group must be dead after the timeout"

    crash = results["crash"]
    assert crash.problem is not None and crash.manifest is None
    message = crash.problem.message
    assert "exited with code 3" in message and "declared in .mcp.json:4" in message
    assert "upstream refused the connection" in message  # the last stderr lines...
    assert "warming up step 29" in message and "warming up step 0\n" not in message  # ...only the last ones
    assert secret not in message and "token=***" in message

    garbage = results["garbage"]
    assert garbage.problem is not None and garbage.manifest is None
    assert "exited with code 0" in garbage.problem.message
    assert "not JSON-RPC" in garbage.problem.message and "Usage: garbage" in garbage.problem.message

    chatty = results["chatty"]
    assert chatty.problem is not None and f"within {timeout} s" in chatty.problem.message
    assert "not JSON-RPC" in chatty.problem.message

    needs = results["needs-env"]
    assert needs.problem is not None and needs.manifest is None
    assert needs.problem.message.startswith(
        "server 'needs-env' needs env CFM_TEST_NOT_SET (declared in .mcp.json:7)"
    )
    assert "export CFM_TEST_NOT_SET" in needs.problem.hint
    assert not marker.exists(), "a server missing an env var must not be started"

    missing = results["missing-command"]
    assert missing.problem is not None and "not found" in missing.problem.message

    assert wall < 2 * timeout, f"failures must not serialise: took {wall:.1f} s"
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""


def test_pagination_env_passthrough_and_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFM_ENV_PROBE", "probe-7")
    monkeypatch.setenv("CFM_TEST_PREFIX", "pg")
    monkeypatch.delenv("CFM_TEST_UNSET", raising=False)
    paged = spec(
        "paged",
        PY,
        str(SERVERS / "paged.py"),
        "${CFM_TEST_PREFIX}",
        "${env:CFM_TEST_PAGES:-3}",
        "${CFM_TEST_UNSET:-2}",
        env_refs=("CFM_TEST_PREFIX",),
    )
    result = anyio.run(lambda: list_tools_live(paged, timeout=20))
    assert result.problem is None and result.manifest is not None
    names = [t.name for t in result.manifest.tools]
    assert names == ["pg_0_0", "pg_0_1", "pg_1_0", "pg_1_1", "pg_2_0", "pg_2_1"]  # all three pages, in order
    assert all("probe=probe-7" in t.description for t in result.manifest.tools)  # environment passed through
    assert (result.manifest.server_name, result.manifest.server_version) == ("paged", "1.2.3")


def test_banner_on_stdout_is_listed_with_a_warning(tmp_path: Path) -> None:
    result = anyio.run(lambda: list_tools_live(spec("banner", PY, str(SERVERS / "banner.py")), timeout=20))
    assert result.manifest is not None and [t.name for t in result.manifest.tools] == ["hello"]
    assert result.problem is not None and result.problem.level == "warning"
    assert "banner server v1 starting" in result.problem.message


@pytest.mark.slow
def test_streamable_http_with_header_from_env(
    http_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    http = spec("remote", None, url=http_server, header_names=("X-Api-Key",))
    monkeypatch.delenv("X_API_KEY", raising=False)
    monkeypatch.delenv("X-Api-Key", raising=False)
    assert missing_env(http) == ["X_API_KEY (value of header X-Api-Key)"]
    skipped = connect_all([http], root=tmp_path, timeout=10)[0]
    assert skipped.problem is not None and "needs env X_API_KEY" in skipped.problem.message

    monkeypatch.setenv("X_API_KEY", "k-12345-secret")
    result = connect_all([http], root=tmp_path, timeout=10)[0]
    assert result.problem is None and result.manifest is not None
    assert [t.name for t in result.manifest.tools] == ["add", "echo", "whoami"]
    assert result.manifest.server_name == "http-fixture"
    assert snapshot_path(tmp_path, "remote").exists()

    monkeypatch.setenv("X_API_KEY", "wrong-key-98765")
    refused = connect_all([http], root=tmp_path, timeout=10)[0]
    assert refused.manifest is None and refused.problem is not None
    assert "HTTP 401" in refused.problem.message and "X-Api-Key" in refused.problem.hint
    assert "wrong-key-98765" not in refused.problem.message + refused.problem.hint


@pytest.mark.slow
def test_sse_and_url_expansion(sse_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    host, _, rest = sse_server.removeprefix("http://").partition("/")
    monkeypatch.setenv("CFM_TEST_HOST", host)
    sse = spec("legacy-sse", None, transport="sse", url=f"http://${{CFM_TEST_HOST}}/{rest}")
    result = anyio.run(lambda: list_tools_live(sse, timeout=10))
    assert result.problem is None and result.manifest is not None
    assert [t.name for t in result.manifest.tools] == ["add", "echo", "whoami"]


def test_unreachable_http_server_is_a_problem() -> None:
    result = anyio.run(lambda: list_tools_live(spec("down", None, url="http://127.0.0.1:9/mcp"), timeout=5))
    assert result.manifest is None and result.problem is not None
    assert "could not connect" in result.problem.message and "'down'" in result.problem.message


def test_relative_cwd_resolves_against_the_config_folder() -> None:
    vscode = replace(
        spec("p", PY, "paged.py", "rel", "1", "1", cwd="servers"),
        source=SourceRef("tests/.vscode/mcp.json", 3),
    )
    # VS Code runs servers in the workspace folder, not in .vscode/
    assert config_base(REPO, vscode) == REPO / "tests"
    nested = replace(vscode, name="q", source=SourceRef("tests/servers/cfg.json", 1), cwd=None)
    assert config_base(REPO, nested) == SERVERS
    results = connect_all([vscode, nested], root=REPO, timeout=20, write=False)
    listed = [[t.name for t in r.manifest.tools] if r.manifest else r.problem for r in results]
    assert listed == [["rel_0_0"], ["rel_0_0"]]
    bad = replace(vscode, cwd="no-such-dir")
    result = connect_all([bad], root=REPO, timeout=5, write=False)[0]
    assert result.problem is not None and "working directory" in result.problem.message
    assert str(REPO / "tests" / "no-such-dir") in result.problem.message


def test_skips_without_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "m"
    start = ("-c", f"open({str(marker)!r}, 'w')")
    monkeypatch.delenv("CFM_TEST_UNSET", raising=False)
    specs = [
        spec("input", PY, *start, "${input:api_key}", line=1),
        spec("ref", PY, *start, env_refs=("${env:CFM_TEST_UNSET}",), line=2),
        spec("off", PY, *start, disabled=True, line=3),
        spec("nothing", None, transport="unknown", line=4),
        spec("dup", PY, *start, env_names=("CFM_TEST_UNSET",), line=5),
        spec("dup", PY, *start, line=6),
    ]
    results = connect_all(specs, root=tmp_path, timeout=5)
    messages = [r.problem.message if r.problem else "" for r in results]
    assert "needs env input:api_key" in messages[0] and "cannot do" in results[0].problem.hint  # type: ignore[union-attr]
    assert "needs env CFM_TEST_UNSET (declared in .mcp.json:2)" in messages[1]
    assert results[2].problem is not None and results[2].problem.level == "info" and "disabled" in messages[2]
    assert "cannot tell how to start" in messages[3]
    assert "needs env CFM_TEST_UNSET" in messages[4]
    assert "declared again in .mcp.json:6" in messages[5]
    assert all(r.manifest is None for r in results)
    assert not marker.exists()


def test_header_env_name() -> None:
    assert header_env_name("X-Api-Key") == "X_API_KEY"
    assert header_env_name("Authorization") == "AUTHORIZATION"


def test_connect_all_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    async def main() -> list[ConnectResult]:
        return connect_all(
            [spec("p", PY, str(SERVERS / "paged.py"), "x", "1", "1")], root=tmp_path, timeout=20
        )

    results = asyncio.run(main())
    assert results[0].manifest is not None and results[0].changed is True


def test_cwd_falls_back_to_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "paged.py").write_text((SERVERS / "paged.py").read_text())
    nested = spec("p", PY, "paged.py", "root", "1", "1", cwd="tools")
    nested = replace(nested, source=SourceRef("agents/a/servers.json", 1))
    (tmp_path / "agents" / "a").mkdir(parents=True)
    result = connect_all([nested], root=tmp_path, timeout=20, write=False)[0]
    assert result.manifest is not None and [t.name for t in result.manifest.tools] == ["root_0_0"]


def test_snapshot_write_failure_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / ".cfmigrate").write_text("a file where the folder should be")
    result = connect_all(
        [spec("p", PY, str(SERVERS / "paged.py"), "w", "1", "1", line=9)], root=tmp_path, timeout=20
    )[0]
    assert result.manifest is not None and result.changed is None
    assert result.problem is not None and result.problem.level == "error"
    assert "could not write .cfmigrate/manifests/p.json" in result.problem.message
    assert result.problem.source == SourceRef(".mcp.json", 9)


def test_progress_is_drawn_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    one = [spec("pty-server", PY, str(SERVERS / "paged.py"), "t", "1", "2")]
    connect_all(one, root=tmp_path, timeout=20, write=False)
    assert capfd.readouterr().err == ""  # stderr is not a terminal under pytest

    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        with contextlib.suppress(OSError):
            while data := os.read(master, 65536):
                chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    with open(slave, "w", closefd=True) as tty:
        monkeypatch.setattr(sys, "stderr", tty)
        results = connect_all(one, root=tmp_path, timeout=20, write=False)
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    reader.join(5)
    os.close(master)
    drawn = b"".join(chunks).decode(errors="replace")
    assert results[0].manifest is not None
    assert "pty-server" in drawn and "2 tools" in drawn and "1/1 servers done" in drawn

    connect_all(one, root=tmp_path, timeout=20, write=False, progress=False)
    assert capfd.readouterr().err == ""


def test_reference_forms_of_every_client_format(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CFM_A", "CFM_B", "CFM_C", "CFM_D", "CFM_E"):
        monkeypatch.delenv(name, raising=False)
    odd = spec(
        "odd",
        PY,
        "${{ secrets.CFM_A }}",
        "{env:CFM_B}",
        "${env:CFM_C}",
        "${CFM_D:-fallback}",
        "${CFM_E:-***}",  # configs.py hides a literal default: the variable is then required
        "${workspaceFolder}/x",
        "${command:pickFile}",
        env_refs=("${CFM_D}",),  # configs.py drops defaults from env_refs; the arg still shows one
    )
    assert missing_env(odd, {}) == ["CFM_A", "CFM_B", "CFM_C", "CFM_E", "input:command:pickFile"]


@pytest.mark.slow
def test_specs_from_a_real_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CFM_E2E_PREFIX", "cfg")
    monkeypatch.setenv("CFM_E2E_PROBE", "unused-by-the-server")
    monkeypatch.setenv("CFM_ENV_PROBE", "from-the-environment")
    paged = str(SERVERS / "paged.py")
    config = {
        "mcpServers": {
            "time": {"command": pypi_server("mcp-server-time")},
            "paged": {
                "command": PY,
                "args": [paged, "${CFM_E2E_PREFIX}", "1", "2"],
                "env": {"CFM_ENV_PROBE": "${CFM_E2E_PROBE}"},
            },
            "leaky": {"command": PY, "args": [paged, "--token", "ghp_" + "a1B2" * 9]},
        }
    }
    (tmp_path / ".mcp.json").write_text(json.dumps(config, indent=2))
    parsed = parse_config_file(tmp_path / ".mcp.json", ".mcp.json")
    assert parsed is not None
    specs, _ = parsed
    results = by_name(connect_all(specs, root=tmp_path, timeout=20))
    assert results["time"].manifest is not None and len(results["time"].manifest.tools) == 2
    listed = results["paged"].manifest
    assert listed is not None and [t.name for t in listed.tools] == ["cfg_0_0", "cfg_0_1"]
    assert "probe=from-the-environment" in listed.tools[0].description
    leaky = results["leaky"].problem
    assert leaky is not None and "writes a secret literally" in leaky.message and "ghp_" not in leaky.message
    assert leaky.source is not None and leaky.source.path == ".mcp.json" and leaky.source.line
    found, _ = read_snapshots(tmp_path)
    assert sorted(found) == ["paged", "time"]


def test_env_and_header_templates_are_expanded_from_our_environment(tmp_path: Path) -> None:
    from cfmigrate.analyzers.connect import missing_env, with_templates
    from cfmigrate.analyzers.model import ServerSpec, SourceRef

    spec = ServerSpec(
        name="gh",
        transport="stdio",
        source=SourceRef(".mcp.json", 2),
        origin="claude-code",
        command="x",
        env_names=("GITHUB_PERSONAL_ACCESS_TOKEN",),
        env_refs=("${GITHUB_TOKEN}",),
        env_templates=(("GITHUB_PERSONAL_ACCESS_TOKEN", "${GITHUB_TOKEN}"),),
        header_templates=(("Authorization", "Bearer ${GITHUB_TOKEN}"),),
    )
    env = with_templates(spec, {"GITHUB_TOKEN": "t0k"}, tmp_path)
    assert env["GITHUB_PERSONAL_ACCESS_TOKEN"] == "t0k" and env["AUTHORIZATION"] == "Bearer t0k"
    assert missing_env(spec, env) == []
    assert missing_env(spec, with_templates(spec, {}, tmp_path)) == [
        "GITHUB_PERSONAL_ACCESS_TOKEN",
        "GITHUB_TOKEN",
    ]


def test_literal_env_values_reach_the_server_but_are_never_stored(tmp_path: Path) -> None:
    """A config's literal `"env": {"NAME": "value"}` starts the server; the value appears nowhere else."""
    import json as _json

    from cfmigrate.analyzers.configs import parse_config_file
    from cfmigrate.analyzers.connect import connect_all, literal_env

    marker = tmp_path / "started.txt"
    server = tmp_path / "needs_env.py"
    server.write_text(
        "import os, pathlib, sys\n"
        "from mcp.server import MCPServer\n"
        "assert os.environ['LITERAL_SETTING'] == 'lit-value-canary-42', 'literal env missing'\n"
        f"pathlib.Path({str(marker)!r}).write_text('ok')\n"
        "mcp = MCPServer('needs-env')\n"
        "@mcp.tool()\n"
        "def ping() -> str:\n"
        "    '''Answer pong.'''\n"
        "    return 'pong'\n"
        "mcp.run()\n"
    )
    cfg = tmp_path / ".mcp.json"
    cfg.write_text(
        _json.dumps(
            {
                "mcpServers": {
                    "needs-env": {
                        "command": sys.executable,
                        "args": [str(server)],
                        "env": {"LITERAL_SETTING": "lit-value-canary-42"},
                    }
                }
            }
        )
    )
    assert literal_env(cfg, "needs-env") == {"LITERAL_SETTING": "lit-value-canary-42"}
    parsed = parse_config_file(cfg, ".mcp.json")
    assert parsed is not None
    specs, _ = parsed
    assert "lit-value-canary-42" not in repr(specs)
    results = connect_all(specs, root=tmp_path, timeout=20, progress=False, write=True)
    assert results[0].manifest is not None, results[0].problem
    assert [t.name for t in results[0].manifest.tools] == ["ping"] and marker.exists()
    snapshot = (tmp_path / ".cfmigrate" / "manifests").glob("*.json")
    assert all("lit-value-canary-42" not in p.read_text() for p in snapshot)
