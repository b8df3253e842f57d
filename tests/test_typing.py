"""The package type-checks with `mypy --strict`, checked as a `cfmigrate/` tree of links to the top-level folders.
It is checked in the session's one mypy run (tests/support/strict_mypy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.strict_mypy import StrictMypy, include

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("analyzers", "generators", "migrate", "runtime", "templates")


def _package(folder: Path) -> None:
    folder.mkdir()
    for name in FOLDERS:
        (folder / name).symlink_to(REPO / name, target_is_directory=True)


include("cfmigrate", _package, shown_as=f"{REPO} (its folders {', '.join(FOLDERS)})")


@pytest.mark.slow
def test_package_passes_mypy_strict(strict_mypy: StrictMypy) -> None:
    problems = strict_mypy.problems("cfmigrate")
    assert not problems, problems


def test_each_package_answers_for_its_own_files() -> None:
    """In the shared run an error fails only the package holding it; a message naming no package, an exit status
    other than 0 or 1, or a different number of checked files fails every package."""
    packages, shown = {"a": 2, "b": 3}, {"a": "A", "b": "B"}
    summary = "Found 1 error in 1 file (checked 5 source files)"
    own = StrictMypy(packages, shown, 1, f"a/x.py:1: error: Bad  [assignment]\n{summary}\n", "")
    assert "a/x.py:1: error" in own.problems("a") and own.problems("b") == ""
    stray = StrictMypy(packages, shown, 1, f"x.py:1: error: Bad  [assignment]\n{summary}\n", "")
    assert "x.py:1: error" in stray.problems("a") and "x.py:1: error" in stray.problems("b")
    crash = StrictMypy(packages, shown, 2, "", "Can't find package 'b'\n")
    assert "exit status 2" in crash.problems("a") and "Can't find package" in crash.problems("b")
    fewer = StrictMypy(packages, shown, 0, "Success: no issues found in 4 source files\n", "")
    assert "checked 4 source files, the packages hold 5" in fewer.problems("a")
    clean = StrictMypy(packages, shown, 0, "Success: no issues found in 5 source files\n", "")
    assert clean.problems("a") == clean.problems("b") == ""
    assert "not in the run" in clean.problems("c")
