"""A scripted Anthropic Messages API on 127.0.0.1, for end-to-end tests and benchmarks.

The real `anthropic` SDK talks to it (``base_url=server.url`` or ``ANTHROPIC_BASE_URL``). Each
``POST /v1/messages`` is answered by a *policy*: an object that reads the request (system, tools,
messages so far) and returns the next assistant turn, the way a model would. ``POST
/v1/messages/count_tokens`` needs no policy.

Token figures: ``usage.input_tokens`` and count_tokens' ``input_tokens`` are the o200k_base count of
the request's ``system``, ``tools`` and ``messages`` as compact JSON (:func:`request_tokens`). That
is an estimate from an OpenAI vocabulary, computed by this scripted server -- not Claude's count --
and it is labelled so (:data:`TOKEN_LABEL`) wherever a test or benchmark prints it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Protocol

from cfmigrate.analyzers.naming import to_field_name, to_identifier
from cfmigrate.analyzers.tokens import BpeTokenizer, compact, get_encoding

TOKEN_LABEL = "estimate, o200k_base — scripted server, not Claude's count"
_TOKENIZER = BpeTokenizer("o200k_base")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")

StopReason = Literal["end_turn", "tool_use", "max_tokens", "stop_sequence"]


class PolicyError(Exception):
    """The request lacks what the policy needs; the server answers HTTP 500 and records the message."""


@dataclass(frozen=True)
class ToolCall:
    """A `tool_use` block the policy wants the assistant turn to contain (the server assigns its id)."""

    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class Turn:
    """The next assistant message: optional text, then tool calls, and why it stopped."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def stop_reason(self) -> StopReason:
        return "tool_use" if self.tool_calls else "end_turn"


class Policy(Protocol):
    """Decides the next assistant turn from a `/v1/messages` request body."""

    def respond(self, request: Mapping[str, Any]) -> Turn: ...


@dataclass(frozen=True)
class Record:
    """One HTTP exchange, in arrival order."""

    index: int
    path: str
    request: Mapping[str, Any] | None  # the parsed JSON body (None when it was not JSON)
    status: int
    response: Mapping[str, Any]
    input_tokens: int | None = None  # the usage / count_tokens figure sent back
    output_tokens: int | None = None
    error: str | None = None  # why the request failed, for 4xx/5xx


def request_tokens(body: Mapping[str, Any]) -> int:
    """o200k_base count of system + tools + messages as compact JSON (the scripted server's `input_tokens`)."""
    payload = {key: body[key] for key in ("system", "tools", "messages") if key in body}
    return _TOKENIZER.count(compact(payload))


# ---------------------------------------------------------------------------------------------------
# Reading a request the way a policy needs to


def tool_names(request: Mapping[str, Any]) -> list[str]:
    """Names of the tools offered in the request."""
    return [str(t.get("name", "")) for t in request.get("tools") or []]


def find_tool(request: Mapping[str, Any], base: str) -> str:
    """The offered tool named `base`, or namespaced as `<server>_<base>` / `<server>__<base>` / `<server>.<base>`."""
    names = tool_names(request)
    if base in names:
        return base
    matches = [n for n in names if re.fullmatch(rf".+?(?:__|_|-|\.){re.escape(base)}", n)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise PolicyError(f"the request offers no tool like {base!r} (tools: {shown or 'none'})")
    raise PolicyError(f"several tools could be {base!r}: {', '.join(matches)}")


def _blocks(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, Mapping)]


def result_text(block: Mapping[str, Any]) -> str:
    """The text of a `tool_result` block, whether its content is a string or a list of text blocks."""
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(
        str(b.get("text", "")) for b in content or [] if isinstance(b, Mapping) and b.get("type") == "text"
    )


@dataclass(frozen=True)
class Exchange:
    """One tool call the model made earlier in the conversation and the result the client sent back."""

    name: str
    input: Mapping[str, Any]
    result: str | None  # None when the client has not answered it (yet)
    is_error: bool


