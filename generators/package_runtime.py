"""Runtime of a generated `servers` package: MCP sessions, the host bridge and `ToolError` (needs only mcp and pydantic).

A call goes to the first of: a transport installed with `set_transport(fn)` (a host in the same process),
the bridge (sandboxed code: the pre-connected socket whose fd is in $CFMIGRATE_BRIDGE_FD, or a socket
path in $CFMIGRATE_BRIDGE; newline-delimited JSON, see below), or an
MCP session opened on first use from the launch spec in `_servers.json` and reused (stdio or streamable
HTTP). Environment and header values are read from `os.environ` by name when a session opens (a header's
value from the variable named like the header, else the upper-snake form: `X-Api-Key` -> X_API_KEY); the
package holds names only. Relative paths and `${workspaceFolder}` resolve against the folder of the MCP
config that declared the server (`base` in `_servers.json`, relative to this package). A tool function
calls `call(__name__, locals())`: its signature is validated as a pydantic model, and the wire names of the
tool and its arguments come from `_index.py`, so a tool module holds only what its reader needs. Timeouts:
$CFMIGRATE_TIMEOUT (seconds per call, default 120) and $CFMIGRATE_CONNECT_TIMEOUT (starting a server,
default 30), or `set_timeouts()`.

Bridge protocol, one JSON object per line each way, replies in request order:
request `{"id": 1, "server": "<server id>", "tool": "<wire name>", "arguments": {...}}`;
reply `{"id": 1, "ok": true, "result": {"content": [...], "structuredContent": ..., "isError": false}}`
or `{"id": 1, "ok": false, "error": {"message": "...", "code": null, "kind": "denied|mcp|transport|invalid"}}`.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import importlib
import inspect
import json
import os
import re
import socket
import sys
import tempfile
import threading
import typing
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Literal, ParamSpec, TextIO, TypeVar, cast, overload

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, create_model

__all__ = [
    "CallResult",
    "ContentBlock",
    "ToolError",
    "ToolOutput",
    "ToolResult",
    "aclose",
    "call_tool",
    "run_sync",
    "set_timeouts",
    "set_transport",
    "sync",
]

ErrorKind = Literal["tool", "mcp", "transport", "denied", "invalid", "timeout"]
_P = ParamSpec("_P")
_T = TypeVar("_T")
_REF = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ContentBlock(BaseModel):
    """One MCP content block (text, image, audio, resource link, embedded resource); unknown keys are kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = "text"
    text: str | None = None
    data: str | None = None
    mime_type: str | None = Field(default=None, alias="mimeType")
    uri: str | None = None
    name: str | None = None
    resource: dict[str, Any] | None = None


class ToolResult(BaseModel):
    """What a tool call returned: content blocks, structured content and the error flag."""

    content: list[ContentBlock] = Field(default_factory=list)
    structured_content: Any = None
    is_error: bool = False

    @property
    def text(self) -> str:
        """The text blocks joined by newlines (what `result.content[0].text` read, for every block)."""
        return "\n".join(block.text for block in self.content if block.text is not None)

    @property
    def isError(self) -> bool:  # the MCP 1.x spelling, kept for migrated code
        return self.is_error

    @property
    def structuredContent(self) -> Any:  # the MCP 1.x spelling, kept for migrated code
        return self.structured_content

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ToolResult:
        """Read a `tools/call` result in wire form (camelCase keys; snake_case accepted too)."""
        blocks = data.get("content") or []
        structured = data.get("structuredContent", data.get("structured_content"))
        return cls(
            content=[ContentBlock.model_validate(b) for b in blocks if isinstance(b, Mapping)],
            structured_content=structured,
            is_error=bool(data.get("isError", data.get("is_error", False))),
        )

    def to_wire(self) -> dict[str, Any]:
        """The result in wire form, as the bridge carries it."""
        return {
            "content": [b.model_dump(by_alias=True, exclude_none=True) for b in self.content],
            "structuredContent": self.structured_content,
            "isError": self.is_error,
        }


CallResult = ToolResult


