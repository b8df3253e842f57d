"""`analyzers.cst_children.children` is libcst's `CSTNode.children`, node for node, in the same order."""

from __future__ import annotations

import inspect
from pathlib import Path

import libcst as cst
import pytest

from cfmigrate.analyzers.cst_children import children, visit_order

REPO = Path(__file__).resolve().parents[1]
# Real agent shapes (fixtures, e2e agents) and the rules themselves: every kind of statement and expression.
SOURCES = sorted(
    [
        *REPO.glob("fixtures/**/*.py"),
        *REPO.glob("tests/e2e/agents/*/*.py"),
        *REPO.glob("migrate/rules/cfm00*.py"),
    ]
)
# Visit methods with logic of their own (a conditional visit): these keep libcst's property.
FALLBACK = {
    "FormattedStringExpression",
    "TemplatedStringExpression",
    "ImportFrom",
    "LazyImportFrom",
    "TypeParam",
}


def test_every_node_class_has_a_visit_order_or_is_a_known_fallback() -> None:
    classes = [
        c
        for c in vars(cst).values()
        if inspect.isclass(c) and issubclass(c, cst.CSTNode) and not inspect.isabstract(c)
    ]
    assert len(classes) > 150
    without = {c.__name__ for c in classes if visit_order(c) is None}
    assert without <= FALLBACK, f"libcst changed: review {sorted(without - FALLBACK)}"
    assert visit_order(cst.Call) == (
        "lpar",
        "func",
        "whitespace_after_func",
        "whitespace_before_args",
        "args",
        "rpar",
    )
    assert visit_order(cst.Name) == ("lpar", "rpar")


@pytest.mark.parametrize("path", SOURCES[::3], ids=lambda p: str(p.relative_to(REPO)))
def test_children_match_libcst_on_real_code(path: Path) -> None:
    module = cst.parse_module(path.read_bytes())
    stack: list[cst.CSTNode] = [module]
    seen = 0
    while stack:
        node = stack.pop()
        expected = list(node.children)
        got = list(children(node))
        assert len(got) == len(expected) and all(a is b for a, b in zip(got, expected, strict=True)), type(
            node
        ).__name__
        stack.extend(expected)
        seen += 1
    assert seen > 100
