"""The honesty check for scripted models: a turn may only use what the request it answers showed.

``honesty_check(request, turn)`` is installed as ``ScriptedAPI(check=...)``. It collects the
identifiers visible in the request body -- the system prompt, the offered tools (names, descriptions,
schema keys), the user's text, earlier tool calls and every tool result (for code mode: the output of
earlier ``execute_code`` runs) -- and refuses the turn (HTTP 500, the run fails) when it uses:

* a tool that is not offered, or an argument that is not in that tool's ``input_schema``;
* in code sent to a tool with a ``code`` argument: a module, imported name, free variable, attribute,
  keyword argument or result field (``x["field"]``, ``x.get("field")``) that appears nowhere in the
  request -- except Python's own (builtins, the standard library, methods of built-in types) and names
  the script binds itself;
* a quoted fact (``HonestTurn.quotes``) that is not a substring of the request's text.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from support.scripted_api import PolicyError, Turn, result_text

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BUILTINS = frozenset(dir(builtins))
_TYPE_ATTRS = frozenset(
    name
    for kind in (str, bytes, dict, list, tuple, set, frozenset, int, float, bool, complex, type(None))
    for name in dir(kind)
)
_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


class HonestyError(PolicyError):
    """A scripted turn used something its request never showed."""


@dataclass(frozen=True)
class HonestTurn(Turn):
    """A turn plus the facts it claims to have read: each must be a substring of the request's text."""

    quotes: tuple[str, ...] = ()


def _blocks(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, Mapping)]


def _strings(value: Any, keys: bool) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            if keys:
                yield str(k)
            yield from _strings(v, keys)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v, keys)


def shown_texts(request: Mapping[str, Any]) -> list[str]:
    """Every piece of text the request shows the model (protocol keys such as "role" left out)."""
    out: list[str] = list(_strings(request.get("system"), False))
    for tool in request.get("tools") or []:
        out.extend(_strings(tool, True))
    for message in request.get("messages") or []:
        for block in _blocks(message):
            kind = block.get("type")
            if kind == "text":
                out.append(str(block.get("text", "")))
            elif kind == "tool_result":
                out.append(result_text(block))
            elif kind == "tool_use":
                out.append(str(block.get("name", "")))
                out.extend(_strings(block.get("input"), True))
    return out


def visible_identifiers(request: Mapping[str, Any]) -> frozenset[str]:
    """Identifier-like words anywhere in what the request shows."""
    return frozenset(word for text in shown_texts(request) for word in _IDENT.findall(text))


# ---------------------------------------------------------------------------------------------------


def _bound_names(tree: ast.AST) -> tuple[set[str], set[str], set[str]]:
    """(names the script binds, names bound to standard-library modules or objects, local functions)."""
    bound: set[str] = set()
    stdlib: set[str] = set()
    functions: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
            functions.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                bound.add(name)
                if alias.name.split(".")[0] in _STDLIB:
                    stdlib.add(name)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                name = alias.asname or alias.name
                bound.add(name)
                if (node.module or "").split(".")[0] in _STDLIB:
                    stdlib.add(name)
    return bound, stdlib, functions


def used_names(code: str) -> list[tuple[str, str]]:
    """(kind, name) for everything the code relies on that Python itself does not provide."""
    tree = ast.parse(code)
    bound, stdlib, functions = _bound_names(tree)
    out: list[tuple[str, str]] = []

    def python_owned(func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id in _BUILTINS or func.id in stdlib or func.id in functions
        if isinstance(func, ast.Attribute):
            root = func.value
            while isinstance(root, ast.Attribute):
                root = root.value
            return (isinstance(root, ast.Name) and root.id in stdlib) or func.attr in _TYPE_ATTRS
        return False

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] not in _STDLIB:
            out.extend(("module", part) for part in (node.module or "").split(".") if part)
            out.extend(("imported name", alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] not in _STDLIB:
                    out.extend(("module", part) for part in alias.name.split("."))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in bound and node.id not in _BUILTINS:
                out.append(("name", node.id))
        elif isinstance(node, ast.Attribute):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if not (isinstance(root, ast.Name) and root.id in stdlib) and node.attr not in _TYPE_ATTRS:
                out.append(("attribute", node.attr))
        elif isinstance(node, ast.Call):
            if not python_owned(node.func):
                out.extend(("keyword argument", kw.arg) for kw in node.keywords if kw.arg)
            if (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                out.append(("result field", node.args[0].value))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            out.append(("result field", node.slice.value))
    return out


def honesty_problems(request: Mapping[str, Any], turn: Turn) -> list[str]:
    """What the turn uses that the request never showed (empty when the turn is honest)."""
    visible = visible_identifiers(request)
    tools = {str(t.get("name")): t for t in request.get("tools") or [] if isinstance(t, Mapping)}
    problems: list[str] = []
    for call in turn.tool_calls:
        tool = tools.get(call.name)
        if tool is None:
            problems.append(f"tool {call.name!r} is not offered in the request")
            continue
        properties = (tool.get("input_schema") or {}).get("properties") or {}
        problems.extend(
            f"argument {key!r} is not in {call.name}'s input_schema"
            for key in call.input
            if key not in properties
        )
        code = call.input.get("code")
        if "code" in properties and isinstance(code, str):
            try:
                names = used_names(code)
            except SyntaxError as exc:
                problems.append(f"the code does not parse: {exc}")
                continue
            seen: set[tuple[str, str]] = set()
            for kind, name in names:
                if name not in visible and (kind, name) not in seen:
                    seen.add((kind, name))
                    problems.append(f"{kind} {name!r} in the code appears nowhere in the request")
    quotes = getattr(turn, "quotes", ())
    if quotes:
        text = "\n".join(shown_texts(request))
        problems.extend(f"quoted fact {q[:60]!r} is not in the request" for q in quotes if q not in text)
    return problems


def honesty_check(request: Mapping[str, Any], turn: Turn) -> None:
    """Refuse (HonestyError) a turn that uses what its request never showed."""
    problems = honesty_problems(request, turn)
    if problems:
        raise HonestyError("honesty check refused the turn: " + "; ".join(problems[:6]))
