"""The required top level installs as cfmigrate.*, the wheel carries every subpackage and template."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_listed() -> None:
    cfg = _config()
    listed = set(cfg["packages"])
    for pkg, folder in cfg["package-dir"].items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            if "__pycache__" in rel.parts:
                continue
            name = ".".join((pkg, *rel.parts)) if rel.parts else pkg
            assert name in listed, (
                f"{init.parent} has an __init__.py but {name} is missing from [tool.setuptools] packages"
            )


# Left out of the copy a wheel is built from: a build writes build/ and *.egg-info into its source tree.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


@pytest.mark.slow
def test_wheel_installs_and_cli_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=NOT_SOURCE)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(src)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("cfmigrate-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith(("migrate/", "analyzers/", "generators/")) for n in names), (
        "generic top-level names leaked"
    )
    assert any(n.startswith("cfmigrate/templates/") and n.endswith(".jinja") for n in names)
    assert "cfmigrate/analyzers/py.typed" in names
    # A fresh venv with the wheel unpacked into it; the dependencies come from this interpreter's
    # site-packages through a plain path line (.pth lines are not themselves scanned for .pth files, so
    # the editable install of the source tree stays invisible there).
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (Path(site) / "deps.pth").write_text("\n".join(deps) + "\n")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [
            str(py),
            "-c",
            "import cfmigrate.analyzers, cfmigrate.migrate.cli as c; print(cfmigrate.analyzers.__file__); c.main()",
            "--version",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert str(site) in out.stdout, "imported the source tree instead of the installed wheel"
    assert out.stdout.strip().endswith("cfmigrate 0.1.0")
    fixture = REPO / "fixtures" / "seed-scenario"
    run = subprocess.run(
        [
            str(py),
            "-c",
            "import cfmigrate.migrate.cli as c; c.main()",
            "audit",
            str(fixture),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert '"schema": "cfmigrate.audit/1"' in run.stdout
