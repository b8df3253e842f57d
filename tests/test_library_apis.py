"""One library API table (`analyzers/code_apis.py`) for the audit and the migrate rules.

Every spelling of every entry is imported by a tiny module; the audit's code scan (its own import
resolution and evaluation) and the rules' resolver (libcst qualified names) must both reach that entry
and say the same thing about an instance of it. And no library qualified name may be spelled in
`migrate/`: a framework is added in the table, once.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from cfmigrate.analyzers import code_apis
from cfmigrate.analyzers.code import PREFILTER, analyze_python
from cfmigrate.analyzers.code_apis import (
    LIBRARY_APIS,
    MCP_PACKAGES,
    MCP_ROLES,
    LibraryApi,
    Role,
    api_by_id,
    api_of,
    canonical,
)
from cfmigrate.analyzers.code_eval import ModuleAnalysis
from cfmigrate.analyzers.code_model import ProgramModel
from cfmigrate.analyzers.code_values import Obj
from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules._base import PATH_KEY, Site
from cfmigrate.migrate.rules._plan import SITES_KEY
from cfmigrate.migrate.rules._resolve import Resolver, library_api, opens_mcp
from cfmigrate.migrate.rules.cfm005_framework import FrameworkAgents

ROOT = Path(__file__).resolve().parents[1]

# role -> (what the audit's program model says an instance is, what the rules' resolver says it is)
AGREEMENT: dict[Role, tuple[str | None, str]] = {
    Role.SESSION: ("session", "session"),
    Role.SESSION_FACTORY: ("client", "mcp_use_client"),
    Role.FRAMEWORK_SERVER: ("server", "fw_server"),
    Role.CODE_MODE: ("code_mode", "code_mode"),
    Role.LLM_CLIENT: (None, "llm_client"),
    Role.TRANSPORT: ("server_params", "?"),
    Role.SERVER_PARAMS: ("server_params", "?"),
}


def _cases() -> Iterator[Any]:
    for api in LIBRARY_APIS:
        for spelling in api.spellings:
            yield pytest.param(api, spelling, id=f"{api.id}={spelling}")


def _resolver(module: cst.Module) -> Resolver:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    providers = (QualifiedNameProvider, ScopeProvider, ParentNodeProvider, PositionProvider)
    resolved = wrapper.resolve_many(providers)

    def get_metadata(provider: Any, node: cst.CSTNode, default: Any = None) -> Any:
        found = resolved[provider].get(node, default)
        return found() if callable(found) else found

    get: Callable[..., Any] = get_metadata
    return Resolver(get, module)


def _annotations(module: cst.Module) -> list[cst.BaseExpression]:
    func = module.body[-1]
    assert isinstance(func, cst.FunctionDef)
    return [p.annotation.annotation for p in func.params.params if p.annotation is not None]


def _reads(module: cst.Module) -> list[cst.Name]:
    """The names of `return x, y` in the module's function."""
    func = module.body[-1]
    assert isinstance(func, cst.FunctionDef)
    body = func.body.body[0]
    assert isinstance(body, cst.SimpleStatementLine) and isinstance(body.body[0], cst.Return)
    value = body.body[0].value
    assert isinstance(value, cst.Tuple)
    return [e.value for e in value.elements if isinstance(e.value, cst.Name)]


def _module(spelling: str) -> cst.Module:
    """A module that imports one spelling by name (`from m import N as Lib`) and by its module
    (`import m as libmod` then `libmod.N`), and takes an instance of each."""
    module_name, _, name = spelling.rpartition(".")
    return cst.parse_module(
        f"from {module_name} import {name} as Lib\n"
        f"import {module_name} as libmod\n\n\n"
        f"async def use(x: Lib, y: libmod.{name}):\n"
        "    return x, y\n"
    )


def test_table_is_well_formed() -> None:
    ids = [api.id for api in LIBRARY_APIS]
    assert len(ids) == len(set(ids)), "one entry per canonical id"
    spellings = [s for api in LIBRARY_APIS for s in api.spellings]
    assert len(spellings) == len(set(spellings)), "a spelling belongs to one entry"
    for api in LIBRARY_APIS:
        assert api.spellings and all("." in s for s in api.spellings), api.id
        assert api_by_id(api.id) is api
        if api.role in (Role.SESSION, Role.LLM_CLIENT, Role.MODEL_CALL, Role.SERVER_DEF):
            assert api.flavor, f"{api.id}: a {api.role.value} names its library or provider"
        if api.role in (Role.FRAMEWORK_SERVER, Role.FRAMEWORK_TOOLS, Role.FRAMEWORK_AGENT):
            assert api.flavor, f"{api.id}: names its framework"
        if api.role is Role.TRANSPORT:
            assert api.transport and api.launch_arg, f"{api.id}: what it opens and from which argument"
        if api.server_keywords:
            assert api.role is Role.FRAMEWORK_AGENT


