"""The sandbox side of the local executor: a warm worker that forks one confined process per script.

This file runs as a script (``python -I -S -B _sandbox.py``) with only the standard library and the
paths the host lists on ``sys.path``; it never imports cfmigrate. The host imports it only to share
the constants below.

Layers, each applied when the kernel allows it and reported to the host either way:

* once per worker: private mount namespace with a read-only view of the listed paths (pivot_root
  onto a tmpfs) whose writable dirs are one size-limited tmpfs, an empty network namespace, a UTS
  namespace, a user namespace when not started as root;
* once per script: a fresh PID and IPC namespace (its death kills every process the script started
  and every SysV object it made), the workspace brought in step with the disk before and saved
  after, the script's cgroup joined when the host made one, a new session, rlimits (CPU, address space, processes, file size, open files, core), a dedicated
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
CELL = "<cell>"

# clone(2) flags
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUTS = 0x04000000
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
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
# x86_64 / aarch64 syscall numbers
_SYSCALLS = {
    "x86_64": {
        "pivot_root": 155, "capset": 126, "ll_create": 444, "ll_add": 445, "ll_restrict": 446,
        "unshare": 272, "setns": 308, "clone": 56, "clone3": 435, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "socket": 41, "keyctl": 250, "add_key": 248,
        "request_key": 249, "userfaultfd": 323, "bpf": 321, "perf_event_open": 298, "mount": 165,
        "umount2": 166, "chroot": 161, "ptrace": 101, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "process_vm_readv": 310, "process_vm_writev": 311,
        "open_by_handle_at": 304, "name_to_handle_at": 303, "swapon": 167, "swapoff": 168,
        "reboot": 169, "acct": 163, "quotactl": 179, "pidfd_getfd": 438,
    },
    "aarch64": {
        "pivot_root": 41, "capset": 91, "ll_create": 444, "ll_add": 445, "ll_restrict": 446,
        "unshare": 97, "setns": 268, "clone": 220, "clone3": 435, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "socket": 198, "keyctl": 219, "add_key": 217,
        "request_key": 218, "userfaultfd": 282, "bpf": 280, "perf_event_open": 241, "mount": 40,
        "umount2": 39, "chroot": 51, "ptrace": 117, "kexec_load": 104, "kexec_file_load": 294,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "process_vm_readv": 270, "process_vm_writev": 271,
        "open_by_handle_at": 265, "name_to_handle_at": 264, "swapon": 224, "swapoff": 225,
        "reboot": 142, "acct": 89, "quotactl": 60, "pidfd_getfd": 438,
    },
}  # fmt: skip
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
CLONE_NEW_ANY = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET
)
CLONE_NEWTIME = 0x00000080  # unshare(2) only; in clone(2) the low byte is the exit signal
AF_NETLINK, AF_PACKET, AF_VSOCK = 16, 17, 40
EPERM, ENOSYS, EAFNOSUPPORT = 1, 38, 97
# The script's fds: 0-2 stdio, 3 the bridge (when the host gives one), 4 the result channel to the monitor.
BRIDGE_FD = 3
RESULT_FD = 4
MAX_RESULT_BYTES = 256 * 1024
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

LINUX = sys.platform.startswith("linux")
_libc = ctypes.CDLL(None, use_errno=True)
if LINUX:
    _libc.syscall.restype = ctypes.c_long
    _libc.mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
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


# --------------------------------------------------------------------------------------------
# seccomp: a classic BPF filter built by hand (no library needed)

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


# (syscall, errno, (argument index, "jset" | "eq", value) or None)
Rule = tuple[str, int, "tuple[int, str, int] | None"]

SANDBOX_RULES: list[Rule] = [
    *[(name, EPERM, None) for name in (
        "unshare", "setns", "keyctl", "add_key", "request_key", "userfaultfd", "bpf", "perf_event_open",
        "mount", "umount2", "pivot_root", "chroot", "ptrace", "kexec_load", "kexec_file_load",
        "init_module", "finit_module", "delete_module", "open_tree", "move_mount", "fsopen", "fsconfig",
        "fsmount", "fspick", "mount_setattr", "process_vm_readv", "process_vm_writev",
        "open_by_handle_at", "name_to_handle_at", "swapon", "swapoff", "reboot", "acct", "quotactl",
        "pidfd_getfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    )],
    ("clone3", ENOSYS, None),  # its flags live in memory a filter cannot read; libc falls back to clone()
    ("clone", EPERM, (0, "jset", CLONE_NEW_ANY)),
    *[("socket", EAFNOSUPPORT, (0, "eq", family)) for family in (AF_NETLINK, AF_PACKET, AF_VSOCK)],
]  # fmt: skip


def seccomp_program(rules: list[Rule], machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """A filter returning the given errno for each rule, allowing the rest; other ABIs are killed."""
    machine = machine or os.uname().machine
    table, arch = _SYSCALLS.get(machine), _AUDIT_ARCH.get(machine)
    if table is None or arch is None:
        raise OSError(ENOSYS, f"no seccomp support for {machine}")
    prog: list[tuple[int, int, int, int]] = [
        (_BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (_BPF_JEQ_K, 1, 0, arch),
        (_BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        (_BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":  # the x32 ABI numbers its calls from 0x40000000: refuse all of them
        prog += [(_BPF_JGE_K, 0, 1, 0x40000000), (_BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | ENOSYS)]
    for name, errno, cond in rules:
        ret = (_BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | (errno & 0xFFFF))
        if cond is None:
            prog += [(_BPF_JEQ_K, 0, 1, table[name]), ret]
            continue
        index, op, value = cond
        prog += [
            (_BPF_JEQ_K, 0, 4, table[name]),
            (_BPF_LD_W_ABS, 0, 0, 16 + 8 * index),  # low 32 bits of the argument
            (_BPF_JSET_K if op == "jset" else _BPF_JEQ_K, 0, 1, value),
            ret,
            (_BPF_LD_W_ABS, 0, 0, 0),
        ]
    prog.append((_BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return prog


def install_seccomp(rules: list[Rule]) -> None:
    """Load the filter into this thread and its future children (needs no_new_privs or CAP_SYS_ADMIN)."""
    prog = seccomp_program(rules)
    array = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), ctypes.cast(array, ctypes.POINTER(_SockFilter)))
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0), "seccomp")


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


def landlock_restrict(
    read_paths: list[str], write_paths: list[str], exec_paths: list[str], list_paths: list[str] | None = None
) -> list[str]:
    """Confine this process: reads below `read_paths`, writes below `write_paths`, directory listings
    only below `list_paths`, no TCP, scoped IPC.

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
        for path in list_paths or []:
            grants[path] = grants.get(path, 0) | FS_READ_DIR
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


