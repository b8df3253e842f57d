"""CFM004 -- the tool list in the prompt of a model call on code-mode tools becomes the code-first prompt.

Before (after CFM003)::

    SYSTEM_PROMPT = '''You are the sales assistant. Never guess an id.

    Tools available:
    {tool_list}
    '''
    ...
    system = SYSTEM_PROMPT.format(tool_list=describe(tools))
    reply = client.messages.create(model=MODEL, system=system, tools=code_mode.tool_definitions("anthropic"), ...)

After::

    SYSTEM_PROMPT = '''You are the sales assistant. Never guess an id.

    {tool_list}
    '''
    ...
    system = SYSTEM_PROMPT.format(tool_list=code_mode.system_prompt())
    reply = client.messages.create(model=MODEL, system=system, tools=code_mode.tool_definitions("anthropic"), ...)

Only model calls whose `tools=` are the code-mode definitions are touched (Anthropic `system=`, OpenAI
chat `messages=` system message, Responses `instructions=`). Only the tool LIST leaves the prompt:
the part built from the tools -- a `.format(name=<tool text>)` argument, an f-string `{describe(tools)}`
field, a `+` or `%` operand -- becomes `code_mode.system_prompt()`, so the code-first prompt sits where
the list was and every instruction of the agent stays. A literal heading line right before the list
("Tools available:", "You can use these tools:") goes with it when it is in the same literal, or in a
module-level constant read only there. A prompt that is nothing but a tool list (a `"\\n".join(...)`,
a `describe(tools)` helper, `f"Tools: {names}"`) is replaced whole. A prompt that lists no tools keeps
its text after the code-first prompt (`code_mode.system_prompt() + "\\n\\n" + SYSTEM`). Where the call
has no prompt, one is inserted (`system=`, `instructions=`, or a system message at the head of a
literal `messages` list). A loop that posts the request itself (httpx to an OpenAI-compatible
endpoint: `chat(http, messages, tools)` where `tools` are the code-mode definitions) gets the system
message at the head of the literal message list it passes along with them.

Left alone with a warning (the agent then needs manual migration): a model call whose literal `tool_choice`
forces one MCP tool by name (code mode no longer offers it, the request would be refused), a prompt whose tool list
cannot be told apart from its instructions (a
helper that mixes both, `**kwargs` formatting), an OpenAI `messages` list that cannot be traced to a
literal list, and an Anthropic `system=` given as content blocks that are not literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import Assignment, ScopeProvider

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._base import MigrationRule, module_exports, register, string_value
from cfmigrate.migrate.rules._resolve import _returns

_PROMPT_ARG = {"anthropic": "system", "openai-responses": "instructions"}
# A short line that introduces a list: "Tools available:", "## Tools:", "You can call:" (no sentence in it).
_HEADING = re.compile(r"[#*>\- ]*[A-Za-z][A-Za-z0-9 ,'()/&-]*:\**")
_HEADING_MAX = 40
_MAX_DEPTH = 6
_LISTING_METHODS = frozenset({"join", "strip", "lower", "upper", "replace"})


@dataclass
class _Split:
    """How a prompt expression splits: wholly a tool list, or edits that swap only its tool list."""

    whole: bool
    edits: dict[int, cst.CSTNode] = field(default_factory=dict)  # original node id -> replacement
    removed: list[cst.CSTNode] = field(default_factory=list)  # the tool-list expressions that go


@register
class CodeFirstPrompt(MigrationRule):
    """The tool list of a system prompt → `code_mode.system_prompt()`, instructions kept; inserted where none."""

    RULE_ID = "CFM004"
    TITLE = "prompt tool lists → code_mode.system_prompt"
    DESCRIPTION = (
        "The tool list in the prompt of a model call on code-mode tools → `code_mode.system_prompt()`, "
        "the agent's instructions kept (inserted where there is no prompt)."
    )
    TRIGGERS = (b"tool_definitions",)

    def analyze(self, module: cst.Module) -> None:
        self._replace: dict[int, cst.CSTNode] = {}
        self._insert_arg: dict[int, cst.Call] = {}
        self._prepend: dict[int, cst.List] = {}
        self._done: set[int] = set()
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            stack.extend(reversed(child_nodes(node)))
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
        if response.kind not in ("llm_response", "llm_stream"):  # streamed (`messages.stream`) or not
            self._carried(call)
            return
        tools = next((a for a in call.args if a.keyword is not None and a.keyword.value == "tools"), None)
        if tools is None or not self._offers_code_tools(tools.value):
            return
        conflict = self.code_mode_conflict(call)
        if conflict:
            self.skipped(call, conflict)
            return
        forced = _forced_tool(call)
        if forced is not None:
            self.skipped(
                call,
                f"tool_choice forces the tool {forced!r}, which the model is no longer offered on code mode (the "
                "request would be refused); force the code tool or drop tool_choice by hand",
            )
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
        self._messages_prompt(call, messages.value)

    def _offers_code_tools(self, expr: cst.BaseExpression) -> bool:
        """`tools=` are the code-mode definitions, alone or with the agent's own tools beside them
        (`[*code_tools, CLOCK]`, `code_tools + [CLOCK]`)."""
        if self.resolver.type_of(expr).kind == "cm_tools":
            return True
        if isinstance(expr, cst.List):
            return any(
                isinstance(el, cst.StarredElement) and self.resolver.type_of(el.value).kind == "cm_tools"
                for el in expr.elements
            )
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return self._offers_code_tools(expr.left) or self._offers_code_tools(expr.right)
        return False

    def _carried(self, call: cst.Call) -> None:
        """A helper call that carries the code-mode tools together with a chat message list.

        OpenAI-compatible loops that post JSON themselves (httpx to Ollama, vLLM, LM Studio) hand
        the conversation and the tools to their own function: `chat(http, messages, tools)`. The
        message list is the one the model reads, so it gets the code-first system prompt.
        """
        values = [a.value for a in call.args]
        if not any(self.resolver.type_of(v).kind == "cm_tools" for v in values):
            return
        for value in values:
            literal = self._literal_messages(value) if isinstance(value, cst.Name | cst.Attribute) else None
            if literal is not None and _chat_messages(literal):
                self._messages_prompt(call, value)
                return

    def _messages_prompt(self, call: cst.Call, messages: cst.BaseExpression) -> None:
        literal = self._literal_messages(messages)
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
        """Rewrite one prompt expression: its tool list → the code-first prompt; a prompt without one keeps its text after it."""
        if self._mentions_code_mode(expr):
            return
        source = self._tool_text_source(expr)
        if source is not None:
            self._listing(call, source)
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

    def _listing(self, call: cst.Call, source: cst.BaseExpression) -> None:
        """Swap the tool list of a prompt built from the tools for the code-first prompt, keeping the rest."""
        if id(source) in self._done:
            return
        self._done.add(id(source))
        split = self._split(source, 0)
        var = self.plan.code_mode_var
        if split is None:
            self.skipped(
                call,
                "the prompt is built from the tools, but its tool list cannot be told apart from its instructions; "
                f"replace just the tool list with {var}.system_prompt() by hand",
            )
            return
        if split.whole:
            self._replace[id(source)] = self.code_mode_call("system_prompt")
            self.orphan(source)
            self.applied(call, f"prompt listing tools → {var}.system_prompt()")
            return
        self._replace.update(split.edits)
        for gone in split.removed:
            self.orphan(gone)
        self.applied(
            call, f"tool list in the prompt → {var}.system_prompt(); the agent's instructions are kept"
        )

    # ------------------------------------------------------------------ telling the tool list apart
    def _split(self, expr: cst.BaseExpression, depth: int) -> _Split | None:
        """Which part of a tools-derived string is the tool list, or None when that cannot be told."""
        if depth > _MAX_DEPTH:
            return None
        if isinstance(expr, cst.Name):
            value = self._single_value(expr)
            if value is None or not self.resolver._is_tool_text(value):
                return None
            inner = self._split(value, depth + 1)
            if inner is None or inner.whole:
                return inner
            return inner if self._read_once(expr) else None
        if self.resolver.type_of(expr).kind == "tool_field":
            return _Split(True)
        if isinstance(expr, cst.FormattedString | cst.ConcatenatedString):
            return self._split_segments(expr, depth)
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            return self._split_concat(expr, depth)
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Modulo):
            return self._split_percent(expr, depth)
        if isinstance(expr, cst.Call):
            return self._split_call(expr, depth)
        return None

    def _split_call(self, call: cst.Call, depth: int) -> _Split | None:
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "format":
            receiver = self.resolver.type_of(func.value).kind
            if receiver == "str":
                return self._split_format(call, depth)
            return _Split(True) if receiver == "tool_field" else None
        if isinstance(func, cst.Attribute) and func.attr.value in _LISTING_METHODS:
            return _Split(True)  # "\n".join(<one line per tool>), or a tool field tidied up
        qualified = (
            self.resolver.qualified_names(func) if isinstance(func, cst.Name | cst.Attribute) else set()
        )
        if "json.dumps" in qualified:
            return _Split(True)
        if isinstance(func, cst.Name) and self.resolver.is_builtin(func, "str"):
            return _Split(True)
        target = self.resolver.callee(call)
        if target is None:
            return None
        values = [v for v in _returns(target[0]) if self.resolver._is_tool_text(v)]
        if values and all((self._split(v, depth + 1) or _Split(False)).whole for v in values):
            return _Split(True)  # a describe(tools) helper: it returns nothing but the listing
        return None  # a helper that mixes instructions and the list: cannot tell

    def _part(self, node: cst.BaseExpression, depth: int, split: _Split) -> bool | None:
        """Account for one tools-derived part: True when it is wholly a list (to swap), None when unknown."""
        inner = self._split(node, depth + 1)
        if inner is None:
            return None
        if not inner.whole:
            split.edits.update(inner.edits)
            split.removed.extend(inner.removed)
        return inner.whole

    def _split_segments(
        self, expr: cst.FormattedString | cst.ConcatenatedString, depth: int
    ) -> _Split | None:
        """f-strings and implicit concatenation: text segments kept, tool-list fields swapped."""
        split = _Split(False)
        segments = _segments(expr)
        prose = False
        swapped = 0
        previous: cst.CSTNode | None = None
        for seg in segments:
            if isinstance(seg, cst.FormattedStringExpression):
                if not self.resolver._is_tool_text(seg.expression):
                    prose = True
                    previous = seg
                    continue
                whole = self._part(seg.expression, depth, split)
                if whole is None:
                    return None
                if whole:
                    swapped += 1
                    split.removed.append(seg.expression)
                    split.edits[id(seg)] = cst.FormattedStringExpression(
                        expression=self.code_mode_call("system_prompt")
                    )
                    self._drop_heading_before(previous, split)
                previous = seg
                continue
            text = _segment_text(seg)
            if text is None or not _only_headings(text):
                prose = True
            previous = seg
        if not swapped and not split.edits:
            return None
        if not prose and len(split.edits) == swapped:
            return _Split(True)
        return split

    def _split_concat(self, expr: cst.BinaryOperation, depth: int) -> _Split | None:
        split = _Split(False)
        operands = _operands(expr)
        prose = False
        swapped = 0
        for index, operand in enumerate(operands):
            if self.resolver._is_tool_text(operand):
                whole = self._part(operand, depth, split)
                if whole is None:
                    return None
                if whole:
                    swapped += 1
                    split.removed.append(operand)
                    split.edits[id(operand)] = self.code_mode_call("system_prompt")
                    self._drop_heading_before(operands[index - 1] if index else None, split)
                continue
            text = string_value(operand) if isinstance(operand, cst.SimpleString) else None
            if text is None or not _only_headings(text):
                prose = True
        if not swapped and not split.edits:
            return None
        if not prose and len(split.edits) - self._heading_edits(split) == swapped:
            return _Split(True)
        return split

    def _split_percent(self, expr: cst.BinaryOperation, depth: int) -> _Split | None:
        if self.resolver.type_of(expr.left).kind != "str":
            return None
        values = [e.value for e in expr.right.elements] if isinstance(expr.right, cst.Tuple) else [expr.right]
        if any(isinstance(e, cst.StarredElement) for e in getattr(expr.right, "elements", ())):
            return None
        split = _Split(False)
        swapped = 0
        for value in values:
            if not self.resolver._is_tool_text(value):
                continue
            whole = self._part(value, depth, split)
            if whole is None:
                return None
            if whole:
                swapped += 1
                split.removed.append(value)
                split.edits[id(value)] = self.code_mode_call("system_prompt")
        if not swapped and not split.edits:
            return None
        template = self._template(expr.left)
        if (
            template is not None
            and len(values) == swapped
            and _only_headings(re.sub(r"%[sr]", "", template[0]))
        ):
            return _Split(True)
        return split

    def _split_format(self, call: cst.Call, depth: int) -> _Split | None:
        """`TEMPLATE.format(tool_list=describe(tools))`: the tools argument is the list; the template stays."""
        assert isinstance(call.func, cst.Attribute)
        if any(a.star for a in call.args):
            return None
        split = _Split(False)
        swapped: list[str | None] = []
        for arg in call.args:
            if not self.resolver._is_tool_text(arg.value):
                continue
            whole = self._part(arg.value, depth, split)
            if whole is None:
                return None
            if whole:
                swapped.append(arg.keyword.value if arg.keyword is not None else None)
                split.removed.append(arg.value)
                split.edits[id(arg.value)] = self.code_mode_call("system_prompt")
        if not swapped and not split.edits:
            return None
        template = self._template(call.func.value)
        if (
            template is not None
            and len(swapped) == len(call.args)
            and _only_headings(re.sub(r"\{[^{}]*\}", "", template[0]))
        ):
            return _Split(True)
        if template is not None and template[1] is not None:
            node = template[1]
            raw = node.raw_value
            for keyword in swapped:
                if keyword is not None:
                    raw = _drop_heading(raw, "{" + keyword + "}") or raw
            if raw != node.raw_value:
                split.edits[id(node)] = node.with_changes(value=f"{node.prefix}{node.quote}{raw}{node.quote}")
        return split

    # ------------------------------------------------------------------ helpers of the split
    def _drop_heading_before(self, node: cst.CSTNode | None, split: _Split) -> None:
        """Remove a heading line ending the literal just before a swapped tool list."""
        if isinstance(node, cst.FormattedStringText):
            holder = self.resolver.parent(node)
            if not isinstance(holder, cst.FormattedString) or "r" in holder.start.lower():
                return  # in a raw f-string a backslash-n is not a line break
            raw = _drop_heading(node.value + "\0", "\0")
            if raw is not None:
                split.edits[id(node)] = node.with_changes(value=raw[:-1])
        elif isinstance(node, cst.SimpleString) and _editable(node):
            raw = _drop_heading(node.raw_value + "\0", "\0")
            if raw is not None:
                split.edits[id(node)] = node.with_changes(
                    value=f"{node.prefix}{node.quote}{raw[:-1]}{node.quote}"
                )

    @staticmethod
    def _heading_edits(split: _Split) -> int:
        return sum(
            1 for e in split.edits.values() if isinstance(e, cst.SimpleString | cst.FormattedStringText)
        )

    def _template(self, node: cst.BaseExpression) -> tuple[str, cst.SimpleString | None] | None:
        """A format template's text, and its literal when it may be edited (used nowhere else)."""
        if isinstance(node, cst.SimpleString):
            value = string_value(node)
            return (value, node if _editable(node) else None) if value is not None else None
        if isinstance(node, cst.ConcatenatedString):
            value = string_value(node)
            return (value, None) if value is not None else None
        if not isinstance(node, cst.Name):
            return None
        value_node = self._single_value(node)
        if not isinstance(value_node, cst.SimpleString | cst.ConcatenatedString):
            return None
        text = string_value(value_node)
        if text is None:
            return None
        editable = (
            isinstance(value_node, cst.SimpleString)
            and _editable(value_node)
            and self._read_once(node)
            and self._module_level(value_node)
            and not self._exported(node.value)
        )
        return text, value_node if editable and isinstance(value_node, cst.SimpleString) else None

    def _single_value(self, name: cst.Name) -> cst.BaseExpression | None:
        """The value of a name bound exactly once by a plain assignment, else None."""
        values = []
        for bound in self.resolver.bindings(name):
            parent = self.resolver.parent(bound)
            stmt = self.resolver.parent(parent) if isinstance(parent, cst.AssignTarget) else parent
            if isinstance(stmt, cst.Assign | cst.AnnAssign) and stmt.value is not None:
                values.append(stmt.value)
            else:
                return None
        return values[0] if len(values) == 1 else None

    def _read_once(self, name: cst.Name) -> bool:
        """Whether this access is the only read of the name (so editing its value changes nothing else)."""
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return False
        assignments = [a for a in scope[name.value] if isinstance(a, Assignment)]
        refs = [r for a in assignments for r in a.references]
        return len(assignments) == 1 and len(refs) == 1 and refs[0].node is name

    def _module_level(self, value: cst.CSTNode) -> bool:
        stmt = self.resolver.enclosing(value, (cst.SimpleStatementLine,))
        return stmt is not None and isinstance(self.resolver.parent(stmt), cst.Module)

    def _exported(self, name: str) -> bool:
        """Whether the module lists the name in `__all__` (or has an `__all__` that is not a literal)."""
        exports = module_exports(self.resolver.module)
        return exports is None or name in exports

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
            stack.extend(child_nodes(node))
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


