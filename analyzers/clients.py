"""Config-only agents: client configs (Claude Code, Cursor, VS Code, ...) that no Python agent reads.

Such a client sends every tool definition of the servers it loads on every request. `cfmigrate serve`
puts one gateway in front of them; this module prices both, in the audit's tokenizer and provider
rendering, from the gateway's own `tools/list` (handed in by the caller: analyzers start nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfmigrate.analyzers.configs import INSTALL_BACKUP_TAG, parse_config_file
from cfmigrate.analyzers.model import Inventory, ServerSpec, ToolDef

# the `origin` of ServerSpec for configs an IDE or CLI client loads by itself
CLIENT_ORIGINS: Mapping[str, str] = {
    "claude-code": "Claude Code",
    "claude-desktop": "Claude Desktop",
    "cursor": "Cursor",
    "vscode": "VS Code",
    "windsurf": "Windsurf",
    "gemini-cli": "Gemini CLI",
    "codex": "Codex",
    "zed": "Zed",
    "continue": "Continue",
    "cline": "Cline",
    "roo-code": "Roo Code",
    "kiro": "Kiro",
    "amazon-q": "Amazon Q",
}

# origin -> the `cfmigrate serve --install` value for that client (Continue's YAML is not rewritten)
INSTALL_NAMES: Mapping[str, str] = {
    "claude-code": "claude-code",
    "claude-desktop": "claude-desktop",
    "cursor": "cursor",
    "vscode": "vscode",
    "windsurf": "windsurf",
    "gemini-cli": "gemini",
    "codex": "codex",
    "zed": "zed",
    "cline": "cline",
    "roo-code": "roo",
    "kiro": "kiro",
    "amazon-q": "amazon-q",
}


@dataclass(frozen=True)
class GatewayList:
    """The gateway's tools/list for this repository, or why it is unknown, and the servers it serves."""

    tools: tuple[ToolDef, ...] | None
    served: frozenset[str] = frozenset()  # server names that can leave a client config
    source: str = ""  # e.g. "cfmigrate serve tools/list (servers/, 3 servers)" or why it is unknown
    instructions: str = ""  # the gateway's `instructions`, which clients add to the model's context
    # config -> the servers `serve --install` would leave in it (its reasons go beyond `served`: headers,
    # tool filters, prompts...); configs not listed keep what the gateway does not serve
    direct: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ClientFigure:
    """One client config no Python agent reads: per-request tool definitions today and with the gateway.

    A figure the audit cannot know is None, never a guess. Both figures are tool definitions only, in the
    same tokenizer and provider rendering (`basis`); the client's own prompt is the same on both sides.
    """

    client: str  # the ServerSpec origin, e.g. "claude-code"
    label: str  # "Claude Code"
    config: str  # repo-relative path of the config the client reads
    installed: bool  # the config already points at `cfmigrate serve` (its servers read from the backup)
    servers: tuple[str, ...]  # enabled servers the client loads (before the gateway)
    unknown_servers: tuple[str, ...]  # of those, servers whose tools are unknown
    tool_count: int | None
    tokens_before: int | None  # every tool definition of its servers, per request
    direct: tuple[str, ...]  # servers that stay in the config with the gateway (it cannot serve them)
    gateway_tool_count: int | None  # the gateway's tools plus the direct servers' tools
    tokens_with_gateway: int | None
    reduction: float | None  # 1 - with / before
    basis: str
    note: str = ""


# where the clients keep a repository's config (the same places `cfmigrate serve --install` rewrites)
WELL_KNOWN_CONFIGS = (
    ".mcp.json",
    ".cursor/mcp.json",
    ".vscode/mcp.json",
    ".vscode/settings.json",
    ".codex/config.toml",
    ".gemini/settings.json",
    ".codeium/windsurf/mcp_config.json",
    ".windsurf/mcp_config.json",
    "claude_desktop_config.json",
    "cline_mcp_settings.json",
    ".roo/mcp.json",
    ".kiro/settings/mcp.json",
    ".amazonq/mcp.json",
    ".zed/settings.json",
)


def _client_configs(inv: Inventory) -> dict[str, list[ServerSpec]]:
    """Every client config of the repository with the servers it declares itself.

    Read per file: the inventory keeps one declaration per server name, but each client loads its own.
    """
    root = Path(inv.root)
    paths = {_config_of(s.source.path) for s in inv.servers if s.origin in CLIENT_ORIGINS}
    paths |= {p for p in WELL_KNOWN_CONFIGS if (root / p).is_file()}
    out: dict[str, list[ServerSpec]] = {}
    for rel in sorted(paths):
        parsed = parse_config_file(root / rel, rel)
        specs = [s for s in (parsed[0] if parsed else []) if s.origin in CLIENT_ORIGINS]
        if specs:
            out[rel] = specs
    return out


