"""The honesty check and the max_tokens cut of the scripted server, and the honest models' reading."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest
from support.honest_models import SeedCodeModel, learn_tools, next_steps
from support.honesty import HonestTurn, HonestyError, honesty_check, used_names
from support.scripted_api import ScriptedAPI, ToolCall, Turn

EXECUTE = {
    "name": "execute_code",
    "description": "Run Python in the sandbox.",
    "input_schema": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
}
SEARCH_OUTPUT = (
    "servers.crm.find_lead(query, [limit]) -> {records: [{id, name, company}]} - Find leads.\n"
    "servers.slack.post_message(channel, text) - Post a message."
)


def request(*results: str, system: str = "Use `from servers import search_tools`.") -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Find Dana's lead and tell #sales."}]
    for i, text in enumerate(results):
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": f"t{i}",
                        "name": "execute_code",
                        "input": {"code": "# step: discover\nx = 1"},
                    }
                ],
            }
        )
        messages.append(
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": text}]}
        )
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4096,
        "system": system,
        "tools": [EXECUTE],
        "messages": messages,
    }


def code_turn(code: str) -> Turn:
    return Turn("", (ToolCall("execute_code", {"code": code}),))


def test_code_using_only_what_was_shown_passes() -> None:
    code = (
        "from servers.crm import find_lead\nimport json\n"
        'leads = await find_lead(query="Dana", limit=3)\n'
        'lead = next(r for r in leads.structured_content["records"] if "acme" in r["company"].lower())\n'
        'print(json.dumps({"id": lead["id"]}, indent=2), sorted([1], key=abs))\n'
    )
    honesty_check(request(SEARCH_OUTPUT, system="Results have `.structured_content`."), code_turn(code))


@pytest.mark.parametrize(
    ("code", "unseen"),
    [
        ("from servers.crm import attach_note_to_lead\n", "imported name 'attach_note_to_lead'"),
        (
            "from servers.crm import find_lead\nawait find_lead(query='x', status='Open')\n",
            "keyword argument 'status'",
        ),
        (
            "from servers.crm import find_lead\nr = await find_lead(query='x')\nprint(r['total_size'])\n",
            "result field 'total_size'",
        ),
        (
            "from servers.crm import find_lead\nr = await find_lead(query='x')\nprint(r.get('owner_name'))\n",
            "result field 'owner_name'",
        ),
        ("from servers.hubspot import find_lead\n", "module 'hubspot'"),
        ("print(undefined_helper())\n", "name 'undefined_helper'"),
    ],
)
def test_code_using_anything_unseen_is_refused(code: str, unseen: str) -> None:
    with pytest.raises(HonestyError, match=unseen):
        honesty_check(request(SEARCH_OUTPUT), code_turn(code))


def test_direct_calls_must_name_an_offered_tool_and_its_schema_arguments() -> None:
    weather = {
        "name": "get_weather",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    body = {
        "model": "m",
        "max_tokens": 10,
        "tools": [weather],
        "messages": [{"role": "user", "content": "Reno?"}],
    }
    honesty_check(body, Turn("", (ToolCall("get_weather", {"city": "Reno"}),)))
    with pytest.raises(HonestyError, match="argument 'units'"):
        honesty_check(body, Turn("", (ToolCall("get_weather", {"city": "Reno", "units": "metric"}),)))
    with pytest.raises(HonestyError, match="tool 'get_forecast' is not offered"):
        honesty_check(body, Turn("", (ToolCall("get_forecast", {"city": "Reno"}),)))


def test_quoted_facts_must_be_in_the_request() -> None:
    body = request("note: 069X\nOne: Lena sends the report.")
    honesty_check(body, HonestTurn("ok", quotes=("069X", "Lena sends the report")))
    with pytest.raises(HonestyError, match="quoted fact"):
        honesty_check(body, HonestTurn("ok", quotes=("site visit on Friday",)))


def test_python_itself_needs_no_showing() -> None:
    code = "import asyncio, collections\nc = collections.Counter('ab')\nprint(', '.join(sorted(c)), asyncio.run)\n"
    assert used_names(code) == []


def test_the_server_cuts_a_turn_at_max_tokens_and_refuses_a_dishonest_one() -> None:
    class Long:
        def respond(self, request: Any) -> Turn:
            return Turn("word " * 400, (ToolCall("execute_code", {"code": "print(1)"}),))

    with ScriptedAPI(Long(), check=honesty_check) as api:
        client = anthropic.Anthropic(base_url=api.url, api_key="k", max_retries=0)
        cut = client.messages.create(
            model="m", max_tokens=50, tools=[EXECUTE], messages=[{"role": "user", "content": "go"}]
        )
        assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 50
        assert [b.type for b in cut.content] == ["text"] and len(cut.content[0].text) < 400 * 5
        whole = client.messages.create(
            model="m", max_tokens=2000, tools=[EXECUTE], messages=[{"role": "user", "content": "go"}]
        )
        assert whole.stop_reason == "tool_use"

    class Guess:
        def respond(self, request: Any) -> Turn:
            return code_turn("from servers.crm import find_lead\n")

    with ScriptedAPI(Guess(), check=honesty_check) as api:
        client = anthropic.Anthropic(base_url=api.url, api_key="k", max_retries=0)
        with pytest.raises(anthropic.InternalServerError, match="honesty check refused"):
            client.messages.create(
                model="m", max_tokens=500, tools=[EXECUTE], messages=[{"role": "user", "content": "go"}]
            )


def test_the_code_model_discovers_first_then_reads_docs_when_signatures_lack_fields() -> None:
    model = SeedCodeModel()
    first = model.respond(request())
    assert "search_tools(" in first.tool_calls[0].input["code"]
    assert first.tool_calls[0].input["code"].startswith("# step: discover")
    # a search that shows names and arguments but no return fields: the model reads the full docs
    shown = "\n".join(
        f"servers.{s}.{t}({a}) - summary"
        for s, t, a in [
            ("drive", "search_files", "query"),
            ("drive", "get_document", "document_id"),
            ("crm", "find_lead", "query"),
            ("crm", "attach_note_to_lead", "body, lead_id, title"),
            ("slack", "post_message", "channel, text"),
        ]
    )
    second = model.respond(request(shown))
    assert 'detail="full"' in second.tool_calls[0].input["code"]
    tools = learn_tools([SEARCH_OUTPUT])
    assert tools["find_lead"].params == {"query", "limit"} and tools["find_lead"].knows("records", "company")


def test_next_steps_are_quoted_from_the_last_recap() -> None:
    text = "I'd suggest three: a, b. ... the next steps: one: Lena sends it. Two: I call Tom today. And six: done."
    assert next_steps(text) == ["Lena sends it", "I call Tom today", "done"]


def test_the_code_model_searches_named_tools_by_name_and_works_from_typed_lines() -> None:
    model = SeedCodeModel()
    # the agent's instructions name two tools: those are searched by name (limit=1), the rest by words
    first = model.respond(
        request(system="Use `from servers import search_tools`. Read it with get_document; find_lead.")
    )
    code = first.tool_calls[0].input["code"]
    assert 'search_tools("get_document", limit=1)' in code and 'search_tools("find_lead", limit=1)' in code
    assert 'search_tools("search files", limit=2)' in code and 'search_tools("post message", limit=2)' in code
    # lines with typed return fields (as `cfmigrate generate` prints them) are enough: no documentation round
    lines = "\n".join(
        [
            "servers.drive.search_files(query: str) -> {files: list[{id_, name}], next_page_token: str | None} - Search.",
            "servers.drive.get_document(document_id: str) -> ToolResult (no output schema) - Read a doc.",
            "servers.crm.find_lead(query: str) -> {records: list[{company, id_, name}]} - Find leads.",
            "servers.crm.attach_note_to_lead(body: str, lead_id: str, title: str) -> {note: {id_, title}} - Attach.",
            "servers.slack.post_message(channel: str, text: str) -> {ok: bool, ts: str} - Post.",
        ]
    )
    body = request(lines)
    second = model.respond(body)
    work = second.tool_calls[0].input["code"]
    assert (
        work.startswith("# step: attach") and "doc.id_" in work and "lead.id_" in work and "note.id_" in work
    )
    assert "structured_content" not in work
    honesty_check(body, second)
    # a line that calls the field `id` (what the code would have to write otherwise) sends it to the docs
    assert 'detail="full"' in model.respond(request(lines.replace("id_", "id"))).tool_calls[0].input["code"]
