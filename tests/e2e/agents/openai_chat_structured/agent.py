"""Help-desk triage agent: OpenAI Chat Completions + one stdio MCP server, structured results forwarded.

Usage: python agent.py "<task>"   (OPENAI_BASE_URL / OPENAI_API_KEY as usual)
"""

import asyncio
import json
import sys
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from openai import AsyncOpenAI

HERE = Path(__file__).resolve().parent
MODEL = "gpt-5-mini"
SYSTEM = "You triage the help desk's tickets. Look tickets up before you change them; answer in one sentence."


def server_params() -> StdioServerParameters:
    spec = json.loads((HERE / ".mcp.json").read_text())["mcpServers"]["helpdesk"]
    return StdioServerParameters(
        command=spec["command"], args=spec.get("args", []), env=spec.get("env"), cwd=str(HERE)
    )


async def run(task: str) -> str:
    llm = AsyncOpenAI()
    async with stdio_client(server_params()) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        # The on-call alert opens a ticket before the model is asked anything.
        await session.call_tool(
            "create_ticket",
            {"title": "Badge reader at door B is dead", "body": "Reported by security at 07:40."},
        )
        listing = await session.list_tools()
        tools = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description or "",
                    "parameters": t.input_schema,
                },
            }
            for t in listing.tools
        ]
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task}]
        for _ in range(10):
            completion = await llm.chat.completions.create(
                model=MODEL, messages=messages, tools=tools, max_completion_tokens=2048
            )
            message = completion.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                result = await session.call_tool(call.function.name, json.loads(call.function.arguments))
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": json.dumps(result.structured_content),
                    }
                )
    return "no answer after 10 rounds"


if __name__ == "__main__":
    print(asyncio.run(run(sys.argv[1])))
