"""The gateway behind `cfmigrate serve`: one MCP server with a small, constant tool set over a repository's servers.

Its tools: `execute_code` (a `CodeMode` script: the same sandbox, policy, audit log and limits), discovery over the
generated package's one-line signatures (`search_tools` runs the package's own `search_tools` in the sandbox,
`list_tools` returns a server's generated index), and the tools kept on direct MCP, passed through as themselves.
MCP sessions and credentials stay in this process; the servers start on first use. Plain data comes in (the
estate is discovered by the caller); this module imports nothing of the cfmigrate tool.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cfmigrate.runtime import prompts
from cfmigrate.runtime.codemode import CODE_TOOL, MAX_LISTED_SERVERS, CodeMode, CodeModeError, KeptTool
from cfmigrate.runtime.executor import Limits
from cfmigrate.runtime.policy import Approver, NoApprover, Policy, ToolCall

log = logging.getLogger("cfmigrate.runtime")

SEARCH_TOOL = "search_tools"
LIST_TOOL = "list_tools"
GATEWAY_TOOLS = (CODE_TOOL, SEARCH_TOOL, LIST_TOOL)
DETAILS = ("name", "summary", "full")
MAX_LIMIT = 200


class GatewayError(Exception):
    """The gateway cannot start; the message is one line naming the path and what to do."""


class ClientCannotConfirm(NoApprover):
    """The caller's client cannot ask its user (no elicitation support, or an MCP 2026-07-28 connection)."""


# the MCP request context of the tools/call being handled (for asking its client's user)
_CALLER: contextvars.ContextVar[Any] = contextvars.ContextVar("cfmigrate_gateway_caller", default=None)


@dataclass(frozen=True)
class GatewaySpec:
    """Everything the gateway serves, as plain data (the CLI discovers it from the repository)."""

    servers_dir: Path
    configs: tuple[Path, ...] = ()  # MCP configs holding env/header values, the first declaring a server wins
    kept: tuple[KeptTool, ...] = ()  # tools passed through as themselves, by their wire name
    policy: Policy = field(default_factory=Policy)
    limits: Limits = field(default_factory=Limits)
    audit_log: Path | bool = True
    allow_unconfined: bool | None = None
    connect_timeout_s: float = 30.0
    call_timeout_s: float = 120.0


# ------------------------------------------------------------------------------------------- the package on disk


def package_servers(servers_dir: Path) -> list[str]:
    """The generated package's servers (folders with an `__init__.py`), sorted."""
    if not servers_dir.is_dir():
        return []
    return sorted(
        p.name for p in servers_dir.iterdir() if (p / "__init__.py").is_file() and p.name.isidentifier()
    )


