"""CFM007 -- local values that only fed what the rules above removed are removed too (always on).

Before (after CFM003 replaced the tool list)::

    async def connect(self) -> None:
        response = await self.session.list_tools()
        tool_names = [t.name for t in response.tools]
        self.tools = code_mode.tool_definitions("anthropic")

After::

    async def connect(self) -> None:
        self.tools = code_mode.tool_definitions("anthropic")

Only local variables of a function, only names a rule reported as read by code it removed, only when
nothing reads them any more, and only when their value has no effect beyond computing it (literals,
f-strings, comprehensions, `str.join` / `.format`, `json.dumps`, a `list_tools()` listing). The rest
of the user's code -- and anything already unused before the migration -- is never touched.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst
from libcst.metadata import (
    Assignment,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._base import ORPHANS_KEY, MigrationRule, _names_in, function_path, register
from cfmigrate.migrate.rules._plan import MigrationPlan

_PURE_METHODS = frozenset(
    {
        "join",
        "format",
        "list_tools",
        "items",
        "keys",
        "values",
        "get",
        "strip",
        "copy",
        "lower",
        "upper",
        "splitlines",
    }
)
_PURE_BUILTINS = frozenset(
    {"len", "str", "list", "dict", "sorted", "tuple", "set", "repr", "enumerate", "zip"}
)


@register
class RemoveOrphans(MigrationRule):
    """Drop local values the migration left unused (a tool listing, its formatted text)."""

    RULE_ID = "CFM007"
    TITLE = "dead tool listings removed"
    DESCRIPTION = "Local values that only fed removed tool lists or prompts are removed (always on)."
    ALWAYS = True
    METADATA_DEPENDENCIES = (ScopeProvider, QualifiedNameProvider, ParentNodeProvider, PositionProvider)

    @classmethod
    def needed(cls, code: str, scratch: Mapping[str, object], plan: MigrationPlan) -> bool:
        return bool(scratch.get(ORPHANS_KEY))

    def should_allow_multiple_passes(self) -> bool:
        return True

    def analyze(self, module: cst.Module) -> None:
        self._remove: set[int] = set()
        orphans = self.context.scratch.get(ORPHANS_KEY) or set()
        if not orphans:
            return
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            stack.extend(child_nodes(node))
            if not isinstance(node, cst.SimpleStatementLine) or len(node.body) != 1:
                continue
            stmt = node.body[0]
            if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1:
                target, value = stmt.targets[0].target, stmt.value
            elif isinstance(stmt, cst.AnnAssign) and stmt.value is not None:
                target, value = stmt.target, stmt.value
            else:
                continue
            if not isinstance(target, cst.Name):
                continue
            func = self.resolver.enclosing(node, (cst.FunctionDef, cst.ClassDef))
            if not isinstance(func, cst.FunctionDef):
                continue
            path = function_path(func, self.resolver.parent)
            if (path, target.value) not in orphans or not self._unread(target) or not self._pure(value):
                continue
            self._remove.add(id(node))
            self.applied(node, f"removed {target.value!r}: it only fed the old tool list or prompt")
            for name in _names_in(value):
                orphans.add((path, name.value))

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        return cst.RemoveFromParent() if id(original_node) in self._remove else updated_node

    def _unread(self, target: cst.Name) -> bool:
        scope = self.get_metadata(ScopeProvider, target, None)
        if scope is None:
            return False
        assignments = [a for a in scope.assignments[target.value] if isinstance(a, Assignment)]
        return bool(assignments) and all(not a.references for a in assignments)

    def _pure(self, value: cst.CSTNode) -> bool:
        stack: list[cst.CSTNode] = [value]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Call):
                func = node.func
                if isinstance(func, cst.Attribute):
                    qualified = self.resolver.qualified_names(func)
                    if func.attr.value not in _PURE_METHODS and "json.dumps" not in qualified:
                        return False
                elif isinstance(func, cst.Name):
                    if not (func.value in _PURE_BUILTINS and self.resolver.is_builtin(func, func.value)):
                        return False
                else:
                    return False
            elif isinstance(node, cst.Lambda | cst.Yield | cst.NamedExpr):
                return False
            stack.extend(child_nodes(node))
        return True
