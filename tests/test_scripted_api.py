"""The scripted Messages API server, driven by the real `anthropic` SDK."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anthropic
import pytest
from support.scripted_api import (
    SEED_TASK,
    TOKEN_LABEL,
    CodeModePolicy,
    DirectMCPPolicy,
    PolicyError,
    ScriptedAPI,
    ToolCall,
    Turn,
    code_mode_program,
    exchanges,
    find_tool,
    request_tokens,
)

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
EXECUTE_TOOL = {
    "name": "execute_code",
    "description": "Run Python in the sandbox; only what it prints comes back.",
    "input_schema": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
}


@dataclass(frozen=True)
class WeatherPolicy:
    """Calls whatever weather tool is offered, then reports its result."""

    def respond(self, request: Mapping[str, Any]) -> Turn:
        done = exchanges(request)
        if not done:
            return Turn("Checking.", (ToolCall(find_tool(request, "get_weather"), {"city": "Reno"}),))
        return Turn(f"The weather: {done[-1].result}")


def client(api: ScriptedAPI, key: str = "test-key") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=api.url, api_key=key, max_retries=0)


def test_tool_use_round_trip_with_the_real_sdk() -> None:
    with ScriptedAPI(WeatherPolicy()) as api:
        c = client(api)
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Reno?"}]
        first = c.messages.create(
            model="claude-sonnet-4-6", max_tokens=512, tools=[WEATHER_TOOL], messages=messages
        )
        assert first.type == "message" and first.role == "assistant"
        assert first.stop_reason == "tool_use"
        assert [b.type for b in first.content] == ["text", "tool_use"]
        call = first.content[1]
        assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"city": "Reno"}
        assert call.id.startswith("toolu_")
        assert first.usage.input_tokens == request_tokens(api.records[0].request or {})
        assert first.usage.output_tokens > 0

        messages.append({"role": "assistant", "content": first.content})
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"}],
            }
        )
        second = c.messages.create(
            model="claude-sonnet-4-6", max_tokens=512, tools=[WEATHER_TOOL], messages=messages
        )
        assert second.stop_reason == "end_turn"
        assert second.content[0].type == "text" and "sunny, 21 C" in second.content[0].text
        assert second.id != first.id

    records = api.message_records()
    assert [r.status for r in records] == [200, 200]
    assert records[1].request is not None and len(records[1].request["messages"]) == 3
    assert records[1].input_tokens is not None and records[0].input_tokens is not None
    assert records[1].input_tokens > records[0].input_tokens  # the conversation grew
    assert api.billed_input_tokens() == records[0].input_tokens + records[1].input_tokens
    assert "o200k_base" in TOKEN_LABEL and "not Claude" in TOKEN_LABEL


def test_count_tokens_matches_usage_of_the_same_request() -> None:
    with ScriptedAPI(WeatherPolicy()) as api:
        c = client(api)
        messages = [{"role": "user", "content": "Weather in Reno?"}]
        counted = c.messages.count_tokens(
            model="claude-sonnet-4-6", tools=[WEATHER_TOOL], messages=messages, system="Be brief."
        )
        created = c.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=64,
            tools=[WEATHER_TOOL],
            messages=messages,
            system="Be brief.",
        )
        without_tools = c.messages.count_tokens(
            model="claude-sonnet-4-6", messages=messages, system="Be brief."
        )
    assert counted.input_tokens == created.usage.input_tokens
    assert without_tools.input_tokens < counted.input_tokens
    assert [r.path for r in api.records] == [
        "/v1/messages/count_tokens",
        "/v1/messages",
        "/v1/messages/count_tokens",
    ]
    assert api.billed_input_tokens() == created.usage.input_tokens  # count_tokens is not billed


def test_messages_stream_accumulates_the_same_message() -> None:
    """`stream: true` is answered with server-sent events that the SDK's `messages.stream` turns into the message."""
    with ScriptedAPI(WeatherPolicy()) as api:
        c = client(api)
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Reno?"}]
        with c.messages.stream(model="m", max_tokens=512, tools=[WEATHER_TOOL], messages=messages) as stream:
            texts = list(stream.text_stream)
            first = stream.get_final_message()
        assert texts == ["Checking."]
        assert first.stop_reason == "tool_use"
        use = first.content[1]
        assert use.type == "tool_use" and use.name == "get_weather" and use.input == {"city": "Reno"}
        assert first.usage.output_tokens == api.records[0].output_tokens
        messages += [
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
        ]
        with c.messages.stream(model="m", max_tokens=512, tools=[WEATHER_TOOL], messages=messages) as stream:
            final = stream.get_final_message()
        assert final.stop_reason == "end_turn" and final.content[0].text == "The weather: sunny"
    assert [r.status for r in api.records] == [200, 200]


