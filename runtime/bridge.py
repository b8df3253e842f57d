"""The host end of the bridge: a Unix socket that sandboxed wrappers call instead of opening MCP sessions.

Protocol (newline-delimited JSON, replies in request order on each connection):
request `{"id": <int>, "server": "<server_id>", "tool": "<wire name>", "arguments": {...}}`;
reply `{"id": <int>, "ok": true, "result": {"content": [...], "structuredContent": ..., "isError": <bool>}}`
or `{"id": <int>, "ok": false, "error": {"message": "...", "code": <int|null>, "kind": "denied|mcp|transport|invalid"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any

Handler = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_LINE = 64 * 1024 * 1024


class BridgeError(Exception):
    """A refused or failed call; becomes an `ok: false` reply."""

    def __init__(self, message: str, *, kind: str = "invalid", code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.code = code


def error_reply(request_id: Any, message: str, kind: str, code: int | None = None) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": {"message": message, "code": code, "kind": kind}}


class BridgeServer:
    """Serves bridge requests on `path`; `handler(server, tool, arguments)` returns the wire result."""

    def __init__(self, path: Path, handler: Handler, *, allowed_uids: Collection[int] | None = None) -> None:
        self.path = path
        self.handler = handler
        self.allowed_uids = set(allowed_uids) if allowed_uids is not None else None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    def allow_uid(self, uid: int) -> None:
        if self.allowed_uids is not None:
            self.allowed_uids.add(uid)

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    def _peer_uid(self, writer: asyncio.StreamWriter) -> int | None:
        sock = writer.get_extra_info("socket")
        if sock is None:
            return None
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        except OSError:
            return None
        _pid, uid, _gid = struct.unpack("3i", creds)
        return int(uid)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            uid = self._peer_uid(writer)
            if self.allowed_uids is not None and uid is not None and uid not in self.allowed_uids:
                writer.write(
                    (
                        json.dumps(error_reply(None, "this bridge serves its own sandbox only", "denied"))
                        + "\n"
                    ).encode()
                )
                await writer.drain()
                return
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(
                        (json.dumps(error_reply(None, "request line too long", "invalid")) + "\n").encode()
                    )
                    await writer.drain()
                    return
                if not line:
                    return
                reply = await self._answer(line)
                writer.write((json.dumps(reply, ensure_ascii=False) + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            if task is not None:
                self._connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return error_reply(None, "the request is not JSON", "invalid")
        if not isinstance(request, dict):
            return error_reply(None, "the request must be a JSON object", "invalid")
        request_id = request.get("id")
        server, tool, arguments = request.get("server"), request.get("tool"), request.get("arguments", {})
        if not isinstance(server, str) or not isinstance(tool, str):
            return error_reply(request_id, "the request needs string 'server' and 'tool'", "invalid")
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            return error_reply(request_id, "'arguments' must be a JSON object", "invalid")
        try:
            result = await self.handler(server, tool, arguments)
        except BridgeError as exc:
            return error_reply(request_id, exc.message, exc.kind, exc.code)
        return {"id": request_id, "ok": True, "result": result}

    async def cancel_calls(self) -> None:
        """Drop every open connection (used when a script ends)."""
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self.cancel_calls()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
