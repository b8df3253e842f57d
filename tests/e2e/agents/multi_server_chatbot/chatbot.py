"""Support chatbot over several MCP servers; each tool is routed to the session that offers it.

Usage: python chatbot.py "question"
"""

import asyncio
import json
import sys
from contextlib import AsyncExitStack
from typing import Any

from anthropic import Anthropic
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

CONFIG = "servers_config.json"


class ChatSession:
    def __init__(self, config_path: str) -> None:
        self.config_path = config_path
        self.exit_stack = AsyncExitStack()
        self.sessions: dict[str, ClientSession] = {}
        self.available_tools: list[dict[str, Any]] = []
        self.llm = Anthropic()

    async def connect_to_servers(self) -> None:
        with open(self.config_path) as f:
            config = json.load(f)
        for name, spec in config["mcpServers"].items():
            params = StdioServerParameters(command=spec["command"], args=spec["args"], env=spec.get("env"))
            read, write = await self.exit_stack.enter_async_context(stdio_client(params))
            session = await self.exit_stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            response = await session.list_tools()
            for tool in response.tools:
                self.sessions[tool.name] = session
                self.available_tools.append(
                    {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
                )
            print(f"connected to {name}: {len(response.tools)} tools")

    async def seed(self) -> None:
        await self.sessions["create_ticket"].call_tool(
            "create_ticket", {"title": "Password reset emails are delayed", "body": "From the status page."}
        )

    async def chat(self, query: str) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": query}]
        while True:
            response = self.llm.messages.create(
                model="claude-opus-5",
                max_tokens=1500,
                system="You are a support engineer's assistant with helpdesk and knowledge-base tools.",
                messages=messages,
                tools=self.available_tools,
            )
            messages.append({"role": "assistant", "content": response.content})
            if response.stop_reason != "tool_use":
                return "\n".join(b.text for b in response.content if b.type == "text")
            tool_results = []
            for use in response.content:
                if use.type != "tool_use":
                    continue
                session = self.sessions[use.name]
                result = await session.call_tool(use.name, use.input)
                tool_results.append({"type": "tool_result", "tool_use_id": use.id, "content": result.content[0].text})
            messages.append({"role": "user", "content": tool_results})

    async def cleanup(self) -> None:
        await self.exit_stack.aclose()


async def main() -> None:
    chat = ChatSession(CONFIG)
    try:
        await chat.connect_to_servers()
        await chat.seed()
        print(await chat.chat(sys.argv[1]))
    finally:
        await chat.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
