"""The package type-checks with `mypy --strict` (run on a `cfmigrate/` tree of links to the top-level folders)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_package_passes_mypy_strict(tmp_path: Path, mypy_cache_dir: Path) -> None:
    root = tmp_path / "cfmigrate"
    root.mkdir()
    for folder in ("analyzers", "generators", "migrate", "runtime", "templates"):
        (root / folder).symlink_to(REPO / folder, target_is_directory=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--namespace-packages",
            "--explicit-package-bases",
            "--cache-dir",
            str(mypy_cache_dir),
            "-p",
            "cfmigrate",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