def package_docstring(path: Path) -> str:
    """The docstring of a generated module, read without running it ("" when there is none)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return ""
    return ast.get_docstring(tree, clean=True) or ""


def package_stamp(servers_dir: Path) -> str:
    """Changes whenever `cfmigrate generate` rewrites the package: size and mtime of its index files."""
    digest = hashlib.sha256()
    names = ["__init__.py", "_index.py", "_servers.json", "_runtime.py"]
    names += [f"{server}/__init__.py" for server in package_servers(servers_dir)]
    for name in names:
        try:
            st = (servers_dir / name).stat()
        except OSError:
            digest.update(f"{name}:-\n".encode())
            continue
        digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def check_package(servers_dir: Path) -> None:
    """Raise GatewayError unless `servers_dir` holds a generated package."""
    if not (servers_dir / "__init__.py").is_file() or not (servers_dir / "_index.py").is_file():
        raise GatewayError(
            f"{servers_dir}: no generated servers package here; run `cfmigrate generate` in the repository first"
        )


# ------------------------------------------------------------------------------------------------- the tool list


def _tool(
    name: str, description: str, schema: Mapping[str, Any], annotations: Mapping[str, Any] | None
) -> Any:
    from mcp.types import Tool, ToolAnnotations

    # One key order whatever the source (snapshot, catalog, cache): the order the 2026-07-28 wire model
    # writes (`$schema`, `type`, then the rest), so the text a client receives is the text computed here.
    root: dict[str, Any] = {"type": "object", **schema}
    ordered: dict[str, Any] = {
        key: root[key] for key in ("$schema", "type", "properties", "required") if key in root
    }
    ordered.update((key, value) for key, value in root.items() if key not in ordered)
    return Tool(
        name=name,
        description=description,
        input_schema=ordered,
        annotations=ToolAnnotations.model_validate(dict(annotations)) if annotations else None,
    )


def gateway_tool_list(spec: GatewaySpec) -> list[Any]:
    """The gateway's tools (mcp `Tool` objects): the same order and text for the same package on disk."""
    servers = package_servers(spec.servers_dir)
    listed = ", ".join(servers) if servers else "none"
    code = CodeMode(servers_dir=None, config=None, limits=spec.limits, audit_log=False).code_tool(
        "anthropic"
    )  # the code tool exactly as CodeMode gives it to a model
    code_description = (
        f"{code['description']} The script imports the repository's MCP servers as Python: "
        "`from servers.<server> import <tool>` then `await <tool>(arg=...)`; find tools with "
        f"{SEARCH_TOOL} / {LIST_TOOL} first. Only what it prints comes back; no network except the tools."
    )
    tools = [
        _tool(CODE_TOOL, code_description, code["input_schema"], None),
        _tool(
            SEARCH_TOOL,
            f"Find tools of this repository's MCP servers ({listed}) by words in their name or description. "
            "One line per tool: its import path, typed Python signature, return fields and summary. "
            'detail="name": import paths only; detail="full": the whole description and each argument. '
            f"Call the tools from {CODE_TOOL}.",
            {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": 'Words to look for; "" lists every tool.'},
                    "detail": {"type": "string", "enum": list(DETAILS), "default": "summary"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20},
                },
                "required": ["query"],
            },
            {"readOnlyHint": True, "openWorldHint": False},
        ),
        _tool(
            LIST_TOOL,
            "List every tool of one server as one-line typed signatures (the generated servers/<server> index); "
            "without a server, the servers and their tool counts.",
            {
                "type": "object",
                "properties": {
                    "server": {
                        "type": "string",
                        "enum": servers,
                        "description": "A server of this repository.",
                    }
                },
            },
            {"readOnlyHint": True, "openWorldHint": False},
        ),
    ]
    # kept tools by their exposed name (the wire name, unless a gateway tool has it)
    for kept in sorted(spec.kept, key=lambda k: k.definition.name):
        tools.append(
            _tool(
                kept.definition.name,
                kept.definition.description,
                kept.definition.input_schema,
                kept.definition.annotations,
            )
        )
    return tools


def tool_list_text(tools: Sequence[Any]) -> str:
    """The tools as the `tools/list` result carries them (compact JSON): what prompt caches see."""
    from mcp.types import ListToolsResult

    dumped = ListToolsResult(tools=list(tools)).model_dump(by_alias=True, mode="json", exclude_none=True)
    return json.dumps(dumped, separators=(",", ":"), ensure_ascii=False)


def gateway_instructions(spec: GatewaySpec) -> str:
    """The code-first prompt, sent as the server's `instructions` (clients put it in the model's context)."""
    servers = package_servers(spec.servers_dir)
    return prompts.system_prompt(
        tool_name=CODE_TOOL,
        servers=servers if len(servers) <= MAX_LISTED_SERVERS else [],
        server_count=len(servers),
        max_output=f"{spec.limits.max_output_bytes:,}",
        timeout=f"{spec.limits.timeout_s:g}",
        mask_pii=False,
        kept=sorted(k.definition.name for k in spec.kept),
    )


# ------------------------------------------------------------------------------------------------ the gateway


@dataclass
class _Served:
    """One generation of the package: its tools, its text and the CodeMode that runs against it."""

    spec: GatewaySpec
    stamp: str
    tools: list[Any]
    text: str
    code_mode: CodeMode
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)


Loader = Callable[[], GatewaySpec]