def _forced_tool(call: cst.Call) -> str | None:
    """The tool a model call's literal `tool_choice` forces by name: Anthropic `{"type": "tool", "name": X}`, Chat
    Completions `{"type": "function", "function": {"name": X}}`, Responses `{"type": "function", "name": X}`."""
    choice = next(
        (a.value for a in call.args if a.keyword is not None and a.keyword.value == "tool_choice"), None
    )
    stack: list[cst.CSTNode] = [choice] if choice is not None else []
    while stack:
        node = stack.pop()
        stack.extend(child_nodes(node))
        if not isinstance(node, cst.Dict):
            continue
        fields = {
            string_value(el.key): el.value
            for el in node.elements
            if isinstance(el, cst.DictElement) and string_value(el.key) is not None
        }
        kind = string_value(fields["type"]) if "type" in fields else None
        inner = fields.get("function")
        named = fields.get("name") if kind in ("tool", "function") else None
        if kind == "function" and isinstance(inner, cst.Dict):
            named = next(
                (
                    el.value
                    for el in inner.elements
                    if isinstance(el, cst.DictElement) and string_value(el.key) == "name"
                ),
                None,
            )
        if named is not None:
            return string_value(named) or cst.Module([]).code_for_node(named)
    return None


def _chat_messages(literal: cst.List) -> bool:
    """A non-empty literal list whose elements are all `{"role": "...", ...}` dicts."""
    return bool(literal.elements) and all(
        isinstance(el, cst.Element) and isinstance(el.value, cst.Dict) and _role(el.value) is not None
        for el in literal.elements
    )


