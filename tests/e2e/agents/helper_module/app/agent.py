"""The triage agent; MCP plumbing lives in app.mcp_tools.

Usage: python -m app.agent "task"
"""

import asyncio
import sys

import anthropic

from app.mcp_tools import HelpdeskTools


async def main(task: str) -> None:
    client = anthropic.AsyncAnthropic()
    async with HelpdeskTools() as helpdesk:
        await helpdesk.session.call_tool("create_ticket", {"title": "Badge reader at door B is dead", "body": "Facilities."})
        tools = await helpdesk.definitions()
        messages = [{"role": "user", "content": task}]
        while True:
            response = await client.messages.create(model="claude-sonnet-5", max_tokens=1024, tools=tools, messages=messages)
            messages.append({"role": "assistant", "content": response.content})
            if response.stop_reason != "tool_use":
                print(response.content[-1].text)
                return
            results = []
            for block in response.content:
                if block.type == "tool_use":
                    text = await helpdesk.run(block.name, block.input)
                    results.append({"type": "tool_result", "tool_use_id": block.id, "content": text})
            messages.append({"role": "user", "content": results})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
