"""Tool definitions as each provider's API receives them in `tools=[...]`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Provider = Literal["anthropic", "openai"]


@dataclass(frozen=True)
class ToolDefinition:
    """One tool the model is given: its wire name, description and JSON input schema."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    annotations: Mapping[str, Any] | None = None


def compact(obj: Any) -> str:
    """JSON as an API request body carries it: compact, key order kept, non-ASCII as is."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def render_tool(tool: ToolDefinition, provider: Provider) -> dict[str, Any]:
    """The tool definition as the provider's API receives it (the shape `analyzers.tokens` counts)."""
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
