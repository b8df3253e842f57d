"""CFM004 -- the system prompt of a model call on code-mode tools becomes the code-first prompt.

Before (after CFM003)::

    tool_list = "\\n".join(f"- {t.name}: {t.description}" for t in tools)
    system = f"You are the sales assistant.\\nYou can use these tools:\\n{tool_list}"
    reply = client.messages.create(model=MODEL, system=system, tools=code_mode.tool_definitions("anthropic"), ...)

After::

    system = code_mode.system_prompt()
    reply = client.messages.create(model=MODEL, system=system, tools=code_mode.tool_definitions("anthropic"), ...)

Only model calls whose `tools=` are the code-mode definitions are touched (Anthropic `system=`, OpenAI
chat `messages=` system message, Responses `instructions=`). A prompt built from the MCP tools --
a constant, an f-string, `.format(tools=...)`, `%`, concatenation, a `format_for_llm()`-style
builder -- is replaced by `code_mode.system_prompt()`: the tool listing it carried is what code mode
removes from the context, and the code-first prompt tells the model how to find tools instead. A
prompt that lists no tools keeps its text after the code-first prompt
(`code_mode.system_prompt() + "\\n\\n" + SYSTEM`). Where the call has no prompt, one is inserted
(`system=`, `instructions=`, or a system message at the head of a literal `messages` list).

Left alone with a warning: an OpenAI `messages` list that cannot be traced to a literal list, and an
Anthropic `system=` given as content blocks that are not literal.
"""

from __future__ import annotations

import libcst as cst

from cfmigrate.migrate.rules._base import MigrationRule, register, string_value

_PROMPT_ARG = {"anthropic": "system", "openai-responses": "instructions"}