class ToolOutput(BaseModel):
    """Base of every typed tool result: the declared output fields plus the raw result's accessors."""

    _result: ToolResult = PrivateAttr(default_factory=ToolResult)

    @property
    def content(self) -> list[ContentBlock]:
        return self._result.content

    @property
    def structured_content(self) -> Any:
        return self._result.structured_content

    @property
    def is_error(self) -> bool:
        return self._result.is_error

    @property
    def text(self) -> str:
        return self._result.text

    @property
    def isError(self) -> bool:  # the MCP 1.x spelling, kept for migrated code
        return self._result.is_error

    @property
    def structuredContent(self) -> Any:  # the MCP 1.x spelling, kept for migrated code
        return self._result.structured_content

    @property
    def result(self) -> ToolResult:
        """The whole raw result."""
        return self._result


class ToolError(Exception):
    """A tool call failed: the tool reported an error, the server answered a JSON-RPC error, or it was unreachable."""

    def __init__(
        self,
        server: str,
        tool: str,
        message: str,
        *,
        code: int | None = None,
        kind: ErrorKind = "mcp",
        result: ToolResult | None = None,
    ) -> None:
        super().__init__(server, tool, message, code)
        self.server = server
        self.tool = tool
        self.message = message
        self.code = code
        self.kind: ErrorKind = kind
        self.result = result

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        return f"{self.server}.{self.tool}: {self.message}{code}"


Transport = Callable[[str, str, dict[str, Any]], Awaitable[Any]]
_transport: Transport | None = None
_timeouts: dict[str, float] = {}


def set_transport(fn: Transport | None) -> None:
    """Route every call through `fn(server_id, tool_name, arguments)` (None restores the default).

    `fn` returns a `ToolResult`, a wire-form mapping, or an MCP `CallToolResult`; it may raise `ToolError`.
    """
    global _transport
    _transport = fn


def set_timeouts(call: float | None = None, connect: float | None = None) -> None:
    """Override the per-call and server-start timeouts (seconds) for this process."""
    if call is not None:
        _timeouts["call"] = float(call)
    if connect is not None:
        _timeouts["connect"] = float(connect)


def _timeout(kind: Literal["call", "connect"]) -> float:
    if kind in _timeouts:
        return _timeouts[kind]
    name, default = ("CFMIGRATE_TIMEOUT", 120.0) if kind == "call" else ("CFMIGRATE_CONNECT_TIMEOUT", 30.0)
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def _coerce(server: str, tool: str, raw: Any) -> ToolResult:
    if isinstance(raw, ToolResult):
        return raw
    if isinstance(raw, Mapping):
        return ToolResult.from_wire(raw)
    dump = getattr(raw, "model_dump", None)
    if callable(dump):
        return ToolResult.from_wire(dump(by_alias=True, mode="json", exclude_none=True))
    raise ToolError(
        server, tool, f"the transport returned {type(raw).__name__}, not a tool result", kind="transport"
    )


async def call_tool(server_id: str, tool_name: str, arguments: dict[str, Any]) -> ToolResult:
    """Call one tool with wire arguments; raises `ToolError` for every kind of failure, `is_error` included."""
    if _transport is not None:
        try:
            result = _coerce(server_id, tool_name, await _transport(server_id, tool_name, arguments))
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(server_id, tool_name, _describe(exc), kind="transport") from exc
    elif os.environ.get("CFMIGRATE_BRIDGE_FD") or os.environ.get("CFMIGRATE_BRIDGE"):
        result = await _bridge().call(server_id, tool_name, arguments)
    else:
        result = await _mcp_call(server_id, tool_name, arguments)
    if result.is_error:
        raise ToolError(
            server_id, tool_name, result.text or "the tool reported an error", kind="tool", result=result
        )
    return result


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_O = TypeVar("_O", bound=ToolOutput)
_SIGNATURES: dict[str, tuple[str, type[BaseModel]]] = {}