def test_api_key_is_checked_and_failures_are_recorded() -> None:
    with ScriptedAPI(WeatherPolicy(), api_keys={"right-key"}) as api:
        with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
            client(api, "wrong-key").messages.count_tokens(
                model="m", messages=[{"role": "user", "content": "x"}]
            )
        with pytest.raises(
            anthropic.BadRequestError, match="tool_choice: tool 'get_time' is not one of the tools"
        ):
            client(api, "right-key").messages.create(
                model="m",
                max_tokens=5,
                messages=[{"role": "user", "content": "x"}],
                tools=[WEATHER_TOOL],
                tool_choice={"type": "tool", "name": "get_time"},
            )
        with pytest.raises(anthropic.BadRequestError, match="Tool names must be unique"):
            client(api, "right-key").messages.count_tokens(
                model="m", messages=[{"role": "user", "content": "x"}], tools=[WEATHER_TOOL, WEATHER_TOOL]
            )
    assert [r.status for r in api.records] == [401, 400, 400]
    assert all(r.error for r in api.records)
    assert api.billed_input_tokens() == 0


def test_policy_failure_is_a_500_that_the_sdk_does_not_retry() -> None:
    with ScriptedAPI(DirectMCPPolicy()) as api:
        c = anthropic.Anthropic(base_url=api.url, api_key="k", max_retries=2)  # retries stay enabled
        with pytest.raises(anthropic.InternalServerError, match="search_files"):
            c.messages.create(
                model="m",
                max_tokens=5,
                tools=[WEATHER_TOOL],
                messages=[{"role": "user", "content": SEED_TASK}],
            )
    assert len(api.records) == 1  # x-should-retry: false
    assert api.records[0].status == 500
    assert api.records[0].error and "offers no tool like 'search_files'" in api.records[0].error


def test_find_tool_reads_names_from_the_request() -> None:
    request = {
        "tools": [{"name": "drive__search_files"}, {"name": "crm_find_lead"}, {"name": "search_files_v2"}]
    }
    assert find_tool(request, "search_files") == "drive__search_files"
    assert find_tool(request, "find_lead") == "crm_find_lead"
    with pytest.raises(PolicyError, match="post_message"):
        find_tool(request, "post_message")
    with pytest.raises(PolicyError, match="several tools"):
        find_tool({"tools": [{"name": "a_post_message"}, {"name": "b_post_message"}]}, "post_message")


def test_code_mode_policy_runs_one_program_then_reports_its_output() -> None:
    with ScriptedAPI(CodeModePolicy()) as api:
        c = client(api)
        messages: list[dict[str, Any]] = [{"role": "user", "content": SEED_TASK}]
        first = c.messages.create(model="m", max_tokens=4096, tools=[EXECUTE_TOOL], messages=messages)
        assert first.stop_reason == "tool_use"
        call = next(b for b in first.content if b.type == "tool_use")
        assert call.name == "execute_code"
        code = call.input["code"]
        tree = ast.parse(code)
        imported = {
            (n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
        }
        assert ("servers.drive.search_files", "search_files") in imported
        assert ("servers.crm.attach_note_to_lead", "attach_note_to_lead") in imported
        assert ("servers.slack.post_message", "post_message") in imported
        assert code == code_mode_program()

        printed = "attached 46202 chars to lead 00Q5f00001Dw7XYEAZ as note 0695f0000000000001"
        messages.append({"role": "assistant", "content": first.content})
        messages.append(
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": printed}]}
        )
        final = c.messages.create(model="m", max_tokens=4096, tools=[EXECUTE_TOOL], messages=messages)
        assert final.stop_reason == "end_turn"
        assert final.content[0].type == "text" and printed in final.content[0].text

        messages[-1] = {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "NameError: x", "is_error": True}
            ],
        }
        with pytest.raises(anthropic.InternalServerError, match="NameError"):
            c.messages.create(model="m", max_tokens=4096, tools=[EXECUTE_TOOL], messages=messages)

        with pytest.raises(anthropic.InternalServerError, match="'code' argument"):
            c.messages.create(
                model="m",
                max_tokens=5,
                tools=[WEATHER_TOOL],
                messages=[{"role": "user", "content": SEED_TASK}],
            )
    # the code-mode conversation is tiny next to the direct one (which carries the transcript twice)
    assert api.message_records()[1].input_tokens is not None and api.message_records()[1].input_tokens < 3000


def test_records_keep_request_bodies_as_parsed_json() -> None:
    with ScriptedAPI(WeatherPolicy()) as api:
        client(api).messages.create(
            model="claude-sonnet-4-6",
            max_tokens=256,  # the server cuts a turn at max_tokens, like the real API
            tools=[WEATHER_TOOL],
            messages=[{"role": "user", "content": "hi"}],
        )
    record = api.records[0]
    assert record.request is not None
    assert record.request["tools"] == [WEATHER_TOOL]
    assert record.request["model"] == "claude-sonnet-4-6"
    assert record.response["usage"]["input_tokens"] == record.input_tokens
    assert json.loads(json.dumps(record.response))["content"][1]["name"] == "get_weather"
