"""The executor interface and the local implementation: one confined process per script, forked warm."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol, runtime_checkable

from cfmigrate.runtime import _sandbox, executor_cgroup
from cfmigrate.runtime.executor_cgroup import CgroupLimits, CgroupSupport, RunCgroup

SANDBOX_SCRIPT = Path(_sandbox.__file__).resolve()
UNCONFINED_ENV = "CFMIGRATE_ALLOW_UNCONFINED"
log = logging.getLogger("cfmigrate.runtime")
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
MONITOR_GRACE_S = 5.0  # after a timeout, how long the monitor may take to save the workspace and report


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
    # total of workspace/, skills/ and .tmp/: the size of their tmpfs (writes past it get ENOSPC), or,
    # where no tmpfs can be mounted, a cap the monitor polls (killing a script that grows past it)
    disk_mb: int = 256
    max_tool_calls: int = 50  # per script; the next call is refused (0 = no tool calls at all)
    # all of a script's processes together, where a delegated cgroup v2 subtree exists (memory.max:
    # resident memory and page cache, including what the script writes to its tmpfs workspace)
    total_memory_mb: int = 512

    def cgroup(self) -> CgroupLimits:
        """The per-script cgroup's limits (pids: the script's processes plus its monitor)."""
        return CgroupLimits(max(16, int(self.total_memory_mb)) << 20, max(1, int(self.nproc)) + 1)

    def to_wire(self) -> dict[str, int]:
        return {
            "cpu_seconds": max(1, int(self.cpu_s)),
            "memory_bytes": int(self.memory_mb) * 1024 * 1024,
            "nproc": max(1, int(self.nproc)),
            "fsize_bytes": int(self.fsize_mb) * 1024 * 1024,
            "nofile": max(16, int(self.nofile)),
            "disk_bytes": max(1, int(self.disk_mb)) * 1024 * 1024,
        }


@dataclass(frozen=True)
class Isolation:
    """Which kernel isolation layers to attempt; each is skipped (and reported) when the kernel refuses it."""

    mount: bool = True  # private mount namespace with a read-only view of only the needed paths
    net: bool = True  # empty network namespace
    pid: bool = True  # a PID namespace per script
    landlock: bool = True  # Landlock: writes/reads by path, TCP, signals, abstract sockets
    drop_uid: bool = True  # as root: run scripts as a dedicated unprivileged uid
    seccomp: bool = True  # a syscall filter: no namespaces, io_uring, bpf, keyctl, vsock/netlink sockets...
    tmpfs: bool = True  # workspace/, skills/, .tmp/ on one size-limited tmpfs (else the disk, cap polled)
    cgroup: bool = True  # a cgroup v2 per script (memory.max, pids.max) where a delegated subtree exists


BridgeServe = Callable[[socket.socket], Awaitable[None]]


@dataclass(frozen=True)
class SandboxSession:
    """What one code-mode session gives its scripts: a work dir, the servers package, the bridge.

    `bridge`, when set, is called once per script with the host end of a SOCK_SEQPACKET socket pair
    whose other end only that script holds (as fd 3, named by $CFMIGRATE_BRIDGE_FD): the connector on
    which the script asks for connections (see `bridge.BridgeServer.serve_connector`).
    """

    id: str
    work_dir: Path
    runtime_dir: Path  # host-only scratch: the worker's mount point and log
    servers_dir: Path | None = None
    bridge: BridgeServe | None = None
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


class UnconfinedError(ExecutorError):
    """This machine cannot give scripts the minimum protections and the host did not opt in."""

    def __init__(self, missing: list[str], reasons: Mapping[str, str]) -> None:
        self.missing = missing
        parts = [f"{_sandbox.REQUIRED_HELP[name]} ({reasons.get(name, 'unavailable')})" for name in missing]
        super().__init__(
            "the code-mode sandbox refuses to run scripts on this machine, it cannot provide: "
            + "; ".join(parts)
            + f". Enable what is missing, or accept running scripts without it with "
            f"CodeMode(..., allow_unconfined=True) or {UNCONFINED_ENV}=1 (logged loudly)"
        )


class WorkerGone(ConnectionError):
    """The warm worker was gone before the script started (safe to restart it and run again)."""


# --------------------------------------------------------------------------------------------
# paths the sandbox sees


def _python_paths() -> tuple[list[str], list[str], list[str]]:
    """(sys.path for scripts, the directories to show read-only, site-packages dirs).

    Only the standard library's own directories and the site-packages directories are shown, never a
    whole prefix: a virtualenv's root holds pip.conf and pyvenv.cfg, which scripts have no need for. The
    site-packages directories are the environment's own and any other on sys.path: an environment layered
    over another one by a `.pth` file (as `uv run --with` makes them) imports from both.
    """
    prefixes = {os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)}
    stdlib = [
        p
        for p in sys.path
        if p and os.path.exists(p) and any(os.path.realpath(p).startswith(pre + os.sep) for pre in prefixes)
    ]
    paths = sysconfig.get_paths()
    layered = [p for p in sys.path if p and os.path.basename(p) in ("site-packages", "dist-packages")]
    site = [p for p in dict.fromkeys([paths["purelib"], paths["platlib"], *layered]) if os.path.isdir(p)]
    shown = sorted({os.path.realpath(p) for p in [*stdlib, *site]} | {*stdlib, *site})
    return list(dict.fromkeys(stdlib + site)), shown, site


def account_files(uid: int | None, home: str) -> dict[str, str]:
    """/etc/passwd and /etc/group as scripts see them: root, nobody and the sandbox's own uid only."""
    users = [("root", 0, "/root"), ("nobody", 65534, "/nonexistent")]
    if uid is not None:
        users.insert(1, ("sandbox", uid, home))
    return {
        "/etc/passwd": "".join(
            f"{name}:x:{n}:{n}:{name}:{dir_}:/usr/sbin/nologin\n" for name, n, dir_ in users
        ),
        "/etc/group": "".join(f"{'nogroup' if n == 65534 else name}:x:{n}:\n" for name, n, _ in users),
    }


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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
SKILLS_INIT = (
    '"""Reusable functions written by the agent; import them as `from skills.<module> import ...`."""\n'
)


