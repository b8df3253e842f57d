"""cgroup v2 limits per script (issue 12): what can be observed on this machine, and no more.

This machine runs cgroup v1 for memory and pids, so kernel enforcement of memory.max / pids.max is
NOT observed anywhere in this file. What is tested:

* the real detection decision here (v1 → not applied, and the protections report says why);
* the decision logic and the per-run writes/cleanup against a directory tree laid out like a
  delegated cgroup v2 subtree. Those tests exercise FILE WRITES ONLY (a plain directory stands in
  for cgroupfs; `_mkdir` / `_rmdir` are replaced to create and remove the interface files the
  kernel would), not kernel enforcement;
* the plumbing of a real script run with such a tree: the host makes the run's cgroup and passes
  its cgroup.procs to the sandbox, the script's monitor writes "0" into it before forking the
  script, the host removes the cgroup afterwards (again file writes, no kernel limits).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cfmigrate.runtime import Limits, LocalExecutor, SandboxSession, executor_cgroup
from cfmigrate.runtime.executor_cgroup import CgroupLimits, CgroupSupport

LIMITS = CgroupLimits(memory_bytes=300 << 20, pids=33)
INTERFACE = ("cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "cgroup.kill", "memory.max",
             "memory.swap.max", "pids.max", "memory.events", "pids.events")  # fmt: skip


def v1_owns_memory_or_pids() -> bool:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        number, _, rest = line.partition(":")
        if number != "0" and {"memory", "pids"} & set(rest.partition(":")[0].split(",")):
            return True
    return False


# ------------------------------------------------------------------------- this machine, for real


@pytest.mark.skipif(not v1_owns_memory_or_pids(), reason="this machine gives memory/pids to cgroup v2")
def test_on_this_v1_machine_cgroup_limits_are_not_applied_and_the_report_says_why(tmp_path: Path) -> None:
    support = executor_cgroup.detect(LIMITS)
    assert not support.available and "cgroup v1" in support.reason, support

    async def scenario() -> tuple[bool, list[tuple[str, bool, str]]]:
        executor = LocalExecutor()
        session = SandboxSession(id="cg", work_dir=tmp_path / "work", runtime_dir=tmp_path / "rt",
                                 limits=Limits(timeout_s=20))  # fmt: skip
        try:
            result = await executor.run("print('still limited by rlimits')", session=session)
            return result.ok, [tuple(p) for p in executor.protections(session)]  # type: ignore[misc]
        finally:
            await executor.aclose()

    ok, report = asyncio.new_event_loop().run_until_complete(scenario())
    line = next(p for p in report if p[0] == "total memory and processes (cgroup)")
    assert ok and line[1] is False
    assert "cgroup v1" in line[2] and "RLIMIT_AS" in line[2] and "RLIMIT_NPROC" in line[2], line


# ------------------------------------------------------------------------- a tree laid out like cgroupfs


def fake_proc(tmp_path: Path, cgroup: str, mountpoint: Path, swap: bool = False) -> Path:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text(cgroup)
    (proc / "self" / "mountinfo").write_text(
        "22 1 0:21 / / rw,relatime - ext4 /dev/root rw\n"
        f"35 22 0:30 / {str(mountpoint).replace(' ', chr(92) + '040')} rw,nosuid - cgroup2 cgroup2 rw\n"
    )
    (proc / "swaps").write_text(
        "Filename Type Size Used Priority\n" + ("/swapfile file 1024 0 -2\n" if swap else "")
    )
    return proc / "self"


def fake_cgroup(path: Path, controllers: str, subtree: str = "", delegated: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if delegated:  # as systemd marks a cgroup it delegates (user.* needs no privilege)
        os.setxattr(path, "user.delegate", b"1")
    (path / "cgroup.controllers").write_text(controllers + "\n")
    (path / "cgroup.subtree_control").write_text(subtree + "\n")
    (path / "cgroup.procs").write_text("")
    return path


@pytest.fixture
def kernel_like(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """mkdir/rmdir that create/remove the interface files the kernel would (a record of each call)."""
    calls: list[str] = []

    def mkdir(path: Path) -> None:
        os.mkdir(path, 0o755)
        for name in INTERFACE:
            (path / name).write_text("")
        calls.append(f"mkdir {path.name}")

    def rmdir(path: Path) -> None:
        for name in INTERFACE:
            (path / name).unlink(missing_ok=True)
        os.rmdir(path)
        calls.append(f"rmdir {path.name}")

    monkeypatch.setattr(executor_cgroup, "_mkdir", mkdir)
    monkeypatch.setattr(executor_cgroup, "_rmdir", rmdir)
    yield calls


def test_file_writes_a_leaf_of_a_delegated_cgroup_uses_its_parent(
    tmp_path: Path, kernel_like: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """FILE WRITES ONLY, not kernel enforcement: detection picks the parent that has the controllers enabled,
    and its probe writes every limit and a child's pid to cgroup.procs (as the monitor's move will be)."""
    probed: dict[str, str] = {}
    real_rmdir = executor_cgroup._rmdir

    def look_first(path: Path) -> None:
        probed.update(
            {n: (path / n).read_text() for n in ("memory.max", "memory.swap.max", "pids.max", "cgroup.procs")}
        )
        real_rmdir(path)

    monkeypatch.setattr(executor_cgroup, "_rmdir", look_first)
    mount = tmp_path / "cg root"
    fake_cgroup(mount, "cpu memory pids", "memory pids")
    app = fake_cgroup(mount / "user.slice" / "app", "cpu memory pids", "memory pids")
    fake_cgroup(app / "leaf", "memory pids")
    proc = fake_proc(tmp_path, "0::/user.slice/app/leaf\n", mount)
    support = executor_cgroup.detect(LIMITS, proc, env={})
    assert support == CgroupSupport(app, "the parent of this process's cgroup")
    # the probe was made, written and removed: nothing is left behind
    assert [c.split()[0] for c in kernel_like] == ["mkdir", "rmdir"]
    assert sorted(p.name for p in app.iterdir() if p.is_dir()) == ["leaf"]
    pid = probed.pop("cgroup.procs")
    assert pid.isdigit() and int(pid) != os.getpid()
    assert probed == {"memory.max": str(300 << 20), "memory.swap.max": "0", "pids.max": "33"}


def test_file_writes_one_run_cgroup_gets_every_limit_and_is_removed(
    tmp_path: Path, kernel_like: list[str]
) -> None:
    """FILE WRITES ONLY, not kernel enforcement."""
    base = fake_cgroup(tmp_path / "base", "memory pids", "memory pids")
    proc = fake_proc(tmp_path, "0::/\n", tmp_path)
    run = executor_cgroup.create_run(base, LIMITS, proc)
    try:
        assert (run.path / "memory.max").read_text() == str(300 << 20)
        assert (run.path / "memory.swap.max").read_text() == "0"
        assert (run.path / "pids.max").read_text() == "33"
        os.write(run.procs_fd, b"0")  # what the monitor does
        assert (run.path / "cgroup.procs").read_text() == "0"
        (run.path / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
        (run.path / "pids.events").write_text("max 7\n")
        assert executor_cgroup.events(run.path) == {"oom_kill": 1, "pids_max": 7}
    finally:
        os.close(run.procs_fd)
    assert executor_cgroup.remove_run(run.path) is None and not run.path.exists()


def test_file_writes_cgroups_left_by_a_dead_host_are_removed(tmp_path: Path, kernel_like: list[str]) -> None:
    """FILE WRITES ONLY: run cgroups named after a pid that is gone are removed at detection; others stay."""
    dead_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process can have it
    app = fake_cgroup(tmp_path / "cg" / "app", "memory pids", "memory pids")
    fake_cgroup(app / "leaf", "memory pids")
    for name in (f"cfmigrate-{dead_pid}-abc", f"cfmigrate-{os.getppid()}-def", "someone-elses"):
        executor_cgroup._mkdir(app / name)
    support = executor_cgroup.detect(LIMITS, fake_proc(tmp_path, "0::/app/leaf\n", tmp_path / "cg"), env={})
    assert support.base == app
    assert sorted(p.name for p in app.iterdir() if p.is_dir()) == [
        f"cfmigrate-{os.getppid()}-def",
        "leaf",
        "someone-elses",
    ]


def test_file_writes_missing_swap_accounting_with_swap_on_is_a_failure(
    tmp_path: Path, kernel_like: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """FILE WRITES ONLY: a limit that cannot be written means no cgroup (and none left behind)."""
    base = fake_cgroup(tmp_path / "base", "memory pids", "memory pids")
    real_mkdir = executor_cgroup._mkdir

    def without_swap_file(path: Path) -> None:
        real_mkdir(path)
        (path / "memory.swap.max").unlink()

    monkeypatch.setattr(executor_cgroup, "_mkdir", without_swap_file)
    with pytest.raises(OSError, match=r"memory\.swap\.max"):
        executor_cgroup.create_run(base, LIMITS, fake_proc(tmp_path, "0::/\n", tmp_path, swap=True))
    assert [p for p in base.iterdir() if p.is_dir()] == []
    # no swap configured: memory.max alone bounds the memory, so it is accepted
    (tmp_path / "proc" / "swaps").write_text("Filename Type Size Used Priority\n")
    run = executor_cgroup.create_run(base, LIMITS, tmp_path / "proc" / "self")
    os.close(run.procs_fd)
    assert executor_cgroup.remove_run(run.path) is None


@pytest.mark.parametrize(
    ("cgroup", "controllers", "subtree", "expected"),
    [
        ("4:memory:/x\n0::/a/leaf\n", "memory pids", "memory pids", "memory is bound to the cgroup v1"),
        ("1:name=systemd:/\n", "memory pids", "memory pids", "no cgroup v2 hierarchy"),
        ("0::/a/leaf\n", "cpu", "", "not delegated"),
        ("0::/a/leaf\n", "memory pids", "memory", "pids are not enabled for the children"),
    ],
)
def test_file_writes_detection_refuses_what_is_not_delegated(
    tmp_path: Path, kernel_like: list[str], cgroup: str, controllers: str, subtree: str, expected: str
) -> None:
    """FILE WRITES ONLY: the decision for hierarchies this machine does not have."""
    mount = tmp_path / "cg"
    fake_cgroup(mount / "a", controllers, subtree)
    fake_cgroup(mount / "a" / "leaf", controllers)
    support = executor_cgroup.detect(LIMITS, fake_proc(tmp_path, cgroup, mount), env={})
    assert not support.available and expected in support.reason, support.reason
    assert kernel_like == []  # nothing was created


def test_file_writes_writable_is_not_delegated(tmp_path: Path, kernel_like: list[str]) -> None:
    """FILE WRITES ONLY: root may write into any cgroup; without a delegation mark it is left alone."""
    mount = tmp_path / "cg"
    slice_ = fake_cgroup(mount / "system.slice", "memory pids", "memory pids", delegated=False)
    fake_cgroup(slice_ / "agent.service", "memory pids", delegated=False)
    support = executor_cgroup.detect(
        LIMITS, fake_proc(tmp_path, "0::/system.slice/agent.service\n", mount), env={}
    )
    if os.geteuid() != 0 and slice_.stat().st_uid == os.geteuid():
        pytest.skip("owned by this non-root user: delegated the classic way")
    assert not support.available and "not delegated to this process" in support.reason, support.reason
    assert kernel_like == []


def test_file_writes_an_unwritable_subtree_is_not_used(tmp_path: Path, kernel_like: list[str]) -> None:
    """FILE WRITES ONLY: a subtree this uid may not write to is not delegated to it."""
    mount = tmp_path / "cg"
    a = fake_cgroup(mount / "a", "memory pids", "memory pids")
    fake_cgroup(a / "leaf", "memory pids")
    (a / "cgroup.procs").chmod(0o444)
    if os.access(a / "cgroup.procs", os.W_OK):
        pytest.skip("root ignores file modes; covered where the host is not root")
    support = executor_cgroup.detect(LIMITS, fake_proc(tmp_path, "0::/a/leaf\n", mount), env={})
    assert not support.available and "not writable" in support.reason


def test_file_writes_a_named_cgroup_gets_its_controllers_enabled(
    tmp_path: Path, kernel_like: list[str]
) -> None:
    """FILE WRITES ONLY: with $CFMIGRATE_CGROUP the operator's cgroup is used and its controllers enabled."""
    mount = tmp_path / "cg"
    chosen = fake_cgroup(mount / "sandbox", "memory pids io", "")
    fake_cgroup(mount / "other", "memory pids")
    proc = fake_proc(tmp_path, "0::/other\n", mount)
    support = executor_cgroup.detect(LIMITS, proc, env={executor_cgroup.CGROUP_ENV: str(chosen)})
    assert support.available and support.base == chosen
    assert (chosen / "cgroup.subtree_control").read_text() == "+memory +pids"


