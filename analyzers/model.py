"""The inventory: plain frozen dataclasses every layer reads, and nothing else writes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Transport = Literal["stdio", "http", "sse", "unknown"]
Level = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class SourceRef:
    """A place in the scanned repository: a POSIX path relative to the root and a 1-based line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class ServerSpec:
    """One MCP server as a client would start or reach it, normalised from any config format.

    Secret values are never stored: `env_names` and `header_names` keep only the keys, and
    `env_refs` the `${VAR}` / `${env:VAR}` / `${input:id}` references found in values.
    """

    name: str
    transport: Transport
    source: SourceRef
    origin: (
        str  # which format or API declared it: "claude-desktop", "vscode", "code:StdioServerParameters", ...
    )
    command: str | None = None
    args: tuple[str, ...] = ()
    cwd: str | None = None
    url: str | None = None
    env_names: tuple[str, ...] = ()
    header_names: tuple[str, ...] = ()
    env_refs: tuple[str, ...] = ()
    package: str | None = (
        None  # registry package the command runs ("mcp-server-git", "@modelcontextprotocol/server-github")
    )
    tool_filter: tuple[str, ...] | None = None  # tools the client restricts itself to, when declared
    disabled: bool = False
    # NAME -> value template, kept only when the value is nothing but references (e.g.
    # GITHUB_PERSONAL_ACCESS_TOKEN -> "${GITHUB_TOKEN}", Authorization -> "Bearer ${API_TOKEN}"):
    # safe to store, and what a runtime expands from its environment. Literal values are never kept.
    env_templates: tuple[tuple[str, str], ...] = ()
    header_templates: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ToolDef:
    """One tool as `tools/list` returns it (wire names are kept; schemas are plain JSON)."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    output_schema: Mapping[str, Any] | None = None
    title: str | None = None
    annotations: Mapping[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        """The tool as a `tools/list` entry (camelCase, as servers send it)."""
        out: dict[str, Any] = {"name": self.name}
        if self.title:
            out["title"] = self.title
        if self.description:
            out["description"] = self.description
        out["inputSchema"] = dict(self.input_schema)
        if self.output_schema is not None:
            out["outputSchema"] = dict(self.output_schema)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


ManifestOrigin = Literal["snapshot", "manifest-file", "catalog", "code", "live"]


@dataclass(frozen=True)
class Manifest:
    """The tools of one server and where that list came from."""

    server: str
    tools: tuple[ToolDef, ...]
    origin: ManifestOrigin
    source: SourceRef | None = None
    server_name: str | None = None  # serverInfo.name when known
    server_version: str | None = None  # serverInfo.version when known
    package: str | None = None
    protocol_version: str | None = None

    @property
    def sha256(self) -> str:
        """A hash of the tool list alone (what `generate` stamps into every file it writes)."""
        return manifest_hash(self.tools)

    def label(self) -> str:
        """How a report names this list's provenance."""
        if self.origin == "catalog":
            return f"catalog, server version {self.server_version or 'unknown'}"
        if self.origin == "snapshot":
            return f"snapshot {self.source}" if self.source else "snapshot"
        if self.origin == "live":
            return "live tools/list"
        if self.origin == "code":
            return f"static analysis, {self.source}"
        return f"manifest {self.source}"


def manifest_hash(tools: tuple[ToolDef, ...] | list[ToolDef]) -> str:
    """A stable sha256 over the tools' wire JSON, sorted by name and key."""
    payload = json.dumps(
        sorted((t.to_wire() for t in tools), key=lambda t: t["name"]),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


CallKind = Literal[
    "call_tool",  # session.call_tool(...) and friends
    "list_tools",  # session.list_tools()
    "tools_param",  # tools=[...] passed to a model API
    "prompt_tools",  # a prompt that lists tools in text
    "framework",  # servers handed to a framework (mcp_servers=, toolsets=, get_tools() ...)
    "code_mode",  # an agent already on code mode (execute-code tool, servers/ package)
]


@dataclass(frozen=True)
class CallSite:
    """One place in agent code that touches MCP tools."""

    kind: CallKind
    source: SourceRef
    api: str  # the resolved API: "mcp.ClientSession.call_tool", "anthropic.messages.create", "agents.Agent", ...
    tool: str | None = None  # literal tool name when the call names one
    server: str | None = None  # server it reaches when statically knowable
    detail: str = ""


@dataclass(frozen=True)
class Agent:
    """A unit of agent code (a module, or a class/function within one) that uses MCP tools."""

    name: str
    source: SourceRef
    framework: str  # "anthropic", "openai", "openai-agents", "pydantic-ai", "langchain", "smolagents", "crewai", "adk", "mcp-use", "mcp"
    servers: tuple[str, ...] = ()  # names of ServerSpec it reaches; empty when not statically knowable
    all_servers: bool = False  # loads every server of a config it reads (e.g. a servers_config.json loop)
    call_sites: tuple[CallSite, ...] = ()
    code_mode: bool = False
    model: str | None = None
    # who answers the requests: "openai" covers OpenAI-compatible endpoints; "groq" and "ollama" take
    # OpenAI-format tool definitions too
    provider: Literal["anthropic", "openai", "groq", "ollama", "unknown"] = "unknown"
    system_prompt_chars: int = 0  # len(system_prompt)
    # the static text of the longest system prompt the agent sends (literal parts only; parts computed at
    # run time, such as a tool list, are left out)
    system_prompt: str = ""
    tool_sequence: tuple[str, ...] = ()  # literal tool calls in source order, when visible
    # repository files holding its code: the file of `source` first, then the helper modules (a class
    # wrapping the session, a function building the client) whose MCP code it runs; a rewrite takes them all
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Something the user should fix or know; never fatal to the scan."""

    level: Level
    message: str
    source: SourceRef | None = None
    hint: str = ""


@dataclass(frozen=True)
class Inventory:
    """Everything discovery found in one repository."""

    root: str
    servers: tuple[ServerSpec, ...] = ()
    manifests: tuple[Manifest, ...] = ()  # at most one per server name, the best source first
    agents: tuple[Agent, ...] = ()
    problems: tuple[Problem, ...] = ()
    files_scanned: int = 0
    bytes_scanned: int = 0
    # server name -> other names the repository gives the same launch (command + args + cwd, or URL)
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tool_scripts: tuple[Agent, ...] = ()  # code that calls MCP tools but sends no model request

    def server(self, name: str) -> ServerSpec | None:
        return next((s for s in self.servers if s.name == name), None)

    def manifest(self, server: str) -> Manifest | None:
        return next((m for m in self.manifests if m.server == server), None)


SNAPSHOT_DIR = ".cfmigrate/manifests"
SNAPSHOT_SCHEMA = "cfmigrate.snapshot/1"
"""A snapshot file `.cfmigrate/manifests/<server>.json` (written by `audit --connect`, read by `generate`):

{"schema": "cfmigrate.snapshot/1", "server": "<name>", "serverInfo": {"name": ..., "version": ...},
 "protocolVersion": "...", "sha256": "<manifest_hash>", "tools": [<wire tool>, ...]}

keys sorted, two-space indent, tools sorted by name, trailing newline, no timestamps.
"""
