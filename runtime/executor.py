"""The executor interface and the local implementation: one confined process per script, forked warm."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from cfmigrate.runtime import _sandbox

SANDBOX_SCRIPT = Path(_sandbox.__file__).resolve()
SYSTEM_READ_PATHS = (
    "/usr",
    "/bin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/mime.types",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)
SYSTEM_EXEC_PATHS = ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
DEFAULT_PRELOAD = ("asyncio", "json", "pydantic")
RW_DIRS = ("workspace", "skills", ".tmp")


@dataclass(frozen=True)
class Limits:
    """Per-script limits; the OS enforces all but the output cut, which the host applies."""

    timeout_s: float = 30.0  # wall clock, whole process tree killed
    cpu_s: int = 30  # RLIMIT_CPU per process
    memory_mb: int = 128  # RLIMIT_AS per process (address space, not resident memory)
    nproc: int = 64  # RLIMIT_NPROC for the sandbox user
    fsize_mb: int = 64  # RLIMIT_FSIZE: largest file a script may write
    nofile: int = 256  # RLIMIT_NOFILE
    max_output_bytes: int = 20_000  # per stream; the rest is counted and dropped with a note

    def to_wire(self) -> dict[str, int]:
        return {
            "cpu_seconds": max(1, int(self.cpu_s)),
            "memory_bytes": int(self.memory_mb) * 1024 * 1024,
            "nproc": max(1, int(self.nproc)),
            "fsize_bytes": int(self.fsize_mb) * 1024 * 1024,
            "nofile": max(16, int(self.nofile)),
        }


@dataclass(frozen=True)
class Isolation:
    """Which kernel isolation layers to attempt; each is skipped (and reported) when the kernel refuses it."""

    mount: bool = True  # private mount namespace with a read-only view of only the needed paths
    net: bool = True  # empty network namespace
    pid: bool = True  # a PID namespace per script
    landlock: bool = True  # Landlock: writes/reads by path, TCP, signals, abstract sockets
    drop_uid: bool = True  # as root: run scripts as a dedicated unprivileged uid


@dataclass(frozen=True)
class SandboxSession:
    """What one code-mode session gives its scripts: a work dir, the servers package, the bridge."""

    id: str
    work_dir: Path
    runtime_dir: Path  # host-only scratch: the worker's mount point and log
    servers_dir: Path | None = None
    bridge_socket: Path | None = None
    limits: Limits = field(default_factory=Limits)
    read_paths: tuple[str, ...] = ()  # extra read-only paths scripts may see
    env: Mapping[str, str] = field(default_factory=dict)  # extra (non-secret) variables


class Protection(NamedTuple):
    """One layer of the sandbox, whether this machine enforces it, and how (or why not)."""

    name: str
    enforced: bool
    how: str


@dataclass(frozen=True)
class ExecutionResult:
    """What one script did: its output (cut to size), its error, and why it stopped."""

    stdout: str
    stderr: str
    ok: bool
    error: str | None = None  # short traceback
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    stdout_dropped: int = 0  # bytes cut from stdout
    stderr_dropped: int = 0
    duration_s: float = 0.0
    cpu_s: float | None = None
    max_rss_kb: int | None = None
    notes: tuple[str, ...] = ()

    def text(self) -> str:
        """The result as the model reads it: printed output, then error and notes, plainly marked."""
        parts: list[str] = []
        if self.stdout:
            parts.append(self.stdout.rstrip("\n"))
        if self.stdout_dropped:
            parts.append(
                f"[stdout cut: {self.stdout_dropped:,} more bytes not shown; print a summary or a slice instead]"
            )
        if self.stderr:
            parts.append("[stderr]\n" + self.stderr.rstrip("\n"))
        if self.stderr_dropped:
            parts.append(f"[stderr cut: {self.stderr_dropped:,} more bytes not shown]")
        if self.error:
            parts.append("[error]\n" + self.error)
        parts.extend(f"[{note}]" for note in self.notes)
        if not parts:
            return "(the script printed nothing; print() what you need to see)"
        return "\n".join(parts)


@runtime_checkable
class Executor(Protocol):
    """Runs model-written scripts for a session; a hosted sandbox implements the same three methods."""

    async def run(self, code: str, *, session: SandboxSession) -> ExecutionResult: ...

    def protections(self, session: SandboxSession) -> list[Protection]: ...

    async def close_session(self, session: SandboxSession) -> None: ...


class ExecutorError(Exception):
    """The sandbox could not be started; the message says what is missing."""


class WorkerGone(ConnectionError):
    """The warm worker was gone before the script started (safe to restart it and run again)."""


# --------------------------------------------------------------------------------------------
# paths the sandbox sees


def _python_paths() -> tuple[list[str], list[str], list[str]]:
    """(sys.path for scripts, read-only roots that hold them, site-packages dirs)."""
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    stdlib = [
        p
        for p in sys.path
        if p and os.path.exists(p) and any(os.path.realpath(p).startswith(pre + os.sep) for pre in prefixes)
    ]
    paths = sysconfig.get_paths()
    site = [p for p in dict.fromkeys([paths["purelib"], paths["platlib"]]) if os.path.isdir(p)]
    roots = sorted(
        {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
        | {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}
        | {os.path.dirname(os.path.realpath(sys.executable))}
    )
    return list(dict.fromkeys(stdlib + site)), roots, site


def _third_party_imports(servers_dir: Path | None) -> list[str]:
    """Top-level modules the generated package imports at load time (preloaded in the warm worker)."""
    if servers_dir is None:
        return []
    found: list[str] = []
    for name in ("_runtime.py", "__init__.py"):
        path = servers_dir / name
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append(node.module)
    return [m for m in dict.fromkeys(found) if m.split(".")[0] not in {"servers", "skills", "__future__"}]


def _runtime_module(session: SandboxSession) -> list[str]:
    """The generated package's runtime module, preloaded so scripts do not pay for its import each run."""
    if session.servers_dir is not None and (session.servers_dir / "_runtime.py").is_file():
        return ["servers._runtime"]
    return []


