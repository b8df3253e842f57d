"""Exact token counts from Anthropic's count_tokens endpoint (`--tokenizer anthropic`).

Two entry points:

* `count_tools_exact(tools, model=...)` -- what tool definitions cost in a request. Anthropic adds a
  tool-use system preamble whenever `tools` is non-empty, so costs are differences: the total is
  count(with all tools) - count(without tools), and one tool's share is its *marginal* cost,
  count(with all) - count(with all but that one). Summing single-tool counts would charge the
  preamble once per tool. N tools take N + 2 requests, sent from a bounded thread pool.
* `AnthropicTokenizer(model)` -- the `Tokenizer` protocol (`label`, `count(text)`) on Claude's own
  tokenizer: a text is counted as the content of one user message, minus that message's framing
  (measured once with a one-token probe). Results are cached per text.

Every failure is a `TokenCountError` whose message says what to do (set a key, use the offline
tokenizer, fix the tool the API named); nothing here prints a traceback or a credential.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anthropic

from cfmigrate.analyzers.model import ToolDef
from cfmigrate.analyzers.tokens import TokenizerError, compact, render_tool

DEFAULT_MODEL = "claude-sonnet-4-6"
MAX_WORKERS = 8
_PROBE_TEXT = "Hello"
_ONE_TOKEN = "a"  # a single-token text, used to measure a message's framing
_TOOL_INDEX = re.compile(r"\btools\.(\d+)\b")


class TokenCountError(TokenizerError):
    """count_tokens could not be used; the message says why and what to do instead."""


def exact_label(model: str) -> str:
    """The label every figure from count_tokens carries."""
    return f"exact, Anthropic count_tokens, model {model}"


@dataclass(frozen=True)
class ExactCounts:
    """Tool-definition tokens as Anthropic counts them for one model."""

    model: str
    total: int  # count with every tool - count without tools (includes the tool-use preamble)
    per_tool: Mapping[str, int]  # marginal cost of each tool, in the order given
    requests: int  # count_tokens calls made

    @property
    def label(self) -> str:
        return exact_label(self.model)

    @property
    def overhead(self) -> int:
        """What no single tool accounts for: mostly the tool-use preamble Anthropic adds once."""
        return self.total - sum(self.per_tool.values())


def _where(client: anthropic.Anthropic) -> str:
    """Scheme, host and port of the API base URL (never a path, query or userinfo)."""
    parts = urlsplit(str(client.base_url))
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}"


def _api_message(exc: anthropic.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            return _one_line(str(error["message"]))
    return _one_line(exc.message)


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _with_tool_name(message: str, tools: Sequence[Mapping[str, Any]]) -> str:
    """Append the tool's name to an API message that points at `tools.<i>`."""
    match = _TOOL_INDEX.search(message)
    if match and int(match.group(1)) < len(tools):
        return f"{message} (tool {tools[int(match.group(1))].get('name')!r})"
    return message


def _missing_key() -> TokenCountError:
    return TokenCountError(
        "--tokenizer anthropic needs an API key: ANTHROPIC_API_KEY is not set. Set it "
        "(export ANTHROPIC_API_KEY=sk-ant-...) or use the offline tokenizer (--tokenizer o200k_base)"
    )


def _explain(
    exc: Exception, client: anthropic.Anthropic, model: str, tools: Sequence[Mapping[str, Any]]
) -> TokenCountError:
    """Turn an SDK exception into a message the user can act on."""
    if isinstance(exc, anthropic.AuthenticationError):
        return TokenCountError(
            f"the Anthropic API rejected the credentials (HTTP 401: {_api_message(exc)}); "
            "check ANTHROPIC_API_KEY, or use the offline tokenizer (--tokenizer o200k_base)"
        )
    if isinstance(exc, anthropic.NotFoundError):
        return TokenCountError(
            f"the Anthropic API answered HTTP 404 ({_api_message(exc)}); check that {model!r} is a model name "
            f"and that {_where(client)} serves the Anthropic API"
        )
    if isinstance(exc, anthropic.RateLimitError):
        return TokenCountError(
            f"the Anthropic API rate-limited count_tokens (HTTP 429: {_api_message(exc)}); wait and run "
            "again, or use the offline tokenizer (--tokenizer o200k_base)"
        )
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code >= 500:
        return TokenCountError(
            f"the Anthropic API failed count_tokens for model {model!r} (HTTP {exc.status_code}: "
            f"{_api_message(exc)}); run again later, or use the offline tokenizer (--tokenizer o200k_base)"
        )
    if isinstance(exc, anthropic.APIStatusError):
        message = _with_tool_name(_api_message(exc), tools)
        return TokenCountError(
            f"the Anthropic API refused count_tokens for model {model!r} (HTTP {exc.status_code}): {message}"
        )
    if isinstance(exc, anthropic.APIConnectionError):
        kind = "timed out" if isinstance(exc, anthropic.APITimeoutError) else "connection failed"
        return TokenCountError(
            f"could not reach the Anthropic API at {_where(client)} ({kind}); count_tokens needs network access "
            "-- the offline tokenizer (--tokenizer o200k_base) works without it"
        )
    if isinstance(exc, TypeError) and "authentication" in str(exc).lower():
        return _missing_key()
    return TokenCountError(f"count_tokens failed: {type(exc).__name__}: {exc}")


