"""CFM003 -- tool lists built from MCP tools for a model become the code-mode tool definitions.

Before::

    response = await session.list_tools()
    available_tools = [
        {"name": t.name, "description": t.description, "input_schema": t.inputSchema}
        for t in response.tools
    ]
    reply = client.messages.create(model=MODEL, tools=available_tools, messages=messages)

After::

    response = await session.list_tools()
    available_tools = code_mode.tool_definitions("anthropic")
    reply = client.messages.create(model=MODEL, tools=available_tools, messages=messages)

Also the loop form (`self.tools = []` ... `for t in result.tools: self.tools.append({...})`: the
empty list becomes `code_mode.tool_definitions(...)` and the append goes), `.extend(...)`, `+=`,
`list(<generator>)`, a comprehension written straight into `tools=`, and a helper that converts one
tool (`[to_tool(t) for t in tools]`). Shapes: Anthropic (`name` / `description` / `input_schema`)
OpenAI chat (`{"type": "function", "function": {..., "parameters": ...}}`) and the OpenAI Responses
API's flat function (`{"type": "function", "name": ..., "parameters": ...}` →
`tool_definitions("openai-responses")`). The definitions
keep every tool the audit keeps on direct MCP (the `CodeMode` instance is built with `keep_direct`).

Only tools that resolve to MCP tools (iterating `list_tools()` results of a resolved session) count;
a list built from anything else is left alone. Left alone with a warning: a list that does not start
empty.
"""

from __future__ import annotations

import libcst as cst

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._base import MigrationRule, register, string_value
from cfmigrate.migrate.rules._resolve import _returns

SHAPE_PROVIDER = {"anthropic": "anthropic", "openai": "openai", "openai-responses": "openai-responses"}


