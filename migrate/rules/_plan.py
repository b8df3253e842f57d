"""What the rules need to know about the repository: wrapper names, kept tools, where the runtime lives.

A `MigrationPlan` is built once per run by the runner (from the inventory and the generator's name
map) and handed to every rule; it is plain frozen data so it can be sent to worker processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from cfmigrate.analyzers.model import Manifest
from cfmigrate.analyzers.naming import assign, to_field_name

if TYPE_CHECKING:
    from cfmigrate.generators.ir import PackageIR

PLAN_KEY = "cfmigrate.plan"
SITES_KEY = "cfmigrate.sites"


@dataclass(frozen=True)
class ToolNames:
    """One tool's generated function and the keyword name of each input property."""

    server: str  # wire server name
    wire: str  # wire tool name
    function: str  # generated module and function name
    module: str  # import path of the server package, e.g. "servers.drive"
    params: Mapping[str, str] = field(default_factory=dict)  # wire property -> keyword argument
    required: frozenset[str] = frozenset()
    collision: str = ""  # why no wrapper exists for this tool (a naming collision), else ""


# frameworks whose agent constructions CFM005 converts one by one (a held one in the same module stays as it is)
SEPARABLE_FRAMEWORKS = frozenset({"openai-agents", "pydantic-ai"})


@dataclass(frozen=True)
class AgentUnit:
    """One agent as the audit's program model sees it, and what migrate does with it.

    The unit of a rewrite: all of `files` are rewritten together or none of them changes.
    """

    name: str
    path: str  # where the audit reports it (`source`)
    line: int
    files: tuple[str, ...]  # `path` first, then the helper modules whose MCP code it runs
    servers: tuple[str, ...]
    framework: str
    decision: str  # the audit's: "code-first", "hybrid", "keep-mcp", "unknown", "already-code-mode"
    action: Literal["migrate", "held", "code-mode"]
    reason: str = ""  # held: why it stays on direct MCP and the fix; code-mode: the note

    @property
    def separable(self) -> bool:
        """A framework agent built by one call in a single file: CFM005 can leave it alone beside others."""
        return self.framework in SEPARABLE_FRAMEWORKS and self.files == (self.path,)


@dataclass(frozen=True)
class MigrationPlan:
    """Everything the rules read: the wrapper name map, what stays on direct MCP, and the runtime's setup."""

    tools: Mapping[str, tuple[ToolNames, ...]] = field(default_factory=dict)  # wire tool name -> candidates
    keep_direct: frozenset[str] = frozenset()  # "server/tool" or "server" or "tool", kept on direct MCP
    package: str = "servers"  # import path of the generated package
    servers_dir: str = "servers"  # the generated package, relative to the root
    config: str | None = None  # the MCP client config the runtime reads, relative to the root
    root: str = "."
    file_servers: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # agent file -> servers it reaches
    site_servers: Mapping[str, str] = field(default_factory=dict)  # "path:line" -> server of that call site
    file_configs: Mapping[str, str] = field(
        default_factory=dict
    )  # agent file -> the config declaring its servers
    server_ids: Mapping[str, str] = field(default_factory=dict)  # wire server name -> generated package id
    code_servers: Mapping[str, str] = field(
        default_factory=dict
    )  # "path:line" of a server constructed in code -> its server name
    code_mode_var: str = "code_mode"
    # agent name -> (the audit's decision, what migrate does: "migrate", "held" or "code-mode")
    agents: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    units: tuple[AgentUnit, ...] = ()  # every agent of the audit, with its files and what migrate does

    def held_marks(self, path: str | None) -> frozenset[str]:
        """The framework agents of this file that stay on direct MCP while another agent of it moves: the
        variable or function each construction is named by in the audit (`module:label`), and `line<N>`."""
        marks: set[str] = set()
        for unit in self.units:
            if unit.action == "held" and unit.path == path and unit.separable:
                marks.add(f"line{unit.line}")
                if ":" in unit.name:
                    marks.add(unit.name.rsplit(":", 1)[1])
        return frozenset(marks)

    def kept(self, server: str, tool: str) -> bool:
        """Whether the audit's decision keeps this tool on direct MCP."""
        return bool({f"{server}/{tool}", server, tool} & self.keep_direct)

    def keeps_server(self, server: str) -> bool:
        """Whether the audit's decision keeps any tool of this server on direct MCP."""
        return any(entry == server or entry.startswith(f"{server}/") for entry in self.keep_direct)

    def kept_entries(self, path: str | None) -> tuple[str, ...]:
        """`keep_direct=` for the CodeMode of one agent file, for the servers it reaches.

        "<server id>/<tool>" per kept tool, or the bare "<server id>" when every known tool of the
        server is kept (the runtime then keeps the tools the server lists when it starts).
        """
        reach = set(self.file_servers.get(path or "", ()))
        kept: dict[str, set[str]] = {}
        for entry in self.keep_direct:
            server, _, tool = entry.partition("/")
            if tool and server in reach:
                kept.setdefault(server, set()).add(tool)
        known: dict[str, set[str]] = {}
        for entries in self.tools.values():
            for names in entries:
                known.setdefault(names.server, set()).add(names.wire)
        out = set()
        for server, tools in kept.items():
            sid = self.server_ids.get(server, server)
            if known.get(server) and known[server] <= tools:
                out.add(sid)
            else:
                out.update(f"{sid}/{tool}" for tool in tools)
        return tuple(sorted(out))

    def config_for(self, path: str | None) -> str | None:
        """The MCP config the CodeMode of one agent file reads (the one declaring its servers)."""
        return self.file_configs.get(path or "", self.config)

    def lookup(
        self, tool: str, path: str | None = None, line: int | None = None
    ) -> tuple[ToolNames | None, str]:
        """The wrapper for a literal tool name at a call site, or None and the reason there is none."""
        candidates = self.tools.get(tool, ())
        if not candidates:
            return (
                None,
                f"no known server offers a tool named {tool!r} (run `cfmigrate audit --connect` to snapshot it)",
            )
        if path is not None and line is not None and f"{path}:{line}" in self.site_servers:
            server = self.site_servers[f"{path}:{line}"]
            candidates = tuple(c for c in candidates if c.server == server) or candidates
        if len(candidates) > 1 and path is not None and path in self.file_servers:
            reach = set(self.file_servers[path])
            narrowed = tuple(c for c in candidates if c.server in reach)
            candidates = narrowed or candidates
        if len(candidates) > 1:
            servers = ", ".join(sorted(c.server for c in candidates))
            return (
                None,
                f"tool {tool!r} is offered by several servers ({servers}); cannot tell which this session reaches",
            )
        return candidates[0], ""