def _open_dir(path: Path) -> int:
    """An fd for the directory `path`; its last component must not be a symlink (its parents may be)."""
    parent = os.open(str(path.parent.resolve()), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return os.open(path.name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        raise ExecutorError(
            f"{path}: the work dir is not a directory (or is a symlink): {exc.strerror}"
        ) from None
    finally:
        os.close(parent)


def _subdir(parent: int, name: str, mode: int) -> int:
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, mode, dir_fd=parent)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        raise ExecutorError(
            f"{name} in the work dir is not a directory (or is a symlink): {exc.strerror}; remove it"
        ) from None


def _chown_tree(fd: int, owner: int) -> None:
    """Give a directory and everything below it to `owner`, never following a link; clear setuid bits."""
    os.fchown(fd, owner, owner)
    for _root, dirs, files, dfd in os.fwalk(dir_fd=fd, follow_symlinks=False):
        for name in [*dirs, *files]:
            with contextlib.suppress(OSError):
                if os.stat(name, dir_fd=dfd, follow_symlinks=False).st_nlink > 1 and name in files:
                    continue  # a hard link may be a file from elsewhere: never hand it over
                os.chown(name, owner, owner, dir_fd=dfd, follow_symlinks=False)
            with contextlib.suppress(OSError):
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                if st.st_mode & (stat.S_ISUID | stat.S_ISGID) and stat.S_ISREG(st.st_mode):
                    one = os.open(
                        name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd
                    )
                    try:
                        os.fchmod(one, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
                    finally:
                        os.close(one)


def prepare_work_dir(work_dir: Path, servers_dir: Path | None, owner: int | None) -> None:
    """Create the work dir (private: 0750, group = the sandbox uid's when root) and its writable dirs.

    Every operation goes through directory fds with O_NOFOLLOW: a symlink a script planted in a kept
    work dir is refused (or replaced, for `servers`), never followed.
    """
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = _open_dir(work_dir)
    try:
        host_uid = os.geteuid()
        sandbox = owner if owner is not None and owner != host_uid and host_uid == 0 else None
        if sandbox is not None:
            os.fchown(fd, host_uid, sandbox)  # the sandbox uid reaches it by group; other users not at all
            os.fchmod(fd, 0o750)
        else:
            os.fchmod(fd, 0o700)
        for name in RW_DIRS:
            sub = _subdir(fd, name, 0o700)
            try:
                if sandbox is not None:
                    _chown_tree(sub, sandbox)
                    os.fchmod(sub, 0o700)
                elif host_uid == 0:
                    _chown_tree(sub, host_uid)
            finally:
                os.close(sub)
        skills = os.open("skills", _DIR_FLAGS, dir_fd=fd)
        try:
            try:
                init = os.open(
                    "__init__.py", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                    dir_fd=skills,
                )  # fmt: skip
            except FileExistsError:
                init = -1
            if init >= 0:
                try:
                    os.write(init, SKILLS_INIT.encode())
                    if sandbox is not None:
                        os.fchown(init, sandbox, sandbox)
                finally:
                    os.close(init)
        finally:
            os.close(skills)
        if servers_dir is not None:
            _link_servers(fd, work_dir, servers_dir.resolve())
    finally:
        os.close(fd)


def _link_servers(fd: int, work_dir: Path, target: Path) -> None:
    try:
        st = os.stat("servers", dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        os.symlink(str(target), "servers", target_is_directory=True, dir_fd=fd)
        return
    if stat.S_ISLNK(st.st_mode):
        if os.readlink("servers", dir_fd=fd) != str(target):
            os.unlink("servers", dir_fd=fd)
            os.symlink(str(target), "servers", target_is_directory=True, dir_fd=fd)
        return
    if (work_dir / "servers").resolve() != target:
        raise ExecutorError(
            f"{work_dir / 'servers'} exists and is not the generated package {target}; remove it or choose another work_dir"
        )


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
        self.applied: list[str] | None = None  # what the last script's process really had
        self.cgroup_last: tuple[bool, str] | None = None  # whether the last script ran in its cgroup, how

    def config(self) -> dict[str, Any]:
        s = self.session
        iso = self.executor.isolation
        sys_path, py_dirs, site = _python_paths()
        work = str(s.work_dir.resolve())
        # not the work dir itself: only its servers link and writable dirs are shown (a work dir that is
        # a project root must not show its .env, config or audit log)
        ro = [*SYSTEM_READ_PATHS, *py_dirs, *s.read_paths, f"{work}/servers"]
        if s.servers_dir is not None:
            ro.append(str(s.servers_dir.resolve()))
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
                "seccomp": iso.seccomp,
                "tmpfs": iso.tmpfs,
            },
            "workspace": {
                "bytes": s.limits.to_wire()["disk_bytes"],
                "inodes": max(64, s.limits.to_wire()["disk_bytes"] // _sandbox.ENTRY_COST),
            },
            "newroot": str(s.runtime_dir / "root"),
            "ro_paths": ro,
            "rw_paths": [f"{work}/{name}" for name in RW_DIRS],
            "list_paths": [
                work
            ],  # without a view, Landlock lets scripts list it (to import servers), not read it
            "exec_paths": [p for p in dict.fromkeys([*SYSTEM_EXEC_PATHS, *py_dirs]) if os.path.lexists(p)],
            "devices": [d for d in DEVICES if os.path.exists(d)],
            "files": account_files(self.uid, f"{work}/.tmp"),
            "env": env,
            "uid": self.uid,
            "unconfined": self.executor.allow_unconfined,
        }

    async def start(self) -> None:
        s = self.session
        s.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(s.runtime_dir, 0o700)
        (s.runtime_dir / "root").mkdir(exist_ok=True)
        # the work dir first: the worker's view only shows what exists when it is built
        planned = (
            self.executor.session_uid(s.id)
            if os.geteuid() == 0 and self.executor.isolation.drop_uid
            else None
        )
        prepare_work_dir(s.work_dir, s.servers_dir, planned)
        self.cfg = self.config()
        host, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child.set_inheritable(True)
        cfg = dict(self.cfg, control_fd=child.fileno())
        log_fd = os.open(
            s.runtime_dir / "worker.log",
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
        )
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.executor.python,
                "-I",
                "-S",
                "-B",
                str(SANDBOX_SCRIPT),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log_fd,
                pass_fds=(child.fileno(),),
                env={"MALLOC_ARENA_MAX": "2", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin", **cfg["env"]},
                cwd="/",
                start_new_session=True,
            )
        finally:
            child.close()
            os.close(log_fd)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cfg).encode())
        await self.proc.stdin.drain()
        self.proc.stdin.close()
        host.setblocking(False)
        self.sock = host
        try:
            ready = await asyncio.wait_for(self._read_message(), timeout=60)
        except (TimeoutError, ConnectionError, ValueError) as exc:
            await self.stop()
            raise ExecutorError(f"the sandbox worker did not start: {self._log_tail()}") from exc
        if ready.get("kind") != "ready" or not isinstance(ready.get("report"), dict):
            await self.stop()
            raise ExecutorError(f"the sandbox worker sent {str(ready)[:200]} instead of 'ready'")
        self.report = ready["report"]
        uid = self.report.get("uid")  # what the worker could actually use, which decides who owns the rw dirs
        prepare_work_dir(s.work_dir, s.servers_dir, uid if isinstance(uid, int) else None)
        missing = _sandbox.missing_layers(
            expected_layers(self.report, self.executor.isolation), bool(self.report.get("root"))
        )
        if missing:
            if not self.executor.allow_unconfined:
                await self.stop()
                raise UnconfinedError(missing, missing_reasons(self.report))
            log.warning(
                "sandbox session %s runs scripts UNCONFINED (opted in): missing %s",
                s.id,
                "; ".join(
                    f"{_sandbox.REQUIRED_HELP[m]} ({missing_reasons(self.report).get(m, 'unavailable')})"
                    for m in missing
                ),
            )

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
            if len(self.buffer) > 1 << 20:
                raise ConnectionError("sandbox worker sent an oversized message")
        line, _, self.buffer = self.buffer.partition(b"\n")
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ConnectionError("sandbox worker sent a message that is not an object")
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
        send = [out_w, err_w, st_w]
        host_end: socket.socket | None = None
        if self.session.bridge is not None:
            host_end, script_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            send.append(script_end.detach())
        run_cgroup, cgroup_problem = self._make_cgroup(limits)
        if run_cgroup is not None:
            send.append(run_cgroup.procs_fd)
        body = json.dumps(
            {
                "id": 1,
                "code": code,
                "limits": limits.to_wire(),
                "bridge": host_end is not None,
                "cgroup": run_cgroup is not None,
            }
        ).encode()
        header = json.dumps({"length": len(body)}).encode() + b"\n"
        try:
            socket.send_fds(self.sock, [header], send)
            await loop.sock_sendall(self.sock, body)
        except OSError as exc:
            for fd in (out_r, err_r, st_r):
                os.close(fd)
            if host_end is not None:
                host_end.close()
            if run_cgroup is not None:
                await asyncio.to_thread(executor_cgroup.remove_run, run_cgroup.path)
            raise WorkerGone(str(exc)) from None
        finally:
            for fd in send:
                os.close(fd)
        out, out_t = await _read_pipe(out_r, limits.max_output_bytes)
        err, err_t = await _read_pipe(err_r, limits.max_output_bytes)
        status, st_t = await _read_pipe(st_r, 1 << 20)
        serving: asyncio.Task[None] | None = None
        if host_end is not None and self.session.bridge is not None:
            host_end.setblocking(False)
            serving = asyncio.ensure_future(self.session.bridge(host_end))
        monitor_pid: int | None = None
        try:
            try:
                reply = await asyncio.wait_for(self._read_message(), timeout=30)
            except (
                ConnectionError,
                ValueError,
            ) as exc:  # the worker died before it forked: the script never ran
                raise WorkerGone(str(exc)) from None
            if reply.get("kind") == "started" and isinstance(reply.get("pid"), int):
                monitor_pid = int(reply["pid"])
            else:
                raise ExecutorError(f"sandbox worker refused the script: {str(reply.get('error'))[:300]}")
            timed_out = False
            waiting = {out.done, err.done, status.done}
            deadline = started + limits.timeout_s
            _, pending = await asyncio.wait(waiting, timeout=max(0.0, deadline - time.perf_counter()))
            if pending:
                timed_out = True
                # the script first: its monitor then copies the workspace to disk and reports; the
                # monitor too if it has not finished within the grace period
                self._kill(None, status)
                _, pending = await asyncio.wait(waiting, timeout=MONITOR_GRACE_S)
                if pending:
                    self._kill(monitor_pid, status)
                    await asyncio.wait(waiting, timeout=10)
        finally:
            for t in (out_t, err_t, st_t):
                t.close()
            if serving is not None:
                serving.cancel()
                with contextlib.suppress(BaseException):
                    await serving
            if host_end is not None:
                host_end.close()
            counted = await self._remove_cgroup(run_cgroup)
        duration = time.perf_counter() - started
        result, applied = _result(out, err, status, timed_out, duration, limits)
        if next((e for e in _events(status) if e.get("kind") == "exit"), {}).get("restart") is True:
            raise WorkerGone("the work dir's writable dirs were replaced; the script did not run")
        if applied is not None:
            self.applied = applied
        return self._cgroup_outcome(result, status, run_cgroup, cgroup_problem, counted, limits)

    def _make_cgroup(self, limits: Limits) -> tuple[RunCgroup | None, str | None]:
        """This script's cgroup (None where there is no delegated subtree, with why when it failed)."""
        if not self.executor.isolation.cgroup:
            return None, None
        support = self.executor.cgroup_support(limits)
        if support.base is None:
            return None, None
        try:
            return executor_cgroup.create_run(support.base, limits.cgroup()), None
        except OSError as exc:
            log.warning("sandbox session %s: no cgroup for this script: %s", self.session.id, exc)
            return None, f"its cgroup could not be set up under {support.base} ({exc})"

    async def _remove_cgroup(self, run_cgroup: RunCgroup | None) -> dict[str, int]:
        if run_cgroup is None:
            return {}
        counted = executor_cgroup.events(run_cgroup.path)
        left = await asyncio.to_thread(executor_cgroup.remove_run, run_cgroup.path)
        if left:
            log.warning(
                "sandbox session %s: cgroup %s was not removed: %s", self.session.id, run_cgroup.path, left
            )
        return counted

    def _cgroup_outcome(
        self,
        result: ExecutionResult,
        status: _Capture,
        run_cgroup: RunCgroup | None,
        problem: str | None,
        counted: dict[str, int],
        limits: Limits,
    ) -> ExecutionResult:
        """Record whether the script really ran in its cgroup; say what the kernel stopped."""
        if run_cgroup is None:
            if problem is not None:
                self.cgroup_last = (False, problem)
            return result
        exit_event = next((e for e in _events(status) if e.get("kind") == "exit"), {})
        joined = exit_event.get("cgroup")
        if joined == "joined":
            cg = limits.cgroup()
            self.cgroup_last = (
                True,
                f"the last script ran in its own cgroup under {run_cgroup.path.parent}: memory.max "
                f"{cg.memory_bytes >> 20} MB, memory.swap.max 0, pids.max {cg.pids}",
            )
        else:
            self.cgroup_last = (
                False,
                _str(joined, 300) or "the script's monitor did not report joining its cgroup",
            )
        notes = list(result.notes)
        if counted.get("oom_kill"):
            notes.append(
                f"stopped: the script's processes together used more than {limits.total_memory_mb} MB "
                "(the kernel's OOM killer ended one)"
            )
        if counted.get("pids_max"):
            notes.append(f"{counted['pids_max']} fork(s) refused: more than {limits.nproc} processes at once")
        if notes == list(result.notes):
            return result
        return dataclasses.replace(result, notes=tuple(notes), ok=result.ok and not counted.get("oom_kill"))

    def _kill(self, monitor_pid: int | None, status: _Capture) -> None:
        """Kill the script, its process group and its monitor (the PID namespace takes the rest)."""
        started = next((e for e in _events(status) if e.get("kind") == "started"), {})
        script_pid = started.get("pid") if isinstance(started.get("pid"), int) else None
        for pid in (script_pid, monitor_pid):
            if pid is None or pid <= 1:
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
    """The monitor's events (it is the only writer of the status pipe); anything malformed is skipped."""
    out: list[dict[str, Any]] = []
    for line in status.data.splitlines():
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(event, dict) and isinstance(event.get("kind"), str):
            out.append(event)
    return out


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any, limit: int = 8000) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _result(
    out: _Capture, err: _Capture, status: _Capture, timed_out: bool, duration: float, limits: Limits
) -> tuple[ExecutionResult, list[str] | None]:
    """The outcome as the host decides it: the exit status from the monitor's wait4, never the script's word."""
    events = _events(status)
    exit_event = next((e for e in events if e.get("kind") == "exit"), {})
    sig = _int(exit_event.get("signal"))
    code = _int(exit_event.get("code"))
    cpu = _num(exit_event.get("cpu"))
    limit = exit_event.get("limit") if exit_event.get("limit") in ("cpu", "disk") else None
    setup_error = _str(exit_event.get("setup_error"), 1000)
    applied_raw = exit_event.get("applied")
    applied = [x for x in applied_raw if isinstance(x, str)] if isinstance(applied_raw, list) else None
    notes: list[str] = []
    ok = code == 0 and sig is None and not timed_out and not exit_event.get("setup_error") and limit is None
    error = None if ok else _str(exit_event.get("error"))
    if timed_out:
        notes.append(
            f"stopped: the script ran longer than the {limits.timeout_s:g} s wall-clock limit; "
            "it and every process it started were killed"
        )
    elif limit == "disk":
        notes.append(
            f"stopped: workspace/, skills/ and .tmp/ together grew past the {limits.disk_mb} MB disk limit "
            f"(each file counts at least 4 KiB; more than {_sandbox.MAX_SCAN_DEPTH} nested directories cannot be "
            "measured and count as over); delete files you no longer need"
        )
    elif limit == "cpu" or (sig in (signal.SIGKILL, signal.SIGXCPU) and cpu and cpu >= limits.cpu_s):
        notes.append(f"stopped: the script used up its {limits.cpu_s} s of CPU time")
    elif setup_error:
        notes.append(f"the sandbox could not start the script: {setup_error}")
    elif sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals.__members__.values() else str(sig)
        hint = (
            f" (it may have run out of its {limits.memory_mb} MB memory limit)"
            if sig in (6, 7, 9, 11)
            else ""
        )
        notes.append(f"stopped: the script was killed by {name}{hint}")
    elif not exit_event:
        notes.append("the script ended without its monitor reporting an exit status")
    elif code not in (0, None) and not error:
        notes.append(f"the script exited with status {code}")
    if error and "MemoryError" in error:
        notes.append(f"memory limit: {limits.memory_mb} MB")
    for event in events:  # the monitor's own remarks (only it writes the status pipe)
        text = _str(event.get("text"), 300) if event.get("kind") == "note" else None
        if text:
            notes.append(text)
    unsaved = _str(exit_event.get("sync_error"), 300)
    if unsaved:
        ok = False
        notes.append(
            f"workspace/, skills/ and .tmp/ were not saved completely to the work dir ({unsaved}; hard links "
            "are saved as copies); what is missing there is gone for the next script"
        )
    maxrss = _int(exit_event.get("maxrss_kb"))
    result = ExecutionResult(
        stdout=out.text(),
        stderr=err.text(),
        ok=ok,
        error=error,
        exit_code=code,
        signal=sig,
        timed_out=timed_out,
        stdout_dropped=out.dropped,
        stderr_dropped=err.dropped,
        duration_s=duration,
        cpu_s=cpu,
        max_rss_kb=maxrss,
        notes=tuple(notes),
    )
    return result, applied


