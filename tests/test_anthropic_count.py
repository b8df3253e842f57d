"""Exact counts through count_tokens, against the scripted Messages API server."""

from __future__ import annotations

import socket

import anthropic
import pytest
from support.scripted_api import ScriptedAPI, request_tokens

from cfmigrate.analyzers.anthropic_count import (
    AnthropicTokenizer,
    TokenCountError,
    count_tools_exact,
)
from cfmigrate.analyzers.model import ToolDef
from cfmigrate.analyzers.tokens import BpeTokenizer, TokenizerError, render_tool

MODEL = "claude-sonnet-4-6"
PROBE = [{"role": "user", "content": "Hello"}]
TOOLS = tuple(
    ToolDef(
        name=name,
        description=f"{name.replace('_', ' ').capitalize()} in the workspace. " * (i + 1),
        input_schema={
            "type": "object",
            "properties": {"id": {"type": "string", "description": "Record id"}},
            "required": ["id"],
        },
    )
    for i, name in enumerate(["get_lead", "search_files", "post_message", "create_task", "list_users"])
)


def client_for(api: ScriptedAPI, key: str = "test-key") -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=api.url, api_key=key, max_retries=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_total_and_marginal_counts_match_the_servers_arithmetic() -> None:
    rendered = [render_tool(t, "anthropic") for t in TOOLS]
    with ScriptedAPI() as api:
        counts = count_tools_exact(TOOLS, model=MODEL, client=client_for(api))
    with_all = request_tokens({"tools": rendered, "messages": PROBE})
    assert counts.total == with_all - request_tokens({"messages": PROBE})
    for i, tool in enumerate(TOOLS):
        without = request_tokens({"tools": rendered[:i] + rendered[i + 1 :], "messages": PROBE})
        assert counts.per_tool[tool.name] == with_all - without
    assert list(counts.per_tool) == [t.name for t in TOOLS]
    assert counts.per_tool["list_users"] > counts.per_tool["get_lead"]  # longer description, more tokens
    assert counts.overhead == counts.total - sum(counts.per_tool.values()) and counts.overhead > 0
    assert counts.label == f"exact, Anthropic count_tokens, model {MODEL}"
    assert counts.requests == len(TOOLS) + 2


def test_requests_are_baseline_all_and_all_but_one_never_single_tools() -> None:
    with ScriptedAPI() as api:
        count_tools_exact(TOOLS, model=MODEL, client=client_for(api))
    records = api.records
    assert len(records) == len(TOOLS) + 2
    assert all(r.path == "/v1/messages/count_tokens" and r.status == 200 for r in records)
    assert (
        records[0].request is not None and "tools" not in records[0].request
    )  # the baseline goes first, alone
    sizes = sorted(len((r.request or {}).get("tools", [])) for r in records[1:])
    assert sizes == [len(TOOLS) - 1] * len(TOOLS) + [len(TOOLS)]
    assert all((r.request or {}).get("model") == MODEL for r in records)


def test_one_tool_and_no_tools() -> None:
    with ScriptedAPI() as api:
        one = count_tools_exact(TOOLS[:1], model=MODEL, client=client_for(api))
        assert one.per_tool == {"get_lead": one.total} and one.requests == 2
        none = count_tools_exact((), model=MODEL, client=client_for(api))
    assert none.total == 0 and none.per_tool == {} and none.requests == 0
    assert len(api.records) == 2


def test_no_api_key_says_how_to_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with pytest.raises(TokenCountError) as err:
        count_tools_exact(TOOLS, model=MODEL)
    assert "ANTHROPIC_API_KEY is not set" in str(err.value)
    assert "--tokenizer o200k_base" in str(err.value)
    with pytest.raises(TokenCountError, match="ANTHROPIC_API_KEY"):
        AnthropicTokenizer(MODEL)


def test_client_without_credentials_is_reported_not_raised_as_typeerror(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with ScriptedAPI() as api:
        bare = anthropic.Anthropic(base_url=api.url, max_retries=0)
        with pytest.raises(TokenCountError, match=r"no Anthropic credentials|ANTHROPIC_API_KEY"):
            count_tools_exact(TOOLS, model=MODEL, client=bare)
    assert api.records == []


def test_refused_connection_points_to_the_offline_tokenizer() -> None:
    port = free_port()
    offline = anthropic.Anthropic(
        base_url=f"http://127.0.0.1:{port}", api_key="sk-secret-value", max_retries=0
    )
    with pytest.raises(TokenCountError) as err:
        count_tools_exact(TOOLS, model=MODEL, client=offline)
    message = str(err.value)
    assert f"could not reach the Anthropic API at http://127.0.0.1:{port}" in message
    assert "offline tokenizer" in message
    assert "sk-secret-value" not in message
    assert isinstance(err.value, TokenizerError)  # the audit CLI turns both into `error: ...`, exit 2


def test_rejected_key_shows_the_apis_message() -> None:
    with ScriptedAPI(api_keys={"the-right-key"}) as api, pytest.raises(TokenCountError) as err:
        count_tools_exact(TOOLS, model=MODEL, client=client_for(api, "a-wrong-key"))
    assert "HTTP 401: invalid x-api-key" in str(err.value)
    assert "a-wrong-key" not in str(err.value)
    assert len(api.records) == 1  # stopped after the baseline request


def test_a_4xx_names_the_offending_tool() -> None:
    bad = (
        *TOOLS[:2],
        ToolDef(name="drive.search", description="dotted names are refused", input_schema={"type": "object"}),
    )
    with ScriptedAPI() as api, pytest.raises(TokenCountError) as err:
        count_tools_exact(bad, model=MODEL, client=client_for(api))
    message = str(err.value)
    assert "HTTP 400" in message and "tools.2.custom.name" in message and "'drive.search'" in message


def test_duplicate_names_fail_before_any_request() -> None:
    with ScriptedAPI() as api, pytest.raises(TokenCountError, match="duplicated: get_lead"):
        count_tools_exact((TOOLS[0], TOOLS[0]), model=MODEL, client=client_for(api))
    assert api.records == []


def test_tokenizer_protocol_counts_text_and_caches() -> None:
    text = "Attach the full discovery-call transcript to the lead, then post a recap in #sales-updates."
    with ScriptedAPI() as api:
        tok = AnthropicTokenizer(MODEL, client=client_for(api))
        first = tok.count(text)
        calls = len(api.records)
        assert tok.count(text) == first and len(api.records) == calls  # cached
        assert tok.count("") == 0
        assert tok.count_many([text, "one more line", "and another"])[0] == first
        assert tok.count("   ") >= 0
    assert (
        abs(first - BpeTokenizer("o200k_base").count(text)) <= 2
    )  # the scripted server counts with o200k_base
    assert tok.label == f"exact, Anthropic count_tokens, model {MODEL}"
    assert calls == 2  # the framing probe, then the text
