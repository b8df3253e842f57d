"""Helpdesk bot whose MCP server is declared only here: this interpreter, a path relative to the bot.

Usage: python bot.py "task"   (the server keeps its tickets in tools/helpdesk.json)
"""

import asyncio
import sys
from pathlib import Path

from anthropic import AsyncAnthropic
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent
PARAMS = StdioServerParameters(command=sys.executable, args=["helpdesk_server.py"], cwd=str(HERE / "tools"))


async def main(task: str) -> str:
    llm = AsyncAnthropic()
    async with stdio_client(PARAMS) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.call_tool("create_ticket", {"title": "Shared drive is read-only", "body": "Finance team."})
        tools = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in (await session.list_tools()).tools
        ]
        messages = [{"role": "user", "content": task}]
        for _ in range(8):
            response = await llm.messages.create(model="claude-sonnet-5", max_tokens=1024, tools=tools, messages=messages)
            messages.append({"role": "assistant", "content": response.content})
            if response.stop_reason != "tool_use":
                break
            results = []
            for block in response.content:
                if block.type == "tool_use":
                    out = await session.call_tool(block.name, block.input)
                    results.append({"type": "tool_result", "tool_use_id": block.id, "content": out.content[0].text})
            messages.append({"role": "user", "content": results})
        return response.content[-1].text


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
