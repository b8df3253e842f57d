"""OpenAI Chat Completions loop over a streamable-HTTP MCP server (mcp 2.x high-level Client)."""

import asyncio
import json
from pathlib import Path

from cfmigrate.runtime import CodeMode, Policy
from openai import AsyncOpenAI
from servers.notes import add_note

NOTES_URL = "http://localhost:8765/mcp"


async def run(question: str) -> str:
    llm = AsyncOpenAI()
    async with CodeMode(
        servers_dir=Path(__file__).resolve().parents[1] / "servers",
        config=Path(__file__).resolve().parents[1] / ".mcp.json",
        launches={
            "notes": NOTES_URL,
        },
        policy=Policy(destructive="allow"),
    ) as code_mode:
        tools = code_mode.tool_definitions("openai")
        messages = [
            {"role": "system", "content": code_mode.system_prompt() + "\n\nYou keep the user's notes. Prefer search before creating a note."},
            {"role": "user", "content": question},
        ]
        for _ in range(8):
            completion = await llm.chat.completions.create(model="gpt-4.1-mini", messages=messages, tools=tools)
            message = completion.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                result = await code_mode.handle_tool_use(call.function.name, json.loads(call.function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content[0].text})
        await add_note(title="unanswered", body=question)
        return "gave up after 8 rounds"


if __name__ == "__main__":
    print(asyncio.run(run("What did I write about the Q3 offsite?")))
