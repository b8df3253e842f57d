"""What the model reads on code mode, in tokens, next to what direct tool calling sends (the audit's projection input)."""

from __future__ import annotations

import ast
import sys
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cfmigrate.analyzers.model import Manifest
from cfmigrate.analyzers.tokens import Tokenizer, compact, render_tool, tool_cost


@dataclass(frozen=True)
class ToolReadCost:
    """One tool: its module (what the model opens to use it) against its direct definition."""

    server: str
    tool: str  # wire name
    function: str  # generated module/function name
    module: int  # tokens of servers/<server>/<tool>.py
    search_summary: int  # tokens of search_tools(<wire name>, limit=1): the tool's one line
    search_full: int  # tokens of search_tools(<wire name>, "full", limit=1)
    direct: int  # tokens of the tool's definition as the Anthropic API receives it: {name, description, input_schema}
    direct_with_output: int  # the same with the tool's outputSchema added (what the module also states)
    has_output: bool  # the tool declares an outputSchema

    @property
    def ratio(self) -> float:
        """Reading the module against the definition it replaces (Anthropic rendering)."""
        return self.module / self.direct if self.direct else 0.0

    @property
    def ratio_with_output(self) -> float:
        """Reading the module against the definition plus its outputSchema (both state the same facts)."""
        return self.module / self.direct_with_output if self.direct_with_output else 0.0


@dataclass(frozen=True)
class ServerReadCost:
    """One server: its index and search answers against its whole tool set sent directly."""

    server: str
    package: str  # generated package name
    index: int  # tokens of servers/<server>/__init__.py
    search_name: int  # search_tools(<package>, "name", no limit)
    search_summary: int  # search_tools(<package>, "summary", no limit): one line per tool
    search_full: int  # search_tools(<package>, "full", no limit)
    direct: int  # sum of the server's tool definitions (Anthropic rendering)
    tools: tuple[ToolReadCost, ...]


@dataclass(frozen=True)
class CodeModeCosts:
    """Token figures for reading the generated package, labelled with the tokenizer."""

    tokenizer: str  # e.g. "estimate, o200k_base"
    server_list: int  # the package docstring (servers and how to find tools)
    servers: tuple[ServerReadCost, ...]

    @property
    def direct(self) -> int:
        """Every tool definition of every server, as direct tool calling sends it on each request."""
        return sum(s.direct for s in self.servers)

    def typical(self, tools_used: int = 1) -> int:
        """A plausible code-mode read: server list, one index, `tools_used` average tool modules per server read."""
        if not self.servers:
            return self.server_list
        index = sum(s.index for s in self.servers) / len(self.servers)
        modules = [t.module for s in self.servers for t in s.tools]
        module = sum(modules) / len(modules) if modules else 0
        return round(self.server_list + index + tools_used * module)


def _search_function(package: str, files: dict[str, bytes]) -> Callable[..., str]:
    """The rendered package's own `search_tools`, loaded from memory (no files, nothing left in sys.modules)."""
    anchor = f"_cfmigrate_costs_{abs(hash(files['_index.py'])):x}"
    index = types.ModuleType(f"{anchor}._index")
    exec(compile(files["_index.py"].decode(), f"{package}/_index.py", "exec"), index.__dict__)
    namespace: dict[str, Any] = {"__name__": package, "__package__": anchor}
    exec(compile(files["__init__.py"].decode(), f"{package}/__init__.py", "exec"), namespace)
    search = namespace["search_tools"]

    def run(query: str, detail: str, limit: int) -> str:
        sys.modules[index.__name__] = index
        try:
            return str(search(query, detail, limit))
        finally:
            sys.modules.pop(index.__name__, None)

    return run


def code_mode_read_costs(
    manifests: Sequence[Manifest],
    tokenizer: Tokenizer,
    *,
    package: str = "servers",
    renames: Mapping[str, str] | None = None,
) -> CodeModeCosts:
    """Generate the package for `manifests` in memory and count what the model would read.

    Search answers come from the generated `search_tools` itself: per server the query is the server's
    package name (all levels, no limit), per tool its wire name at "full" detail, best match only.
    """
    from cfmigrate.generators.build import build_package
    from cfmigrate.generators.render import render_package

    ir = build_package([(None, m) for m in manifests], package=package, renames=renames)
    files = render_package(ir)
    search = _search_function(package, files)

    def count(rel: str) -> int:
        return tokenizer.count(files[rel].decode())

    by_name = {m.server: m for m in manifests}
    servers: list[ServerReadCost] = []
    for server in ir.servers:
        manifest = by_name[server.name]
        direct_by_tool = {t.name: tool_cost(t, "anthropic", tokenizer).total for t in manifest.tools}
        with_output = {
            t.name: tokenizer.count(
                compact({**render_tool(t, "anthropic"), "output_schema": t.output_schema})
            )
            if t.output_schema is not None
            else direct_by_tool[t.name]
            for t in manifest.tools
        }
        outputs = {t.name for t in manifest.tools if t.output_schema is not None}
        tools = tuple(
            ToolReadCost(
                server=server.name,
                tool=t.wire_name,
                function=t.id,
                module=count(f"{server.id}/{t.id}.py"),
                search_summary=tokenizer.count(search(t.wire_name, "summary", 1)),
                search_full=tokenizer.count(search(t.wire_name, "full", 1)),
                direct=direct_by_tool[t.wire_name],
                direct_with_output=with_output[t.wire_name],
                has_output=t.wire_name in outputs,
            )
            for t in server.tools
        )
        servers.append(
            ServerReadCost(
                server=server.name,
                package=server.id,
                index=count(f"{server.id}/__init__.py"),
                search_name=tokenizer.count(search(server.id, "name", 10_000)),
                search_summary=tokenizer.count(search(server.id, "summary", 10_000)),
                search_full=tokenizer.count(search(server.id, "full", 10_000)),
                direct=sum(direct_by_tool.values()),
                tools=tools,
            )
        )
    doc = ast.get_docstring(ast.parse(files["__init__.py"].decode())) or ""
    return CodeModeCosts(tokenizer=tokenizer.label, server_list=tokenizer.count(doc), servers=tuple(servers))


def module_read_costs(
    manifest: Manifest,
    tokenizer: Tokenizer,
    *,
    package: str = "servers",
    renames: Mapping[str, str] | None = None,
    tools: Collection[str] | None = None,
) -> tuple[int, dict[str, int]]:
    """One server's generated index and tool modules in tokens: (index, {wire name: module}).

    Only the modules of `tools` are counted when it is given (the audit asks for what it uses).
    """
    from cfmigrate.generators.build import build_package
    from cfmigrate.generators.render import render_package

    ir = build_package([(None, manifest)], package=package, renames=renames)
    files = render_package(ir)
    server = ir.servers[0]
    index = tokenizer.count(files[f"{server.id}/__init__.py"].decode())
    modules = {
        t.wire_name: tokenizer.count(files[f"{server.id}/{t.id}.py"].decode())
        for t in server.tools
        if tools is None or t.wire_name in tools
    }
    return index, modules


def search_tokens(
    files: Mapping[str, bytes], package: str, calls: Sequence[tuple[str, str, int]], tokenizer: Tokenizer
) -> int:
    """Tokens of what a script printing `search_tools(query, detail, limit)` for each call shows the model
    (the rendered package's own search, run in memory)."""
    search = _search_function(package, dict(files))
    return tokenizer.count("\n".join(search(q, d, n) for q, d, n in calls) + "\n")
