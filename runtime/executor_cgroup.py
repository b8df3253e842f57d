"""cgroup v2 limits for each script: a child cgroup of a delegated subtree with memory.max,
memory.swap.max and pids.max, joined by the script's monitor before the script is forked.

Used only where the kernel gives this process a cgroup v2 subtree it may write to (a systemd unit
with `Delegate=yes`, a user session under `user@.service`, a container with a writable
/sys/fs/cgroup); anywhere else the sandbox keeps its per-process rlimits and says so. The host
process is never moved: the base is either the directory named by $CFMIGRATE_CGROUP, or the
process's own cgroup when it may hold children with these controllers, or its parent (a process
that lives in a leaf of a delegated cgroup, e.g. systemd's `DelegateSubgroup=`) — those two only
when delegated (systemd's delegation mark, or owned by this non-root user), never merely writable.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CGROUP_ENV = "CFMIGRATE_CGROUP"
CONTROLLERS = ("memory", "pids")
PREFIX = "cfmigrate-"


@dataclass(frozen=True)
class CgroupSupport:
    """Where per-script cgroups are made (`base`), or why they cannot be (`reason`)."""

    base: Path | None
    reason: str

    @property
    def available(self) -> bool:
        return self.base is not None


@dataclass(frozen=True)
class CgroupLimits:
    """What each script's cgroup is given."""

    memory_bytes: int
    pids: int


@dataclass(frozen=True)
class RunCgroup:
    """One script's cgroup and a write-only fd on its cgroup.procs (for the monitor to join)."""

    path: Path
    procs_fd: int


def _unescape(field: str) -> str:
    """Mount paths in mountinfo escape space, tab, newline and backslash as octal."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def cgroup2_mounts(mountinfo: str) -> list[tuple[str, str]]:
    """(root within the hierarchy, mount point) of every cgroup2 mount in a mountinfo text."""
    found: list[tuple[str, str]] = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and tail and tail[0] == "cgroup2":
            found.append((_unescape(fields[3]), _unescape(fields[4])))
    return found


def _read(path: Path) -> str:
    with open(path, encoding="ascii", errors="replace") as fh:
        return fh.read()


def _mkdir(path: Path) -> None:
    os.mkdir(path, 0o755)  # the kernel fills it with the interface files


def _rmdir(path: Path) -> None:
    os.rmdir(path)  # a cgroup directory is removed with its interface files in it


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _swap_configured(proc: Path) -> bool:
    try:
        return len(_read(proc.parent / "swaps").strip().splitlines()) > 1
    except OSError:
        return True  # unknown: memory.swap.max must then exist


def own_cgroup(proc: Path = Path("/proc/self")) -> tuple[Path | None, str]:
    """This process's cgroup v2 directory, or None and why not."""
    try:
        lines = _read(proc / "cgroup").splitlines()
    except OSError as exc:
        return None, f"{proc / 'cgroup'} cannot be read ({exc.strerror})"
    bound: set[str] = set()
    v1_lines: list[str] = []
    for line in lines:
        number, _, rest = line.partition(":")
        here = set(rest.partition(":")[0].split(",")) & set(CONTROLLERS)
        if number != "0" and here:
            bound |= here
            v1_lines.append(line.strip())
    if bound:
        return None, (
            f"{' and '.join(sorted(bound))} {'are' if len(bound) > 1 else 'is'} bound to the cgroup v1 hierarchy "
            f"on this machine (/proc/self/cgroup: {', '.join(v1_lines)})"
        )
    own = next((line[3:] for line in lines if line.startswith("0::")), None)
    if own is None:
        return None, "this process has no cgroup v2 hierarchy (/proc/self/cgroup has no 0:: line)"
    try:
        mounts = cgroup2_mounts(_read(proc / "mountinfo"))
    except OSError as exc:
        return None, f"{proc / 'mountinfo'} cannot be read ({exc.strerror})"
    for root, mountpoint in mounts:
        if own == root or own.startswith(root.rstrip("/") + "/"):
            rel = own[len(root) :].lstrip("/")
            return Path(mountpoint) / rel if rel else Path(mountpoint), ""
    return None, "the cgroup v2 hierarchy holding this process is not mounted here"


def delegated(base: Path) -> str | None:
    """None when `base` is delegated to this process, else why not: systemd marks the cgroups it
    delegates (xattr trusted.delegate / user.delegate = 1); a cgroup chowned to this (non-root) user
    is delegated the classic way. Root can write anywhere, which is not the same as being given it."""
    for attr in ("trusted.delegate", "user.delegate"):
        with contextlib.suppress(OSError):
            if os.getxattr(base, attr) == b"1":
                return None
    try:
        owner = os.stat(base).st_uid
    except OSError as exc:
        return f"{base} cannot be read ({exc.strerror})"
    if owner == os.geteuid() != 0:
        return None
    return f"{base} is not delegated to this process (no systemd delegation mark; owner uid {owner})"


