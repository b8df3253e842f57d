"""What `CodeMode.handle_tool_use` returns: a real `mcp.types.CallToolResult`, plus a few helpers.

A loop written against the installed `mcp` keeps working unchanged after the migration, whichever
way it reads a result: `.content[i].text`, `.model_dump()`, `.model_dump_json()`,
`.structured_content` (or the 1.x spelling `.structuredContent`), `.is_error` (or `.isError`).
A code result carries the script's output twice: as one text block, and as structured content
`{"output": <the same text>}`, so a loop that forwards either one gives the model the output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.types import CallToolResult, ContentBlock, TextContent
from pydantic import PrivateAttr, ValidationError

from cfmigrate.runtime.executor import ExecutionResult


class ToolUseResult(CallToolResult):
    """A `CallToolResult` with `.text`, the 1.x camelCase accessors and the provider result shapes."""

    _execution: ExecutionResult | None = PrivateAttr(default=None)

    @classmethod
    def of_text(
        cls,
        text: str,
        *,
        is_error: bool = False,
        execution: ExecutionResult | None = None,
        structured: Any = None,
    ) -> ToolUseResult:
        """One text block (and optional structured content)."""
        result = cls(
            content=[TextContent(type="text", text=text)], is_error=is_error, structured_content=structured
        )
        result._execution = execution
        return result

    @classmethod
    def of_code(cls, text: str, *, ok: bool, execution: ExecutionResult | None = None) -> ToolUseResult:
        """A script's result: its output as text and as structured content `{"output": text}`."""
        return cls.of_text(text, is_error=not ok, execution=execution, structured={"output": text})

    @classmethod
    def from_wire(cls, result: Mapping[str, Any]) -> ToolUseResult:
        """From a `tools/call` result in wire form (camelCase); content the installed mcp cannot read becomes text."""
        try:
            parsed = cls.model_validate(
                {
                    "content": list(result.get("content") or []),
                    "structuredContent": result.get("structuredContent"),
                    "isError": bool(result.get("isError", False)),
                }
            )
        except ValidationError:
            texts = [str(b.get("text", "")) for b in result.get("content") or () if isinstance(b, Mapping)]
            return cls.of_text(
                "\n".join(texts),
                is_error=bool(result.get("isError")),
                structured=result.get("structuredContent"),
            )
        if not parsed.content:  # loops read `.content[0].text`: an empty result reads as ""
            parsed.content = [TextContent(type="text", text="")]
        return parsed

    @property
    def execution(self) -> ExecutionResult | None:
        """The script run behind a code result (None for a kept direct tool)."""
        return self._execution

    @property
    def text(self) -> str:
        """The text blocks joined by newlines."""
        return "\n".join(b.text for b in self.content if isinstance(b, TextContent))

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


__all__ = ["ContentBlock", "ToolUseResult"]
