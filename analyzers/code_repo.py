"""Resolution across the files of one repository: what a module offers to the modules that import it.

Each file is analysed on its own first. A module then *exports* its plain-data constants (a server
table, a system prompt, a model name) and its *helper classes* (a class that holds an MCP session and
calls its tools but sends no model request). A file that imports one of them is analysed again with
those values in hand, so the agent is found where the model requests are sent, with the helper's
servers, and the helper is not reported as an agent of its own.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from cfmigrate.analyzers.code_facts import Decl, Event
from cfmigrate.analyzers.code_values import DictV, EnvRef, Lit, Obj, Seq, Text, Val

__all__ = [
    "External",
    "HelperClass",
    "HelperFunction",
    "ModuleExports",
    "ServerConstant",
    "external_context",
    "find_module",
    "helper_class",
    "helper_function",
    "module_name",
    "plain",
    "server_constant",
]

_MAX_ITEMS = 2_000  # a constant larger than this (a data table) is not exported


@dataclass(frozen=True)
class HelperClass:
    """A class that wraps MCP sessions for other code: its servers and what each method does with them."""

    qname: str  # module.Class
    rel: str
    servers: tuple[Decl, ...]  # its declarations, `rel` and line pointing into the helper's file
    methods: tuple[tuple[str, tuple[str, ...]], ...]  # method -> MCP event kinds ("call_tool", "list_tools")
    lines: tuple[int, ...]  # lines of its MCP events (the helper file's agent made of them is dropped)

    def kinds(self, method: str) -> tuple[str, ...]:
        return next((kinds for name, kinds in self.methods if name == method), ())


@dataclass(frozen=True)
class HelperFunction:
    """A module-level function that builds and returns an MCP session, client or tool list for others."""

    qname: str  # module.function
    rel: str
    api: str  # the library class of what it returns ("langchain.MultiServerMCPClient", "mcp.tools", ...)
    servers: tuple[Decl, ...]  # its declarations, `rel` and line pointing into the helper's file
    configs: tuple[str, ...]  # config files its servers come from
    lines: tuple[int, ...]  # lines of its MCP events (the helper file's agent made of them is dropped)


@dataclass(frozen=True)
class ServerConstant:
    """A module constant holding server launches: `SERVER = StdioServerParameters(...)`, or a list of them."""

    qname: str  # module.NAME
    rel: str
    servers: tuple[Decl, ...]  # its declarations, `rel` and line pointing into the constant's file
    listed: bool  # a list with one launch per item (else one launch object)


@dataclass(frozen=True)
class ModuleExports:
    """What one module offers to the rest of the repository, and what it imports from it."""

    module: str
    constants: tuple[tuple[str, Val], ...] = ()
    helpers: tuple[HelperClass, ...] = ()
    imports: tuple[str, ...] = ()  # qualified names this module imports
    functions: tuple[HelperFunction, ...] = ()
    servers: tuple[ServerConstant, ...] = ()


External = Val | HelperClass | HelperFunction | ServerConstant
"""A value another module of the repository gives a qualified name: a constant, a helper class, a
helper function or a constant holding server launches."""


def module_name(rel: str) -> str:
    """Dotted module name of a repository-relative `.py` path (`pkg/__init__.py` -> `pkg`)."""
    stem = rel[:-3] if rel.endswith(".py") else rel
    parts = [p for p in stem.split("/") if p]
    if len(parts) > 1 and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def plain(value: Val, budget: list[int] | None = None) -> bool:
    """True for data that means the same in any module: literals, text, lists and dicts of them."""
    budget = budget if budget is not None else [_MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if isinstance(value, Lit | Text | EnvRef):
        return True
    if isinstance(value, Seq):
        return all(plain(v, budget) for v in value.items)
    if isinstance(value, DictV):
        return all(plain(k, budget) and plain(v, budget) for k, v in value.items)
    return False


def located(value: Val, rel: str, line: int) -> Val:
    """`value` with every dict in it marked as held by the constant at `rel:line`."""
    if isinstance(value, DictV):
        items = tuple((k, located(v, rel, line)) for k, v in value.items)
        return replace(value, items=items, origin=(rel, line))
    if isinstance(value, Seq):
        return replace(value, items=tuple(located(v, rel, line) for v in value.items))
    return value


def helper_class(
    qname: str,
    rel: str,
    events: Iterable[tuple[str | None, Event]],
    decls: list[Decl],
) -> HelperClass | None:
    """The helper a class is, from the events recorded inside it (unit, method), or None when it sends
    model requests or builds an agent itself (then it is an agent) or touches no MCP session."""
    kinds: dict[str, set[str]] = {}
    refs: set[int] = set()
    lines: set[int] = set()
    for method, event in events:
        if event.kind in ("model", "anchor", "framework", "code_mode"):
            return None
        if not event.mcp:
            continue
        lines.add(event.line)
        refs.update(r for r in event.servers if isinstance(r, int))
        if method is not None and event.kind in ("call_tool", "list_tools"):
            kinds.setdefault(method, set()).add(event.kind)
    if not lines or not refs:
        return None
    servers = tuple(replace(decls[i], rel=decls[i].rel or rel) for i in sorted(refs))
    return HelperClass(
        qname=qname,
        rel=rel,
        servers=servers,
        methods=tuple((m, tuple(sorted(k))) for m, k in sorted(kinds.items())),
        lines=tuple(sorted(lines)),
    )


_NOT_HELPERS = frozenset({"agent", "model.response", "server_def", "cfmigrate.CodeMode"})


def helper_function(
    qname: str,
    rel: str,
    returned: Iterable[Val],
    events: Iterable[Event],
    decls: list[Decl],
) -> HelperFunction | None:
    """The helper a function is when what it returns reaches MCP servers and it sends no model request."""
    found = next((v for v in returned if isinstance(v, Obj) and (v.servers or v.configs)), None)
    if found is None or found.api in _NOT_HELPERS or found.path:
        return None
    lines: set[int] = set()
    for event in events:
        if event.kind in ("model", "anchor", "code_mode"):
            return None
        if event.mcp:
            lines.add(event.line)
    refs = sorted(r for r in found.servers if isinstance(r, int))
    return HelperFunction(
        qname=qname,
        rel=rel,
        api=found.api,
        servers=tuple(replace(decls[i], rel=decls[i].rel or rel) for i in refs),
        configs=tuple(sorted(found.configs)),
        lines=tuple(sorted(lines)),
    )


def server_constant(qname: str, rel: str, value: Val, decls: list[Decl]) -> ServerConstant | None:
    """The launches a module constant holds, when its value is server parameters (one object, or a list
    of them with one server each) whose launch is literal, else None."""

    def one(item: Val) -> int | None:
        if isinstance(item, Obj) and item.api == "server_params" and not item.path and len(item.servers) == 1:
            (ref,) = item.servers
            return ref if isinstance(ref, int) else None
        return None

    items = value.items if isinstance(value, Seq) else (value,)
    refs = [one(item) for item in items]
    if not refs or any(ref is None for ref in refs):
        return None
    return ServerConstant(
        qname=qname,
        rel=rel,
        servers=tuple(replace(decls[ref], rel=decls[ref].rel or rel) for ref in refs if ref is not None),
        listed=isinstance(value, Seq),
    )


def _absolute(qname: str, importer: str) -> str:
    """`.settings.X` imported by `app/planner.py` -> `app.settings.X`."""
    if not qname.startswith("."):
        return qname
    dots = len(qname) - len(qname.lstrip("."))
    package = module_name(importer).split(".")
    if not importer.endswith("/__init__.py"):
        package = package[:-1]
    base = package[: len(package) - (dots - 1)] if dots > 1 else package
    return ".".join([*base, qname[dots:]]) if base else qname[dots:]


def _find_module(dotted: str, importer: str, modules: Mapping[str, str]) -> str | None:
    """The repository module an import names: exact first, else the one whose dotted path ends with it
    (a `src/` layout, or scripts run from their own folder), nearest to the importer."""
    if dotted in modules:
        return modules[dotted]
    suffix = "." + dotted
    found = [m for m in modules if m.endswith(suffix)]
    if not found:
        return None
    folder = posixpath.dirname(importer).replace("/", ".")
    found.sort(key=lambda m: (not m.startswith(folder + ".") if folder else False, m.count("."), m))
    return modules[found[0]]


def find_module(written: str, importer: str, modules: Mapping[str, str]) -> str | None:
    """The repository file an imported name lives in (`pkg.mod.NAME` or the module `pkg.mod` itself)."""
    qname = _absolute(written, importer)
    head = qname.rpartition(".")[0]
    for dotted in (qname, head):
        if dotted:
            found = _find_module(dotted, importer, modules)
            if found is not None and found != importer:
                return found
    return None


def external_context(
    rel: str, exports: ModuleExports, by_rel: Mapping[str, ModuleExports]
) -> dict[str, External]:
    """Qualified name (as the importer writes it) -> the constant or helper class behind it."""
    modules = {e.module: r for r, e in by_rel.items()}
    context: dict[str, External] = {}
    for written in exports.imports:
        qname = _absolute(written, rel)
        # `from pkg.mod import NAME`: the module is everything but the last part
        head, _, last = qname.rpartition(".")
        target = _find_module(head, rel, modules) if head else None
        if target is not None and target != rel:
            value = _lookup(by_rel[target], last)
            if value is not None:
                context[written] = value
        # `import pkg.mod` (then `pkg.mod.NAME`): every exported name under the written prefix
        whole = _find_module(qname, rel, modules)
        if whole is not None and whole != rel:
            offered = by_rel[whole]
            for name, const in offered.constants:
                context[f"{written}.{name}"] = const
            for helper in offered.helpers:
                context[f"{written}.{helper.qname.rpartition('.')[2]}"] = helper
            for function in offered.functions:
                context[f"{written}.{function.qname.rpartition('.')[2]}"] = function
            for shared in offered.servers:
                context[f"{written}.{shared.qname.rpartition('.')[2]}"] = shared
    return context


def _lookup(exports: ModuleExports, name: str) -> External | None:
    for const_name, value in exports.constants:
        if const_name == name:
            return value
    helper = next((h for h in exports.helpers if h.qname.rpartition(".")[2] == name), None)
    if helper is not None:
        return helper
    function = next((f for f in exports.functions if f.qname.rpartition(".")[2] == name), None)
    if function is not None:
        return function
    return next((c for c in exports.servers if c.qname.rpartition(".")[2] == name), None)