def _config_of(path: str) -> str:
    """The config a server entry belongs to (an installed config's entries are read from its backup)."""
    if INSTALL_BACKUP_TAG in path:
        return path[: path.index(INSTALL_BACKUP_TAG)]
    return path


def client_figures(
    inv: Inventory,
    server_tokens: Mapping[str, int | None],
    server_tools: Mapping[str, int | None],
    gateway: GatewayList | None,
    price: Callable[[Sequence[ToolDef]], int],
    basis: str,
    count: Callable[[str], int] | None = None,
) -> tuple[ClientFigure, ...]:
    """A figure per client config whose servers no agent reaches.

    `server_tokens`/`server_tools`: the audit's per-server figures; `price`: the same measure applied to
    the gateway's tool list (the audit's tokenizer and provider rendering); `count`: the tokenizer, for
    the gateway's instructions (counted on the gateway's side only: the servers' own are not known).
    """
    reached = {name for agent in inv.agents for name in agent.servers}
    by_config: dict[str, list[str]] = {}
    origin: dict[str, str] = {}
    installed: dict[str, bool] = {}
    in_place: dict[str, set[str]] = {}  # servers an installed config still declares itself
    for config, specs in _client_configs(inv).items():
        by_config[config] = []
        origin[config] = specs[0].origin
        installed[config] = any(INSTALL_BACKUP_TAG in s.source.path for s in specs)
        in_place[config] = {s.name for s in specs if INSTALL_BACKUP_TAG not in s.source.path}
        for spec in specs:
            if not spec.disabled and spec.name not in by_config[config]:
                by_config[config].append(spec.name)
    gateway_tokens: int | None = None
    if gateway is not None and gateway.tools is not None:
        gateway_tokens = price(gateway.tools)
        if gateway.instructions and count is not None:
            gateway_tokens += count(gateway.instructions)
    out: list[ClientFigure] = []
    for config in sorted(by_config):
        names = tuple(sorted(by_config[config]))
        if not names or reached & set(names):
            continue  # nothing loaded, or a Python agent reads these servers (priced as that agent)
        unknown = tuple(n for n in names if server_tokens.get(n) is None)
        before = None if unknown else sum(server_tokens[n] or 0 for n in names)
        tools = None if unknown else sum(server_tools.get(n) or 0 for n in names)
        note = ""
        direct: tuple[str, ...] = ()
        with_gateway: int | None = None
        gateway_count: int | None = None
        if gateway is None or gateway.tools is None:
            note = gateway.source if gateway is not None else "the gateway's tool list was not computed"
        else:
            if installed[config]:
                direct = tuple(n for n in names if n in in_place.get(config, set()))
            elif config in gateway.direct:
                direct = tuple(n for n in names if n in gateway.direct[config])
            else:
                direct = tuple(n for n in names if n not in gateway.served)
            if any(server_tokens.get(n) is None for n in direct):
                note = "tools unknown for servers that stay direct: " + ", ".join(
                    n for n in direct if server_tokens.get(n) is None
                )
            else:
                assert gateway_tokens is not None
                with_gateway = gateway_tokens + sum(server_tokens[n] or 0 for n in direct)
                gateway_count = len(gateway.tools) + sum(server_tools.get(n) or 0 for n in direct)
        reduction = (
            round((before - with_gateway) / before, 4) if before and with_gateway is not None else None
        )
        out.append(
            ClientFigure(
                client=origin[config],
                label=CLIENT_ORIGINS[origin[config]],
                config=config,
                installed=installed[config],
                servers=names,
                unknown_servers=unknown,
                tool_count=tools,
                tokens_before=before,
                direct=direct,
                gateway_tool_count=gateway_count,
                tokens_with_gateway=with_gateway,
                reduction=reduction,
                basis=basis,
                note=note,
            )
        )
    return tuple(out)


def gateway_tool_defs(tools: Sequence[Any]) -> tuple[ToolDef, ...]:
    """mcp `Tool` objects (what the gateway lists) as the audit's ToolDef, wire fields kept."""
    out = []
    for t in tools:
        out.append(
            ToolDef(
                name=str(t.name),
                description=str(getattr(t, "description", None) or ""),
                input_schema=dict(getattr(t, "input_schema", None) or getattr(t, "inputSchema", None) or {}),
                output_schema=getattr(t, "output_schema", None),
                title=getattr(t, "title", None),
                annotations=None,
            )
        )
    return tuple(out)
