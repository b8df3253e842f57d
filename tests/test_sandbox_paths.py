"""What the sandbox shows of the Python installation: the standard library and every site-packages directory."""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

import pytest

from cfmigrate.runtime.executor import _python_paths


def test_a_layered_environments_site_packages_is_shown_and_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A venv layered over another by a `.pth` line (`uv run --with`) imports from both: scripts must too."""
    other = tmp_path / "base-env" / "lib" / "python3.11" / "site-packages"
    other.mkdir(parents=True)
    unrelated = tmp_path / "project-src"
    unrelated.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(other), str(unrelated)])
    sys_path, shown, site = _python_paths()
    assert str(other) in site and str(other) in sys_path and str(other) in shown
    assert sysconfig.get_paths()["purelib"] in site  # the environment's own, as before
    assert str(unrelated) not in sys_path and str(unrelated) not in shown  # only site-packages dirs
