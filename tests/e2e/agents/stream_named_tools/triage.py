"""Helpdesk triage with streamed Claude replies.

The reply text is streamed to the terminal as it arrives (`messages.stream`); the system prompt
names the tools the model may use; the first turn must call a tool (`tool_choice`); tool results
are flattened to their text blocks. One tool is the agent's own (`now`), answered without MCP.
Usage: python triage.py "<task>"
"""

import asyncio
import datetime
import sys

from anthropic import AsyncAnthropic
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HELPDESK = StdioServerParameters(
    command="python",
    args=["mcp_servers/helpdesk_server.py"],
    env={"HELPDESK_DATA": "data/helpdesk.json"},
)
INSTRUCTIONS = "You are the on-call triage assistant. Work only through your tools."
CLOCK = {"name": "now", "description": "The current UTC time.", "input_schema": {"type": "object", "properties": {}}}


def flatten(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def main(task: str) -> str:
    claude = AsyncAnthropic()
    async with stdio_client(HELPDESK) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.call_tool(
            "create_ticket", {"title": "Scanner emails arrive empty", "body": "Floor 2 copier, since Monday."}
        )
        listing = await session.list_tools()
        tools = [
            {"name": tool.name, "description": tool.description or "", "input_schema": tool.input_schema}
            for tool in listing.tools
        ]
        system = f"{INSTRUCTIONS}\nTools you can call: {', '.join(t['name'] for t in tools)}."
        messages = [{"role": "user", "content": task}]
        for turn in range(8):
            async with claude.messages.stream(
                model="claude-sonnet-5",
                max_tokens=1500,
                system=system,
                tools=[*tools, CLOCK],
                tool_choice={"type": "any"} if turn == 0 else {"type": "auto"},
                messages=messages,
            ) as stream:
                async for chunk in stream.text_stream:
                    print(chunk, end="", flush=True)
                reply = await stream.get_final_message()
            print()
            messages.append({"role": "assistant", "content": reply.content})
            if reply.stop_reason != "tool_use":
                return "".join(block.text for block in reply.content if block.type == "text")
            answers = []
            for block in reply.content:
                if block.type != "tool_use":
                    continue
                if block.name == "now":
                    text = datetime.datetime.now(datetime.timezone.utc).isoformat()
                else:
                    text = flatten(await session.call_tool(block.name, block.input))
                answers.append({"type": "tool_result", "tool_use_id": block.id, "content": text})
            messages.append({"role": "user", "content": answers})
    return "no answer after 8 turns"


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
