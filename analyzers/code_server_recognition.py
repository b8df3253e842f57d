"""Recognising MCP servers in code: declarations (launch parameters, config dicts, URLs), servers
defined in the module and their tools, and config files read by a literal path.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

import libcst as cst

from cfmigrate.analyzers.code_apis import _CONFIG_PATH, LIBRARY_APIS, Role, api_by_id
from cfmigrate.analyzers.code_bindings import Bindings, _code, _unwrap_annotation, _Walk
from cfmigrate.analyzers.code_facts import Decl, Event
from cfmigrate.analyzers.code_schema import (
    SchemaBuilder,
    TypeTarget,
    function_docstring,
    is_literal,
    literal_value,
    template_value,
)
from cfmigrate.analyzers.code_servers import transport_of_url
from cfmigrate.analyzers.code_values import (
    UNKNOWN,
    DictV,
    FileRef,
    Lit,
    Obj,
    Seq,
    SrvRef,
    Val,
    _camel,
    _cleandoc,
    _refs_of,
    _servers_in,
)
from cfmigrate.analyzers.model import ToolDef

# FastMCP client transports that carry a server launch
FASTMCP_TRANSPORTS = tuple(
    sorted(api.id for api in LIBRARY_APIS if api.role is Role.SERVER_PARAMS and api.flavor == "fastmcp")
)
"""FastMCP client transports (stdio, Python script, streamable HTTP, SSE), from the shared API table."""


class ServerRecognition(Bindings):
    """Server declarations and definitions of one module."""

    def _declare(self, call: cst.CSTNode, decl: Decl) -> int | None:
        """Record a declaration; one whose launch depends on run-time values is noted, not recorded."""
        if decl.dynamic:
            self.incomplete.append((decl.line, decl.origin, decl.dynamic))
            return None
        if decl.variable is None:
            decl.variable = self._hints.get(call)
        self.decls.append(decl)
        return len(self.decls) - 1

    def _decl_from_transport(
        self, anchor: cst.CSTNode, transport: cst.Call, api: str | None, origin: str, name: str | None
    ) -> int | None:
        """A server declared by a FastMCP client transport (`StdioTransport(...)`, `PythonStdioTransport(...)`,
        `StreamableHttpTransport(...)`, `SSETransport(...)`)."""
        entry = api_by_id(api) if api else None
        if api == "fastmcp.PythonStdioTransport":
            return self._python_transport(anchor, transport, origin, name)
        if entry is not None and entry.transport == "stdio":
            return self._decl_from_kwargs(
                anchor,
                origin,
                kind="stdio",
                command=self._arg(transport, 0, "command"),
                args=self._arg(transport, 1, "args"),
                env=self._arg(transport, 2, "env"),
                cwd=self._arg(transport, 3, "cwd"),
                name=name,
            )
        return self._decl_from_kwargs(
            anchor,
            origin,
            kind="sse" if entry is not None and entry.transport == "sse" else "http",
            url=self._arg(transport, 0, "url"),
            headers=self._arg(transport, 1, "headers"),
            name=name,
        )

    def _python_transport(
        self, anchor: cst.CSTNode, transport: cst.Call, origin: str, name: str | None
    ) -> int | None:
        """`PythonStdioTransport(script_path, args=..., env=..., cwd=..., python_cmd=...)`: `python script args`."""
        dynamic: list[str] = []
        script = self._str_or_dynamic(self._arg(transport, 0, "script_path"), dynamic)
        python = self._arg(transport, 4, "python_cmd")
        command = self._str_or_dynamic(python, dynamic) if python is not None else "python"
        if script is None:
            return None
        decl = Decl(kind="stdio", origin=origin, line=self.line(anchor), explicit_name=name)
        decl.command = command
        decl.args = (script, *self._str_list(self._arg(transport, 1, "args"), dynamic))
        cwd = self._arg(transport, 3, "cwd")
        decl.cwd = self._str_or_dynamic(cwd, dynamic) if cwd is not None else None
        decl.env_names, decl.env_refs = self._names_of(self._arg(transport, 2, "env"))
        decl.dynamic = tuple(dynamic)
        return self._declare(anchor, decl)

    def _decl_from_kwargs(
        self,
        call: cst.CSTNode,  # the constructor call, or the URL a toolset is given directly
        origin: str,
        *,
        kind: str,
        command: cst.BaseExpression | None = None,
        args: cst.BaseExpression | None = None,
        env: cst.BaseExpression | None = None,
        cwd: cst.BaseExpression | None = None,
        url: cst.BaseExpression | None = None,
        headers: cst.BaseExpression | None = None,
        name: str | None = None,
    ) -> int | None:
        dynamic: list[str] = []
        decl = Decl(kind=kind, origin=origin, line=self.line(call), explicit_name=name)
        if kind == "stdio":
            if command is None:
                return None
            decl.command = self._str_or_dynamic(command, dynamic)
            decl.args = self._str_list(args, dynamic)
            decl.cwd = self._str_or_dynamic(cwd, dynamic) if cwd is not None else None
            decl.env_names, decl.env_refs = self._names_of(env)
        else:
            if url is None:
                return None
            decl.url = self._str_or_dynamic(url, dynamic)
            decl.kind = transport_of_url(decl.url or "", "sse" if kind == "sse" else None)
            decl.header_names, refs = self._names_of(headers)
            decl.env_refs = refs
        decl.dynamic = tuple(dynamic)
        return self._declare(call, decl)

    def _toolset_decl(self, call: cst.Call, name: str | None) -> frozenset[int]:
        """The server a pydantic-ai `MCPToolset(...)` connects to: a FastMCP stdio/HTTP transport or a URL.

        Anything else (a script path FastMCP picks a launcher for, a pre-built client) stays unknown.
        """
        origin = "code:pydantic_ai.MCPToolset"
        target = self._arg(call, 0, "client")
        index: int | None = None
        inner = self.api_of(target.func) if isinstance(target, cst.Call) else None
        if isinstance(target, cst.Call) and inner in FASTMCP_TRANSPORTS:
            index = self._decl_from_transport(call, target, inner, origin, name)
        elif target is not None and (self._str(target) or "").startswith(("http://", "https://")):
            index = self._decl_from_kwargs(call, origin, kind="http", url=target, name=name)
        return frozenset({index}) if index is not None else frozenset()

    def _decl_from_dict(self, call: cst.CSTNode, value: DictV, origin: str, name: str | None) -> int | None:
        """A server from a config-style dict: {"command", "args", "env", "cwd"} or {"url", "headers", "transport"}."""
        dynamic: list[str] = []

        def text(key: str) -> str | None:
            v = value.get(key)
            if v is None:
                return None
            if isinstance(v, Lit) and isinstance(v.value, str):
                return v.value
            if isinstance(v, FileRef):
                return v.rel
            dynamic.append(key)
            return "{" + key + "}"

        def names(key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
            v = value.get(key)
            if not isinstance(v, DictV):
                return (), ()
            keys = sorted({k.value for k, _ in v.items if isinstance(k, Lit) and isinstance(k.value, str)})
            refs = sorted({r for _, x in v.items for r in _refs_of(x)})
            return tuple(keys), tuple(refs)

        transport = text("transport") or text("type")
        url = text("url") or text("serverUrl")
        command = text("command")
        decl = Decl(kind="stdio", origin=origin, line=self.line(call), explicit_name=name)
        if value.origin is not None:  # a server table imported from another module: declared there
            decl.rel, decl.line = value.origin
        if command is not None and url is None:
            args = value.get("args")
            items: list[str] = []
            if isinstance(args, Seq):
                for i, item in enumerate(args.items):
                    if isinstance(item, Lit) and isinstance(item.value, str):
                        items.append(item.value)
                    elif isinstance(item, FileRef):
                        items.append(item.rel)
                    else:
                        dynamic.append(f"args[{i}]")
                        items.append("{args[" + str(i) + "]}")
            decl.command, decl.args, decl.cwd = command, tuple(items), text("cwd")
            decl.env_names, decl.env_refs = names("env")
        elif url is not None:
            decl.kind = transport_of_url(url, transport)
            decl.url = url
            decl.header_names, decl.env_refs = names("headers")
        else:
            return None
        decl.dynamic = tuple(dynamic)
        return self._declare(call, decl)

    def _servers_from_config_dict(self, call: cst.CSTNode, value: Val, origin: str) -> frozenset[SrvRef]:
        """Servers of a `{"mcpServers": {...}}` dict or a bare `{name: {...}}` mapping."""
        if not isinstance(value, DictV):
            return frozenset()
        inner = value.get("mcpServers") or value.get("servers")
        mapping = inner if isinstance(inner, DictV) else value
        out: set[SrvRef] = set()
        for key, spec in mapping.items:
            if isinstance(key, Lit) and isinstance(key.value, str) and isinstance(spec, DictV):
                index = self._decl_from_dict(call, spec, origin, key.value)
                if index is not None:
                    out.add(index)
        return frozenset(out)

    def _config_refs(self, node: cst.BaseExpression | None) -> frozenset[str]:
        """Candidate repository paths of a config file named by a literal path."""
        if node is None:
            return frozenset()
        value = self.eval(node)
        if isinstance(value, Obj):
            return value.configs
        if isinstance(value, FileRef):
            return frozenset({value.rel})
        if isinstance(value, Lit) and isinstance(value.value, str):
            return frozenset(self.config_candidates(value.value))
        return frozenset()

    def config_candidates(self, text: str) -> tuple[str, ...]:
        """Where a relative path in this file may point: beside the file, then from the repository root."""
        text = text.replace("\\", "/")
        if text.startswith("/"):
            return (text,)
        near = (
            posixpath.normpath(posixpath.join(self.folder, text)) if self.folder else posixpath.normpath(text)
        )
        top = posixpath.normpath(text)
        return (near,) if near == top else (near, top)

    def _params_servers(self, call: cst.Call, value: Val, origin: str) -> frozenset[SrvRef]:
        """Servers of a framework argument: server parameters, a `{"url": ...}` dict, or a list of either."""
        if isinstance(value, Seq):
            out: set[SrvRef] = set()
            for item in value.items:
                out |= self._params_servers(call, item, origin)
            return frozenset(out)
        if isinstance(value, DictV):
            if value.get("url") is not None or value.get("command") is not None:
                index = self._decl_from_dict(call, value, origin, None)
                return frozenset({index}) if index is not None else frozenset()
            return self._servers_from_config_dict(call, value, origin)
        return _servers_in(value)

    def _client_target(self, call: cst.Call, api: str) -> frozenset[SrvRef]:
        """What `mcp.Client(...)` / `fastmcp.Client(...)` connects to."""
        arg = self._arg(call, 0, "server" if api == "mcp.Client" else "transport")
        transport = self._transport_call(arg) if api == "fastmcp.Client" else None
        if transport is not None:  # `Client(StdioTransport(...))`, or the transport bound to a name first
            inner = self.api_of(transport.func)
            index = self._decl_from_transport(transport, transport, inner, f"code:{inner}", None)
            return frozenset({index}) if index is not None else frozenset()
        value = self.eval(arg)
        if (isinstance(value, Lit) and isinstance(value.value, str)) or isinstance(value, FileRef):
            text = value.rel if isinstance(value, FileRef) else str(value.value)
            if text.startswith(("http://", "https://")):
                index = self._decl_from_kwargs(call, f"code:{api}", kind="http", url=arg)
            elif text.endswith((".py", ".js")):
                path = text if isinstance(value, FileRef) else self.config_candidates(text)[-1]
                decl = Decl(
                    kind="stdio",
                    origin=f"code:{api}",
                    line=self.line(call),
                    command="python" if text.endswith(".py") else "node",
                    args=(path,),
                )
                index = self._declare(call, decl)
            else:
                return frozenset()
            return frozenset({index}) if index is not None else frozenset()
        if isinstance(value, DictV):
            return self._servers_from_config_dict(call, value, f"code:{api}")
        if isinstance(value, Obj) and value.defined is not None:
            return frozenset({self.defined[value.defined].name})
        return _servers_in(value)

    def _transport_call(self, node: cst.BaseExpression | None) -> cst.Call | None:
        """The FastMCP transport constructor `node` is, or the one a local name is bound to once."""
        if isinstance(node, cst.Name):
            bound = [self._bindings.get(target) for target in self._assignments(node)]
            values = [b.expr for b in bound if b is not None and b.kind == "value" and not b.unpack]
            node = values[0] if len(values) == 1 and len(bound) == 1 else None
        if isinstance(node, cst.Call) and self.api_of(node.func) in FASTMCP_TRANSPORTS:
            return node
        return None

    def _named(self, servers: frozenset[SrvRef], name: str | None) -> frozenset[SrvRef]:
        if name is None:
            return servers
        return frozenset(r for r in servers if (self.decls[r].name() if isinstance(r, int) else r) == name)

    def _hosted_mcp_tools(self, call: cst.Call, tools: Val, anthropic: bool = False) -> frozenset[SrvRef]:
        """Remote MCP servers handed to the model API: OpenAI `{"type": "mcp"}` tools, Anthropic's MCP connector."""
        if not isinstance(tools, Seq):
            return frozenset()
        out: set[SrvRef] = set()
        for item in tools.items:
            if not isinstance(item, DictV):
                continue
            kind = item.get("type")
            if anthropic and isinstance(kind, Lit) and kind.value == "url":
                name = item.get("name")
                index = self._decl_from_dict(
                    call,
                    DictV(
                        tuple((k, v) for k, v in item.items if not (isinstance(k, Lit) and k.value == "type"))
                    ),
                    "code:anthropic.mcp_servers",
                    name.value if isinstance(name, Lit) else None,
                )
                if index is not None:
                    out.add(index)
                    config = item.get("tool_configuration")
                    allowed = config.get("allowed_tools") if isinstance(config, DictV) else None
                    if isinstance(allowed, Seq):
                        self.decls[index].tool_filter = tuple(
                            i.value for i in allowed.items if isinstance(i, Lit)
                        )
            elif not anthropic and isinstance(kind, Lit) and kind.value == "mcp":
                label = item.get("server_label")
                url = item.get("server_url")
                if isinstance(url, Lit) and isinstance(url.value, str):
                    decl = Decl(
                        kind=transport_of_url(url.value),
                        origin="code:openai.responses.mcp",
                        line=self.line(call),
                        url=url.value,
                        explicit_name=label.value if isinstance(label, Lit) else None,
                    )
                    headers = item.get("headers")
                    if isinstance(headers, DictV):
                        decl.header_names = tuple(
                            sorted(k.value for k, _ in headers.items if isinstance(k, Lit))
                        )
                    allowed = item.get("allowed_tools")
                    if isinstance(allowed, Seq):
                        decl.tool_filter = tuple(i.value for i in allowed.items if isinstance(i, Lit))
                    index = self._declare(call, decl)
                    if index is not None:
                        out.add(index)
        return frozenset(out)

    def _add_tool(self, index: int, fn: cst.FunctionDef, kw: Mapping[str, cst.BaseExpression]) -> None:
        server = self.defined[index]
        builder = SchemaBuilder(self.resolve_type, server.flavor, self._module_value)
        name = self._str(kw.get("name")) or fn.name.value
        described = template_value(kw["description"], self._module_value) if "description" in kw else None
        description = described if isinstance(described, str) else function_docstring(fn) or ""
        titled = template_value(kw["title"], self._module_value) if "title" in kw else None
        title = titled if isinstance(titled, str) else None
        input_schema = builder.input_schema(fn, self._skip_param)
        structured = self.eval(kw.get("structured_output")) if "structured_output" in kw else UNKNOWN
        output_schema = None
        if not (isinstance(structured, Lit) and structured.value is False):
            output_schema = builder.output_schema(fn)
        annotations = self._annotations(kw.get("annotations"))
        for annotation in builder.unknown:
            server.unknown_types.append((name, annotation))
        server.tools.append(
            ToolDef(
                name=name,
                description=description if server.flavor != "fastmcp2" else _cleandoc(description),
                input_schema=input_schema,
                output_schema=output_schema,
                title=title,
                annotations=annotations,
            )
        )

    def _annotations(self, node: cst.BaseExpression | None, depth: int = 0) -> dict[str, Any] | None:
        """Tool annotations as sent on the wire (camelCase keys) from `ToolAnnotations(...)`, a dict, or a constant."""
        if node is None or depth > 4:
            return None
        if isinstance(node, cst.Name):
            for binding in self._assignments(node):
                found = self._bindings.get(binding)
                if found is not None and found.expr is not None and not found.unpack:
                    return self._annotations(found.expr, depth + 1)
            return None
        if isinstance(node, cst.Call) and self.api_of(node.func) == "mcp.ToolAnnotations":
            out: dict[str, Any] = {}
            for arg in node.args:
                if arg.keyword is not None:
                    value = literal_value(arg.value)
                    if is_literal(value):
                        out[_camel(arg.keyword.value)] = value
            return out or None
        value = literal_value(node)
        if is_literal(value) and isinstance(value, dict) and value:
            return {_camel(str(k)): v for k, v in value.items()}
        return None

    def _skip_param(self, param: cst.Param) -> bool:
        if param.annotation is None:
            return False
        for member in _unwrap_annotation(param.annotation.annotation):
            if self.api_of(member) == "mcp.Context":
                return True
        return False

    def resolve_type(self, node: cst.BaseExpression) -> TypeTarget:
        """What an annotation name denotes: a qualified name, a class in this file, or None."""
        if isinstance(node, cst.Name) and node.value == "None":
            return "builtins.None"
        qname = self.import_qname(node)
        if qname:
            return qname
        if isinstance(node, cst.Name):
            for binding in self._assignments(node):
                if isinstance(binding, cst.ClassDef):
                    return binding
            if node.value in self._module_classes:
                return self._module_classes[node.value]
            if node.value in (
                "str",
                "int",
                "float",
                "bool",
                "bytes",
                "list",
                "dict",
                "set",
                "tuple",
                "frozenset",
                "object",
            ):
                return f"builtins.{node.value}"
        return None

    def _module_value(self, name: cst.Name) -> cst.BaseExpression | None:
        """The expression a name was last assigned at module level (a type alias, a constant), if any."""
        if name not in self._name_scope:
            return self._module_consts.get(name.value)
        expr = None
        for binding in self._assignments(name):
            found = self._bindings.get(binding)
            if found is not None and found.kind == "value" and not found.unpack:
                expr = found.expr
        return expr

    def _visit_decorated(self, fn: cst.FunctionDef) -> None:
        for deco in fn.decorators:
            expr = deco.decorator
            call = expr if isinstance(expr, cst.Call) else None
            target = call.func if call is not None else expr
            if not isinstance(target, cst.Attribute):
                continue
            owner = self.eval(target.value)
            if not isinstance(owner, Obj) or owner.api != "server_def" or owner.defined is None:
                continue
            method = target.attr.value
            if method == "tool":
                kw = self._args(call)[1] if call is not None else {}
                self._add_tool(owner.defined, fn, kw)
            elif method == "list_tools":
                self._lowlevel_tools(owner.defined, fn)

    def _lowlevel_tools(self, index: int, fn: cst.FunctionDef) -> None:
        """Tools of a low-level `@server.list_tools()` handler built from literal `Tool(...)` calls."""
        analysis = self
        server = self.defined[index]

        class Finder(_Walk):
            def visit_Call(self, node: cst.Call) -> None:
                if analysis.api_of(node.func) != "mcp.Tool":
                    return
                _, kw = analysis._args(node)
                name = analysis._str(kw.get("name"))
                if not name:
                    return
                schema_node = kw.get("inputSchema") or kw.get("input_schema")
                schema = analysis._schema_value(schema_node) if schema_node is not None else {}
                out_node = kw.get("outputSchema") or kw.get("output_schema")
                server.tools.append(
                    ToolDef(
                        name=name,
                        description=analysis._str(kw.get("description")) or "",
                        input_schema=schema if isinstance(schema, dict) else {},
                        output_schema=analysis._schema_value(out_node) if out_node is not None else None,
                        title=analysis._str(kw.get("title")),
                        annotations=analysis._annotations(kw.get("annotations")),
                    )
                )

        Finder().walk(fn.body)

    def _schema_value(self, node: cst.BaseExpression) -> dict[str, Any] | None:
        value = literal_value(node)
        if is_literal(value) and isinstance(value, dict):
            return value
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "model_json_schema"
        ):
            target = self.resolve_type(node.func.value)
            if isinstance(target, cst.ClassDef):
                return SchemaBuilder(self.resolve_type).model_schema(target)
        if isinstance(node, cst.Name):
            const = self._module_consts.get(node.value)
            if const is not None and const is not node:
                return self._schema_value(const)
        return None

    def _servers_import(self, node: cst.Import | cst.ImportFrom, unit: str | None) -> None:
        modules: list[str] = []
        if isinstance(node, cst.ImportFrom):
            if node.relative or node.module is None:
                return
            module = _code(node.module)
            if module == "servers" and not isinstance(node.names, cst.ImportStar):
                modules.extend(f"servers.{_code(a.name)}" for a in node.names)
            elif module.startswith("servers."):
                modules.append(module)
        else:
            modules.extend(_code(a.name) for a in node.names if _code(a.name).split(".")[0] == "servers")
        for module in modules:
            parts = module.split(".")
            server_id = parts[1] if len(parts) > 1 else ""
            if server_id.startswith("_") and server_id != "_runtime":
                continue
            self.events.append(
                (
                    unit,
                    Event(
                        "code_mode",
                        module,
                        self.line(node),
                        code_mode=True,
                        mcp=True,
                        detail=f"imports the generated {module} module",
                    ),
                )
            )

    def _config_path(self, node: cst.Call | cst.BinaryOperation, value: Val, unit: str | None) -> None:
        """`Path(__file__).parent / "mcp.json"` and `os.path.join(...)`: a config path known exactly."""
        if not isinstance(value, FileRef) or not _CONFIG_PATH.match(value.rel):
            return
        parts = [node.right] if isinstance(node, cst.BinaryOperation) else [a.value for a in node.args]
        for part in parts:
            self._exact_strings.add(part)
        self.events.append((unit, Event("config", "path", self.line(node), configs=frozenset({value.rel}))))

    def _config_literal(self, node: cst.SimpleString, unit: str | None) -> None:
        if node in self._exact_strings:
            return
        value = node.evaluated_value
        if not isinstance(value, str) or len(value) > 200 or not _CONFIG_PATH.match(value):
            return
        self.events.append(
            (
                unit,
                Event("config", "literal", self.line(node), configs=frozenset(self.config_candidates(value))),
            )
        )