def _usable(base: Path, limits: CgroupLimits, proc: Path, *, enable: bool) -> str | None:
    """None when per-script cgroups can be made under `base` (tried with a probe), else why not."""
    try:
        controllers = set(_read(base / "cgroup.controllers").split())
    except OSError as exc:
        return f"{base} is not a cgroup v2 directory ({exc.strerror})"
    missing = [c for c in CONTROLLERS if c not in controllers]
    if missing:
        return f"the {' and '.join(missing)} controller(s) are not delegated to {base}"
    try:
        enabled = set(_read(base / "cgroup.subtree_control").split())
    except OSError as exc:
        return f"{base}/cgroup.subtree_control cannot be read ({exc.strerror})"
    absent = [c for c in CONTROLLERS if c not in enabled]
    if absent:
        if not enable:
            return (
                f"{' and '.join(absent)} are not enabled for the children of {base} (cgroup.subtree_control)"
            )
        try:
            _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in absent))
        except OSError as exc:
            return f"cannot enable {' and '.join(absent)} in {base}/cgroup.subtree_control ({exc.strerror})"
    if not (os.access(base, os.W_OK | os.X_OK) and os.access(base / "cgroup.procs", os.W_OK)):
        return f"{base} is not writable by this process (uid {os.geteuid()}): not delegated to it"
    try:
        probe = create_run(base, limits, proc, name=f"{PREFIX}probe-{os.getpid()}-{secrets.token_hex(3)}")
    except OSError as exc:
        return f"a cgroup under {base} could not be set up ({exc})"
    moved = _move_a_child(probe)
    leftover = remove_run(probe.path)
    if moved is not None:
        return f"a process of this cgroup cannot be moved into one under {base} ({moved})"
    return f"the probe cgroup {probe.path} could not be removed ({leftover})" if leftover else None


def _move_a_child(run: RunCgroup) -> str | None:
    """Move a short-lived child into the probe cgroup as the script's monitor will be moved (a write
    of its pid to cgroup.procs, from this process's cgroup); None when the kernel took it."""
    import subprocess
    import sys

    try:
        child = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", "import sys; sys.stdin.read()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError as exc:
        os.close(run.procs_fd)
        return f"no child process to try with: {exc.strerror}"
    try:
        os.write(run.procs_fd, str(child.pid).encode())
        return None
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        os.close(run.procs_fd)
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def remove_stale(base: Path) -> list[str]:
    """Remove the run cgroups a host that died left under `base` (named with its pid, which is gone)."""
    removed: list[str] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(base):
            parts = entry.name.split("-")
            if not (entry.name.startswith(PREFIX) and entry.is_dir(follow_symlinks=False)):
                continue
            pid = next((int(p) for p in parts[1:] if p.isdigit()), None)
            if pid is None or pid == os.getpid() or _alive(pid):
                continue
            if remove_run(Path(entry.path), attempts=1) is None:
                removed.append(entry.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def detect(
    limits: CgroupLimits, proc: Path = Path("/proc/self"), env: Mapping[str, str] | None = None
) -> CgroupSupport:
    """Find a delegated cgroup v2 subtree this process may make per-script cgroups in."""
    env = os.environ if env is None else env
    own, reason = own_cgroup(proc)
    if own is None:
        return CgroupSupport(None, reason)
    chosen = env.get(CGROUP_ENV, "").strip()
    if chosen:
        base = Path(chosen)
        why = _usable(base, limits, proc, enable=True)
        if why is not None:
            return CgroupSupport(None, why)
        remove_stale(base)
        return CgroupSupport(base, f"{CGROUP_ENV}={base}")
    reasons: list[str] = []
    candidates = [own] + (
        [own.parent] if own.parent != own and (own.parent / "cgroup.controllers").exists() else []
    )
    for base in candidates:
        why = delegated(base) or _usable(base, limits, proc, enable=False)
        if why is None:
            remove_stale(base)
            return CgroupSupport(
                base, "this process's cgroup" if base == own else "the parent of this process's cgroup"
            )
        reasons.append(why)
    return CgroupSupport(None, "; ".join(reasons) + f" (name a delegated cgroup with {CGROUP_ENV})")


def create_run(
    base: Path, limits: CgroupLimits, proc: Path = Path("/proc/self"), *, name: str | None = None
) -> RunCgroup:
    """Make one script's cgroup and write its limits; every write must succeed (else it is removed)."""
    path = base / (name or f"{PREFIX}{os.getpid()}-{secrets.token_hex(6)}")
    _mkdir(path)
    try:
        _write(path / "memory.max", str(int(limits.memory_bytes)))
        try:
            _write(path / "memory.swap.max", "0")
        except FileNotFoundError:
            if _swap_configured(proc):
                raise OSError(
                    errno.ENOENT, "memory.swap.max is missing (no swap accounting) and swap is on"
                ) from None
        _write(path / "pids.max", str(int(limits.pids)))
        fd = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        remove_run(path)
        raise
    return RunCgroup(path, fd)


def events(path: Path) -> dict[str, int]:
    """What the kernel counted for a run: OOM kills and refused forks (absent files count as 0)."""
    out = {"oom_kill": 0, "pids_max": 0}
    for name, key, field in (("memory.events", "oom_kill", "oom_kill"), ("pids.events", "pids_max", "max")):
        with contextlib.suppress(OSError, ValueError):
            for line in _read(path / name).splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == field:
                    out[key] = int(parts[1])
    return out


def remove_run(path: Path, attempts: int = 50) -> str | None:
    """Remove a run's cgroup (killing what is left in it, via cgroup.kill); None or why it stays."""
    last = ""
    for attempt in range(attempts):
        try:
            _rmdir(path)
            return None
        except FileNotFoundError:
            return None
        except OSError as exc:
            last = exc.strerror or str(exc)
            if exc.errno != errno.EBUSY:
                return last
        if attempt == 0:
            with contextlib.suppress(OSError):
                _write(path / "cgroup.kill", "1")
        time.sleep(0.01 * min(attempt + 1, 10))
    return last