def _role(message: cst.Dict) -> str | None:
    for el in message.elements:
        if isinstance(el, cst.DictElement) and string_value(el.key) == "role":
            return string_value(el.value)
    return None


def _segments(expr: cst.BaseExpression) -> list[cst.CSTNode]:
    """The text and field segments of an f-string or an implicit concatenation, in order."""
    if isinstance(expr, cst.ConcatenatedString):
        return [*_segments(expr.left), *_segments(expr.right)]
    if isinstance(expr, cst.FormattedString):
        return list(expr.parts)
    return [expr]


def _segment_text(seg: cst.CSTNode) -> str | None:
    """The text of a literal segment (escapes for line breaks and tabs resolved), else None."""
    if isinstance(seg, cst.FormattedStringText):
        return seg.value.replace("\\n", "\n").replace("\\t", "\t")
    if isinstance(seg, cst.SimpleString):
        return string_value(seg)
    return None


def _operands(expr: cst.BaseExpression) -> list[cst.BaseExpression]:
    """`a + b + c` flattened (left-associative, unparenthesised chains only)."""
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add) and not expr.lpar:
        return [*_operands(expr.left), expr.right]
    return [expr]


def _is_heading(line: str) -> bool:
    text = line.strip()
    return 0 < len(text) <= _HEADING_MAX and _HEADING.fullmatch(text) is not None