def exchanges(request: Mapping[str, Any]) -> list[Exchange]:
    """Every earlier tool call with its result, in conversation order."""
    calls: list[tuple[str, str, Mapping[str, Any]]] = []
    results: dict[str, tuple[str, bool]] = {}
    for message in request.get("messages") or []:
        for block in _blocks(message):
            if block.get("type") == "tool_use":
                calls.append((str(block.get("id")), str(block.get("name")), block.get("input") or {}))
            elif block.get("type") == "tool_result":
                results[str(block.get("tool_use_id"))] = (result_text(block), bool(block.get("is_error")))
    out = []
    for call_id, name, arguments in calls:
        text, is_error = results.get(call_id, (None, False))
        out.append(Exchange(name=name, input=arguments, result=text, is_error=is_error))
    return out


def user_task(request: Mapping[str, Any]) -> str:
    """The text of the first user message."""
    for message in request.get("messages") or []:
        if message.get("role") == "user":
            return "".join(str(b.get("text", "")) for b in _blocks(message) if b.get("type") == "text")
    raise PolicyError("the request has no user message")


def _json_result(exchange: Exchange, step: str) -> Any:
    if exchange.result is None:
        raise PolicyError(f"{step}: the client sent no tool_result for {exchange.name}")
    if exchange.is_error:
        raise PolicyError(f"{step}: {exchange.name} returned an error: {exchange.result[:500]}")
    try:
        return json.loads(exchange.result)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{step}: {exchange.name} did not return JSON: {exchange.result[:200]!r}") from exc


# ---------------------------------------------------------------------------------------------------
# The seed scenario, as a model would work through it


@dataclass(frozen=True)
class SeedScenario:
    """What the seed task asks for, in the fixture's data."""

    document_query: str = "Acme discovery transcript"
    document_name_contains: str = "transcript"
    document_mime_type: str = "application/vnd.google-apps.document"
    lead_query: str = "Dana Whitfield"
    note_title: str = "Discovery call transcript - Acme Logistics - 2025-03-13"
    channel: str = "#sales-updates"
    servers: Mapping[str, str] = field(
        default_factory=lambda: {"drive": "drive", "crm": "crm", "slack": "slack"}
    )  # role -> MCP server name (code mode imports servers.<to_identifier(name)>)

    def slack_text(self, lead: Mapping[str, Any], note_id: str) -> str:
        return (
            f"*{lead.get('company', 'Lead')}* discovery call (2025-03-13): full transcript attached to "
            f"{lead.get('name', 'the lead')}'s lead in Salesforce ({lead.get('id')}, note {note_id}). "
            "Next: security package to IT, site visit at Reno, proposal to finance by end of next week."
        )


SEED_TASK = (
    "Get the transcript of yesterday's Acme Logistics discovery call from Google Drive and attach it to "
    "Dana Whitfield's lead in Salesforce, then let the team know in #sales-updates on Slack."
)


