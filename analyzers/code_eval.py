"""Static evaluation of one Python module: what its names hold, which MCP servers it declares or defines,
and every place it touches MCP tools. Read-only; nothing is imported or run.

Values are tracked just far enough to answer "is this receiver an MCP session, and to which server":
literals, import-resolved names, instances of known library classes (with the servers they reach),
paths relative to the file, and environment lookups. Anything else is `UNKNOWN`.
"""

from __future__ import annotations

import libcst as cst

from cfmigrate.analyzers.code_agents import AgentRecognition
from cfmigrate.analyzers.code_bindings import _Walk
from cfmigrate.analyzers.code_facts import Decl, DefinedServer, Event
from cfmigrate.analyzers.code_values import SrvRef

__all__ = ["Decl", "DefinedServer", "Event", "ModuleAnalysis", "SrvRef"]


class ModuleAnalysis(AgentRecognition):
    """Evaluates one parsed module; `run()` fills `decls`, `defined` and `events`."""

    def run(self) -> None:
        """Collect bindings, then visit the module in source order recording events per unit."""
        self._collect()
        analysis = self

        class Visitor(_Walk):
            def __init__(self) -> None:
                self.units: list[str] = []
                self.depth = 0

            def _unit(self) -> str | None:
                return self.units[0] if self.units else None

            def visit_ClassDef(self, node: cst.ClassDef) -> None:
                self.units.append(node.name.value)

            def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
                self.units.pop()

            def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
                analysis._visit_decorated(node)
                self.units.append(node.name.value)

            def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
                self.units.pop()

            def visit_Call(self, node: cst.Call) -> None:
                value = analysis.eval(node)
                for event in analysis._node_events.get(node, []):
                    analysis.events.append((self._unit(), event))
                analysis._prompt_join(node, self._unit())
                analysis._config_path(node, value, self._unit())

            def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
                analysis._config_path(node, analysis.eval(node), self._unit())

            def visit_FormattedString(self, node: cst.FormattedString) -> None:
                analysis._prompt_fstring(node, self._unit())

            def visit_SimpleString(self, node: cst.SimpleString) -> None:
                analysis._config_literal(node, self._unit())

            def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
                analysis._servers_import(node, self._unit())

            def visit_Import(self, node: cst.Import) -> None:
                analysis._servers_import(node, self._unit())

        Visitor().walk(self.module)
