"""List the tools of discovered MCP servers live: start (stdio) or reach (HTTP, SSE) each, page through
`tools/list`, and turn every failure into a Problem instead of an exception.

This is the only module of `analyzers/` that runs anything. Values of environment variables and
headers are read from the process environment when a server starts and never stored, logged or put
into a message: every text that leaves this module is scrubbed of them first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import anyio
import anyio.abc
import httpx2
import mcp_types
from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from cfmigrate.analyzers.configs import REDACTED, parse_env_ref
from cfmigrate.analyzers.model import Level, Manifest, Problem, ServerSpec, ToolDef
from cfmigrate.analyzers.snapshots import snapshot_path, write_snapshot

__all__ = [
    "ConnectResult",
    "config_base",
    "connect_all",
    "header_env_name",
    "list_tools_live",
    "missing_env",
]

# The SDK logs transport noise (and tracebacks) through "mcp.*"; without a handler of its own Python's
# last-resort handler would print them on stderr. A NullHandler stops that and keeps app logging intact.
_mcp_logger = logging.getLogger("mcp")
if not any(isinstance(h, logging.NullHandler) for h in _mcp_logger.handlers):
    _mcp_logger.addHandler(logging.NullHandler())

_MAX_PAGES = 1000  # a server whose cursors never end is reported, not followed forever
_MAX_LINE_BYTES = 64 * 1024 * 1024  # one stdout line longer than this is not a message we can use
_STDERR_TAIL_LINES = 12
_GARBAGE_KEPT = 3
_CLOSE_GRACE = 2.0  # seconds a listed server gets to exit after its stdin closes (the spec's shutdown)
_KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL to the process group
_REF = re.compile(
    r"\$\{\{\s*secrets\.(?P<secret>[A-Za-z0-9_.-]+)\s*\}\}"  # Continue: ${{ secrets.NAME }}
    r"|\$\{(?P<body>[^{}]*)\}"  # ${NAME}, ${NAME:-default}, ${env:NAME}, ${input:id}, ${workspaceFolder}
    r"|(?<!\$)\{env:(?P<brace>[A-Za-z_][A-Za-z0-9_]*)\}"  # opencode: {env:NAME}
)
_BUILTINS = frozenset(
    {"workspaceFolder", "workspaceRoot", "cwd", "workspaceFolderBasename", "userHome", "pathSeparator"}
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class ConnectResult:
    """What listing one server's tools produced: a manifest, a problem, or both (listed with a warning)."""

    server: str
    manifest: Manifest | None
    problem: Problem | None
    seconds: float
    changed: bool | None = None  # whether `connect_all` rewrote the snapshot; None when it wrote none


def header_env_name(header: str) -> str:
    """The environment variable that holds an HTTP header's value: `X-Api-Key` -> `X_API_KEY`.

    A variable named exactly like the header is used first when one exists.
    """
    return re.sub(r"[^A-Za-z0-9]", "_", header).upper()


def config_base(root: Path, spec: ServerSpec) -> Path:
    """The folder a server's relative paths are resolved against: the folder of the file that declares it,
    or the folder above a dot-folder such as `.vscode/` or `.cursor/` (the workspace those clients use)."""
    root = Path(root)
    folder = (root / spec.source.path).parent
    while folder != root and folder.name.startswith(".") and root in folder.parents:
        folder = folder.parent
    return folder


# --- references to the environment -------------------------------------------------------------


@dataclass(frozen=True)
class _Need:
    """Something a server needs before it can start: an env variable, a client-side input, or a header value."""

    kind: str  # "env" | "input" | "header"
    name: str


class _Unresolved(Exception):
    def __init__(self, need: _Need) -> None:
        super().__init__(need.name)
        self.need = need

    @property
    def kind(self) -> str:
        """ "env" (a variable that is not set) or "input" (an editor prompt no process can answer)."""
        return self.need.kind

    @property
    def name(self) -> str:
        return self.need.name


UnresolvedReference = _Unresolved


