"""What `CodeMode.handle_tool_use` returns: an object shaped like an MCP `CallToolResult`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cfmigrate.runtime.executor import ExecutionResult


@dataclass(frozen=True)
class ContentBlock:
    """One content block (`.type`, `.text`), as MCP results carry them."""

    type: str = "text"
    text: str | None = None
    data: str | None = None
    mime_type: str | None = None
    uri: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, block: Mapping[str, Any]) -> ContentBlock:
        """Read a wire (camelCase) content block; unknown keys stay in `.raw`."""
        return cls(
            type=str(block.get("type", "text")),
            text=block.get("text") if isinstance(block.get("text"), str) else None,
            data=block.get("data") if isinstance(block.get("data"), str) else None,
            mime_type=block.get("mimeType") or block.get("mime_type"),
            uri=block.get("uri"),
            raw=dict(block),
        )

    def to_wire(self) -> dict[str, Any]:
        if self.raw:
            return dict(self.raw)
        out: dict[str, Any] = {"type": self.type}
        for key, value in (
            ("text", self.text),
            ("data", self.data),
            ("mimeType", self.mime_type),
            ("uri", self.uri),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class ToolUseResult:
    """A tool result with both MCP spellings: `.content[0].text`, `.text`, `.is_error`/`.isError`, ..."""

    content: tuple[ContentBlock, ...]
    is_error: bool = False
    structured_content: Any = None
    execution: ExecutionResult | None = None  # set when the code tool ran a script

    @classmethod
    def of_text(
        cls, text: str, *, is_error: bool = False, execution: ExecutionResult | None = None
    ) -> ToolUseResult:
        return cls(content=(ContentBlock(text=text),), is_error=is_error, execution=execution)

    @classmethod
    def from_wire(cls, result: Mapping[str, Any]) -> ToolUseResult:
        """From a `tools/call` result in wire form."""
        blocks = tuple(
            ContentBlock.from_wire(b) for b in result.get("content") or () if isinstance(b, Mapping)
        )
        return cls(
            content=blocks or (ContentBlock(text=""),),
            is_error=bool(result.get("isError", False)),
            structured_content=result.get("structuredContent"),
        )

    @property
    def text(self) -> str:
        """The text blocks joined by newlines."""
        return "\n".join(b.text for b in self.content if b.text is not None)

    @property
    def isError(self) -> bool:  # MCP 1.x spelling, kept for migrated loops
        return self.is_error

    @property
    def structuredContent(self) -> Any:  # MCP 1.x spelling, kept for migrated loops
        return self.structured_content

    def to_anthropic(self, tool_use_id: str) -> dict[str, Any]:
        """The `tool_result` block to send back in the next Messages API request."""
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": self.text,
            "is_error": self.is_error,
        }

    def to_openai(self, tool_call_id: str) -> dict[str, Any]:
        """The `tool` message to send back in the next Chat Completions request."""
        return {"role": "tool", "tool_call_id": tool_call_id, "content": self.text}

    def to_openai_responses(self, call_id: str) -> dict[str, Any]:
        """The `function_call_output` item to send back in the next Responses API request."""
        return {"type": "function_call_output", "call_id": call_id, "output": self.text}
