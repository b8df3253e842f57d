"""A scripted OpenAI-compatible API on 127.0.0.1: Chat Completions and the Responses API.

The real `openai` SDK (and anything that speaks the same wire format: httpx loops, the OpenAI Agents
SDK, pydantic-ai) talks to it with ``base_url=server.url`` or ``OPENAI_BASE_URL``. Each ``POST
/v1/chat/completions`` or ``POST /v1/responses`` is read into one neutral :class:`Conversation` (the
system text, the user's task, the tools offered, every earlier tool call with its output) and answered
by a *policy* that returns the next :class:`Turn`, the way a model would.

Honesty is enforced here, not left to the policies: a turn may only call a tool the request offered,
with argument names that are properties of that tool's parameters (HTTP 500 otherwise, recorded), and
the answer respects the request's output budget (``max_tokens`` / ``max_completion_tokens`` /
``max_output_tokens``): a turn that does not fit is cut to the budget and sent as
``finish_reason: "length"`` (Chat Completions) or ``status: "incomplete"`` (Responses), without its
tool calls.

Token figures (``usage``) are o200k_base counts of the request's tools, instructions and messages as
compact JSON, and of the turn's text and calls -- an estimate computed by this scripted server
(:data:`TOKEN_LABEL`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Protocol

from cfmigrate.analyzers.tokens import BpeTokenizer, compact

TOKEN_LABEL = "estimate, o200k_base — scripted OpenAI-compatible server"
_TOKENIZER = BpeTokenizer("o200k_base")
Api = Literal["chat", "responses"]
CHAT_PATH = "/v1/chat/completions"
RESPONSES_PATH = "/v1/responses"


class PolicyError(Exception):
    """The request lacks what the policy needs; the server answers HTTP 500 and records the message."""


@dataclass(frozen=True)
class ToolSpec:
    """A function tool as the request offered it."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    @property
    def properties(self) -> Mapping[str, Any]:
        props = self.parameters.get("properties")
        return props if isinstance(props, Mapping) else {}


@dataclass(frozen=True)
class Exchange:
    """A tool call made earlier in the conversation and the output the client sent back."""

    call_id: str
    name: str
    arguments: Mapping[str, Any]
    output: str | None  # None while the client has not answered it


@dataclass(frozen=True)
class Conversation:
    """One request, read the same way whichever API shape carried it."""

    api: Api
    model: str
    system: str
    task: str
    tools: tuple[ToolSpec, ...]
    exchanges: tuple[Exchange, ...]
    max_output_tokens: int | None

    def tool(self, name: str) -> ToolSpec:
        for tool in self.tools:
            if tool.name == name:
                return tool
        shown = ", ".join(t.name for t in self.tools) or "none"
        raise PolicyError(f"the request offers no tool {name!r} (tools: {shown})")

    def find_tool(self, base: str) -> ToolSpec:
        """The offered tool named `base`, or with a server prefix (`tickets_base`, `tickets__base`, `tickets-base`)."""
        exact = [t for t in self.tools if t.name == base]
        if exact:
            return exact[0]
        prefixed = [t for t in self.tools if any(t.name.endswith(sep + base) for sep in ("_", "-", "."))]
        if len(prefixed) == 1:
            return prefixed[0]
        shown = ", ".join(t.name for t in self.tools) or "none"
        raise PolicyError(f"the request offers no single tool like {base!r} (tools: {shown})")

    def code_tool(self) -> ToolSpec:
        """The one offered tool that takes a `code` string."""
        found = [t for t in self.tools if "code" in t.properties]
        if len(found) != 1:
            shown = ", ".join(t.name for t in self.tools) or "none"
            raise PolicyError(f"expected exactly one tool with a 'code' argument (tools: {shown})")
        return found[0]


@dataclass(frozen=True)
class ToolCall:
    """A function call the policy wants in the next assistant turn (the server assigns its id)."""

    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Turn:
    """The next assistant message: optional text and tool calls."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()


class Policy(Protocol):
    def respond(self, conversation: Conversation) -> Turn: ...


@dataclass(frozen=True)
class Record:
    """One HTTP exchange, in arrival order."""

    index: int
    path: str
    request: Mapping[str, Any] | None
    status: int
    response: Mapping[str, Any]
    conversation: Conversation | None = None
    error: str | None = None


class _Failure(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


# ---------------------------------------------------------------------------------------------------
# Reading requests


def _text_of(content: Any) -> str:
    """Text of a message content: a string, or parts with `text` (text / input_text / output_text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        )
    return ""


