"""The seed scenario end to end: the direct-MCP agent, three real stdio servers, the scripted model."""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from support.honest_models import SeedDirectModel
from support.honesty import honesty_check
from support.scripted_api import SEED_TASK, TOKEN_LABEL, ScriptedAPI

from cfmigrate.analyzers.model import ToolDef
from cfmigrate.analyzers.tokens import BpeTokenizer, compact, render_tool

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "seed-scenario"
SERVERS = ("drive", "crm", "slack")
SECRETS = {
    "DRIVE_ACCESS_TOKEN": "ya29.drive-secret-4f1c",
    "CRM_API_TOKEN": "00D5f-crm-secret-9a7e",
    "SLACK_BOT_TOKEN": "xoxb-slack-secret-77d2",
    "ANTHROPIC_API_KEY": "sk-ant-test-secret-0c3b",
}
DANA = "00Q5f00001Dw7XYEAZ"
O200K = BpeTokenizer("o200k_base")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fixture, so running its servers never writes into the source tree (e.g. __pycache__)."""
    target = tmp_path_factory.mktemp("seed") / "seed-scenario"
    shutil.copytree(FIXTURE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def server_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DRIVE_DATA": str(tmp_path / "drive.json"),
        "CRM_DATA": str(tmp_path / "crm.json"),
        "SLACK_DATA": str(tmp_path / "slack.json"),
        **{k: v for k, v in SECRETS.items() if k != "ANTHROPIC_API_KEY"},
    }


async def list_all_tools(root: Path, env: dict[str, str]) -> dict[str, list[ToolDef]]:
    out: dict[str, list[ToolDef]] = {}
    for name in SERVERS:
        params = StdioServerParameters(
            command=sys.executable, args=[f"mcp_servers/{name}_server.py"], cwd=str(root), env=env
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listing = await session.list_tools()
            out[name] = [
                ToolDef(t.name, t.description or "", t.input_schema, t.output_schema) for t in listing.tools
            ]
    return out


def test_mcp_json_names_three_stdio_servers_without_secret_values() -> None:
    config = json.loads((FIXTURE / ".mcp.json").read_text())
    servers = config["mcpServers"]
    assert sorted(servers) == sorted(SERVERS)
    for name, spec in servers.items():
        assert spec["command"] == "python"
        assert spec["args"] == [f"mcp_servers/{name}_server.py"]
        assert (FIXTURE / spec["args"][0]).is_file()
        for value in spec["env"].values():
            assert re.fullmatch(r"\$\{[A-Z_]+\}", value), f"{name}: env values must be ${{VAR}} references"


def test_transcript_is_generated_deterministically_and_about_12k_tokens() -> None:
    script = runpy.run_path(str(FIXTURE / "scripts" / "make_transcript.py"))
    stored = (FIXTURE / "data" / "transcript.txt").read_text(encoding="utf-8")
    assert script["render"]() == stored, "data/transcript.txt is stale: run python scripts/make_transcript.py"
    assert script["render"](seed=7) != stored
    tokens = O200K.count(stored)
    assert 11_000 <= tokens <= 13_000, tokens
    stamps = re.findall(r"^\[(\d\d):(\d\d):(\d\d)\] ([A-Z][a-z]+ [A-Z][a-z]+):", stored, re.MULTILINE)
    assert len(stamps) > 250
    last = stamps[-1]
    assert 1 * 3600 + 50 * 60 <= int(last[0]) * 3600 + int(last[1]) * 60 + int(last[2]) <= 2 * 3600
    assert {s[3] for s in stamps} == {
        "Priya Raman",
        "Marcus Bell",
        "Dana Whitfield",
        "Tom Okafor",
        "Lena Fischer",
        "Raj Patel",
    }


def test_servers_offer_about_50_tools_worth_about_15k_tokens(repo: Path, tmp_path: Path) -> None:
    tools = asyncio.run(list_all_tools(repo, server_env(tmp_path)))
    counts = {name: len(ts) for name, ts in tools.items()}
    every = [t for ts in tools.values() for t in ts]
    assert counts == {"drive": 16, "crm": 20, "slack": 14}
    assert len({t.name for t in every}) == len(every) == 50  # unique across servers, as agent.py needs
    definition_tokens = sum(O200K.count(compact(render_tool(t, "anthropic"))) for t in every)
    print(
        f"\nseed scenario: {len(every)} tools, {definition_tokens} tokens of definitions ({O200K.label}, Anthropic rendering)"
    )
    assert 13_500 <= definition_tokens <= 16_500
    per_tool = sorted(O200K.count(compact(render_tool(t, "anthropic"))) for t in every)
    assert per_tool[len(per_tool) // 2] >= 200  # a typical definition is a few hundred tokens
    structured = {t.name for t in every if t.output_schema}
    assert {"search_files", "find_lead", "attach_note_to_lead", "post_message"} <= structured
    assert "get_document" not in structured  # plain text result


def test_servers_refuse_without_their_token_and_never_echo_one(repo: Path, tmp_path: Path) -> None:
    env = server_env(tmp_path)
    del env["CRM_API_TOKEN"]

    async def calls() -> tuple[Any, Any]:
        crm = StdioServerParameters(
            command=sys.executable, args=["mcp_servers/crm_server.py"], cwd=str(repo), env=env
        )
        async with stdio_client(crm) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            refused = await session.call_tool("find_lead", {"query": "Dana"})
        slack = StdioServerParameters(
            command=sys.executable, args=["mcp_servers/slack_server.py"], cwd=str(repo), env=env
        )
        async with stdio_client(slack) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            channels = await session.call_tool("list_channels", {"include_private": True})
        return refused, channels

    refused, channels = asyncio.run(calls())
    assert refused.is_error
    assert "set the CRM_API_TOKEN environment variable" in refused.content[0].text
    assert not channels.is_error
    assert SECRETS["SLACK_BOT_TOKEN"] not in channels.content[0].text
    names = [c["name"] for c in channels.structured_content["channels"]]
    assert "sales-updates" in names and "deal-acme-logistics" in names


def test_agent_module_is_importable_with_a_run_coroutine() -> None:
    spec = importlib.util.spec_from_file_location("seed_agent", FIXTURE / "agent.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert inspect.iscoroutinefunction(module.run)
    assert list(inspect.signature(module.run).parameters) == ["task"]
    assert module.MODEL.startswith("claude-")


def run_agent(
    repo: Path, tmp_path: Path, max_tokens: int
) -> tuple[ScriptedAPI, subprocess.CompletedProcess[str]]:
    """The fixture agent (with MAX_TOKENS set) as a subprocess against the honest scripted model."""
    source = (repo / "agent.py").read_text(encoding="utf-8")
    patched, n = re.subn(r"^MAX_TOKENS = \d+$", f"MAX_TOKENS = {max_tokens}", source, flags=re.MULTILINE)
    assert n == 1
    agent = repo / f"agent_{max_tokens}.py"
    agent.write_text(patched, encoding="utf-8")
    with ScriptedAPI(SeedDirectModel(), api_keys={SECRETS["ANTHROPIC_API_KEY"]}, check=honesty_check) as api:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "DRIVE_", "CRM_", "SLACK_"))
        }
        env.update(server_env(tmp_path))
        env.update(
            ANTHROPIC_BASE_URL=api.url,
            ANTHROPIC_API_KEY=SECRETS["ANTHROPIC_API_KEY"],
            PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),  # `python` in .mcp.json
        )
        proc = subprocess.run(
            [sys.executable, str(agent), SEED_TASK],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    return api, proc


@pytest.mark.slow
def test_direct_mcp_agent_end_to_end(repo: Path, tmp_path: Path) -> None:
    transcript = (FIXTURE / "data" / "transcript.txt").read_text(encoding="utf-8")
    api, proc = run_agent(repo, tmp_path, 16_384)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert api.errors() == []

    # what arrived in the systems
    crm = json.loads((tmp_path / "crm.json").read_text())
    notes = [n for n in crm["notes"].values() if n["parent_id"] == DANA and n["id"] != "0695f00000Ab1CdEAF"]
    assert len(notes) == 1
    assert notes[0]["body"] == transcript  # the whole transcript, byte for byte
    slack = json.loads((tmp_path / "slack.json").read_text())
    posted = [m for m in slack["channels"]["C05SALESUPD"]["messages"] if m["user"] == slack["bot_user_id"]]
    assert len(posted) == 1 and DANA in posted[0]["text"] and notes[0]["id"] in posted[0]["text"]
    assert notes[0]["id"] in proc.stdout and "#sales-updates" in proc.stdout

    # what the model was sent
    requests = [r.request for r in api.message_records()]
    assert len(requests) == 6  # search, read, find lead, attach, post, final answer
    first = requests[0]
    assert first is not None and len(first["tools"]) == 50
    assert all(f"- {t['name']}:" in first["system"] for t in first["tools"])  # the prompt lists the tools
    attach_turn = requests[4]
    assert attach_turn is not None
    copied = [
        b["input"]["body"]
        for m in attach_turn["messages"]
        if m["role"] == "assistant" and isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_use" and b.get("name") == "attach_note_to_lead"
    ]
    assert copied == [transcript]  # the transcript passed through the context as a result AND as arguments
    inputs = [r.input_tokens or 0 for r in api.message_records()]
    assert inputs == sorted(inputs)  # every request re-sends everything before it
    billed = api.billed_input_tokens()
    print(
        f"\nseed scenario, direct MCP: {len(requests)} requests, {billed} billed input tokens ({TOKEN_LABEL})"
    )
    print(f"per request: {inputs}")
    assert 140_000 <= billed <= 220_000

    # secrets never leave the environment
    recorded = json.dumps([r.request for r in api.records]) + json.dumps([r.response for r in api.records])
    for value in SECRETS.values():
        assert value not in proc.stdout and value not in proc.stderr and value not in recorded
        assert value not in (tmp_path / "crm.json").read_text() + (tmp_path / "slack.json").read_text()
