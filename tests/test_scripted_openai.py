"""The scripted OpenAI-compatible server, driven by the real `openai` SDK: both API shapes, honesty, budgets."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import openai
import pytest
from support.scripted_openai import Conversation, PolicyError, ScriptedOpenAI, ToolCall, Turn

KEY = "sk-scripted-test"
LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Find a record.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    },
}
LOOKUP_FLAT = {"type": "function", **LOOKUP["function"]}  # type: ignore[dict-item]


@dataclass
class Scripted:
    """Calls `lookup` once with what `make_call` returns, then answers with the tool's output."""

    make_call: Callable[[Conversation], ToolCall]
    text: str = "Looking it up."

    def respond(self, conversation: Conversation) -> Turn:
        if not conversation.exchanges:
            return Turn(self.text, (self.make_call(conversation),))
        return Turn(f"Found: {conversation.exchanges[-1].output}")


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI(api_keys={KEY}) as api:
        yield api


def client(server: ScriptedOpenAI) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key=KEY, max_retries=0)


def test_chat_completions_tool_call_round_trip(server: ScriptedOpenAI) -> None:
    server.reset(Scripted(lambda c: ToolCall(c.find_tool("lookup").name, {"query": "acme"})))
    llm = client(server)
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Find acme."},
    ]
    first = llm.chat.completions.create(model="gpt-5-mini", messages=messages, tools=[LOOKUP])  # type: ignore[arg-type,list-item]
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, json.loads(call.function.arguments)) == ("lookup", {"query": "acme"})  # type: ignore[union-attr]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": '{"id": 7}'})
    second = llm.chat.completions.create(model="gpt-5-mini", messages=messages, tools=[LOOKUP])  # type: ignore[arg-type,list-item]
    assert second.choices[0].message.content == 'Found: {"id": 7}'
    assert second.usage is not None and second.usage.prompt_tokens > first.usage.prompt_tokens  # type: ignore[union-attr]
    seen = server.conversations()[-1]
    assert (seen.api, seen.system, seen.task) == ("chat", "Be brief.", "Find acme.")
    assert [(e.name, dict(e.arguments), e.output) for e in seen.exchanges] == [
        ("lookup", {"query": "acme"}, '{"id": 7}')
    ]


def test_responses_api_function_call_round_trip(server: ScriptedOpenAI) -> None:
    server.reset(Scripted(lambda c: ToolCall("lookup", {"query": "globex"})))
    llm = client(server)
    items: list[object] = [{"role": "user", "content": "Find globex."}]
    first = llm.responses.create(
        model="gpt-5", instructions="Short answers.", input=items, tools=[LOOKUP_FLAT]
    )  # type: ignore[arg-type,list-item]
    calls = [i for i in first.output if i.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("lookup", {"query": "globex"})]  # type: ignore[union-attr]
    items.extend(i.model_dump(exclude_none=True) for i in first.output)
    items.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": "none"})  # type: ignore[union-attr]
    second = llm.responses.create(
        model="gpt-5", instructions="Short answers.", input=items, tools=[LOOKUP_FLAT]
    )  # type: ignore[arg-type,list-item]
    assert second.output_text == "Found: none"
    seen = server.conversations()[-1]
    assert (seen.api, seen.system, seen.exchanges[0].output) == ("responses", "Short answers.", "none")


def test_a_chat_tool_shape_sent_to_the_responses_api_is_refused(server: ScriptedOpenAI) -> None:
    server.reset(Scripted(lambda c: ToolCall("lookup", {})))
    with pytest.raises(openai.BadRequestError, match=r"tools\[0\]\.name"):
        client(server).responses.create(model="gpt-5", input="hi", tools=[LOOKUP])  # type: ignore[list-item]


def test_tool_choice_naming_a_function_not_offered_is_refused(server: ScriptedOpenAI) -> None:
    server.reset(Scripted(lambda c: ToolCall("lookup", {})))
    with pytest.raises(openai.BadRequestError, match="tool_choice: no function named 'search'"):
        client(server).chat.completions.create(
            model="gpt-5",
            messages=[{"role": "user", "content": "hi"}],
            tools=[LOOKUP],
            tool_choice={"type": "function", "function": {"name": "search"}},
        )


@pytest.mark.parametrize(
    ("make_call", "why"),
    [
        (lambda c: ToolCall("delete_everything", {}), "offers no tool 'delete_everything'"),
        (lambda c: ToolCall("lookup", {"query": "x", "limit": 3}), "passed limit to lookup"),
    ],
    ids=["unoffered-tool", "undeclared-argument"],
)
def test_a_policy_may_only_use_what_the_request_showed(
    server: ScriptedOpenAI, make_call: Callable[[Conversation], ToolCall], why: str
) -> None:
    server.reset(Scripted(make_call))
    with pytest.raises(openai.InternalServerError):
        client(server).chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "go"}],
            tools=[LOOKUP],  # type: ignore[list-item]
        )
    assert why in (server.errors()[-1].error or "")


def test_output_budgets_cut_the_turn_in_both_shapes(server: ScriptedOpenAI) -> None:
    long_text = "word " * 200
    server.reset(Scripted(lambda c: ToolCall("lookup", {"query": "q"}), text=long_text))
    llm = client(server)
    chat = llm.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "go"}],
        tools=[LOOKUP],  # type: ignore[list-item]
        max_completion_tokens=12,
    )
    choice = chat.choices[0]
    assert choice.finish_reason == "length" and not choice.message.tool_calls
    assert choice.message.content and long_text.startswith(choice.message.content)
    assert chat.usage is not None and chat.usage.completion_tokens <= 12
    resp = llm.responses.create(model="m", input="go", tools=[LOOKUP_FLAT], max_output_tokens=12)  # type: ignore[list-item]
    assert resp.status == "incomplete" and resp.incomplete_details is not None
    assert resp.incomplete_details.reason == "max_output_tokens"
    assert not [i for i in resp.output if i.type == "function_call"]


def test_wire_errors(server: ScriptedOpenAI) -> None:
    server.reset(Scripted(lambda c: ToolCall("lookup", {})))
    with pytest.raises(openai.BadRequestError, match="preceding tool_calls"):
        client(server).chat.completions.create(
            model="m",
            messages=[
                {"role": "user", "content": "go"},
                {"role": "tool", "tool_call_id": "nope", "content": "x"},
            ],
        )
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url, api_key="sk-wrong", max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "go"}]
        )


def test_policy_refusal_is_recorded(server: ScriptedOpenAI) -> None:
    def refuse(conversation: Conversation) -> ToolCall:
        raise PolicyError("nothing to do")

    server.reset(Scripted(refuse))
    with pytest.raises(openai.InternalServerError, match="nothing to do"):
        client(server).responses.create(model="m", input="go")
    assert server.errors()[-1].path == "/v1/responses"
