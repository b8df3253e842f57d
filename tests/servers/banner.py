"""An MCPServer over stdio that first prints a banner line on stdout (a common mistake) and then works."""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer("banner")


@server.tool()
def hello(name: str) -> str:
    """Say hello."""
    return f"hello {name}"


if __name__ == "__main__":
    print("banner server v1 starting...", flush=True)
    server.run()
