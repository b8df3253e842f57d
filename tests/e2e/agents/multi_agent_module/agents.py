"""Two specialist agents over the helpdesk server and an orchestrator that routes a request to one.

Usage: python agents.py "task"
"""

import asyncio
import sys
from typing import Any

from anthropic import AsyncAnthropic
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HELPDESK = StdioServerParameters(
    command="python", args=["mcp_servers/helpdesk_server.py"], env={"HELPDESK_DATA": "data/helpdesk.json"}
)
llm = AsyncAnthropic()


async def tool_specs(session: ClientSession) -> list[dict[str, Any]]:
    listed = await session.list_tools()
    return [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in listed.tools]


async def support_agent(session: ClientSession, task: str) -> str:
    """Handles incidents: triage, comments, priorities."""
    tools = await tool_specs(session)
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    while True:
        response = await llm.messages.create(
            model="claude-sonnet-5", max_tokens=1024, system="You triage incidents.", tools=tools, messages=messages
        )
        messages.append({"role": "assistant", "content": response.content})
        if response.stop_reason != "tool_use":
            return response.content[-1].text
        results = []
        for block in response.content:
            if block.type == "tool_use":
                result = await session.call_tool(block.name, block.input)
                results.append({"type": "tool_result", "tool_use_id": block.id, "content": result.content[0].text})
        messages.append({"role": "user", "content": results})


async def reporting_agent(session: ClientSession, task: str) -> str:
    """Answers questions about ticket volumes."""
    tools = await tool_specs(session)
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    while True:
        response = await llm.messages.create(
            model="claude-sonnet-5", max_tokens=1024, system="You report on tickets.", tools=tools, messages=messages
        )
        messages.append({"role": "assistant", "content": response.content})
        if response.stop_reason != "tool_use":
            return response.content[-1].text
        results = []
        for block in response.content:
            if block.type == "tool_use":
                result = await session.call_tool(block.name, block.input)
                results.append({"type": "tool_result", "tool_use_id": block.id, "content": result.content[0].text})
        messages.append({"role": "user", "content": results})


async def orchestrator(task: str) -> str:
    async with stdio_client(HELPDESK) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.call_tool("create_ticket", {"title": "Wi-Fi slow in meeting rooms", "body": "Since Monday."})
        if "report" in task.lower():
            return await reporting_agent(session, task)
        return await support_agent(session, task)


if __name__ == "__main__":
    print(asyncio.run(orchestrator(sys.argv[1])))
