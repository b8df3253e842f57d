"""Help-desk triage with the OpenAI Agents SDK: one stdio MCP server, destructive tools filtered out.

Usage: python triage_agent.py "<task>"
"""

import asyncio
import sys

from agents import Agent, Runner
from agents.mcp import MCPServerStdio, create_static_tool_filter

NEVER = ["delete_ticket", "close_ticket"]


async def main(task: str) -> None:
    async with MCPServerStdio(
        name="helpdesk",
        params={
            "command": "python",
            "args": ["mcp_servers/helpdesk_server.py"],
            "env": {"HELPDESK_DATA": "data/helpdesk.json"},
        },
        tool_filter=create_static_tool_filter(blocked_tool_names=NEVER),
        cache_tools_list=True,
    ) as helpdesk:
        # The pager opens a ticket before the agent is asked anything.
        await helpdesk.call_tool(
            "create_ticket", {"title": "Coffee machine leaks", "body": "Kitchen, 2nd floor."}
        )
        agent = Agent(
            name="Triage",
            instructions="You triage the help desk queue. Act on the newest open ticket only.",
            mcp_servers=[helpdesk],
            model="gpt-5-mini",
        )
        result = await Runner.run(agent, task)
        print(result.final_output)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