def test_a_reexport_counts_only_in_its_own_package() -> None:
    assert canonical("mcp.client.session.ClientSession") == "mcp.ClientSession"
    assert canonical("mcp.some.reexport.ClientSession") == "mcp.ClientSession"
    assert canonical("mcp.types.Client") is None  # mcp.Client is matched by its spellings only
    assert canonical("httpx.Client") == "httpx.Client"
    assert canonical("myapp.mcp.ClientSession") is None  # a user module, whatever it is called
    assert canonical("langchain.agents.create_react_agent") is None  # classic langchain, not langgraph's
    assert canonical("google.genai.Agent") is None  # only google.adk
    assert canonical("pydantic_ai.mcp.MCPServerHTTP") == "pydantic_ai.MCPServerSSE"  # its old name


@pytest.mark.parametrize(("api", "spelling"), list(_cases()))
def test_audit_and_rules_recognise_every_spelling_the_same_way(api: LibraryApi, spelling: str) -> None:
    module = _module(spelling)
    by_name, by_module = _annotations(module)
    # the audit's code scan: its own import resolution reaches this entry, by name and through the module
    analysis = ModuleAnalysis(module, "agent.py")
    analysis.run()
    assert analysis.api_of(by_name) == api.id
    assert analysis.api_of(by_module) == api.id
    # the rules' resolver: libcst's qualified names reach the same entry
    resolver = _resolver(module)
    assert library_api(resolver.qualified_names(by_name)) is api
    assert library_api(resolver.qualified_names(by_module)) is api
    assert opens_mcp(resolver.qualified_names(by_name)) is (
        api.role in (Role.TRANSPORT, Role.FRAMEWORK_SERVER)
    )
    # ... and both say the same of an instance of it
    reach_kind, rules_kind = AGREEMENT.get(api.role, (None, "?"))
    if api.role is Role.FRAMEWORK_TOOLS and api.tool_loaders:
        reach_kind, rules_kind = "client", "framework"
    model = ProgramModel(module, "agent.py")
    for read in _reads(module):
        reach = model.mcp_reach(read)
        assert (reach.kind if reach is not None else None) == reach_kind
        assert reach is None or reach.api == api.id
        held = resolver.type_of(read)
        assert held.kind == rules_kind
        if rules_kind in ("session", "llm_client", "fw_server", "framework"):
            assert held.flavor == api.flavor
        value = analysis.eval(read)
        assert isinstance(value, Obj) and value.api == api.id
    # a file importing it passes the audit's byte prefilter when it is MCP code
    if api.role in MCP_ROLES:
        assert PREFILTER.search(module.code.encode())


# ------------------------------------------------------------------ no second table in migrate/