def _client(client: anthropic.Anthropic | None) -> anthropic.Anthropic:
    if client is not None:
        return client
    if not (os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")):
        raise _missing_key()
    return anthropic.Anthropic()


def _count(
    client: anthropic.Anthropic,
    model: str,
    messages: list[dict[str, Any]],
    tools: Sequence[Mapping[str, Any]] = (),
    system: str | None = None,
) -> int:
    """One count_tokens request; SDK errors and malformed answers become TokenCountError."""
    extra: dict[str, Any] = {}
    if tools:
        extra["tools"] = list(tools)
    if system:
        extra["system"] = system
    try:
        raw = client.messages.with_raw_response.count_tokens(model=model, messages=messages, **extra)  # type: ignore[arg-type]
        body = raw.http_response.content
    except (anthropic.AnthropicError, TypeError) as exc:
        raise _explain(exc, client, model, tools) from None
    try:
        data = json.loads(body)
    except ValueError:
        raise TokenCountError(
            f"count_tokens at {_where(client)} answered HTTP 200 with a body that is not JSON "
            f"({body[:40]!r}); check that it serves the Anthropic API, or use --tokenizer o200k_base"
        ) from None
    value = data.get("input_tokens") if isinstance(data, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TokenCountError(
            f"count_tokens at {_where(client)} answered HTTP 200 without a whole-number input_tokens "
            f"(got {type(value).__name__ if value is not None else 'none'}); check that it serves the "
            "Anthropic API, or use --tokenizer o200k_base"
        )
    return value


def count_tools_exact(
    tools: Sequence[ToolDef],
    *,
    model: str = DEFAULT_MODEL,
    client: anthropic.Anthropic | None = None,
    baseline: int | None = None,
) -> ExactCounts:
    """Count tool definitions with Anthropic's count_tokens: the total and each tool's marginal cost.

    `baseline` is count(probe message, no tools) when already measured; otherwise it is the first
    request. One tool takes one request more, N > 1 tools take N + 1 more (all, and all but each one).
    """
    rendered = [render_tool(t, "anthropic") for t in tools]
    names = [str(t["name"]) for t in rendered]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TokenCountError(
            f"tool names must be unique for count_tokens; duplicated: {', '.join(duplicates)}"
        )
    if not rendered:
        return ExactCounts(model=model, total=0, per_tool={}, requests=0)
    api = _client(client)
    requests = 0
    if baseline is None:  # alone and first: a bad key or no network fails once, not N + 2 times
        baseline = _count(api, model, _probe())
        requests = 1
    subsets = [rendered]
    if len(rendered) > 1:
        subsets += [rendered[:i] + rendered[i + 1 :] for i in range(len(rendered))]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(subsets))) as pool:
        counts = list(pool.map(lambda subset: _count(api, model, _probe(), subset), subsets))
    with_all = counts[0]
    if len(rendered) == 1:
        per_tool = {names[0]: with_all - baseline}
    else:
        per_tool = {name: with_all - without for name, without in zip(names, counts[1:], strict=True)}
    return ExactCounts(
        model=model, total=with_all - baseline, per_tool=per_tool, requests=requests + len(subsets)
    )


def _probe() -> list[dict[str, Any]]:
    return [{"role": "user", "content": _PROBE_TEXT}]