def _signature_model(module: str) -> tuple[str, type[BaseModel]]:
    """The wire name of the tool whose module is `module` (`<package>.<server>.<tool>`) and its function's
    keyword arguments as a model (wire names as aliases, from the package's `_index`); built once per tool."""
    known = _SIGNATURES.get(module)
    if known is not None:
        return known
    package, server, function = module.rsplit(".", 2)
    index = importlib.import_module(f"{package}._index")
    wire = next((entry[2] for entry in index.TOOLS if entry[0] == server and entry[1] == function), None)
    if wire is None:
        raise ToolError(
            server, function, "not in the package's _index.py; run `cfmigrate generate`", kind="invalid"
        )
    aliases: Mapping[str, str] = index.ALIASES.get(f"{server}.{function}", {})
    _SIGNATURES[module] = known = (wire, arguments_model(getattr(sys.modules[module], function), aliases))
    return known


def arguments_model(fn: Callable[..., Any], aliases: Mapping[str, str]) -> type[BaseModel]:
    """A model of `fn`'s keyword arguments: its annotations and defaults, wire names (`aliases`) as aliases."""
    hints = typing.get_type_hints(fn)
    fields: dict[str, Any] = {}
    for name, param in inspect.signature(fn).parameters.items():
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[name] = (hints.get(name, Any), Field(default, alias=aliases.get(name, name)))
    config = ConfigDict(extra="forbid", populate_by_name=False, protected_namespaces=())
    return create_model(f"{fn.__name__}_arguments", __config__=config, **fields)


def _arguments(server: str, tool: str, params: type[BaseModel], given: Mapping[str, Any]) -> dict[str, Any]:
    """Wire arguments from keyword arguments: Python names become wire names; None means "not sent"."""
    data: dict[str, Any] = {}
    for name, info in params.model_fields.items():
        value = given.get(name)
        if value is None and not info.is_required():
            continue
        data[info.alias or name] = value
    try:
        model = params.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ToolError(server, tool, f"invalid arguments: {problems}", kind="invalid") from None
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


@overload
async def call(module: str, given: Mapping[str, Any]) -> ToolResult: ...


@overload
async def call(module: str, given: Mapping[str, Any], output: type[_O]) -> _O: ...


async def call(module: str, given: Mapping[str, Any], output: type[_O] | None = None) -> ToolResult | _O:
    """Call the tool whose generated module is `module` (its `__name__`) with its function's keyword arguments
    (its `locals()`): validated against the signature, sent under their wire names, and the structured result
    read into `output` when the tool declares an outputSchema."""
    server = module.rsplit(".", 2)[-2]
    tool, params = _signature_model(module)
    result = await call_tool(server, tool, _arguments(server, tool, params, given))
    if output is None:
        return result
    data = result.structured_content
    if data is None:
        try:
            data = json.loads(result.text)
        except ValueError:
            data = None
    if not isinstance(data, Mapping):
        raise ToolError(
            server, tool, "the server sent no structured content for a tool with an outputSchema", kind="invalid",
            result=result,
        )  # fmt: skip
    try:
        out = output.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise ToolError(
            server, tool, f"the result does not match the tool's outputSchema: {problems}", kind="invalid",
            result=result,
        ) from None  # fmt: skip
    out._result = result
    return out


# ---------------------------------------------------------------------------------------------- launch specs

_specs: dict[str, dict[str, Any]] | None = None


def _spec(server: str, tool: str) -> dict[str, Any]:
    global _specs
    if _specs is None:
        path = Path(__file__).with_name("_servers.json")
        try:
            _specs = json.loads(path.read_text(encoding="utf-8")).get("servers", {})
        except (OSError, ValueError) as exc:
            raise ToolError(server, tool, f"cannot read {path}: {exc}", kind="transport") from None
    spec = (_specs or {}).get(server)
    if not spec or spec.get("transport") not in ("stdio", "http", "sse"):
        raise ToolError(
            server, tool,
            "no launch spec for this server in _servers.json: add it to your MCP config and run "
            "`cfmigrate generate`, or run under a host (CFMIGRATE_BRIDGE / set_transport)",
            kind="transport",
        )  # fmt: skip
    return spec


