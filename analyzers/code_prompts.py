"""Recognising system prompts built in code (joins and f-strings that list tools)."""

from __future__ import annotations

import libcst as cst

from cfmigrate.analyzers.code_bindings import _Walk
from cfmigrate.analyzers.code_facts import Event
from cfmigrate.analyzers.code_server_recognition import ServerRecognition
from cfmigrate.analyzers.code_values import Obj, _prompt_text, _servers_in


class PromptRecognition(ServerRecognition):
    """System prompt text of one module."""

    def _prompt(self, node: cst.BaseExpression | None) -> str:
        """The static text of a prompt argument ("" when none of it is known before run time)."""
        return _prompt_text(self.eval(node)) if node is not None else ""

    def _prompt_join(self, node: cst.Call, unit: str | None) -> None:
        """`"\\n".join(f"{t.name}: {t.description}" for t in tools)` and `format_for_llm()` builders."""
        if not (isinstance(node.func, cst.Attribute) and node.func.attr.value == "join" and node.args):
            return
        if not isinstance(node.func.value, cst.SimpleString | cst.Name | cst.FormattedString):
            return
        arg = node.args[0].value
        if not isinstance(arg, cst.ListComp | cst.GeneratorExp):
            return
        mentions = _attribute_names(arg.elt)
        source = self.eval(arg.for_in.iter)
        tool_like = isinstance(source, Obj) and source.api in ("mcp.tools", "mcp.tools_result", "mcp.tool")
        if (
            "format_for_llm" in mentions
            or (tool_like and mentions & {"name", "description"})
            or {"name", "description"} <= mentions
        ):
            self.events.append(
                (
                    unit,
                    Event(
                        "prompt_tools",
                        "prompt:join",
                        self.line(node),
                        servers=_servers_in(source),
                        detail="tool list joined into prompt text",
                    ),
                )
            )

    def _prompt_fstring(self, node: cst.FormattedString, unit: str | None) -> None:
        bases: dict[str, set[str]] = {}
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                expr = part.expression
                if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
                    bases.setdefault(expr.value.value, set()).add(expr.attr.value)
        for base, attrs in bases.items():
            if {"name", "description"} <= attrs and "tool" in base.lower():
                self.events.append(
                    (
                        unit,
                        Event(
                            "prompt_tools",
                            "prompt:f-string",
                            self.line(node),
                            detail=f"{base}.name / {base}.description in a prompt",
                        ),
                    )
                )
                return


def _attribute_names(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class Finder(_Walk):
        def visit_Attribute(self, node: cst.Attribute) -> None:
            found.add(node.attr.value)

    Finder().walk(node)
    return found
