"""One deterministic walk of a repository: the files an audit should read, honouring `.gitignore`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from cfmigrate.analyzers.model import Problem, SourceRef

__all__ = ["ALWAYS_SKIPPED", "Walker", "iter_files"]

ALWAYS_SKIPPED = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "node_modules",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        ".ipynb_checkpoints",
        "site-packages",
    }
)
"""Folder names never entered: version control, virtualenvs, package managers' trees and tool caches."""

_SKIPPED_UNLESS_PACKAGE = frozenset({"venv", "build", "dist"})
"""Folder names skipped unless they hold an `__init__.py` (the stdlib has a `venv` package, for one)."""


@dataclass(frozen=True)
class _Ignore:
    """The patterns of one ignore file and the folder (relative, '' or ending in '/') they apply to."""

    base: str
    spec: pathspec.GitIgnoreSpec

    def verdict(self, rel: str) -> bool | None:
        """True when ignored, False when re-included by a `!` pattern, None when no pattern matches."""
        if not rel.startswith(self.base):
            return None
        return self.spec.check_file(rel[len(self.base) :]).include


class Walker:
    """Walks a tree once; problems met on the way (unreadable folders, files, ignore files) are collected."""

    def __init__(self, root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
        self.root = Path(root).absolute()
        self.include = pathspec.GitIgnoreSpec.from_lines(include) if include else None
        self.exclude = pathspec.GitIgnoreSpec.from_lines(exclude) if exclude else None
        self.problems: list[Problem] = []

    def _problem(self, rel: str, what: str, exc: OSError) -> None:
        reason = exc.strerror or type(exc).__name__
        self.problems.append(
            Problem(
                "warning",
                f"cannot read {what} {rel or '.'}: {reason}; it was not scanned",
                SourceRef(rel or "."),
                "fix its permissions, or leave it out with `exclude` in [tool.cfmigrate]",
            )
        )

    def _load_ignore(self, path: Path, base: str, rel: str) -> _Ignore | None:
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            self._problem(rel, "ignore file", exc)
            return None
        lines = text.splitlines()
        if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
            return None
        return _Ignore(base, pathspec.GitIgnoreSpec.from_lines(lines))

    @staticmethod
    def _ignored(ignores: Sequence[_Ignore], rel: str) -> bool:
        # The deepest ignore file with a matching pattern decides, as git does.
        for ignore in reversed(ignores):
            verdict = ignore.verdict(rel)
            if verdict is not None:
                return verdict
        return False

    def __iter__(self) -> Iterator[tuple[Path, str]]:
        for path, rel in self.entries():
            yield Path(path), rel

    def entries(self) -> Iterator[tuple[str, str]]:
        """Like iterating the walker, with the absolute path as a plain string (cheaper on large trees)."""
        root = self.root
        try:
            top = root.stat()
        except OSError as exc:
            self._problem("", "folder", exc)
            return
        visited = {(top.st_dev, top.st_ino)}
        base_ignores: list[_Ignore] = []
        info_exclude = root / ".git" / "info" / "exclude"
        if info_exclude.is_file():
            loaded = self._load_ignore(info_exclude, "", ".git/info/exclude")
            if loaded:
                base_ignores.append(loaded)
        # Depth-first, entries sorted by name, so the order is the same on every machine.
        stack: list[tuple[Path, str, tuple[_Ignore, ...]]] = [(root, "", tuple(base_ignores))]
        while stack:
            folder, prefix, ignores = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self._problem(prefix.rstrip("/"), "folder", exc)
                continue
            names = {e.name for e in entries}
            if prefix and "pyvenv.cfg" in names:
                continue  # a virtualenv under any name
            if ".gitignore" in names:
                loaded = self._load_ignore(folder / ".gitignore", prefix, prefix + ".gitignore")
                if loaded:
                    ignores = (*ignores, loaded)
            subfolders: list[tuple[Path, str, tuple[_Ignore, ...]]] = []
            for entry in entries:
                rel = prefix + entry.name
                try:
                    is_dir = entry.is_dir()
                    is_file = not is_dir and entry.is_file()
                except OSError as exc:
                    self._problem(rel, "entry", exc)
                    continue
                if is_dir:
                    if entry.name in ALWAYS_SKIPPED or entry.name.endswith(".egg-info"):
                        continue
                    if entry.name in _SKIPPED_UNLESS_PACKAGE and not os.path.isfile(
                        os.path.join(entry.path, "__init__.py")
                    ):
                        continue
                    dir_rel = rel + "/"
                    if self._ignored(ignores, dir_rel):
                        continue
                    if self.exclude is not None and self.exclude.match_file(dir_rel):
                        continue
                    try:
                        st = entry.stat()
                    except OSError as exc:
                        self._problem(rel, "folder", exc)
                        continue
                    key = (st.st_dev, st.st_ino)
                    if key in visited:
                        continue  # a symlink back into the tree (or a loop): each folder is read once
                    visited.add(key)
                    subfolders.append((Path(entry.path), dir_rel, ignores))
                elif is_file:
                    if self._ignored(ignores, rel):
                        continue
                    if self.exclude is not None and self.exclude.match_file(rel):
                        continue
                    if self.include is not None and not self.include.match_file(rel):
                        continue
                    yield entry.path, rel
                # anything else (a broken symlink, a socket, a fifo) is not a file to read
            stack.extend(reversed(subfolders))


def iter_files(
    root: Path,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    problems: list[Problem] | None = None,
) -> Iterator[tuple[Path, str]]:
    """Yield (absolute path, POSIX path relative to root) for every file an audit should read.

    Skips version control, virtualenvs, `node_modules`, caches and build output, and whatever the
    repository's `.gitignore` files (and `.git/info/exclude`) ignore; `include`/`exclude` are
    gitignore-style patterns from `[tool.cfmigrate]`. Symlinked folders are entered once per real
    folder, so a link loop ends. Unreadable entries become Problems appended to `problems`.
    """
    walker = Walker(root, include, exclude)
    try:
        yield from walker
    finally:
        if problems is not None:
            problems.extend(walker.problems)
