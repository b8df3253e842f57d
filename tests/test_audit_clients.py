"""Config-only agents in the audit and the plan: client configs no Python agent reads, priced today and with the gateway."""

from __future__ import annotations

import json
from pathlib import Path

from cfmigrate.analyzers.clients import (
    CLIENT_ORIGINS,
    INSTALL_NAMES,
    WELL_KNOWN_CONFIGS,
    GatewayList,
    client_figures,
)
from cfmigrate.analyzers.configs import is_gateway_launch
from cfmigrate.analyzers.discover import discover
from cfmigrate.analyzers.measure import CodeModeCosts, measure
from cfmigrate.analyzers.model import ToolDef
from cfmigrate.analyzers.tokens import BpeTokenizer, tool_cost
from cfmigrate.generators.audit_report import render_markdown
from cfmigrate.generators.plan.build import build_plan
from cfmigrate.generators.plan.render import render_html
from cfmigrate.generators.plan.render import render_markdown as plan_markdown
from cfmigrate.migrate.install_clients import CLIENTS

TOK = BpeTokenizer("o200k_base")


def _tool(name: str, words: int) -> dict[str, object]:
    return {
        "name": name,
        "description": " ".join(["Looks things up in the catalogue"] * words),
        "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    }


def _repo(root: Path) -> Path:
    """Cursor loads three servers (one disabled, one with unknown tools); a Python agent reads `agent.json`."""
    (root / ".cursor").mkdir()
    (root / ".cursor" / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "books": {"command": "books-mcp"},
                    "films": {"command": "films-mcp"},
                    "mystery": {"command": "mystery-mcp", "disabled": True},
                    "remote": {"url": "https://example.com/mcp", "headers": {"X-Key": "${env:KEY}"}},
                }
            }
        )
    )
    for name, tools in (("books", 6), ("films", 4), ("remote", 2)):
        (root / f"{name}.tools.json").write_text(
            json.dumps({"tools": [_tool(f"{name}_{i}", 3 + i) for i in range(tools)]})
        )
    return root


def _report(root: Path, gateway: GatewayList | None):  # type: ignore[no-untyped-def]
    return measure(discover(root), TOK, CodeModeCosts(fixed=0), gateway=gateway)


GATEWAY_TOOLS = (
    ToolDef(
        "execute_code",
        "Run Python against servers/.",
        {"type": "object", "properties": {"code": {"type": "string"}}},
    ),
    ToolDef(
        "search_tools",
        "Find tools by words.",
        {"type": "object", "properties": {"query": {"type": "string"}}},
    ),
)


def test_a_config_only_client_is_priced_today_and_behind_the_gateway(tmp_path: Path) -> None:
    gateway = GatewayList(GATEWAY_TOOLS, served=frozenset({"books", "films"}), source="test")
    report = _report(_repo(tmp_path), gateway)
    (client,) = report.clients
    servers = {s.name: s for s in report.servers}
    assert (client.client, client.label, client.config) == ("cursor", "Cursor", ".cursor/mcp.json")
    assert client.servers == ("books", "films", "remote")  # the disabled one is not loaded
    assert client.tool_count == 12
    assert client.tokens_before == sum(servers[n].tokens or 0 for n in client.servers)
    listed = sum(tool_cost(t, "anthropic", TOK).total for t in GATEWAY_TOOLS)
    assert client.direct == ("remote",)  # not served: its definitions are still sent
    assert client.tokens_with_gateway == listed + (servers["remote"].tokens or 0)
    assert client.gateway_tool_count == 2 + 2
    assert client.reduction == round(1 - client.tokens_with_gateway / client.tokens_before, 4)
    assert client.basis.startswith("estimate, o200k_base; tool definitions as anthropic receives them")
    md = render_markdown(report)
    assert "| Cursor | .cursor/mcp.json | books, films, remote | 12 |" in md
    assert "`cfmigrate serve --install cursor`" in md and "remote kept direct" in md


def test_unknown_stays_unknown(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "films.tools.json").unlink()
    report = _report(root, GatewayList(GATEWAY_TOOLS, served=frozenset({"books"}), source="test"))
    (client,) = report.clients
    assert client.unknown_servers == ("films",) and client.tokens_before is None and client.reduction is None
    assert (
        client.tokens_with_gateway is None
        and client.note == "tools unknown for servers that stay direct: films"
    )
    missing = _report(
        root, GatewayList(None, source="servers: no generated servers package here; run `cfmigrate generate`")
    )
    assert missing.clients[0].tokens_with_gateway is None
    assert "run `cfmigrate generate`" in missing.clients[0].note


def test_a_config_a_python_agent_reads_is_that_agent_not_a_client() -> None:
    seed = Path(__file__).resolve().parents[1] / "fixtures" / "seed-scenario"
    inv = discover(seed)
    assert inv.agents and {s.origin for s in inv.servers} == {"claude-code"}
    assert client_figures(inv, {}, {}, None, lambda tools: 0, "basis") == ()


