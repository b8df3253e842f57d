"""pydantic-ai agent with a stdio toolset (sandboxed Python) and an HTTP toolset."""

import asyncio
from pathlib import Path

from cfmigrate.runtime import CodeMode
from pydantic_ai import Agent, Tool
from pydantic_ai.mcp import MCPServerStdio, MCPServerStreamableHTTP

code_mode = CodeMode(
    servers_dir=Path(__file__).resolve().parents[1] / "servers",
    config=Path(__file__).resolve().parents[1] / ".mcp.json",
)

run_python = MCPServerStdio("deno", args=["run", "-N", "jsr:@pydantic/mcp-run-python", "stdio"], timeout=10)
calendar_server = MCPServerStreamableHTTP("http://localhost:9000/mcp", headers={"X-Api-Key": "set-me"})


async def execute_code(code: str) -> str:
    """Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error)."""
    return (await code_mode.handle_tool_use("execute_code", {"code": code})).text


agent = Agent(
    "anthropic:claude-sonnet-4-0",
    tools=[Tool(execute_code, takes_ctx=False)],
    system_prompt=code_mode.system_prompt() + "\n\nPlan the user's week. Use Python for date arithmetic.",
)


async def main() -> None:
    async with agent:
        result = await agent.run("How many working days until the 1st of March?")
    print(result.output)


if __name__ == "__main__":
    asyncio.run(main())
