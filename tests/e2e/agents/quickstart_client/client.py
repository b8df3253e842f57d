"""Helpdesk assistant in the shape of the official MCP quickstart client (mcp 2.x `Client`).

Usage: python client.py "Triage the newest ticket"
"""

import asyncio
import sys
from contextlib import AsyncExitStack

from anthropic import Anthropic
from mcp import Client, StdioServerParameters

SERVER_SCRIPT = "mcp_servers/helpdesk_server.py"
MODEL = "claude-sonnet-5"


class MCPClient:
    def __init__(self) -> None:
        self.client: Client | None = None
        self.exit_stack = AsyncExitStack()
        self.anthropic = Anthropic()

    async def connect_to_server(self, server_script_path: str) -> None:
        server_params = StdioServerParameters(
            command="python", args=[server_script_path], env={"HELPDESK_DATA": "data/helpdesk.json"}
        )
        self.client = await self.exit_stack.enter_async_context(Client(server_params))
        response = await self.client.list_tools()
        print("Connected to server with tools:", [tool.name for tool in response.tools])
        # The night shift's report arrives before anyone talks to the assistant.
        await self.client.call_tool(
            "create_ticket", {"title": "Printer on floor 3 jams", "body": "Reported by the night shift."}
        )

    async def process_query(self, query: str) -> str:
        messages = [{"role": "user", "content": query}]
        response = await self.client.list_tools()
        available_tools = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
            for tool in response.tools
        ]
        final_text = []
        while True:
            response = self.anthropic.messages.create(
                model=MODEL, max_tokens=1000, messages=messages, tools=available_tools
            )
            assistant_content = []
            tool_results = []
            for content in response.content:
                if content.type == "text":
                    final_text.append(content.text)
                    assistant_content.append(content)
                elif content.type == "tool_use":
                    result = await self.client.call_tool(content.name, content.input)
                    final_text.append(f"[Calling tool {content.name} with args {content.input}]")
                    assistant_content.append(content)
                    tool_results.append(
                        {"type": "tool_result", "tool_use_id": content.id, "content": result.content[0].text}
                    )
            messages.append({"role": "assistant", "content": assistant_content})
            if not tool_results:
                return "\n".join(final_text)
            messages.append({"role": "user", "content": tool_results})

    async def cleanup(self) -> None:
        await self.exit_stack.aclose()


async def main() -> None:
    client = MCPClient()
    try:
        await client.connect_to_server(SERVER_SCRIPT)
        print(await client.process_query(sys.argv[1]))
    finally:
        await client.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