def build_view(
    newroot: str,
    ro_paths: list[str],
    rw_paths: list[str],
    devices: list[str],
    workspace: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    files: dict[str, str] | None = None,
) -> str:
    """Replace this mount namespace's root with a tmpfs that holds only the listed paths.

    `files` ({path: text}) are written into the view instead of showing the host's file at that
    path (the account databases: scripts need their own entries, not the host's user names).

    With `workspace` ({"bytes", "inodes", "owner"}) the writable paths are directories of one
    size-limited tmpfs (the kernel enforces the cap: ENOSPC), kept in step with the directories on
    disk by the monitor; where that tmpfs cannot be mounted they are bind mounts of the disk
    directories (the cap is then polled). Returns "tmpfs" or "disk".
    """
    os.umask(0o022)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    bound: dict[str, bool] = {}
    files = files or {}
    for path in sorted(ro_paths):
        if path not in files:
            _mirror(newroot, path, writable=False, device=False, bound=bound)
    for path, text in sorted(files.items()):
        os.makedirs(os.path.dirname(newroot + path), exist_ok=True)
        with open(newroot + path, "w", encoding="utf-8") as fh:
            fh.write(text)
    kind = "disk"
    if workspace is not None:
        try:
            _workspace_tmpfs(newroot, rw_paths, workspace)
            kind = "tmpfs"
        except OSError as exc:
            _close_workspace_fds()
            if errors is not None:
                errors["workspace tmpfs"] = str(exc)
    if kind == "disk":
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
    return kind


# The writable dirs as (disk dir fd, tmpfs dir fd) pairs, held by the worker and its monitors only
# (each script's process closes every fd above its own five before any script code runs).
WORKSPACE_FDS: list[tuple[int, int]] = []
WORKSPACE_NAMES: list[str] = []  # their last path components, for messages
WORKSPACE_MOUNT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC
STAGING = "/.cfm-workspace"


def _close_workspace_fds() -> None:
    for pair in WORKSPACE_FDS:
        for fd in pair:
            try:
                os.close(fd)
            except OSError:
                pass
    WORKSPACE_FDS.clear()
    WORKSPACE_NAMES.clear()


