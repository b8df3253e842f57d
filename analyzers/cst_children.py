"""A node's children in the order libcst visits them, without rebuilding the node.

`CSTNode.children` collects the children by running the node's `_visit_and_replace_children` with a
collecting visitor, which constructs (and validates) a copy of the node on every call: it was about a tenth
of a migration's CPU time, spent in the analyzers' and rules' tree walks. A node class's visit order is
a fixed list of its fields (its `_visit_and_replace_children` is one constructor call whose keyword
arguments visit the fields in order), so `children()` reads that order from the method's source once per
class and then only reads attributes. A class whose method is not of that shape (or has no source) gets
libcst's own property; tests/test_cst_children.py compares both on every node of a corpus.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Sequence
from functools import cache

import libcst as cst

_VISITS = frozenset(
    {
        "visit_required",
        "visit_optional",
        "visit_sentinel",
        "visit_sequence",
        "visit_body_sequence",
        "visit_iterable",
    }
)


@cache
def visit_order(cls: type[cst.CSTNode]) -> tuple[str, ...] | None:
    """The fields `cls` visits, in order; None when its visit method is not one straight-line constructor call."""
    try:
        source = textwrap.dedent(inspect.getsource(cls._visit_and_replace_children))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    function = tree.body[0] if tree.body else None
    if not isinstance(function, ast.FunctionDef) or len(function.body) != 1:
        return None
    ret = function.body[0]
    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Name) and ret.value.id == "self":
        return ()  # a leaf: `return self`
    if not isinstance(ret, ast.Return) or not isinstance(ret.value, ast.Call) or ret.value.args:
        return None
    fields: list[str] = []
    for keyword in ret.value.keywords:
        value = keyword.value
        if keyword.arg is None:
            return None
        if isinstance(value, ast.Call):
            func = value.func
            if not isinstance(func, ast.Name) or func.id not in _VISITS or len(value.args) < 3:
                return None
            name, attribute = value.args[1], value.args[2]
            if not (
                isinstance(name, ast.Constant)
                and isinstance(attribute, ast.Attribute)
                and isinstance(attribute.value, ast.Name)
                and attribute.value.id == "self"
                and attribute.attr == name.value
            ):
                return None
            fields.append(attribute.attr)
        elif not (
            isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id == "self"
        ):
            return None  # anything but a plain copied attribute may hide a visit
    return tuple(fields)


def children(node: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """`node.children`, in the same order, at the cost of reading the fields."""
    order = visit_order(type(node))
    if order is None:
        return node.children
    out: list[cst.CSTNode] = []
    for name in order:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (tuple, list)):
            out.extend(item for item in value if isinstance(item, cst.CSTNode))
    return out


def all_nodes(root: cst.CSTNode) -> list[cst.CSTNode]:
    """`root` and every node under it (a depth-first walk that takes the last child first)."""
    out: list[cst.CSTNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(children(node))
    return out


__all__ = ["all_nodes", "children", "visit_order"]
