"""What `cfmigrate serve` puts behind its gateway: the generated package, the configs, the tools kept direct.

The audit's discovery reads the repository (configs, snapshots, settings) and the decision framework picks the
tools kept on direct MCP (`keep-direct`, browser automation); the result is plain data for
`cfmigrate.runtime.gateway`, which imports nothing of this layer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfmigrate.analyzers.model import Manifest, ServerSpec
from cfmigrate.analyzers.naming import to_identifier
from cfmigrate.analyzers.settings import Settings, SettingsError, load_settings
from cfmigrate.runtime.codemode import KeptTool
from cfmigrate.runtime.gateway import (
    GATEWAY_TOOLS,
    GatewayError,
    GatewaySpec,
    check_package,
    gateway_tool_list,
)
from cfmigrate.runtime.policy import Policy
from cfmigrate.runtime.tools import ToolDefinition

# Manifest origins whose tools are the server's real list (an estimate is never served as tools).
_USABLE = frozenset({"snapshot", "manifest-file", "live", "code", "catalog"})


class ServeError(Exception):
    """The estate cannot be served; one line naming the file or server and what to do."""


@dataclass(frozen=True)
class ServedServer:
    """A configured server the gateway serves: through `execute_code`, or passed through when kept direct."""

    name: str  # its key in the config
    server_id: str  # its id in the generated package / the runtime
    config: str | None  # repo-relative path of the config declaring it (None: found in code)
    kept_direct: bool = False


@dataclass(frozen=True)
class UnservedServer:
    """A configured server the gateway cannot serve: its client config entry should stay as it is."""

    name: str
    config: str | None
    reason: str


@dataclass(frozen=True)
class GatewayEstate:
    """The repository's MCP estate as the gateway serves it."""

    root: Path
    servers_dir: Path
    configs: tuple[Path, ...]  # read for env/header values, the first declaring a server wins
    served: tuple[ServedServer, ...] = ()
    unserved: tuple[UnservedServer, ...] = ()
    kept: tuple[str, ...] = ()  # "server/tool" entries passed through
    kept_tools: tuple[KeptTool, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    def spec(self, policy: Policy | None = None) -> GatewaySpec:
        """The runtime gateway's input."""
        return GatewaySpec(
            servers_dir=self.servers_dir,
            configs=self.configs,
            kept=self.kept_tools,
            policy=policy or Policy(),
        )


def is_gateway_entry(spec: ServerSpec) -> bool:
    """A config entry that launches `cfmigrate serve` (the gateway itself, e.g. after `--install`)."""
    command = os.path.basename(spec.command or "")
    args = list(spec.args)
    if command in ("cfmigrate", "cfmigrate.exe"):
        return bool(args) and args[0] == "serve"
    if command.startswith("python") and args[:2] == ["-m", "cfmigrate.migrate.cli"]:
        return len(args) > 2 and args[2] == "serve"
    return False


def gateway_command(repo: Path | str) -> list[str]:
    """The command line a client config uses to launch the gateway for `repo`."""
    return ["cfmigrate", "serve", str(repo)]


def _settings(root: Path) -> Settings:
    try:
        return load_settings(root)
    except SettingsError as exc:
        raise ServeError(str(exc)) from None


def _package_ids(servers_dir: Path) -> dict[str, str]:
    """Package server id -> the server's configured name, from `_servers.json`."""
    path = servers_dir / "_servers.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ServeError(f"{path}: cannot read the launch specs ({exc}); run `cfmigrate generate`") from None
    servers = loaded.get("servers", {}) if isinstance(loaded, dict) else {}
    return {str(k): str(v.get("name") or k) for k, v in servers.items() if isinstance(v, dict)}


def _server_id(name: str, ids: Mapping[str, str]) -> str | None:
    ident = to_identifier(name)
    if ident in ids:
        return ident
    return next((sid for sid, named in sorted(ids.items()) if named == name), None)


def _kept_tools(
    entries: Sequence[str], manifests: Mapping[str, Manifest], ids: Mapping[str, str], notes: list[str]
) -> list[KeptTool]:
    """`keep-direct` entries ("server/tool", a server, or a unique tool name) as pass-through tools."""
    wanted: list[tuple[str, str]] = []
    for entry in entries:
        server, sep, tool = entry.partition("/")
        if sep:
            pairs = [(server, tool)]
        elif entry in manifests:
            pairs = [(entry, t.name) for t in manifests[entry].tools]
        else:
            pairs = [(m.server, t.name) for m in manifests.values() for t in m.tools if t.name == entry]
            if len(pairs) > 1:
                notes.append(
                    f"keep-direct {entry!r}: a tool of {', '.join(s for s, _ in pairs)}; "
                    f"write it as 'server/{entry}' (not passed through)"
                )
                continue
        if not pairs:
            notes.append(f"keep-direct {entry!r}: no known server or tool of that name (not passed through)")
        for pair in pairs:
            if pair not in wanted:
                wanted.append(pair)
    kept: list[KeptTool] = []
    taken = set(GATEWAY_TOOLS)
    for server, tool in sorted(wanted):
        manifest = manifests.get(server)
        found = next((t for t in manifest.tools if t.name == tool), None) if manifest else None
        if found is None:
            unknown = "its tools are unknown" if manifest is None else f"it lists no tool {tool!r}"
            notes.append(
                f"keep-direct {server}/{tool}: {unknown} (run `cfmigrate generate --refresh`); not passed through"
            )
            continue
        exposed = tool if tool not in taken else f"{to_identifier(server)}_{tool}"
        if exposed in taken:
            notes.append(f"keep-direct {server}/{tool}: its name is taken twice; not passed through")
            continue
        taken.add(exposed)
        kept.append(
            KeptTool(
                server=_server_id(server, ids) or to_identifier(server),
                name=tool,
                definition=ToolDefinition(
                    name=exposed,
                    description=found.description,
                    input_schema=dict(found.input_schema) or {"type": "object", "properties": {}},
                    annotations=dict(found.annotations) if found.annotations else None,
                ),
            )
        )
    return kept


def gateway_estate(repo: Path, *, configs: Sequence[Path] = ()) -> GatewayEstate:
    """Discover what the gateway serves in `repo` (reads files only: nothing starts, nothing is written)."""
    from cfmigrate.analyzers.discover import discover
    from cfmigrate.analyzers.measure import VALIDATION_PACKAGES

    root = Path(repo).resolve()
    if not root.is_dir():
        raise ServeError(f"{repo} is not a directory; pass the repository to serve")
    settings = _settings(root)
    servers_dir = root / (settings.out or "servers")
    try:
        check_package(servers_dir)
    except GatewayError as exc:
        raise ServeError(str(exc)) from None
    ids = _package_ids(servers_dir)
    inventory = discover(root, include=settings.include, exclude=settings.exclude)
    specs = [s for s in inventory.servers if not is_gateway_entry(s)]
    manifests = {
        m.server: m
        for m in inventory.manifests
        if m.origin in _USABLE and any(s.name == m.server for s in specs)
    }
    notes: list[str] = []
    validation = sorted({s.name for s in specs if s.package and s.package.startswith(VALIDATION_PACKAGES)})
    kept_tools = _kept_tools([*settings.keep_direct, *validation], manifests, ids, notes)
    kept_servers = {k.server for k in kept_tools}
    # configs: the ones given first, then the repository's, most servers first (as `migrate` picks one)
    counts: dict[str, int] = {}
    for s in specs:
        if not s.origin.startswith("code") and not s.disabled:
            counts[s.source.path] = counts.get(s.source.path, 0) + 1
    found = [root / p for p, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    ordered = [*(Path(c).resolve() for c in configs), *found]
    config_paths = tuple(dict.fromkeys(ordered))
    served: list[ServedServer] = []
    unserved: list[UnservedServer] = []
    seen: set[str] = set()
    for s in sorted(specs, key=lambda s: (s.name, s.source.path)):
        config = None if s.origin.startswith("code") else s.source.path
        if s.name in seen:
            continue
        seen.add(s.name)
        sid = _server_id(s.name, ids)
        if s.disabled:
            unserved.append(UnservedServer(s.name, config, "disabled in its config"))
        elif sid is not None:
            served.append(ServedServer(s.name, sid, config, kept_direct=sid in kept_servers))
        elif to_identifier(s.name) in kept_servers:
            served.append(ServedServer(s.name, to_identifier(s.name), config, kept_direct=True))
        elif s.name in manifests:
            unserved.append(
                UnservedServer(
                    s.name, config, f"not in {servers_dir.name}/: run `cfmigrate generate` to add it"
                )
            )
        else:
            unserved.append(
                UnservedServer(
                    s.name,
                    config,
                    "its tools are unknown, so no wrapper exists: run `cfmigrate generate --refresh` "
                    "(it lists them live)",
                )
            )
    return GatewayEstate(
        root=root,
        servers_dir=servers_dir,
        configs=config_paths,
        served=tuple(served),
        unserved=tuple(unserved),
        kept=tuple(f"{k.server}/{k.name}" for k in kept_tools),
        kept_tools=tuple(kept_tools),
        notes=tuple(notes),
    )


def gateway_tools(repo: Path, *, configs: Sequence[Path] = ()) -> list[Any]:
    """The gateway's tools/list for `repo` (mcp `Tool` objects, byte for byte what it serves), nothing started."""
    return gateway_tool_list(gateway_estate(repo, configs=configs).spec())