def _workspace_tmpfs(newroot: str, rw_paths: list[str], workspace: dict[str, Any]) -> None:
    """Mount one tmpfs of `bytes` / `inodes` and bind a directory of it onto each writable path."""
    size, inodes = int(workspace["bytes"]), int(workspace["inodes"])
    owner = workspace.get("owner")
    staging = newroot + STAGING
    os.mkdir(staging, 0o700)
    _mount("tmpfs", staging, "tmpfs", WORKSPACE_MOUNT_FLAGS, f"size={size},nr_inodes={inodes},mode=0700")
    try:
        for index, path in enumerate(rw_paths):
            disk = _high(os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC))
            name = str(index)
            os.mkdir(f"{staging}/{name}", 0o700)
            if isinstance(owner, int):
                os.chown(f"{staging}/{name}", owner, owner)
            mem = _high(
                os.open(f"{staging}/{name}", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            )
            WORKSPACE_FDS.append((disk, mem))
            WORKSPACE_NAMES.append(os.path.basename(path.rstrip("/")))
            dst = newroot + os.path.realpath(path)
            os.makedirs(dst, exist_ok=True)
            _mount(f"{staging}/{name}", dst, None, MS_BIND)
            _mount(None, dst, None, MS_BIND | MS_REMOUNT | WORKSPACE_MOUNT_FLAGS)
    finally:
        _libc.umount2(staging.encode(), MNT_DETACH)  # the binds stay; the whole tmpfs is reachable nowhere
        try:
            os.rmdir(staging)
        except OSError:
            pass


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
    report: dict[str, Any] = {"root": os.geteuid() == 0, "errors": {}, "platform": sys.platform}
    if not LINUX:
        report["errors"]["platform"] = (
            f"{sys.platform} has no supported sandbox backend (namespaces, Landlock and seccomp are Linux-only)"
        )
        report.update(userns=False, netns=False, view=False, pidns=False, landlock_abi=0, uid=None)
        if report["root"] and cfg.get("uid") is not None:
            report["uid"] = cfg["uid"]
        return report
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
    report["utsns"] = False
    if ns_ok:  # the host's name is none of the script's business
        try:
            _check(_libc.unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS)")
            _check(_libc.sethostname(b"sandbox", ctypes.c_size_t(7)), "sethostname")
            report["utsns"] = True
        except OSError as exc:
            report["errors"]["uts namespace"] = str(exc)
    report["view"] = False
    report["workspace"] = "disk"
    if ns_ok and flags & CLONE_NEWNS:
        workspace = cfg.get("workspace") if want.get("tmpfs", True) else None
        if workspace is not None and root and cfg.get("uid") is not None:
            workspace = dict(workspace, owner=cfg["uid"])
        try:
            report["workspace"] = build_view(
                cfg["newroot"],
                cfg["ro_paths"],
                cfg["rw_paths"],
                cfg["devices"],
                workspace,
                report["errors"],
                cfg.get("files"),
            )
            report["view"] = True
        except OSError as exc:
            _close_workspace_fds()
            report["workspace"] = "disk"
            report["errors"]["filesystem view"] = str(exc)
    elif cfg.get("workspace") is not None and want.get("tmpfs", True):
        report["errors"]["workspace tmpfs"] = "no private mount namespace to mount it in"
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
        blocked = [p for p in cfg["sys_path"] if os.path.exists(p) and not _reachable_by(p, cfg["uid"])]
        if report["view"] or not blocked:
            report["uid"] = cfg["uid"]
        else:
            report["errors"]["unprivileged uid"] = (
                f"{blocked[0]} is not readable by other users and there is no filesystem view to fix that"
            )
    return report


def _reachable_by(path: str, uid: int) -> bool:
    """Whether the sandbox uid (gid = uid, no groups) can reach `path`: every ancestor searchable, itself readable."""

    def allowed(st: os.stat_result, other: int, group: int, owner: int) -> bool:
        if st.st_uid == uid:
            return bool(st.st_mode & owner)
        if st.st_gid == uid:
            return bool(st.st_mode & group)
        return bool(st.st_mode & other)

    current = os.path.realpath(path)
    try:
        if not allowed(os.stat(current), stat.S_IROTH, stat.S_IRGRP, stat.S_IRUSR):
            return False
        while current != "/":
            current = os.path.dirname(current)
            if not allowed(os.stat(current), stat.S_IXOTH, stat.S_IXGRP, stat.S_IXUSR):
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


_status_fd = -1  # the monitor's pipe to the host; never present in the script's process


def _status(payload: dict[str, Any]) -> None:
    data = (json.dumps(payload) + "\n").encode()
    try:
        os.write(_status_fd, data)
    except OSError:
        pass


def _set_status_fd(fd: int) -> None:
    global _status_fd
    _status_fd = fd


def _result(payload: dict[str, Any]) -> None:
    """A record from the script's process to its monitor (which validates it before the host sees it)."""
    try:
        os.write(RESULT_FD, (json.dumps(payload) + "\n").encode())
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
    elif isinstance(exc, OSError) and exc.errno == 28:
        tail += (
            "\n(hint: workspace/, skills/ and $TMPDIR share one disk limit and it is full; "
            "delete files you no longer need)"
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
        _result({"kind": "done", "exit": status})
        return status
    except CpuLimitExceeded:
        _flush()
        _result({"kind": "done", "limit": "cpu"})
        return 1
    except BaseException as exc:
        _flush()
        _result(
            {
                "kind": "done",
                "error": short_traceback(exc, work_dir, site_dirs),
                "exception": type(exc).__name__,
            }
        )
        return 1
    _flush()
    _result({"kind": "done"})
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


# The minimum a script needs before it may run (unless the host opted in to running unconfined).
REQUIRED = ("filesystem", "network", "pid", "identity")
REQUIRED_HELP = {
    "filesystem": "a private filesystem view (mount namespace) or Landlock",
    "network": "an empty network namespace",
    "pid": "a PID namespace per script",
    "identity": "a non-host identity (a dedicated uid when the host is root, else a user namespace)",
}


def missing_layers(layers: set[str] | list[str], root: bool) -> list[str]:
    """Which of REQUIRED the given applied layers do not provide."""
    have = set(layers)
    satisfied = {
        "filesystem": bool(have & {"view", "landlock"}),
        "network": "netns" in have,
        "pid": "pidns" in have,
        "identity": "uid" in have if root else "userns" in have,
    }
    return [name for name in REQUIRED if not satisfied[name]]


def workspace_capped(paths: list[str], cap: int) -> bool:
    """Whether all writable paths are on one filesystem no larger than `cap` (as this process sees them)."""
    try:
        found = [os.statvfs(p) for p in paths]
    except OSError:
        return False
    if cap <= 0 or not found or len({st.f_fsid for st in found}) != 1:
        return False
    st = found[0]
    return bool(st.f_flag & os.ST_NOSUID) and st.f_blocks * st.f_frsize <= cap + st.f_frsize


def script_main(
    cfg: dict[str, Any], report: dict[str, Any], req: dict[str, Any], devnull: int, pidns: bool | str
) -> int:
    """Confine this (forked) process and run the script; never returns to the worker loop."""
    os.setsid()
    os.dup2(devnull, 0)
    os.closerange(
        RESULT_FD + 1, 65536
    )  # the bridge (3) and the result channel (4) were placed by the monitor
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGXCPU, _on_xcpu)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    work_dir = cfg["work_dir"]
    applied = [name for name in ("view", "netns", "userns") if report.get(name)]
    if pidns:
        applied.append("pidns")
    if pidns == "ipc":
        applied.append("ipcns")
    _apply_limits(req["limits"])
    uid = report.get("uid")
    parent = os.getppid()
    if not LINUX:
        return _script_elsewhere(cfg, report, req, applied, uid)
    try:
        _drop_capabilities()
        applied.append("capabilities")
    except OSError:
        pass
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError(EPERM, "could not switch to the sandbox uid")
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
        landlock_restrict(
            reads, cfg["rw_paths"] + ["/dev/null"], cfg["exec_paths"], cfg.get("list_paths", [])
        )
        applied.append("landlock")
    if cfg.get("isolate", {}).get("seccomp", True):
        try:
            install_seccomp(SANDBOX_RULES)
            applied.append("seccomp")
        except OSError:
            pass
    if report.get("workspace") == "tmpfs" and workspace_capped(
        cfg["rw_paths"], int(req["limits"].get("disk_bytes", 0))
    ):
        applied.append("tmpfs")
    missing = missing_layers(applied, bool(report.get("root")))
    if missing and not cfg.get("unconfined"):
        raise OSError(EPERM, "refused to run unconfined, missing: " + ", ".join(missing))
    os.chdir(work_dir)
    os.environ.clear()
    os.environ.update(cfg["env"])
    os.environ.update(req.get("env", {}))
    if req.get("bridge"):
        os.environ["CFMIGRATE_BRIDGE_FD"] = str(BRIDGE_FD)
    os.umask(0o077)
    _result(
        {"kind": "applied", "layers": applied}
    )  # before any script code: the monitor trusts only this one
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)  # noqa: SIM115
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.argv = [CELL]
    return run_script(req["code"], work_dir, cfg["site_dirs"])


