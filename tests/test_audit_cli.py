"""`cfmigrate audit` end to end through the real CLI entry point over the fixture repositories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import cfmigrate
from typer.testing import CliRunner

from cfmigrate.migrate.cli import app

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
runner = CliRunner()


def audit_json(path: Path, *args: str) -> dict:
    result = runner.invoke(app, ["audit", str(path), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_seed_scenario_figures() -> None:
    data = audit_json(FIXTURES / "seed-scenario")
    assert data["schema"] == "cfmigrate.audit/1"
    assert data["tokenizer"] == "estimate, o200k_base"
    names = {s["name"] for s in data["servers"]}
    assert len(names) == 3
    assert 45 <= data["totals"]["tools"] <= 60
    assert all(s["status"] == "known" for s in data["servers"])
    agents = [a for a in data["agents"] if a["source"].startswith("agent.py")]
    assert len(agents) == 1
    agent = agents[0]
    assert agent["decision"] == "hybrid"
    assert set(agent["servers"]) == names
    assert agent["threshold"] == "architectural crisis"
    assert agent["per_request_tokens"] > 10_000
    assert agent["reduction"] > 0.7
    assert agent["monthly_waste"] > 0


def test_every_token_figure_is_labelled_in_each_format() -> None:
    md = runner.invoke(app, ["audit", str(FIXTURES / "seed-scenario"), "--format", "markdown"])
    assert md.exit_code == 0
    assert "estimate, o200k_base" in md.stdout and "| agent |" in md.stdout
    table = runner.invoke(app, ["audit", str(FIXTURES / "seed-scenario")])
    assert table.exit_code == 0
    assert "estimate, o200k_base" in table.stdout and "Summary:" in table.stdout


def test_fail_over_gate() -> None:
    seed = str(FIXTURES / "seed-scenario")
    assert runner.invoke(app, ["audit", seed, "--fail-over", "100", "-f", "json"]).exit_code == 1
    assert runner.invoke(app, ["audit", seed, "--fail-over", "100000000", "-f", "json"]).exit_code == 0


def test_settings_from_pyproject_and_output_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "seed-scenario", repo)
    (repo / "pyproject.toml").write_text(
        "[tool.cfmigrate]\nprice = 15.0\nrequests-per-day = 10\nfail-over = 50\n"
    )
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["audit", str(repo), "-f", "json", "-o", str(out)])
    assert result.exit_code == 1  # fail-over from the settings
    data = json.loads(out.read_text())
    assert data["requests_per_day"] == 10
    assert all(a["price_per_mtok"] == 15.0 for a in data["agents"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "/no/such/dir"], "not a directory"),
        (["audit", ".", "--tokenizer", "p50k"], "unknown"),
        (["audit", ".", "--tokenizer", "anthropic"], "needs --model"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str], message: str) -> None:
    proc = cfmigrate(*args, cwd=FIXTURES / "negatives")  # in this process (tests/support/cli.py)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_negatives_report_no_mcp() -> None:
    data = audit_json(FIXTURES / "negatives")
    assert data["agents"] == [] and data["servers"] == []


def test_config_zoo_never_leaks_secret_values() -> None:
    zoo = FIXTURES / "config-zoo"
    secrets = {"sk-test-canary-123"}
    for fmt in ("json", "markdown", "table"):
        result = runner.invoke(app, ["audit", str(zoo), "-f", fmt])
        assert result.exit_code == 0, result.output
        for s in secrets:
            assert s not in result.output
    data = audit_json(zoo)
    assert len(data["servers"]) >= 10
    assert any(p["level"] == "error" for p in data["problems"])  # the broken/ files are reported, not fatal


def test_installed_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "cfmigrate"
    proc = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"}
    )
    assert proc.returncode == 0
    for command in ("audit",):
        assert command in proc.stdout


def test_exact_tokenizer_end_to_end_against_a_scripted_count_tokens_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--tokenizer anthropic`: per-tool figures are marginal counts from count_tokens (scripted on 127.0.0.1)."""
    from support.scripted_api import ScriptedAPI, request_tokens

    from cfmigrate.analyzers.tokens import render_tool

    with ScriptedAPI() as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        data = audit_json(
            FIXTURES / "seed-scenario", "--tokenizer", "anthropic", "--model", "claude-sonnet-4-5"
        )
        assert api.records, "no request reached the scripted count_tokens server"
    assert data["tokenizer"] == "exact, Anthropic count_tokens, model claude-sonnet-4-5"
    # The marginal cost of one tool, recomputed here from the scripted server's arithmetic.
    from cfmigrate.analyzers.discover import discover

    inv = discover(FIXTURES / "seed-scenario")
    crm = next(m for m in inv.manifests if m.server == "crm")
    rendered = [render_tool(t, "anthropic") for t in crm.tools]
    probe_counts = [r for r in api.records if r.path.endswith("count_tokens")]
    probe = probe_counts[0].request["messages"]
    with_all = request_tokens({"tools": rendered, "messages": probe})
    first = crm.tools[0]
    without = request_tokens({"tools": rendered[1:], "messages": probe})
    server = next(s for s in data["servers"] if s["name"] == "crm")
    tool = next(t for t in server["tools"] if t["tool"] == first.name)
    assert tool["tokens"] == with_all - without