def _free_uid() -> int:
    """A uid with no account and no running process, for this session's scripts only."""
    in_use = {entry.pw_uid for entry in pwd.getpwall()}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    in_use.add(os.stat(entry.path).st_uid)
    while True:
        uid = 200_000 + secrets.randbelow(1_000_000_000)
        if uid not in in_use:
            return uid


def prepare_work_dir(work_dir: Path, servers_dir: Path | None, owner: int | None) -> None:
    """Create workspace/, skills/ and .tmp/, give them to `owner` (when running as root), link servers/ in."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if owner is not None and owner != os.getuid():
        work_dir.chmod(work_dir.stat().st_mode | 0o055)
    for name in RW_DIRS:
        sub = work_dir / name
        sub.mkdir(exist_ok=True)
        if owner is not None and os.geteuid() == 0:
            for root, dirs, files in os.walk(sub):
                for item in [
                    root,
                    *(os.path.join(root, d) for d in dirs),
                    *(os.path.join(root, f) for f in files),
                ]:
                    with contextlib.suppress(OSError):
                        os.lchown(item, owner, owner)
    init = work_dir / "skills" / "__init__.py"
    if not init.exists():
        init.write_text(
            '"""Reusable functions written by the agent; import them as `from skills.<module> import ...`."""\n'
        )
        if owner is not None and os.geteuid() == 0:
            os.chown(init, owner, owner)
    if servers_dir is not None:
        link = work_dir / "servers"
        target = servers_dir.resolve()
        if link.is_symlink():
            if Path(os.readlink(link)) != target:
                link.unlink()
                link.symlink_to(target, target_is_directory=True)
        elif link.exists():
            if link.resolve() != target:
                raise ExecutorError(
                    f"{link} exists and is not the generated package {target}; remove it or choose another work_dir"
                )
        else:
            link.symlink_to(target, target_is_directory=True)


# --------------------------------------------------------------------------------------------
# output capture


class _Capture(asyncio.Protocol):
    """Reads one pipe to EOF, keeping the first `limit` bytes and counting the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