class Gateway:
    """The gateway's state: the current package generation, reloaded when `servers/` is regenerated."""

    def __init__(self, load: Loader, *, approve: Approver | None = None, poll_s: float = 1.0) -> None:
        self._load = load
        self.approve: Approver = approve or self.ask_user
        self.poll_s = poll_s
        self._script_caller: Any = None  # the request whose script is running (its calls ask that client)
        self._scripts = asyncio.Lock()
        self._retiring: dict[asyncio.Task[None], _Served] = {}  # replaced generations, closed when idle
        self._served: _Served | None = None
        self._listeners: list[Callable[[], Awaitable[None]]] = []
        self._swap = asyncio.Lock()

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Load the estate and open the sandbox (no MCP server starts before its first call)."""
        self._served = await self._open(await asyncio.to_thread(self._load))

    async def _open(self, spec: GatewaySpec) -> _Served:
        check_package(spec.servers_dir)
        stamp = package_stamp(spec.servers_dir)
        tools = gateway_tool_list(spec)
        code_mode = CodeMode(
            servers_dir=spec.servers_dir,
            config=spec.configs,
            policy=spec.policy,
            approve=self.approve,
            limits=spec.limits,
            audit_log=spec.audit_log,
            allow_unconfined=spec.allow_unconfined,
            connect_timeout_s=spec.connect_timeout_s,
            call_timeout_s=spec.call_timeout_s,
        )
        try:
            await code_mode.ensure_open()
        except CodeModeError as exc:
            raise GatewayError(str(exc)) from None
        served = _Served(spec=spec, stamp=stamp, tools=tools, text=tool_list_text(tools), code_mode=code_mode)
        served.idle.set()
        return served

    async def aclose(self) -> None:
        served, self._served = self._served, None
        retiring, self._retiring = self._retiring, {}
        for task in retiring:
            task.cancel()
        for generation in [*retiring.values(), *([served] if served is not None else [])]:
            await generation.code_mode.aclose()

    @property
    def spec(self) -> GatewaySpec:
        return self._current().spec

    def _current(self) -> _Served:
        if self._served is None:
            raise GatewayError("the gateway is not started")
        return self._served

    def on_tools_changed(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call `listener` after a reload changed the tool list's text."""
        self._listeners.append(listener)

    # -------------------------------------------------------------- reload

    async def watch(self) -> None:
        """Poll the package's stamp; reload when `cfmigrate generate` rewrote it (runs until cancelled)."""
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.reload_if_changed()
            except Exception as exc:  # the watch must outlive one bad reload
                log.warning("servers/ changed but the reload failed (%s: %s)", type(exc).__name__, exc)

    async def reload_if_changed(self) -> bool:
        """Reload when the package changed on disk and is complete again; True when the tool text changed."""
        current = self._current()
        stamp = package_stamp(current.spec.servers_dir)
        if stamp == current.stamp:
            return False
        await asyncio.sleep(min(self.poll_s, 0.5))  # let a generate run finish writing
        if package_stamp(current.spec.servers_dir) != stamp:
            return False  # still being written: next poll
        async with self._swap:
            try:
                fresh = await self._open(await asyncio.to_thread(self._load))
            except Exception as exc:
                log.warning("servers/ changed but cannot be served yet (%s); keeping the previous tools", exc)
                current.stamp = stamp  # do not retry until it changes again
                return False
            old, self._served = self._served, fresh
        changed = old is None or old.text != fresh.text
        if old is not None:
            task = asyncio.get_running_loop().create_task(self._retire(old), name="cfmigrate-gateway-retire")
            self._retiring[task] = old
            task.add_done_callback(lambda done: self._retiring.pop(done, None))
        log.info(
            "servers/ regenerated: reloaded (%s)", "tool list changed" if changed else "tool list unchanged"
        )
        if changed:
            for listener in self._listeners:
                with contextlib.suppress(Exception):
                    await listener()
        return changed

    async def _retire(self, served: _Served) -> None:
        await served.idle.wait()
        await served.code_mode.aclose()

    # -------------------------------------------------------------- what clients see

    def tools(self) -> list[Any]:
        """The current tool list (the same objects until the package is regenerated)."""
        return list(self._current().tools)

    def tools_text(self) -> str:
        return self._current().text

    def instructions(self) -> str:
        return gateway_instructions(self._current().spec)

    async def call(self, name: str, arguments: Mapping[str, Any] | None, context: Any = None) -> Any:
        """Handle one tools/call; always a `CallToolResult` (errors as `is_error` results).

        `context` is the MCP server's request context: a call the policy says to ask about is put to that
        client's user (elicitation), whether the model made it directly or a script made it.
        """
        served = self._current()
        served.in_flight += 1
        served.idle.clear()
        token = _CALLER.set(context)
        try:
            return await self._call(served, name, dict(arguments or {}))
        except CodeModeError as exc:
            return _error(str(exc))
        finally:
            _CALLER.reset(token)
            served.in_flight -= 1
            if served.in_flight == 0:
                served.idle.set()

    async def ask_user(self, call: ToolCall) -> bool:
        """The approver: ask the calling client's user to allow this one call (MCP elicitation).

        Raises ClientCannotConfirm when there is nobody to ask; the policy then refuses the call and tells
        the model so. Clients on MCP 2026-07-28 cannot be asked mid-call (the server may not send them
        requests), nor can clients that do not declare elicitation.
        """
        from mcp.types import ClientCapabilities, ElicitationCapability
        from pydantic import BaseModel, Field

        context = _CALLER.get() if call.via == "direct" else self._script_caller
        session = getattr(getattr(context, "request_context", None), "session", None)
        if session is None or not session.check_client_capability(
            ClientCapabilities(elicitation=ElicitationCapability())
        ):
            raise ClientCannotConfirm(f"the client cannot ask its user about {call.server}/{call.tool}")

        class Confirm(BaseModel):
            allow: bool = Field(description="Allow this one call")

        shown = json.dumps(dict(call.arguments), ensure_ascii=False, default=str)
        shown = shown if len(shown) <= 400 else shown[:400] + "…"
        who = "A script the model wrote" if call.via == "code" else "The model"
        try:
            answer = await context.elicit(
                f"{who} wants to call {call.server}/{call.tool} with {shown}. Allow this one call?", Confirm
            )
        except Exception as exc:
            raise ClientCannotConfirm(f"the client did not answer ({type(exc).__name__})") from None
        data = getattr(answer, "data", None)
        return answer.action == "accept" and bool(getattr(data, "allow", False))

    async def _call(self, served: _Served, name: str, arguments: dict[str, Any]) -> Any:
        code_mode = served.code_mode
        if name == CODE_TOOL:
            # one script at a time, as CodeMode runs them, so the calls it makes ask its own client
            async with self._scripts:
                self._script_caller = _CALLER.get()
                try:
                    return _plain(await code_mode.handle_tool_use(CODE_TOOL, arguments))
                finally:
                    self._script_caller = None
        if name == SEARCH_TOOL:
            return await self._search(served, arguments)
        if name == LIST_TOOL:
            return self._list(served, arguments)
        kept = next((k for k in served.spec.kept if k.definition.name == name), None)
        if kept is None:
            names = ", ".join(t.name for t in served.tools)
            return _error(f"unknown tool {name[:64]!r}; this gateway's tools: {names}")
        return _plain(await code_mode.call_direct(kept.server, kept.name, arguments))

    async def _search(self, served: _Served, arguments: Mapping[str, Any]) -> Any:
        query = arguments.get("query", "")
        detail = arguments.get("detail", "summary")
        limit = arguments.get("limit", 20)
        if (
            not isinstance(query, str)
            or detail not in DETAILS
            or not isinstance(limit, int)
            or isinstance(limit, bool)
        ):
            return _error(
                f'{SEARCH_TOOL} takes {{"query": "words", "detail": "name"|"summary"|"full", "limit": 1-{MAX_LIMIT}}}'
            )
        limit = max(1, min(limit, MAX_LIMIT))
        script = (
            "from servers import search_tools\n"
            f"print(search_tools({query[:500]!r}, detail={detail!r}, limit={limit}), end='')\n"
        )
        result = await served.code_mode.run_code(script)
        if not result.ok:
            return _error(f"{SEARCH_TOOL} failed in the sandbox:\n{result.text()}")
        return _text(result.stdout)

    def _list(self, served: _Served, arguments: Mapping[str, Any]) -> Any:
        server = arguments.get("server")
        servers_dir = served.spec.servers_dir
        known = package_servers(servers_dir)
        if server in (None, ""):
            return _text(package_docstring(servers_dir / "__init__.py"))
        if server not in known:
            return _error(f"unknown server {str(server)[:64]!r}; servers: {', '.join(known) or 'none'}")
        return _text(package_docstring(servers_dir / str(server) / "__init__.py"))


