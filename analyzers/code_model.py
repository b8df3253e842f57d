"""The question every consumer of the code analysis asks of an expression: is this an MCP session or
client (or the tools, server parameters or agent built on one), and which server(s) does it reach?

    model = ProgramModel(module, "agents/chat.py")        # module: a parsed `libcst.Module`
    reach = model.mcp_reach(node)                          # node: any expression of that module
    if reach is not None and reach.kind == "session":
        reach.servers                                      # server names, as `cfmigrate audit` lists them

Answers come from the same evaluation `cfmigrate audit` uses (imports resolved, bindings followed,
`self.x` attributes, helper classes and constants of sibling modules when `external` is given), so a
consumer and the audit cannot disagree about an expression. Unknown stays unknown: `None` when the
expression is not an MCP object, `servers=()` with `known=False` when it is but its servers are not
statically knowable. Server names are the module's own; `discover` may merge them with config names
(`Inventory.aliases`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import libcst as cst

from cfmigrate.analyzers.code import server_names
from cfmigrate.analyzers.code_apis import Role, api_by_id
from cfmigrate.analyzers.code_eval import ModuleAnalysis
from cfmigrate.analyzers.code_repo import External
from cfmigrate.analyzers.code_values import Obj, SrvRef

__all__ = ["McpReach", "ProgramModel", "ReachKind"]

ReachKind = Literal["session", "client", "tools", "server_params", "server", "agent", "code_mode"]

_ROLE_KINDS: dict[Role, ReachKind] = {
    Role.SESSION: "session",
    Role.SESSION_FACTORY: "client",
    Role.TRANSPORT: "server_params",
    Role.SERVER_PARAMS: "server_params",
    Role.FRAMEWORK_SERVER: "server",
    Role.CODE_MODE: "code_mode",
}
_KINDS: dict[str, ReachKind] = {
    "server_params": "server_params",
    "agents.MCPServer": "server",
    "pydantic_ai.MCPServer": "server",
    "mcp.tools": "tools",
    "mcp.tools_result": "tools",
    "agent": "agent",
}
"""What the values the recognisers build are to MCP (a server's parameters, a framework's server, tool
lists, an agent); library classes are answered by their role in the shared API table (`_kind`)."""


def _kind(api_id: str) -> ReachKind | None:
    """What a value of the evaluation is to MCP, by the id of the API or value it stands for."""
    if api_id in _KINDS:
        return _KINDS[api_id]
    api = api_by_id(api_id)
    if api is None:
        return "client" if api_id.startswith("helper:") else None
    if api.role is Role.FRAMEWORK_TOOLS and api.tool_loaders:
        return "client"  # hands out the servers' tools (`MultiServerMCPClient`)
    return _ROLE_KINDS.get(api.role)


@dataclass(frozen=True)
class McpReach:
    """What an expression is to MCP, and where it leads."""

    kind: ReachKind
    api: str  # the library class behind it ("mcp.ClientSession", "mcp_use.MCPClient", "helper:pkg.mod.Box")
    servers: tuple[str, ...]  # sorted server names; empty when not statically knowable
    configs: tuple[str, ...] = ()  # config files it loads its servers from (repository-relative)
    code_mode: bool = False  # its runtime drives the tools in code mode (mcp-use `code_mode=True`)

    @property
    def known(self) -> bool:
        return bool(self.servers or self.configs)


class ProgramModel:
    """One module, evaluated once; ask `mcp_reach` of any of its expressions."""

    def __init__(self, module: cst.Module, rel: str, external: Mapping[str, External] | None = None) -> None:
        self._analysis = ModuleAnalysis(module, rel)
        self._analysis.external = external or {}
        self._analysis.run()
        self._names = server_names(self._analysis.decls)

    def mcp_reach(self, node: cst.BaseExpression) -> McpReach | None:
        """None unless `node` evaluates to an MCP session, client, tool list, server or agent."""
        value = self._analysis.eval(node)
        if not isinstance(value, Obj) or value.path:
            return None
        kind = _kind(value.api)
        if kind is None:
            return None
        return McpReach(
            kind=kind,
            api=value.api,
            servers=tuple(sorted({self._name(r) for r in value.servers})),
            configs=tuple(sorted(value.configs)),
            code_mode=value.code_mode,
        )

    def _name(self, ref: SrvRef) -> str:
        return self._names[ref] if isinstance(ref, int) else ref
