"""Sales-ops agent: moves meeting transcripts from Google Drive to Salesforce and tells the team in Slack.

Usage: python agent.py "Get the Acme discovery call transcript from Drive, attach it to the lead, notify Slack."
"""

import asyncio
import json
import os
import re
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anthropic
from cfmigrate.runtime import CodeMode
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

MODEL = "claude-sonnet-4-6"
MAX_TOKENS = 4096
MAX_TURNS = 25
HERE = Path(__file__).resolve().parent
CONFIG_PATH = HERE / ".mcp.json"

SYSTEM_PROMPT = """You are the sales-operations assistant of Northwind Robotics, working for the West region
account team. You act on the team's behalf in three systems through tools: Google Drive (documents,
meeting transcripts, proposals), Salesforce (leads, notes, tasks, calls, accounts, opportunities) and
Slack (team channels).

How to work:
- Look things up before you change them. Find files with search_files and records with find_lead or
  find_contact; never guess an id.
- When the user refers to a meeting, the transcript is a Google Doc in the customer's folder under
  "Customer Meetings". Read it with get_document.
- When you attach a document to a Salesforce record, attach the complete text exactly as you read it.
  Do not summarise, shorten or reformat transcripts: the account team, legal and the customer success
  handover all rely on the full record.
- Meeting notes belong on the lead while the lead is not converted; after conversion they go on the
  contact.
- Slack messages to #sales-updates are short: who, what happened, where the details are (the lead
  link), and the next step. Never paste long documents into Slack.
- Never share customer documents outside northwind-robotics.com unless the user asks explicitly.
- If a tool returns an error, read it, fix the call and try again; tell the user if you cannot.
- When the task is done, reply with a short summary of what you did, with record ids.

Tools available:
{tool_list}
"""


def expand_env(values: dict[str, str]) -> dict[str, str]:
    """Resolve ${VAR} references from .mcp.json; variables that are not set are left out."""
    resolved = {}
    for key, value in values.items():
        names = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", value)
        if any(name not in os.environ for name in names):
            continue
        resolved[key] = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: os.environ[m.group(1)], value)
    return resolved


def load_servers(path: Path = CONFIG_PATH) -> dict[str, StdioServerParameters]:
    """Read the MCP servers from the project's .mcp.json."""
    config = json.loads(path.read_text())
    return {
        name: StdioServerParameters(
            command=spec["command"],
            args=spec.get("args", []),
            env=expand_env(spec.get("env", {})),
            cwd=str(HERE),
        )
        for name, spec in config["mcpServers"].items()
    }


def describe(tools: list[dict]) -> str:
    """One entry per tool for the system prompt: its name and first paragraph."""
    lines = []
    for tool in tools:
        summary = " ".join(tool["description"].split("\n\n")[0].split())
        lines.append(f"- {tool['name']}: {summary}")
    return "\n".join(lines)


async def run(task: str) -> str:
    """Carry out one task with Claude and the MCP tools; return Claude's final answer."""
    client = anthropic.AsyncAnthropic()
    async with AsyncExitStack() as stack:
        code_mode = await stack.enter_async_context(
            CodeMode(
                servers_dir=Path(__file__).with_name("servers"),
                config=Path(__file__).with_name(".mcp.json"),
            )
        )
        sessions = {}
        tools = code_mode.tool_definitions("anthropic")
        for params in load_servers().values():
            read, write = await stack.enter_async_context(stdio_client(params))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            listing = await session.list_tools()
            for t in listing.tools:
                sessions[t.name] = session

        system = code_mode.system_prompt()
        messages = [{"role": "user", "content": task}]
        for _ in range(MAX_TURNS):
            response = await client.messages.create(
                model=MODEL,
                max_tokens=MAX_TOKENS,
                system=system,
                tools=tools,
                messages=messages,
            )
            messages.append({"role": "assistant", "content": response.content})
            if response.stop_reason != "tool_use":
                return "".join(block.text for block in response.content if block.type == "text")

            tool_results = []
            for block in response.content:
                if block.type != "tool_use":
                    continue
                result = await code_mode.handle_tool_use(block.name, block.input)
                tool_results.append(
                    {
                        "type": "tool_result",
                        "tool_use_id": block.id,
                        "content": result.content[0].text,
                        "is_error": result.is_error,
                    }
                )
            messages.append({"role": "user", "content": tool_results})
    raise RuntimeError(f"no final answer after {MAX_TURNS} model turns")


def main() -> None:
    if len(sys.argv) != 2 or not sys.argv[1].strip():
        sys.exit('usage: python agent.py "<task>"')
    print(asyncio.run(run(sys.argv[1])))


if __name__ == "__main__":
    main()