@dataclass(frozen=True)
class DirectMCPPolicy:
    """The seed scenario with every MCP tool offered directly: one model round trip per tool call.

    Like a real model, it reads ids from earlier tool results and copies the whole transcript from
    the get_document result into the attach_note_to_lead call.
    """

    scenario: SeedScenario = field(default_factory=SeedScenario)

    def respond(self, request: Mapping[str, Any]) -> Turn:
        user_task(request)
        names = {
            base: find_tool(request, base)
            for base in ("search_files", "get_document", "find_lead", "attach_note_to_lead", "post_message")
        }
        by_name = {real: base for base, real in names.items()}
        done = [e for e in exchanges(request) if e.name in by_name]
        last = done[-1] if done else None
        step = by_name[last.name] if last else None
        s = self.scenario

        if step is None:
            return Turn(
                "I'll find the transcript in Google Drive first.",
                (
                    ToolCall(
                        names["search_files"], {"query": s.document_query, "mime_type": s.document_mime_type}
                    ),
                ),
            )
        assert last is not None
        if step == "search_files":
            files = _json_result(last, "picking the transcript").get("files") or []
            doc = next(
                (
                    f
                    for f in files
                    if s.document_name_contains.casefold() in str(f.get("name", "")).casefold()
                ),
                None,
            )
            if doc is None:
                raise PolicyError(
                    f"picking the transcript: no file named like {s.document_name_contains!r} in {files!r}"
                )
            return Turn(
                f'Found "{doc["name"]}". Reading it now.',
                (ToolCall(names["get_document"], {"document_id": doc["id"]}),),
            )
        if step == "get_document":
            if last.is_error or not last.result:
                raise PolicyError(f"reading the transcript: {last.result!r}")
            return Turn(
                "I have the full transcript. Now I'll look up the lead in Salesforce.",
                (ToolCall(names["find_lead"], {"query": s.lead_query}),),
            )
        if step == "find_lead":
            records = _json_result(last, "choosing the lead").get("records") or []
            if not records:
                raise PolicyError(f"choosing the lead: find_lead found nothing for {s.lead_query!r}")
            lead = records[0]
            transcript = next(e for e in reversed(done) if by_name[e.name] == "get_document").result or ""
            return Turn(
                f"The lead is {lead.get('name')} ({lead.get('id')}). Attaching the complete transcript as a note.",
                (
                    ToolCall(
                        names["attach_note_to_lead"],
                        {"lead_id": lead["id"], "title": s.note_title, "body": transcript},
                    ),
                ),
            )
        if step == "attach_note_to_lead":
            outcome = _json_result(last, "confirming the note")
            if not outcome.get("success"):
                raise PolicyError(f"confirming the note: attach_note_to_lead reported {outcome!r}")
            lead, note_id = outcome.get("lead") or {}, (outcome.get("note") or {}).get("id", "?")
            return Turn(
                "The transcript is on the lead. Letting the team know in Slack.",
                (
                    ToolCall(
                        names["post_message"], {"channel": s.channel, "text": s.slack_text(lead, note_id)}
                    ),
                ),
            )
        posted = _json_result(last, "finishing")
        attach = next(e for e in reversed(done) if by_name[e.name] == "attach_note_to_lead")
        note = json.loads(attach.result or "{}").get("note", {})
        return Turn(
            f"Done. The Acme Logistics discovery call transcript ({note.get('content_size')} characters) is attached "
            f"to Dana Whitfield's lead as note {note.get('id')}, and I posted a summary to #{posted.get('channel_name')} "
            f"({posted.get('permalink')})."
        )


def _lit(text: str) -> str:
    """A double-quoted Python string literal."""
    return json.dumps(text)


def code_mode_program(scenario: SeedScenario | None = None) -> str:
    """The Python a model writes for the seed task against the generated `servers` package."""
    s = scenario or SeedScenario()
    drive, crm, slack = (to_identifier(s.servers[role]) for role in ("drive", "crm", "slack"))
    fn = {
        name: to_identifier(name)
        for name in ("search_files", "get_document", "find_lead", "attach_note_to_lead", "post_message")
    }
    kw = {
        name: to_field_name(name)
        for name in ("query", "mime_type", "document_id", "lead_id", "title", "body", "channel", "text")
    }
    return f"""import asyncio

from servers.{crm}.{fn["attach_note_to_lead"]} import {fn["attach_note_to_lead"]}
from servers.{crm}.{fn["find_lead"]} import {fn["find_lead"]}
from servers.{drive}.{fn["get_document"]} import {fn["get_document"]}
from servers.{drive}.{fn["search_files"]} import {fn["search_files"]}
from servers.{slack}.{fn["post_message"]} import {fn["post_message"]}


async def main():
    found = await {fn["search_files"]}({kw["query"]}={_lit(s.document_query)}, {kw["mime_type"]}={_lit(s.document_mime_type)})
    doc = next(f for f in found.structured_content["files"] if {_lit(s.document_name_contains.casefold())} in f["name"].lower())
    transcript = (await {fn["get_document"]}({kw["document_id"]}=doc["id"])).text

    leads = await {fn["find_lead"]}({kw["query"]}={_lit(s.lead_query)})
    lead = leads.structured_content["records"][0]

    attached = await {fn["attach_note_to_lead"]}({kw["lead_id"]}=lead["id"], {kw["title"]}={_lit(s.note_title)}, {kw["body"]}=transcript)
    note = attached.structured_content["note"]

    summary = (
        f"*{{lead['company']}}* discovery call (2025-03-13): full transcript attached to {{lead['name']}}'s lead "
        f"in Salesforce ({{lead['id']}}, note {{note['id']}}). Next: security package to IT, site visit at Reno, "
        "proposal to finance by end of next week."
    )
    posted = await {fn["post_message"]}({kw["channel"]}={_lit(s.channel)}, {kw["text"]}=summary)
    print(f"attached {{note['content_size']}} chars to lead {{lead['id']}} as note {{note['id']}}; "
          f"posted to #{{posted.structured_content['channel_name']}} at {{posted.structured_content['ts']}}")


asyncio.run(main())
"""