def expected_layers(report: Mapping[str, Any], iso: Isolation) -> list[str]:
    """The layers a script's process will have, as far as the worker's setup report shows."""
    layers = [name for name in ("view", "netns", "userns", "pidns") if report.get(name)]
    if report.get("pidns"):
        layers.append("ipcns")  # made with the PID namespace; confirmed by the first script's record
    if iso.landlock and int(report.get("landlock_abi", 0) or 0) > 0:
        layers.append("landlock")
    if isinstance(report.get("uid"), int):
        layers.append("uid")
    return layers


def missing_reasons(report: Mapping[str, Any]) -> dict[str, str]:
    errors: Mapping[str, str] = report.get("errors") or {}
    platform = errors.get("platform")
    ns = errors.get("namespaces", "disabled")
    return {
        "filesystem": platform
        or f"{errors.get('filesystem view', ns)}; Landlock: "
        + ("absent or disabled in this kernel" if not report.get("landlock_abi") else "disabled"),
        "network": platform or ns,
        "pid": platform or errors.get("pid namespace", ns),
        "identity": platform
        or (
            errors.get("unprivileged uid", "disabled")
            if report.get("root")
            else errors.get("user namespace", ns)
        ),
    }


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
        allow_unconfined: bool | None = None,
    ) -> None:
        if allow_unconfined is None:
            allow_unconfined = os.environ.get(UNCONFINED_ENV, "").strip().lower() in ("1", "true", "yes")
        self.allow_unconfined = bool(allow_unconfined)
        self.python = python or sys.executable
        self.preload = tuple(preload)
        self.isolation = isolation or Isolation()
        self.sandbox_uid = sandbox_uid
        self.extra_sys_path = tuple(extra_sys_path)
        self._workers: dict[str, _Worker] = {}
        self._uids: dict[str, int] = {}
        self._probe: dict[str, Any] | None = None
        self._cgroup: CgroupSupport | None = None

    def cgroup_support(self, limits: Limits) -> CgroupSupport:
        """Where this executor makes per-script cgroups, or why it cannot (decided once, with a probe)."""
        if self._cgroup is None:
            if not sys.platform.startswith("linux"):
                self._cgroup = CgroupSupport(None, f"{sys.platform} has no cgroups")
            elif not self.isolation.cgroup:
                self._cgroup = CgroupSupport(None, "disabled (Isolation(cgroup=False))")
            else:
                self._cgroup = executor_cgroup.detect(limits.cgroup())
        return self._cgroup

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
            except UnconfinedError:
                raise
            except (ConnectionError, OSError, ExecutorError, ValueError) as exc:
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
            report = dict(worker.report, cgroup_v2=self._cgroup_line(session, worker))
            if worker.applied is not None:
                report["applied"] = worker.applied
            return report
        if self._probe is None:
            self._probe = self._run_probe(session)
        return dict(self._probe, cgroup_v2=self._cgroup_line(session, None))

    def _cgroup_line(self, session: SandboxSession, worker: _Worker | None) -> dict[str, Any]:
        """Whether cgroup v2 limits are in force: the last script's own record, else the probe's verdict."""
        if worker is not None and worker.cgroup_last is not None:
            enforced, how = worker.cgroup_last
            return {"enforced": enforced, "how": how}
        support = self.cgroup_support(session.limits)
        if support.base is None:
            return {"enforced": False, "how": support.reason}
        cg = session.limits.cgroup()
        return {
            "enforced": True,
            "how": f"a cgroup per script under {support.base} ({support.reason}): memory.max {cg.memory_bytes >> 20} MB, "
            f"memory.swap.max 0, pids.max {cg.pids} (a probe cgroup took every write and a process moved into it)",
        }

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
                limits=session.limits,
            )
            probe_session.work_dir.mkdir()
            for name in RW_DIRS:  # as a real session has them (the workspace tmpfs is mounted over them)
                (probe_session.work_dir / name).mkdir()
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
        return describe_protections(
            self.worker_report(session), session, self.isolation, unconfined=self.allow_unconfined
        )

    def missing(self, session: SandboxSession) -> list[str]:
        """Which of the minimum protections this machine cannot give the session's scripts."""
        report = self.worker_report(session)
        layers = report.get("applied") or expected_layers(report, self.isolation)
        return _sandbox.missing_layers(layers, bool(report.get("root")))


