"""The base class every rule derives from, the rule registry, and the records a rule leaves for the runner."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import ClassVar, TypeVar

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._plan import PLAN_KEY, SITES_KEY, MigrationPlan
from cfmigrate.migrate.rules._resolve import Resolver

ORPHANS_KEY = "cfmigrate.orphans"
CACHE_KEY = (
    "cfmigrate.cache"  # a dict shared by the rules run on one file (the metadata of an unchanged tree)
)
PATH_KEY = "cfmigrate.path"  # the file's POSIX path relative to the root, set by the runner
POLICY_KEY = (
    "cfmigrate.policy"  # "server id/tool" -> decision: tool filters a rule carried over (CFM005 -> CFM006)
)
ORIGINAL_KEY = "cfmigrate.original"  # the file's source before any rule ran (lines the plan's sites refer to)


def line_map(original: str, current: str) -> Callable[[int], int]:
    """Map a 1-based line of `current` (an earlier rule's output) to the line of `original` it stands at."""
    matcher = difflib.SequenceMatcher(None, original.splitlines(), current.splitlines(), autojunk=False)
    opcodes = matcher.get_opcodes()

    def where(line: int) -> int:
        index = line - 1
        for tag, i1, _i2, j1, j2 in opcodes:
            if j1 <= index < j2:
                return i1 + (index - j1) + 1 if tag == "equal" else i1 + 1
        return line

    return where


@dataclass(frozen=True)
class Site:
    """One place a rule rewrote, or left alone with a reason."""

    rule: str
    line: int
    applied: bool
    message: str
    manual: bool = False  # a framework site the user must convert by hand


R = TypeVar("R", bound="type[MigrationRule]")
REGISTRY: dict[str, type[MigrationRule]] = {}


def register(cls: R) -> R:
    """Add a rule to the registry under its stable ID (the module docstring documents it)."""
    rule_id = cls.RULE_ID
    if rule_id in REGISTRY and REGISTRY[rule_id] is not cls:
        raise ValueError(f"rule id {rule_id} registered twice")
    REGISTRY[rule_id] = cls
    return cls


class MigrationRule(VisitorBasedCodemodCommand):
    """A codemod with a stable ID that records every site it rewrites or skips."""

    RULE_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    DESCRIPTION = ""
    ALWAYS: ClassVar[bool] = False  # support rules that run whenever needed and cannot be disabled
    TRIGGERS: ClassVar[
        tuple[bytes, ...]
    ] = ()  # a file without any of these bytes is never parsed for this rule
    METADATA_DEPENDENCIES = (ScopeProvider, QualifiedNameProvider, ParentNodeProvider, PositionProvider)

    @classmethod
    def needed(cls, code: str, scratch: Mapping[str, object], plan: MigrationPlan) -> bool:
        """Whether this rule can change the current text at all (a cheap test before parsing metadata)."""
        return not cls.TRIGGERS or any(t.decode() in code for t in cls.TRIGGERS)

    def __init__(self, context: CodemodContext, plan: MigrationPlan | None = None) -> None:
        super().__init__(context)
        found = context.scratch.get(PLAN_KEY)
        self.plan: MigrationPlan = plan or (found if isinstance(found, MigrationPlan) else MigrationPlan())
        self._resolver: Resolver | None = None
        self._planned = 0
        self._source_lines: Callable[[int], int] | None = None

    @property
    def resolver(self) -> Resolver:
        """The resolver over the tree this pass is visiting."""
        if self._resolver is None:
            raise RuntimeError("the resolver is built when the rule runs (transform_module)")
        return self._resolver

    @property
    def path(self) -> str | None:
        """The file's path relative to the root, when the runner set it."""
        value = self.context.scratch.get(PATH_KEY)
        return value if isinstance(value, str) else None

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        """Analyse the original tree; visit it to apply edits only when the analysis planned some."""
        self._resolver = Resolver(self.get_metadata, tree, self.plan.code_mode_var)
        self._planned = 0
        self._source_lines = None
        self.analyze(tree)
        if not self._planned:
            return tree
        return super().transform_module_impl(tree)

    @contextmanager
    def _handle_metadata_reference(self, module: cst.Module) -> Iterator[cst.Module]:
        """Reuse the metadata of the previous rule while the tree is unchanged (one resolution, several rules)."""
        cache = self.context.scratch.get(CACHE_KEY)
        wrapper = cache.get("wrapper") if isinstance(cache, dict) else None
        if not isinstance(wrapper, MetadataWrapper) or wrapper.module is not module:
            wrapper = MetadataWrapper(module)
            if isinstance(cache, dict):
                cache["wrapper"] = wrapper
        previous = self.context.wrapper
        with self.resolve(wrapper):
            self.context = replace(self.context, wrapper=wrapper)
            try:
                yield wrapper.module
            finally:
                self.context = replace(self.context, wrapper=previous)

    def plan_edit(self) -> None:
        """Note that the analysis planned an edit (so the tree is visited to apply it)."""
        self._planned += 1

    def analyze(self, module: cst.Module) -> None:
        """Decide every rewrite on the original tree before any node is replaced (override)."""

    def line_of(self, node: cst.CSTNode) -> int:
        """1-based line of an original node."""
        pos = self.get_metadata(PositionProvider, node, None)
        return int(pos.start.line) if pos is not None else 0

    def source_line(self, node: cst.CSTNode) -> int:
        """The node's line in the file as written (earlier rules of this run may have moved it)."""
        line = self.line_of(node)
        original = self.context.scratch.get(ORIGINAL_KEY)
        if not isinstance(original, str):
            return line
        if self._source_lines is None:
            current = self.resolver.module.code
            self._source_lines = (lambda n: n) if current == original else line_map(original, current)
        return self._source_lines(line)

    def _sites(self) -> list[Site]:
        sites = self.context.scratch.setdefault(SITES_KEY, [])
        assert isinstance(sites, list)
        return sites

    def applied(self, node: cst.CSTNode, message: str) -> None:
        """Record a rewritten site (and plan the edit)."""
        self.plan_edit()
        self._sites().append(Site(self.RULE_ID, self.line_of(node), True, message))

    def skipped(self, node: cst.CSTNode, reason: str, *, manual: bool = False) -> None:
        """Record a site left alone, and warn with its line and reason."""
        line = self.line_of(node)
        self._sites().append(Site(self.RULE_ID, line, False, reason, manual))
        self.warn(f"{self.RULE_ID} line {line}: {reason}")

    def code_mode(self) -> cst.Name:
        """A reference to the module's CodeMode instance (CFM006 inserts it when missing)."""
        return cst.Name(self.plan.code_mode_var)

    def code_mode_call(self, method: str, *args: cst.BaseExpression) -> cst.Call:
        """`code_mode.<method>(*args)`."""
        return cst.Call(
            func=cst.Attribute(value=self.code_mode(), attr=cst.Name(method)),
            args=[cst.Arg(value=a) for a in args],
        )

    def code_mode_conflict(self, node: cst.CSTNode) -> str:
        """Why the code-mode variable cannot be used at `node` (a user binding of the same name), else ""."""
        name = self.plan.code_mode_var
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return ""
        for assignment in scope[name]:
            bound = getattr(assignment, "node", None)
            if isinstance(bound, cst.Name):
                parent = self.resolver.parent(bound)
                if isinstance(parent, cst.AssignTarget):
                    stmt = self.resolver.parent(parent)
                    if isinstance(stmt, cst.Assign) and self.resolver.type_of(stmt.value).kind == "code_mode":
                        continue
            if bound is not None and not _is_code_mode_import(bound):
                return f"the name {name!r} is already bound here to something else; rename it and run again"
        return ""

    def orphan(self, expr: cst.CSTNode) -> None:
        """Note names read by code this rule removed (path "" at module level); CFM007/CFM008 drop what is left unused."""
        func = self.resolver.enclosing(expr, (cst.FunctionDef,))
        path = function_path(func, self.resolver.parent) if isinstance(func, cst.FunctionDef) else ""
        orphans = self.context.scratch.setdefault(ORPHANS_KEY, set())
        for node in _names_in(expr):
            orphans.add((path, node.value))


def function_path(func: cst.FunctionDef, parent: Callable[[cst.CSTNode], cst.CSTNode | None]) -> str:
    """`Class.method` / `outer.inner`: a function's dotted path in its module."""
    parts = [func.name.value]
    cur = parent(func)
    while cur is not None:
        if isinstance(cur, cst.FunctionDef | cst.ClassDef):
            parts.append(cur.name.value)
        cur = parent(cur)
    return ".".join(reversed(parts))


def _is_code_mode_import(node: cst.CSTNode) -> bool:
    if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar):
        return False
    return any(isinstance(a.name, cst.Name) and a.name.value == "CodeMode" for a in node.names)


