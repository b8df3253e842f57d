"""The repository walk: skipped folders, .gitignore semantics, include/exclude, symlinks, unreadable folders."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from cfmigrate.analyzers.model import Problem
from cfmigrate.analyzers.walk import iter_files

# --- running where file permissions apply (shared with test_discover) ------------------------------

T = TypeVar("T")
NOBODY = 65534


def _child(fn: Callable[..., Any], args: tuple[Any, ...], queue: Any) -> None:
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        queue.put(("ok", fn(*args)))
    except BaseException as exc:  # report anything to the parent instead of dying silently
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_unprivileged(fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` with permission checks in force (root bypasses them, so it forks and drops to nobody)."""
    if os.geteuid() != 0:
        return fn(*args)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(fn, args, queue))
    child.start()
    try:
        status, value = queue.get(timeout=120)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    if status != "ok":
        raise RuntimeError(f"unprivileged run failed: {value}")
    return value  # type: ignore[no-any-return]


@contextmanager
def world_readable_tmp() -> Iterator[Path]:
    """A temporary folder `nobody` can traverse (pytest's tmp_path sits under a root-only folder)."""
    path = Path(tempfile.mkdtemp(prefix="cfmigrate-perm-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for folder, dirs, _ in os.walk(path):
            for d in dirs:
                try:
                    os.chmod(os.path.join(folder, d), 0o755)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)


# --- tests -------------------------------------------------------------------------------------------


def write(root: Path, rel: str, text: str = "x\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rels(root: Path, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> list[str]:
    return [rel for _, rel in iter_files(root, include, exclude)]


def test_yields_absolute_paths_and_posix_relative_names(tmp_path: Path) -> None:
    write(tmp_path, "a.py")
    write(tmp_path, "pkg/sub/b.py")
    found = list(iter_files(tmp_path))
    assert [rel for _, rel in found] == ["a.py", "pkg/sub/b.py"]
    for path, rel in found:
        assert path.is_absolute() and path == tmp_path / rel


def test_skips_vcs_virtualenvs_dependencies_caches_and_build_output(tmp_path: Path) -> None:
    for rel in [
        ".git/config",
        ".venv/lib/x.py",
        "venv/lib/x.py",
        "myenv/pyvenv.cfg",
        "myenv/lib/site.py",
        "node_modules/pkg/index.js",
        "src/__pycache__/m.cpython-311.pyc",
        ".tox/py311/x.py",
        ".mypy_cache/x.json",
        "build/lib/app.py",
        "dist/app-1.0.tar.gz",
        "app.egg-info/PKG-INFO",
        "app.py",
        "lib/venv/__init__.py",  # a package called venv (the stdlib has one) is kept
        "lib/build/__init__.py",
    ]:
        write(tmp_path, rel)
    assert rels(tmp_path) == ["app.py", "lib/build/__init__.py", "lib/venv/__init__.py"]


def test_gitignore_nested_negation_and_directory_patterns(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n!keep.log\nsecret/\n/top_only.py\n# comment\n")
    write(tmp_path, "a.log")
    write(tmp_path, "keep.log")
    write(tmp_path, "secret/agent.py")
    write(tmp_path, "top_only.py")
    write(tmp_path, "sub/top_only.py")
    write(tmp_path, "sub/.gitignore", "local.py\n!important.log\n")
    write(tmp_path, "sub/local.py")
    write(tmp_path, "sub/important.log")
    write(tmp_path, "sub/other.log")
    write(tmp_path, "other/local.py")
    assert rels(tmp_path) == [
        ".gitignore",
        "keep.log",
        "other/local.py",
        "sub/.gitignore",
        "sub/important.log",
        "sub/top_only.py",
    ]


def test_git_info_exclude_is_honoured(tmp_path: Path) -> None:
    write(tmp_path, ".git/info/exclude", "scratch.py\n")
    write(tmp_path, "scratch.py")
    write(tmp_path, "kept.py")
    assert rels(tmp_path) == ["kept.py"]


def test_include_and_exclude_patterns(tmp_path: Path) -> None:
    for rel in ["agents/a.py", "agents/legacy/b.py", "tests/test_a.py", "README.md", ".mcp.json"]:
        write(tmp_path, rel)
    assert rels(tmp_path, exclude=("tests/", "legacy")) == [".mcp.json", "README.md", "agents/a.py"]
    assert rels(tmp_path, include=("*.py",)) == ["agents/a.py", "agents/legacy/b.py", "tests/test_a.py"]
    assert rels(tmp_path, include=("agents/**",), exclude=("**/legacy/**",)) == ["agents/a.py"]


def test_symlink_loop_ends_and_each_real_folder_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, "pkg/mod.py")
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "pkg" / "self").symlink_to(tmp_path / "pkg", target_is_directory=True)
    (tmp_path / "linked.py").symlink_to(tmp_path / "pkg" / "mod.py")
    (tmp_path / "broken.py").symlink_to(tmp_path / "missing.py")
    result: list[list[str]] = []
    worker = threading.Thread(target=lambda: result.append(rels(tmp_path)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the walk did not end"
    assert result == [["linked.py", "pkg/mod.py"]]


def test_symlinked_folder_outside_the_tree_is_read(tmp_path: Path) -> None:
    outside = tmp_path / "shared"
    write(outside, "agent.py")
    repo = tmp_path / "repo"
    write(repo, "main.py")
    (repo / "vendor").symlink_to(outside, target_is_directory=True)
    assert rels(repo) == ["main.py", "vendor/agent.py"]


def _walk_with_problems(root: str) -> tuple[list[str], list[Problem]]:
    problems: list[Problem] = []
    found = [rel for _, rel in iter_files(Path(root), problems=problems)]
    return found, problems


def test_unreadable_folder_is_a_problem_not_an_exception() -> None:
    with world_readable_tmp() as root:
        write(root, "ok.py")
        write(root, "locked/agent.py")
        (root / "locked").chmod(0)
        found, problems = run_unprivileged(_walk_with_problems, str(root))
    assert found == ["ok.py"]
    [problem] = problems
    assert problem.level == "warning"
    assert problem.source is not None and problem.source.path == "locked"
    assert "cannot read folder locked" in problem.message and "Permission denied" in problem.message


def test_unreadable_gitignore_is_reported_and_the_walk_goes_on() -> None:
    with world_readable_tmp() as root:
        write(root, "a.py")
        write(root, ".gitignore", "a.py\n").chmod(0)
        found, problems = run_unprivileged(_walk_with_problems, str(root))
    assert found == [".gitignore", "a.py"]
    assert [p.source.path for p in problems if p.source] == [".gitignore"]


def test_order_is_deterministic(tmp_path: Path) -> None:
    names = [f"d{i % 7}/f{i}.py" for i in range(60)]
    for rel in reversed(names):
        write(tmp_path, rel)
    first = rels(tmp_path)
    os.utime(tmp_path / "d3")
    assert first == rels(tmp_path)
    assert len(first) == 60