class AnthropicTokenizer:
    """Claude's tokenizer through count_tokens.

    `count(text)` is the `Tokenizer` protocol: a text counted as one user message's content, minus
    that message's framing (measured once). `tools(tools)` counts one tool set by subtraction from a
    shared baseline, `request_tokens(system, tools)` one request's system prompt and tools the same
    way. Every result is cached, so a figure several agents share is asked for once; `requests` says
    how many requests were sent.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        client: anthropic.Anthropic | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        self.model = model
        api = _client(client)  # fails here, before any work, when there is no key
        self._client = api.with_options(timeout=timeout) if timeout is not None else api
        self._cache: dict[str, int] = {}
        self._tool_sets: dict[str, ExactCounts] = {}
        self._requests_cache: dict[str, int] = {}
        self._framing: int | None = None
        self._baseline: int | None = None
        self._lock = threading.Lock()
        self.requests = 0

    @property
    def label(self) -> str:
        return exact_label(self.model)

    def _send(
        self,
        messages: list[dict[str, Any]],
        tools: Sequence[Mapping[str, Any]] = (),
        system: str | None = None,
    ) -> int:
        value = _count(self._client, self.model, messages, tools, system)
        with self._lock:
            self.requests += 1
        return value

    def _message_tokens(self, text: str) -> int:
        return self._send([{"role": "user", "content": text}])

    def baseline(self) -> int:
        """count_tokens of the probe message alone (no system, no tools); measured once."""
        if self._baseline is None:
            value = self._send(_probe())
            with self._lock:
                self._baseline = value
        return self._baseline

    def framing(self) -> int:
        """Tokens a one-message request costs beyond its text (measured once)."""
        if self._framing is None:
            framing = self._message_tokens(_ONE_TOKEN) - 1
            with self._lock:
                self._framing = framing
        return self._framing

    def count(self, text: str) -> int:
        """Tokens of `text` in Claude's tokenizer."""
        if not text:
            return 0
        with self._lock:
            cached = self._cache.get(text)
        if cached is not None:
            return cached
        framing = self.framing()
        if text.strip():
            value = max(0, self._message_tokens(text) - framing)
        else:  # the API refuses whitespace-only messages: count it behind a one-token prefix
            value = max(0, self._message_tokens(_ONE_TOKEN + text) - framing - 1)
        with self._lock:
            self._cache[text] = value
        return value

    def tools(self, tools: Sequence[ToolDef]) -> ExactCounts:
        """One tool set counted exactly: total = count(with) - count(without), each tool's marginal."""
        key = compact([render_tool(t, "anthropic") for t in tools])
        with self._lock:
            cached = self._tool_sets.get(key)
        if cached is not None:
            return cached
        counts = count_tools_exact(tools, model=self.model, client=self._client, baseline=self.baseline())
        with self._lock:
            self.requests += counts.requests
            self._tool_sets[key] = counts
        return counts

    def tool_set_total(self, tools: Sequence[ToolDef]) -> int:
        """count(with these tools) - count(without): one request (none when already known)."""
        key = compact([render_tool(t, "anthropic") for t in tools])
        with self._lock:
            known = self._tool_sets.get(key)
        if known is not None:
            return known.total
        return self.request_tokens(None, [render_tool(t, "anthropic") for t in tools])

    def request_tokens(self, system: str | None, tools: Sequence[Mapping[str, Any]]) -> int:
        """count(probe with this system prompt and tools) - count(probe alone); cached."""
        key = compact({"system": system or "", "tools": list(tools)})
        with self._lock:
            cached = self._requests_cache.get(key)
        if cached is not None:
            return cached
        value = self._send(_probe(), tools, system) - self.baseline()
        with self._lock:
            self._requests_cache[key] = value
        return value

    def prime_tools(self, tools: Sequence[ToolDef]) -> ExactCounts:
        """Count one server's tools exactly and make `count()` of each tool's Anthropic rendering
        return its marginal cost."""
        counts = self.tools(tools)
        with self._lock:
            for tool in tools:
                self._cache[compact(render_tool(tool, "anthropic"))] = counts.per_tool[tool.name]
        return counts

    def count_many(self, texts: Iterable[str]) -> list[int]:
        """Count several texts with parallel requests (bounded), filling the cache."""
        items = list(texts)
        self.framing()
        with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
            return list(pool.map(self.count, items))