async def _read_pipe(fd: int, limit: int) -> tuple[_Capture, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    capture = _Capture(limit)
    transport, _ = await loop.connect_read_pipe(lambda: capture, os.fdopen(fd, "rb", buffering=0))
    return capture, transport


# --------------------------------------------------------------------------------------------
# the warm worker


class _Worker:
    """One sandbox worker process per session: namespaces set up once, a fork per script."""

    def __init__(self, executor: LocalExecutor, session: SandboxSession) -> None:
        self.executor = executor
        self.session = session
        self.proc: asyncio.subprocess.Process | None = None
        self.sock: socket.socket | None = None
        self.report: dict[str, Any] = {}
        self.lock = asyncio.Lock()
        self.buffer = b""
        self.uid: int | None = None
        self.cfg: dict[str, Any] = {}

    def config(self) -> dict[str, Any]:
        s = self.session
        iso = self.executor.isolation
        sys_path, py_roots, site = _python_paths()
        work = str(s.work_dir.resolve())
        ro = [*SYSTEM_READ_PATHS, *py_roots, work, *s.read_paths]
        if s.servers_dir is not None:
            ro.append(str(s.servers_dir.resolve()))
        if s.bridge_socket is not None:
            ro.append(str(s.bridge_socket.parent.resolve()))
        ro = [p for p in dict.fromkeys(ro) if os.path.lexists(p)]
        root = os.geteuid() == 0
        if root and iso.drop_uid and self.uid is None:
            self.uid = self.executor.session_uid(s.id)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": f"{work}/.tmp",
            "TMPDIR": f"{work}/.tmp",
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "CFMIGRATE_WORKSPACE": f"{work}/workspace",
            **dict(s.env),
        }
        if s.bridge_socket is not None:
            env["CFMIGRATE_BRIDGE"] = str(s.bridge_socket)
        return {
            "work_dir": work,
            "sys_path": [work, *sys_path, *self.executor.extra_sys_path],
            "site_dirs": site,
            "preload": list(
                dict.fromkeys(
                    [*self.executor.preload, *_third_party_imports(s.servers_dir), *_runtime_module(s)]
                )
            ),
            "isolate": {
                "mount": iso.mount,
                "net": iso.net,
                "pid": iso.pid,
                "landlock": iso.landlock,
            },
            "newroot": str(s.runtime_dir / "root"),
            "ro_paths": ro,
            "rw_paths": [f"{work}/{name}" for name in RW_DIRS],
            "exec_paths": [p for p in dict.fromkeys([*SYSTEM_EXEC_PATHS, *py_roots]) if os.path.lexists(p)],
            "devices": [d for d in DEVICES if os.path.exists(d)],
            "env": env,
            "uid": self.uid,
        }

    async def start(self) -> None:
        s = self.session
        s.runtime_dir.mkdir(parents=True, exist_ok=True)
        (s.runtime_dir / "root").mkdir(exist_ok=True)
        self.cfg = self.config()
        prepare_work_dir(s.work_dir, s.servers_dir, None)
        if self.cfg["uid"] is not None:
            s.work_dir.chmod(s.work_dir.stat().st_mode | 0o055)  # the sandbox uid must be able to enter it
        host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child.set_inheritable(True)
        cfg = dict(self.cfg, control_fd=child.fileno())
        log = open(s.runtime_dir / "worker.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.executor.python,
                "-I",
                "-S",
                "-B",
                str(SANDBOX_SCRIPT),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                pass_fds=(child.fileno(),),
                env={"MALLOC_ARENA_MAX": "2", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin", **cfg["env"]},
                cwd="/",
                start_new_session=True,
            )
        finally:
            child.close()
            log.close()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cfg).encode())
        await self.proc.stdin.drain()
        self.proc.stdin.close()
        host.setblocking(False)
        self.sock = host
        try:
            ready = await asyncio.wait_for(self._read_message(), timeout=60)
        except (TimeoutError, ConnectionError) as exc:
            await self.stop()
            raise ExecutorError(f"the sandbox worker did not start: {self._log_tail()}") from exc
        if ready.get("kind") != "ready":
            await self.stop()
            raise ExecutorError(f"the sandbox worker sent {ready!r} instead of 'ready'")
        self.report = ready["report"]
        uid = self.report.get("uid")  # what the worker could actually use, which decides who owns the rw dirs
        prepare_work_dir(s.work_dir, s.servers_dir, uid if isinstance(uid, int) else os.getuid())
        if s.bridge_socket is not None and isinstance(uid, int) and s.bridge_socket.exists():
            os.chown(s.bridge_socket, uid, uid)
            os.chmod(s.bridge_socket.parent, 0o711)

    def _log_tail(self) -> str:
        try:
            text = (self.session.runtime_dir / "worker.log").read_text(errors="replace").strip()
        except OSError:
            return "no log"
        return text.splitlines()[-1] if text else "no output"

    async def _read_message(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        assert self.sock is not None
        while b"\n" not in self.buffer:
            chunk = await loop.sock_recv(self.sock, 65536)
            if not chunk:
                raise ConnectionError("sandbox worker exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self.sock is not None

    async def run(self, code: str, limits: Limits) -> ExecutionResult:
        loop = asyncio.get_running_loop()
        assert self.sock is not None
        started = time.perf_counter()
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        st_r, st_w = os.pipe2(os.O_CLOEXEC)
        body = json.dumps({"id": 1, "code": code, "limits": limits.to_wire()}).encode()
        header = json.dumps({"length": len(body)}).encode() + b"\n"
        try:
            socket.send_fds(self.sock, [header], [out_w, err_w, st_w])
            await loop.sock_sendall(self.sock, body)
        except OSError as exc:
            for fd in (out_r, err_r, st_r):
                os.close(fd)
            raise WorkerGone(str(exc)) from None
        finally:
            for fd in (out_w, err_w, st_w):
                os.close(fd)
        out, out_t = await _read_pipe(out_r, limits.max_output_bytes)
        err, err_t = await _read_pipe(err_r, limits.max_output_bytes)
        status, st_t = await _read_pipe(st_r, 1 << 20)
        monitor_pid: int | None = None
        try:
            try:
                reply = await asyncio.wait_for(self._read_message(), timeout=30)
            except ConnectionError as exc:  # the worker died before it forked: the script never ran
                raise WorkerGone(str(exc)) from None
            if reply.get("kind") == "started":
                monitor_pid = int(reply["pid"])
            else:
                raise ExecutorError(f"sandbox worker refused the script: {reply.get('error')}")
            timed_out = False
            waiting = {out.done, err.done, status.done}
            deadline = started + limits.timeout_s
            _, pending = await asyncio.wait(waiting, timeout=max(0.0, deadline - time.perf_counter()))
            if pending:
                timed_out = True
                self._kill(monitor_pid, status)
                await asyncio.wait(waiting, timeout=10)
        finally:
            for t in (out_t, err_t, st_t):
                t.close()
        duration = time.perf_counter() - started
        return _result(out, err, status, timed_out, duration, limits)

    def _kill(self, monitor_pid: int | None, status: _Capture) -> None:
        """Kill the script, its process group and its monitor (the PID namespace takes the rest)."""
        script_pid = next((e["pid"] for e in _events(status) if e.get("kind") == "started"), None)
        for pid in (script_pid, monitor_pid):
            if pid is None:
                continue
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), timeout=5)
        self.proc = None