@register
class CodeFirstPrompt(MigrationRule):
    """System prompts that list tools → `code_mode.system_prompt()`; inserted where none."""

    RULE_ID = "CFM004"
    TITLE = "prompts → code_mode.system_prompt"
    DESCRIPTION = (
        "Prompts of model calls on code-mode tools → `code_mode.system_prompt()` (inserted where none)."
    )
    TRIGGERS = (b"tool_definitions",)

    def analyze(self, module: cst.Module) -> None:
        self._replace: dict[int, cst.BaseExpression] = {}
        self._insert_arg: dict[int, cst.Call] = {}
        self._prepend: dict[int, cst.List] = {}
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            stack.extend(reversed(node.children))
            if isinstance(node, cst.Call):
                self._model_call(node)

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode | cst.RemovalSentinel:
        key = id(original_node)
        if key in self._replace:
            return self._replace[key]
        if key in self._insert_arg and isinstance(updated_node, cst.Call):
            return self._with_prompt_arg(updated_node, self._insert_arg[key])
        if key in self._prepend and isinstance(updated_node, cst.List):
            return self._with_system_message(updated_node)
        return super().on_leave(original_node, updated_node)

    # ------------------------------------------------------------------ model calls
    def _model_call(self, call: cst.Call) -> None:
        response = self.resolver.type_of(call)
        if response.kind != "llm_response":
            return
        tools = next((a for a in call.args if a.keyword is not None and a.keyword.value == "tools"), None)
        if tools is None or self.resolver.type_of(tools.value).kind != "cm_tools":
            return
        conflict = self.code_mode_conflict(call)
        if conflict:
            self.skipped(call, conflict)
            return
        provider = response.flavor
        if provider in _PROMPT_ARG:
            keyword = _PROMPT_ARG[provider]
            given = next((a for a in call.args if a.keyword is not None and a.keyword.value == keyword), None)
            if given is None:
                self._insert_arg[id(call)] = call
                self.applied(call, f"no prompt: inserted {keyword}={self.plan.code_mode_var}.system_prompt()")
                return
            self._prompt(call, given.value)
            return
        messages = next(
            (a for a in call.args if a.keyword is not None and a.keyword.value == "messages"), None
        )
        if messages is None:
            return
        literal = self._literal_messages(messages.value)
        if literal is None:
            self.skipped(
                call,
                "the messages list cannot be traced to a literal list; add "
                f'{{"role": "system", "content": {self.plan.code_mode_var}.system_prompt()}} at its head by hand',
            )
            return
        system = next(
            (
                el.value
                for el in literal.elements
                if isinstance(el.value, cst.Dict) and _role(el.value) == "system"
            ),
            None,
        )
        if system is None:
            if id(literal) not in self._prepend:
                self._prepend[id(literal)] = literal
                self.applied(call, "no system message: inserted one with the code-first prompt")
            return
        assert isinstance(system, cst.Dict)
        content = next(
            (
                el.value
                for el in system.elements
                if isinstance(el, cst.DictElement) and string_value(el.key) == "content"
            ),
            None,
        )
        if content is not None:
            self._prompt(call, content)

    def _prompt(self, call: cst.Call, expr: cst.BaseExpression) -> None:
        """Rewrite one prompt expression: tool listings → the code-first prompt; other text kept after it."""
        if self._mentions_code_mode(expr):
            return
        source = self._tool_text_source(expr)
        if source is not None:
            if id(source) not in self._replace:
                self._replace[id(source)] = self.code_mode_call("system_prompt")
                self.orphan(source)
                self.applied(call, f"prompt listing tools → {self.plan.code_mode_var}.system_prompt()")
            return
        if isinstance(expr, cst.List):
            self.skipped(
                call,
                "system= is a list of content blocks; put code_mode.system_prompt() in its first text block by hand",
            )
            return
        if id(expr) in self._replace:
            return
        if isinstance(expr, cst.SimpleString) and expr.prefix.lower() in ("", "u") and len(expr.quote) == 1:
            merged = cst.SimpleString(f"{expr.prefix}{expr.quote}\\n\\n{expr.raw_value}{expr.quote}")
            self._replace[id(expr)] = cst.BinaryOperation(
                left=self.code_mode_call("system_prompt"), operator=cst.Add(), right=merged
            )
            self.applied(
                call, f"prompt without a tool listing: {self.plan.code_mode_var}.system_prompt() put in front"
            )
            return
        wrapped = expr
        if isinstance(expr, cst.BinaryOperation | cst.IfExp | cst.BooleanOperation):
            wrapped = expr.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        self._replace[id(expr)] = cst.BinaryOperation(
            left=cst.BinaryOperation(
                left=self.code_mode_call("system_prompt"),
                operator=cst.Add(),
                right=cst.SimpleString('"\\n\\n"'),
            ),
            operator=cst.Add(),
            right=wrapped,
        )
        self.applied(
            call, f"prompt without a tool listing: {self.plan.code_mode_var}.system_prompt() put in front"
        )

    def _tool_text_source(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """The expression that builds the tool-listing prompt (followed through one variable), or None."""
        if self.resolver.type_of(expr).kind != "tool_text":
            return None
        if isinstance(expr, cst.Name):
            values = []
            for bound in self.resolver.bindings(expr):
                parent = self.resolver.parent(bound)
                stmt = self.resolver.parent(parent) if isinstance(parent, cst.AssignTarget) else parent
                if isinstance(stmt, cst.Assign | cst.AnnAssign) and stmt.value is not None:
                    values.append(stmt.value)
            if len(values) == 1 and self.resolver.type_of(values[0]).kind == "tool_text":
                return values[0]
        return expr

    def _mentions_code_mode(self, expr: cst.BaseExpression) -> bool:
        stack: list[cst.CSTNode] = [expr]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.BaseExpression) and self.resolver.type_of(node).kind == "cm_prompt":
                return True
            stack.extend(node.children)
        return False

    def _literal_messages(self, expr: cst.BaseExpression) -> cst.List | None:
        if isinstance(expr, cst.List):
            return expr
        if isinstance(expr, cst.Name | cst.Attribute):
            inits: list[cst.BaseExpression] = []
            if isinstance(expr, cst.Name):
                for bound in self.resolver.bindings(expr):
                    parent = self.resolver.parent(bound)
                    stmt = self.resolver.parent(parent) if isinstance(parent, cst.AssignTarget) else parent
                    if isinstance(stmt, cst.Assign | cst.AnnAssign) and stmt.value is not None:
                        inits.append(stmt.value)
                    elif isinstance(parent, cst.Param):
                        return None
            else:
                owner = self.resolver.type_of(expr.value)
                info = (
                    self.resolver.classes.get(id(owner.node))
                    if owner.kind == "obj" and owner.node is not None
                    else None
                )
                if info is not None:
                    inits = [e for kind, e in info.attrs.get(expr.attr.value, []) if kind == "value"]
            if len(inits) == 1 and isinstance(inits[0], cst.List):
                return inits[0]
        return None

    # ------------------------------------------------------------------ edits
    def _with_prompt_arg(self, call: cst.Call, original: cst.Call) -> cst.Call:
        keyword = _PROMPT_ARG.get(self.resolver.type_of(original).flavor, "system")
        args = list(call.args)
        index = next(i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "tools")
        comma = args[index - 1].comma if index > 0 else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        tight = cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        )
        new = cst.Arg(
            value=self.code_mode_call("system_prompt"), keyword=cst.Name(keyword), equal=tight, comma=comma
        )
        args.insert(index, new)
        return call.with_changes(args=args)

    def _with_system_message(self, literal: cst.List) -> cst.List:
        elements = list(literal.elements)
        message = cst.Dict(
            [
                cst.DictElement(cst.SimpleString('"role"'), cst.SimpleString('"system"')),
                cst.DictElement(cst.SimpleString('"content"'), self.code_mode_call("system_prompt")),
            ]
        )
        comma = (
            elements[0].comma
            if elements and isinstance(elements[0].comma, cst.Comma)
            else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
        elements.insert(0, cst.Element(message, comma=comma))
        return literal.with_changes(elements=elements)


def _role(message: cst.Dict) -> str | None:
    for el in message.elements:
        if isinstance(el, cst.DictElement) and string_value(el.key) == "role":
            return string_value(el.value)
    return None
