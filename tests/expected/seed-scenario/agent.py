"""Sales-ops agent: moves meeting transcripts from Google Drive to Salesforce and tells the team in Slack.

Usage: python agent.py "Get the Acme discovery call transcript from Drive, attach it to the lead, notify Slack."
"""

import asyncio
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import anthropic
from cfmigrate.runtime import CodeMode, Policy

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

{tool_list}
"""


async def run(task: str) -> str:
    """Carry out one task with Claude and the MCP tools; return Claude's final answer."""
    client = anthropic.AsyncAnthropic()
    async with AsyncExitStack() as stack:
        code_mode = await stack.enter_async_context(
            CodeMode(
                servers_dir=Path(__file__).with_name("servers"),
                config=Path(__file__).with_name(".mcp.json"),
                policy=Policy(destructive="allow"),
            )
        )
        tools = code_mode.tool_definitions("anthropic")

        system = SYSTEM_PROMPT.format(tool_list=code_mode.system_prompt())
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
