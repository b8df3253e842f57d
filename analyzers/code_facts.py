"""What the analysis of one module produces: server declarations, servers defined in code, and events
(call sites, model calls, framework agents, config reads) at a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cfmigrate.analyzers.code_schema import (
    Flavor,
)
from cfmigrate.analyzers.code_servers import derive_name, name_from_variable
from cfmigrate.analyzers.code_values import SrvRef
from cfmigrate.analyzers.manifests import package_of
from cfmigrate.analyzers.model import ToolDef

# --- what the analysis produces ------------------------------------------------------------------


@dataclass
class Decl:
    """A server declared in code (mutable while the module is analysed)."""

    kind: str  # "stdio" | "http" | "sse"
    origin: str  # "code:StdioServerParameters", ...
    line: int
    command: str | None = None
    args: tuple[str, ...] = ()
    cwd: str | None = None
    url: str | None = None
    env_names: tuple[str, ...] = ()
    header_names: tuple[str, ...] = ()
    env_refs: tuple[str, ...] = ()
    explicit_name: str | None = None  # a dict key or name= argument
    variable: str | None = None  # the variable it was assigned to
    tool_filter: tuple[str, ...] | None = None
    dynamic: tuple[str, ...] = ()  # source text of launch parts that are not literals
    rel: str | None = None  # the file that declares it, when another module's helper brought it here
    via: str | None = None  # the helper module (class or function) through which this module reaches it

    def launch(self) -> tuple[Any, ...]:
        return (self.kind, self.command, self.args, self.cwd, self.url)

    @property
    def package(self) -> str | None:
        return package_of(self.command, self.args)

    def name(self) -> str:
        if self.explicit_name:
            return self.explicit_name
        if self.variable:
            from_var = name_from_variable(self.variable)
            if from_var:
                return from_var
        return derive_name(self.command, self.args, self.url)


@dataclass
class DefinedServer:
    """An MCP server defined in this module (`MCPServer("x")`, `FastMCP("x")`, low-level `Server("x")`)."""

    name: str
    api: str
    flavor: Flavor
    line: int
    variable: str | None
    tools: list[ToolDef] = field(default_factory=list)
    unknown_types: list[tuple[str, str]] = field(default_factory=list)  # (tool, annotation)
    # where it answers when served over HTTP (`FastMCP(port=...)`, `run(transport="streamable-http")`)
    transport: str | None = None  # "http" | "sse" once a run(...) call names an HTTP transport
    port: int | None = None
    path: str | None = None

    def url(self) -> str | None:
        """The local URL it answers at when it is run over HTTP (the SDKs' defaults for what is not set)."""
        if self.transport is None:
            return None
        default = "/sse" if self.transport == "sse" else "/mcp"
        return f"http://localhost:{self.port or 8000}{self.path or default}"


@dataclass(frozen=True)
class Event:
    """One fact about agent code at a line: a call site, a model call, a framework agent, a config read."""

    kind: str  # a CallKind, or "model" / "anchor" / "config"
    api: str
    line: int
    tool: str | None = None
    servers: frozenset[SrvRef] = frozenset()
    configs: frozenset[str] = frozenset()
    framework: str | None = None
    provider: str | None = None
    model: str | None = None
    system_text: str = ""  # static text of the system prompt a model call or agent is given
    detail: str = ""
    code_mode: bool = False
    mcp: bool = False  # evidence on its own that the code uses MCP
    label: str | None = None  # an agent construction: the variable it is assigned to

    @property
    def system_chars(self) -> int:
        """Length of `system_text`."""
        return len(self.system_text)
