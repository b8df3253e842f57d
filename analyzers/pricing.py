"""Documented reference tables: input-token prices and the fixed tool-use system-prompt overhead.

Every row names the page it was read from and the date that page stated (or was read); an unknown
model is reported as unknown, never guessed. Rows are matched by the longest model-name prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

DEFAULT_REQUESTS_PER_DAY = 1000

_ANTHROPIC_PRICING = "platform.claude.com/docs/en/about-claude/pricing"
_OPUS_5 = "platform.claude.com/docs/about-claude/models/whats-new-opus-5"
_MODEL_PAGE = "platform.claude.com/docs/en/models/{}/overview"
_SONNET_5 = (
    _MODEL_PAGE.format("sonnet-5")
    + " ($2 since launch; the $3 rate once announced for 2026-09-01 never applied)"
)
_LINEUP = "the current-lineup table on platform.claude.com/docs/about-claude/models/whats-new-opus-5"
_OPUS_4X = (
    "tokr pricing.toml and dev.to 'Claude API cheatsheet 2026' (secondary; Anthropic's model page not read)"
)
_OPENAI_PRICING = (
    "openai.com/api/pricing, as quoted by tokenmix.ai/blog/openai-api-cost-2026-gpt-5-5-5-4-nano-batch"
)
_OPENAI_2025 = "openai.com/api/pricing"
_TOOL_USE = 'docs.anthropic.com "Tool use with Claude" > Pricing (tool use system prompt)'


@dataclass(frozen=True)
class PriceRow:
    usd_per_mtok: float  # input tokens
    source: str
    as_of: str  # date the source stated or was read (YYYY-MM or YYYY-MM-DD)


@dataclass(frozen=True)
class OverheadRow:
    auto: int  # tokens, tool_choice auto / none
    forced: int  # tokens, tool_choice any / tool
    source: str
    as_of: str


# Model-name prefix -> input price (longest prefix wins).
INPUT_PRICES: dict[str, PriceRow] = {
    "claude-fable-5-2": PriceRow(8.0, _MODEL_PAGE.format("opus-5") + " (lineup table, id locale)", "2026-12"),
    "claude-fable-5-1": PriceRow(10.0, _LINEUP, "2026-12"),
    "claude-opus-5-5": PriceRow(4.0, _MODEL_PAGE.format("opus-5-5"), "2026-12"),
    "claude-opus-5": PriceRow(5.0, _OPUS_5, "2026-07-24"),
    "claude-sonnet-5-5": PriceRow(2.0, _LINEUP, "2026-12"),
    "claude-sonnet-5": PriceRow(2.0, _SONNET_5, "2026-12"),
    # claude-haiku-5-5 is priced by prompt length ($0.10 up to 100k tokens, $0.50 above, per request):
    # one rate per model cannot say which applies, so it stays out and asks for --price.
    "claude-opus-4-8": PriceRow(5.0, _OPUS_4X, "2026-05"),
    "claude-opus-4-7": PriceRow(5.0, _OPUS_4X, "2026-03"),
    "claude-opus-4-6": PriceRow(5.0, _MODEL_PAGE.format("opus-4-6"), "2026-12"),
    "claude-haiku-4-5": PriceRow(1.0, _ANTHROPIC_PRICING, "2025-11-15"),
    "claude-opus-4-5": PriceRow(5.0, _ANTHROPIC_PRICING, "2025-11-24"),
    "claude-opus-4-1": PriceRow(15.0, _ANTHROPIC_PRICING, "2025-11-15"),
    "claude-opus-4": PriceRow(15.0, _ANTHROPIC_PRICING, "2025-11-15"),
    "claude-sonnet-4": PriceRow(3.0, _ANTHROPIC_PRICING, "2025-11-15"),
    "claude-3-7-sonnet": PriceRow(3.0, _ANTHROPIC_PRICING, "2025-11-15"),
    "claude-3-5-sonnet": PriceRow(3.0, _ANTHROPIC_PRICING, "2025-11-15"),
    "claude-3-5-haiku": PriceRow(0.8, _ANTHROPIC_PRICING, "2025-11-15"),
    "claude-3-haiku": PriceRow(0.25, _ANTHROPIC_PRICING, "2025-11-15"),
    "gpt-5.5": PriceRow(5.0, _OPENAI_PRICING, "2026-06-04"),
    "gpt-5.4-mini": PriceRow(0.75, _OPENAI_PRICING, "2026-06-04"),
    "gpt-5.4-nano": PriceRow(0.2, _OPENAI_PRICING, "2026-06-04"),
    "gpt-5.4": PriceRow(2.5, _OPENAI_PRICING, "2026-06-04"),
    "gpt-5-mini": PriceRow(0.25, _OPENAI_2025, "2025-11"),
    "gpt-5-nano": PriceRow(0.05, _OPENAI_2025, "2025-11"),
    "gpt-5": PriceRow(1.25, _OPENAI_2025, "2025-11"),
    "gpt-4.1-mini": PriceRow(0.4, _OPENAI_2025, "2025-11"),
    "gpt-4.1-nano": PriceRow(0.1, _OPENAI_2025, "2025-11"),
    "gpt-4.1": PriceRow(2.0, _OPENAI_2025, "2025-11"),
    "gpt-4o-mini": PriceRow(0.15, _OPENAI_2025, "2025-11"),
    "gpt-4o": PriceRow(2.5, _OPENAI_2025, "2025-11"),
}

# Model-name prefix -> the tokens Anthropic adds as a tool-use system prompt when `tools` is non-empty.
# No page publishes this figure for the Claude 5 models (claude-opus-5, claude-sonnet-5, the 5.5s): they stay out
# of the table, and the audit says so; `--tokenizer anthropic` measures it instead.
TOOL_USE_OVERHEAD: dict[str, OverheadRow] = {
    "claude-opus-4": OverheadRow(346, 313, _TOOL_USE, "2025-11"),
    "claude-sonnet-4": OverheadRow(346, 313, _TOOL_USE, "2025-11"),
    "claude-haiku-4": OverheadRow(346, 313, _TOOL_USE, "2025-11"),
    "claude-3-7-sonnet": OverheadRow(346, 313, _TOOL_USE, "2025-11"),
    "claude-3-5-sonnet": OverheadRow(294, 261, _TOOL_USE, "2025-11"),
    "claude-3-5-haiku": OverheadRow(264, 340, _TOOL_USE, "2025-11"),
    "claude-3-opus": OverheadRow(530, 281, _TOOL_USE, "2025-11"),
    "claude-3-sonnet": OverheadRow(159, 235, _TOOL_USE, "2025-11"),
    "claude-3-haiku": OverheadRow(264, 340, _TOOL_USE, "2025-11"),
}


def bare_model(model: str) -> str:
    """The provider's model id from a framework's spelling: "anthropic:claude-x", "openai/gpt-x" -> the id."""
    for sep in (":", "/"):
        head, found, tail = model.partition(sep)
        if found and head.lower() in ("anthropic", "openai", "azure", "bedrock", "vertex_ai"):
            return tail
    return model


def _lookup(table: dict[str, T], model: str | None) -> tuple[str, T] | None:
    if not model:
        return None
    model = bare_model(model)
    best = max((p for p in table if model.startswith(p)), key=len, default=None)
    return (best, table[best]) if best else None


@dataclass(frozen=True)
class Price:
    """USD per million input tokens, or None when no price is known (no money is then computed)."""

    per_mtok: float | None
    source: str  # "--price", "[tool.cfmigrate] price", "table: ... (source, date)", or why unknown


def input_price(model: str | None, override: float | None = None, override_source: str = "--price") -> Price:
    """The USD price per million input tokens to use for a model, and where it came from."""
    if override is not None:
        return Price(override, override_source)
    found = _lookup(INPUT_PRICES, model)
    if found is not None:
        prefix, row = found
        return Price(row.usd_per_mtok, f"table row {prefix}: {row.source}, {row.as_of}")
    why = f"model {model!r} not in the price table" if model else "no model found"
    return Price(None, f"{why}; no money computed — set --price")


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
    prefix, row = found
    return Overhead(row.auto, f"{row.auto} tokens for {prefix}, tool_choice auto ({row.source}, {row.as_of})")
