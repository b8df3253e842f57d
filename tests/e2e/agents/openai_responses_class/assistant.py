"""Help-desk assistant on the OpenAI Responses API, with a connect/cleanup lifecycle around one MCP server.

Usage: python assistant.py "<task>"
"""

import asyncio
import json
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from openai import AsyncOpenAI

HERE = Path(__file__).resolve().parent
INSTRUCTIONS = "You are the help desk's assistant. Check the queue before acting; keep answers short."


class HelpDeskAssistant:
    def __init__(self, model: str = "gpt-5") -> None:
        self.model = model
        self.llm = AsyncOpenAI()
        self.exit_stack = AsyncExitStack()
        self.session: ClientSession | None = None
        self.tools: list[dict] = []

    async def connect(self) -> None:
        spec = json.loads((HERE / ".mcp.json").read_text())["mcpServers"]["helpdesk"]
        params = StdioServerParameters(
            command=spec["command"], args=spec["args"], env=spec["env"], cwd=str(HERE)
        )
        read, write = await self.exit_stack.enter_async_context(stdio_client(params))
        self.session = await self.exit_stack.enter_async_context(ClientSession(read, write))
        await self.session.initialize()
        await self.session.call_tool(
            "create_ticket", {"title": "VPN drops every hour", "body": "Since the Monday update."}
        )
        response = await self.session.list_tools()
        self.tools = [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.input_schema,
            }
            for tool in response.tools
        ]

    async def ask(self, question: str) -> str:
        items: list = [{"role": "user", "content": question}]
        for _ in range(10):
            response = await self.llm.responses.create(
                model=self.model,
                instructions=INSTRUCTIONS,
                input=items,
                tools=self.tools,
                max_output_tokens=4096,
            )
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                return response.output_text
            items.extend(item.model_dump(exclude_none=True) for item in response.output)
            for call in calls:
                result = await self.session.call_tool(call.name, json.loads(call.arguments))
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": call.call_id,
                        "output": result.content[0].text,
                    }
                )
        return "no answer after 10 rounds"

    async def cleanup(self) -> None:
        await self.exit_stack.aclose()


async def main(question: str) -> None:
    assistant = HelpDeskAssistant()
    try:
        await assistant.connect()
        print(await assistant.ask(question))
    finally:
        await assistant.cleanup()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
