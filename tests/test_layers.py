"""The import graph follows the layers (analyzers < generators < migrate; the runtime imports none of
them) and has no circle, read with `ast` from the package folders."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# What each top-level package may import of ours (itself included); anything else under `cfmigrate.` is wrong.
ALLOWED = {
    "cfmigrate.analyzers": {"cfmigrate.analyzers"},
    "cfmigrate.generators": {"cfmigrate.analyzers", "cfmigrate.generators", "cfmigrate.templates"},
    "cfmigrate.runtime": {"cfmigrate.runtime"},
    "cfmigrate.templates": {"cfmigrate.templates"},
    "cfmigrate.migrate": {
        "cfmigrate.analyzers",
        "cfmigrate.generators",
        "cfmigrate.migrate",
        "cfmigrate.runtime",
        "cfmigrate.templates",
    },
}


def _modules() -> dict[str, Path]:
    """Every module of the distribution, by dotted name."""
    dirs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    out: dict[str, Path] = {}
    for pkg, folder in dirs.items():
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out[".".join((pkg, *parts))] = path
    return out


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (never executed, so no run-time circle)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int, bool]]:
    """The modules `name` imports (at any depth of the file): (module, line, only for type checking)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = _type_only(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, id(node) in typing_only
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                yield (sub if sub in modules else mod), node.lineno, id(node) in typing_only


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """The run-time import graph between our modules, and every import against the layers (type-only too)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    wrong: list[str] = []
    for name, path in sorted(modules.items()):
        layer = ".".join(name.split(".")[:2])
        for target, line, typing_only in _imports(name, path, modules):
            if not target.startswith("cfmigrate."):
                continue
            if ".".join(target.split(".")[:2]) not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(REPO)}:{line} imports {target}")
            if target in modules and target != name and not typing_only:
                graph[name].add(target)
    return graph, sorted(set(wrong))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    graph, wrong = _graph()
    assert len(graph) > 50  # the walk found the package
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_circles_between_modules() -> None:
    graph, _ = _graph()
    assert _cycles(graph) == []


def test_the_checks_catch_an_arrow_back_up_and_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert len(_type_only(ast.parse("if TYPE_CHECKING:\n    import x\nimport y\n"))) == 2  # Import + alias
    modules = _modules()
    assert "cfmigrate.analyzers.naming" in modules and "cfmigrate.generators.plan.model" in modules
    graph, _ = _graph()
    assert "cfmigrate.analyzers.naming" in graph["cfmigrate.analyzers.discover"]