def _spelled_library_names(source: str) -> list[tuple[int, str]]:
    """Library qualified names written as strings (not docstrings) in a module of migrate/."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            owner = text.rpartition(".")[0]
            if api_of(text) is not None or (owner and api_of(owner) is not None):
                found.append((node.lineno, text))  # an API, or a method of one
        elif isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            if (
                isinstance(head, ast.Constant)
                and isinstance(head.value, str)
                and "." in head.value
                and head.value.split(".", 1)[0] in MCP_PACKAGES
            ):
                found.append((node.lineno, head.value + "…"))  # a table built by formatting names
    return found


def test_no_library_qualified_name_is_spelled_in_migrate() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sorted((ROOT / "migrate").rglob("*.py"))
        for line, text in _spelled_library_names(path.read_text())
    ]
    assert offenders == [], "read these from cfmigrate.analyzers.code_apis instead:\n" + "\n".join(offenders)


def test_the_spelling_check_finds_a_table() -> None:
    tables = (
        'SESSIONS = {"mcp.client.session.ClientSession": "mcp"}\n'
        'OPENERS = frozenset({f"agents.mcp{sub}.MCPServerStdio" for sub in ("", ".server")})\n'
        'LOADERS = {"langchain_mcp_adapters.client.MultiServerMCPClient.get_tools": 1}\n'
    )
    assert sorted(line for line, _ in _spelled_library_names(tables)) == [1, 2, 3]
    harmless = '"""mcp.ClientSession in a docstring."""\nIMPORT = ("agents", "function_tool")\n'
    assert _spelled_library_names(harmless) == []


def test_a_spelling_in_the_table_reaches_the_audits_server_recognition() -> None:
    # mcp 1.x re-exports FastMCP from mcp.server; neither side knew that spelling before the table had it
    source = (
        "from mcp.server import FastMCP\n\n"
        'notes = FastMCP("notes")\n\n\n'
        "@notes.tool()\n"
        "def add(text: str) -> str:\n"
        '    """Add a note."""\n'
        "    return text\n"
    )
    facts = analyze_python(source.encode(), "server.py")
    assert [(d.server, [t.name for t in d.tools]) for d in facts.defined] == [("notes", ["add"])]


def test_fastmcp_transports_the_rules_knew_are_servers_to_the_audit() -> None:
    # PythonStdioTransport and SSETransport were launch values to the rules only
    source = (
        "from fastmcp.client.transports import PythonStdioTransport, SSETransport\n"
        "from pydantic_ai import Agent\n"
        "from pydantic_ai.mcp import MCPToolset\n\n"
        'notes = MCPToolset(PythonStdioTransport("notes_server.py", args=["--db", "n.db"]), id="notes")\n'
        'wiki = MCPToolset(SSETransport("http://localhost:9001/sse"), id="wiki")\n'
        'agent = Agent("openai:gpt-5", toolsets=[notes, wiki])\n'
    )
    facts = analyze_python(source.encode(), "agent.py")
    found = {s.name: (s.transport, s.command, s.args, s.url) for s in facts.servers}
    assert found == {
        "notes": ("stdio", "python", ("notes_server.py", "--db", "n.db"), None),
        "wiki": ("sse", None, (), "http://localhost:9001/sse"),
    }
    (agent,) = facts.agents
    assert agent.servers == ("notes", "wiki")


# ------------------------------------------------------------------ a framework added in one place


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> tuple[LibraryApi, LibraryApi]:
    """Two entries of a library the table did not have, indexed the way the table indexes its own."""
    session = LibraryApi("acme.Session", Role.SESSION, ("acme_mcp.client.AcmeSession",), flavor="mcp")
    toolkit = LibraryApi("acme.Toolkit", Role.FRAMEWORK_TOOLS, ("acme_agents.mcp.Toolkit",), flavor="acme")
    for api in (session, toolkit):
        monkeypatch.setitem(code_apis._BY_ID, api.id, api)
        for spelling in api.spellings:
            monkeypatch.setitem(code_apis._BY_SPELLING, spelling, api)
        for name in api.names:
            monkeypatch.setitem(code_apis._BY_NAME, name, (*code_apis._BY_NAME.get(name, ()), api))
    return session, toolkit


ACME = """\
from acme_agents.mcp import Toolkit
from acme_mcp.client import AcmeSession


async def run(session: AcmeSession) -> None:
    await session.call_tool("search", {"q": "budget"})
    tools = Toolkit(session)
"""


def test_a_new_table_entry_is_recognised_by_both_sides(acme: tuple[LibraryApi, LibraryApi]) -> None:
    module = cst.parse_module(ACME)
    # the audit: the session's literal call is an MCP call site, the session an MCP session
    analysis = ModuleAnalysis(module, "agent.py")
    analysis.run()
    calls = [(e.kind, e.api, e.tool) for _, e in analysis.events if e.kind == "call_tool"]
    assert calls == [("call_tool", "acme.Session.call_tool", "search")]
    (receiver,) = _call_receivers(module, "call_tool")
    reach = ProgramModel(module, "agent.py").mcp_reach(receiver)
    assert reach is not None and (reach.kind, reach.api) == ("session", "acme.Session")
    # the rules: the same receiver is a session, and the framework's tool loader is a manual site
    assert _resolver(module).type_of(receiver).kind == "session"
    sites: list[Site] = []
    context = CodemodContext(scratch={SITES_KEY: sites, PATH_KEY: "agent.py"})
    FrameworkAgents(context, MigrationPlan()).transform_module(module)
    assert [(s.line, s.manual) for s in sites] == [(7, True)]
    assert sites[0].message.startswith("acme loads the MCP tools itself; by hand: define a function tool")


def _call_receivers(module: cst.Module, method: str) -> list[cst.BaseExpression]:
    found: list[cst.BaseExpression] = []

    class Finder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == method:
                found.append(node.func.value)

    module.visit(Finder())
    return found
