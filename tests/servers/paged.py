"""A low-level MCP server over stdio that lists its tools over several pages (nextCursor).

Usage: paged.py PREFIX PAGES PER_PAGE — tool names are PREFIX_<page>_<n>; each tool's description carries
the value of CFM_ENV_PROBE so a test can see that the client passed its environment through.
"""

from __future__ import annotations

import os
import sys

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server


def build(prefix: str, pages: int, per_page: int) -> Server:
    """A server whose tools/list answers page `cursor` (a decimal string) and points to the next one."""

    async def list_tools(ctx: object, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        page = int(params.cursor) if params and params.cursor else 0
        tools = [
            types.Tool(
                name=f"{prefix}_{page}_{n}",
                description=f"page {page} tool {n}; probe={os.environ.get('CFM_ENV_PROBE', '<unset>')}",
                input_schema={"type": "object", "properties": {"x": {"type": "integer"}}},
            )
            for n in range(per_page)
        ]
        next_cursor = str(page + 1) if page + 1 < pages else None
        return types.ListToolsResult(tools=tools, next_cursor=next_cursor)

    return Server("paged", version="1.2.3", on_list_tools=list_tools)


async def main() -> None:
    """Serve over stdio until stdin closes."""
    server = build(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    anyio.run(main)
