"""Where an agent file launches its MCP servers, so `CodeMode(launches=...)` can start them the same way.

Found on the file as written, before any rule runs: each place that opens the agent's own session or
framework server (`stdio_client(P)`, mcp 2.x `Client(P)`, FastMCP `Client(transport)`, an Agents SDK
`MCPServerStdio(params=P)`, a pydantic-ai `MCPServerStdio(command, args, env=..., cwd=...)` or
`MCPToolset(transport)`, `streamablehttp_client(url, headers=...)`), and the launch it is given:

* a name bound once to a launch object (`PARAMS = StdioServerParameters(command=sys.executable, ...)`):
  the name is passed as it is, so the object (and `sys.executable`, `Path(__file__).parent`, literal env
  values) stays where the user wrote it;
* an inline launch (`params={...}`, `StdioTransport(...)`, a URL, pydantic-ai's keywords as a dict): its
  source moves into the `CodeMode(...)` call of the same file, the place that opened the session goes.

Nothing is evaluated or copied into generated files: the expression is the user's own source. After the
rewrite the runner checks that no place that opened the agent's own session of a carried server is
left (the server would start twice), else the agent is not migrated.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import (
    Assignment,
    ImportAssignment,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from cfmigrate.analyzers.code_apis import LibraryApi, Role, api_of
from cfmigrate.analyzers.code_repo import module_name
from cfmigrate.analyzers.cst_children import children as child_nodes
from cfmigrate.migrate.rules._plan import MigrationPlan

LAUNCH_KEY = "cfmigrate.launches"


@dataclass(frozen=True)
class Launch:
    """One server's launch as the agent file gives it, and the places that opened its own session."""

    server: str  # wire server name
    expression: str  # source of the value for `launches=` (a name, or the inline launch)
    names: tuple[str, ...]  # names the expression reads: they must be visible where CodeMode opens
    openers: tuple[str, ...]  # `ast.dump` of each call that opened the agent's own session of it
    line: int  # where the launch is declared
    named: bool  # a name bound elsewhere (kept), not an inline expression (moved)


@dataclass(frozen=True)
class _Found:
    opener: cst.Call
    value: cst.BaseExpression | None  # the launch value as written (None: built from keywords)
    built: str | None = None  # source of a dict built from the constructor's keywords
    parts: tuple[cst.BaseExpression, ...] = ()  # the expressions that dict reads
    sse: bool = False


def expression_key(source: str) -> str:
    """A formatting-blind identity of an expression's source (its AST without positions)."""
    try:
        return ast.dump(ast.parse(f"(\n{source}\n)", mode="eval").body)
    except SyntaxError:
        return source