def test_exact_tokenizer_without_a_key_is_one_clear_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfmigrate.migrate.cli",
            "audit",
            str(FIXTURES / "seed-scenario"),
            "--tokenizer",
            "anthropic",
            "--model",
            "claude-sonnet-4-5",
        ],
        capture_output=True,
        text=True,
        env={**env, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 2
    assert "ANTHROPIC_API_KEY" in proc.stderr and "Traceback" not in proc.stderr


def test_settings_values_pass_the_flags_checks(tmp_path: Path) -> None:
    for line, words in (
        ("price = -1.0", "price = -1.0 is out of range"),
        ("requests-per-day = 0", "requests-per-day = 0 is out of range"),
        ('tokenizer = "gpt2"', "is not a tokenizer"),
    ):
        (tmp_path / "pyproject.toml").write_text(f"[tool.cfmigrate]\n{line}\n")
        result = runner.invoke(app, ["audit", str(tmp_path), "-f", "json"])
        assert result.exit_code == 2, result.output
        assert "pyproject.toml" in result.stderr and words in result.stderr


def test_output_never_creates_folders_and_json_suffix_implies_json(tmp_path: Path) -> None:
    seed = str(FIXTURES / "seed-scenario")
    missing = runner.invoke(app, ["audit", seed, "-o", str(tmp_path / "nope" / "r.json")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "nope").exists()
    ok = runner.invoke(app, ["audit", seed, "-o", str(tmp_path / "r.json")])
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "r.json").read_text())["schema"] == "cfmigrate.audit/1"
    clash = runner.invoke(app, ["audit", seed, "-f", "table", "-o", str(tmp_path / "t.json")])
    assert clash.exit_code == 2 and "-f json" in clash.stderr


def test_fail_over_names_the_agent_and_compares_tool_context() -> None:
    data = audit_json(FIXTURES / "seed-scenario")
    (agent,) = [a for a in data["agents"] if a["source"].startswith("agent.py")]
    context = agent["tool_context_tokens"]
    assert context == agent["definition_tokens"] + agent["overhead_tokens"]
    assert agent["per_request_tokens"] == context + agent["system_prompt_tokens"]
    seed = str(FIXTURES / "seed-scenario")
    over = runner.invoke(app, ["audit", seed, "--fail-over", str(context - 1), "-f", "json"])
    assert over.exit_code == 1 and agent["name"] in over.stderr
    # the gate is the tool context, not the per-request total with the system prompt
    assert runner.invoke(app, ["audit", seed, "--fail-over", str(context), "-f", "json"]).exit_code == 0
