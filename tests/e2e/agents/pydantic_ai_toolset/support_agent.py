"""Help-desk triage with pydantic-ai: the MCP server is a toolset of the agent (Chat Completions model).

Usage: python support_agent.py "<task>"
"""

import asyncio
import sys

from fastmcp.client.transports import StdioTransport
from pydantic_ai import Agent
from pydantic_ai.mcp import MCPToolset

helpdesk = MCPToolset(
    StdioTransport(
        command="python", args=["mcp_servers/helpdesk_server.py"], env={"HELPDESK_DATA": "data/helpdesk.json"}
    ),
    init_timeout=60,
)
agent = Agent(
    "openai-chat:gpt-5-mini",
    instructions="You triage the help desk queue: the newest open ticket first.",
    toolsets=[helpdesk],
)


async def main(task: str) -> None:
    async with agent:
        # The monitoring hook files a ticket before the agent is asked anything.
        await helpdesk.direct_call_tool(
            "create_ticket", {"title": "Wi-Fi down in lab 2", "body": "All devices."}
        )
        result = await agent.run(task)
        print(result.output)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
