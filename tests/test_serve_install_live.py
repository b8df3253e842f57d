"""`cfmigrate serve --install` end to end: the CLI rewrites a Claude Code config, and the gateway entry it wrote
is started the way the client starts it (its command and args, in the project folder) by the mcp `Client`:
`cfmigrate` as a real process from PATH. The install commands run the CLI's app in this process.

The repository is the seed scenario (three in-repo MCPServers whose `.mcp.json` entries name their tokens as
`${VAR}`), generated with `cfmigrate generate`; no Python agent reads it here, so it is a config-only agent.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from support.cli import Done, cfmigrate

from cfmigrate.analyzers.audit_json import audit_from_json
from cfmigrate.analyzers.configs import parse_jsonc
from cfmigrate.generators.audit_report import render_json, render_markdown
from cfmigrate.migrate.audit import AuditOptions, run_audit
from cfmigrate.migrate.serve import gateway_tools
from cfmigrate.runtime.gateway import GATEWAY_TOOLS

REPO = Path(__file__).resolve().parents[1]
TOKENS = {
    "DRIVE_ACCESS_TOKEN": "ya29.install-drive-5d1e",
    "CRM_API_TOKEN": "00D-install-crm-8c2a",
    "SLACK_BOT_TOKEN": "xoxb-install-slack-3f9b",
}


def _cli(*args: str, cwd: Path | None = None) -> Done:
    """The CLI in this process (tests/support/cli.py); the gateway it installs is started as a real process."""
    return cfmigrate(*args, cwd=cwd or REPO)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("install-live")
    shutil.copytree(REPO / "fixtures" / "seed-scenario", root, dirs_exist_ok=True)
    (root / "agent.py").unlink()  # no Python agent: the config is all a client has
    done = _cli("generate", "--root", str(root))
    assert done.returncode == 0, done.stderr
    return root


def _start(repo: Path, command: str, args: list[str]) -> tuple[list[str], str, bool]:
    """Start a gateway entry as a client does (in the project folder, the user's environment with the tokens
    and the PATH holding `cfmigrate`), list its tools and run a script that calls the Drive server."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_DATA"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(TOKENS)
    (repo / "state").mkdir(exist_ok=True)
    env.update({f"{s}_DATA": str(repo / "state" / f"{s.lower()}.json") for s in ("DRIVE", "CRM", "SLACK")})
    errlog_path = repo / "gateway.stderr"

    async def session() -> tuple[list[str], str, bool]:
        from mcp import Client
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(command=command, args=args, cwd=str(repo), env=env)
        with errlog_path.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=120) as client:
                listed = await client.list_tools()
                script = (
                    "from servers.drive import search_files\n"
                    "from servers.slack import list_channels\n"
                    "found = await search_files(query='transcript')\n"
                    "print(found.text[:400])\n"
                    "try:\n"
                    "    await list_channels()\n"
                    "    print('slack: allowed')\n"
                    "except Exception as exc:\n"
                    "    print('slack:', type(exc).__name__, str(exc)[:200])\n"
                )
                result = await client.call_tool("execute_code", {"code": script})
                text = "\n".join(c.text for c in result.content if c.type == "text")
                return [t.name for t in listed.tools], text, bool(result.is_error)

    out = asyncio.run(session())
    for value in TOKENS.values():
        assert value not in out[1] and value not in errlog_path.read_text()
    return out


def test_install_writes_then_the_client_launch_serves_the_estate(repo: Path) -> None:
    original = (repo / ".mcp.json").read_bytes()
    dry = _cli("serve", str(repo), "--install", "claude-code")
    assert dry.returncode == 1, dry.stderr
    assert dry.stdout.startswith("--- a/.mcp.json\n+++ b/.mcp.json\n")
    assert "would move behind the gateway: drive, crm, slack" in dry.stderr
    assert (repo / ".mcp.json").read_bytes() == original

    done = _cli("serve", str(repo), "--install", "claude-code", "--write", "--deny", "slack/list_*")
    assert done.returncode == 1, done.stderr
    assert "wrote .mcp.json; the original is in .mcp.json.cfmigrate-backup.json" in done.stderr
    assert (repo / ".mcp.json.cfmigrate-backup.json").read_bytes() == original
    entry = json.loads((repo / ".mcp.json").read_text())["mcpServers"]
    assert list(entry) == ["cfmigrate"]
    launch = entry["cfmigrate"]
    assert launch == {
        "type": "stdio",
        "command": "cfmigrate",
        "args": ["serve", ".", "--config", ".mcp.json.cfmigrate-backup.json", "--deny=slack/list_*"],
    }  # the policy given with --install travels in the entry

    check = _cli(
        "generate", "--root", str(repo), "--check"
    )  # servers/ still matches: the estate is unchanged
    assert check.returncode == 0, check.stdout + check.stderr

    again = _cli("serve", str(repo), "--install", "claude-code", "--write")
    assert again.returncode == 0 and again.stdout == ""
    assert "already points at the gateway ('cfmigrate'; installed by cfmigrate)" in again.stderr

    # Claude Code starts a project server in the project folder with its own environment
    names, text, is_error = _start(repo, launch["command"], launch["args"])
    assert names == list(GATEWAY_TOOLS) == [t.name for t in gateway_tools(repo)]
    assert not is_error and "Discovery Call Transcript" in text  # drive started from the backup's entry
    assert "slack: ToolError" in text and "slack: allowed" not in text  # the entry's --deny applies

    undo = _cli("serve", str(repo), "--uninstall", "claude-code", "--write")
    assert undo.returncode == 1, undo.stderr
    assert (repo / ".mcp.json").read_bytes() == original
    assert not (repo / ".mcp.json.cfmigrate-backup.json").exists()