@register
class ToolListToCodeMode(MigrationRule):
    """Tool schemas sent to a model → `code_mode.tool_definitions(provider)`."""

    RULE_ID = "CFM003"
    TITLE = "tool lists → code_mode.tool_definitions"
    DESCRIPTION = (
        "Tool lists built from MCP tools (Anthropic / OpenAI chat / Responses shapes) → "
        "`code_mode.tool_definitions(provider)`."
    )
    TRIGGERS = (b"inputSchema", b"input_schema", b"parameters")

    def analyze(self, module: cst.Module) -> None:
        self._replace: dict[int, cst.BaseExpression] = {}
        self._remove: set[int] = set()
        self._done: set[int] = set()
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.ListComp | cst.GeneratorExp):
                self._comprehension(node)
            elif (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in ("append", "extend")
            ):
                self._mutation(
                    node,
                    node.func.value,
                    node.args[0].value if len(node.args) == 1 else None,
                    node.func.attr.value,
                )
            elif isinstance(node, cst.AugAssign) and isinstance(node.operator, cst.AddAssign):
                self._mutation(node, node.target, node.value, "extend")
            stack.extend(reversed(child_nodes(node)))

    def leave_List(self, original_node: cst.List, updated_node: cst.List) -> cst.BaseExpression:
        return self._replace.get(id(original_node), updated_node)

    def leave_ListComp(self, original_node: cst.ListComp, updated_node: cst.ListComp) -> cst.BaseExpression:
        return self._replace.get(id(original_node), updated_node)

    def leave_GeneratorExp(
        self, original_node: cst.GeneratorExp, updated_node: cst.GeneratorExp
    ) -> cst.BaseExpression:
        return self._replace.get(id(original_node), updated_node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        return self._replace.get(id(original_node), updated_node)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.RemovalSentinel:
        return cst.RemoveFromParent() if id(original_node) in self._remove else updated_node

    def leave_For(self, original_node: cst.For, updated_node: cst.For) -> cst.For | cst.RemovalSentinel:
        return cst.RemoveFromParent() if id(original_node) in self._remove else updated_node

    # ------------------------------------------------------------------ shapes
    def shape_of(self, expr: cst.BaseExpression) -> str | None:
        """The provider shape an expression builds from one MCP tool, or None."""
        if isinstance(expr, cst.Dict):
            return self._dict_shape(expr)
        if isinstance(expr, cst.Call):
            target = self.resolver.callee(expr)
            if target is not None:
                values = _returns(target[0])
                shapes = {self._dict_shape(v) if isinstance(v, cst.Dict) else None for v in values}
                if len(shapes) == 1:
                    return next(iter(shapes))
        return None

    def _dict_shape(self, node: cst.Dict) -> str | None:
        fields = _fields(node)
        if string_value(fields.get("type", cst.Name("None"))) == "function":
            inner = fields.get("function")
            if isinstance(inner, cst.Dict):
                f = _fields(inner)
                if self._tool_name(f.get("name")) and self._schema(f.get("parameters")):
                    return "openai"
                return None
            if self._tool_name(fields.get("name")) and self._schema(fields.get("parameters")):
                return "openai-responses"
            return None
        if self._tool_name(fields.get("name")) and self._schema(fields.get("input_schema")):
            return "anthropic"
        return None

    def _tool_name(self, value: cst.BaseExpression | None) -> bool:
        if value is None:
            return False
        t = self.resolver.type_of(value)
        return t.kind == "tool_field" and t.value == "name"

    def _schema(self, value: cst.BaseExpression | None) -> bool:
        if value is None:
            return False
        stack: list[cst.CSTNode] = [value]
        while stack:
            cur = stack.pop()
            if isinstance(cur, cst.BaseExpression) and self.resolver.type_of(cur).kind == "tool_schema":
                return True
            stack.extend(child_nodes(cur))
        return False

    # ------------------------------------------------------------------ sites
    def _definitions(self, provider: str) -> cst.Call:
        return self.code_mode_call("tool_definitions", cst.SimpleString(f'"{provider}"'))

    def _usable(self, node: cst.CSTNode, provider: str | None) -> str | None:
        if provider is None:
            return None
        conflict = self.code_mode_conflict(node)
        if conflict:
            self.skipped(node, conflict)
            return None
        return SHAPE_PROVIDER[provider]

    def _comprehension(self, comp: cst.ListComp | cst.GeneratorExp) -> None:
        if id(comp) in self._done:
            return
        provider = self.shape_of(comp.elt)
        if provider is None:
            return
        target: cst.BaseExpression = comp
        parent = self.resolver.parent(comp)
        if isinstance(comp, cst.GeneratorExp) and isinstance(parent, cst.Arg):
            call = self.resolver.parent(parent)
            if (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Name)
                and self.resolver.is_builtin(call.func, "list")
            ):
                target = call
                parent = self.resolver.parent(call)
        if isinstance(parent, cst.Arg):
            holder = self.resolver.parent(parent)
            if (
                isinstance(holder, cst.Call)
                and isinstance(holder.func, cst.Attribute)
                and holder.func.attr.value == "extend"
            ):
                return  # handled as a list being built
        if isinstance(parent, cst.AugAssign):
            return
        usable = self._usable(comp, provider)
        if usable is None:
            return
        self._done.add(id(comp))
        self._replace[id(target)] = self._definitions(usable)
        self.orphan(comp)
        self.applied(comp, f"{usable} tool list → {self.plan.code_mode_var}.tool_definitions({usable!r})")

    def _mutation(
        self, node: cst.CSTNode, target: cst.BaseExpression, value: cst.BaseExpression | None, how: str
    ) -> None:
        if value is None:
            return
        if how == "append":
            provider = self.shape_of(value)
        else:
            inner = value
            if isinstance(inner, cst.Call) and isinstance(inner.func, cst.Name) and inner.args:
                inner = inner.args[0].value
            if not isinstance(inner, cst.ListComp | cst.GeneratorExp):
                return
            provider = self.shape_of(inner.elt)
            if provider is not None:
                self._done.add(id(inner))
        usable = self._usable(node, provider)
        if usable is None:
            return
        statement = self.resolver.enclosing(node, (cst.SimpleStatementLine,))
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            self.skipped(node, "the tool list is extended inside a larger statement; migrate by hand")
            return
        inits = self._empty_inits(target)
        if inits is None:
            self.skipped(
                node,
                f"{_code(target)} does not start as an empty list; add code_mode.tool_definitions({usable!r}) by hand",
            )
            return
        for init in inits:
            self._replace[id(init)] = self._definitions(usable)
        loop = self.resolver.parent(self.resolver.parent(statement) or statement)
        if (
            isinstance(loop, cst.For)
            and isinstance(loop.body, cst.IndentedBlock)
            and len(loop.body.body) == 1
            and not loop.orelse
        ):
            self._remove.add(id(loop))
            self.orphan(loop.iter)
        else:
            self._remove.add(id(statement))
        self.orphan(value)
        self.applied(
            node,
            f"{usable} tool list built in a loop → {self.plan.code_mode_var}.tool_definitions({usable!r})",
        )

    def _empty_inits(self, target: cst.BaseExpression) -> list[cst.BaseExpression] | None:
        """The `[]` each binding of the list starts from, or None when one does not start empty."""
        values: list[cst.BaseExpression] = []
        if isinstance(target, cst.Name):
            for bound in self.resolver.bindings(target):
                parent = self.resolver.parent(bound)
                if isinstance(parent, cst.AugAssign):
                    continue
                if isinstance(parent, cst.AnnAssign) and parent.value is not None:
                    values.append(parent.value)
                    continue
                stmt = self.resolver.parent(parent) if isinstance(parent, cst.AssignTarget) else None
                if not isinstance(stmt, cst.Assign):
                    return None
                values.append(stmt.value)
        elif isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            owner = self.resolver.type_of(target.value)
            info = (
                self.resolver.classes.get(id(owner.node))
                if owner.kind == "obj" and owner.node is not None
                else None
            )
            if info is None:
                return None
            values = [e for kind, e in info.attrs.get(target.attr.value, []) if kind == "value"]
        else:
            return None
        if not values or not all(_is_empty_list(v, self) for v in values):
            return None
        return values


def _fields(node: cst.Dict) -> dict[str, cst.BaseExpression]:
    out: dict[str, cst.BaseExpression] = {}
    for el in node.elements:
        if isinstance(el, cst.DictElement):
            key = string_value(el.key)
            if key is not None:
                out[key] = el.value
    return out


def _is_empty_list(value: cst.BaseExpression, rule: MigrationRule) -> bool:
    if isinstance(value, cst.List) and not value.elements:
        return True
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and not value.args
        and rule.resolver.is_builtin(value.func, "list")
    )


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)
