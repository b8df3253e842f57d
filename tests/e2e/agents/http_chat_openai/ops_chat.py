"""Ops chat on OpenAI Chat Completions against the help desk's MCP server over streamable HTTP.

The server runs on its own (`python mcp_servers/helpdesk_http.py`); the system message lists the
tools by name and description; tool results go back as JSON of their content blocks.
Usage: python ops_chat.py "<task>"
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from openai import AsyncOpenAI

HELPDESK_URL = "http://127.0.0.1:38765/mcp"
ROLE = "You are the operations chat assistant. Be brief and use tools for every lookup."


async def chat(task: str) -> str:
    openai = AsyncOpenAI()
    async with streamable_http_client(HELPDESK_URL) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool("create_ticket", {"title": "Wiki search returns nothing", "body": "Since 09:00."})
            listed = (await session.list_tools()).tools
            catalog = "\n".join(f"- {t.name}: {t.description}" for t in listed)
            tools = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
                }
                for t in listed
            ]
            messages = [
                {"role": "system", "content": f"{ROLE}\n\nAvailable tools:\n{catalog}"},
                {"role": "user", "content": task},
            ]
            for _ in range(10):
                response = await openai.chat.completions.create(
                    model="gpt-5", messages=messages, tools=tools, tool_choice="auto"
                )
                choice = response.choices[0]
                if choice.finish_reason != "tool_calls":
                    return choice.message.content or ""
                messages.append(choice.message.model_dump(exclude_none=True))
                for call in choice.message.tool_calls:
                    result = await session.call_tool(call.function.name, json.loads(call.function.arguments))
                    payload = [block.model_dump(mode="json") for block in result.content]
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(payload)})
    return "no answer"


if __name__ == "__main__":
    print(asyncio.run(chat(sys.argv[1])))
