"""Help-desk operator on the OpenAI Agents SDK: every tool call is approved by the on-duty operator.

The run pauses with interruptions; `approve()` stands in for the operator's decision (approve triage
actions, reject anything destructive). Usage: python ops_agent.py "<task>"
"""

import asyncio
import sys

from agents import Agent, Runner
from agents.mcp import MCPServerStdio, create_static_tool_filter

DESTRUCTIVE = ("delete_ticket", "close_ticket")


def approve(tool_name: str) -> bool:
    return tool_name not in DESTRUCTIVE


async def main(task: str) -> None:
    async with MCPServerStdio(
        name="helpdesk",
        params={
            "command": "python",
            "args": ["mcp_servers/helpdesk_server.py"],
            "env": {"HELPDESK_DATA": "data/helpdesk.json"},
        },
        tool_filter=create_static_tool_filter(blocked_tool_names=["delete_ticket"]),
        require_approval="always",
    ) as helpdesk:
        await helpdesk.call_tool(
            "create_ticket", {"title": "Projector in room 7 flickers", "body": "Since 10:15."}
        )
        agent = Agent(
            name="Operator",
            instructions="You run the help desk queue. Triage the newest open ticket.",
            mcp_servers=[helpdesk],
            model="gpt-5",
        )
        result = await Runner.run(agent, task)
        while result.interruptions:
            state = result.to_state()
            for item in result.interruptions:
                if approve(item.tool_name or item.raw_item.name):
                    state.approve(item)
                else:
                    state.reject(item)
            result = await Runner.run(agent, state)
        print(result.final_output)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