def _parse(match: re.Match[str]) -> tuple[str, str, str | None] | None:
    """(kind, name, default) for one `_REF` match; kind is "env", "input" or "builtin"; None if not a reference."""
    if match.group("secret"):
        return ("env", match.group("secret"), None)
    if match.group("brace"):
        return ("env", match.group("brace"), None)
    body = match.group("body")
    if body in _BUILTINS:
        return ("builtin", body, None)
    name, sep, default = body.removeprefix("env:").partition(":-")
    if _ENV_NAME.fullmatch(name):
        usable = (
            sep and default != REDACTED
        )  # configs.py replaces literal defaults, which may be secret, by ***
        return ("env", name, default if usable else None)
    scope, colon, _rest = body.partition(":")
    if colon and re.fullmatch(r"[A-Za-z]+", scope):
        return (
            "input",
            body.removeprefix("input:"),
            None,
        )  # ${input:id}, ${command:x}: only an editor has these
    return None


def _refs(values: Iterable[str], *, with_defaults: bool = False) -> list[_Need]:
    """What the references in `values` need (references with a usable default only when asked)."""
    needs: list[_Need] = []
    for value in values:
        for match in _REF.finditer(value):
            parsed = _parse(match)
            if parsed and parsed[0] != "builtin" and (with_defaults or parsed[2] is None):
                needs.append(_Need(parsed[0], parsed[1]))
    return needs


def _texts(spec: ServerSpec) -> list[str]:
    return [spec.command or "", *spec.args, spec.url or "", spec.cwd or ""]


def _declared_refs(spec: ServerSpec) -> list[_Need]:
    """The spec's `env_refs` (as `configs.py` stores them: `${NAME}`, `${env:NAME}`, `${input:id}`, ...)."""
    defaulted = {n.name for n in _refs(_texts(spec), with_defaults=True)} - {
        n.name for n in _refs(_texts(spec))
    }
    needs: list[_Need] = []
    for ref in spec.env_refs:
        parsed = parse_env_ref(ref)
        if parsed is None and _ENV_NAME.fullmatch(ref):
            parsed = ("env", ref)
        if parsed is None:
            continue
        kind, name = parsed
        if kind == "input":
            needs.append(_Need("input", name))
        elif name not in defaulted:  # configs.py drops defaults; the spec's own text still shows them
            needs.append(_Need("env", name))
    return needs


def _needs(spec: ServerSpec) -> list[_Need]:
    """Everything `spec` needs from the environment, in declaration order, without repeats."""
    needs = [_Need("env", n) for n in spec.env_names] + _declared_refs(spec) + _refs(_texts(spec))
    if spec.transport in ("http", "sse"):
        needs += [_Need("header", h) for h in spec.header_names]
    return list(dict.fromkeys(needs))


def _header_value(header: str, environ: Mapping[str, str]) -> str | None:
    if header in environ:
        return environ[header]
    return environ.get(header_env_name(header))


def _missing(spec: ServerSpec, environ: Mapping[str, str]) -> list[_Need]:
    missing: list[_Need] = []
    for need in _needs(spec):
        if (
            (need.kind == "env" and need.name not in environ)
            or need.kind == "input"
            or (need.kind == "header" and _header_value(need.name, environ) is None)
        ):
            missing.append(need)
    return missing


def _need_label(need: _Need) -> str:
    if need.kind == "input":
        return f"input:{need.name}"
    if need.kind == "header":
        return f"{header_env_name(need.name)} (value of header {need.name})"
    return need.name


def with_templates(spec: ServerSpec, environ: Mapping[str, str], base: Path) -> dict[str, str]:
    """The environment a server gets: ours, plus each `NAME: "${REF}"` template of its config expanded.

    A template whose references are unset is left out, so the missing reference is what gets reported.
    """
    env = dict(environ)
    pairs = [(n, t) for n, t in spec.env_templates] + [
        (header_env_name(h), t) for h, t in spec.header_templates
    ]
    for name, template in pairs:
        if name in env:
            continue
        try:
            env[name] = expand_refs(template, environ, base)
        except _Unresolved:
            continue
    return env


_LAUNCH_KEYS = frozenset({"command", "url", "httpUrl", "serverUrl", "uri", "type", "transport"})


def _server_entry(data: Any, server: str, depth: int = 0) -> Mapping[str, Any] | None:
    """The config entry of `server` anywhere in a parsed config (a keyed object, or a list item with `name`)."""
    if depth > 6:
        return None
    if isinstance(data, Mapping):
        entry = data.get(server)
        if isinstance(entry, Mapping) and _LAUNCH_KEYS & set(entry):
            return entry
        values: Iterable[Any] = data.values()
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, Mapping) and item.get("name") == server and _LAUNCH_KEYS & set(item):
                return item
        values = data
    else:
        return None
    for value in values:
        found = _server_entry(value, server, depth + 1)
        if found is not None:
            return found
    return None


