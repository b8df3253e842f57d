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
from cfmigrate.analyzers.code_repo import (
    HelperClass,
    HelperFunction,
    ModuleExports,
    ServerConstant,
    helper_class,
    helper_function,
    located,
    module_name,
    plain,
    server_constant,
)
from cfmigrate.analyzers.code_values import UNKNOWN, SrvRef, Val

__all__ = ["Decl", "DefinedServer", "Event", "ModuleAnalysis", "SrvRef"]


class ModuleAnalysis(AgentRecognition):
    """Evaluates one parsed module; `run()` fills `decls`, `defined` and `events`."""

    def run(self) -> None:
        """Collect bindings, then visit the module in source order recording events per unit."""
        self.event_methods: dict[int, str] = {}  # index in `events` -> the method of a class it is in
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
                    if len(self.units) > 1:
                        analysis.event_methods[len(analysis.events) - 1] = self.units[1]
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

    def exports(self) -> ModuleExports:
        """What this module offers the repository's other modules (see `code_repo`)."""
        module = module_name(self.rel)
        constants: list[tuple[str, Val]] = []
        servers: list[ServerConstant] = []
        for name, expr in sorted(self._module_consts.items()):
            value = self.eval(expr)
            if value is not UNKNOWN and plain(value):
                constants.append((name, located(value, self.rel, self._first_line(expr))))
            elif (shared := server_constant(f"{module}.{name}", self.rel, value, self.decls)) is not None:
                servers.append(shared)
        helpers: list[HelperClass] = []
        for cls in sorted(self._module_classes):
            inside = [
                (self.event_methods.get(i), event)
                for i, (unit, event) in enumerate(self.events)
                if unit == cls
            ]
            helper = helper_class(f"{module}.{cls}", self.rel, inside, self.decls)
            if helper is not None:
                helpers.append(helper)
        functions: list[HelperFunction] = []
        for node in self.module.body:
            if not isinstance(node, cst.FunctionDef):
                continue
            name = node.name.value
            returned = [self.eval(expr) for expr in self._returns.get(node, [])]
            in_function = [event for unit, event in self.events if unit == name]
            function = helper_function(f"{module}.{name}", self.rel, returned, in_function, self.decls)
            if function is not None:
                functions.append(function)
        imports = tuple(sorted(set(self._import_qnames.values())))
        return ModuleExports(
            module, tuple(constants), tuple(helpers), imports, tuple(functions), tuple(servers)
        )

    def _first_line(self, node: cst.CSTNode) -> int:
        """The line of the first node under `node` whose line is known (1 when none is)."""
        lines: list[int] = []

        class Lines(_Walk):
            def on_node(self, inner: cst.CSTNode) -> None:
                found = analysis.line(inner)
                if found:
                    lines.append(found)

        analysis = self
        Lines().walk(node)
        return min(lines, default=1)