def test_file_writes_a_real_script_run_joins_and_removes_its_cgroup(
    tmp_path: Path, kernel_like: list[str]
) -> None:
    """FILE WRITES ONLY, not kernel enforcement: the run's cgroup.procs (a plain file here) receives the
    monitor's "0" before the script runs, the limits are written, and the directory is gone afterwards."""
    base = fake_cgroup(tmp_path / "base", "memory pids", "memory pids")
    seen: dict[str, str] = {}
    real_rmdir = executor_cgroup._rmdir

    def keep_a_copy(path: Path) -> None:
        seen.update({name: (path / name).read_text() for name in ("cgroup.procs", "memory.max", "pids.max")})
        real_rmdir(path)

    executor_cgroup._rmdir = keep_a_copy  # type: ignore[assignment]  # (undone by the fixture's monkeypatch)

    async def scenario() -> tuple[bool, list[tuple[str, bool, str]]]:
        executor = LocalExecutor()
        executor._cgroup = CgroupSupport(base, "a directory standing in for a delegated cgroup")
        session = SandboxSession(id="cgrun", work_dir=tmp_path / "work", runtime_dir=tmp_path / "rt",
                                 limits=Limits(timeout_s=20, nproc=20, total_memory_mb=200))  # fmt: skip
        try:
            escape = (  # the parent's cgroup.procs is what an escape would write to
                f"try:\n    open({str(base / 'cgroup.procs')!r}, 'w').write('0'); print('escaped')\n"
                "except OSError as exc:\n    print('ran', type(exc).__name__)"
            )
            result = await executor.run(escape, session=session)
            assert result.stdout.startswith("ran "), result.text()
            return result.ok, [tuple(p) for p in executor.protections(session)]  # type: ignore[misc]
        finally:
            await executor.aclose()

    ok, report = asyncio.new_event_loop().run_until_complete(scenario())
    assert ok
    assert seen == {"cgroup.procs": "0", "memory.max": str(200 << 20), "pids.max": "21"}
    assert (base / "cgroup.procs").read_text() == ""  # the script could not reach the parent's
    assert [p for p in base.iterdir() if p.is_dir()] == []
    line = next(p for p in report if p[0] == "total memory and processes (cgroup)")
    assert line[1] is True and "ran in its own cgroup" in line[2], line
