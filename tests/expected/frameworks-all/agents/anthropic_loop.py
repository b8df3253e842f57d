"""Anthropic Messages API tool loop over one stdio MCP server (mcp 1.x ClientSession + stdio_client)."""

import asyncio
import os
import sys
from contextlib import AsyncExitStack
from pathlib import Path

from anthropic import Anthropic
from cfmigrate.runtime import CodeMode, Policy
from mcp import StdioServerParameters
from servers.weather import get_alerts, get_forecast

MODEL = "claude-sonnet-4-5"
SYSTEM_PROMPT = (
    "You are a weather assistant. Use the tools to look up forecasts and alerts, "
    "and answer in two sentences."
)


class WeatherAgent:
    def __init__(self) -> None:
        self.exit_stack = AsyncExitStack()
        self.anthropic = Anthropic()

    async def connect(self) -> None:
        weather_params = StdioServerParameters(
            command="python",
            args=["mcp_servers/weather_server.py"],
            env={"WEATHER_API_KEY": os.environ["WEATHER_API_KEY"], "LOG_LEVEL": "info"},
        )
        self.code_mode = await self.exit_stack.enter_async_context(
            CodeMode(
                servers_dir=Path(__file__).resolve().parents[1] / "servers",
                config=Path(__file__).resolve().parents[1] / ".mcp.json",
                launches={
                    "weather": weather_params,
                },
                policy=Policy(destructive="allow"),
            )
        )

    async def ask(self, query: str) -> str:
        tools = self.code_mode.tool_definitions("anthropic")
        messages = [{"role": "user", "content": query}]
        while True:
            response = self.anthropic.messages.create(
                model=MODEL, max_tokens=1024, system=self.code_mode.system_prompt() + "\n\n" + SYSTEM_PROMPT, messages=messages, tools=tools
            )
            if response.stop_reason != "tool_use":
                return "".join(block.text for block in response.content if block.type == "text")
            messages.append({"role": "assistant", "content": response.content})
            results = []
            for block in response.content:
                if block.type == "tool_use":
                    result = await self.code_mode.handle_tool_use(block.name, block.input)
                    results.append(
                        {"type": "tool_result", "tool_use_id": block.id, "content": result.content[0].text}
                    )
            messages.append({"role": "user", "content": results})

    async def morning_briefing(self, city: str) -> str:
        alerts = await get_alerts(state="CA")
        forecast = await get_forecast(city=city, days=1)
        return f"{alerts.content[0].text}\n{forecast.content[0].text}"

    async def close(self) -> None:
        await self.exit_stack.aclose()


async def main() -> None:
    agent = WeatherAgent()
    try:
        await agent.connect()
        print(await agent.ask(" ".join(sys.argv[1:]) or "Will it rain in Paris tomorrow?"))
    finally:
        await agent.close()


if __name__ == "__main__":
    asyncio.run(main())
