"""A synchronous support bot: the OpenAI client is blocking, MCP runs behind an anyio blocking portal.

Each MCP coroutine is driven with `portal.call(...)`; tools are converted by `to_openai`;
one tool call per model turn (`parallel_tool_calls=False`).
Usage: python support_bot.py "<task>"
"""

import json
import sys

from anyio.from_thread import start_blocking_portal
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from openai import OpenAI

PARAMS = StdioServerParameters(
    command="python", args=["mcp_servers/helpdesk_server.py"], env={"HELPDESK_DATA": "data/helpdesk.json"}
)
SYSTEM = "You are a support bot for the IT help desk. Keep answers short."


def to_openai(tool) -> dict:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description or "", "parameters": tool.input_schema},
    }


def main(task: str) -> str:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(stdio_client(PARAMS)) as (read, write),
        portal.wrap_async_context_manager(ClientSession(read, write)) as session,
    ):
        portal.call(session.initialize)
        portal.call(session.call_tool, "create_ticket", {"title": "Headset mic crackles", "body": "Seat 14B."})
        tools = [to_openai(t) for t in portal.call(session.list_tools).tools]
        client = OpenAI()
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task}]
        for _ in range(12):
            completion = client.chat.completions.create(
                model="gpt-5-mini",
                messages=messages,
                tools=tools,
                tool_choice="auto",
                parallel_tool_calls=False,
            )
            message = completion.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                result = portal.call(session.call_tool, call.function.name, json.loads(call.function.arguments))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content[0].text})
        return "no answer"


if __name__ == "__main__":
    print(main(sys.argv[1]))
