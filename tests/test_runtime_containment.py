"""Hostile scripts in the local executor: each is contained or refused, the host lives, the model is told why.

Every check first looks at what the runtime reports for this machine: when a layer is reported as
enforced, the script must be stopped by it; when it is reported as not enforced, the test asserts the
report says so and that the script's effect really happened (the report is truthful), never a silent pass.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfmigrate.runtime import ExecutionResult, Isolation, Limits, LocalExecutor, Protection, SandboxSession
from cfmigrate.runtime.executor import UnconfinedError


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def sandbox(
    loop: asyncio.AbstractEventLoop, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalExecutor, SandboxSession]]:
    base = tmp_path_factory.mktemp("containment")
    runtime = Path(os.path.realpath("/tmp")) / f"cfm-test-{os.getpid()}"
    runtime.mkdir(mode=0o711, exist_ok=True)
    session = SandboxSession(
        id="containment",
        work_dir=base / "work",
        runtime_dir=runtime,
        limits=Limits(timeout_s=4, cpu_s=2, nproc=32, fsize_mb=1, max_output_bytes=4_000),  # default memory
    )
    executor = LocalExecutor()
    loop.run_until_complete(executor.start(session))
    yield executor, session
    loop.run_until_complete(executor.aclose())
    import shutil

    shutil.rmtree(runtime, ignore_errors=True)


def run(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession], code: str, **limits: float
) -> ExecutionResult:
    executor, session = sandbox
    if limits:
        from dataclasses import replace

        session = replace(session, limits=replace(session.limits, **limits))
    return loop.run_until_complete(asyncio.wait_for(executor.run(code, session=session), 60))


def protection(sandbox: tuple[LocalExecutor, SandboxSession], name: str) -> Protection:
    executor, session = sandbox
    found = {p.name: p for p in executor.protections(session)}
    assert name in found, f"the runtime does not report {name!r}: {sorted(found)}"
    p = found[name]
    assert p.how, f"{name}: the report must say how it is enforced or why not"
    return p


def assert_host_alive(loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]) -> None:
    after = run(loop, sandbox, "print('still here')")
    assert after.ok and after.stdout.strip() == "still here", after.text()


def processes_of(uid: int) -> list[int]:
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_every_layer_is_reported_with_a_reason(sandbox: tuple[LocalExecutor, SandboxSession]) -> None:
    executor, session = sandbox
    report = executor.protections(session)
    names = [p.name for p in report]
    for expected in (
        "wall-clock timeout",
        "CPU time",
        "memory",
        "number of processes",
        "file size",
        "scrubbed environment",
        "writes confined to the work dir",
        "network blocked",
        "whole process tree killed at the end",
    ):
        assert expected in names
    assert all(isinstance(p.enforced, bool) and p.how for p in report)
    name, enforced, how = report[0]  # unpacks as (name, enforced, how)
    assert (name, enforced, how) == (report[0].name, report[0].enforced, report[0].how)


def test_fork_bomb_is_contained(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    nproc = protection(sandbox, "number of processes")
    tree = protection(sandbox, "whole process tree killed at the end")
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    before = len(os.listdir("/proc"))
    started = time.monotonic()
    result = run(loop, sandbox, code, timeout_s=3)
    assert time.monotonic() - started < 20
    assert not result.ok and result.timed_out
    assert "killed" in result.text()
    uid = sandbox[0].worker_report(sandbox[1]).get("uid")
    if tree.enforced and isinstance(uid, int):
        deadline = time.monotonic() + 5
        while processes_of(uid) and time.monotonic() < deadline:  # killed processes may still be exiting
            time.sleep(0.05)
        assert processes_of(uid) == [], "processes of the fork bomb survived the script"
    elif not tree.enforced:
        assert "process group" in tree.how
    if nproc.enforced:
        assert len(os.listdir("/proc")) < before + 200, "the process limit did not hold"
    else:
        assert "exempt" in nproc.how or "counts every process" in nproc.how
    assert_host_alive(loop, sandbox)


def test_fork_bomb_that_gives_up_gets_the_process_hint(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    if not protection(sandbox, "number of processes").enforced:
        pytest.fail("RLIMIT_NPROC is reported as not enforced on this machine; the bomb would not be refused")
    result = run(
        loop,
        sandbox,
        "import os\nkids = []\nfor _ in range(1000):\n    pid = os.fork()\n    if pid == 0:\n        import time; time.sleep(30)\n    kids.append(pid)\n",
    )
    assert not result.ok
    assert "BlockingIOError" in result.text() and "limits how many processes" in result.text()
    assert_host_alive(loop, sandbox)


def test_memory_hog_gets_memory_error(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    assert protection(sandbox, "memory").enforced
    result = run(loop, sandbox, "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))\n")
    assert not result.ok and not result.timed_out
    assert "MemoryError" in result.text()
    limit = sandbox[1].limits.memory_mb
    assert f"memory limit: {limit} MB" in result.text()
    assert (result.max_rss_kb or 0) < limit * 1024
    assert_host_alive(loop, sandbox)


def test_infinite_loop_hits_the_wall_clock_timeout(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    result = run(loop, sandbox, "import time\nwhile True:\n    time.sleep(0.05)\n", timeout_s=1.5)
    assert result.timed_out and not result.ok
    assert 1.4 < result.duration_s < 10
    assert "1.5 s wall-clock limit" in result.text()
    assert_host_alive(loop, sandbox)


def test_busy_loop_hits_the_cpu_limit(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    assert protection(sandbox, "CPU time").enforced
    result = run(
        loop, sandbox, "print('spinning', flush=True)\nwhile True:\n    pass\n", timeout_s=20, cpu_s=1
    )
    assert not result.ok and not result.timed_out
    assert result.stdout.strip() == "spinning"
    assert "used up its 1 s of CPU time" in result.text()
    assert result.duration_s < 10
    assert_host_alive(loop, sandbox)


def test_output_flood_is_cut_with_a_note(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    result = run(loop, sandbox, "import sys\nwhile True:\n    print('x' * 1000)\n", timeout_s=1.5)
    assert result.timed_out
    assert len(result.stdout) <= 4_000
    assert result.stdout_dropped > 100_000
    assert "[stdout cut:" in result.text() and "more bytes not shown" in result.text()
    finite = run(loop, sandbox, "print('y' * 50_000)\nimport sys\nprint('e' * 9_000, file=sys.stderr)")
    assert finite.ok
    assert finite.stdout_dropped == 50_001 - 4_000 and finite.stderr_dropped == 9_001 - 4_000
    assert_host_alive(loop, sandbox)


def test_environment_is_scrubbed(
    loop: asyncio.AbstractEventLoop,
    sandbox: tuple[LocalExecutor, SandboxSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CFM_CANARY_HOST", "canary-host-4c1d")
    code = (
        "import os\n"
        "print(sorted(os.environ))\n"
        "print(' '.join(os.environ.values()))\n"
        "for pid in (os.listdir('/proc') if os.path.isdir('/proc') else []):\n"
        "    try:\n"
        "        print(open(f'/proc/{pid}/environ').read())\n"
        "    except OSError:\n"
        "        pass\n"
    )
    result = run(loop, sandbox, code)
    assert result.ok, result.text()
    assert "canary-host-4c1d" not in result.text()
    assert "CFM_CANARY_HOST" not in result.text()
    assert protection(sandbox, "scrubbed environment").enforced


def test_socket_outside_the_channel_is_refused(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    net = protection(sandbox, "network blocked")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        code = (
            "import socket\n"
            f"s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "print('connected')\n"
        )
        result = run(loop, sandbox, code)
        udp = run(
            loop,
            sandbox,
            f"import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {port}))\nprint('sent')",
        )
    finally:
        stop.set()
        thread.join(2)
        listener.close()
    if net.enforced:
        assert not result.ok and "connected" not in result.stdout
        assert accepted == []
        assert "no network" in result.text()
        assert not udp.ok and "sent" not in udp.stdout
    else:
        assert result.ok and accepted, (
            f"network reported as not enforced ({net.how}) but the connection failed"
        )
    assert_host_alive(loop, sandbox)


def test_writes_outside_the_work_dir_are_refused(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession], tmp_path: Path
) -> None:
    writes = protection(sandbox, "writes confined to the work dir")
    _, session = sandbox
    targets = [
        tmp_path / "outside.txt",
        Path("/tmp") / f"cfm-outside-{os.getpid()}.txt",
        session.work_dir / "top.txt",
    ]
    code = "results = []\n"
    for target in targets:
        code += (
            "try:\n"
            f"    open({str(target)!r}, 'w').write('pwned')\n"
            f"    results.append(('wrote', {str(target)!r}))\n"
            "except OSError as exc:\n"
            f"    results.append(('refused', {str(target)!r}, exc.strerror))\n"
        )
    code += "print(results)\nopen('workspace/ok.txt', 'w').write('kept')\nprint('workspace ok')\n"
    result = run(loop, sandbox, code)
    assert result.ok, result.text()
    assert "workspace ok" in result.stdout
    if writes.enforced:
        assert "'wrote'" not in result.stdout
        for target in targets:
            assert not target.exists() or target.read_text() != "pwned", f"{target} was written"
    else:
        assert "'wrote'" in result.stdout
    assert (session.work_dir / "workspace" / "ok.txt").read_text() == "kept"
    failing = run(loop, sandbox, f"open({str(tmp_path / 'x.txt')!r}, 'w')")
    if writes.enforced:
        assert not failing.ok and (
            "write only in workspace/" in failing.text() or "No such file" in failing.text()
        )


def test_file_size_limit(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    assert protection(sandbox, "file size").enforced
    result = run(
        loop, sandbox, "with open('workspace/big.bin', 'wb') as f:\n    f.write(b'0' * (3 * 1024 * 1024))\n"
    )
    assert not result.ok
    assert "File too large" in result.text()
    _, session = sandbox
    assert (session.work_dir / "workspace" / "big.bin").stat().st_size <= 1024 * 1024
    (session.work_dir / "workspace" / "big.bin").unlink()


def test_background_process_does_not_outlive_the_script(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    tree = protection(sandbox, "whole process tree killed at the end")
    code = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(0.5)\n"
        "    open('workspace/late.txt', 'w').write('survived')\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    result = run(loop, sandbox, code)
    assert result.ok
    time.sleep(1.0)
    late = sandbox[1].work_dir / "workspace" / "late.txt"
    if tree.enforced:
        assert not late.exists(), "a detached child outlived its script"
    else:
        assert late.exists()
        late.unlink()


def test_a_dead_worker_is_restarted(
    loop: asyncio.AbstractEventLoop, sandbox: tuple[LocalExecutor, SandboxSession]
) -> None:
    executor, session = sandbox
    worker = executor._workers[session.id]
    assert worker.proc is not None
    os.kill(worker.proc.pid, 9)
    result = run(loop, sandbox, "print('after restart')")
    assert result.stdout == "after restart\n", result.text()
    assert executor._workers[session.id] is not worker
    assert executor._workers[session.id].uid == worker.uid  # the bridge keeps trusting the same uid


def test_without_namespaces_scripts_are_refused_unless_the_host_opts_in(tmp_path: Path) -> None:
    """Where namespaces are off, scripts are refused; under the opt-in the gaps are reported, not hidden."""
    runtime = Path("/tmp") / f"cfm-test-deg-{os.getpid()}"
    session = SandboxSession(
        id="degraded", work_dir=tmp_path / "work", runtime_dir=runtime, limits=Limits(timeout_s=5)
    )
    refusing = LocalExecutor(isolation=Isolation(mount=False, net=False, pid=False), allow_unconfined=False)
    with pytest.raises(UnconfinedError) as refused:
        asyncio.run(refusing.run("open('workspace/ran', 'w')", session=session))
    assert "empty network namespace" in str(refused.value) and "allow_unconfined=True" in str(refused.value)
    assert not (tmp_path / "work" / "workspace" / "ran").exists()
    executor = LocalExecutor(isolation=Isolation(mount=False, net=False, pid=False), allow_unconfined=True)

    async def scenario() -> tuple[ExecutionResult, ExecutionResult, list[Protection]]:
        try:
            ok = await executor.run(
                "open('workspace/a.txt', 'w').write('x'); print('ws ok')", session=session
            )
            outside = await executor.run(
                f"open({str(tmp_path / 'outside.txt')!r}, 'w').write('x')", session=session
            )
            return ok, outside, executor.protections(session)
        finally:
            await executor.aclose()

    try:
        ok, outside, table = asyncio.run(scenario())
    finally:
        import shutil

        shutil.rmtree(runtime, ignore_errors=True)
    assert ok.stdout == "ws ok\n", ok.text()
    found = {p.name: p for p in table}
    assert not found["isolated filesystem view"].enforced
    assert not found["whole process tree killed at the end"].enforced
    assert "setsid" in found["whole process tree killed at the end"].how
    writes = found["writes confined to the work dir"]
    if writes.enforced:  # Landlock alone
        assert "Landlock" in writes.how and not outside.ok and not (tmp_path / "outside.txt").exists()
    else:
        assert outside.ok and (tmp_path / "outside.txt").exists()
    net = found["network blocked"]
    assert not net.enforced and net.how  # no network namespace: at most TCP is blocked, and it says so
    minimum = found["minimum confinement"]
    assert not minimum.enforced and minimum.how.startswith("UNCONFINED")
