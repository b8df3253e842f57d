"""Support desk agent: the help-desk server is a module of backend/, started with this interpreter.

The server runs as `python -m helpdesk_pkg.server` with backend/ as its working directory, so its
relative data path (state/helpdesk.json) lands in backend/state/.
Usage: python desk.py "<task>"
"""

import asyncio
import sys
from pathlib import Path

from anthropic import AsyncAnthropic
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

BACKEND = Path(__file__).parent / "backend"
DESK = StdioServerParameters(
    command=sys.executable,
    args=["-m", "helpdesk_pkg.server"],
    cwd=BACKEND,
    env={"HELPDESK_DATA": "state/helpdesk.json"},
)
PROMPT = "You work the support desk. Act on the newest open ticket."


async def work(task: str) -> str:
    anthropic = AsyncAnthropic()
    async with stdio_client(DESK) as (read, write):
        async with ClientSession(read, write) as desk:
            await desk.initialize()
            # The escalation bot files a ticket before anyone asks the agent.
            await desk.call_tool("create_ticket", {"title": "Label printer offline", "body": "Warehouse B."})
            catalog = await desk.list_tools()
            tools = [
                {"name": t.name, "description": t.description or "", "input_schema": t.input_schema}
                for t in catalog.tools
            ]
            history = [{"role": "user", "content": task}]
            for _ in range(10):
                reply = await anthropic.messages.create(
                    model="claude-sonnet-5", max_tokens=1024, system=PROMPT, tools=tools, messages=history
                )
                history.append({"role": "assistant", "content": reply.content})
                asked = [b for b in reply.content if b.type == "tool_use"]
                if not asked:
                    return "".join(b.text for b in reply.content if b.type == "text")
                answers = []
                for call in asked:
                    outcome = await desk.call_tool(call.name, call.input)
                    text = "\n".join(c.text for c in outcome.content if c.type == "text")
                    answers.append({"type": "tool_result", "tool_use_id": call.id, "content": text})
                history.append({"role": "user", "content": answers})
            return "gave up after 10 turns"


if __name__ == "__main__":
    print(asyncio.run(work(sys.argv[1])))