def _cgroup_protection(report: Mapping[str, Any], lim: Limits) -> Protection:
    line = report.get("cgroup_v2")
    name = "total memory and processes (cgroup)"
    if isinstance(line, Mapping) and line.get("enforced") is True and isinstance(line.get("how"), str):
        return Protection(name, True, line["how"])
    why = line.get("how") if isinstance(line, Mapping) and isinstance(line.get("how"), str) else "not checked"
    return Protection(
        name,
        False,
        f"no cgroup v2 limits: {why}; the bound is per process: RLIMIT_AS {lim.memory_mb} MB × RLIMIT_NPROC {lim.nproc}",
    )


def describe_protections(
    report: Mapping[str, Any], session: SandboxSession, iso: Isolation, *, unconfined: bool = False
) -> list[Protection]:
    """Turn a worker's setup report (and the layers the last script really had) into plain statements.

    Nothing here is constant: each line is derived from what the kernel granted. When a script has
    run, its process's own record of the layers applied (sent before any script code) wins.
    """
    lim = session.limits
    errors: Mapping[str, str] = report.get("errors", {}) or {}
    applied_raw = report.get("applied")
    layers = set(applied_raw if isinstance(applied_raw, list) else expected_layers(report, iso))
    if (
        not isinstance(applied_raw, list)
        and iso.seccomp
        and report.get("platform", sys.platform).startswith("linux")
    ):
        layers.add("seccomp")  # installed in every script's process; confirmed by the first run's record
    root = bool(report.get("root"))
    abi = int(report.get("landlock_abi", 0) or 0)
    landlock = "landlock" in layers
    view = "view" in layers
    netns = "netns" in layers
    pidns = "pidns" in layers
    userns = "userns" in layers
    uid = report.get("uid") if "uid" in layers else None
    seccomp = "seccomp" in layers
    missing = _sandbox.missing_layers(layers, root)
    reasons = missing_reasons(report)

    def why(key: str, default: str) -> str:
        return errors.get(key, errors.get("platform", default))

    out: list[Protection] = []
    if missing:
        out.append(
            Protection(
                "minimum confinement",
                False,
                ("UNCONFINED, the host opted in: " if unconfined else "scripts are REFUSED: ")
                + "; ".join(f"no {_sandbox.REQUIRED_HELP[m]} ({reasons[m]})" for m in missing),
            )
        )
    else:
        out.append(
            Protection(
                "minimum confinement",
                True,
                "filesystem, network, PID namespace and identity layers all in force; scripts are refused otherwise",
            )
        )
    out += [
        Protection("separate process per script", True, "forked from a warm worker into a new session"),
        Protection(
            "whole process tree killed at the end",
            pidns,
            "each script is init of its own PID namespace, so its exit kills every process it started"
            if pidns
            else f"process group only, a process that calls setsid() can outlive the script ({why('pid namespace', 'PID namespaces unavailable')})",
        ),
        Protection(
            "private IPC namespace",
            "ipcns" in layers,
            "each script has its own: SysV shared memory, semaphores and POSIX message queues it makes die with it"
            if "ipcns" in layers
            else "scripts share the host's IPC namespace: SysV shared memory they make outlives them",
        ),
        Protection(
            "host name hidden",
            bool(report.get("utsns")),
            "own UTS namespace: scripts see the host name 'sandbox'"
            if report.get("utsns")
            else f"scripts see the host's name ({why('uts namespace', 'no namespaces')})",
        ),
        Protection(
            "wall-clock timeout", True, f"{lim.timeout_s:g} s, the host kills the script and its namespace"
        ),
        Protection("CPU time", True, f"RLIMIT_CPU {lim.cpu_s} s per process"),
        Protection("memory", True, f"RLIMIT_AS {lim.memory_mb} MB of address space per process"),
        _cgroup_protection(report, lim),
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
    if "tmpfs" in layers or (not isinstance(applied_raw, list) and report.get("workspace") == "tmpfs"):
        disk_how = (
            f"{lim.disk_mb} MB in total for workspace/, skills/ and .tmp/: one tmpfs of that size "
            f"(nosuid, nodev, noexec; {max(64, (lim.disk_mb << 20) // _sandbox.ENTRY_COST)} inodes), so a write "
            "past it fails with ENOSPC; copied to the work dir on disk after each script"
        )
    elif report.get("workspace") == "tmpfs":  # mounted, but the last script's process did not see it capped
        disk_how = ""
    else:
        disk_how = (
            f"{lim.disk_mb} MB in total for workspace/, skills/ and .tmp/, polled: the monitor measures every "
            f"{_sandbox.DISK_SCAN_S:g} s and kills the script past it (a fast writer can overshoot by one interval; "
            f"no tmpfs: {errors.get('workspace tmpfs', 'disabled')})"
        )
    if disk_how:
        out.append(Protection("disk space", True, disk_how))
    else:
        out.append(
            Protection(
                "disk space",
                False,
                f"a {lim.disk_mb} MB tmpfs was mounted, but the last script's process did not find its writable dirs "
                "on it at that size; RLIMIT_FSIZE per file only",
            )
        )
    fs_confined = view or landlock
    identity = uid is not None or userns
    out.append(
        Protection(
            "scrubbed environment",
            fs_confined and (pidns or identity),
            "scripts get PATH, HOME, TMPDIR, LANG and CFMIGRATE_BRIDGE_FD only; host processes' environments are out of reach"
            if fs_confined and (pidns or identity)
            else "the script's own environment is scrubbed, but it can read other processes' environments and files of the host user",
        )
    )
    bridge = session.bridge is not None
    creds = bridge and fs_confined and netns and identity
    out.append(
        Protection(
            "credentials stay in the host",
            creds,
            "MCP sessions live in the host; each script reaches tools only through its own pre-connected socket"
            if creds
            else (
                "no bridge configured for this session"
                if not bridge
                else "the script may read the host's config files or reach its servers directly ("
                + ", ".join(m for m in missing)
                + " missing)"
            ),
        )
    )
    out.append(
        Protection(
            "isolated filesystem view",
            view,
            "private mount namespace: only the standard library, site-packages, system libraries, the servers package and the work dir are visible, read-only except workspace/, skills/, .tmp/ (nosuid, nodev); /etc/passwd and /etc/group list only root, nobody and the sandbox's uid"
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
            "same uid as the host user (no user namespace), no capabilities, no_new_privs"
            if not root
            else "RUNS AS ROOT (uid 0; capabilities dropped, no_new_privs)"
        )
    out.append(Protection("no privileges", identity, priv))
    out.append(
        Protection(
            "syscall filter (seccomp)",
            seccomp,
            "denied: namespace creation (unshare, setns, clone with CLONE_NEW*), io_uring, bpf, keyctl, userfaultfd, "
            "ptrace, mount, perf_event_open, AF_NETLINK/AF_PACKET/AF_VSOCK sockets"
            if seccomp
            else "no seccomp filter could be installed",
        )
    )
    scope = landlock and abi >= 6
    out.append(
        Protection(
            "cannot signal or trace host processes",
            scope or uid is not None or (pidns and userns),
            ("Landlock scope (signals, abstract unix sockets)" if scope else "")
            + (" + " if scope and uid is not None else "")
            + ("different uid" if uid is not None else "")
            + ("PID + user namespace" if not scope and uid is None and pidns and userns else "")
            if (scope or uid is not None or (pidns and userns))
            else "same uid as the host and no Landlock scoping",
        )
    )
    return out