def _expand(server: str, tool: str, text: str, base: Path) -> str:
    """Replace `${VAR}`, `${env:VAR}`, `${VAR:-default}` and `${workspaceFolder}`-style references."""

    def value(match: re.Match[str]) -> str:
        body = match.group(1)
        builtins = {"workspaceFolder": str(base), "workspaceFolderBasename": base.name,
                    "userHome": str(Path.home()), "pathSeparator": os.sep}  # fmt: skip
        if body in builtins:
            return builtins[body]
        if body.startswith("input:"):
            raise ToolError(server, tool, f"the server's config prompts for {body}; use an ${{env:NAME}} reference",
                            kind="transport")  # fmt: skip
        name, sep, default = body.removeprefix("env:").partition(":-")
        if not _ENV_NAME.fullmatch(name):
            return match.group(0)
        if name in os.environ:
            return os.environ[name]
        if sep:
            return default
        raise ToolError(server, tool, f"environment variable {name} is not set (the server's config uses it)",
                        kind="transport")  # fmt: skip

    return _REF.sub(value, text)


def _scratch_file() -> TextIO:
    """A file for a stdio server's stderr (quoted when it fails to start), kept while its session lives."""
    return cast(TextIO, tempfile.TemporaryFile("w+", errors="replace"))


class _Session:
    """One open MCP client, owned by a task that keeps its transport's context managers entered."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.client: Any = None
        self.dead = False
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._errlog: TextIO | None = None
        self._secrets: list[str] = []  # env/header values to blank out of quoted stderr
        self._failure = ""  # stderr tail captured when the server failed to start

    async def open(self, spec: Mapping[str, Any], tool: str) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._task = loop.create_task(self._own(spec, tool, ready))
        try:
            await asyncio.wait_for(asyncio.shield(ready), _timeout("connect"))
        except TimeoutError:
            self.close()
            raise ToolError(self.server, tool, f"the server did not start within {_timeout('connect'):g} s{self._stderr()}",
                            kind="timeout") from None  # fmt: skip
        except ToolError:
            self.close()
            raise
        # any failure to start (spawn, handshake, transport) becomes one ToolError naming the server
        except Exception as exc:  # noqa: BLE001
            self.close()
            raise ToolError(self.server, tool, f"cannot start the server: {self._scrub(_describe(exc))}"
                            f"{self._failure or self._stderr()}", kind="transport") from None  # fmt: skip

    def _stderr(self) -> str:
        if self._errlog is None:
            return ""
        try:
            self._errlog.seek(0)
            tail = " ".join(self._scrub(self._errlog.read())[-400:].split())
        except (OSError, ValueError):
            return ""
        return f"; server stderr: {tail}" if tail else ""

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    async def _own(self, spec: Mapping[str, Any], tool: str, ready: asyncio.Future[None]) -> None:
        try:
            async with AsyncExitStack() as stack:
                self.client = await stack.enter_async_context(await self._client(spec, tool, stack))
                if not ready.done():
                    ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                self._failure = self._stderr()
                ready.set_exception(exc if isinstance(exc, Exception) else ConnectionError("cancelled"))
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
        finally:
            self.dead = True
            if self._errlog is not None:
                self._errlog.close()

    async def _client(self, spec: Mapping[str, Any], tool: str, stack: AsyncExitStack) -> Any:
        from mcp import Client  # imported on first direct call only: sandboxed code goes through the bridge

        transport = spec["transport"]
        base = (Path(__file__).parent / spec.get("base", "..")).resolve()
        named = {*spec.get("env", ()), *(spec.get("headers") or {}).values(), *(spec.get("headers") or {})}
        for text in (spec.get("command"), spec.get("url"), spec.get("cwd"), *spec.get("args", ())):
            named.update(
                m.group(1).removeprefix("env:").partition(":-")[0] for m in _REF.finditer(text or "")
            )
        values = {os.environ[n] for n in named if len(os.environ.get(n, "")) >= 4}
        self._secrets = sorted(values, key=len, reverse=True)
        if transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            missing = [name for name in spec.get("env", ()) if name not in os.environ]
            if missing:
                raise ToolError(self.server, tool, f"the server needs environment variable(s) {', '.join(missing)} "
                                "(names from its MCP config); set them and retry", kind="transport")  # fmt: skip
            cwd = (
                base / Path(_expand(self.server, tool, spec["cwd"], base)).expanduser()
                if spec.get("cwd")
                else base
            )
            params = StdioServerParameters(
                command=_expand(self.server, tool, spec["command"], base),
                args=[_expand(self.server, tool, a, base) for a in spec.get("args", ())],
                # the variables the config names, by name; the SDK adds its safe base (PATH, HOME, USER, ...)
                env={name: os.environ[name] for name in spec.get("env", ())},
                cwd=str(cwd),
            )
            self._errlog = _scratch_file()
            return Client(stdio_client(params, errlog=self._errlog))
        url = _expand(self.server, tool, spec["url"], base)
        headers: dict[str, str] = {}
        for header, env_name in (spec.get("headers") or {}).items():
            value = os.environ.get(
                header, os.environ.get(env_name)
            )  # the header's own name first, as audit does
            if value is not None:
                headers[header] = value
        if transport == "sse":
            from mcp.client.sse import sse_client

            return Client(sse_client(url, headers=headers or None))
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
        )
        return Client(streamable_http_client(url, http_client=http))

    def close(self) -> None:
        self.dead = True
        self._stop.set()
        if self._task is not None and not self._task.done() and self.client is None:
            self._task.cancel()

    async def aclose(self) -> None:
        self.close()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            # closing must not raise; the process is going away anyway
            except BaseException:  # noqa: BLE001
                self._task.cancel()


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Session]] = (
    weakref.WeakKeyDictionary()
)
_opening: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def _session(server: str, tool: str) -> _Session:
    loop = asyncio.get_running_loop()
    sessions = _sessions.setdefault(loop, {})
    session = sessions.get(server)
    if session is not None and not session.dead:
        return session
    lock = _opening.setdefault(loop, {}).setdefault(server, asyncio.Lock())
    async with lock:
        session = sessions.get(server)
        if session is None or session.dead:
            spec = _spec(server, tool)
            session = _Session(server)
            await session.open(spec, tool)
            sessions[server] = session
    return session


async def _mcp_call(server: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
    from mcp import MCPError

    session = await _session(server, tool)
    try:
        raw = await asyncio.wait_for(session.client.call_tool(tool, arguments), _timeout("call"))
    except MCPError as exc:
        raise ToolError(server, tool, exc.message, code=exc.code, kind="mcp") from None
    except TimeoutError:
        raise ToolError(server, tool, f"no answer within {_timeout('call'):g} s", kind="timeout") from None
    # anything else is a broken transport: report it as a ToolError; the next call starts a fresh session
    except Exception as exc:  # noqa: BLE001
        session.close()
        raise ToolError(server, tool, _describe(exc), kind="transport") from None
    return _coerce(server, tool, raw)


async def aclose() -> None:
    """Close the MCP sessions this event loop opened (they also close when the loop ends)."""
    sessions = _sessions.pop(asyncio.get_running_loop(), {})
    for session in sessions.values():
        await session.aclose()
    bridge = _bridges.pop(asyncio.get_running_loop(), None)
    if bridge is not None:
        bridge.close()


# ---------------------------------------------------------------------------------------------- bridge client


class _Bridge:
    """A client for the host's bridge socket: one connection, one request at a time, replies in order."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._next = 0

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        via_fd = bool(os.environ.get("CFMIGRATE_BRIDGE_FD"))
        where = "bridge" if via_fd else f"bridge {os.environ.get('CFMIGRATE_BRIDGE', '')}"
        async with self._lock:
            try:
                if self._writer is None or self._reader is None:
                    if via_fd:
                        conn = _fd_connect()
                        self._reader, self._writer = await asyncio.open_unix_connection(
                            sock=conn, limit=1 << 26
                        )
                    else:
                        path = os.environ.get("CFMIGRATE_BRIDGE", "")
                        self._reader, self._writer = await asyncio.open_unix_connection(path, limit=1 << 26)
                self._next += 1
                request = {"id": self._next, "server": server, "tool": tool, "arguments": arguments}
                self._writer.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")
                await self._writer.drain()
                line = await asyncio.wait_for(self._reader.readline(), _timeout("call"))
            except TimeoutError:
                self.close()
                raise ToolError(server, tool, f"no answer from the host within {_timeout('call'):g} s",
                                kind="timeout") from None  # fmt: skip
            except (OSError, ValueError, TypeError, RecursionError) as exc:
                self.close()
                raise ToolError(server, tool, f"{where}: {_describe(exc)}", kind="transport") from None
            try:
                reply = _parse_reply(server, tool, where, line, self._next)
            except ToolError:
                self.close()
                raise
        return _reply_result(server, tool, reply)