def _only_headings(text: str) -> bool:
    """Whether a text is nothing but blank lines and headings (a tool list's frame, no instruction)."""
    return all(not line.strip() or _is_heading(line) for line in text.splitlines())


def _editable(node: cst.SimpleString) -> bool:
    """A plain (not raw, not bytes) string literal whose text can be edited as written."""
    return node.prefix.lower() in ("", "u")


def _drop_heading(raw: str, placeholder: str) -> str | None:
    """`raw` with the heading line just before the only `placeholder` removed, or None when there is none.

    Works on the literal as written: a line break is a real newline or the escape `\\n`; a heading is
    a short line ending in a colon ("Tools available:") directly above the placeholder's line, or starting
    the placeholder's own line ("Tools you can call: {tools}").
    """
    if raw.count(placeholder) != 1:
        return None
    at = raw.index(placeholder)
    if placeholder.startswith("{") and at and raw[at - 1] == "{":
        return None  # `{{name}}` is a literal brace, not a field
    head = raw[:at]
    end = len(head)
    breaks = 0
    while True:
        trimmed = head[:end].rstrip(" \t")
        if trimmed.endswith("\\n") and not trimmed.endswith("\\\\n"):
            end, breaks = len(trimmed) - 2, breaks + 1
        elif trimmed.endswith("\n") and not trimmed[:-1].endswith("\\"):
            end, breaks = len(trimmed) - 1, breaks + 1
        else:
            break
    if not breaks:  # "Tools you can call: {tools}": a heading that starts the placeholder's own line
        real, escaped = head.rfind("\n"), head.rfind("\\n")
        start = max(real + 1 if real >= 0 else 0, escaped + 2 if escaped >= 0 else 0)
        line = head[start:].rstrip(" \t")
        if not start or not line or "\\" in line or "{" in line or not _is_heading(line):
            return None  # (a prompt that starts with it is a tool list alone: replaced whole elsewhere)
        return head[:start] + raw[at:]
    body = head[:end]
    real, escaped = body.rfind("\n"), body.rfind("\\n")
    start = max(real + 1 if real >= 0 else 0, escaped + 2 if escaped >= 0 else 0)
    line = body[start:]
    if "\\" in line or not _is_heading(line):
        return None
    return body[:start] + raw[at:]
