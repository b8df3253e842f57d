"""Attacks on the code-mode sandbox, one per test, each asserting containment (issue 12).

One CodeMode session (a real MCP server over stdio, the generated `servers/` package, the sandbox)
is shared by most attacks. Three canaries live on the host side: in the host's environment, as a
literal value in the MCP config's `env`, and in the project's `.env`. Every text an attack can make
the host return (result text, stdout, stderr, error, notes) is collected, and the last test asserts
that no canary appears in any of it, nor in the audit log.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfmigrate.runtime import CodeMode, Limits, ToolUseResult, _sandbox
from cfmigrate.runtime.audit import AuditLog, truncate
from cfmigrate.runtime.executor import UnconfinedError, expected_layers, missing_reasons, prepare_work_dir

HOST_CANARY = "hostcanary-2b7e91d4"
CONFIG_CANARY = "cfgcanary-8f1c03aa"
DOTENV_CANARY = "dotenvcanary-5d9e6b21"
CANARIES = (HOST_CANARY, CONFIG_CANARY, DOTENV_CANARY)
OUTPUTS: list[str] = []  # everything any attack got back, checked for canaries at the end

ATTACK_SERVER = '''
import os
import sys
from pathlib import Path

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("attack")
RO = ToolAnnotations(readOnlyHint=True)
DATA = Path(os.environ["ATTACK_DATA"])
STATE = {"calls": 0}


@server.tool(annotations=RO)
def echo(text: str) -> str:
    """Return the text."""
    return text


@server.tool(annotations=RO)
def counter() -> str:
    """The server's pid and how many times this was called (state that a restart would lose)."""
    STATE["calls"] += 1
    return f"{os.getpid()}:{STATE['calls']}"


@server.tool(annotations=RO)
def deep(value: dict) -> str:
    """Accept any object."""
    return "ok"


@server.tool()
def wipe() -> str:
    """Delete the precious file (no annotations at all)."""
    (DATA / "precious.txt").unlink(missing_ok=True)
    return "wiped"


@server.tool(annotations=RO)
def contact() -> dict[str, str]:
    """A contact with PII in several disguises."""
    return {
        "note": "mail dana.whitfield@acme-logistics.example or call +1 415 555 0134",
        "alt": "dana\\uff20acme-logistics\\uff0eexample",
        "zw": "dana.w\\u200bhitfield@acme-logistics.example",
        "phone": "4155550134",
    }


@server.tool(annotations=ToolAnnotations(destructiveHint=False))
def save(text: str) -> str:
    """Append a line to the saved file."""
    with open(DATA / "saved.txt", "a") as fh:
        fh.write(text + "\\n")
    return "saved"


@server.tool(annotations=RO)
def noisy_crash() -> str:
    """Print the server's token to stderr, then die."""
    print("token=" + os.environ.get("ATTACK_TOKEN", ""), file=sys.stderr, flush=True)
    os._exit(3)


if __name__ == "__main__":
    server.run()