@dataclass(frozen=True)
class CodeModePolicy:
    """The seed scenario in code mode: one execute-code call whose program does all five steps."""

    scenario: SeedScenario = field(default_factory=SeedScenario)
    tool: str | None = (
        None  # the execute-code tool's name; by default the offered tool with a `code` argument
    )

    def _execute_tool(self, request: Mapping[str, Any]) -> str:
        if self.tool:
            return find_tool(request, self.tool)
        candidates = [
            str(t.get("name"))
            for t in request.get("tools") or []
            if "code" in ((t.get("input_schema") or {}).get("properties") or {})
        ]
        if len(candidates) != 1:
            raise PolicyError(
                f"code mode needs exactly one tool with a 'code' argument; the request offers {candidates or 'none'} "
                f"(tools: {', '.join(tool_names(request)) or 'none'})"
            )
        return candidates[0]

    def respond(self, request: Mapping[str, Any]) -> Turn:
        user_task(request)
        name = self._execute_tool(request)
        runs = [e for e in exchanges(request) if e.name == name]
        if not runs:
            return Turn(
                "I'll do this in one script: find the transcript, attach it to the lead, and post to Slack.",
                (ToolCall(name, {"code": code_mode_program(self.scenario)}),),
            )
        last = runs[-1]
        if last.result is None:
            raise PolicyError(f"the client sent no tool_result for {name}")
        if last.is_error:
            raise PolicyError(f"the {name} run failed: {last.result[:2000]}")
        return Turn(f"Done: {last.result.strip()}")


# ---------------------------------------------------------------------------------------------------
# The HTTP server


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


