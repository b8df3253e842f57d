"""The host end of the bridge: each script gets its own pre-connected connector, served here until it closes.

There is no socket file anyone could connect to: for every script the executor makes a SOCK_SEQPACKET
socket pair, hands one end to the script's process only (fd 3, named by $CFMIGRATE_BRIDGE_FD) and
passes the other end to `BridgeServer.serve_connector`. The script sends `connect` on it and receives
a fresh connected stream socket (SCM_RIGHTS) for the requests below, one per event loop, at most
`MAX_CONNECTIONS` per script. When the script ends everything is closed and serving stops.

Protocol (newline-delimited JSON, replies in request order):
request `{"id": <int>, "server": "<server_id>", "tool": "<wire name>", "arguments": {...}}`;
reply `{"id": <int>, "ok": true, "result": {"content": [...], "structuredContent": ..., "isError": <bool>}}`
or `{"id": <int>, "ok": false, "error": {"message": "...", "code": <int|null>, "kind": "denied|mcp|transport|invalid"}}`.

Everything a script sends is bounded before the host does any work for it: a request line is at most
`MAX_LINE` bytes (read by a bounded reader, never parsed when longer), `server` and `tool` are short
strings checked against the known servers and the tools each one lists before the arguments are looked
at or anything is logged, and the arguments are at most `MAX_DEPTH` levels deep. No exception raised
while answering reaches the event loop: it becomes an `ok: false` reply and a line in the host's log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
Check = Callable[[str, str], Awaitable[None]]
MAX_LINE = 1024 * 1024
MAX_DEPTH = 32
MAX_NAME = 128
MAX_NODES = 100_000
MAX_REQUESTS = 250  # per script, over all its connections (tool calls have their own, lower cap)
MAX_CONNECTIONS = 8  # per script

log = logging.getLogger("cfmigrate.runtime")


class BridgeError(Exception):
    """A refused or failed call; becomes an `ok: false` reply."""

    def __init__(self, message: str, *, kind: str = "invalid", code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.code = code


def error_reply(request_id: Any, message: str, kind: str, code: int | None = None) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"message": message, "code": code, "kind": kind}}


def check_shape(value: Any, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> str | None:
    """Why a decoded JSON value is too deep or too large, or None; iterative, so it cannot recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            return f"the arguments hold more than {max_nodes:,} values"
        if isinstance(item, dict | list):
            if depth > max_depth:
                return f"the arguments are nested deeper than {max_depth} levels"
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return None


def _request_id(request: dict[str, Any]) -> int | None:
    value = request.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 1 << 53 else None