def literal_env(config: Path, server: str) -> dict[str, str]:
    """The literal env values a config file gives `server` (`"MEMORY_FILE_PATH": "/data/m.json"`).

    Read from the file when the server starts and passed to its process only: never stored in a
    ServerSpec, a snapshot or a message. Values with references (`${VAR}`) come from templates instead.
    """
    import tomllib

    import yaml  # type: ignore[import-untyped]

    from cfmigrate.analyzers.configs import find_refs, parse_jsonc

    try:
        text = config.read_text(encoding="utf-8")
        if config.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif config.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            data = parse_jsonc(text)
    except (OSError, UnicodeDecodeError, ValueError, tomllib.TOMLDecodeError, yaml.YAMLError):
        return {}
    entry = _server_entry(data, server)
    if entry is None:
        return {}
    env = entry.get("env", entry.get("environment"))
    command = entry.get("command")
    if env is None and isinstance(command, Mapping):  # Zed's old {"command": {"path", "args", "env"}}
        env = command.get("env")
    if not isinstance(env, Mapping):
        return {}
    return {str(k): v for k, v in env.items() if isinstance(v, str) and not find_refs(v)}


def missing_env(spec: ServerSpec, environ: Mapping[str, str] | None = None) -> list[str]:
    """What the server needs but the environment lacks: `FOO`, `input:id`, or `X_API_KEY (value of header X-Api-Key)`."""
    return [_need_label(n) for n in _missing(spec, os.environ if environ is None else environ)]


def _missing_hint(missing: Sequence[_Need]) -> str:
    exports = [
        header_env_name(n.name) if n.kind == "header" else n.name for n in missing if n.kind != "input"
    ]
    inputs = [n.name for n in missing if n.kind == "input"]
    parts = []
    if exports:
        parts.append(
            f"export {', '.join(exports)} before running cfmigrate (only the name is ever stored or printed)"
        )
    if inputs:
        parts.append(
            f"the config asks the client to prompt for input {', '.join(inputs)}, which cfmigrate cannot do: "
            "put an ${env:NAME} reference there instead"
        )
    return "; ".join(parts) + ", or disable the server in its config"


def expand_refs(text: str, environ: Mapping[str, str], base: Path) -> str:
    """Replace `${VAR}`, `${env:VAR}`, `${VAR:-default}`, `{env:VAR}`, `${{ secrets.VAR }}` and the
    `${workspaceFolder}` family; raise `UnresolvedReference` for anything the environment cannot answer."""

    def sub(match: re.Match[str]) -> str:
        parsed = _parse(match)
        if parsed is None:
            return match.group(0)
        kind, name, default = parsed
        if kind == "builtin":
            return {
                "workspaceFolder": str(base),
                "workspaceRoot": str(base),
                "cwd": str(base),
                "workspaceFolderBasename": base.name,
                "userHome": str(Path.home()),
                "pathSeparator": os.sep,
            }[name]
        if kind == "input":
            raise _Unresolved(_Need("input", name))
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise _Unresolved(_Need("env", name))

    return _REF.sub(sub, text)


def _secrets(spec: ServerSpec, environ: Mapping[str, str]) -> list[str]:
    """Every value that must never appear in output: env values and header values the spec names."""
    values: set[str] = set()
    for need in _needs(spec) + _refs(_texts(spec), with_defaults=True):
        if need.kind == "env" and environ.get(need.name):
            values.add(environ[need.name])
        elif need.kind == "header":
            value = _header_value(need.name, environ)
            if value:
                values.add(value)
    return sorted(values, key=len, reverse=True)


def _scrubber(secrets: Sequence[str]) -> Callable[[str], str]:
    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    return scrub


# --- the stdio transport -----------------------------------------------------------------------


@dataclass
class _StdioState:
    """What the stdio transport observed about its process, for the report."""

    pid: int | None = None
    returncode: int | None = None
    garbage: list[str] = field(default_factory=list)
    garbage_count: int = 0
    killed: bool = False


