"""Offline token counts with a named BPE vocabulary, and tools rendered as each provider receives them.

The vocabularies come from the `bpe-openai` wheel (gzip files inside the package); tiktoken's own
encoding definitions (split pattern, special tokens, expected sha256) are reused, so nothing is
downloaded and a corrupted vocabulary is refused by the same hash tiktoken checks.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import marshal
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol

import tiktoken

from cfmigrate.analyzers.model import ToolDef

Provider = Literal["anthropic", "openai"]
ENCODINGS = ("o200k_base", "cl100k_base")
_lock = threading.Lock()


class TokenizerError(Exception):
    """A tokenizer could not be loaded or used; the message says what to do."""


class Tokenizer(Protocol):
    @property
    def label(self) -> str:
        """What produced the figures, e.g. "estimate, o200k_base"; always shown next to a figure."""
        ...

    def count(self, text: str) -> int: ...


def _cache_file(name: str, expected_hash: str | None) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cfmigrate" / "bpe" / f"{name}-{(expected_hash or 'nohash')[:16]}.marshal"


def _ranks(name: str, expected_hash: str | None) -> dict[bytes, int]:
    """The vocabulary's ranks: from a marshal cache (plain data, no code) or parsed from the package's file."""
    cache = _cache_file(name, expected_hash)
    try:
        cached = marshal.loads(cache.read_bytes())
        if isinstance(cached, dict) and len(cached) > 1000:
            return cached
    except (OSError, ValueError, EOFError, TypeError):
        pass
    # Locate the package folder without importing it: its __init__ loads a large native library.
    spec = importlib.util.find_spec("bpe_openai")
    try:
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("bpe_openai")
        blob = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"
        data = gzip.decompress(blob.read_bytes())
    except FileNotFoundError as exc:
        raise TokenizerError(
            f"the {name} vocabulary is missing: install the 'bpe-openai' package (it ships the file)"
        ) from exc
    if expected_hash and hashlib.sha256(data).hexdigest() != expected_hash:
        raise TokenizerError(f"the bundled {name} vocabulary does not match tiktoken's published hash")
    ranks = {
        base64.b64decode(tok): int(rank) for tok, rank in (line.split() for line in data.splitlines() if line)
    }
    try:
        from cfmigrate.analyzers.files import atomic_write_bytes

        atomic_write_bytes(cache, marshal.dumps(ranks))
    except OSError:  # a read-only home only costs speed
        pass
    return ranks


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """A tiktoken encoding built from the vocabulary shipped in a package, never from the web."""
    if name not in ENCODINGS:
        raise TokenizerError(
            f"unknown tokenizer {name!r}: choose one of {', '.join(ENCODINGS)} or 'anthropic'"
        )
    import tiktoken_ext.openai_public as public  # type: ignore[import-untyped]

    def load(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        return _ranks(name, expected_hash)

    with _lock:  # tiktoken's constructors call this module global; swap it for our offline loader
        original = public.load_tiktoken_bpe
        public.load_tiktoken_bpe = load
        try:
            spec = getattr(public, name)()
        finally:
            public.load_tiktoken_bpe = original
    return tiktoken.Encoding(**spec)


@dataclass(frozen=True)
class BpeTokenizer:
    """An offline estimate: an OpenAI BPE vocabulary, which is not Claude's tokenizer."""

    encoding: str = "o200k_base"

    @property
    def label(self) -> str:
        return f"estimate, {self.encoding}"

    def count(self, text: str) -> int:
        return len(get_encoding(self.encoding).encode(text, disallowed_special=()))


def compact(obj: Any) -> str:
    """JSON as an API request body carries it: compact, key order kept, non-ASCII as is."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def render_tool(tool: ToolDef, provider: Provider) -> dict[str, Any]:
    """The tool definition as the provider's API receives it in `tools=[...]`."""
    schema = dict(tool.input_schema) or {"type": "object", "properties": {}}
    if provider == "anthropic":
        out: dict[str, Any] = {"name": tool.name}
        if tool.description:
            out["description"] = tool.description
        out["input_schema"] = schema
        return out
    fn: dict[str, Any] = {"name": tool.name}
    if tool.description:
        fn["description"] = tool.description
    fn["parameters"] = schema
    return {"type": "function", "function": fn}


@dataclass(frozen=True)
class ToolCost:
    """What one tool definition costs, split into its description and the rest (name, schema, framing)."""

    tool: str
    total: int
    description: int

    @property
    def schema(self) -> int:
        return self.total - self.description


def tool_cost(tool: ToolDef, provider: Provider, tokenizer: Tokenizer) -> ToolCost:
    total = tokenizer.count(compact(render_tool(tool, provider)))
    description = tokenizer.count(compact(tool.description)) if tool.description else 0
    return ToolCost(tool=tool.name, total=total, description=min(description, total))


class CachedCounts:
    """An offline tokenizer whose counts persist between runs (keyed by the text's sha256), so a
    warm audit never loads the vocabulary. Exact for what it wraps: a count is only ever reused."""

    MAX_ENTRIES = 200_000

    def __init__(self, inner: BpeTokenizer) -> None:
        self.inner = inner
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        self.path = Path(base) / "cfmigrate" / "counts" / f"{inner.encoding}.json"
        try:
            loaded = json.loads(self.path.read_text())
            self._counts: dict[str, int] = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            self._counts = {}
        self._new = 0

    @property
    def label(self) -> str:
        return self.inner.label

    def count(self, text: str) -> int:
        key = hashlib.sha256(text.encode()).hexdigest()[:32]
        found = self._counts.get(key)
        if isinstance(found, int):
            return found
        value = self.inner.count(text)
        self._counts[key] = value
        self._new += 1
        return value

    def save(self) -> None:
        """Write new counts back (a read-only home only costs speed)."""
        if not self._new or len(self._counts) > self.MAX_ENTRIES:
            return
        try:
            from cfmigrate.analyzers.files import atomic_write_text

            atomic_write_text(self.path, json.dumps(self._counts, separators=(",", ":")))
        except OSError:
            pass