class BridgeServer:
    """Answers bridge requests: `check(server, tool)` first, then `handler(server, tool, arguments)`."""

    def __init__(self, handler: Handler, *, check: Check | None = None) -> None:
        self.handler = handler
        self.check = check
        self._serving: set[asyncio.Task[Any]] = set()

    async def serve_connector(self, connector: socket.socket) -> None:
        """Hand out up to MAX_CONNECTIONS connected sockets on one script's connector, serve each one."""
        loop = asyncio.get_running_loop()
        budget = [MAX_REQUESTS]
        served: list[asyncio.Task[None]] = []
        connector.setblocking(False)
        try:
            for _ in range(4 * MAX_CONNECTIONS):  # then the connector closes; open connections stay
                message = await loop.sock_recv(connector, 64)
                if not message:
                    break
                if message != b"connect" or len(served) >= MAX_CONNECTIONS:
                    await loop.sock_sendall(connector, b"refused")
                    continue
                host_end, script_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    socket.send_fds(connector, [b"ok"], [script_end.fileno()])
                except OSError:
                    host_end.close()
                    break
                finally:
                    script_end.close()
                host_end.setblocking(False)
                served.append(loop.create_task(self.serve(host_end, budget)))
        except (ConnectionError, OSError):
            pass
        try:
            connector.close()
            if served:  # the connections live on until they close or the script ends
                await asyncio.gather(*served, return_exceptions=True)
        finally:
            for task in served:
                task.cancel()
            if served:
                await asyncio.gather(*served, return_exceptions=True)

    async def serve(self, sock: socket.socket, budget: list[int] | None = None) -> None:
        """Serve one connected socket until it closes (or the task is cancelled); `budget` counts requests."""
        budget = budget if budget is not None else [MAX_REQUESTS]
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
        writer: asyncio.StreamWriter | None = None
        try:
            reader, writer = await asyncio.open_connection(sock=sock, limit=MAX_LINE)
            while budget[0] > 0:
                budget[0] -= 1
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    return
                except asyncio.LimitOverrunError:
                    writer.write(
                        self._encode(error_reply(None, f"request longer than {MAX_LINE:,} bytes", "invalid"))
                    )
                    await writer.drain()
                    return  # the rest of that line cannot be told from the next request
                reply = await self.answer(line)
                writer.write(self._encode(reply))
                await writer.drain()
            writer.write(
                self._encode(
                    error_reply(None, f"more than {MAX_REQUESTS} requests from one script", "denied")
                )
            )
            await writer.drain()
        except (ConnectionError, OSError):
            return
        except Exception:  # nothing a script sends may take the host's loop down
            log.exception("bridge: unexpected error while serving a script")
        finally:
            if task is not None:
                self._serving.discard(task)
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            else:
                sock.close()

    @staticmethod
    def _encode(reply: dict[str, Any]) -> bytes:
        return (json.dumps(reply, ensure_ascii=False, default=str) + "\n").encode("utf-8", errors="replace")

    async def answer(self, line: bytes) -> dict[str, Any]:
        """One reply for one request line; never raises (bar cancellation)."""
        try:
            return await self._answer(line)
        except BridgeError as exc:
            return error_reply(None, exc.message, exc.kind, exc.code)
        except Exception:
            log.exception("bridge: a request raised")
            return error_reply(None, "the host could not process this request", "invalid")

    async def _answer(self, line: bytes) -> dict[str, Any]:
        if len(line) > MAX_LINE:
            return error_reply(None, f"request longer than {MAX_LINE:,} bytes", "invalid")
        try:
            request = json.loads(line)
        except RecursionError:
            return error_reply(None, f"the request is nested deeper than {MAX_DEPTH} levels", "invalid")
        except ValueError:
            return error_reply(None, "the request is not JSON", "invalid")
        if not isinstance(request, dict):
            return error_reply(None, "the request must be a JSON object", "invalid")
        request_id = _request_id(request)
        server, tool = request.get("server"), request.get("tool")
        if not (
            isinstance(server, str)
            and isinstance(tool, str)
            and 0 < len(server) <= MAX_NAME
            and 0 < len(tool) <= MAX_NAME
        ):
            return error_reply(
                request_id,
                f"the request needs string 'server' and 'tool' (at most {MAX_NAME} characters)",
                "invalid",
            )
        try:
            if self.check is not None:
                await self.check(server, tool)
            arguments = request.get("arguments", {})
            if arguments is None:
                arguments = {}
            if not isinstance(arguments, dict):
                return error_reply(request_id, "'arguments' must be a JSON object", "invalid")
            problem = check_shape(arguments)
            if problem:
                return error_reply(request_id, problem, "invalid")
            result = await self.handler(server, tool, arguments)
        except BridgeError as exc:
            return error_reply(request_id, exc.message, exc.kind, exc.code)
        return {"id": request_id, "ok": True, "result": result}

    async def cancel_calls(self) -> None:
        """Stop serving every script's socket (used when a script ends)."""
        for task in list(self._serving):
            task.cancel()
        if self._serving:
            await asyncio.gather(*self._serving, return_exceptions=True)

    async def close(self) -> None:
        await self.cancel_calls()