_fd_lock = threading.Lock()
_connector: list[socket.socket] = []


def _fd_connect() -> socket.socket:
    """A new connection from the host, asked for on the connector the host gave this process (fd)."""
    with _fd_lock:
        if not _connector:
            _connector.append(socket.socket(fileno=int(os.environ["CFMIGRATE_BRIDGE_FD"])))
        connector = _connector[0]
        connector.settimeout(_timeout("connect"))
        connector.send(b"connect")
        message, fds, _flags, _addr = socket.recv_fds(connector, 64, 1)
    if message != b"ok" or len(fds) != 1:
        for fd in fds:
            os.close(fd)
        raise OSError("the host refused another bridge connection")
    return socket.socket(fileno=fds[0])


def _parse_reply(server: str, tool: str, where: str, line: bytes, expected: int) -> dict[str, Any]:
    if not line:
        raise ToolError(server, tool, f"{where}: the host closed the connection", kind="transport")
    try:
        reply = json.loads(line)
        if not isinstance(reply, dict) or reply.get("id") != expected:
            raise ValueError(f"reply id {reply.get('id') if isinstance(reply, dict) else None!r}")
    except ValueError as exc:
        raise ToolError(server, tool, f"{where}: bad reply ({exc})", kind="transport") from None
    return reply