def _script_elsewhere(
    cfg: dict[str, Any], report: dict[str, Any], req: dict[str, Any], applied: list[str], uid: int | None
) -> int:
    """On a kernel without a backend only the opt-in reaches here: a dedicated uid when root, nothing else."""
    if not cfg.get("unconfined"):
        raise OSError(EPERM, f"no sandbox backend on {sys.platform}")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        applied.append("uid")
    os.chdir(cfg["work_dir"])
    os.environ.clear()
    os.environ.update(cfg["env"])
    if req.get("bridge"):
        os.environ["CFMIGRATE_BRIDGE_FD"] = str(BRIDGE_FD)
    _result({"kind": "applied", "layers": applied})
    sys.argv = [CELL]
    return run_script(req["code"], cfg["work_dir"], cfg["site_dirs"])


def _high(fd: int) -> int:
    """Move `fd` above the numbers the script's process uses (close-on-exec)."""
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 16)
    os.close(fd)
    return moved


ENTRY_COST = 4096  # each file or directory counts at least this much, so empty files cannot exhaust inodes


UNMEASURABLE = 1 << 62
MAX_SCAN_DEPTH = 128


# How often the monitor measures the writable dirs against the disk cap where they could not be put
# on a size-limited tmpfs (the fallback): a script can overshoot it by what it writes in one interval.
DISK_SCAN_S = 0.05


def scan_tree(paths: list[str] | list[int], strip_setuid: bool = False) -> int:
    """Bytes below `paths` (at least ENTRY_COST per entry), walked depth-first by directory fds without
    following any link; optionally clears setuid/setgid bits on the way. A tree that cannot be walked
    whole (too deep, out of descriptors) measures as UNMEASURABLE, so a cap on it fails closed."""
    total = 0
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    for path in paths:
        try:
            top = os.dup(path) if isinstance(path, int) else os.open(path, flags)
        except FileNotFoundError:
            continue
        except OSError:
            return UNMEASURABLE
        stack: list[tuple[int, Any]] = [(top, os.scandir(top))]
        try:
            while stack:
                fd, entries = stack[-1]
                entry = next(entries, None)
                if entry is None:
                    entries.close()
                    os.close(fd)
                    stack.pop()
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += max(st.st_blocks * 512, ENTRY_COST)
                if strip_setuid and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                    _strip_setuid(fd, entry.name, st)
                if stat.S_ISDIR(st.st_mode):
                    if len(stack) >= MAX_SCAN_DEPTH:
                        return UNMEASURABLE
                    try:
                        sub = os.open(entry.name, flags, dir_fd=fd)
                    except FileNotFoundError:
                        continue
                    except OSError:
                        return UNMEASURABLE
                    stack.append((sub, os.scandir(sub)))
        finally:
            for fd, entries in stack:
                entries.close()
                os.close(fd)
    return total


class SyncError(OSError):
    """The writable dirs could not be brought in step (what is left is consistent per file)."""