def test_the_plan_says_what_the_gateway_would_save(tmp_path: Path) -> None:
    gateway = GatewayList(GATEWAY_TOOLS, served=frozenset({"books", "films"}), source="test")
    report = _report(_repo(tmp_path), gateway)
    (client,) = report.clients
    plan = build_plan(report, audit_source="`cfmigrate audit .`")
    assert plan.clients == report.clients
    line = next(s for s in plan.summary if s.startswith("Cursor loads `.cursor/mcp.json`"))
    assert f"{client.tokens_before:,} tokens with every request" in line
    assert f"it would send {client.tokens_with_gateway:,} tokens (4 tools, remote kept direct)" in line
    assert line.endswith("`cfmigrate serve --install cursor` does it.")
    md = plan_markdown(plan)
    assert "**Config-only agents: the gateway path**" in md
    assert f"| {client.tokens_before:,} → {client.tokens_with_gateway:,} |" in md
    assert "Config-only agents: the gateway path</h3>" in render_html(plan)


def test_client_names_agree_with_install() -> None:
    assert set(INSTALL_NAMES) <= set(CLIENT_ORIGINS)
    assert sorted(INSTALL_NAMES.values()) == sorted(c.name for c in CLIENTS)
    assert sorted(p.path for c in CLIENTS for p in c.places) == sorted(WELL_KNOWN_CONFIGS)


def test_each_client_loads_its_own_declarations(tmp_path: Path) -> None:
    """A server declared in two configs is one server in the inventory, but each client still loads it."""
    root = _repo(tmp_path)
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"books": {"command": "books-mcp"}}}))
    report = _report(root, GatewayList(GATEWAY_TOOLS, served=frozenset({"books", "films"}), source="test"))
    clients = {c.config: c for c in report.clients}
    assert clients[".mcp.json"].servers == ("books",)
    assert clients[".cursor/mcp.json"].servers == ("books", "films", "remote")
    assert clients[".mcp.json"].tokens_before == next(s.tokens for s in report.servers if s.name == "books")


def test_the_gateway_entry_is_never_a_server(tmp_path: Path) -> None:
    assert is_gateway_launch("cfmigrate", ["serve", "."])
    assert is_gateway_launch("/home/me/.venv/bin/cfmigrate", ["serve"])
    assert is_gateway_launch("python", ["-m", "cfmigrate.migrate.cli", "serve", "."])
    assert is_gateway_launch("uvx", ["cfmigrate", "serve", "--http", "8000"])
    assert not is_gateway_launch("npx", ["-y", "serve"])
    assert not is_gateway_launch("cfmigrate", ["audit", "."])
    (tmp_path / ".mcp.json").write_text(
        '{"mcpServers": {"gw": {"command": "cfmigrate", "args": ["serve", "."]}, "git": {"command": "uvx", "args": ["mcp-server-git"]}}}'
    )
    assert [s.name for s in discover(tmp_path).servers] == ["git"]


def test_servers_install_would_leave_in_the_config_count_as_direct(tmp_path: Path) -> None:
    """`GatewayList.direct` (what `serve --install` would keep, e.g. a header-only or filtered entry) wins."""
    keep = {".cursor/mcp.json": frozenset({"films"})}
    gateway = GatewayList(
        GATEWAY_TOOLS, served=frozenset({"books", "films", "remote"}), source="t", direct=keep
    )
    (client,) = _report(_repo(tmp_path), gateway).clients
    films = next(s for s in _report(tmp_path, None).servers if s.name == "films")
    assert client.direct == ("films",)
    assert client.tokens_with_gateway == sum(tool_cost(t, "anthropic", TOK).total for t in GATEWAY_TOOLS) + (
        films.tokens or 0
    )


def test_the_gateway_instructions_count_on_its_side(tmp_path: Path) -> None:
    words = "Write Python that imports servers.<server> and print only what you need. " * 4
    with_text = GatewayList(
        GATEWAY_TOOLS, served=frozenset({"books", "films", "remote"}), source="t", instructions=words
    )
    without = GatewayList(GATEWAY_TOOLS, served=frozenset({"books", "films", "remote"}), source="t")
    (a,) = _report(_repo(tmp_path), with_text).clients
    (b,) = _report(tmp_path, without).clients
    assert a.tokens_with_gateway is not None and b.tokens_with_gateway is not None
    assert a.tokens_with_gateway - b.tokens_with_gateway == TOK.count(words) > 0
    assert f"with the gateway also its instructions ({TOK.count(words):,} tokens)" in a.basis


def test_a_small_toolset_is_told_to_stay_direct(tmp_path: Path) -> None:
    """Two short tools cost less than the gateway's three: the audit and the plan say keep it, and offer no install."""
    (tmp_path / ".mcp.json").write_text(json.dumps({"mcpServers": {"tiny": {"command": "tiny-mcp"}}}))
    (tmp_path / "tiny.tools.json").write_text(json.dumps({"tools": [_tool("ping", 1), _tool("pong", 1)]}))
    words = "Write Python that imports servers.<server> and print only what you need. " * 6
    report = _report(
        tmp_path, GatewayList(GATEWAY_TOOLS, served=frozenset({"tiny"}), source="t", instructions=words)
    )
    (client,) = report.clients
    assert client.reduction is not None and client.reduction < 0
    md = render_markdown(report)
    assert "keep these servers direct" in md and "serve --install" not in md
    line = next(s for s in build_plan(report, audit_source="x").summary if s.startswith("Claude Code loads"))
    assert line.endswith(f"{-client.reduction:.0%} more: keep it as it is.")