def _reply_result(server: str, tool: str, reply: dict[str, Any]) -> ToolResult:
    if reply.get("ok"):
        return ToolResult.from_wire(reply.get("result") or {})
    error = reply.get("error") or {}
    kind = _BRIDGE_KINDS.get(str(error.get("kind")), "mcp")
    code = error.get("code") if isinstance(error.get("code"), int) else None
    raise ToolError(
        server, tool, str(error.get("message") or "the host refused the call"), code=code, kind=kind
    )


_BRIDGE_KINDS: dict[str, ErrorKind] = {
    "denied": "denied",
    "mcp": "mcp",
    "transport": "transport",
    "invalid": "invalid",
}
_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Bridge] = weakref.WeakKeyDictionary()


def _bridge() -> _Bridge:
    return _bridges.setdefault(asyncio.get_running_loop(), _Bridge())


# ---------------------------------------------------------------------------------------------- sync calls

_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            _thread = threading.Thread(target=_loop.run_forever, name="servers-runtime", daemon=True)
            _thread.start()
            atexit.register(_shutdown)
        return _loop


def _shutdown() -> None:
    loop = _loop
    if loop is None or not loop.is_running():
        return
    with contextlib.suppress(BaseException):  # at exit nothing is left to report to
        asyncio.run_coroutine_threadsafe(aclose(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


def run_sync(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from synchronous code; sessions are kept open between calls."""
    loop = _background_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError(
            "a *_sync function was called from async code in the runtime's own loop; await the async one"
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def sync(fn: Callable[_P, Coroutine[Any, Any, _T]]) -> Callable[_P, _T]:
    """The blocking form of an async tool function (same arguments, result and errors)."""

    @functools.wraps(fn)
    def blocking(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        return run_sync(fn(*args, **kwargs))

    return blocking
