"""`audit --tokenizer anthropic` against a scripted count_tokens server: figures by subtraction,
bounded requests, and one line with exit 2 for every failed or malformed answer."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from support.count_tokens_server import FAULTS, CountTokensServer
from support.scripted_api import request_tokens
from typer.testing import CliRunner

from cfmigrate.analyzers.tokens import compact, render_tool
from cfmigrate.migrate.audit import AuditOptions, run_audit
from cfmigrate.migrate.cli import app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED = FIXTURES / "seed-scenario"
MODEL = "claude-sonnet-5"
PROBE = [{"role": "user", "content": "Hello"}]
runner = CliRunner()


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    def use(server: CountTokensServer) -> None:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-secret")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    return use


def _with(tools: list[dict]) -> int:
    return request_tokens({"tools": tools, "messages": PROBE})


def test_exact_figures_equal_subtraction_and_requests_are_bounded(api_env) -> None:  # type: ignore[no-untyped-def]
    with CountTokensServer() as server:
        api_env(server)
        report = run_audit(SEED, AuditOptions(tokenizer="anthropic", model=MODEL, progress=False))
    from cfmigrate.analyzers.discover import discover

    inv = discover(SEED)
    baseline = request_tokens({"messages": PROBE})
    tool_requests: Counter[int] = Counter()
    for body in server.requests:
        if "tools" in body and "system" not in body:
            tool_requests[len(body["tools"])] += 1
    for fig in report.servers:
        manifest = inv.manifest(fig.name)
        assert manifest is not None
        rendered = [render_tool(t, "anthropic") for t in manifest.tools]
        with_all = _with(rendered)
        assert fig.measured_tokens == with_all - baseline  # count(with) - count(without), by construction
        for i, tool in enumerate(manifest.tools):
            marginal = with_all - _with(rendered[:i] + rendered[i + 1 :])
            assert next(t.tokens for t in fig.tools if t.tool == tool.name) == marginal
            assert next(t.description_tokens for t in fig.tools if t.tool == tool.name) is None  # dropped
        assert fig.preamble_tokens == fig.measured_tokens - sum(t.tokens for t in fig.tools)
    (agent,) = [a for a in report.agents if a.source.startswith("agent.py")]
    everything = [render_tool(t, "anthropic") for s in report.servers for t in inv.manifest(s.name).tools]  # type: ignore[union-attr]
    # the agent's tool context: count(with all its tools) - count(without); no table figure added
    assert agent.tool_context_tokens == _with(everything) - baseline
    assert agent.definition_tokens == sum(s.tokens or 0 for s in report.servers)
    assert agent.overhead_tokens == agent.tool_context_tokens - agent.definition_tokens
    assert "measured" in agent.overhead_note and "count_tokens" in agent.basis
    assert agent.reduction is not None and agent.code_mode_tokens is not None
    assert agent.reduction == round(1 - agent.code_mode_tokens / agent.tool_context_tokens, 4)
    # requests: per server N + 1 (all, all-but-each), one shared baseline, one for the agent's union
    sizes = {len(inv.manifest(s.name).tools) for s in report.servers}  # type: ignore[union-attr]
    for s in report.servers:
        n = s.tool_count or 0
        assert tool_requests[n] >= 1 and tool_requests[n - 1] >= n
    per_server = sum((s.tool_count or 0) + 1 for s in report.servers)
    total_tools = sum(s.tool_count or 0 for s in report.servers)
    assert tool_requests[total_tools] == 1  # the union, once
    assert sum(tool_requests.values()) == per_server + 1
    assert (
        sum(
            1
            for b in server.requests
            if b.get("messages") == PROBE and not b.get("tools") and not b.get("system")
        )
        == 1
    )
    # nothing counted that the report does not use: no description alone, no search answers
    descriptions = {compact(t.description) for s in report.servers for t in inv.manifest(s.name).tools}  # type: ignore[union-attr]
    contents = [m["content"] for b in server.requests for m in b["messages"]]
    assert not descriptions & set(contents)
    bound = sum(n + 2 for n in sizes)
    assert sum(tool_requests.values()) <= bound
    assert len(server.requests) <= sum(tool_requests.values()) + 1 + 12  # + baseline, prompts and docs read


@pytest.fixture(scope="module")
def small_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One Anthropic tool loop over one in-repo server (three tools)."""
    import shutil

    root = tmp_path_factory.mktemp("small")
    (root / "agents").mkdir()
    (root / "mcp_servers").mkdir()
    shutil.copy(FIXTURES / "frameworks/agents/anthropic_loop.py", root / "agents")
    shutil.copy(FIXTURES / "frameworks/mcp_servers/weather_server.py", root / "mcp_servers")
    return root


@pytest.mark.parametrize("fault", FAULTS)
def test_every_failed_answer_is_one_line_and_exit_2(api_env, small_repo: Path, fault: str) -> None:  # type: ignore[no-untyped-def]
    with CountTokensServer(fault, fault_after=1, hang_seconds=2.0) as server:
        api_env(server)
        result = runner.invoke(
            app,
            [
                "audit",
                str(small_repo),
                "--tokenizer",
                "anthropic",
                "--model",
                MODEL,
                "--timeout",
                "0.3" if fault == "hang" else "20",
                "-f",
                "json",
            ],
        )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    assert "sk-test-not-a-secret" not in result.output
    expected = {
        "malformed": "without a whole-number input_tokens",
        "non-json": "not JSON",
        "429": "HTTP 429",
        "500": "HTTP 500",
        "529": "HTTP 529",
        "hang": "timed out",
    }[fault]
    assert expected in lines[0]


def test_anthropic_tokenizer_with_openai_provider_is_refused(api_env) -> None:  # type: ignore[no-untyped-def]
    with CountTokensServer() as server:
        api_env(server)
        result = runner.invoke(
            app,
            [
                "audit",
                str(FIXTURES / "frameworks"),
                "--tokenizer",
                "anthropic",
                "--model",
                MODEL,
                "--provider",
                "openai",
            ],
        )
    assert result.exit_code == 2
    assert "--tokenizer anthropic counts Claude's tokens" in result.stderr
    assert server.requests == []
    _ = json