def _group_alive(pgid: int) -> bool:
    """Whether the process group still has a member that is not a zombie (zombies cannot run or hold files)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


async def _wait_exit(process: anyio.abc.Process, seconds: float) -> bool:
    """Poll until the process has exited (not `wait()`: that also waits for pipes a child may hold)."""
    deadline = anyio.current_time() + seconds
    while process.returncode is None:
        if anyio.current_time() >= deadline:
            return False
        await anyio.sleep(0.01)
    return True


async def _kill_group(process: anyio.abc.Process) -> None:
    """SIGTERM the server's whole process group, then SIGKILL it if anything is left after a short grace."""
    if sys.platform == "win32":  # pragma: no cover - process groups are POSIX only
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        return
    pgid = process.pid  # start_new_session=True made the server the leader of its own group
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    except PermissionError:
        pass
    deadline = anyio.current_time() + _KILL_GRACE
    while anyio.current_time() < deadline:
        _ = process.returncode  # lets the event loop reap the leader
        if not _group_alive(pgid):
            return
        await anyio.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _stop(process: anyio.abc.Process, state: _StdioState, abort: bool) -> None:
    """Close stdin and let the server exit (unless `abort`: a timeout), then make sure its whole group is gone."""
    with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        if process.stdin is not None:
            await process.stdin.aclose()
    if abort or not await _wait_exit(process, _CLOSE_GRACE):
        state.killed = process.returncode is None
        await _kill_group(process)
    elif sys.platform != "win32" and _group_alive(process.pid):
        await _kill_group(process)  # the leader left children behind in its group
    await _wait_exit(process, 1.0)
    state.returncode = process.returncode
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
                await stream.aclose()
    with anyio.move_on_after(1.0):
        await process.wait()


@asynccontextmanager
async def _stdio_transport(
    argv: list[str], env: dict[str, str], cwd: Path | None, stderr: IO[bytes], state: _StdioState
) -> AsyncIterator[tuple[Any, Any]]:
    """Run `argv` in a new process group and exchange newline-delimited JSON-RPC over its stdin/stdout.

    Lines that are not JSON-RPC are counted and kept (a few) for the report instead of being logged.
    """
    process = await anyio.open_process(argv, env=env, cwd=cwd, stderr=stderr, start_new_session=True)
    state.pid = process.pid
    read_send, read_recv = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_send, write_recv = anyio.create_memory_object_stream[SessionMessage](0)

    async def reader() -> None:
        assert process.stdout is not None
        pending = bytearray()
        async with read_send:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                async for chunk in process.stdout:
                    pending += chunk
                    if b"\n" in chunk:
                        *lines, rest = bytes(pending).split(b"\n")
                        pending = bytearray(rest)
                    elif len(pending) > _MAX_LINE_BYTES:
                        lines, pending = [bytes(pending)], bytearray()
                    else:
                        continue
                    for raw in lines:
                        line = raw.decode("utf-8", errors="replace").strip()
                        if not line:
                            continue
                        try:
                            message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                        except (ValueError, ValidationError):
                            state.garbage_count += 1
                            if len(state.garbage) < _GARBAGE_KEPT:
                                state.garbage.append(line[:200])
                            continue
                        await read_send.send(SessionMessage(message))

    async def writer() -> None:
        assert process.stdin is not None
        async with write_recv:
            async for item in write_recv:
                data = item.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                try:
                    await process.stdin.send(data.encode())
                except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                    return

    abort = False
    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        tg.start_soon(writer)
        try:
            yield read_recv, write_send
        except BaseException as exc:
            abort = isinstance(exc, anyio.get_cancelled_exc_class())
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await write_send.aclose()
                await _stop(process, state, abort)
                await read_recv.aclose()
            tg.cancel_scope.cancel()


# --- listing one server ------------------------------------------------------------------------


