"""The sandbox side of the local executor: a warm worker that forks one confined process per script.

This file runs as a script (``python -I -S -B _sandbox.py``) with only the standard library and the
paths the host lists on ``sys.path``; it never imports cfmigrate. The host imports it only to share
the constants below.

Layers, each applied when the kernel allows it and reported to the host either way:

* once per worker: private mount namespace with a read-only view of the listed paths (pivot_root
  onto a tmpfs), an empty network namespace, a user namespace when not started as root;
* once per script: a fresh PID namespace (its death kills every process the script started), a new
  session, rlimits (CPU, address space, processes, file size, open files, core), a dedicated
  unprivileged uid when started as root, no capabilities, no_new_privs, and a Landlock domain
  (writes only below the read-write paths, reads only inside the view, no TCP, no signals or
  abstract sockets outside the sandbox).
"""

from __future__ import annotations

import ast
import ctypes
import json
import os
import resource
import signal
import socket
import stat
import struct
import sys
import time
import traceback
from typing import Any

PROTOCOL = 1
STATUS_FD = 3
CELL = "<cell>"

# clone(2) flags
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
# prctl(2)
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECURE_BITS = 0x23  # SECBIT_NOROOT + its lock, and KEEP_CAPS locked off (setuid fix-up stays on)
# x86_64 / aarch64 syscall numbers
_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "capset": 126, "ll_create": 444, "ll_add": 445, "ll_restrict": 446},
    "aarch64": {"pivot_root": 41, "capset": 91, "ll_create": 444, "ll_add": 445, "ll_restrict": 446},
}
# Landlock
LL_RULE_PATH_BENEATH = 1
LL_CREATE_RULESET_VERSION = 1
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _nr(name: str) -> int:
    table = _SYSCALLS.get(os.uname().machine)
    if table is None:
        raise OSError(38, f"no syscall table for {os.uname().machine}")
    return table[name]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    return _check(_libc.prctl(option, arg2, arg3, 0, 0), f"prctl({option})")


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers, 0 when Landlock is absent or disabled."""
    try:
        version = _libc.syscall(_nr("ll_create"), None, ctypes.c_size_t(0), LL_CREATE_RULESET_VERSION)
    except OSError:
        return 0
    return int(version) if version > 0 else 0


class _RulesetAttr(ctypes.Structure):
    _fields_ = (("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64))


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock_restrict(read_paths: list[str], write_paths: list[str], exec_paths: list[str]) -> list[str]:
    """Confine this process: reads below `read_paths`, writes below `write_paths`, no TCP, scoped IPC.

    Returns the names of the restrictions in force (depends on the ABI).
    """
    abi = landlock_abi()
    if abi < 1:
        raise OSError(95, "Landlock is not available in this kernel")
    handled_fs = _fs_rights(abi)
    attr = _RulesetAttr(handled_fs, NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0, 0)
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _check(
        _libc.syscall(_nr("ll_create"), ctypes.byref(attr), ctypes.c_size_t(size), 0), "landlock ruleset"
    )
    read = FS_READ_FILE | FS_READ_DIR
    write = handled_fs & ~FS_EXECUTE
    try:
        grants: dict[str, int] = {}
        for path in read_paths:
            grants[path] = grants.get(path, 0) | read
        for path in exec_paths:
            grants[path] = grants.get(path, 0) | read | FS_EXECUTE
        for path in write_paths:
            grants[path] = grants.get(path, 0) | write
        for path, rights in sorted(grants.items()):
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    rights &= FILE_RIGHTS
                rule = struct.pack("=Qi", rights & handled_fs, fd)
                buf = ctypes.create_string_buffer(rule, len(rule))
                _check(
                    _libc.syscall(_nr("ll_add"), ruleset, LL_RULE_PATH_BENEATH, buf, 0),
                    f"landlock rule {path}",
                )
            finally:
                os.close(fd)
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
        _check(_libc.syscall(_nr("ll_restrict"), ruleset, 0), "landlock restrict")
    finally:
        os.close(ruleset)
    enforced = ["fs"]
    if abi >= 4:
        enforced.append("tcp")
    if abi >= 6:
        enforced.append("scope")
    return enforced


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = _libc.mount(
        src.encode() if src else None,
        dst.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    _check(result, f"mount {src or fstype or ''} on {dst}")


def _locked_flags(path: str) -> int:
    """Mount flags a bind of `path` must keep (a remount inside a user namespace may not drop them)."""
    flags = os.statvfs(path).f_flag
    out = 0
    for st_flag, ms_flag in (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if flags & st_flag:
            out |= ms_flag
    return out


def _bind(newroot: str, path: str, *, writable: bool, device: bool) -> None:
    dst = newroot + path
    if not os.path.exists(dst):
        if os.path.isdir(path):
            os.makedirs(dst, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            with open(dst, "w"):
                pass
    _mount(path, dst, None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | _locked_flags(path) | MS_NOSUID
    if not writable:
        flags |= MS_RDONLY
    if not device:
        flags |= MS_NODEV
    _mount(None, dst, None, flags)


def _mirror(
    newroot: str, path: str, *, writable: bool, device: bool, bound: dict[str, bool], depth: int = 0
) -> None:
    """Make `path` appear at the same place under `newroot`; symlinks on the way are copied and followed."""
    path = os.path.normpath(os.path.abspath(path))
    if depth > 16 or not os.path.lexists(path):
        return
    parts = path.strip("/").split("/")
    current = ""
    for i, part in enumerate(parts):
        current = f"{current}/{part}"
        if os.path.islink(current):
            link = newroot + current
            if not os.path.lexists(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(os.readlink(current), link)
            target = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
            rest = "/".join(parts[i + 1 :])
            _mirror(
                newroot,
                os.path.join(target, rest) if rest else target,
                writable=writable,
                device=device,
                bound=bound,
                depth=depth + 1,
            )
            return
    for anc, anc_writable in bound.items():
        if (path == anc or path.startswith(anc.rstrip("/") + "/")) and anc_writable == writable:
            return
    _bind(newroot, path, writable=writable, device=device)
    bound[path] = writable


def build_view(newroot: str, ro_paths: list[str], rw_paths: list[str], devices: list[str]) -> None:
    """Replace this mount namespace's root with a tmpfs that holds only the listed paths."""
    os.umask(0o022)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    bound: dict[str, bool] = {}
    for path in sorted(ro_paths):
        _mirror(newroot, path, writable=False, device=False, bound=bound)
    for path in sorted(rw_paths):
        _mirror(newroot, path, writable=True, device=False, bound=bound)
    for path in devices:
        _mirror(newroot, path, writable=True, device=True, bound={})
    os.makedirs(newroot + "/tmp", exist_ok=True)
    _mount(None, newroot, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(newroot)
    _check(_libc.syscall(_nr("pivot_root"), b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def _write_proc(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _drop_capabilities() -> None:
    """Empty the bounding set, lock the root-regains-caps rules, clear ambient caps."""
    last = 40
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            last = int(fh.read())
    except OSError:
        pass
    for cap in range(last + 1):
        try:
            _prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            break
    try:
        _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass
    _prctl(PR_SET_SECUREBITS, SECURE_BITS)


def _capset_zero() -> None:
    header = struct.pack("=Ii", 0x20080522, 0)
    data = bytes(24)
    hbuf = ctypes.create_string_buffer(header, len(header))
    dbuf = ctypes.create_string_buffer(data, len(data))
    _check(_libc.syscall(_nr("capset"), hbuf, dbuf), "capset")


# --------------------------------------------------------------------------------------------
# worker setup (once)


def setup_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Enter the namespaces and the filesystem view; return what was achieved and why not."""
    report: dict[str, Any] = {"root": os.geteuid() == 0, "errors": {}}
    want = cfg.get("isolate", {})
    root = os.geteuid() == 0
    userns = False
    flags = 0
    if want.get("mount", True):
        flags |= CLONE_NEWNS
    if want.get("net", True):
        flags |= CLONE_NEWNET
    if not root and flags:
        flags |= CLONE_NEWUSER
    uid, gid = os.getuid(), os.getgid()
    ns_ok = False
    if flags:
        try:
            _check(_libc.unshare(flags), "unshare")
            ns_ok = True
            userns = bool(flags & CLONE_NEWUSER)
        except OSError as exc:
            report["errors"]["namespaces"] = str(exc)
    if ns_ok and userns:
        try:
            _write_proc("/proc/self/setgroups", "deny")
            _write_proc("/proc/self/uid_map", f"0 {uid} 1")
            _write_proc("/proc/self/gid_map", f"0 {gid} 1")
        except OSError as exc:
            report["errors"]["user namespace"] = str(exc)
    report["userns"] = ns_ok and userns
    report["netns"] = ns_ok and bool(flags & CLONE_NEWNET)
    report["view"] = False
    if ns_ok and flags & CLONE_NEWNS:
        try:
            build_view(cfg["newroot"], cfg["ro_paths"], cfg["rw_paths"], cfg["devices"])
            report["view"] = True
        except OSError as exc:
            report["errors"]["filesystem view"] = str(exc)
    report["pidns"] = False
    if want.get("pid", True) and (root or report["userns"]):
        pid = os.fork()
        if pid == 0:  # probe: can a child get its own PID namespace?
            code = 0
            try:
                _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
            except OSError:
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        report["pidns"] = os.waitstatus_to_exitcode(status) == 0
        if not report["pidns"]:
            report["errors"]["pid namespace"] = "unshare(CLONE_NEWPID) refused"
    report["landlock_abi"] = landlock_abi()
    report["uid"] = None
    if root and cfg.get("uid") is not None:
        blocked = [p for p in cfg["sys_path"] if os.path.exists(p) and not _world_reachable(p)]
        if report["view"] or not blocked:
            report["uid"] = cfg["uid"]
        else:
            report["errors"]["unprivileged uid"] = (
                f"{blocked[0]} is not readable by other users and there is no filesystem view to fix that"
            )
    return report


def _world_reachable(path: str) -> bool:
    """Whether a user with no special rights can reach `path` (every ancestor searchable, itself readable)."""
    current = os.path.realpath(path)
    try:
        if not os.stat(current).st_mode & stat.S_IROTH:
            return False
        while current != "/":
            current = os.path.dirname(current)
            if not os.stat(current).st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return False
    return True


def preload(modules: list[str]) -> dict[str, str]:
    """Import the modules every script is likely to need, so forks start warm; failures are reported."""
    failed: dict[str, str] = {}
    for name in modules:
        try:
            __import__(name)
        except Exception as exc:  # a missing optional module must not stop the worker
            failed[name] = f"{type(exc).__name__}: {exc}"
    return failed


# --------------------------------------------------------------------------------------------
# per script


def _status(payload: dict[str, Any]) -> None:
    data = (json.dumps(payload) + "\n").encode()
    try:
        os.write(STATUS_FD, data)
    except OSError:
        pass


class CpuLimitExceeded(BaseException):
    """Raised in the script when it used up its CPU seconds."""


def _on_xcpu(_signum: int, _frame: Any) -> None:
    raise CpuLimitExceeded("CPU time limit exceeded")


def _shorten_path(path: str, work_dir: str, site_dirs: list[str]) -> str:
    if path.startswith(work_dir + "/"):
        return path[len(work_dir) + 1 :]
    for site in site_dirs:
        if path.startswith(site + "/"):
            return path[len(site) + 1 :]
    return path


def short_traceback(exc: BaseException, work_dir: str, site_dirs: list[str], limit: int = 2000) -> str:
    """A traceback a model can act on: the script's own frames, the failing line, the exception."""
    if isinstance(exc, SyntaxError) and exc.filename == CELL:
        lines = [f"SyntaxError: {exc.msg} (line {exc.lineno})"]
        if exc.text:
            lines.append("    " + exc.text.rstrip("\n"))
            if exc.offset:
                lines.append("    " + " " * (exc.offset - 1) + "^")
        return "\n".join(lines)
    stack = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, f in enumerate(stack) if f.filename == CELL), 0)
    frames = list(stack)[first:]
    keep: list[str] = []
    hidden = 0
    for i, frame in enumerate(frames):
        own = frame.filename == CELL or frame.filename.startswith(work_dir + "/skills/")
        if own or i == len(frames) - 1:
            if hidden:
                keep.append(f"  ... {hidden} frame(s) in library code ...")
                hidden = 0
            name = _shorten_path(frame.filename, work_dir, site_dirs)
            keep.append(f'  File "{name}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                keep.append(f"    {frame.line.strip()}")
        else:
            hidden += 1
    head = "Traceback (most recent call last):"
    tail = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
    networky = any(
        f.filename.endswith(("/socket.py", "/ssl.py")) or "socket" in (f.line or "") for f in frames
    )
    if isinstance(exc, OSError) and networky:
        tail += "\n(hint: the sandbox has no network; reach tools through the servers package)"
    elif isinstance(exc, OSError) and exc.errno in (1, 13, 30) and exc.filename:
        tail += (
            "\n(hint: scripts may read only the work dir, the servers package and Python's own files, "
            "and write only in workspace/, skills/ and $TMPDIR)"
        )
    elif isinstance(exc, MemoryError):
        tail += "\n(hint: the script hit its memory limit; process data in smaller pieces)"
    elif isinstance(exc, BlockingIOError) and exc.errno == 11:
        tail += "\n(hint: the sandbox limits how many processes a script may start)"
    text = "\n".join([head, *keep[-12:], tail])
    if len(text) > limit:
        text = text[: limit // 2] + "\n  ...\n" + text[-limit // 2 :]
    return text


def run_script(source: str, work_dir: str, site_dirs: list[str]) -> int:
    """Compile and run one script (top-level await allowed); report the outcome on the status fd."""
    import linecache

    linecache.cache[CELL] = (len(source), None, source.splitlines(True), CELL)
    globs: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__, "__file__": CELL}
    try:
        code = compile(source, CELL, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        if code.co_flags & 0x80:  # CO_COROUTINE: the script uses top-level await
            import asyncio

            asyncio.run(eval(code, globs))
        else:
            exec(code, globs)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        _flush()
        _status({"kind": "done", "ok": status == 0, "exit": status})
        return status
    except CpuLimitExceeded:
        _flush()
        _status({"kind": "done", "ok": False, "limit": "cpu"})
        return 1
    except BaseException as exc:
        _flush()
        _status(
            {
                "kind": "done",
                "ok": False,
                "error": short_traceback(exc, work_dir, site_dirs),
                "exception": type(exc).__name__,
            }
        )
        return 1
    _flush()
    _status({"kind": "done", "ok": True})
    return 0


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _apply_limits(limits: dict[str, int]) -> None:
    pairs = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NOFILE: limits.get("nofile", 256),
        resource.RLIMIT_FSIZE: limits["fsize_bytes"],
        resource.RLIMIT_AS: limits["memory_bytes"],
        resource.RLIMIT_NPROC: limits["nproc"],
    }
    for which, value in pairs.items():
        resource.setrlimit(which, (value, value))
    cpu = limits["cpu_seconds"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def script_main(cfg: dict[str, Any], report: dict[str, Any], req: dict[str, Any], devnull: int) -> int:
    """Confine this (forked) process and run the script; never returns to the worker loop."""
    os.setsid()
    os.dup2(devnull, 0)
    os.closerange(4, 65536)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGXCPU, _on_xcpu)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    work_dir = cfg["work_dir"]
    applied: list[str] = []
    _apply_limits(req["limits"])
    uid = report.get("uid")
    parent = os.getppid()
    try:
        _drop_capabilities()
    except OSError:
        pass
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        applied.append("uid")
    try:
        _capset_zero()
    except OSError:
        pass
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        return 137
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    if cfg.get("isolate", {}).get("landlock", True) and report.get("landlock_abi", 0) > 0:
        reads = ["/"] if report.get("view") else cfg["ro_paths"] + cfg["exec_paths"] + cfg["devices"]
        landlock_restrict(reads, cfg["rw_paths"] + ["/dev/null"], cfg["exec_paths"])
        applied.append("landlock")
    os.chdir(work_dir)
    os.environ.clear()
    os.environ.update(cfg["env"])
    os.environ.update(req.get("env", {}))
    os.umask(0o077)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.argv = [CELL]
    return run_script(req["code"], work_dir, cfg["site_dirs"])


def monitor_main(
    cfg: dict[str, Any], report: dict[str, Any], req: dict[str, Any], fds: list[int], devnull: int
) -> int:
    """The per-script monitor: a new PID namespace, the script as its init, its exit status reported."""
    out_w, err_w, status_w = fds
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.dup2(status_w, STATUS_FD)
    if report.get("pidns"):
        _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = script_main(cfg, report, req, devnull)
        except BaseException as exc:  # setup failure inside the child: tell the host plainly
            _status({"kind": "done", "ok": False, "setup_error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(code)
    os.closerange(4, 65536)
    os.dup2(devnull, 1)  # only the script holds the output pipes, so they close when it and its children end
    os.dup2(devnull, 2)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _status({"kind": "started", "pid": pid})
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except ChildProcessError:
            status, usage = 0, None
            break
        except InterruptedError:
            continue
    exit_info: dict[str, Any] = {"kind": "exit", "wall": round(time.monotonic() - started, 4)}
    if os.WIFSIGNALED(status):
        exit_info["signal"] = os.WTERMSIG(status)
    else:
        exit_info["code"] = os.WEXITSTATUS(status)
    if usage is not None:
        exit_info["cpu"] = round(usage.ru_utime + usage.ru_stime, 4)
        exit_info["maxrss_kb"] = usage.ru_maxrss
    _status(exit_info)
    return 0


def _recv(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """One request: a header line (with the body length) carrying three fds, then the JSON body."""
    buf = b""
    fds: list[int] = []
    while not buf.endswith(b"\n"):
        data, got, _flags, _addr = socket.recv_fds(sock, 65536, 8)
        if not data:
            return None
        buf += data
        fds.extend(got)
    header_line, _, rest = buf.partition(b"\n")
    header = json.loads(header_line)
    body = rest
    while len(body) < header["length"]:
        chunk = sock.recv(max(65536, header["length"] - len(body)))
        if not chunk:
            return None
        body += chunk
    return json.loads(body), fds


def _send(sock: socket.socket, payload: dict[str, Any]) -> None:
    sock.sendall((json.dumps(payload) + "\n").encode())


def worker_main() -> None:
    """Read the configuration on stdin, set the sandbox up, then fork one monitor per request."""
    cfg = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    control = socket.socket(fileno=cfg["control_fd"])
    sys.path[:] = cfg["sys_path"]
    report = setup_worker(cfg)
    report["preload_failed"] = preload(cfg.get("preload", []))
    devnull = os.open("/dev/null", os.O_RDWR)
    _send(control, {"kind": "ready", "protocol": PROTOCOL, "report": report, "pid": os.getpid()})
    if cfg.get("probe"):
        return
    while True:
        while True:  # reap finished monitors
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        got = _recv(control)
        if got is None:
            break
        req, fds = got
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            _send(control, {"kind": "error", "id": req.get("id"), "error": "expected three descriptors"})
            continue
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            _send(control, {"kind": "error", "id": req.get("id"), "error": f"fork failed: {exc}"})
            continue
        if pid == 0:
            code = 1
            try:
                control.close()
                code = monitor_main(cfg, report, req, fds, devnull)
            except BaseException as exc:
                _status({"kind": "done", "ok": False, "setup_error": f"{type(exc).__name__}: {exc}"})
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        _send(control, {"kind": "started", "id": req.get("id"), "pid": pid})


if __name__ == "__main__":
    worker_main()
