"""A migrated agent needs only `cfmigrate-runtime` (mcp + pydantic + the standard library).

The runtime keeps small copies of three pieces of the tool (the naming rule's identifier form, the
config reference grammar, the provider tool shapes); they must agree with the originals. The slow test
builds the runtime's own wheel, installs it alone in a clean venv, and runs the migrated seed agent
there end to end against the scripted model and the seed fixture's real MCP servers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfmigrate.analyzers import naming
from cfmigrate.analyzers import tokens as tool_tokens
from cfmigrate.analyzers.connect import UnresolvedReference as ToolUnresolved
from cfmigrate.analyzers.connect import expand_refs as tool_expand
from cfmigrate.analyzers.model import ToolDef
from cfmigrate.runtime import _naming, _refs, tools

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = (
    "jinja2",
    "tiktoken",
    "bpe_openai",
    "libcst",
    "typer",
    "rich",
    "anthropic",
    "datamodel_code_generator",
)


def test_the_runtime_distribution_follows_the_tool() -> None:
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = tomllib.loads((REPO / "runtime" / "pyproject.toml").read_text())["project"]
    assert runtime["version"] == tool["version"]
    assert [d.split(">")[0] for d in runtime["dependencies"]] == ["mcp", "pydantic"]
    pins = {d.split(">")[0]: d for d in tool["dependencies"]}
    assert runtime["dependencies"] == [pins["mcp"], pins["pydantic"]]  # the same ranges as the tool


def test_importing_the_runtime_loads_nothing_of_the_tool() -> None:
    code = (
        "import sys, cfmigrate.runtime\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{FORBIDDEN!r} or m.startswith(('cfmigrate.analyzers', 'cfmigrate.generators', 'cfmigrate.migrate', "
        "'cfmigrate.templates')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


names = st.text(st.sampled_from("aZ09_-. /éßHTTPServer"), max_size=16) | st.text(max_size=12)


@given(names)
@settings(max_examples=400, deadline=None)
def test_the_runtime_names_servers_as_the_tool_does(raw: str) -> None:
    assert _naming.to_identifier(raw) == naming.to_identifier(raw)


refs = st.lists(
    st.sampled_from(
        [
            "${A}", "${B:-dflt}", "${env:A}", "${env:MISSING}", "${MISSING:-x}", "${MISSING:-***}", "{env:B}",
            "${{ secrets.A }}", "${input:token}", "${command:pick}", "${workspaceFolder}", "${userHome}",
            "${pathSeparator}", "${workspaceFolderBasename}", "${}", "${1bad}", "$${A}", "{env:1}", "plain", "/",
            "${A", "}",
        ]
    ),
    max_size=5,
).map("".join)  # fmt: skip


def _expand(fn: object, text: str, error: type[Exception]) -> tuple[str, str]:
    try:
        return ("ok", fn(text, {"A": "alpha", "B": "beta"}, Path("/work/repo")))  # type: ignore[operator]
    except error as exc:
        return (exc.kind, exc.name)  # type: ignore[attr-defined]


@given(refs)
@settings(max_examples=400, deadline=None)
def test_the_runtime_resolves_config_references_as_the_tool_does(text: str) -> None:
    assert _expand(_refs.expand_refs, text, _refs.UnresolvedReference) == _expand(
        tool_expand, text, ToolUnresolved
    )


schemas = st.dictionaries(st.sampled_from(["type", "properties", "required"]), st.just("x"), max_size=2)


@given(st.text(max_size=8), st.text(max_size=20), schemas, st.sampled_from(["anthropic", "openai"]))
@settings(max_examples=200, deadline=None)
def test_the_runtime_shapes_tools_as_the_tool_counts_them(
    name: str, description: str, schema: dict[str, str], provider: tools.Provider
) -> None:
    ours = tools.render_tool(tools.ToolDefinition(name, description, schema), provider)
    assert ours == tool_tokens.render_tool(ToolDef(name, description, schema), provider)
    assert tools.compact(ours) == tool_tokens.compact(ours)


# ------------------------------------------------------------------------------------------------
# the clean venv


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_seed_footprint", REPO / "benchmarks" / "bench_seed_scenario.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _runtime_wheel(tmp: Path) -> Path:
    """Build the runtime's wheel from a copy of runtime/ (a build writes build/ and egg-info beside it)."""
    src = tmp / "runtime-src"
    shutil.copytree(
        REPO / "runtime", src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
        check=True,
        capture_output=True,
    )
    return next((tmp / "dist").glob("cfmigrate_runtime-*.whl"))