def _arguments(raw: Any, where: str) -> Mapping[str, Any]:
    if isinstance(raw, Mapping):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, json.JSONDecodeError) as exc:
        raise _Failure(400, f"{where}.arguments is not JSON: {exc}") from exc
    if not isinstance(value, Mapping):
        raise _Failure(400, f"{where}.arguments must be a JSON object")
    return value


def _tool_specs(body: Mapping[str, Any], api: Api) -> tuple[ToolSpec, ...]:
    specs: list[ToolSpec] = []
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            raise _Failure(400, f"tools[{i}].type: only function tools are served here")
        fn = tool.get("function") if api == "chat" else tool
        if not isinstance(fn, Mapping):
            raise _Failure(400, f"tools[{i}].function: Field required")
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise _Failure(400, f"tools[{i}]{'.function' if api == 'chat' else ''}.name: Field required")
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(params, Mapping) or params.get("type", "object") != "object":
            raise _Failure(400, f"tools[{i}].parameters must be a JSON schema of type object")
        if any(s.name == name for s in specs):
            raise _Failure(400, f"tools: duplicate function name {name!r}")
        specs.append(ToolSpec(name=name, description=str(fn.get("description") or ""), parameters=params))
    choice = body.get("tool_choice")  # a function forced by name must be one of the tools, as the API checks
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        inner = choice.get("function") if api == "chat" else choice
        forced = inner.get("name") if isinstance(inner, Mapping) else None
        if not any(s.name == forced for s in specs):
            raise _Failure(400, f"tool_choice: no function named {forced!r} among the tools")
    return tuple(specs)


