"""Golden packages: the nine real manifests and the seed-scenario estate render byte for byte as recorded,
and the recorded trees pass ruff and `mypy --strict`. Regenerate with `python scripts/regen_golden.py`."""

from __future__ import annotations

import filecmp
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support.strict_mypy import StrictMypy, include, link

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
IGNORED = [*filecmp.DEFAULT_IGNORES, ".mypy_cache", ".ruff_cache"]
# each tree's `servers/` package, type-checked under its own name in the session's one mypy run
TYPECHECKED = {tree: f"golden_{tree.replace('-', '_')}" for tree in ("manifests", "seed-scenario")}
for _tree, _package in TYPECHECKED.items():
    include(_package, link(GOLDEN / _tree / "servers"), shown_as=str(GOLDEN / _tree / "servers"))


def _regen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("regen_golden", REPO / "scripts" / "regen_golden.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _differences(cmp: filecmp.dircmp[str], prefix: str = "") -> list[str]:
    out = [f"{prefix}{n}: differs" for n in cmp.diff_files]
    out += [f"{prefix}{n}: only in the fresh render" for n in cmp.left_only]
    out += [f"{prefix}{n}: only in the golden tree" for n in cmp.right_only]
    out += [f"{prefix}{n}: cannot compare" for n in cmp.funny_files]
    for name, sub in sorted(cmp.subdirs.items()):
        out += _differences(sub, f"{prefix}{name}/")
    return out


@pytest.mark.parametrize("name", ["manifests", "seed-scenario"])
def test_render_matches_golden_tree(name: str, tmp_path: Path) -> None:
    golden = GOLDEN / name / "servers"
    assert golden.is_dir(), "run `python scripts/regen_golden.py`"
    fresh = tmp_path / "servers"
    for rel, data in _regen().render_golden(name).items():
        (fresh / rel).parent.mkdir(parents=True, exist_ok=True)
        (fresh / rel).write_bytes(data)
    problems = _differences(filecmp.dircmp(fresh, golden, ignore=IGNORED))
    # dircmp compares by stat signature first; confirm byte equality of every file as well
    for path in fresh.rglob("*"):
        twin = golden / path.relative_to(fresh)
        if path.is_file() and twin.is_file() and path.read_bytes() != twin.read_bytes():
            problems.append(f"{path.relative_to(fresh)}: bytes differ")
    assert not problems, "golden tree is stale; run `python scripts/regen_golden.py`:\n" + "\n".join(problems)


def test_golden_trees_cover_every_real_tool() -> None:
    import json

    manifests = sorted((REPO / "fixtures" / "manifests").glob("*.tools.json"))
    expected = sum(len(json.loads(p.read_text())["tools"]) for p in manifests)
    modules = [
        p
        for p in (GOLDEN / "manifests" / "servers").rglob("*.py")
        if p.parent.name != "servers" and not p.name.startswith("_")
    ]
    assert len(modules) == expected == 110


@pytest.mark.parametrize("name", ["manifests", "seed-scenario"])
def test_golden_trees_pass_ruff(name: str) -> None:
    tree = GOLDEN / name / "servers"
    ruff = [sys.executable, "-m", "ruff"]
    common = ["--isolated", "--no-cache", "--target-version", "py311"]
    lint = subprocess.run(
        [
            *ruff,
            "check",
            *common,
            "--select",
            "E,F,W,I,B,BLE,UP,SIM,RUF",
            "--ignore",
            "E501,RUF001,RUF002,RUF003",
            str(tree),
        ],
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([*ruff, "format", *common, "--check", str(tree)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.parametrize("name", ["manifests", "seed-scenario"])
def test_golden_trees_pass_ruff_defaults(name: str) -> None:
    # what a user runs in the generated repository: `ruff check --isolated servers` (ruff's defaults)
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "servers"],
        cwd=GOLDEN / name,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_golden_trees_pass_mypy_strict(strict_mypy: StrictMypy) -> None:
    problems = "\n".join(strict_mypy.problems(package) for package in TYPECHECKED.values()).strip()
    assert not problems, problems
