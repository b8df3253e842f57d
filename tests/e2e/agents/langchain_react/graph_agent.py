"""Help-desk triage as a LangGraph ReAct agent over langchain-mcp-adapters.

Usage: python graph_agent.py "<task>"
"""

import asyncio
import sys

from langchain_mcp_adapters.client import MultiServerMCPClient
from langchain_openai import ChatOpenAI
from langgraph.prebuilt import create_react_agent

SERVERS = {
    "helpdesk": {
        "command": "python",
        "args": ["mcp_servers/helpdesk_server.py"],
        "env": {"HELPDESK_DATA": "data/helpdesk.json"},
        "transport": "stdio",
    }
}


async def main(task: str) -> None:
    client = MultiServerMCPClient(SERVERS)
    async with client.session("helpdesk") as session:
        # The nightly sync files a ticket before anyone asks the agent.
        await session.call_tool(
            "create_ticket", {"title": "Shared drive is read-only", "body": "Finance team."}
        )
    tools = await client.get_tools()
    agent = create_react_agent(ChatOpenAI(model="gpt-5-mini"), tools)
    result = await agent.ainvoke({"messages": [("user", task)]})
    print(result["messages"][-1].content)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
