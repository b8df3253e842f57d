"""Triage loop that forwards every content block of a tool result as the model's tool_result content."""

import asyncio
import sys

from anthropic import AsyncAnthropic
from mcp import Client, StdioServerParameters

SERVER = StdioServerParameters(
    command="python", args=["mcp_servers/helpdesk_server.py"], env={"HELPDESK_DATA": "data/helpdesk.json"}
)


async def triage(task: str) -> str:
    llm = AsyncAnthropic()
    async with Client(SERVER) as mcp:
        await mcp.call_tool("create_ticket", {"title": "Laptop battery swells", "body": "Asset 4411."})
        tools = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
            for tool in (await mcp.list_tools()).tools
        ]
        messages = [{"role": "user", "content": task}]
        while True:
            reply = await llm.messages.create(
                model="claude-sonnet-5", max_tokens=1024, tools=tools, messages=messages
            )
            messages.append({"role": "assistant", "content": [b.model_dump() for b in reply.content]})
            calls = [b for b in reply.content if b.type == "tool_use"]
            if not calls:
                return reply.content[0].text
            answers = []
            for call in calls:
                result = await mcp.call_tool(call.name, call.input)
                answers.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": call.id,
                        "content": [c.model_dump() for c in result.content],
                    }
                )
            messages.append({"role": "user", "content": answers})


if __name__ == "__main__":
    print(asyncio.run(triage(sys.argv[1])))
