"""The MCP clients `cfmigrate serve --install` can rewrite: where each keeps its config, and its entry shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Format = Literal["json", "toml"]


@dataclass(frozen=True)
class ConfigPlace:
    """One file a client reads its MCP servers from, and the key path of the servers' map in it."""

    path: str  # relative to the repository root, POSIX
    key: tuple[str, ...]  # ("mcpServers",), ("servers",), ("mcp", "servers"), ("mcp_servers",)
    fmt: Format = "json"


@dataclass(frozen=True)
class Client:
    """A client whose repository config `--install` can rewrite."""

    name: str  # the --install value
    label: str
    places: tuple[ConfigPlace, ...]  # the first that exists is rewritten
    # how the gateway entry names the repository: a variable the client expands, "." when the client
    # starts project servers in the project folder, or None for the absolute path (global-style configs)
    root_expr: str | None
    stdio_type: bool = False  # the entry carries "type": "stdio"
    marker: tuple[tuple[str, str], ...] = ()  # fixed fields its entries carry (Zed: "source": "custom")

    def root_arg(self, root: Path) -> str:
        return self.root_expr if self.root_expr is not None else str(root.resolve())


CLIENTS: tuple[Client, ...] = (
    Client("claude-code", "Claude Code", (ConfigPlace(".mcp.json", ("mcpServers",)),), ".", stdio_type=True),
    Client("cursor", "Cursor", (ConfigPlace(".cursor/mcp.json", ("mcpServers",)),), "${workspaceFolder}"),
    Client(
        "vscode",
        "VS Code",
        (
            ConfigPlace(".vscode/mcp.json", ("servers",)),
            ConfigPlace(".vscode/settings.json", ("mcp", "servers")),
        ),
        "${workspaceFolder}",
        stdio_type=True,
    ),
    Client("codex", "Codex", (ConfigPlace(".codex/config.toml", ("mcp_servers",), "toml"),), "."),
    Client("gemini", "Gemini CLI", (ConfigPlace(".gemini/settings.json", ("mcpServers",)),), "."),
    Client(
        "windsurf",
        "Windsurf",
        (
            ConfigPlace(".codeium/windsurf/mcp_config.json", ("mcpServers",)),
            ConfigPlace(".windsurf/mcp_config.json", ("mcpServers",)),
        ),
        None,
    ),
    Client(
        "claude-desktop",
        "Claude Desktop",
        (ConfigPlace("claude_desktop_config.json", ("mcpServers",)),),
        None,
    ),
    Client("cline", "Cline", (ConfigPlace("cline_mcp_settings.json", ("mcpServers",)),), None),
    Client("roo", "Roo Code", (ConfigPlace(".roo/mcp.json", ("mcpServers",)),), None),
    Client("kiro", "Kiro", (ConfigPlace(".kiro/settings/mcp.json", ("mcpServers",)),), None),
    Client("amazon-q", "Amazon Q", (ConfigPlace(".amazonq/mcp.json", ("mcpServers",)),), None),
    Client(
        "zed",
        "Zed",
        (ConfigPlace(".zed/settings.json", ("context_servers",)),),
        None,
        marker=(("source", "custom"),),
    ),
)

# formats the audit reads and `--install` does not rewrite, with the reason
UNSUPPORTED: Mapping[str, str] = {
    "continue": "Continue keeps servers in YAML, which cfmigrate reads but does not rewrite "
    "(no comment-keeping YAML editor): add the gateway entry by hand",
}

GATEWAY_ENTRY = "cfmigrate"
"""The name of the entry `--install` adds."""

# Keys of a server entry the gateway takes over (the launch; env and `headers` values it reads from the
# backup passed with --config) or that only tune how the client talks to that one server; dropping them
# loses nothing the gateway needs.
LAUNCH_KEYS = frozenset(
    {
        "type",
        "transport",
        "command",
        "args",
        "env",
        "env_vars",
        "cwd",
        "url",
        "serverUrl",
        "httpUrl",
        "headers",
    }
)
DROPPABLE_KEYS = frozenset(
    {"timeout", "trust", "description", "startup_timeout_sec", "startup_timeout_ms", "tool_timeout_sec"}
)


def client_named(name: str) -> Client | None:
    return next((c for c in CLIENTS if c.name == name), None)


def client_names() -> list[str]:
    return [c.name for c in CLIENTS]


def gateway_entry(
    client: Client,
    command: str,
    args: Sequence[str],
    env: Mapping[str, Any],
    env_vars: Sequence[str] = (),
) -> dict[str, Any]:
    """The gateway's server entry in the client's own shape (keys in the order its docs show them)."""
    entry: dict[str, Any] = dict(client.marker)
    if client.stdio_type:
        entry["type"] = "stdio"
    entry["command"] = command
    entry["args"] = list(args)
    if env:
        entry["env"] = dict(env)
    if env_vars:
        entry["env_vars"] = list(env_vars)
    return entry
