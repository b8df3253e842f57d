"""Helpdesk + knowledge-base assistant on mcp's `ClientSessionGroup`: one group, tools aggregated by name.

Usage: python assistant.py "<task>"
"""

import asyncio
import sys

import anthropic
from mcp import ClientSessionGroup, StdioServerParameters

SERVERS = [
    StdioServerParameters(
        command="python", args=["mcp_servers/helpdesk_server.py"], env={"HELPDESK_DATA": "data/helpdesk.json"}
    ),
    StdioServerParameters(command="python", args=["mcp_servers/kb_server.py"], env={"KB_DATA": "data/kb.json"}),
]
SYSTEM = "You keep the help desk and its knowledge base in order."


async def main(task: str) -> None:
    claude = anthropic.AsyncAnthropic()
    async with ClientSessionGroup() as group:
        for params in SERVERS:
            await group.connect_to_server(params)
        await group.call_tool("create_ticket", {"title": "Calendar invites land in spam", "body": "Since the mail migration."})
        tools = [
            {"name": name, "description": tool.description or "", "input_schema": tool.input_schema}
            for name, tool in group.tools.items()
        ]
        messages = [{"role": "user", "content": task}]
        while True:
            response = await claude.messages.create(
                model="claude-sonnet-5", max_tokens=2000, system=SYSTEM, tools=tools, messages=messages
            )
            messages.append({"role": "assistant", "content": response.content})
            if response.stop_reason != "tool_use":
                print(response.content[0].text)
                return
            results = []
            for block in response.content:
                if block.type == "tool_use":
                    result = await group.call_tool(block.name, block.input)
                    results.append(
                        {"type": "tool_result", "tool_use_id": block.id, "content": result.content[0].text}
                    )
            messages.append({"role": "user", "content": results})


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