'''

RAW = """
import json, os, socket
_c = socket.socket(fileno=int(os.environ["CFMIGRATE_BRIDGE_FD"]))
def connect():
    _c.send(b"connect")
    msg, fds, _, _ = socket.recv_fds(_c, 64, 1)
    return socket.socket(fileno=fds[0]) if fds else None
_s = connect()
_f = _s.makefile("rb")
def raw(obj):
    data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    _s.sendall(data + b"\\n")
    line = _f.readline()
    return json.loads(line) if line else None
"""


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from test_runtime_codemode import generate_package

    root = tmp_path_factory.mktemp("attack-repo")
    (root / "attack_server.py").write_text(ATTACK_SERVER)
    (root / "data").mkdir()
    (root / ".env").write_text(f"API_KEY={DOTENV_CANARY}\n")
    entry = {
        "command": sys.executable,
        "args": ["attack_server.py"],
        "env": {"ATTACK_TOKEN": CONFIG_CANARY, "ATTACK_DATA": str(root / "data")},
    }
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"attack": entry, "fragile": entry}}))
    saved = os.environ.get("CFM_ATTACK_HOST_CANARY")
    os.environ["CFM_ATTACK_HOST_CANARY"] = HOST_CANARY
    try:
        generate_package(root)
        yield root
    finally:
        if saved is None:
            os.environ.pop("CFM_ATTACK_HOST_CANARY", None)
        else:
            os.environ["CFM_ATTACK_HOST_CANARY"] = saved


LIMITS = Limits(timeout_s=8, cpu_s=4, fsize_mb=4, disk_mb=16, max_output_bytes=8_000)


@pytest.fixture(scope="module")
def cm(loop: asyncio.AbstractEventLoop, repo: Path) -> Iterator[CodeMode]:
    mode = CodeMode(
        servers_dir=repo / "servers",
        config=repo / ".mcp.json",
        work_dir=repo / "work",
        limits=LIMITS,
        audit_log=repo / "audit.jsonl",
    )
    loop.run_until_complete(mode.__aenter__())
    yield mode
    loop.run_until_complete(mode.__aexit__(None, None, None))


def run(loop: asyncio.AbstractEventLoop, cm: CodeMode, code: str) -> ToolUseResult:
    result = loop.run_until_complete(asyncio.wait_for(cm.handle_tool_use("execute_code", {"code": code}), 60))
    OUTPUTS.append(result.text)
    if result.execution is not None:
        ex = result.execution
        OUTPUTS.extend([ex.stdout, ex.stderr, ex.error or "", *ex.notes])
    return result


def replies(result: ToolUseResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.execution.stdout.splitlines()] if result.execution else []


def assert_alive(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    after = run(loop, cm, "print('alive')")
    assert not after.is_error and after.execution and after.execution.stdout == "alive\n", after.text


def last_audit(repo: Path, event: str) -> dict[str, Any]:
    lines = [json.loads(x) for x in (repo / "audit.jsonl").read_text().splitlines()]
    return next(x for x in reversed(lines) if x["event"] == event)


# ---------------------------------------------------------------------------------------- 1. fail closed

WEAK_KERNEL = """
import asyncio, json, sys, tempfile
from pathlib import Path
from cfmigrate.runtime import _sandbox
# the weak kernel: user namespaces refused, Landlock absent
_sandbox.install_seccomp([("unshare", _sandbox.EPERM, None), ("ll_create", _sandbox.ENOSYS, None)])
from cfmigrate.runtime import CodeMode, CodeModeError, Limits

async def main():
    out = {}
    base = Path(tempfile.mkdtemp())
    base.chmod(0o711)
    work = base / "work"
    try:
        async with CodeMode(servers_dir=None, config=None, work_dir=work, audit_log=False):
            out["refused"] = None
    except CodeModeError as exc:
        out["refused"] = str(exc)
    async with CodeMode(servers_dir=None, config=None, work_dir=work, audit_log=False,
                        allow_unconfined=True, limits=Limits(timeout_s=10)) as cm:
        result = await cm.handle_tool_use("execute_code", {"code": "import os; print('ran as', os.getuid())"})
        out["ran"] = result.text
        out["report"] = [list(p) for p in cm.protections()]
    print(json.dumps(out))

asyncio.run(main())
"""


def test_weak_kernel_is_refused_and_the_opt_in_report_is_truthful(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", WEAK_KERNEL], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    refused = out["refused"]
    assert refused and "refuses to run scripts" in refused
    for needed in ("filesystem view", "network namespace", "PID namespace", "allow_unconfined=True",
                   "CFMIGRATE_ALLOW_UNCONFINED=1"):  # fmt: skip
        assert needed in refused, refused
    report = {name: (enforced, how) for name, enforced, how in out["report"]}
    assert report["minimum confinement"][0] is False and report["minimum confinement"][1].startswith(
        "UNCONFINED"
    )
    for layer in ("isolated filesystem view", "network blocked", "whole process tree killed at the end",
                  "reads confined", "credentials stay in the host", "scrubbed environment"):  # fmt: skip
        assert report[layer][0] is False, (layer, report[layer])
    assert report["syscall filter (seccomp)"][0] is True  # still installed on the weak kernel
    assert report["private IPC namespace"][0] is False and report["host name hidden"][0] is False
    assert (
        report["disk space"][1].startswith(f"{Limits().disk_mb} MB") and "polled" in report["disk space"][1]
    )
    assert "ran as" in out["ran"]
    uid = int(out["ran"].split()[-1])
    # as root without a view the sandbox uid needs Python on world-reachable paths; where it is not
    # (pyenv under /root here), the opted-in script runs as root and the report says so in capitals
    privileges = report["no privileges"]
    assert (uid != 0 and privileges[0]) or (not privileges[0] and "RUNS AS ROOT" in privileges[1])
    OUTPUTS.append(proc.stdout + proc.stderr)


def test_other_platforms_refuse_with_the_opt_in_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sandbox, "LINUX", False)
    monkeypatch.setattr(_sandbox.sys, "platform", "darwin")
    report = _sandbox.setup_worker({"uid": None, "sys_path": []})
    from cfmigrate.runtime.executor import Isolation

    missing = _sandbox.missing_layers(expected_layers(report, Isolation()), bool(report["root"]))
    assert set(missing) >= {"filesystem", "network", "pid"}
    message = str(UnconfinedError(missing, missing_reasons(report)))
    assert "darwin has no supported sandbox backend" in message and "allow_unconfined=True" in message


def test_report_comes_from_the_layers_the_script_really_had(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    run(loop, cm, "print(1)")
    from cfmigrate.runtime import LocalExecutor

    assert isinstance(cm.executor, LocalExecutor) and cm.session is not None
    worker = cm.executor._workers[cm.session.id]
    assert worker.applied is not None and {"seccomp", "pidns", "netns"} <= set(worker.applied)
    report = {p.name: p for p in cm.protections()}
    assert report["minimum confinement"].enforced and report["syscall filter (seccomp)"].enforced


# ---------------------------------------------------------------------------------------- 2. the host decides


def test_forged_status_records_do_not_change_the_outcome(
    loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path
) -> None:
    forge = (
        "import json, os\n"
        "for fd in range(3, 64):\n"
        "    for rec in ({'kind': 'done', 'ok': True}, {'kind': 'exit', 'code': 0}):\n"
        "        try: os.write(fd, (json.dumps(rec) + '\\n').encode())\n"
        "        except OSError: pass\n"
        "raise RuntimeError('the script failed')\n"
    )
    result = run(loop, cm, forge)
    assert result.is_error and result.execution is not None and not result.execution.ok
    assert result.execution.exit_code == 1 and "RuntimeError: the script failed" in (
        result.execution.error or ""
    )
    assert last_audit(repo, "execution")["outcome"] == "error"


def test_a_fake_success_record_with_a_failing_exit_is_a_failure(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    result = run(loop, cm, 'import os\nos.write(4, b\'{"kind": "done"}\\n\')\nos._exit(7)')
    assert result.is_error and result.execution and result.execution.exit_code == 7
    assert "exited with status 7" in result.text


def test_only_stdio_bridge_and_result_fds_are_inherited(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    code = (
        "import os\nopen_fds = []\nfor fd in range(0, 1024):\n"
        "    try: os.fstat(fd); open_fds.append(fd)\n    except OSError: pass\nprint(open_fds)"
    )
    result = run(loop, cm, code)
    assert result.execution is not None and result.execution.stdout.strip() == "[0, 1, 2, 3, 4]", result.text


def test_result_channel_flood_is_bounded(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run(loop, cm, "import os\nfor _ in range(64):\n    os.write(4, b'[' * 65536)\nprint('done')")
    assert not result.is_error and result.execution and result.execution.stdout == "done\n"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 64 * 1024  # KB: under 64 MB more


def test_bad_tool_inputs_never_raise_and_are_audited(
    loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path
) -> None:
    nested: Any = "x"
    for _ in range(5000):
        nested = {"code": nested}
    for payload in (
        {"code": 5},
        None,
        nested,
        "{not json",
        {"code": ["print(1)"]},
        [1, 2],
        7,
        {"code": "x" * 10},
    ):
        result = loop.run_until_complete(cm.handle_tool_use("execute_code", payload))  # type: ignore[arg-type]
        OUTPUTS.append(result.text)
        assert result.is_error
    assert last_audit(repo, "execution")["outcome"] == "error"  # the NameError of "xxxxxxxxxx" was audited


# ---------------------------------------------------------------------------------------- 3. bridge per run


def test_no_bridge_socket_path_exists_for_anyone(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = (
        "import os, stat, sys\nfound = []\n"
        "skip = {'/usr', '/lib', '/lib32', '/lib64', '/libx32', '/bin', '/sbin', '/etc', *sys.path}\n"
        "for root, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if os.path.join(root, d) not in skip]\n"
        "    for name in files:\n"
        "        try:\n"
        "            if stat.S_ISSOCK(os.lstat(os.path.join(root, name)).st_mode): found.append(name)\n"
        "        except OSError: pass\n"
        "print(found, sorted(k for k in os.environ if 'BRIDGE' in k))"
    )
    result = run(loop, cm, code)
    assert result.execution and result.execution.stdout.strip() == "[] ['CFMIGRATE_BRIDGE_FD']", result.text
    assert cm.session is not None and not list(cm.session.runtime_dir.rglob("*.sock"))
    visible = run(loop, cm, f"import os\nprint(os.path.exists({str(cm.session.runtime_dir)!r}))")
    assert visible.execution and visible.execution.stdout.strip() == "False"


def test_setuid_files_do_not_survive_and_the_work_dir_is_private(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    code = (
        "import os, shutil\n"
        "shutil.copy('/bin/sh', 'workspace/sh')\nos.chmod('workspace/sh', 0o6755)\n"
        "print(oct(os.stat('workspace/sh').st_mode & 0o7777), bool(os.statvfs('workspace').f_flag & os.ST_NOSUID))"
    )
    result = run(loop, cm, code)
    assert result.execution and result.execution.stdout.split() == ["0o6755", "True"], result.text
    planted = cm.work_dir / "workspace" / "sh"
    assert planted.exists() and not planted.stat().st_mode & (stat.S_ISUID | stat.S_ISGID)
    assert cm.work_dir.stat().st_mode & 0o007 == 0  # no access at all for other users
    assert cm.session is not None and cm.session.runtime_dir.stat().st_mode & 0o077 == 0


def test_a_background_process_cannot_call_tools_after_its_script(
    loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path
) -> None:
    (repo / "data" / "precious.txt").write_text("keep")
    code = RAW + (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid(); time.sleep(1.5)\n"
        "    try: raw({'id': 9, 'server': 'attack', 'tool': 'save', 'arguments': {'text': 'LATE'}})\n"
        "    finally: os._exit(0)\n"
        "print('parent leaves')\n"
    )
    run(loop, cm, code)
    time.sleep(2)
    assert_alive(loop, cm)
    saved = repo / "data" / "saved.txt"
    assert not saved.exists() or "LATE" not in saved.read_text()
    assert cm._bridge is not None
    late = loop.run_until_complete(
        cm._bridge.answer(b'{"id": 1, "server": "attack", "tool": "echo", "arguments": {}}')
    )
    assert late["ok"] is False and late["error"]["kind"] == "denied"


# ---------------------------------------------------------------------------------------- 4. limits


def host_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_oversized_request_line_is_refused_without_host_memory_growth(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = RAW + (
        "try:\n"
        '    _s.sendall(b\'{"id": 1, "server": "attack", "tool": "echo", "arguments": {"text": "\' + b\'x\' * (32 << 20))\n'
        "except OSError:\n"
        "    pass  # the host stopped reading and closed its end\n"
        "print(_f.readline().decode().strip())\n"
    )
    started = time.monotonic()
    result = run(loop, cm, code)
    assert time.monotonic() - started < 8
    reply = json.loads(result.execution.stdout) if result.execution else {}
    assert reply["ok"] is False and "longer than" in reply["error"]["message"], result.text
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 48 * 1024  # KB
    assert_alive(loop, cm)


def test_deep_arguments_are_refused_and_the_server_keeps_its_state(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    code = RAW + (
        "print(json.dumps(raw({'id': 1, 'server': 'attack', 'tool': 'counter', 'arguments': {}})))\n"
        'print(json.dumps(raw(b\'{"id": 2, "server": "attack", "tool": "deep", "arguments": {"value": \''
        " + b'[' * 900 + b']' * 900 + b'}}')))\n"
        'print(json.dumps(raw(b\'{"id": 3, "server": "attack", "tool": "deep", "arguments": {"value": \''
        " + b'[' * 40 + b']' * 40 + b'}}')))\n"
        "print(json.dumps(raw({'id': 4, 'server': 'attack', 'tool': 'counter', 'arguments': {}})))\n"
    )
    first, deep, medium, last = replies(run(loop, cm, code))
    assert deep["ok"] is False and "nested deeper" in deep["error"]["message"]
    assert medium["ok"] is False and "nested deeper than 32" in medium["error"]["message"]
    pid_before, n_before = first["result"]["content"][0]["text"].split(":")
    pid_after, n_after = last["result"]["content"][0]["text"].split(":")
    assert pid_before == pid_after and int(n_after) == int(n_before) + 1  # same server process, state kept


def test_unknown_names_are_refused_before_logging(
    loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path
) -> None:
    code = RAW + (
        "print(json.dumps(raw({'id': 1, 'server': 'Z' * 20000, 'tool': 'echo', 'arguments': {}})))\n"
        "print(json.dumps(raw({'id': 2, 'server': 'nope', 'tool': 'echo', 'arguments': {'a': 'Q' * 1000}})))\n"
        "print(json.dumps(raw({'id': 3, 'server': 'attack', 'tool': 'hidden_tool', 'arguments': {}})))\n"
    )
    too_long, unknown_server, unlisted = replies(run(loop, cm, code))
    assert too_long["ok"] is False and "at most 128 characters" in too_long["error"]["message"]
    assert unknown_server["ok"] is False and "unknown server 'nope'" in unknown_server["error"]["message"]
    assert unlisted["ok"] is False and "lists no tool 'hidden_tool'" in unlisted["error"]["message"]
    log = (repo / "audit.jsonl").read_text()
    assert "Z" * 200 not in log and "hidden_tool" not in log and "Q" * 100 not in log


def test_the_51st_tool_call_is_refused(loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path) -> None:
    code = RAW + (
        "oks = 0\nrefusal = None\n"
        "for i in range(60):\n"
        "    r = raw({'id': i, 'server': 'attack', 'tool': 'echo', 'arguments': {'text': str(i)}})\n"
        "    if r['ok']: oks += 1\n"
        "    elif refusal is None: refusal = r['error']\n"
        "print(oks); print(json.dumps(refusal))\n"
    )
    result = run(loop, cm, code)
    assert result.execution is not None
    oks, refusal = result.execution.stdout.splitlines()
    assert int(oks) == LIMITS.max_tool_calls == 50
    assert json.loads(refusal)["kind"] == "denied" and "tool call limit" in json.loads(refusal)["message"]
    assert last_audit(repo, "execution")["tool_calls"] == 50


def test_descriptor_games_do_not_cost_the_host_descriptors(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    before = host_fds()
    code = RAW + (
        "import os\ncopies = []\n"
        "for _ in range(200):\n"
        "    try: copies.append(os.dup(3))\n    except OSError: break\n"
        # the host may hang up on a bridge that misbehaves: a refused write is fine, a host descriptor lost is not
        "for fd in copies:\n"
        "    try: os.write(fd, b'{\"id\": 1}\\n')\n"
        "    except OSError: pass\n"
        "print(len(copies))\n"
    )
    result = run(loop, cm, code)
    assert (
        result.execution and result.execution.stdout.strip().isdigit() and int(result.execution.stdout) > 100
    ), result.text
    assert_alive(loop, cm)
    assert host_fds() <= before + 2


def test_garbage_on_the_bridge_gets_error_replies_never_an_exception(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    code = RAW + (
        "for line in [b'\\xff\\xfe\\x00', b'[1, 2]', b'{\"id\": \"x\", \"server\": 1}', b'{\"id\": 1e999}',"
        ' b\'{"server": "attack", "tool": "echo", "arguments": [1]}\', b\'1\' * 5000 + b\'e1\']:\n'
        "    print(json.dumps(raw(line)))\n"
        "print(json.dumps(raw({'id': 7, 'server': 'attack', 'tool': 'echo', 'arguments': {'text': 'fine'}})))\n"
    )
    got = replies(run(loop, cm, code))
    assert [r["ok"] for r in got] == [False] * 6 + [True]
    assert got[-1]["id"] == 7


def test_audit_fields_are_cut_and_the_log_rotates(tmp_path: Path) -> None:
    assert len(truncate("a" * 100_000)) < 2_100
    nested: Any = []
    for _ in range(1000):
        nested = [nested]
    assert "nested deeper" in json.dumps(truncate(nested))
    log = AuditLog(tmp_path / "audit.jsonl", session="s", log_payloads=True, max_bytes=20_000)
    for i in range(200):
        log.tool_call(server="s", tool="t", via="code", duration_ms=1, outcome="ok", script_sha256=None,
                      arguments={"blob": "x" * 50_000, "i": i})  # fmt: skip
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.jsonl.3"]
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) < 4 * 20_000 + 10_000


# ---------------------------------------------------------------------------------------- 5. policy


def test_an_unannotated_tool_counts_as_destructive(
    loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path
) -> None:
    precious = repo / "data" / "precious.txt"
    precious.write_text("keep")
    result = run(loop, cm, "from servers.attack import wipe\nprint((await wipe()).text)")
    assert result.is_error and "not marked read-only" in result.text and precious.read_text() == "keep"


# ---------------------------------------------------------------------------------------- 6. links


def test_planted_symlinks_in_a_kept_work_dir_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    prepare_work_dir(work, None, None)
    (work / "skills" / "__init__.py").unlink()
    (work / "skills" / "__init__.py").symlink_to(outside / "created.py")
    (work / ".tmp").rmdir()
    (work / ".tmp").symlink_to(outside)
    with pytest.raises(Exception, match="symlink"):
        prepare_work_dir(work, None, 12345)
    assert not (outside / "created.py").exists() and os.stat(outside).st_uid == os.getuid()
    (work / ".tmp").unlink()
    prepare_work_dir(work, None, None)
    assert (work / "skills" / "__init__.py").is_symlink() and not (outside / "created.py").exists()


# ---------------------------------------------------------------------------------------- 7. sessions


def test_a_crashing_server_keeps_its_stderr_on_the_host(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    result = run(
        loop,
        cm,
        RAW
        + "print(json.dumps(raw({'id': 1, 'server': 'fragile', 'tool': 'noisy_crash', 'arguments': {}})))",
    )
    reply = replies(result)[0]
    assert (
        reply["ok"] is False
        and "token=" not in reply["error"]["message"]
        and "stderr" not in reply["error"]["message"]
    )
    again = run(
        loop,
        cm,
        RAW
        + "print(json.dumps(raw({'id': 1, 'server': 'fragile', 'tool': 'echo', 'arguments': {'text': 'back'}})))",
    )
    assert replies(again)[0]["ok"] is True, again.text  # a fresh session


def test_a_client_side_error_does_not_restart_the_server(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    from cfmigrate.runtime.sessions import SessionError

    assert cm.sessions is not None
    first = loop.run_until_complete(cm.sessions.call_tool("attack", "counter", {}))
    nested: Any = []
    for _ in range(5000):
        nested = [nested]
    with pytest.raises(SessionError) as err:
        loop.run_until_complete(cm.sessions.call_tool("attack", "deep", {"value": {"v": nested}}))
    assert err.value.kind == "invalid"
    second = loop.run_until_complete(cm.sessions.call_tool("attack", "counter", {}))
    pid1, n1 = first["content"][0]["text"].split(":")
    pid2, n2 = second["content"][0]["text"].split(":")
    assert pid1 == pid2 and int(n2) == int(n1) + 1


# ---------------------------------------------------------------------------------------- 8. PII


def test_pii_is_tokenised_before_it_enters_the_sandbox(loop: asyncio.AbstractEventLoop, repo: Path) -> None:
    secrets = ["dana.whitfield@acme-logistics.example", "415 555 0134", "4155550134", "dana＠acme"]
    code = (
        "import base64, json\nfrom servers.attack import contact, save\n"
        "r = await contact()\n"
        "blob = json.dumps(r.structured_content)\n"
        "print(blob)\nprint(base64.b64encode(blob.encode()).decode())\nprint(' '.join(blob))\n"
        "await save(text=r.structured_content['phone'] + ' ' + r.structured_content['note'].split()[1])\n"
    )

    async def scenario() -> ToolUseResult:
        async with CodeMode(servers_dir=repo / "servers", config=repo / ".mcp.json", mask_pii=True,
                            limits=LIMITS, audit_log=False) as masked:  # fmt: skip
            return await masked.handle_tool_use("execute_code", {"code": code})

    result = loop.run_until_complete(scenario())
    OUTPUTS.append(result.text)
    assert not result.is_error, result.text
    texts = [result.text, result.execution.stdout if result.execution else ""]
    decoded = base64.b64decode(result.execution.stdout.splitlines()[1]).decode() if result.execution else ""
    for text in [*texts, decoded, "".join(texts).replace(" ", "")]:
        for value in secrets:
            assert value not in text and value.replace(" ", "") not in text.replace(" ", "")
    assert "[EMAIL_" in texts[1] and "[PHONE_" in texts[1]
    saved = (repo / "data" / "saved.txt").read_text().splitlines()[-1]
    assert saved == "4155550134 dana.whitfield@acme-logistics.example"  # restored on the way to a tool


# ---------------------------------------------------------------------------------------- 9. kernel surface

SYSCALLS = """
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def call(nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return 'ok' if r >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')
x86 = os.uname().machine == 'x86_64'
"""


@pytest.mark.parametrize(
    ("what", "code", "allowed"),
    [
        ("unshare user ns", "print(call(272 if x86 else 97, 0x10000000))", {"EPERM"}),
        ("unshare net ns", "print(call(272 if x86 else 97, 0x40000000))", {"EPERM"}),
        ("setns", "print(call(308 if x86 else 268, 0, 0))", {"EPERM"}),
        ("clone new ns", "print(call(56 if x86 else 220, 0x20000000 | 17, 0, 0, 0, 0))", {"EPERM"}),
        ("io_uring", "print(call(425, 8, 0))", {"EPERM"}),
        ("bpf", "print(call(321 if x86 else 280, 0, 0, 0))", {"EPERM"}),
        ("keyctl", "print(call(250 if x86 else 219, 0, 0))", {"EPERM"}),
        ("userfaultfd", "print(call(323 if x86 else 282, 0))", {"EPERM"}),
        ("ptrace", "print(call(101 if x86 else 117, 16, 1, 0, 0))", {"EPERM"}),
        ("vsock", "\ntry:\n    socket.socket(40, socket.SOCK_STREAM); print('ok')\nexcept OSError as e: print(errno.errorcode[e.errno])", {"EAFNOSUPPORT"}),
        ("netlink", "\ntry:\n    socket.socket(16, socket.SOCK_RAW, 0); print('ok')\nexcept OSError as e: print(errno.errorcode[e.errno])", {"EAFNOSUPPORT"}),
    ],
)  # fmt: skip
def test_dangerous_syscalls_are_denied(
    loop: asyncio.AbstractEventLoop, cm: CodeMode, what: str, code: str, allowed: set[str]
) -> None:
    result = run(loop, cm, SYSCALLS + code)
    assert result.execution and result.execution.stdout.strip() in allowed, (what, result.text)


def test_threads_and_subprocesses_still_work(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = (
        "import subprocess, threading\nbox = []\nt = threading.Thread(target=lambda: box.append(1)); t.start(); t.join()\n"
        "print(box, subprocess.run(['/bin/echo', 'hi'], capture_output=True, text=True).stdout.strip())"
    )
    result = run(loop, cm, code)
    assert result.execution and result.execution.stdout.strip() == "[1] hi", result.text


def test_the_interpreter_prefix_is_not_visible(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    venv_cfg = Path(sys.prefix) / "pyvenv.cfg"
    code = f"import os\nprint(os.path.exists({str(venv_cfg)!r}), os.path.exists({sys.prefix + '/bin'!r}))"
    result = run(loop, cm, code)
    assert result.execution and result.execution.stdout.strip() == "False False", result.text
    assert venv_cfg.exists() or sys.prefix == sys.base_prefix


def disk_bytes(work_dir: Path) -> int:
    """What the host sees of the writable dirs on disk: bytes allocated by every file (links not followed)."""
    total = 0
    for name in ("workspace", "skills", ".tmp"):
        for path in (work_dir / name).rglob("*"):
            st = path.lstat()
            if stat.S_ISREG(st.st_mode):
                total += st.st_blocks * 512
    return total


def clear_workspace(work_dir: Path) -> None:
    import shutil

    for path in (work_dir / "workspace").iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def test_the_workspace_is_a_tmpfs_of_exactly_the_cap(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = (
        "import errno, os\nwrote = 0\ntry:\n"
        "    for i in range(200):\n"
        "        with open(f'workspace/fill{i}', 'wb') as fh:\n"
        "            for _ in range(16):\n"
        "                wrote += fh.write(os.urandom(1 << 16))\n"
        "except OSError as exc:\n    print(errno.errorcode[exc.errno], wrote)\n"
        "st = os.statvfs('workspace')\nprint(st.f_blocks * st.f_frsize, bool(st.f_flag & os.ST_NOSUID), bool(st.f_flag & os.ST_NODEV))\n"
    )
    result = run(loop, cm, code)
    assert result.execution is not None, result.text
    lines = result.execution.stdout.split("\n")
    errname, wrote = lines[0].split()
    assert errname == "ENOSPC" and int(wrote) <= LIMITS.disk_mb << 20, result.text
    assert lines[1].split() == [str(LIMITS.disk_mb << 20), "True", "True"], result.text
    # the host sees no more than the cap on disk, and the report names the mechanism really in force
    assert disk_bytes(cm.work_dir) <= LIMITS.disk_mb << 20
    assert (
        sum(p.stat().st_size for p in (cm.work_dir / "workspace").glob("fill*")) >= (LIMITS.disk_mb - 2) << 20
    )
    report = {p.name: p for p in cm.protections()}
    assert report["disk space"].enforced and "tmpfs" in report["disk space"].how, report["disk space"]
    assert cm.session is not None and "tmpfs" in (cm.executor._workers[cm.session.id].applied or [])  # type: ignore[attr-defined]
    # what the host deletes on disk is gone in the sandbox too (the disk is what counts between scripts)
    clear_workspace(cm.work_dir)
    after = run(loop, cm, "import os\nprint(os.listdir('workspace'), os.statvfs('workspace').f_bfree > 0)")
    assert after.execution and after.execution.stdout.strip() == "[] True", after.text


def test_empty_files_cannot_exhaust_inodes(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = (
        "import errno, os\nos.makedirs('workspace/many', exist_ok=True)\nmade = 0\ntry:\n"
        "    for i in range(200000):\n        open(f'workspace/many/{i}', 'w').close(); made += 1\n"
        "except OSError as exc:\n    print(errno.errorcode[exc.errno], made)"
    )
    result = run(loop, cm, code)
    inodes = (LIMITS.disk_mb << 20) // _sandbox.ENTRY_COST
    assert result.execution is not None and result.execution.stdout.split()[0] == "ENOSPC", result.text
    assert int(result.execution.stdout.split()[1]) < inodes
    assert len(os.listdir(cm.work_dir / "workspace" / "many")) < inodes
    clear_workspace(cm.work_dir)


def test_the_workspace_cannot_be_remounted_without_its_size(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    code = textwrap.dedent(
        """
        import ctypes, errno, os
        libc = ctypes.CDLL(None, use_errno=True)
        def tried(result):
            return 'ok' if result == 0 else errno.errorcode.get(ctypes.get_errno(), '?')
        ws = os.path.abspath('workspace').encode()
        print(tried(libc.mount(None, ws, None, 32 | 4096, b'size=4g')))           # remount, bigger
        print(tried(libc.mount(b'tmpfs', ws, b'tmpfs', 0, b'size=4g')))           # a new tmpfs on top
        print(tried(libc.mount(b'/', ws, None, 4096, None)))                      # bind something else
        print(tried(libc.umount2(ws, 2)))                                         # uncover the disk dir
        st = os.statvfs('workspace')
        print(st.f_blocks * st.f_frsize)
        """
    )
    result = run(loop, cm, code)
    assert result.execution is not None, result.text
    assert result.execution.stdout.split() == ["EPERM"] * 4 + [str(LIMITS.disk_mb << 20)], result.text


def test_hard_links_cannot_multiply_what_reaches_the_disk(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    code = (
        "import os\nwith open('workspace/base', 'wb') as fh: fh.write(os.urandom(3 << 20))\nmade = 0\n"
        "try:\n    for i in range(2000):\n        os.link('workspace/base', f'workspace/link{i}'); made += 1\n"
        "except OSError:\n    pass\nprint(made)"
    )
    result = run(loop, cm, code)
    assert result.execution is not None and int(result.execution.stdout) > 10, result.text
    # on tmpfs they cost one inode each; as copies they would be GBs: the save stops at the cap
    assert disk_bytes(cm.work_dir) <= LIMITS.disk_mb << 20
    assert result.is_error and "not saved completely" in result.text, result.text
    clear_workspace(cm.work_dir)
    assert_alive(loop, cm)


def test_a_very_deep_tree_does_not_break_the_session(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = (
        "import os\nos.mkdir('workspace/deep')\nos.chdir('workspace/deep')\n"
        "for _ in range(1500):\n    os.mkdir('d'); os.chdir('d')\nopen('bottom', 'w').write('x')\nprint('built')"
    )
    result = run(loop, cm, code)
    assert result.execution and result.execution.stdout == "built\n", result.text
    assert "not saved completely" in result.text and "nested more than" in result.text, result.text
    after = run(loop, cm, "import os\nprint(sorted(os.listdir('workspace')))")
    assert after.execution and after.execution.stdout.strip() in ("[]", "['deep']"), after.text
    clear_workspace(cm.work_dir)
    assert_alive(loop, cm)


def test_runs_cannot_pile_up_more_than_the_cap_on_disk(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    """Each save may copy up to the cap; what is on disk already counts, so hard-link copies do not accumulate."""
    for k in range(3):
        code = (
            f"import os\nwith open('workspace/f{k}', 'wb') as fh: fh.write(os.urandom(2 << 20))\n"
            f"for i in range(60):\n    os.link('workspace/f{k}', f'workspace/f{k}-{{i}}')\nprint('ok')"
        )
        result = run(loop, cm, code)
        assert result.execution and result.execution.stdout == "ok\n", result.text
        assert disk_bytes(cm.work_dir) <= LIMITS.disk_mb << 20, k
    clear_workspace(cm.work_dir)


def test_more_on_disk_than_fits_is_left_out_not_refused(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    for i in range(5):  # the host (or another session) put 20 MB in a 16 MB workspace
        (cm.work_dir / "workspace" / f"host{i}.bin").write_bytes(os.urandom(4 << 20))
    result = run(
        loop, cm, "import os\nprint(len(os.listdir('workspace')))\nopen('workspace/mine.txt', 'w').write('x')"
    )
    assert result.execution is not None and 0 < int(result.execution.stdout) < 6, result.text
    assert f"did not fit in the sandbox's {LIMITS.disk_mb} MB workspace" in result.text, result.text
    assert sorted(p.name for p in (cm.work_dir / "workspace").iterdir())[:5] == [
        f"host{i}.bin" for i in range(5)
    ]
    clear_workspace(cm.work_dir)


def test_a_sqlite_database_in_the_workspace_lives_across_runs(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    """A real shape: a script keeps state in SQLite (locks and journal on the tmpfs), the next one and the host read it."""
    make = (
        "import sqlite3\ndb = sqlite3.connect('workspace/state.db')\n"
        "db.execute('create table runs (n integer)')\ndb.executemany('insert into runs values (?)', [(i,) for i in range(500)])\n"
        "db.commit()\nprint('made')"
    )
    assert run(loop, cm, make).text == "made"
    grow = (
        "import sqlite3\ndb = sqlite3.connect('workspace/state.db')\ndb.execute('insert into runs values (500)')\n"
        "db.commit()\nprint(db.execute('select count(*) from runs').fetchone()[0])"
    )
    assert run(loop, cm, grow).text == "501"
    import sqlite3

    with sqlite3.connect(cm.work_dir / "workspace" / "state.db") as db:
        assert db.execute("select max(n) from runs").fetchone()[0] == 500
    clear_workspace(cm.work_dir)


def test_sparse_files_stay_sparse_on_disk(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = "with open('workspace/sparse', 'wb') as fh:\n    fh.truncate(3 << 20)\n    fh.write(b'end')\nprint('ok')"
    result = run(loop, cm, code)
    assert not result.is_error, result.text
    st = (cm.work_dir / "workspace" / "sparse").stat()
    assert st.st_size == 3 << 20 and st.st_blocks * 512 < 1 << 20
    clear_workspace(cm.work_dir)


def test_a_timed_out_script_keeps_what_it_wrote(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = "open('workspace/progress.txt', 'w').write('half done')\nimport time\nwhile True: time.sleep(1)"
    result = run(loop, cm, code)
    assert result.execution is not None and result.execution.timed_out, result.text
    assert (cm.work_dir / "workspace" / "progress.txt").read_text() == "half done"
    clear_workspace(cm.work_dir)


def test_before_any_script_the_probe_reports_the_tmpfs(tmp_path: Path) -> None:
    from cfmigrate.runtime import LocalExecutor, SandboxSession

    session = SandboxSession(id="unopened", work_dir=tmp_path / "work", runtime_dir=tmp_path / "rt")
    disk = next(p for p in LocalExecutor().protections(session) if p.name == "disk space")
    assert disk.enforced and "one tmpfs of that size" in disk.how, disk


def test_the_disk_line_follows_what_the_scripts_process_saw() -> None:
    from cfmigrate.runtime.executor import Isolation, SandboxSession, describe_protections

    session = SandboxSession(id="x", work_dir=Path("/nonexistent/w"), runtime_dir=Path("/nonexistent/r"))
    report = {"root": True, "view": True, "netns": True, "pidns": True, "uid": 5, "landlock_abi": 7,
              "workspace": "tmpfs", "platform": "linux"}  # fmt: skip
    layers = ["view", "netns", "pidns", "uid", "landlock", "seccomp"]

    def disk(**extra: Any) -> tuple[bool, str]:
        line = next(
            p
            for p in describe_protections(dict(report, **extra), session, Isolation())
            if p.name == "disk space"
        )
        return line.enforced, line.how

    assert disk()[0] and "one tmpfs" in disk()[1]  # before any script: the worker's word
    assert disk(applied=[*layers, "tmpfs"])[0]
    assert (
        disk(applied=layers) == (False, disk(applied=layers)[1]) and "did not find" in disk(applied=layers)[1]
    )
    assert "polled" in disk(workspace="disk", errors={"workspace tmpfs": "EPERM"})[1]


def test_without_tmpfs_the_polled_cap_is_reported_and_enforced(tmp_path: Path) -> None:
    from cfmigrate.runtime import Isolation, LocalExecutor, SandboxSession

    async def scenario() -> tuple[Any, list[Any]]:
        executor = LocalExecutor(isolation=Isolation(tmpfs=False))
        session = SandboxSession(id="polled", work_dir=tmp_path / "work", runtime_dir=tmp_path / "rt",
                                 limits=Limits(timeout_s=20, disk_mb=4))  # fmt: skip
        try:
            code = "import os\nfor i in range(100):\n    open(f'workspace/f{i}', 'wb').write(os.urandom(1 << 20))"
            result = await executor.run(code, session=session)
            return result, executor.protections(session)
        finally:
            await executor.aclose()

    result, report = loop_run(scenario())
    disk = next(p for p in report if p.name == "disk space")
    assert "polled" in disk.how and "tmpfs" not in disk.how.split(":")[0], disk
    assert not result.ok and "disk limit" in result.text(), result.text()


def loop_run(coro: Any) -> Any:
    return asyncio.new_event_loop().run_until_complete(coro)


def test_ipc_objects_die_with_the_script(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    """SysV shared memory used to outlive the script in the host's IPC namespace (host RAM outside every
    limit, and a channel from one run, or session, to the next)."""
    key = 0x5EED0000 + os.getpid() % 0xFFFF
    make = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        f"print(libc.shmget({key}, 1 << 20, 0o1000 | 0o600) >= 0, libc.shmget({key + 1}, 1 << 20, 0o1000 | 0o666) >= 0)"
    )
    made = run(loop, cm, make)
    assert made.execution and made.execution.stdout.split() == ["True", "True"], made.text
    host_keys = {int(line.split()[0]) for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]}
    assert key not in host_keys and key + 1 not in host_keys
    find = f"import ctypes\nlibc = ctypes.CDLL(None)\nprint(libc.shmget({key}, 0, 0), libc.shmget({key + 1}, 0, 0))"
    found = run(loop, cm, find)
    assert found.execution and found.execution.stdout.split() == ["-1", "-1"], found.text
    report = {p.name: p for p in cm.protections()}
    assert report["private IPC namespace"].enforced


PEEK = (
    "import os\nprint(sorted(os.listdir('.')))\n"
    "for name in ('.env', '.mcp.json', 'audit.jsonl'):\n"
    "    try:\n        print(open(name).read())\n    except OSError as exc:\n        print(name, type(exc).__name__)\n"
    "from servers.attack import echo\nprint('servers ok')"
)


def test_a_project_root_as_work_dir_shows_no_secrets(loop: asyncio.AbstractEventLoop, repo: Path) -> None:
    """CodeMode(work_dir=<project root>) used to show the whole root read-only: .env, .mcp.json, the audit log."""

    async def scenario() -> ToolUseResult:
        async with CodeMode(servers_dir=repo / "servers", config=repo / ".mcp.json", work_dir=repo,
                            limits=LIMITS, audit_log=repo / "audit-root.jsonl") as rooted:  # fmt: skip
            await rooted.handle_tool_use("execute_code", {"code": "print(1)"})  # something in the audit log
            return await rooted.handle_tool_use("execute_code", {"code": PEEK})

    result = loop.run_until_complete(scenario())
    OUTPUTS.append(result.text)
    assert result.execution is not None, result.text
    lines = result.execution.stdout.splitlines()
    assert lines[0] == "['.tmp', 'servers', 'skills', 'workspace']", result.text
    assert lines[1:] == [".env FileNotFoundError", ".mcp.json FileNotFoundError", "audit.jsonl FileNotFoundError",
                         "servers ok"], result.text  # fmt: skip


def test_without_a_view_landlock_lists_the_work_dir_but_reads_nothing_in_it(
    tmp_path: Path, repo: Path
) -> None:
    from cfmigrate.runtime import Isolation, LocalExecutor, SandboxSession

    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text(f"API_KEY={DOTENV_CANARY}\n")
    (root / ".mcp.json").write_text("{}")
    (root / "audit.jsonl").write_text("{}")

    async def scenario() -> Any:
        executor = LocalExecutor(isolation=Isolation(mount=False), allow_unconfined=True)
        session = SandboxSession(id="landlock-only", work_dir=root, runtime_dir=tmp_path / "rt",
                                 servers_dir=repo / "servers", limits=Limits(timeout_s=20))  # fmt: skip
        try:
            report = {p.name: p for p in executor.protections(session)}
            return await executor.run(PEEK, session=session), report
        finally:
            await executor.aclose()

    result, report = asyncio.new_event_loop().run_until_complete(scenario())
    OUTPUTS.extend([result.stdout, result.stderr, result.error or ""])
    if "Landlock" not in report["reads confined"].how:
        pytest.skip("no Landlock on this kernel")
    lines = result.stdout.splitlines()
    assert ".env" in lines[0] and lines[1:] == [".env PermissionError", ".mcp.json PermissionError",
                                                "audit.jsonl PermissionError", "servers ok"], result.text()  # fmt: skip


def test_host_accounts_are_not_visible(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = "import os, pwd\nprint(open('/etc/passwd').read())\nprint('me', pwd.getpwuid(os.getuid()).pw_name)"
    result = run(loop, cm, code)
    assert result.execution is not None, result.text
    seen = {line.split(":")[0] for line in result.execution.stdout.splitlines() if ":" in line}
    host = {line.split(":")[0] for line in Path("/etc/passwd").read_text().splitlines() if ":" in line}
    assert seen <= {"root", "sandbox", "nobody"} and seen, result.text
    assert not (host - {"root", "nobody"}) & seen
    assert result.execution.stdout.split()[-2:] == ["me", "sandbox" if os.geteuid() == 0 else "root"], (
        result.text
    )


def test_no_proc_no_sys_and_five_devices(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = "import os\nprint(sorted(os.listdir('/dev')), os.path.exists('/proc/self'), os.listdir('/sys') if os.path.exists('/sys') else None)"
    result = run(loop, cm, code)
    assert result.execution is not None, result.text
    assert result.execution.stdout.strip() == "['full', 'null', 'random', 'urandom', 'zero'] False None", (
        result.text
    )


def test_the_host_name_is_not_visible(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    result = run(loop, cm, "import socket\nprint(socket.gethostname())")
    assert result.execution and result.execution.stdout.strip() == "sandbox", result.text
    assert {p.name: p for p in cm.protections()}["host name hidden"].enforced


def test_cgroup_files_are_out_of_reach(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    """Whatever the hierarchy, a script cannot move itself (or anything) between cgroups."""
    code = textwrap.dedent(
        """
        import ctypes, errno, glob, os
        out = []
        for path in ['/sys/fs/cgroup/cgroup.procs', '/sys/fs/cgroup/unified/cgroup.procs',
                     '/sys/fs/cgroup/memory/cgroup.procs', '/sys/fs/cgroup/pids/tasks', '/proc/self/cgroup']:
            try:
                with open(path, 'w') as fh:
                    fh.write('0')
                out.append('wrote ' + path)
            except OSError as exc:
                out.append(errno.errorcode[exc.errno])
        libc = ctypes.CDLL(None, use_errno=True)
        os.makedirs('.tmp/cg', exist_ok=True)
        for fstype in (b'cgroup2', b'cgroup'):
            r = libc.mount(b'none', os.path.abspath('.tmp/cg').encode(), fstype, 0, None)
            out.append('mounted' if r == 0 else errno.errorcode[ctypes.get_errno()])
        print(' '.join(out))
        print(glob.glob('/sys/*'))
        """
    )
    result = run(loop, cm, code)
    assert result.execution is not None, result.text
    writes, sys_listing = result.execution.stdout.splitlines()
    assert set(writes.split()[:5]) <= {"ENOENT", "EACCES", "EROFS", "EPERM"}, result.text
    assert writes.split()[5:] == ["EPERM", "EPERM"] and sys_listing == "[]", result.text


def test_mirroring_never_follows_links_and_drops_special_files(tmp_path: Path) -> None:
    """The monitor's copy between disk and tmpfs, run here on two real directories."""
    src, dst, outside = tmp_path / "src", tmp_path / "dst", tmp_path / "outside"
    for d in (src, dst, outside):
        d.mkdir()
    (src / "x").mkdir()
    (src / "x" / "inner.txt").write_text("inner")
    (dst / "x").symlink_to(outside, target_is_directory=True)  # planted: must be replaced, not followed
    (src / "suid").write_bytes(b"#!/bin/sh\n")
    (src / "suid").chmod(0o6755)
    (src / "link").symlink_to("/etc/passwd")
    os.mkfifo(src / "fifo")
    with open(src / "sparse", "wb") as fh:
        fh.truncate(64 << 20)
    os.link(src / "suid", src / "hard")
    (dst / "stale.txt").write_text("gone after the mirror")
    src_fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    dst_fd = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _sandbox.mirror_tree(src_fd, dst_fd, None, [1 << 20])
        assert sorted(os.listdir(dst)) == ["hard", "link", "sparse", "suid", "x"]
        assert not (dst / "x").is_symlink() and (dst / "x" / "inner.txt").read_text() == "inner"
        assert os.listdir(outside) == []
        assert os.readlink(dst / "link") == "/etc/passwd"
        assert stat.S_IMODE((dst / "suid").stat().st_mode) == 0o755
        assert (dst / "sparse").stat().st_size == 64 << 20 and (dst / "sparse").stat().st_blocks < 64
        unchanged = (dst / "suid").stat().st_ino
        _sandbox.mirror_tree(src_fd, dst_fd, None, [1 << 20])  # nothing changed: nothing copied again
        assert (dst / "suid").stat().st_ino == unchanged
        (src / "big").write_bytes(os.urandom(2 << 20))
        left_out: list[str] = []  # loading: what does not fit is left out and named, never a reason to stop
        _sandbox.mirror_tree(src_fd, dst_fd, None, [1 << 20], skipped=left_out)
        assert left_out == ["big"] and not (dst / "big").exists()
        assert not [n for n in os.listdir(dst) if n.startswith(_sandbox.SYNC_TMP)]
        (src / "big").unlink()
        # saving: only what the script changed is applied; what another session wrote meanwhile stays
        before = _sandbox.snapshot(src_fd)
        (dst / "from-another-session.txt").write_text("theirs")
        (src / "link").unlink()
        (src / "new.txt").write_text("mine")
        with open(src / "suid", "r+b") as fh:  # same size, mtime put back: still seen as changed
            fh.write(b"#!/bin/XX")
        os.utime(src / "suid", ns=(0, (dst / "suid").stat().st_mtime_ns))
        _sandbox.mirror_tree(src_fd, dst_fd, None, [1 << 20], before)
        assert sorted(os.listdir(dst)) == [
            "from-another-session.txt",
            "hard",
            "new.txt",
            "sparse",
            "suid",
            "x",
        ]
        assert (dst / "suid").read_bytes().startswith(b"#!/bin/XX")
        # saving past the budget stops, and what a failed copy would have replaced stays
        before = _sandbox.snapshot(src_fd)
        (src / "new.txt").write_bytes(os.urandom(2 << 20))
        with pytest.raises(_sandbox.SyncError):
            _sandbox.mirror_tree(src_fd, dst_fd, None, [1 << 20], before)
        assert (dst / "new.txt").read_text() == "mine"
        assert not [n for n in os.listdir(dst) if n.startswith(_sandbox.SYNC_TMP)]
    finally:
        os.close(src_fd)
        os.close(dst_fd)


def test_a_tree_deeper_than_python_recursion_is_removed(tmp_path: Path) -> None:
    import tempfile

    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):  # a tmpfs, as in the sandbox (rmdir on
        tmp_path = Path(tempfile.mkdtemp(dir="/dev/shm"))  # a loaded ext4 costs milliseconds each)
    top = tmp_path / "top"
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir(top)
    level = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(sys.getrecursionlimit() + 200):  # deeper than Python's recursion (shutil.rmtree's) goes
        os.mkdir("d", dir_fd=level)
        os.close(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=level))
        nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=level)
        os.close(level)
        level = nxt
    os.close(level)
    try:
        _sandbox.remove_tree(fd, "top")
        assert os.listdir(tmp_path) == []
    finally:
        os.close(fd)
        if str(tmp_path).startswith("/dev/shm/"):
            os.rmdir(tmp_path)


def test_request_floods_are_cut_off(loop: asyncio.AbstractEventLoop, cm: CodeMode) -> None:
    code = RAW + (
        "last = None\nanswered = 0\n"
        "for i in range(2000):\n"
        "    try:\n        r = raw({'id': i, 'server': 'nope', 'tool': 'x', 'arguments': {}})\n"
        "    except OSError:\n        break\n"
        "    if r is None: break\n"
        "    answered += 1; last = r\n"
        "print(answered, json.dumps(last))\n"
    )
    result = run(loop, cm, code)
    assert result.execution is not None, result.text
    answered, last = result.execution.stdout.split(" ", 1)
    # the host answers 250 requests, says why it stops, and closes: the script's next send fails
    assert int(answered) in (250, 251) and ("more than 250 requests" in last or '"id": 249' in last), (
        result.text
    )
    assert_alive(loop, cm)


def test_connector_spam_closes_the_connector_but_not_the_connection(
    loop: asyncio.AbstractEventLoop, cm: CodeMode
) -> None:
    code = RAW + (
        "answered = 0\n"
        "for i in range(500):\n"
        "    try:\n        _c.send(b'spam'); msg = _c.recv(64)\n    except OSError:\n        break\n"
        "    if not msg: break\n"
        "    answered += 1\n"
        "r = raw({'id': 1, 'server': 'attack', 'tool': 'echo', 'arguments': {'text': 'still served'}})\n"
        "print(answered, r['ok'])\n"
    )
    result = run(loop, cm, code)
    assert result.execution is not None and result.execution.stdout.split() == ["31", "True"], result.text


# ---------------------------------------------------------------------------------------- 10. first session


def test_first_session_with_a_new_work_dir_imports_servers(
    loop: asyncio.AbstractEventLoop, repo: Path, tmp_path: Path
) -> None:
    async def scenario() -> ToolUseResult:
        async with CodeMode(servers_dir=repo / "servers", config=repo / ".mcp.json", work_dir=tmp_path / "new" / "work",
                            limits=LIMITS, audit_log=False) as fresh:  # fmt: skip
            return await fresh.handle_tool_use(
                "execute_code",
                {"code": "from servers.attack import echo\nprint((await echo(text='first')).text)"},
            )

    result = loop.run_until_complete(scenario())
    OUTPUTS.append(result.text)
    assert not result.is_error and result.text.strip() == "first", result.text


# ---------------------------------------------------------------------------------------- exfiltration


def test_secrets_cannot_be_read_or_reached(loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    code = textwrap.dedent(
        f"""
        import glob, os, socket
        tries = {{}}
        for path in [{str(repo / ".env")!r}, {str(repo / ".mcp.json")!r}, '/proc/1/environ',
                     '/proc/{os.getpid()}/environ', '/etc/shadow', '../.env', '../.mcp.json']:
            try:
                tries[path] = open(path, errors='replace').read()[:200]
            except OSError as exc:
                tries[path] = type(exc).__name__
        try:
            socket.create_connection(('127.0.0.1', {port}), timeout=1); tries['tcp'] = 'connected'
        except OSError as exc:
            tries['tcp'] = type(exc).__name__
        tries['env'] = dict(os.environ)
        print(tries)
        """
    )
    try:
        result = run(loop, cm, code)
    finally:
        listener.close()
    assert result.execution and "connected" not in result.execution.stdout, result.text


def test_no_canary_in_any_output(loop: asyncio.AbstractEventLoop, cm: CodeMode, repo: Path) -> None:
    run(loop, cm, "import os\nprint(dict(os.environ))")
    assert len(OUTPUTS) > 30
    everything = "\n".join(OUTPUTS) + (repo / "audit.jsonl").read_text()
    for canary in CANARIES:
        assert canary not in everything