def _names_in(expr: cst.CSTNode) -> list[cst.Name]:
    out: list[cst.Name] = []
    stack: list[cst.CSTNode] = [expr]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.Name):
            out.append(cur)
        elif isinstance(cur, cst.Attribute):
            stack.append(cur.value)
            continue
        stack.extend(child_nodes(cur))
    return out


def string_value(node: cst.BaseExpression) -> str | None:
    """The value of a plain (non-f) string literal, else None."""
    if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def call_args(call: cst.Call, names: tuple[str, ...]) -> tuple[dict[str, cst.Arg], list[cst.Arg]]:
    """Bind a call's arguments to parameter names (positional first); the rest (extra / splats) separately."""
    bound: dict[str, cst.Arg] = {}
    extra: list[cst.Arg] = []
    position = 0
    for arg in call.args:
        if arg.star:
            extra.append(arg)
        elif arg.keyword is None:
            if position < len(names):
                bound[names[position]] = arg
            else:
                extra.append(arg)
            position += 1
        elif arg.keyword.value in names and arg.keyword.value not in bound:
            bound[arg.keyword.value] = arg
        else:
            extra.append(arg)
    return bound, extra


def module_exports(module: cst.Module) -> set[str] | None:
    """Names a literal `__all__` exports (empty when there is none); None when `__all__` is not a literal."""
    found: set[str] = set()
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            targets = (
                [t.target for t in small.targets]
                if isinstance(small, cst.Assign)
                else [small.target]
                if isinstance(small, cst.AnnAssign | cst.AugAssign)
                else []
            )
            if not any(isinstance(t, cst.Name) and t.value == "__all__" for t in targets):
                continue
            value = getattr(small, "value", None)
            if not isinstance(value, cst.List | cst.Tuple):
                return None
            for el in value.elements:
                text = el.value.evaluated_value if isinstance(el.value, cst.SimpleString) else None
                if not isinstance(text, str):
                    return None
                found.add(text)
    return found