def _budget(body: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = body.get(key)
        if value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise _Failure(400, f"{key} must be a positive integer")
            return value
    return None


def read_chat(body: Mapping[str, Any]) -> Conversation:
    """A Chat Completions request as a :class:`Conversation`."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _Failure(400, "messages: at least one message is required")
    system: list[str] = []
    task = ""
    calls: list[tuple[str, str, Mapping[str, Any]]] = []
    outputs: dict[str, str] = {}
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
            "tool",
        ):
            raise _Failure(
                400, f"messages[{i}]: a role of system, developer, user, assistant or tool is required"
            )
        role = message["role"]
        if role in ("system", "developer"):
            system.append(_text_of(message.get("content")))
        elif role == "user" and not task:
            task = _text_of(message.get("content"))
        elif role == "assistant":
            for j, call in enumerate(message.get("tool_calls") or []):
                fn = call.get("function") if isinstance(call, Mapping) else None
                if not isinstance(fn, Mapping) or not isinstance(call.get("id"), str):
                    raise _Failure(400, f"messages[{i}].tool_calls[{j}]: id and function are required")
                calls.append(
                    (
                        call["id"],
                        str(fn.get("name")),
                        _arguments(fn.get("arguments"), f"messages[{i}].tool_calls[{j}]"),
                    )
                )
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or call_id not in {c[0] for c in calls}:
                raise _Failure(
                    400,
                    f"messages[{i}]: a message with role 'tool' must answer a preceding tool_calls id "
                    f"(got tool_call_id={call_id!r})",
                )
            content = message.get("content")
            if not isinstance(content, str | list):
                raise _Failure(400, f"messages[{i}].content: a string or a list of text parts is required")
            outputs[call_id] = _text_of(content)
    pending = [c[0] for c in calls if c[0] not in outputs]
    if pending:
        raise _Failure(
            400,
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
        )
    return Conversation(
        api="chat",
        model=str(body.get("model")),
        system="\n\n".join(s for s in system if s),
        task=task,
        tools=_tool_specs(body, "chat"),
        exchanges=tuple(Exchange(cid, name, args, outputs.get(cid)) for cid, name, args in calls),
        max_output_tokens=_budget(body, ("max_completion_tokens", "max_tokens")),
    )


def read_responses(body: Mapping[str, Any]) -> Conversation:
    """A Responses API request as a :class:`Conversation`."""
    if body.get("previous_response_id"):
        raise _Failure(
            400, "previous_response_id: the scripted server keeps no stored responses; send the input"
        )
    raw = body.get("input")
    items: list[Any] = [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
    if not items:
        raise _Failure(400, "input: Field required")
    system = [str(body["instructions"])] if isinstance(body.get("instructions"), str) else []
    task = ""
    calls: list[tuple[str, str, Mapping[str, Any]]] = []
    outputs: dict[str, str] = {}
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _Failure(400, f"input[{i}]: an object is required")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role in ("system", "developer"):
                system.append(_text_of(item.get("content")))
            elif role == "user" and not task:
                task = _text_of(item.get("content"))
        elif kind == "function_call":
            call_id = item.get("call_id")
            if not isinstance(call_id, str):
                raise _Failure(400, f"input[{i}].call_id: Field required")
            calls.append((call_id, str(item.get("name")), _arguments(item.get("arguments"), f"input[{i}]")))
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if call_id not in {c[0] for c in calls}:
                raise _Failure(400, f"No tool call found for function call output with call_id {call_id}.")
            outputs[str(call_id)] = _text_of(item.get("output"))
        elif kind != "reasoning":
            raise _Failure(400, f"input[{i}].type: {kind!r} is not served by the scripted server")
    pending = [c[0] for c in calls if c[0] not in outputs]
    if pending:
        raise _Failure(400, f"No tool output found for function call {pending[0]}.")
    return Conversation(
        api="responses",
        model=str(body.get("model")),
        system="\n\n".join(s for s in system if s),
        task=task,
        tools=_tool_specs(body, "responses"),
        exchanges=tuple(Exchange(cid, name, args, outputs.get(cid)) for cid, name, args in calls),
        max_output_tokens=_budget(body, ("max_output_tokens",)),
    )


def _check_honest(turn: Turn, conversation: Conversation) -> None:
    """A turn may call only offered tools, with argument names their parameters declare."""
    for call in turn.tool_calls:
        tool = conversation.tool(call.name)
        unknown = sorted(set(call.arguments) - set(tool.properties))
        if unknown:
            raise PolicyError(
                f"the policy passed {', '.join(unknown)} to {call.name}, which declares only "
                f"{', '.join(tool.properties) or 'no parameters'}"
            )


def _cut(text: str, budget: int) -> str:
    """The longest prefix of `text` within `budget` tokens."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _TOKENIZER.count(text[:mid]) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


# ---------------------------------------------------------------------------------------------------
# The server


class ScriptedOpenAI:
    """A threaded HTTP server on an ephemeral 127.0.0.1 port answering both OpenAI API shapes from one policy."""

    def __init__(self, policy: Policy | None = None, *, api_keys: Collection[str] | None = None) -> None:
        self.policy = policy
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self._records: list[Record] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids: dict[str, int] = {}

    def start(self) -> ScriptedOpenAI:
        if self._server is None:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            server.api = self  # type: ignore[attr-defined]
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="scripted-openai",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ScriptedOpenAI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The SDK's base URL (``OpenAI(base_url=...)`` / ``OPENAI_BASE_URL``), ending in ``/v1``."""
        if self._server is None:
            raise RuntimeError("the scripted OpenAI server is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def message_records(self) -> list[Record]:
        """The model requests (Chat Completions and Responses), in order."""
        return [r for r in self.records if r.path in (CHAT_PATH, RESPONSES_PATH)]

    def conversations(self) -> list[Conversation]:
        """What each answered request showed the model, in order."""
        return [r.conversation for r in self.records if r.status == 200 and r.conversation is not None]

    def errors(self) -> list[Record]:
        return [r for r in self.records if r.error is not None]

    def reset(self, policy: Policy | None = None) -> None:
        """Forget the records and install another policy (one server can serve several runs)."""
        with self._lock:
            self._records.clear()
            self.policy = policy

    def _next_id(self, kind: str) -> str:
        with self._lock:
            self._ids[kind] = self._ids.get(kind, 0) + 1
            return f"{kind}_scripted_{self._ids[kind]:04d}"

    def _record(self, **fields: Any) -> None:
        with self._lock:
            self._records.append(Record(index=len(self._records), **fields))

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[int, dict[str, Any]]:
        body: Any = None
        conversation: Conversation | None = None
        try:
            if method != "POST" or path not in (CHAT_PATH, RESPONSES_PATH):
                raise _Failure(404, f"no route for {method} {path} on the scripted server", "not_found_error")
            key = headers.get("authorization", "")
            key = key[7:] if key.lower().startswith("bearer ") else ""
            if not key or (self.api_keys is not None and key not in self.api_keys):
                raise _Failure(401, "Incorrect API key provided", "invalid_api_key")
            try:
                body = json.loads(raw or b"null")
            except json.JSONDecodeError as exc:
                raise _Failure(400, f"body is not JSON: {exc}") from exc
            if not isinstance(body, Mapping) or not isinstance(body.get("model"), str) or not body["model"]:
                raise _Failure(400, "model: Field required")
            if body.get("stream"):
                raise _Failure(400, "stream: the scripted server answers non-streaming requests only")
            api: Api = "chat" if path == CHAT_PATH else "responses"
            conversation = read_chat(body) if api == "chat" else read_responses(body)
            if self.policy is None:
                raise PolicyError(f"no policy is installed for {path}")
            turn = self.policy.respond(conversation)
            _check_honest(turn, conversation)
            answer = self._render(api, body, turn, conversation)
            self._record(path=path, request=body, status=200, response=answer, conversation=conversation)
            return 200, answer
        except _Failure as failure:
            answer = {
                "error": {"message": failure.message, "type": failure.kind, "param": None, "code": None}
            }
            self._record(
                path=path, request=body, status=failure.status, response=answer, error=failure.message
            )
            return failure.status, answer
        except Exception as exc:  # a policy's refusal or bug must surface in the test, not hang the client
            what = "scripted policy failed" if isinstance(exc, PolicyError) else "scripted server crashed"
            message = f"{what}: {type(exc).__name__}: {exc}"
            answer = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
            self._record(
                path=path, request=body, status=500, response=answer, conversation=conversation, error=message
            )
            return 500, answer

    def _render(self, api: Api, body: Mapping[str, Any], turn: Turn, conv: Conversation) -> dict[str, Any]:
        payload = {k: body[k] for k in ("instructions", "tools", "messages", "input") if k in body}
        input_tokens = _TOKENIZER.count(compact(payload))
        calls = [(self._next_id("call"), c.name, json.dumps(dict(c.arguments))) for c in turn.tool_calls]
        output_tokens = _TOKENIZER.count(turn.text) + sum(_TOKENIZER.count(n + a) for _, n, a in calls)
        text, cut = turn.text, False
        if conv.max_output_tokens is not None and output_tokens > conv.max_output_tokens:
            text, calls, cut = _cut(turn.text, conv.max_output_tokens), [], True
            output_tokens = _TOKENIZER.count(text)
        if api == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
            if calls:
                message["tool_calls"] = [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                    for cid, name, args in calls
                ]
            return {
                "id": self._next_id("chatcmpl"),
                "object": "chat.completion",
                "created": 1_780_000_000,
                "model": conv.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "length" if cut else "tool_calls" if calls else "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": input_tokens,
                    "completion_tokens": output_tokens,
                    "total_tokens": input_tokens + output_tokens,
                },
            }
        output: list[dict[str, Any]] = []
        if text:
            output.append(
                {
                    "type": "message",
                    "id": self._next_id("msg"),
                    "status": "incomplete" if cut else "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            )
        for cid, name, args in calls:
            output.append(
                {
                    "type": "function_call",
                    "id": self._next_id("fc"),
                    "call_id": cid,
                    "name": name,
                    "arguments": args,
                    "status": "completed",
                }
            )
        return {
            "id": self._next_id("resp"),
            "object": "response",
            "created_at": 1_780_000_000,
            "model": conv.model,
            "status": "incomplete" if cut else "completed",
            "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
            "error": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": conv.max_output_tokens,
            "output": output,
            "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": list(body.get("tools") or []),
            "temperature": None,
            "top_p": None,
            "metadata": {},
            "text": {"format": {"type": "text"}},
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: ThreadingHTTPServer

    def _answer(self, method: str) -> None:
        api: ScriptedOpenAI = self.server.api  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body = api.handle(method, self.path.split("?", 1)[0], headers, raw)
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", api._next_id("req"))
        if status >= 500:
            self.send_header("x-should-retry", "false")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        self._answer("POST")

    def do_GET(self) -> None:
        self._answer("GET")

    def log_message(self, format: str, *args: Any) -> None:
        return