def _text(text: str, *, is_error: bool = False) -> Any:
    from mcp.types import CallToolResult, TextContent

    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=is_error)


def _error(text: str) -> Any:
    return _text(text, is_error=True)


def _plain(result: Any) -> Any:
    """A runtime `ToolUseResult` as a plain `CallToolResult` (what goes on the wire)."""
    from mcp.types import CallToolResult

    dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return CallToolResult.model_validate(
        {k: dumped[k] for k in ("content", "structuredContent", "isError") if k in dumped}
    )


# --------------------------------------------------------------------------------------------- the MCP server


def build_server(gateway: Gateway, *, name: str = "cfmigrate", version: str = "") -> Any:
    """An `MCPServer` whose tools/list and tools/call are the gateway's; list changes reach every client.

    Clients on MCP 2026-07-28 hear of a change on their `subscriptions/listen` stream; clients that
    connected with an earlier (handshake) version get `notifications/tools/list_changed` on their session,
    and the server's `tools.listChanged` capability says so.
    """
    from mcp.server import MCPServer
    from mcp.server.lowlevel.server import NotificationOptions
    from mcp.server.subscriptions import InMemorySubscriptionBus, ToolsListChanged
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    bus = InMemorySubscriptionBus()
    # handshake-era connection -> a session on it (a session's notifications go out on its connection)
    legacy: dict[int, Any] = {}

    async def track_sessions(ctx: Any, call_next: Any) -> Any:
        result = await call_next(ctx)
        connection = getattr(ctx.session, "_connection", None)  # mcp 2.3.0: the connection a session sends on
        if connection is not None and connection.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            key = id(connection)
            if key not in legacy:
                legacy[key] = ctx.session
                connection.exit_stack.callback(legacy.pop, key, None)
        return result

    class _GatewayServer(MCPServer[Any]):
        async def list_tools(self) -> list[Any]:
            return gateway.tools()

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            return await gateway.call(name, arguments, context)

    server = _GatewayServer(
        name=name,
        version=version,
        instructions=gateway.instructions(),
        log_level="WARNING",
        subscriptions=bus,
        middleware=[track_sessions],
    )
    lowlevel = server._lowlevel_server  # mcp 2.3.0: handshake-era capabilities come from its init options
    initialization_options = lowlevel.create_initialization_options

    def with_list_changed(notification_options: Any = None, *args: Any, **kwargs: Any) -> Any:
        options = notification_options or NotificationOptions(tools_changed=True)
        return initialization_options(options, *args, **kwargs)

    lowlevel.create_initialization_options = with_list_changed  # type: ignore[method-assign]

    async def changed() -> None:
        lowlevel.instructions = gateway.instructions()  # the server list in it, for clients that connect next
        await bus.publish(ToolsListChanged())
        for key, session in list(legacy.items()):
            try:
                await session.send_tool_list_changed()
            except Exception:  # a client that went away
                legacy.pop(key, None)

    gateway.on_tools_changed(changed)
    return server


Transport = Literal["stdio", "http"]


async def serve(
    load: Loader,
    *,
    transport: Transport = "stdio",
    port: int = 0,
    host: str = "127.0.0.1",
    poll_s: float = 1.0,
    version: str = "",
    ready: Callable[[Gateway], None] | None = None,
) -> None:
    """Run the gateway until the client hangs up (stdio) or the process is stopped (HTTP)."""
    if transport == "http":
        _check_port(host, port)
    gateway = Gateway(load, poll_s=poll_s)
    await gateway.start()
    try:
        server = build_server(gateway, version=version)
        if ready is not None:
            ready(gateway)
        watcher = asyncio.get_running_loop().create_task(gateway.watch(), name="cfmigrate-gateway-watch")
        try:
            if transport == "stdio":
                await server.run_stdio_async()
            else:
                await server.run_streamable_http_async(host=host, port=port)
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
    finally:
        await gateway.aclose()


def _check_port(host: str, port: int) -> None:
    """Fail with one line before anything starts when the HTTP port cannot be bound."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise GatewayError(
                f"--http {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); pick another port"
            ) from None
