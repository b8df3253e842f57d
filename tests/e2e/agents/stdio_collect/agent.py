"""Helpdesk triage agent: mcp `ClientSession` over `stdio_client`, servers from .mcp.json.

The tool-use blocks of each response are collected first, then answered in one user turn.
Usage: python agent.py "task"
"""

import asyncio
import json
import sys
from pathlib import Path

import anthropic
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

HERE = Path(__file__).resolve().parent
MODEL = "claude-sonnet-5"
SYSTEM = "You are the helpdesk triage assistant. Use the tools; never invent ticket ids."


def server_params(name: str) -> StdioServerParameters:
    spec = json.loads((HERE / ".mcp.json").read_text())["mcpServers"][name]
    return StdioServerParameters(
        command=spec["command"], args=spec.get("args", []), env=spec.get("env"), cwd=str(HERE)
    )


async def run(task: str) -> str:
    client = anthropic.AsyncAnthropic()
    async with stdio_client(server_params("helpdesk")) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool(
                "create_ticket", {"title": "VPN drops every hour", "body": "Opened by the on-call engineer."}
            )
            listed = await session.list_tools()
            tools = [
                {"name": t.name, "description": t.description or "", "input_schema": t.input_schema}
                for t in listed.tools
            ]
            messages = [{"role": "user", "content": task}]
            for _ in range(10):
                response = await client.messages.create(
                    model=MODEL, max_tokens=2048, system=SYSTEM, tools=tools, messages=messages
                )
                messages.append({"role": "assistant", "content": response.content})
                uses = [b for b in response.content if b.type == "tool_use"]
                if not uses:
                    return "".join(b.text for b in response.content if b.type == "text")
                results = []
                for use in uses:
                    result = await session.call_tool(use.name, use.input)
                    results.append(
                        {
                            "type": "tool_result",
                            "tool_use_id": use.id,
                            "content": [{"type": "text", "text": c.text} for c in result.content],
                            "is_error": result.is_error,
                        }
                    )
                messages.append({"role": "user", "content": results})
    return "gave up after 10 turns"


if __name__ == "__main__":
    print(asyncio.run(run(sys.argv[1])))
