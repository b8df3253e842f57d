"""Local-model help-desk agent: an OpenAI-compatible endpoint (Ollama, vLLM, LM Studio) over plain httpx.

Messages and tool calls stay plain dicts, as the endpoint returns them.
Usage: LLM_BASE_URL=http://localhost:11434/v1 python agent.py "<task>"
"""

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
from mcp import Client, StdioServerParameters

BASE_URL = os.environ.get("LLM_BASE_URL", "http://localhost:11434/v1")
API_KEY = os.environ.get("LLM_API_KEY", "ollama")
MODEL = os.environ.get("LLM_MODEL", "qwen3:8b")
SERVER = StdioServerParameters(
    command="python",
    args=["mcp_servers/helpdesk_server.py"],
    env={"HELPDESK_DATA": "data/helpdesk.json"},
    cwd=Path(__file__).parent,
)


async def chat(http: httpx.AsyncClient, messages: list[dict], tools: list[dict]) -> dict:
    reply = await http.post(
        f"{BASE_URL}/chat/completions",
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"model": MODEL, "messages": messages, "tools": tools, "stream": False, "max_tokens": 1500},
    )
    reply.raise_for_status()
    return reply.json()["choices"][0]["message"]


async def main(question: str) -> str:
    async with Client(SERVER) as mcp, httpx.AsyncClient(timeout=120) as http:
        await mcp.call_tool(
            "create_ticket", {"title": "Laptop fan is loud", "body": "Desk 12, since this morning."}
        )
        tools = []
        for tool in (await mcp.list_tools()).tools:
            tools.append(
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.input_schema,
                    },
                }
            )
        messages = [{"role": "user", "content": question}]
        while True:
            message = await chat(http, messages, tools)
            messages.append(message)
            if not message.get("tool_calls"):
                return message.get("content") or ""
            for call in message["tool_calls"]:
                arguments = call["function"]["arguments"]
                if isinstance(arguments, str):
                    arguments = json.loads(arguments)
                result = await mcp.call_tool(call["function"]["name"], arguments)
                text = "\n".join(block.text for block in result.content if block.type == "text")
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": text})


if __name__ == "__main__":
    print(asyncio.run(main(sys.argv[1])))