def call_keys(source: str) -> set[str]:
    """The `expression_key` of every call in a module's source."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {ast.dump(node) for node in ast.walk(tree) if isinstance(node, ast.Call)}


class _Finder:
    def __init__(self, module: cst.Module) -> None:
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.qnames = self.wrapper.resolve(QualifiedNameProvider)
        self.scopes = self.wrapper.resolve(ScopeProvider)
        self.parents = self.wrapper.resolve(ParentNodeProvider)
        self.positions = self.wrapper.resolve(PositionProvider)
        self.module = module

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def names(self, node: cst.CSTNode) -> set[str]:
        found = self.qnames.get(node, ())
        if callable(found):  # libcst loads qualified names lazily
            found = found()
        return {q.name for q in found}

    def line(self, node: cst.CSTNode) -> int:
        pos = self.positions.get(node)
        return int(pos.start.line) if pos is not None else 0

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        pos = self.positions.get(node)
        return (int(pos.start.line), int(pos.end.line)) if pos is not None else (0, 0)

    def calls(self) -> list[cst.Call]:
        out: list[cst.Call] = []
        stack: list[cst.CSTNode] = [self.module]
        while stack:
            node = stack.pop()
            if isinstance(node, cst.Call):
                out.append(node)
            stack.extend(reversed(child_nodes(node)))
        return out

    @staticmethod
    def arg(call: cst.Call, position: int | None, keyword: str) -> cst.BaseExpression | None:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == keyword:
                return arg.value
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if position is not None and position < len(positional):
            return positional[position].value
        return None

    def api(self, node: cst.CSTNode) -> LibraryApi | None:
        """The library API a callee resolves to through its imports (the shared API table), else None."""
        return next((api for name in sorted(self.names(node)) if (api := api_of(name)) is not None), None)

    def found(self, call: cst.Call) -> _Found | None:
        """The launch value a session-opening call is given, when it is one CodeMode can take."""
        api = self.api(call.func)
        if api is None or api.launch_arg is None:
            return None
        position, keyword = api.launch_arg
        if api.transport == "stdio" and keyword == "command":  # pydantic-ai: the launch as keywords
            parts = [("command", self.arg(call, position, "command")), ("args", self.arg(call, 1, "args"))]
            parts += [(k, self.arg(call, None, k)) for k in ("env", "cwd")]
            if parts[0][1] is None or any(a.star for a in call.args):
                return None
            return _Found(call, None, built=_dict_source(self, parts), parts=_values(parts))
        if keyword == "url":
            sse = api.transport == "sse"
            url = self.arg(call, position, "url")
            known = {"url", "headers", "timeout", "sse_read_timeout", "terminate_on_close", "tool_prefix",
                     "timeout_seconds", "max_retries", "read_timeout", "cache_tools"}  # fmt: skip
            if url is None or any(
                a.star or (a.keyword is not None and a.keyword.value not in known) for a in call.args
            ):
                return None  # an auth object or a pre-built HTTP client: the headers are not known
            parts = [("url", url), ("headers", self.arg(call, 1 if sse else None, "headers"))]
            parts = ([("transport", cst.SimpleString('"sse"'))] if sse else []) + parts
            return _Found(call, None, built=_dict_source(self, parts), parts=_values(parts))
        # an Agents SDK SSE server's `params=` carry no transport of their own
        sse = api.role is Role.FRAMEWORK_SERVER and api.transport == "sse"
        return _Found(call, self.arg(call, position, keyword), sse=sse)

    def launch_of(
        self, found: _Found, declaring: frozenset[str] = frozenset()
    ) -> tuple[str, cst.CSTNode, bool, set[str]] | None:
        """(source, declaring node, named?, names read) of the value a session-opening call is given;
        `declaring` holds the modules of the repository where the audit found server declarations."""
        if found.built is not None:
            names = set().union(*(self.free_names(part) for part in found.parts))
            return found.built, found.opener, False, names
        value = found.value
        if value is None:
            return None
        if isinstance(value, cst.Name):
            bound = self.single_binding(value)
            if bound is None and self.imported_from(value, declaring):
                return value.value, value, True, {value.value}  # `from settings import SERVER`: kept as is
            if bound is None or not self.is_launch_value(bound):
                return None
            return value.value, bound, True, {value.value}
        if not self.is_launch_value(value):
            return None
        source = self.code(value)
        if found.sse:
            source = f'{{"transport": "sse", **{source}}}'
        return source, value, False, self.free_names(value)

    def is_launch_value(self, value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.Dict):
            return True
        if isinstance(value, cst.SimpleString):
            text = value.evaluated_value
            return isinstance(text, str) and text.startswith(("http://", "https://"))
        if not isinstance(value, cst.Call):
            return False
        return is_launch_class(self.names(value.func))

    def imported_from(self, name: cst.Name, modules: frozenset[str]) -> bool:
        """Whether a name is bound only by `from <module> import NAME` of one of `modules` (a repository
        module where the audit followed a launch constant: `SERVER = StdioServerParameters(...)`)."""
        scope = self.scopes.get(name)
        if scope is None or not modules:
            return False
        assignments = list(scope[name.value])
        if len(assignments) != 1 or not isinstance(assignments[0], ImportAssignment):
            return False
        owners = {q.rpartition(".")[0].lstrip(".") for q in self.names(name)}
        return bool(owners) and all(
            any(owner == module or module.endswith("." + owner) for module in modules) for owner in owners
        )

    def single_binding(self, name: cst.Name) -> cst.BaseExpression | None:
        """The value of the one plain assignment of a name (module or function level), else None."""
        scope = self.scopes.get(name)
        if scope is None:
            return None
        assignments = [a for a in scope[name.value] if isinstance(a, Assignment)]
        if len(assignments) != 1:
            return None
        target = assignments[0].node
        holder = self.parents.get(target)
        if not isinstance(holder, cst.AssignTarget):
            return None
        statement = self.parents.get(holder)
        if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
            return None
        return statement.value

    def free_names(self, node: cst.CSTNode) -> set[str]:
        out: set[str] = set()
        stack: list[cst.CSTNode] = [node]
        while stack:
            cur = stack.pop()
            if isinstance(cur, cst.Name):
                out.add(cur.value)
            elif isinstance(cur, cst.Attribute) or (isinstance(cur, cst.Arg) and cur.keyword is not None):
                stack.append(cur.value)
                continue
            elif isinstance(cur, cst.Lambda | cst.ListComp | cst.DictComp | cst.SetComp | cst.GeneratorExp):
                out.add("<comprehension>")  # names bound inside: not worth resolving; treated as unknown
                continue
            stack.extend(child_nodes(cur))
        return out


def _values(parts: Sequence[tuple[str, cst.BaseExpression | None]]) -> tuple[cst.BaseExpression, ...]:
    return tuple(value for _, value in parts if value is not None)


_LAST: list[
    _Finder
] = []  # the finder of the module analysed last: its several questions share one resolution


def _finder(module: cst.Module) -> _Finder:
    """The metadata of `module` (modules are immutable: the last one's finder answers again)."""
    last = _LAST[0] if _LAST else None
    if last is not None and last.module is module:
        return last
    finder = _Finder(module)
    _LAST[:] = [finder]
    return finder


def resolved_wrapper(module: cst.Module) -> MetadataWrapper | None:
    """The metadata this module already resolved for its launches (scope, qualified names, parents,
    positions), for the first rule to use rather than resolve it again; None for any other module."""
    last = _LAST[0] if _LAST else None
    return last.wrapper if last is not None and last.module is module else None


def _dict_source(finder: _Finder, parts: Sequence[tuple[str, cst.BaseExpression | None]]) -> str:
    items = [f'"{key}": {finder.code(value)}' for key, value in parts if value is not None]
    return "{" + ", ".join(items) + "}"


def find_launches(module: cst.Module, path: str, plan: MigrationPlan) -> list[Launch]:
    """The launches this file gives the servers it reaches, one per server (none when ambiguous)."""
    finder = _finder(module)
    declaring = frozenset(
        module_name(where.rpartition(":")[0])
        for where in plan.code_servers
        if where.rpartition(":")[0] != path
    )
    raw: list[tuple[str, cst.CSTNode, bool, set[str], cst.Call]] = []
    for call in finder.calls():
        found = finder.found(call)
        if found is None:
            continue
        launch = finder.launch_of(found, declaring)
        if launch is not None:
            raw.append((*launch, call))
    if not raw:
        return []
    declared = {
        int(where.rpartition(":")[2]): name
        for where, name in plan.code_servers.items()
        if where.rpartition(":")[0] == path and where.rpartition(":")[2].isdigit()
    }
    reach = tuple(plan.file_servers.get(path, ())) or tuple(sorted(set(declared.values())))
    by_server: dict[str, list[tuple[str, cst.CSTNode, bool, set[str], cst.Call]]] = {}
    for item in raw:
        source, node, named, names, opener = item
        server = _server_of(finder, node, opener, declared, reach, len(raw))
        if server is not None and (server in reach or not reach):
            # a server of another agent of the file (one that stays on direct MCP) is not this CodeMode's
            by_server.setdefault(server, []).append(item)
    out: list[Launch] = []
    for server, items in sorted(by_server.items()):
        if len({expression_key(source) for source, *_ in items}) != 1:
            continue  # two different launches of one server in a file: which one CodeMode takes is not clear
        source, node, named, names, _ = items[0]
        out.append(
            Launch(
                server=server,
                expression=source,
                names=tuple(sorted(names)),
                openers=tuple(sorted({expression_key(finder.code(op)) for *_, op in items})),
                line=finder.line(node),
                named=named,
            )
        )
    return out


def _server_of(
    finder: _Finder,
    node: cst.CSTNode,
    opener: cst.Call,
    declared: Mapping[int, str],
    reach: Sequence[str],
    count: int,
) -> str | None:
    """The server a launch belongs to: the declaration the audit recorded on its lines, else the one reached."""
    statement: cst.CSTNode | None = node
    while statement is not None and not isinstance(statement, cst.BaseStatement):
        statement = finder.parents.get(statement)
    for holder in (node, opener, statement):
        if holder is None:
            continue
        start, end = finder.span(holder)
        names = {name for line, name in declared.items() if start <= line <= end}
        if len(names) == 1:
            return next(iter(names))
    if len(reach) == 1 and count >= 1:
        return reach[0]
    return None


def is_launch_class(names: Iterable[str]) -> bool:
    """Whether a callee's qualified names build a launch object (`StdioServerParameters`, a FastMCP transport)."""
    return any((api := api_of(name)) is not None and api.role is Role.SERVER_PARAMS for name in names)


def _opens_session(api: LibraryApi | None) -> bool:
    """An MCP transport, client session or framework server that starts (or connects to) a server itself."""
    if api is None:
        return False
    if api.role is Role.SESSION:
        # a group left in place still connects its servers; an mcp-use session is built by its client
        return api.flavor in ("mcp", "fastmcp", "group")
    return api.role in (Role.TRANSPORT, Role.FRAMEWORK_SERVER)


def session_openers(module: cst.Module) -> list[int]:
    """Lines of the calls that open an MCP session, transport or framework server of the agent's own."""
    finder = _finder(module)
    return sorted({finder.line(call) for call in finder.calls() if _opens_session(finder.api(call.func))})


def session_groups(module: cst.Module) -> list[int]:
    """Lines of the mcp `ClientSessionGroup(...)` calls (a group connects each server with `connect_to_server`)."""
    finder = _finder(module)
    return sorted(
        {
            finder.line(call)
            for call in finder.calls()
            if (api := finder.api(call.func)) is not None
            and api.role is Role.SESSION
            and api.flavor == "group"
        }
    )


__all__ = [
    "LAUNCH_KEY",
    "Launch",
    "call_keys",
    "expression_key",
    "find_launches",
    "is_launch_class",
    "resolved_wrapper",
    "session_groups",
    "session_openers",
]
