"""A thin wrapper around the helpdesk MCP session, shared by the app's agents."""

from contextlib import AsyncExitStack
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HELPDESK = StdioServerParameters(
    command="python", args=["mcp_servers/helpdesk_server.py"], env={"HELPDESK_DATA": "data/helpdesk.json"}
)


class HelpdeskTools:
    """Opens the helpdesk server, lists its tools for Claude and runs the tool calls Claude makes."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()
        self.session: ClientSession | None = None

    async def __aenter__(self) -> "HelpdeskTools":
        read, write = await self._stack.enter_async_context(stdio_client(HELPDESK))
        self.session = await self._stack.enter_async_context(ClientSession(read, write))
        await self.session.initialize()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def definitions(self) -> list[dict[str, Any]]:
        listed = await self.session.list_tools()
        return [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in listed.tools]

    async def run(self, name: str, arguments: dict[str, Any]) -> str:
        result = await self.session.call_tool(name, arguments)
        return "\n".join(c.text for c in result.content if c.type == "text")
