"""Course-style multi-server chatbot: one `connect_to_server` per config entry, a tool -> session table.

Usage: python mcp_chatbot.py "question"
"""

import asyncio
import json
import sys
from contextlib import AsyncExitStack
from typing import Dict, List, TypedDict

from anthropic import Anthropic
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


class ToolDefinition(TypedDict):
    name: str
    description: str
    input_schema: dict


class MCP_ChatBot:
    def __init__(self):
        self.sessions: List[ClientSession] = []
        self.exit_stack = AsyncExitStack()
        self.anthropic = Anthropic()
        self.available_tools: List[ToolDefinition] = []
        self.tool_to_session: Dict[str, ClientSession] = {}

    async def connect_to_server(self, server_name: str, server_config: dict) -> None:
        try:
            server_params = StdioServerParameters(**server_config)
            stdio_transport = await self.exit_stack.enter_async_context(stdio_client(server_params))
            read, write = stdio_transport
            session = await self.exit_stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            self.sessions.append(session)
            response = await session.list_tools()
            tools = response.tools
            print(f"Connected to {server_name} with tools:", [t.name for t in tools])
            for tool in tools:
                self.tool_to_session[tool.name] = session
                self.available_tools.append(
                    {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
                )
        except Exception as e:
            print(f"Failed to connect to {server_name}: {e}")

    async def connect_to_servers(self) -> None:
        try:
            with open("server_config.json", "r") as file:
                data = json.load(file)
            servers = data.get("mcpServers", {})
            for server_name, server_config in servers.items():
                await self.connect_to_server(server_name, server_config)
        except Exception as e:
            print(f"Error loading server configuration: {e}")
            raise

    async def file_night_report(self) -> None:
        await self.tool_to_session["create_ticket"].call_tool(
            "create_ticket", arguments={"title": "Shared drive is read-only", "body": "Night shift report."}
        )

    async def process_query(self, query: str) -> str:
        messages = [{"role": "user", "content": query}]
        while True:
            response = self.anthropic.messages.create(
                max_tokens=2024, model="claude-sonnet-5", tools=self.available_tools, messages=messages
            )
            messages.append({"role": "assistant", "content": response.content})
            calls = [content for content in response.content if content.type == "tool_use"]
            if not calls:
                return "".join(content.text for content in response.content if content.type == "text")
            results = []
            for content in calls:
                tool_name = content.name
                tool_args = content.input
                print(f"Calling tool {tool_name} with args {tool_args}")
                session = self.tool_to_session[tool_name]
                result = await session.call_tool(tool_name, arguments=tool_args)
                results.append({"type": "tool_result", "tool_use_id": content.id, "content": result.content[0].text})
            messages.append({"role": "user", "content": results})

    async def cleanup(self) -> None:
        await self.exit_stack.aclose()


async def main() -> None:
    chatbot = MCP_ChatBot()
    try:
        await chatbot.connect_to_servers()
        await chatbot.file_night_report()
        print(await chatbot.process_query(sys.argv[1]))
    finally:
        await chatbot.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