SYNC_TMP = ".cfm-sync-"
_SYNCED = (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK)


Signature = tuple[int, int, int, int, int, int]
Snapshot = dict[str, dict[str, Signature]]  # directory (relative, "" for the top) -> its entries
_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _signature(st: os.stat_result) -> Signature:
    """What tells an entry changed: a script can forge mtime but not ctime or the inode number."""
    return (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, st.st_mode, st.st_ino, st.st_ctime_ns)


def _listing(fd: int) -> dict[str, os.stat_result]:
    with os.scandir(fd) as it:
        found = {e.name: e.stat(follow_symlinks=False) for e in it if not e.name.startswith(SYNC_TMP)}
    return {n: st for n, st in found.items() if stat.S_IFMT(st.st_mode) in _SYNCED}


def snapshot(fd: int, prefix: str = "", depth: int = 0, out: Snapshot | None = None) -> Snapshot:
    """Every entry below the directory `fd` with its signature (links not followed)."""
    out = {} if out is None else out
    if depth >= MAX_SCAN_DEPTH:
        raise SyncError(36, f"more than {MAX_SCAN_DEPTH} nested directories")
    entries = _listing(fd)
    out[prefix] = {name: _signature(st) for name, st in entries.items()}
    for name, st in entries.items():
        if stat.S_ISDIR(st.st_mode) and depth + 1 < MAX_SCAN_DEPTH:
            sub = os.open(name, _DIR_OPEN, dir_fd=fd)
            try:
                snapshot(sub, f"{prefix}{name}/", depth + 1, out)
            finally:
                os.close(sub)
    return out


def _cost(st: os.stat_result) -> int:
    """What an entry counts against the cap (as scan_tree measures it)."""
    return max(st.st_blocks * 512, ENTRY_COST)


def _charge(budget: list[int], amount: int) -> None:
    budget[0] -= amount
    if budget[0] < 0:
        budget[0] += amount
        raise SyncError(28, "over the size limit")


def mirror_tree(
    src: int,
    dst: int,
    owner: int | None,
    budget: list[int],
    before: Snapshot | None = None,
    prefix: str = "",
    depth: int = 0,
    skipped: list[str] | None = None,
) -> None:
    """Bring the directory `dst` in step with `src`: regular files, directories and symlinks.

    Without `before` (loading the sandbox), `dst` becomes a copy of `src` as far as it fits:
    files compared by size, mtime and mode; a file that does not fit is left out (and named in
    `skipped`), never a reason to stop. With `before` (saving, a snapshot of `src` taken when the
    script started), only what changed in `src` since is applied: entries created or changed are
    copied, entries deleted are deleted, and whatever else `dst` holds (files another session or
    the host wrote meanwhile) is left alone; past the budget SyncError is raised.

    Both are directory fds; nothing is followed (every open is O_NOFOLLOW relative to a directory
    fd). Files are copied data extents only (a sparse file stays sparse), through a temporary name
    renamed into place, so a hard link on the destination is replaced, never written through.
    Modes lose setuid, setgid and sticky bits; with `owner` everything created is given to that
    uid. Other file types are dropped. `budget` ([bytes], as scan_tree counts them) is what `dst`
    may still grow by: what is removed or replaced there is credited back. Directories
    MAX_SCAN_DEPTH deep are not copied (when loading they are removed from `dst`), so what is saved
    can always be loaded again.
    """
    if depth >= MAX_SCAN_DEPTH:
        raise SyncError(36, f"more than {MAX_SCAN_DEPTH} nested directories")
    loading = before is None
    wanted = _listing(src)
    with os.scandir(dst) as it:
        present = {e.name: e.stat(follow_symlinks=False) for e in it}
    was = before.get(prefix, {}) if before is not None else {}
    for name, st in list(present.items()):
        kind = stat.S_IFMT(st.st_mode)
        now = wanted.get(name)
        if loading:
            gone = now is None or kind != stat.S_IFMT(now.st_mode)
        else:  # what the script deleted or replaced, a conflict it wins, or a temp file left by a killed save
            gone = (name in was and (now is None or was[name][0] != stat.S_IFMT(now.st_mode))) or (
                now is not None and kind != stat.S_IFMT(now.st_mode) and was.get(name) != _signature(now)
            ) or name.startswith(SYNC_TMP)  # fmt: skip
        if gone:
            budget[0] += _remove(dst, name, st)
            del present[name]
    for name in sorted(wanted):
        st = wanted[name]
        old = present.get(name)
        mode = stat.S_IMODE(st.st_mode) & 0o777
        if stat.S_ISDIR(st.st_mode):
            if depth + 1 >= MAX_SCAN_DEPTH or (old is not None and not stat.S_ISDIR(old.st_mode)):
                # too deep to keep; or (saving) the destination has something there the script did not change
                if depth + 1 >= MAX_SCAN_DEPTH and skipped is not None:
                    skipped.append(prefix + name)
                if loading and old is not None:
                    budget[0] += _remove(dst, name, old)
                continue
            if old is None:
                try:
                    _charge(budget, ENTRY_COST)
                    os.mkdir(name, 0o700, dir_fd=dst)
                except OSError as exc:
                    if not loading or exc.errno not in (28, 122):
                        raise
                    if skipped is not None:
                        skipped.append(prefix + name)
                    continue
            sub_src = os.open(name, _DIR_OPEN, dir_fd=src)
            try:
                sub_dst = os.open(name, _DIR_OPEN, dir_fd=dst)
                try:
                    if owner is not None:
                        os.fchown(sub_dst, owner, owner)
                    os.fchmod(sub_dst, mode | 0o700)
                    mirror_tree(
                        sub_src, sub_dst, owner, budget, before, f"{prefix}{name}/", depth + 1, skipped
                    )
                finally:
                    os.close(sub_dst)
            finally:
                os.close(sub_src)
            continue
        if not loading and was.get(name) == _signature(st):
            continue  # not changed by the script: whatever the destination has stays
        same = old is not None and (old.st_size, old.st_mtime_ns, stat.S_IMODE(old.st_mode)) == (
            st.st_size, st.st_mtime_ns, mode
        )  # fmt: skip
        if loading and same and stat.S_ISREG(st.st_mode):
            continue
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(name, dir_fd=src)
            if old is not None and os.readlink(name, dir_fd=dst) == target:
                continue
        credit = _cost(old) if old is not None else 0  # what it replaces is freed
        budget[0] += credit
        try:
            if stat.S_ISLNK(st.st_mode):
                _charge(budget, ENTRY_COST)
                if old is not None:
                    os.unlink(name, dir_fd=dst)
                    old, credit = None, 0
                os.symlink(target, name, dir_fd=dst)
                if owner is not None:
                    os.chown(name, owner, owner, dir_fd=dst, follow_symlinks=False)
            else:
                _copy_file(src, dst, name, st, mode, owner, budget)  # renamed over what it replaces
        except OSError as exc:
            if not loading or exc.errno not in (28, 122):  # ENOSPC, EDQUOT
                budget[0] -= credit  # what it would have replaced stays
                raise
            if old is not None:  # loading: left out of the sandbox rather than shown stale
                os.unlink(name, dir_fd=dst)
            if skipped is not None:
                skipped.append(prefix + name)


