"""The host's MCP sessions: launch specs from the generated package, values from the host environment."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from cfmigrate.runtime._naming import to_identifier
from cfmigrate.runtime._refs import UnresolvedReference, expand_refs

ErrorKind = Literal["mcp", "transport", "invalid", "denied"]
log = logging.getLogger("cfmigrate.runtime")


class SessionError(Exception):
    """A host-side MCP call failed; `kind` follows the bridge protocol."""

    def __init__(self, message: str, *, kind: ErrorKind = "transport", code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind: ErrorKind = kind
        self.code = code


@dataclass(frozen=True)
class LaunchSpec:
    """How the host starts or reaches one server. Values from a config file are held, never shown."""

    server_id: str
    name: str
    transport: Literal["stdio", "http", "sse"]
    command: str | None = None
    args: tuple[str, ...] = ()
    cwd: str | None = None
    url: str | None = None
    env_names: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)  # header name -> env var name
    config_env: Mapping[str, str] = field(default_factory=dict, repr=False)  # literal values from the config
    config_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    base_dir: str = "."  # relative commands and cwd resolve against this
    # Declared in the agent's code and handed to CodeMode(launches=...): started exactly as given (literal
    # env values and headers in config_env / config_headers, cwd as given or the process's own), never
    # resolved against base_dir (see cfmigrate.runtime.launches).
    exact: bool = False

    def __repr__(self) -> str:  # never print config values
        return f"LaunchSpec({self.server_id!r}, transport={self.transport!r})"


def _expand(text: str, where: str, base: Path) -> str:
    """Resolve a config value's references from the host's environment (the connector's rules)."""
    try:
        return expand_refs(text, os.environ, base)
    except UnresolvedReference as exc:
        if exc.kind == "input":
            raise SessionError(
                f"{where}: the config prompts for input:{exc.name}; use an ${{env:NAME}} reference",
                kind="transport",
            ) from None
        raise SessionError(
            f"{where}: environment variable {exc.name} is not set in the host", kind="transport"
        ) from None


def _config_servers(config: Path) -> dict[str, dict[str, Any]]:
    """Server entries of an MCP client config, in any format the audit reads (JSON, JSONC, TOML, YAML)."""
    from cfmigrate.runtime.config_files import ConfigFileError, config_servers, read_config

    try:
        return config_servers(read_config(config))
    except ConfigFileError as exc:
        raise SessionError(str(exc), kind="invalid") from None


def _transport_of(entry: Mapping[str, Any]) -> Literal["stdio", "http", "sse"]:
    kind = str(entry.get("transport") or entry.get("type") or "").lower()
    if kind == "sse":
        return "sse"
    if kind in ("http", "streamable-http", "streamable_http", "streamablehttp") or (
        entry.get("url") and not entry.get("command")
    ):
        return "http"
    return "stdio"


def load_launch_specs(
    servers_dir: Path | None, config: Path | Sequence[Path] | None
) -> dict[str, LaunchSpec]:
    """Specs from `servers/_servers.json`, completed with values from the MCP config(s) when given.

    With several configs, the first that declares a server gives its values (and, for a server the
    package does not know, its launch spec).
    """
    configs = [config] if isinstance(config, Path) else list(config or ())
    from_config: dict[str, tuple[str, dict[str, Any]]] = {}
    config_dirs: dict[str, Path] = {}
    for path in configs:
        if not path.is_file():
            continue
        for name, entry in _config_servers(path).items():
            key = to_identifier(name)
            if key not in from_config:
                from_config[key] = (name, entry)
                config_dirs[key] = path.parent.resolve()
    specs: dict[str, LaunchSpec] = {}
    generated: dict[str, Any] = {}
    if servers_dir is not None and (servers_dir / "_servers.json").is_file():
        path = servers_dir / "_servers.json"
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SessionError(
                f"{path}: cannot read the launch specs ({exc}); run `cfmigrate generate`", kind="invalid"
            ) from None
        generated = loaded.get("servers", {}) if isinstance(loaded, dict) else {}
    for server_id, entry in sorted(generated.items()):
        if not isinstance(entry, dict):
            continue
        if entry.get("transport") == "unknown" and server_id not in from_config:
            continue  # no launch known (a server defined in code that nothing starts): not reachable; a config or
            # `CodeMode(launches=...)` entry for it still adds it
        name = str(entry.get("name") or server_id)
        config_name, config_entry = from_config.get(
            server_id, from_config.get(to_identifier(name), (name, {}))
        )
        base = (
            (servers_dir / str(entry.get("base", entry.get("root", "..")))).resolve()
            if servers_dir
            else Path.cwd()
        )
        env_names = entry.get("env") or ()
        if isinstance(env_names, dict):
            env_names = tuple(env_names)
        headers = entry.get("headers") or {}
        if not isinstance(headers, dict):
            headers = {h: h for h in headers}
        specs[server_id] = LaunchSpec(
            server_id=server_id,
            name=config_name,
            transport=_transport_of(entry),
            command=entry.get("command"),
            args=tuple(str(a) for a in entry.get("args") or ()),
            cwd=entry.get("cwd"),
            url=entry.get("url"),
            env_names=tuple(str(n) for n in env_names),
            headers={str(k): str(v) for k, v in headers.items()},
            config_env={str(k): str(v) for k, v in (config_entry.get("env") or {}).items()},
            config_headers={str(k): str(v) for k, v in (config_entry.get("headers") or {}).items()},
            base_dir=str(base),
        )
    for server_id, (name, entry) in sorted(from_config.items()):
        if server_id in specs or entry.get("disabled"):
            continue
        env = {str(k): str(v) for k, v in (entry.get("env") or {}).items()}
        headers = {str(k): str(v) for k, v in (entry.get("headers") or {}).items()}
        specs[server_id] = LaunchSpec(
            server_id=server_id,
            name=name,
            transport=_transport_of(entry),
            command=entry.get("command"),
            args=tuple(str(a) for a in entry.get("args") or ()),
            cwd=entry.get("cwd"),
            url=entry.get("url") or entry.get("serverUrl"),
            env_names=tuple(env),
            headers={h: h for h in headers},
            config_env=env,
            config_headers=headers,
            base_dir=str(config_dirs[server_id]),
        )
    return specs


def _broken(exc: BaseException) -> bool:
    """Whether an exception from a call means the session's transport is gone (not a client-side error)."""
    import anyio

    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return isinstance(
        exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream | OSError | EOFError
    )


def _leaf(exc: BaseException) -> str:
    """The innermost real error of an exception group, as `Type: message`."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Held:
    """One MCP client kept open by its own task (anyio scopes must be entered and left in one task)."""

    def __init__(self, spec: LaunchSpec) -> None:
        self.spec = spec
        self.client: Any = None
        self.dead = False
        self.tools: dict[str, Any] | None = None
        self.secrets: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._errlog: IO[str] | None = None

    def _env(self) -> dict[str, str]:
        spec = self.spec
        if spec.exact:
            return dict(spec.config_env)
        env: dict[str, str] = {}
        for name in spec.env_names:
            if name in spec.config_env:
                with contextlib.suppress(SessionError):
                    env[name] = _expand(spec.config_env[name], f"server {spec.name}", Path(spec.base_dir))
            elif name in os.environ:
                env[name] = os.environ[name]
        return env

    def _headers(self) -> dict[str, str]:
        spec = self.spec
        if spec.exact:
            return dict(spec.config_headers)
        headers: dict[str, str] = {}
        for header, env_name in spec.headers.items():
            if header in spec.config_headers:
                with contextlib.suppress(SessionError):
                    headers[header] = _expand(
                        spec.config_headers[header], f"server {spec.name}", Path(spec.base_dir)
                    )
            elif header in os.environ:  # the header's own name first, as `cfmigrate audit --connect` does
                headers[header] = os.environ[header]
            elif env_name in os.environ:
                headers[header] = os.environ[env_name]
        return headers

    async def _client(self, stack: contextlib.AsyncExitStack) -> Any:
        from mcp import Client

        spec = self.spec
        where = f"server {spec.name}"
        if spec.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            if not spec.command:
                raise SessionError(f"{where}: no command in its launch spec", kind="invalid")
            env = self._env()
            self.secrets = [v for v in env.values() if len(v) >= 4]
            self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
            if spec.exact:  # as the agent's MCP library started it: nothing expanded or re-based
                exact = StdioServerParameters(
                    command=spec.command, args=list(spec.args), env=env or None, cwd=spec.cwd
                )
                return Client(stdio_client(exact, errlog=self._errlog))
            base = Path(spec.base_dir)
            cwd = base / Path(_expand(spec.cwd, where, base)).expanduser() if spec.cwd else base
            params = StdioServerParameters(
                command=_expand(spec.command, where, base),
                args=[_expand(a, where, base) for a in spec.args],
                env=env or None,
                cwd=str(cwd),
            )
            return Client(stdio_client(params, errlog=self._errlog))
        if not spec.url:
            raise SessionError(f"{where}: no url in its launch spec", kind="invalid")
        url = spec.url if spec.exact else _expand(spec.url, where, Path(spec.base_dir))
        headers = self._headers()
        self.secrets = [v for v in headers.values() if len(v) >= 4]
        if spec.transport == "sse":
            from mcp.client.sse import sse_client

            return Client(sse_client(url, headers=headers or None))
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        http = await stack.enter_async_context(
            httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
        )
        return Client(streamable_http_client(url, http_client=http))

    async def open(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._task = loop.create_task(self._own(ready), name=f"mcp-session-{self.spec.server_id}")
        try:
            await asyncio.wait_for(asyncio.shield(ready), timeout)
        except TimeoutError:
            self._log_stderr()
            await self.aclose()
            raise SessionError(f"server {self.spec.name} did not start within {timeout:g} s") from None
        except SessionError:
            await self.aclose()
            raise
        except Exception as exc:
            await asyncio.sleep(0.2)  # let the server's last stderr lines land
            logged = self._log_stderr()
            await self.aclose()
            note = " (its stderr is in the host's log)" if logged else ""
            raise SessionError(f"server {self.spec.name} could not be started: {_leaf(exc)}{note}") from None

    async def _own(self, ready: asyncio.Future[None]) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await self._client(stack)
                self.client = await stack.enter_async_context(client)
                if not ready.done():
                    ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(
                    exc if isinstance(exc, Exception) else ConnectionError("session task cancelled")
                )
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
        finally:
            self.dead = True

    def _log_stderr(self) -> bool:
        tail = self.stderr_tail()
        if tail:
            text = tail
            for value in self.secrets:
                text = text.replace(value, "***")
            log.warning("server %s%s", self.spec.name, text)
        return bool(tail)

    def stderr_tail(self) -> str:
        if self._errlog is None:
            return ""
        try:
            self._errlog.seek(0)
            tail = " ".join(self._errlog.read()[-300:].split())
        except (OSError, ValueError):
            return ""
        return f" (server stderr: {tail})" if tail else ""

    async def aclose(self) -> None:
        self.dead = True
        self._stop.set()
        if self._task is not None:
            if self.client is None and not self._task.done():
                self._task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            if not self._task.done():
                self._task.cancel()
        if self._errlog is not None:
            with contextlib.suppress(OSError):
                self._errlog.close()
            self._errlog = None


class HostSessions:
    """Opens each server's session on first use and keeps it for the session's lifetime."""

    def __init__(
        self, specs: Mapping[str, LaunchSpec], *, call_timeout: float = 120.0, connect_timeout: float = 30.0
    ) -> None:
        self.specs = dict(specs)
        self.call_timeout = call_timeout
        self.connect_timeout = connect_timeout
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def secrets(self) -> list[str]:
        """Values the host passed to servers (env, headers): never to be shown to a script or the model."""
        values = {v for held in self._held.values() for v in held.secrets}
        for spec in self.specs.values():
            if spec.exact:  # literal values from the agent's own launch object
                values.update(
                    v for v in (*spec.config_env.values(), *spec.config_headers.values()) if len(v) >= 4
                )
                continue
            for name in spec.env_names:
                if name in os.environ and len(os.environ[name]) >= 4:
                    values.add(os.environ[name])
            for header, env_name in spec.headers.items():
                for name in (header, env_name):
                    if name in os.environ and len(os.environ[name]) >= 4:
                        values.add(os.environ[name])
        return sorted(values, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Replace any secret value that slipped into a message with `***`."""
        for value in self.secrets():
            text = text.replace(value, "***")
        return text

    async def _session(self, server_id: str) -> _Held:
        spec = self.specs.get(server_id)
        if spec is None:
            known = ", ".join(sorted(self.specs)) or "none"
            raise SessionError(f"unknown server {server_id!r} (servers: {known})", kind="invalid")
        held = self._held.get(server_id)
        if held is not None and not held.dead:
            return held
        lock = self._locks.setdefault(server_id, asyncio.Lock())
        async with lock:
            held = self._held.get(server_id)
            if held is None or held.dead:
                held = _Held(spec)
                await held.open(self.connect_timeout)
                self._held[server_id] = held
        return held

    async def list_tools(self, server_id: str) -> dict[str, Any]:
        """The server's tools by wire name (mcp `Tool` objects), fetched once."""
        held = await self._session(server_id)
        if held.tools is None:
            tools: dict[str, Any] = {}
            cursor: str | None = None
            for _ in range(100):
                page = await asyncio.wait_for(held.client.list_tools(cursor=cursor), self.call_timeout)
                tools.update({t.name: t for t in page.tools})
                cursor = page.next_cursor
                if not cursor:
                    break
            held.tools = tools
        return held.tools

    async def annotations(self, server_id: str, tool: str) -> dict[str, Any]:
        """The tool's annotations in wire form (empty when the server gives none)."""
        tools = await self.list_tools(server_id)
        found = tools.get(tool)
        if found is None or found.annotations is None:
            return {}
        dumped: dict[str, Any] = found.annotations.model_dump(by_alias=True, exclude_none=True, mode="json")
        return dumped

    def _log_tail(self, server_id: str, held: _Held) -> None:
        """The server's stderr is for the host's operator (its log), never for the script or the model."""
        tail = held.stderr_tail()
        if tail:
            log.warning("server %s%s", server_id, self.redact(tail))

    async def call_tool(self, server_id: str, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Call one tool; the result in wire form (content, structuredContent, isError)."""
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED

        held = await self._session(server_id)
        try:
            raw = await asyncio.wait_for(held.client.call_tool(tool, dict(arguments)), self.call_timeout)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:  # the server went away: the next call starts a fresh one
                self._log_tail(server_id, held)
                await held.aclose()
                raise SessionError(
                    f"server {server_id} closed the connection; the next call restarts it", kind="transport"
                ) from None
            raise SessionError(self.redact(exc.message), kind="mcp", code=exc.code) from None
        except TimeoutError:
            raise SessionError(
                f"{server_id}.{tool}: no answer within {self.call_timeout:g} s", kind="transport"
            ) from None
        except Exception as exc:
            self._log_tail(server_id, held)
            if not _broken(exc) and not held.dead:  # failed on this side (e.g. serialising): keep the session
                raise SessionError(
                    self.redact(f"{server_id}.{tool}: the host could not send this call: {_leaf(exc)}"),
                    kind="invalid",
                ) from None
            await held.aclose()  # the session is broken: the next call starts a fresh one
            raise SessionError(self.redact(_leaf(exc)), kind="transport") from None
        dumped = raw.model_dump(by_alias=True, mode="json", exclude_none=True)
        return {
            "content": dumped.get("content", []),
            "structuredContent": dumped.get("structuredContent"),
            "isError": bool(dumped.get("isError", False)),
        }

    async def aclose(self) -> None:
        held = list(self._held.values())
        self._held.clear()
        await asyncio.gather(*(h.aclose() for h in held), return_exceptions=True)