def _stderr_tail(stderr: IO[bytes] | None, scrub: Callable[[str], str]) -> list[str]:
    if stderr is None:
        return []
    try:
        stderr.seek(0, os.SEEK_END)
        size = stderr.tell()
        stderr.seek(max(0, size - 64 * 1024))
        text = stderr.read().decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return []
    lines = [_ANSI.sub("", line).rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return [scrub(line[:300]) for line in lines[-_STDERR_TAIL_LINES:]]


def _leaf(exc: BaseException) -> BaseException:
    """The first non-group exception inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    """A one-line description of a failure the server or network caused."""
    exc = _leaf(exc)
    if isinstance(exc, MCPError):
        return f"answered with JSON-RPC error {exc.error.code}: {exc.error.message}"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code} {exc.response.reason_phrase}".rstrip()
    if isinstance(exc, httpx2.ConnectError):
        return "could not connect (connection refused or host unreachable)"
    if isinstance(exc, httpx2.TimeoutException):
        return "the HTTP request timed out"
    if isinstance(exc, httpx2.HTTPError):
        return f"HTTP error: {type(exc).__name__}: {exc}"
    if isinstance(exc, ValidationError):
        return f"sent a reply that is not valid MCP ({exc.error_count()} validation errors)"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _tooldef(tool: mcp_types.Tool) -> ToolDef:
    wire = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    return ToolDef(
        name=tool.name,
        description=wire.get("description", ""),
        input_schema=wire.get("inputSchema", {}),
        output_schema=wire.get("outputSchema"),
        title=wire.get("title"),
        annotations=wire.get("annotations") or None,
    )


@dataclass
class _Run:
    """Mutable state of one listing attempt, read when building its result."""

    on_stage: Callable[[str], None] | None = None
    stage: str = "starting"
    pages: int = 0
    tools: list[ToolDef] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    http_status: int | None = None
    stdio: _StdioState = field(default_factory=_StdioState)
    info: mcp_types.Implementation | None = None
    protocol: str | None = None
    listed: bool = False
    timed_out: bool = False
    error: BaseException | None = None

    def enter(self, stage: str) -> None:
        self.stage = stage
        if self.on_stage is not None:
            self.on_stage(stage)


class _Pagination(Exception):
    pass


async def _list(client: Client, run: _Run) -> None:
    """Follow `nextCursor` until the last page, collecting tools (first wins on a repeated name)."""
    cursor: str | None = None
    seen_cursors: set[str] = set()
    names: set[str] = set()
    while True:
        run.enter("tools/list" if run.pages == 0 else f"tools/list page {run.pages + 1}")
        page = await client.list_tools(cursor=cursor, cache_mode="bypass")
        run.pages += 1
        for tool in page.tools:
            if tool.name in names:
                run.duplicates.append(tool.name)
                continue
            names.add(tool.name)
            run.tools.append(_tooldef(tool))
        cursor = page.next_cursor
        if cursor is None:
            return
        if cursor in seen_cursors or run.pages >= _MAX_PAGES:
            raise _Pagination(
                f"its tools/list pages do not end (cursor {cursor[:40]!r} repeats or there are over {_MAX_PAGES} pages)"
            )
        seen_cursors.add(cursor)


@dataclass(frozen=True)
class _Launch:
    """A spec with every `${...}` expanded: what to run or where to connect."""

    argv: tuple[str, ...] = ()
    workdir: Path | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class _SpecError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _launch(spec: ServerSpec, environ: Mapping[str, str], base: Path) -> _Launch:
    """Expand the spec against the environment, or raise _SpecError saying what is wrong with it."""
    where = _where(spec)
    redacted = [t for t in (spec.command or "", *spec.args, spec.url or "") if REDACTED in _REF.sub("", t)]
    if redacted:
        place = "url" if spec.url and spec.url in redacted else "command line"
        raise _SpecError(
            f"server {spec.name!r}: the config writes a secret literally into its {place} ({where}), and "
            "cfmigrate never keeps secret values; not started",
            "replace the value with a reference such as ${env:NAME} (or ${NAME}) and export NAME",
        )
    try:
        if spec.transport == "stdio":
            if not spec.command:
                raise _SpecError(
                    f"server {spec.name!r} has no command to run ({where})", "add `command` to the config"
                )
            argv = (
                expand_refs(spec.command, environ, base),
                *(expand_refs(a, environ, base) for a in spec.args),
            )
            workdir = base
            if spec.cwd:
                workdir = Path(expand_refs(spec.cwd, environ, base)).expanduser()
                workdir = workdir if workdir.is_absolute() else base / workdir
            if not workdir.is_dir():
                raise _SpecError(
                    f"server {spec.name!r}: working directory {workdir} does not exist ({where})",
                    "fix `cwd` in the config",
                )
            return _Launch(argv=argv, workdir=workdir)
        if spec.transport in ("http", "sse"):
            if not spec.url:
                raise _SpecError(f"server {spec.name!r} has no url ({where})", "add `url` to the config")
            headers = {h: _header_value(h, environ) or "" for h in spec.header_names}
            return _Launch(url=expand_refs(spec.url, environ, base), headers=headers)
    except _Unresolved as exc:  # missing values are caught before; a slip still becomes a Problem
        raise _SpecError(
            f"server {spec.name!r} needs env {_need_label(exc.need)} ({where}); not started",
            _missing_hint([exc.need]),
        ) from None
    raise _SpecError(
        f"server {spec.name!r}: cannot tell how to start or reach it (transport {spec.transport!r}, {where})",
        "give it a `command` (stdio) or a `url` (streamable HTTP or SSE)",
    )


async def _attempt(
    spec: ServerSpec, launch: _Launch, environ: dict[str, str], stderr: IO[bytes], run: _Run, timeout: float
) -> None:
    """Connect, handshake and list within `timeout`, recording the outcome in `run` (never raises)."""

    async def record(response: httpx2.Response) -> None:
        if response.request.method == "POST":  # MCP messages; the optional GET stream may 405 harmlessly
            run.http_status = response.status_code

    def http_client(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            headers=headers, timeout=timeout, auth=auth, event_hooks={"response": [record]}
        )

    run.enter("starting" if spec.transport == "stdio" else "connecting")
    with anyio.move_on_after(timeout) as scope:
        try:
            async with AsyncExitStack() as stack:
                transport: Any
                if spec.transport == "stdio":
                    transport = _stdio_transport(
                        list(launch.argv), environ, launch.workdir, stderr, run.stdio
                    )
                elif spec.transport == "http":
                    assert launch.url is not None
                    http = await stack.enter_async_context(
                        http_client(dict(launch.headers), httpx2.Timeout(timeout))
                    )
                    transport = streamable_http_client(launch.url, http_client=http)
                else:
                    assert launch.url is not None
                    transport = sse_client(
                        launch.url,
                        headers=dict(launch.headers),
                        timeout=timeout,
                        sse_read_timeout=timeout,
                        httpx_client_factory=http_client,
                    )
                run.enter("initialize")
                async with Client(transport, cache=None) as client:
                    run.info = client.server_info
                    run.protocol = client.protocol_version
                    await _list(client, run)
                    run.listed = True
                    run.enter("closing")
        except Exception as exc:
            run.error = exc
    run.timed_out = scope.cancelled_caught and run.error is None


def _outcome(
    spec: ServerSpec, launch: _Launch, run: _Run, tail: Sequence[str], timeout: float
) -> tuple[str, str, bool]:
    """(message, hint, listed-with-warning) for an attempt that did not simply succeed."""
    what = f"server {spec.name!r} ({_where(spec)})"
    state = run.stdio
    garbage = ""
    if state.garbage_count:
        shown = "; ".join(repr(g) for g in state.garbage)
        garbage = f"wrote {state.garbage_count} line(s) on stdout that are not JSON-RPC (first: {shown})"
    if run.listed:
        notes = []
        if garbage:
            notes.append(
                garbage + "; stdout must carry only MCP messages, so some clients reject this server"
            )
        if run.duplicates:
            notes.append(
                f"listed tool(s) {', '.join(sorted(set(run.duplicates)))} more than once; the first was kept"
            )
        return (f"{what}: " + "; ".join(notes) if notes else ""), "", True
    also = f"; it {garbage}" if garbage else ""
    if run.timed_out:
        killed = " and its process group was killed" if spec.transport == "stdio" else ""
        return (
            f"{what} did not finish {run.stage} within {timeout:g} s{killed}{also}",
            "check the command and its arguments; raise the timeout if the server is just slow to start",
            False,
        )
    error = run.error
    assert error is not None
    leaf = _leaf(error)
    command = launch.argv[0] if launch.argv else ""
    if spec.transport == "stdio" and state.pid is None and isinstance(leaf, OSError):
        if isinstance(leaf, FileNotFoundError):
            return (
                f"{what}: command {command!r} not found",
                "install it, or fix `command` in the config",
                False,
            )
        if isinstance(leaf, PermissionError):
            return f"{what}: command {command!r} is not executable", "fix `command` in the config", False
        return (
            f"{what}: could not start {command!r}: {leaf.strerror or leaf}",
            "fix `command` in the config",
            False,
        )
    if spec.transport == "stdio" and state.returncode is not None and not state.killed:
        code = state.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"{what} {how} during {run.stage}{also}", "run the command by hand to see why it stops", False
    if isinstance(leaf, _Pagination):
        return f"{what}: {leaf}", "report it to the server's authors", False
    status = run.http_status if run.http_status is not None and run.http_status >= 400 else None
    if status is not None and not isinstance(leaf, httpx2.HTTPStatusError):
        message = f"{what} failed during {run.stage}: the server answered HTTP {status}"
    else:
        message = f"{what} failed during {run.stage}: {_describe(error)}"
    hint = ""
    if status in (401, 403) or (
        isinstance(leaf, httpx2.HTTPStatusError) and leaf.response.status_code in (401, 403)
    ):
        sent = ", ".join(f"{h} (from env {header_env_name(h)})" for h in spec.header_names) or "none declared"
        hint = f"the server refused the credentials; headers sent: {sent}"
    elif spec.transport != "stdio":
        hint = "check that the server is running and the url is right"
    return message + also, hint, False


def _where(spec: ServerSpec) -> str:
    return f"declared in {spec.source}"


async def list_tools_live(
    spec: ServerSpec, *, timeout: float = 30.0, cwd: Path | None = None
) -> ConnectResult:
    """Start or reach one server, list every page of its tools, and report instead of raising.

    `cwd` is the folder the server's relative `cwd` (and, when it has none, its process) resolves
    against; `connect_all` passes `config_base(root, spec)`. Never raises for anything the server does.
    """
    return await _list_tools_live(spec, timeout=timeout, cwd=cwd, on_stage=None)


async def _list_tools_live(
    spec: ServerSpec,
    *,
    timeout: float,
    cwd: Path | None,
    on_stage: Callable[[str], None] | None,
    literal: Mapping[str, str] | None = None,
) -> ConnectResult:
    started = time.perf_counter()
    environ = with_templates(spec, {**(literal or {}), **os.environ}, cwd if cwd is not None else Path.cwd())
    scrub = _scrubber(_secrets(spec, environ))

    def problem(level: Level, message: str, hint: str = "", tail: Sequence[str] = ()) -> Problem:
        text = scrub(message)
        if tail:
            text += "\n  stderr (last lines):\n" + "\n".join(f"    | {line}" for line in tail)
        return Problem(level, text, spec.source, scrub(hint))

    missing = _missing(spec, environ)
    if missing:
        names = ", ".join(_need_label(n) for n in missing)
        message = f"server {spec.name!r} needs env {names} ({_where(spec)}); not started"
        return ConnectResult(spec.name, None, problem("error", message, _missing_hint(missing)), 0.0)
    try:
        launch = _launch(spec, environ, Path(cwd) if cwd is not None else Path.cwd())
    except _SpecError as exc:
        return ConnectResult(spec.name, None, problem("error", exc.message, exc.hint), 0.0)

    run = _Run(on_stage=on_stage)
    with tempfile.TemporaryFile("w+b") as stderr:
        await _attempt(spec, launch, environ, stderr, run, timeout)
        tail = _stderr_tail(stderr, scrub) if spec.transport == "stdio" else []
    seconds = time.perf_counter() - started
    message, hint, listed = _outcome(spec, launch, run, tail, timeout)
    if not listed:
        return ConnectResult(spec.name, None, problem("error", message, hint, tail), seconds)
    manifest = Manifest(
        server=spec.name,
        tools=tuple(run.tools),
        origin="live",
        server_name=run.info.name if run.info else None,
        server_version=(run.info.version or None) if run.info else None,
        package=spec.package,
        protocol_version=run.protocol,
    )
    return ConnectResult(spec.name, manifest, problem("warning", message) if message else None, seconds)


# --- many servers ------------------------------------------------------------------------------


class _Display:
    """A rich live view of the listing on stderr (one line per server, plus a total), or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._progress: Any = None
        self._tasks: dict[int, Any] = {}
        self._total = total
        self._finished = 0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(finished_text="[dim]-[/dim]"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._overall = self._progress.add_task(self._summary(), total=total)

    def expect(self, total: int) -> None:
        """Set how many servers will actually be started (skipped ones are not shown)."""
        self._total = total
        if self._progress is not None:
            self._progress.update(self._overall, description=self._summary(), total=total)

    def _summary(self) -> str:
        return f"[bold]listing tools[/bold]: {self._finished}/{self._total} servers done"

    def __enter__(self) -> _Display:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, index: int, name: str) -> Callable[[str], None]:
        """Add a line for a server and return the callback that shows its current stage."""
        if self._progress is None:
            return lambda _stage: None
        progress = self._progress
        task = progress.add_task(f"  {name}: starting", total=1)
        self._tasks[index] = task
        return lambda stage: progress.update(task, description=f"  {name}: {stage}")

    def done(self, index: int, result: ConnectResult) -> None:
        """Freeze a server's line with its outcome."""
        if self._progress is None:
            return
        if result.manifest is not None:
            status = f"[green]{len(result.manifest.tools)} tools[/green]"
            if result.problem is not None:
                status += " [yellow](with a warning)[/yellow]"
        else:
            status = "[red]not listed[/red]"
        self._finished += 1
        self._progress.update(self._tasks[index], description=f"  {result.server}: {status}", completed=1)
        self._progress.update(self._overall, description=self._summary(), completed=self._finished)


def _base_for(root: Path, spec: ServerSpec) -> Path:
    """`config_base`, unless the spec's relative `cwd` only exists under the repository root."""
    base = config_base(root, spec)
    cwd = spec.cwd or ""
    relative = bool(cwd) and "${" not in cwd and not cwd.startswith("~") and not Path(cwd).is_absolute()
    if relative and not (base / cwd).is_dir() and (root / cwd).is_dir():
        return root
    return base


async def _connect_all(
    specs: Sequence[ServerSpec], root: Path, timeout: float, parallel: int, display: _Display
) -> list[ConnectResult]:
    results: list[ConnectResult | None] = [None] * len(specs)
    limiter = anyio.CapacityLimiter(max(1, parallel))
    first_index: dict[str, int] = {}
    for index, spec in enumerate(specs):
        if spec.name in first_index:
            kept = specs[first_index[spec.name]]
            results[index] = ConnectResult(
                spec.name,
                None,
                Problem(
                    "warning",
                    f"server {spec.name!r} is declared again in {spec.source}; only the one in {kept.source} was listed",
                    spec.source,
                    "rename one of them",
                ),
                0.0,
            )
        elif spec.disabled:
            first_index[spec.name] = index
            results[index] = ConnectResult(
                spec.name,
                None,
                Problem(
                    "info", f"server {spec.name!r} is disabled in {spec.source}; not started", spec.source
                ),
                0.0,
            )
        else:
            first_index[spec.name] = index

    async def one(index: int, spec: ServerSpec) -> None:
        async with limiter:
            on_stage = display.start(index, spec.name)
            try:
                result = await _list_tools_live(
                    spec,
                    timeout=timeout,
                    cwd=_base_for(root, spec),
                    on_stage=on_stage,
                    literal=literal_env(root / spec.source.path, spec.name),
                )
            except Exception as exc:  # a bug here must not hide the other servers' results
                scrub = _scrubber(_secrets(spec, os.environ))
                message = f"server {spec.name!r}: internal error while listing: {_describe(exc)}"
                problem = Problem("error", scrub(message), spec.source, "please report this cfmigrate bug")
                result = ConnectResult(spec.name, None, problem, 0.0)
            results[index] = result
            display.done(index, result)

    display.expect(sum(1 for r in results if r is None))
    async with anyio.create_task_group() as tg:
        for index, spec in enumerate(specs):
            if results[index] is None:
                tg.start_soon(one, index, spec)
    return [r for r in results if r is not None]


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def connect_all(
    specs: Sequence[ServerSpec],
    *,
    root: Path,
    timeout: float = 30.0,
    parallel: int = 8,
    progress: bool = True,
    write: bool = True,
) -> list[ConnectResult]:
    """List every server's tools (at most `parallel` at once, `timeout` seconds each), in `specs` order.

    With `write`, each listed server's snapshot is (re)written under `root/.cfmigrate/manifests/`;
    a server that fails keeps its previous snapshot. A progress display is drawn on stderr when it
    is a terminal and `progress` is true.
    """
    root = Path(root)
    show = progress and sys.stderr.isatty() and bool(specs)
    with _Display(show, len(specs)) as display:
        if _in_event_loop():
            with ThreadPoolExecutor(1) as pool:
                results = pool.submit(
                    anyio.run, _connect_all, specs, root, timeout, parallel, display
                ).result()
        else:
            results = anyio.run(_connect_all, specs, root, timeout, parallel, display)
    if not write:
        return results
    written: list[ConnectResult] = []
    for spec, result in zip(specs, results, strict=True):
        if result.manifest is None:
            written.append(result)
            continue
        try:
            changed = write_snapshot(root, result.manifest)
        except OSError as exc:
            path = snapshot_path(root, result.server).relative_to(root).as_posix()
            problem = Problem(
                "error",
                f"server {result.server!r}: listed {len(result.manifest.tools)} tools but could not write {path}: "
                f"{exc.strerror or exc}",
                spec.source,
                "check that the folder is writable; the previous snapshot, if any, is unchanged",
            )
            written.append(replace(result, problem=problem))
            continue
        written.append(replace(result, changed=changed))
    return written
