"""An MCPServer served over streamable HTTP (or SSE) on 127.0.0.1 with an ephemeral port.

Usage: http_server.py {streamable-http|sse} [REQUIRED_HEADER ENV_NAME]
Prints "PORT <n>" on stdout once listening. With REQUIRED_HEADER, every request must carry that header
with the value of the environment variable ENV_NAME, or it is answered 401.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import anyio
import uvicorn
from mcp.server import MCPServer

server = MCPServer("http-fixture")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def whoami() -> str:
    """Name this fixture."""
    return "http-fixture"


def require_header(app: Any, header: str, expected: str) -> Any:
    """Wrap an ASGI app so HTTP requests without the expected header value get a 401."""
    wanted = header.lower().encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            got = dict(scope.get("headers") or []).get(wanted, b"").decode()
            if got != expected:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"text/plain")],
                    }
                )
                await send({"type": "http.response.body", "body": b"missing or wrong credentials"})
                return
        await app(scope, receive, send)

    return guarded


async def main() -> None:
    """Bind port 0, announce it, and serve until killed."""
    transport = sys.argv[1]
    app: Any = server.streamable_http_app() if transport == "streamable-http" else server.sse_app()
    if len(sys.argv) > 3:
        app = require_header(app, sys.argv[2], os.environ[sys.argv[3]])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections made right after "PORT" queue instead of being refused
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    anyio.run(main)
