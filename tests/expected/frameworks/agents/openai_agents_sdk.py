"""OpenAI Agents SDK: one stdio and one streamable-HTTP MCP server handed to an Agent."""

import asyncio

from agents import function_tool, Agent, Runner
from cfmigrate.runtime import CodeMode, Policy
from pathlib import Path


async def main() -> None:
    async with (
        CodeMode(
            servers_dir=Path(__file__).resolve().parents[1] / "servers",
            config=Path(__file__).resolve().parents[1] / ".mcp.json",
            policy=Policy(
                rules={
                    "filesystem_2/*": "deny",
                    "filesystem_2/list_directory": "allow",
                    "filesystem_2/read_file": "allow",
                }
            ),
        ) as code_mode,
    ):
        @function_tool
        async def execute_code(code: str) -> str:
            """Run a Python script in the code-mode sandbox; returns what it printed (a short traceback on error)."""
            return (await code_mode.handle_tool_use("execute_code", {"code": code})).text

        agent = Agent(
            name="Release notes writer",
            instructions=code_mode.system_prompt() + "\n\nRead the docs folder and the merged pull requests, then draft release notes.",
            tools=[execute_code],
            model="gpt-4.1",
        )
        result = await Runner.run(agent, "Draft the notes for v2.3")
        print(result.final_output)


if __name__ == "__main__":
    asyncio.run(main())