FOOTPRINT = """
import sys, time
before = set(sys.modules)
started = time.perf_counter()
import cfmigrate.runtime
seconds = time.perf_counter() - started
new = set(sys.modules) - before
import importlib.metadata as md, json
from pip._vendor.packaging.requirements import Requirement
def key(name):
    return name.lower().replace("_", "-")
def requires(dist, extras):
    out = set()
    for r in (Requirement(t) for t in md.requires(dist) or ()):
        if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras or {""}):
            out.add((key(r.name), frozenset(r.extras)))
    return out
closure, seen, todo = set(), set(), [("cfmigrate-runtime", frozenset())]
while todo:
    item = todo.pop()
    if item not in seen:
        seen.add(item)
        closure.add(item[0])
        todo.extend(requires(*item))
owners = md.packages_distributions()
loaded = {key(d) for m in new for d in owners.get(m.split(".")[0], ())}
print(json.dumps({"closure": sorted(closure), "loaded": sorted(loaded), "seconds": seconds}))
"""


def _uv() -> str:
    """The `uv` of the test dependencies (installed beside this interpreter)."""
    import uv

    return str(uv.find_uv_bin())


@pytest.mark.slow
def test_a_clean_venv_with_only_the_runtime_runs_the_migrated_seed_agent(tmp_path: Path) -> None:
    from cfmigrate.migrate.runner import migrate_tree

    bench = _bench()
    wheel = _runtime_wheel(tmp_path)
    env_dir = tmp_path / "venv"
    # uv (a test dependency) makes the venv and installs into it: 2 CPU-s instead of 20 for ensurepip and two
    # pip runs; `--seed` puts pip in for the probe's requirement parser. Bytecode is written on first import
    # (only what the runs import is compiled), into this venv in the temp dir.
    subprocess.run([_uv(), "venv", "-q", "--seed", "--python", sys.executable, str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    own = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    install = [_uv(), "pip", "install", "-q", "--python", str(py)]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True)  # the runtime alone
    probe = subprocess.run(
        [str(py), "-c", FOOTPRINT], capture_output=True, text=True, check=True, cwd=tmp_path, env=own
    )
    footprint = json.loads(probe.stdout)
    assert {"mcp", "pydantic"} <= set(footprint["closure"])
    assert not set(footprint["closure"]) & {"cfmigrate", "jinja2", "tiktoken", "libcst", "anthropic"}
    # importing the runtime loads nothing outside what cfmigrate-runtime requires
    assert set(footprint["loaded"]) <= set(footprint["closure"]), footprint
    # the agent's own model SDK (the seed agent calls the Anthropic API)
    subprocess.run([*install, "anthropic"], check=True, capture_output=True)
    missing = subprocess.run(
        [str(py), "-c", "import cfmigrate.analyzers"], capture_output=True, cwd=tmp_path, env=own
    )
    assert missing.returncode != 0  # the tool itself is not there

    state = bench.server_env(tmp_path / "state")
    with bench.environment(state):
        # from a copy: --refresh starts the servers in the tree it reads (their imports would write __pycache__)
        source = bench.copy_fixture(tmp_path / "seed-source")
        result = migrate_tree(source, tmp_path / "migrated", refresh=True)
    assert [f.path for f in result.changed] == ["agent.py"] and result.written
    repo = tmp_path / "migrated"
    transcript = (REPO / "fixtures" / "seed-scenario" / "data" / "transcript.txt").read_text(encoding="utf-8")
    run = (
        "import asyncio, sys\n"
        "sys.path.insert(0, '.')\n"
        "import agent\n"
        "print(asyncio.run(agent.run(sys.argv[1])))\n"
    )
    with bench.ScriptedAPI(
        bench.SeedCodeModel(), check=bench.honesty_check, tool_use_prompt=bench.tool_use_prompt
    ) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(state)
        # `python` in the servers' launch specs is the clean venv's interpreter
        env.update(PATH=f"{env_dir / 'bin'}{os.pathsep}/usr/bin:/bin", ANTHROPIC_BASE_URL=api.url)
        env.update(ANTHROPIC_API_KEY="sk-scripted")  # bytecode goes to the venv and the copy, both in tmp
        done = subprocess.run(
            [str(py), "-c", run, bench.SEED_TASK],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert not api.errors()
        records = tuple(r for r in api.message_records() if r.status == 200)
    assert records and [t["name"] for t in records[0].request["tools"]] == ["execute_code"]  # code mode
    result = bench.RunResult("clean venv", str(repo / "agent.py"), records, done.stdout, 0.0)
    checks = bench.check_seed_run(result, state, transcript)  # raises unless the task was done
    assert checks and "holds the whole transcript" in checks[0]
