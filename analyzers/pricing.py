"""Documented reference tables: input-token prices and the fixed tool-use system-prompt overhead.

Both tables are facts copied from the providers' public pricing and tool-use pages as they stood
on the date below; an unknown model is reported as unknown, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

TABLES_AS_OF = "2025-11"
PRICE_SOURCE = "provider pricing pages (anthropic.com/pricing, openai.com/api/pricing), as of " + TABLES_AS_OF
OVERHEAD_SOURCE = (
    'Anthropic docs, "Tool use with Claude" > Pricing (tool use system prompt), as of ' + TABLES_AS_OF
)
DEFAULT_PRICE_PER_MTOK = 3.0  # USD per million input tokens: the MISSION's ROI example (Claude Sonnet tier)
DEFAULT_REQUESTS_PER_DAY = 1000

# Model-name prefix -> USD per million input tokens (longest prefix wins).
INPUT_PRICE_PER_MTOK: dict[str, float] = {
    "claude-opus-4-5": 5.0,
    "claude-opus-4-1": 15.0,
    "claude-opus-4": 15.0,
    "claude-3-opus": 15.0,
    "claude-sonnet-4": 3.0,
    "claude-3-7-sonnet": 3.0,
    "claude-3-5-sonnet": 3.0,
    "claude-haiku-4-5": 1.0,
    "claude-3-5-haiku": 0.8,
    "claude-3-haiku": 0.25,
    "gpt-5-mini": 0.25,
    "gpt-5-nano": 0.05,
    "gpt-5": 1.25,
    "gpt-4.1-mini": 0.4,
    "gpt-4.1-nano": 0.1,
    "gpt-4.1": 2.0,
    "gpt-4o-mini": 0.15,
    "gpt-4o": 2.5,
}

# Model-name prefix -> tokens Anthropic adds as a tool-use system prompt when `tools` is non-empty,
# for tool_choice auto/none and for any/tool.
TOOL_USE_OVERHEAD: dict[str, tuple[int, int]] = {
    "claude-opus-4": (346, 313),
    "claude-sonnet-4": (346, 313),
    "claude-haiku-4": (346, 313),
    "claude-3-7-sonnet": (346, 313),
    "claude-3-5-sonnet": (294, 261),
    "claude-3-5-haiku": (264, 340),
    "claude-3-opus": (530, 281),
    "claude-3-sonnet": (159, 235),
    "claude-3-haiku": (264, 340),
}


def _lookup(table: dict[str, T], model: str | None) -> T | None:
    if not model:
        return None
    best = max((p for p in table if model.startswith(p)), key=len, default=None)
    return table[best] if best else None


@dataclass(frozen=True)
class Price:
    per_mtok: float
    source: str  # "--price", "[tool.cfmigrate] price", "table: claude-sonnet-4 (…)", "default (…)"


def input_price(model: str | None, override: float | None = None, override_source: str = "--price") -> Price:
    """The USD price per million input tokens to use for a model, and where it came from."""
    if override is not None:
        return Price(override, override_source)
    found = _lookup(INPUT_PRICE_PER_MTOK, model)
    if found is not None:
        return Price(found, f"table for {model} ({PRICE_SOURCE})")
    why = f"model {model!r} not in the table" if model else "no model found"
    return Price(DEFAULT_PRICE_PER_MTOK, f"default ${DEFAULT_PRICE_PER_MTOK}/MTok: {why}; set --price")


@dataclass(frozen=True)
class Overhead:
    tokens: int | None
    note: str


def tool_use_overhead(model: str | None, provider: str) -> Overhead:
    """The fixed tokens a provider adds whenever tools are sent, from the documented table."""
    if provider != "anthropic":
        return Overhead(None, f"{provider}: no published fixed tool-use overhead; not counted")
    found = _lookup(TOOL_USE_OVERHEAD, model)
    if found is None:
        return Overhead(None, f"model {model or 'unknown'}: not in the tool-use overhead table; not counted")
    return Overhead(found[0], f"{found[0]} tokens for {model}, tool_choice auto ({OVERHEAD_SOURCE})")