def tool_names_from_manifests(
    manifests: Iterable[Manifest], package: str = "servers", renames: Mapping[str, str] | None = None
) -> dict[str, tuple[ToolNames, ...]]:
    """The wrapper name map by the naming rule: package `<package>.<server id>`, function `<tool id>`."""
    manifests = sorted(manifests, key=lambda m: m.server)
    server_ids, server_collisions = assign((m.server for m in manifests), "server", renames)
    by_tool: dict[str, list[ToolNames]] = {}
    for manifest in manifests:
        sid = server_ids.get(manifest.server)
        tool_ids, tool_collisions = assign(
            (t.name for t in manifest.tools), f"tool in server {manifest.server}", renames
        )
        collided = {c.second: c.message() for c in tool_collisions}
        if sid is None:
            reason = next(c.message() for c in server_collisions if c.second == manifest.server)
            collided.update({t.name: reason for t in manifest.tools})
        for tool in manifest.tools:
            props = _properties(tool.input_schema)
            params, _ = assign(props, f"property of tool {tool.name}", renames, to_field_name)
            required = frozenset(str(r) for r in tool.input_schema.get("required", ()) or ())
            by_tool.setdefault(tool.name, []).append(
                ToolNames(
                    server=manifest.server,
                    wire=tool.name,
                    function=tool_ids.get(tool.name, ""),
                    module=f"{package}.{sid}" if sid else "",
                    params=params,
                    required=required,
                    collision=collided.get(tool.name, ""),
                )
            )
    return {name: tuple(entries) for name, entries in sorted(by_tool.items())}


def tool_names_from_package(package: PackageIR) -> dict[str, tuple[ToolNames, ...]]:
    """The wrapper name map read from the generator's IR (exactly what `cfmigrate generate` writes)."""
    by_tool: dict[str, list[ToolNames]] = {}
    for server in package.servers:
        module = f"{package.name}.{server.id}"
        for tool in server.tools:
            by_tool.setdefault(tool.wire_name, []).append(
                ToolNames(
                    server=server.name,
                    wire=tool.wire_name,
                    function=tool.id,
                    module=module,
                    params={a.wire: a.name for a in tool.args},
                    required=frozenset(a.wire for a in tool.args if a.required),
                )
            )
        for wire, reason in server.skipped:
            by_tool.setdefault(wire, []).append(
                ToolNames(
                    server.name,
                    wire,
                    "",
                    module,
                    collision=f"`cfmigrate generate` skips {server.name}/{wire}: {reason}",
                )
            )
    return {name: tuple(entries) for name, entries in sorted(by_tool.items())}


def _properties(schema: Mapping[str, Any]) -> list[str]:
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    return [str(k) for k in props] if isinstance(props, Mapping) else []