def _remove(dir_fd: int, name: str, st: os.stat_result) -> int:
    """Delete an entry (a directory with all below it); what it counted against the cap."""
    if stat.S_ISDIR(st.st_mode):
        return remove_tree(dir_fd, name)
    os.unlink(name, dir_fd=dir_fd)
    return _cost(st)


def remove_tree(parent: int, name: str) -> int:
    """Delete the directory `name` (in `parent`) and all below it, at any depth, with two fds at most;
    returns what it all counted against the cap."""
    fd = os.open(name, _DIR_OPEN, dir_fd=parent)
    names = [name]
    freed = 0
    try:
        while names:
            child = None
            with os.scandir(fd) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    freed += _cost(entry.stat(follow_symlinks=False))
                    os.unlink(entry.name, dir_fd=fd)
            if child is not None:
                sub = os.open(child, _DIR_OPEN, dir_fd=fd)
                os.close(fd)
                fd = sub
                names.append(child)
                continue
            freed += ENTRY_COST
            if len(names) == 1:
                os.rmdir(name, dir_fd=parent)
                break
            up = os.open("..", _DIR_OPEN, dir_fd=fd)
            os.close(fd)
            fd = up
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    return freed


def _copy_file(
    src: int, dst: int, name: str, st: os.stat_result, mode: int, owner: int | None, budget: list[int]
) -> None:
    tmp = SYNC_TMP + os.urandom(6).hex()
    fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src)
    try:
        if not stat.S_ISREG(os.fstat(fin).st_mode):
            return
        fout = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dst
        )
        charged = 0
        try:
            size = os.fstat(fin).st_size
            offset = 0
            while offset < size:
                try:
                    start = os.lseek(fin, offset, os.SEEK_DATA)
                except OSError:  # ENXIO: only a hole is left
                    break
                end = os.lseek(fin, start, os.SEEK_HOLE)
                while start < end:
                    chunk = os.pread(fin, min(1 << 20, end - start), start)
                    if not chunk:
                        break
                    blocks = -(-len(chunk) // 4096) * 4096  # as the destination allocates it
                    _charge(budget, blocks)
                    charged += blocks
                    os.pwrite(fout, chunk, start)
                    start += len(chunk)
                offset = end
            _charge(budget, max(0, ENTRY_COST - charged))
            charged = max(charged, ENTRY_COST)
            os.ftruncate(fout, size)
            if owner is not None:
                os.fchown(fout, owner, owner)
            os.fchmod(fout, mode)
            os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
        except BaseException:
            budget[0] += charged
            os.close(fout)
            try:
                os.unlink(tmp, dir_fd=dst)
            except OSError:
                pass
            raise
        os.close(fout)
        os.rename(tmp, name, src_dir_fd=dst, dst_dir_fd=dst)
    finally:
        os.close(fin)


def sync_in(owner: int | None, budget: int, skipped: list[str]) -> tuple[list[Snapshot] | None, str | None]:
    """Before a script: each tmpfs dir becomes a copy of its disk dir as far as it fits (the rest is named in
    `skipped`); (their snapshots, None) or (None, why)."""
    left = [budget]
    try:
        for (disk, mem), name in zip(WORKSPACE_FDS, WORKSPACE_NAMES, strict=True):
            mine: list[str] = []
            mirror_tree(disk, mem, owner, left, skipped=mine)
            skipped.extend(f"{name}/{path}" for path in mine)
        return [snapshot(mem) for _disk, mem in WORKSPACE_FDS], None
    except (OSError, RecursionError) as exc:
        return None, f"{getattr(exc, 'strerror', None) or exc}"


def sync_out(before: list[Snapshot], owner: int | None, cap: int) -> str | None:
    """After a script: what it changed in the tmpfs dirs is applied to the disk dirs, so that they never
    hold more than `cap` (as scan_tree measures them); None or why not everything was saved."""
    disk_now = scan_tree([disk for disk, _mem in WORKSPACE_FDS])
    left = [max(0, cap - disk_now)]
    skipped: list[str] = []
    try:
        for (disk, mem), snap in zip(WORKSPACE_FDS, before, strict=True):
            mirror_tree(mem, disk, owner, left, snap, skipped=skipped)
    except (OSError, RecursionError) as exc:
        return f"{getattr(exc, 'strerror', None) or exc}"
    if skipped:
        return f"directories nested more than {MAX_SCAN_DEPTH - 1} deep are not saved: {skipped[0][:120]}"
    return None


def tmpfs_usage() -> int:
    """Bytes in use on the workspace tmpfs."""
    if not WORKSPACE_FDS:
        return 0
    st = os.fstatvfs(WORKSPACE_FDS[0][1])
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def _strip_setuid(dir_fd: int, name: str, st: os.stat_result) -> None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    if stat.S_ISDIR(st.st_mode):
        flags |= os.O_DIRECTORY
    elif not stat.S_ISREG(st.st_mode):
        return
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return
    try:
        now = os.fstat(fd)
        os.fchmod(fd, stat.S_IMODE(now.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_result(fd: int, kept: bytearray) -> bool:
    """Read what is available on the result channel (bounded); False at end of file."""
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return True
    except OSError:
        return False
    if not data:
        return False
    room = MAX_RESULT_BYTES - len(kept)
    if room > 0:
        kept += data[:room]
    return True


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[: limit - 20] + "\n... (cut)"


def validate_result(raw: bytes) -> dict[str, Any]:
    """What the host may believe of the script's own records: the layers applied, its traceback; type-checked."""
    lines = raw.split(b"\n")
    out: dict[str, Any] = {"applied": None}
    try:
        first = json.loads(lines[0]) if lines and lines[0] else None
    except (ValueError, RecursionError):
        first = None
    if isinstance(first, dict) and first.get("kind") == "applied":
        layers = first.get("layers")
        if isinstance(layers, list) and all(isinstance(x, str) and len(x) < 32 for x in layers):
            out["applied"] = layers[:32]
    elif isinstance(first, dict) and first.get("kind") == "setup":
        out["setup_error"] = _text(first.get("error"), 1000)
    done: dict[str, Any] | None = None
    for line in reversed(lines[1:] if out["applied"] is not None else []):
        if not line.strip():
            continue
        try:
            candidate = json.loads(line)
        except (ValueError, RecursionError):
            break
        if isinstance(candidate, dict) and candidate.get("kind") == "done":
            done = candidate
        break
    if done is not None:
        out["error"] = _text(done.get("error"), 8000)
        exception = done.get("exception")
        out["exception"] = exception if isinstance(exception, str) and exception.isidentifier() else None
        out["limit"] = "cpu" if done.get("limit") == "cpu" else None
    return {k: v for k, v in out.items() if v is not None or k == "applied"}


def monitor_main(
    cfg: dict[str, Any], report: dict[str, Any], req: dict[str, Any], fds: list[int], devnull: int
) -> int:
    """The per-script monitor: a new PID namespace, the script as its init, its outcome decided here."""
    global _status_fd
    import select

    fds = [_high(fd) for fd in fds]
    out_w, err_w, status_w = fds[:3]
    bridge = fds[3] if req.get("bridge") else None
    cgroup_fd = fds[-1] if req.get("cgroup") else None
    _status_fd = status_w
    devnull = _high(os.dup(devnull))
    if LINUX:
        try:
            _prctl(
                PR_SET_DUMPABLE, 0
            )  # /proc/<monitor>/fd is then closed to the script, even at the same uid
        except OSError:
            pass
    pidns: bool | str = False
    if report.get("pidns"):
        # with its own IPC namespace too: SysV segments and POSIX queues the script makes die with it,
        # instead of outliving it in the host's namespace (memory outside every limit, a channel between runs)
        try:
            _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWIPC), "unshare(CLONE_NEWPID | CLONE_NEWIPC)")
            pidns = "ipc"
        except OSError:
            _check(_libc.unshare(CLONE_NEWPID), "unshare(CLONE_NEWPID)")
            pidns = True
    res_r, res_w = (_high(fd) for fd in os.pipe())
    limits = req["limits"]
    disk_cap = int(limits.get("disk_bytes", 0))
    rw_paths = list(cfg["rw_paths"])
    tmpfs = bool(WORKSPACE_FDS)
    owner = report.get("uid") if report.get("root") and isinstance(report.get("uid"), int) else None
    before: list[Snapshot] = []
    if tmpfs:  # the kernel enforces the cap; the disk dirs are what the host reads and writes between scripts
        left_out: list[str] = []
        taken, problem = sync_in(owner, disk_cap, left_out)
        if taken is None:
            _status(
                {
                    "kind": "exit",
                    "setup_error": "workspace/, skills/ and .tmp/ in the work dir cannot be copied into the "
                    f"sandbox's {disk_cap >> 20} MB workspace ({problem}); delete files there",
                }
            )
            return 0
        before = taken
        if left_out:
            _status({"kind": "note", "text": f"{len(left_out)} entries of the work dir did not fit in the sandbox's "
                     f"{disk_cap >> 20} MB workspace (or are nested more than {MAX_SCAN_DEPTH - 1} directories deep) "
                     f"and are not shown to the script, e.g. {left_out[0][:120]}; delete files to make room"})  # fmt: skip
        disk_cap = 0  # nothing to poll
    cgroup: str | None = None
    if (
        cgroup_fd is not None
    ):  # the host made this script's cgroup; joining it here puts the script in at birth
        try:
            os.write(cgroup_fd, b"0")
            cgroup = "joined"
        except OSError as exc:
            cgroup = f"joining the script's cgroup failed: {exc.strerror}"
        os.close(cgroup_fd)
    start_usage = scan_tree(rw_paths, strip_setuid=True) if disk_cap else 0
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(res_w, RESULT_FD)
            if bridge is not None:
                os.dup2(bridge, BRIDGE_FD)
            else:
                os.dup2(devnull, BRIDGE_FD)
            code = script_main(cfg, report, req, devnull, pidns)
        except BaseException as exc:  # setup failure inside the child, before any script code ran
            try:
                os.write(
                    RESULT_FD,
                    (json.dumps({"kind": "setup", "error": f"{type(exc).__name__}: {exc}"}) + "\n").encode(),
                )
            except OSError:
                pass
            code = 126
        finally:
            os._exit(code)
    for fd in (out_w, err_w, res_w, *([bridge] if bridge is not None else [])):
        os.close(fd)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _status({"kind": "started", "pid": pid})
    os.set_blocking(res_r, False)
    kept = bytearray()
    reading = True
    status: int | None = None
    usage: Any = None
    limit: str | None = None
    threshold = max(disk_cap, start_usage) if start_usage < UNMEASURABLE else disk_cap
    try:
        pidfd: int | None = os.pidfd_open(pid)  # readable the moment the script exits
    except (AttributeError, OSError):
        pidfd = None
    next_scan = time.monotonic() + DISK_SCAN_S
    while status is None:
        watch = ([res_r] if reading else []) + ([pidfd] if pidfd is not None else [])
        wait = 0.02 if pidfd is None else (max(0.0, next_scan - time.monotonic()) if disk_cap else None)
        if watch:
            ready, _, _ = select.select(watch, [], [], wait)
        else:
            ready = []
            time.sleep(wait or 0.02)
        if res_r in ready:
            reading = _read_result(res_r, kept)
        try:
            got, st, ru = os.wait4(pid, os.WNOHANG)
        except ChildProcessError:
            status = 0
            break
        if got == pid:
            status, usage = st, ru
            break
        if disk_cap and time.monotonic() >= next_scan:
            next_scan = time.monotonic() + DISK_SCAN_S
            if scan_tree(rw_paths) > threshold:
                limit = "disk"
                os.kill(pid, signal.SIGKILL)
    if pidfd is not None:
        os.close(pidfd)
    while reading and _read_result(res_r, kept):
        if len(kept) >= MAX_RESULT_BYTES:
            break
        ready, _, _ = select.select([res_r], [], [], 0.05)
        if not ready:
            break
    os.close(res_r)
    wall = round(time.monotonic() - started, 4)
    saved: str | None = None
    if tmpfs:  # setuid bits are dropped on the way to disk
        saved = sync_out(before, owner, int(limits.get("disk_bytes", 0)))
        disk = tmpfs_usage()
    else:
        disk = scan_tree(rw_paths, strip_setuid=True)  # no setuid file outlives the script
    exit_info: dict[str, Any] = {"kind": "exit", "wall": wall, "disk_bytes": disk}
    if cgroup is not None:
        exit_info["cgroup"] = cgroup
    if saved is not None:
        exit_info["sync_error"] = saved[:300]
    if os.WIFSIGNALED(status):
        exit_info["signal"] = os.WTERMSIG(status)
    else:
        exit_info["code"] = os.WEXITSTATUS(status)
    if usage is not None:
        exit_info["cpu"] = round(usage.ru_utime + usage.ru_stime, 4)
        exit_info["maxrss_kb"] = usage.ru_maxrss
    exit_info.update(validate_result(bytes(kept)))
    if limit is not None:
        exit_info["limit"] = limit
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
        if len(fds) != 3 + bool(req.get("bridge")) + bool(req.get("cgroup")):
            for fd in fds:
                os.close(fd)
            _send(control, {"kind": "error", "id": req.get("id"), "error": "wrong number of descriptors"})
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
                _set_status_fd(fds[2])
                code = monitor_main(cfg, report, req, fds, devnull)
            except BaseException as exc:
                _status({"kind": "exit", "setup_error": f"{type(exc).__name__}: {exc}"})
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        _send(control, {"kind": "started", "id": req.get("id"), "pid": pid})


if __name__ == "__main__":
    worker_main()