class _Failure(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def _validate(body: Any, *, create: bool) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise _Failure(400, "invalid_request_error", "request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _Failure(400, "invalid_request_error", "model: Field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Failure(400, "invalid_request_error", "messages: at least one message is required")
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str) and not content.strip():
            raise _Failure(
                400,
                "invalid_request_error",
                f"messages.{i}: text content blocks must contain non-whitespace text",
            )
        if not isinstance(content, str | list):
            raise _Failure(400, "invalid_request_error", f"messages.{i}.content: Field required")
    if create and not isinstance(body.get("max_tokens"), int):
        raise _Failure(400, "invalid_request_error", "max_tokens: Field required")
    seen: set[str] = set()
    for i, tool in enumerate(body.get("tools") or []):
        name = tool.get("name") if isinstance(tool, Mapping) else None
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise _Failure(
                400,
                "invalid_request_error",
                f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'",
            )
        if name in seen:
            raise _Failure(400, "invalid_request_error", "tools: Tool names must be unique.")
        seen.add(name)
        schema = tool.get("input_schema")
        if not isinstance(schema, Mapping) or schema.get("type") != "object":
            raise _Failure(
                400, "invalid_request_error", f"tools.{i}.custom.input_schema.type: Input should be 'object'"
            )
    choice = body.get("tool_choice")  # a tool forced by name must be one of the tools, as the API checks
    if isinstance(choice, Mapping) and choice.get("type") == "tool" and choice.get("name") not in seen:
        raise _Failure(
            400, "invalid_request_error", f"tool_choice: tool {choice.get('name')!r} is not one of the tools"
        )
    return body


def cut_to_budget(content: list[dict[str, Any]], budget: int) -> tuple[list[dict[str, Any]], bool]:
    """The content blocks a model could emit within `budget` output tokens, and whether it was cut.

    Blocks are kept whole while they fit; a text block that does not fit is cut at a token boundary; a
    tool_use block that does not fit is dropped (its arguments would be incomplete JSON), and nothing
    after it is emitted.
    """
    if _TOKENIZER.count(compact(content)) <= budget:
        return content, False
    kept: list[dict[str, Any]] = []
    for block in content:
        if _TOKENIZER.count(compact([*kept, block])) <= budget:
            kept.append(block)
            continue
        if block.get("type") == "text":
            encoding = get_encoding(_TOKENIZER.encoding)
            tokens = encoding.encode(str(block.get("text", "")), disallowed_special=())
            low, high = 0, len(tokens)
            while low < high:  # the longest prefix whose block still fits
                mid = (low + high + 1) // 2
                if (
                    _TOKENIZER.count(compact([*kept, {**block, "text": encoding.decode(tokens[:mid])}]))
                    <= budget
                ):
                    low = mid
                else:
                    high = mid - 1
            if low:
                kept.append({**block, "text": encoding.decode(tokens[:low])})
        break
    return kept, True


Check = Callable[[Mapping[str, Any], Turn], None]
"""Inspects a request and the turn a policy chose for it; raises PolicyError to refuse the turn."""


class ScriptedAPI:
    """A threaded HTTP server on an ephemeral 127.0.0.1 port that answers the Messages API from a policy.

    Use as a context manager; ``records`` lists every exchange in order.

    Like the real API, an answer never exceeds the request's ``max_tokens``: the turn is cut
    (:func:`cut_to_budget`), ``stop_reason`` is ``max_tokens`` and ``usage.output_tokens`` is
    ``max_tokens``. ``check`` (optional) vets every turn before it is sent (see
    ``support.honest_models.honesty_check``). ``tool_use_prompt`` (optional) returns the tokens the
    provider adds to ``usage.input_tokens`` for a request that sends tools (its documented tool-use
    system prompt); by default nothing is added and ``usage.input_tokens`` is :func:`request_tokens`.
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        api_keys: Collection[str] | None = None,
        check: Check | None = None,
        tool_use_prompt: Callable[[Mapping[str, Any]], int] | None = None,
    ) -> None:
        self.policy = policy
        self.check = check
        self.tool_use_prompt = tool_use_prompt
        self.api_keys = frozenset(api_keys) if api_keys is not None else None  # None: any non-empty key
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = {"msg": 0, "toolu": 0, "req": 0}

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> ScriptedAPI:
        """Bind the port and serve in a background thread."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.api = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-api", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ScriptedAPI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Base URL for the SDK (``anthropic.Anthropic(base_url=...)`` or ``ANTHROPIC_BASE_URL``)."""
        if self._server is None:
            raise RuntimeError("the scripted API is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # results ----------------------------------------------------------------------------------
    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def message_records(self) -> list[Record]:
        """The `/v1/messages` exchanges (not count_tokens), in order."""
        return [r for r in self.records if r.path == "/v1/messages"]

    def errors(self) -> list[Record]:
        return [r for r in self.records if r.error is not None]

    def billed_input_tokens(self) -> int:
        """Sum of ``usage.input_tokens`` over answered `/v1/messages` requests (see :data:`TOKEN_LABEL`)."""
        return sum(r.input_tokens or 0 for r in self.message_records() if r.status == 200)

    def billed_output_tokens(self) -> int:
        return sum(r.output_tokens or 0 for r in self.message_records() if r.status == 200)

    def log_lines(self) -> list[str]:
        """One JSON line per `/v1/messages` call: ``{"request": <body>, "response": <body>}``, in order."""
        return [
            json.dumps({"request": r.request, "response": r.response}, ensure_ascii=False)
            for r in self.message_records()
        ]

    # request handling (called from handler threads) -------------------------------------------
    def _next_id(self, kind: str) -> str:
        with self._lock:
            self._ids[kind] += 1
            return f"{kind}_scripted_{self._ids[kind]:04d}"

    def _record(self, **fields: Any) -> None:
        with self._lock:
            self._records.append(Record(index=len(self._records), **fields))

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        key = headers.get("x-api-key") or ""
        bearer = headers.get("authorization") or ""
        if bearer.lower().startswith("bearer "):
            key = key or bearer[7:]
        if not key:
            return False
        return self.api_keys is None or key in self.api_keys

    def handle(
        self, path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one POST; returns status, JSON body and extra headers."""
        body: Any = None
        try:
            if path not in ("/v1/messages", "/v1/messages/count_tokens"):
                raise _Failure(404, "not_found_error", f"no route for POST {path} on the scripted server")
            if not self._authorised(headers):
                raise _Failure(401, "authentication_error", "invalid x-api-key")
            try:
                body = json.loads(raw or b"null")
            except json.JSONDecodeError as exc:
                raise _Failure(400, "invalid_request_error", f"body is not JSON: {exc}") from exc
            request = _validate(body, create=path == "/v1/messages")
            input_tokens = request_tokens(request)
            if self.tool_use_prompt is not None and request.get("tools"):
                input_tokens += self.tool_use_prompt(request)
            if path == "/v1/messages/count_tokens":
                answer: dict[str, Any] = {"input_tokens": input_tokens}
                self._record(
                    path=path, request=request, status=200, response=answer, input_tokens=input_tokens
                )
                return 200, answer, {}
            if self.policy is None:
                raise PolicyError("no policy is installed for /v1/messages")
            turn = self.policy.respond(request)
            if self.check is not None:
                self.check(request, turn)
            content: list[dict[str, Any]] = []
            if turn.text:
                content.append({"type": "text", "text": turn.text})
            for call in turn.tool_calls:
                content.append(
                    {
                        "type": "tool_use",
                        "id": self._next_id("toolu"),
                        "name": call.name,
                        "input": dict(call.input),
                    }
                )
            stop_reason: StopReason = turn.stop_reason
            content, cut = cut_to_budget(content, int(request["max_tokens"]))
            if cut:
                stop_reason = "max_tokens"
                output_tokens = int(request["max_tokens"])
            else:
                output_tokens = max(1, _TOKENIZER.count(compact(content)))
            answer = {
                "id": self._next_id("msg"),
                "type": "message",
                "role": "assistant",
                "model": request["model"],
                "content": content,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
            }
            self._record(
                path=path,
                request=request,
                status=200,
                response=answer,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
            return 200, answer, {}
        except _Failure as failure:
            answer = _error_body(failure.kind, failure.message)
            self._record(
                path=path, request=body, status=failure.status, response=answer, error=failure.message
            )
            return failure.status, answer, {}
        except PolicyError as exc:
            message = f"scripted policy failed: {exc}"
            answer = _error_body("api_error", message)
            self._record(path=path, request=body, status=500, response=answer, error=message)
            return 500, answer, {"x-should-retry": "false"}
        except Exception as exc:  # a bug in a policy must surface in the test, not hang the client
            message = f"scripted server crashed: {type(exc).__name__}: {exc}"
            answer = _error_body("api_error", message)
            self._record(path=path, request=body, status=500, response=answer, error=message)
            return 500, answer, {"x-should-retry": "false"}


def _wants_stream(raw: bytes) -> bool:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return False
    return isinstance(body, Mapping) and body.get("stream") is True


def sse_events(message: Mapping[str, Any]) -> bytes:
    """A finished message as the Messages API streams it (`stream: true`): server-sent events, one block at a time.

    Text arrives as one `text_delta` per block and tool input as one `input_json_delta`, which is what the
    SDK's `messages.stream(...)` accumulates into the same final message as the non-streaming answer.
    """
    events: list[tuple[str, dict[str, Any]]] = []
    usage = dict(message["usage"])
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events.append(("message_start", {"type": "message_start", "message": start}))
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            head: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block["text"]}
        else:
            head = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": head})
        )
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append((
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
         "usage": {"output_tokens": usage["output_tokens"]}},
    ))  # fmt: skip
    events.append(("message_stop", {"type": "message_stop"}))
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: ThreadingHTTPServer

    def do_POST(self) -> None:
        api: ScriptedAPI = self.server.api  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = api.handle(path, headers, raw)
        if status == 200 and path == "/v1/messages" and _wants_stream(raw):
            data, kind = sse_events(body), "text/event-stream"
        else:
            data, kind = json.dumps(body, ensure_ascii=False).encode(), "application/json"
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", api._next_id("req"))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        return