def test_audit_prices_the_config_only_agent_with_the_gateway(repo: Path) -> None:
    report = run_audit(repo, AuditOptions(progress=False))
    (client,) = report.clients
    assert (client.client, client.config, client.servers) == (
        "claude-code",
        ".mcp.json",
        ("crm", "drive", "slack"),
    )
    by_name = {s.name: s for s in report.servers}
    assert client.tokens_before == sum(by_name[n].tokens or 0 for n in client.servers)
    assert client.tool_count == 50 and client.gateway_tool_count == len(GATEWAY_TOOLS)
    assert (
        client.tokens_with_gateway is not None and 0 < client.tokens_with_gateway < client.tokens_before / 10
    )
    assert client.basis.startswith(report.tokenizer) and "as anthropic receives them" in client.basis
    data = json.loads(render_json(report))
    assert data["clients"][0]["tokens_with_gateway"] == client.tokens_with_gateway
    assert audit_from_json(data, "audit.json").clients == report.clients
    shown = render_markdown(report)
    assert "### Config-only agents" in shown and "`cfmigrate serve --install claude-code`" in shown


def test_cli_errors_are_one_line_and_write_nothing(repo: Path, tmp_path: Path) -> None:
    bad = _cli("serve", str(repo), "--install", "emacs")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith(
        "error: --install 'emacs': unknown client; choose one of claude-code, cursor"
    )
    shutil.copy(repo / ".mcp.json", tmp_path / ".mcp.json")
    nopkg = _cli("serve", str(tmp_path), "--install", "claude-code", "--write")
    assert (
        nopkg.returncode == 2 and "run `cfmigrate generate`" in nopkg.stderr and nopkg.stderr.count("\n") == 1
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mcp.json"]
    both = _cli("serve", str(repo), "--install", "cursor", "--uninstall", "cursor")
    assert both.returncode == 2 and "exclusive" in both.stderr


VSCODE = """{
  // the same servers for Copilot's agent mode
  "servers": {
    "drive": {"type": "stdio", "command": "python", "args": ["mcp_servers/drive_server.py"],
              "env": {"DRIVE_ACCESS_TOKEN": "${env:DRIVE_ACCESS_TOKEN}", "DRIVE_DATA": "${env:DRIVE_DATA}"}},
    "slack": {"type": "stdio", "command": "python", "args": ["mcp_servers/slack_server.py"],
              "env": {"SLACK_BOT_TOKEN": "${env:SLACK_BOT_TOKEN}", "SLACK_DATA": "${env:SLACK_DATA}"}},
  },
}
"""


def test_vscode_entry_with_workspace_folder_serves_the_estate(repo: Path) -> None:
    """VS Code's JSONC config beside `.mcp.json`, same launches: its entries move, and the entry VS Code
    starts (`${workspaceFolder}` expanded as VS Code does) reads the values from the JSONC backup."""
    (repo / ".vscode").mkdir(exist_ok=True)
    (repo / ".vscode" / "mcp.json").write_text(VSCODE)
    done = _cli("serve", str(repo), "--install", "vscode", "--write")
    assert done.returncode == 1, done.stderr
    assert "moved behind the gateway: drive, slack" in done.stderr
    installed = (repo / ".vscode" / "mcp.json").read_text()
    assert installed.startswith("{\n  // the same servers for Copilot's agent mode\n")
    entry = parse_jsonc(installed)["servers"]["cfmigrate"]
    assert entry["args"] == [
        "serve", "${workspaceFolder}", "--config", "${workspaceFolder}/.vscode/mcp.json.cfmigrate-backup.json"
    ]  # fmt: skip
    args = [a.replace("${workspaceFolder}", str(repo)) for a in entry["args"]]
    names, text, is_error = _start(repo, entry["command"], args)
    assert names == list(GATEWAY_TOOLS)
    assert not is_error and "Discovery Call Transcript" in text and "slack: allowed" in text
    undo = _cli("serve", str(repo), "--uninstall", "vscode", "--write")
    assert undo.returncode == 1 and (repo / ".vscode" / "mcp.json").read_text() == VSCODE