def _events(status: _Capture) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in status.data.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict):
                out.append(event)
    return out


def _result(
    out: _Capture, err: _Capture, status: _Capture, timed_out: bool, duration: float, limits: Limits
) -> ExecutionResult:
    events = _events(status)
    done = next((e for e in events if e.get("kind") == "done"), None)
    exit_event = next((e for e in events if e.get("kind") == "exit"), {})
    sig = exit_event.get("signal")
    notes: list[str] = []
    error = done.get("error") if done else None
    cpu = exit_event.get("cpu")
    if timed_out:
        notes.append(
            f"stopped: the script ran longer than the {limits.timeout_s:g} s wall-clock limit; "
            "it and every process it started were killed"
        )
    elif (done and done.get("limit") == "cpu") or (
        sig in (signal.SIGKILL, signal.SIGXCPU) and cpu and cpu >= limits.cpu_s
    ):
        notes.append(f"stopped: the script used up its {limits.cpu_s} s of CPU time")
    elif done and done.get("setup_error"):
        notes.append(f"the sandbox could not start the script: {done['setup_error']}")
    elif sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals.__members__.values() else str(sig)
        hint = (
            f" (it may have run out of its {limits.memory_mb} MB memory limit)"
            if sig in (6, 7, 9, 11)
            else ""
        )
        notes.append(f"stopped: the script was killed by {name}{hint}")
    elif done is None:
        notes.append("the script ended without reporting a result")
    if error and "MemoryError" in error:
        notes.append(f"memory limit: {limits.memory_mb} MB")
    ok = bool(done and done.get("ok")) and not timed_out and sig is None
    code = exit_event.get("code")
    return ExecutionResult(
        stdout=out.text(),
        stderr=err.text(),
        ok=ok,
        error=error,
        exit_code=code if isinstance(code, int) else None,
        signal=sig,
        timed_out=timed_out,
        stdout_dropped=out.dropped,
        stderr_dropped=err.dropped,
        duration_s=duration,
        cpu_s=cpu,
        max_rss_kb=exit_event.get("maxrss_kb"),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# the executor


class LocalExecutor:
    """Runs each script in its own confined process on this machine (see `protections()`)."""

    def __init__(
        self,
        *,
        python: str | None = None,
        preload: Sequence[str] = DEFAULT_PRELOAD,
        isolation: Isolation | None = None,
        sandbox_uid: int | None = None,
        extra_sys_path: Sequence[str] = (),
    ) -> None:
        self.python = python or sys.executable
        self.preload = tuple(preload)
        self.isolation = isolation or Isolation()
        self.sandbox_uid = sandbox_uid
        self.extra_sys_path = tuple(extra_sys_path)
        self._workers: dict[str, _Worker] = {}
        self._uids: dict[str, int] = {}
        self._probe: dict[str, Any] | None = None

    def session_uid(self, session_id: str) -> int:
        """The unprivileged uid this session's scripts run as (stable across worker restarts)."""
        if session_id not in self._uids:
            self._uids[session_id] = self.sandbox_uid or _free_uid()
        return self._uids[session_id]

    async def start(self, session: SandboxSession) -> None:
        """Start (or restart) the session's warm worker ahead of the first script."""
        worker = self._workers.get(session.id)
        if worker is not None and worker.alive:
            return
        worker = _Worker(self, session)
        await worker.start()
        self._workers[session.id] = worker

    async def run(self, code: str, *, session: SandboxSession) -> ExecutionResult:
        """Run one script to completion (or to a limit) and return what it printed."""
        if not isinstance(code, str):
            return ExecutionResult(
                stdout="", stderr="", ok=False, error="the code must be a string of Python"
            )
        await self.start(session)
        worker = self._workers[session.id]
        async with worker.lock:
            if not worker.alive:
                await self._restart(session)
                worker = self._workers[session.id]
            try:
                try:
                    return await worker.run(code, session.limits)
                except WorkerGone:
                    await self._restart(session)
                    worker = self._workers[session.id]
                    return await worker.run(code, session.limits)
            except (ConnectionError, OSError, ExecutorError) as exc:
                await worker.stop()
                return ExecutionResult(
                    stdout="",
                    stderr="",
                    ok=False,
                    notes=(f"the sandbox worker failed ({exc}); it restarts on the next run",),
                )

    async def _restart(self, session: SandboxSession) -> None:
        old = self._workers.pop(session.id, None)
        if old is not None:
            await old.stop()
        await self.start(session)

    async def close_session(self, session: SandboxSession) -> None:
        """Stop the session's worker (its scripts and namespaces go with it)."""
        worker = self._workers.pop(session.id, None)
        if worker is not None:
            await worker.stop()

    async def aclose(self) -> None:
        for worker in list(self._workers.values()):
            await worker.stop()
        self._workers.clear()

    def worker_report(self, session: SandboxSession) -> dict[str, Any]:
        """What the session's worker achieved when it set up, or a fresh probe of this machine."""
        worker = self._workers.get(session.id)
        if worker is not None and worker.report:
            return worker.report
        if self._probe is None:
            self._probe = self._run_probe(session)
        return self._probe

    def _run_probe(self, session: SandboxSession) -> dict[str, Any]:
        """Set up a throwaway worker synchronously (namespaces, view) and read its report."""
        probe_dir = Path(tempfile.mkdtemp(prefix="cfm-probe-"))
        try:
            (probe_dir / "root").mkdir()
            probe_session = SandboxSession(
                id="probe",
                work_dir=probe_dir / "work",
                runtime_dir=probe_dir,
                servers_dir=None,
                bridge_socket=None,
                limits=session.limits,
            )
            probe_session.work_dir.mkdir()
            worker = _Worker(self, probe_session)
            cfg = worker.config()
            cfg["preload"] = []
            cfg["probe"] = True
            host, child = socket.socketpair()
            child.set_inheritable(True)
            try:
                proc = subprocess.run(
                    [self.python, "-I", "-S", "-B", str(SANDBOX_SCRIPT)],
                    input=json.dumps(dict(cfg, control_fd=child.fileno())).encode(),
                    pass_fds=(child.fileno(),),
                    capture_output=True,
                    timeout=30,
                    env={"LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"},
                    cwd="/",
                    check=False,
                    start_new_session=True,
                )
                child.close()
                host.settimeout(5)
                data = b""
                while b"\n" not in data:
                    chunk = host.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            finally:
                host.close()
                with contextlib.suppress(OSError):
                    child.close()
            line = data.partition(b"\n")[0]
            if not line:
                return {
                    "errors": {"worker": proc.stderr.decode(errors="replace").strip()[-300:] or "no report"}
                }
            report: dict[str, Any] = json.loads(line)["report"]
            return report
        finally:
            shutil.rmtree(probe_dir, ignore_errors=True)

    def protections(self, session: SandboxSession) -> list[Protection]:
        """Each layer of the sandbox, whether this machine enforces it, and how (or why not)."""
        return describe_protections(self.worker_report(session), session, self.isolation)


def describe_protections(
    report: Mapping[str, Any], session: SandboxSession, iso: Isolation
) -> list[Protection]:
    """Turn a worker's setup report into plain statements, one per layer."""
    lim = session.limits
    errors: Mapping[str, str] = report.get("errors", {})
    abi = int(report.get("landlock_abi", 0) or 0)
    landlock = iso.landlock and abi > 0
    view = bool(report.get("view"))
    netns = bool(report.get("netns"))
    pidns = bool(report.get("pidns"))
    uid = report.get("uid")
    userns = bool(report.get("userns"))
    root = bool(report.get("root"))

    def why(key: str, default: str) -> str:
        return errors.get(key, default)

    out = [
        Protection("separate process per script", True, "forked from a warm worker into a new session"),
        Protection(
            "whole process tree killed at the end",
            pidns,
            "each script is init of its own PID namespace, so its exit kills every process it started"
            if pidns
            else f"process group only, a process that calls setsid() can outlive the script ({why('pid namespace', 'PID namespaces unavailable')})",
        ),
        Protection(
            "wall-clock timeout", True, f"{lim.timeout_s:g} s, the host kills the script and its namespace"
        ),
        Protection("CPU time", True, f"RLIMIT_CPU {lim.cpu_s} s per process"),
        Protection("memory", True, f"RLIMIT_AS {lim.memory_mb} MB of address space per process"),
    ]
    if uid is not None:
        nproc = Protection(
            "number of processes", True, f"RLIMIT_NPROC {lim.nproc} for a dedicated unprivileged uid ({uid})"
        )
    elif userns:
        nproc = Protection(
            "number of processes",
            True,
            f"RLIMIT_NPROC {lim.nproc}, counted inside the sandbox's user namespace",
        )
    elif root:
        nproc = Protection(
            "number of processes",
            False,
            f"root is exempt from RLIMIT_NPROC and no unprivileged uid could be used ({why('unprivileged uid', 'disabled')})",
        )
    else:
        nproc = Protection(
            "number of processes",
            True,
            f"RLIMIT_NPROC {lim.nproc}, but it counts every process of the host user (no user namespace: {why('namespaces', 'disabled')})",
        )
    out.append(nproc)
    out.append(Protection("file size", True, f"RLIMIT_FSIZE {lim.fsize_mb} MB per file"))
    out.append(
        Protection(
            "scrubbed environment",
            True,
            "scripts get PATH, HOME, TMPDIR, LANG and CFMIGRATE_BRIDGE only; server env values and headers stay in the host",
        )
    )
    out.append(
        Protection(
            "credentials stay in the host",
            session.bridge_socket is not None,
            "MCP sessions live in the host; scripts reach tools only through the bridge socket"
            if session.bridge_socket is not None
            else "no bridge configured for this session",
        )
    )
    out.append(
        Protection(
            "isolated filesystem view",
            view,
            "private mount namespace: only Python, system libraries, the servers package and the work dir are visible, read-only except workspace/, skills/, .tmp/"
            if view
            else why("filesystem view", why("namespaces", "disabled")),
        )
    )
    write_how = []
    if view:
        write_how.append("read-only bind mounts")
    if landlock:
        write_how.append(f"Landlock ABI {abi}")
    out.append(
        Protection(
            "writes confined to the work dir",
            bool(write_how),
            " + ".join(write_how) + " (workspace/, skills/, .tmp/ only)"
            if write_how
            else "no mount namespace and no Landlock on this kernel",
        )
    )
    out.append(
        Protection(
            "reads confined",
            view or landlock,
            ("mount view" if view else "")
            + (" + " if view and landlock else "")
            + (f"Landlock ABI {abi}" if landlock else "")
            if (view or landlock)
            else "scripts can read any file the host user can",
        )
    )
    out.append(
        Protection(
            "network blocked",
            netns,
            "empty network namespace (no interfaces up, not even loopback)"
            + (" + Landlock denies TCP connect/bind" if landlock and abi >= 4 else "")
            if netns
            else (
                "only TCP is blocked (Landlock); UDP and other sockets are not"
                if landlock and abi >= 4
                else why("namespaces", "network namespaces unavailable")
            ),
        )
    )
    if uid is not None:
        priv = f"dedicated uid {uid}, no capabilities, no_new_privs"
    elif userns:
        priv = "uid 0 only inside a user namespace, no capabilities, no_new_privs"
    else:
        priv = (
            "no capabilities, no_new_privs"
            if not root
            else "runs as root (capabilities dropped, no_new_privs)"
        )
    out.append(Protection("no privileges", uid is not None or userns or not root, priv))
    scope = landlock and abi >= 6
    out.append(
        Protection(
            "cannot signal or trace host processes",
            scope or uid is not None,
            ("Landlock scope (signals, abstract unix sockets)" if scope else "")
            + (" + " if scope and uid is not None else "")
            + ("different uid" if uid is not None else "")
            if (scope or uid is not None)
            else "same uid as the host and no Landlock scoping",
        )
    )
    return out
