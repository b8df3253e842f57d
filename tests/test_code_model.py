"""The analyzers' public question "is this expression an MCP session/client, to which server(s)",
asked of real agent shapes (the same evaluation the audit uses)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from cfmigrate.analyzers.code import analyze_python
from cfmigrate.analyzers.code_model import McpReach, ProgramModel
from cfmigrate.analyzers.code_repo import external_context

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "audit-corpus"


def _names(module: cst.Module, name: str) -> list[cst.Name]:
    """Every use of a name in the module, in source order."""
    found: list[cst.Name] = []

    class Finder(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> None:
            if node.value == name:
                found.append(node)

    module.visit(Finder())
    return found


def test_session_reached_through_with_statements_names_its_server() -> None:
    source = (CORPUS / "model-constant" / "agent.py").read_text()
    module = cst.parse_module(source)
    model = ProgramModel(module, "agent.py")
    reaches = [model.mcp_reach(n) for n in _names(module, "session")]
    sessions = [r for r in reaches if r is not None]
    assert sessions and all(r == McpReach("session", "mcp.ClientSession", ("memory",)) for r in sessions)
    # a name that is not an MCP object answers None, never a guess
    assert all(model.mcp_reach(n) is None for n in _names(module, "client"))


def test_helper_instance_in_another_file_is_a_client_of_the_helpers_server() -> None:
    root = CORPUS / "helper-agent"
    helper = analyze_python((root / "toolbox.py").read_bytes(), "toolbox.py")
    agent = analyze_python((root / "assistant.py").read_bytes(), "assistant.py", force=True)
    assert helper.exports is not None and agent.exports is not None
    context = external_context(
        "assistant.py", agent.exports, {"toolbox.py": helper.exports, "assistant.py": agent.exports}
    )
    module = cst.parse_module((root / "assistant.py").read_text())
    with_context = ProgramModel(module, "assistant.py", context)
    box = _names(module, "box")[0]
    reach = with_context.mcp_reach(box)
    assert reach is not None and reach.kind == "client" and reach.servers == ("filesystem",)
    # without the sibling module the same expression is unknown to MCP
    assert ProgramModel(module, "assistant.py").mcp_reach(box) is None


def test_mcp_use_client_in_code_mode_and_url_from_environment() -> None:
    module = cst.parse_module((CORPUS / "mcp-use-code-mode" / "agent.py").read_text())
    reach = ProgramModel(module, "agent.py").mcp_reach(_names(module, "client")[0])
    assert reach == McpReach("client", "mcp_use.MCPClient", ("filesystem", "memory"), code_mode=True)
    module = cst.parse_module((CORPUS / "url-variable" / "agent.py").read_text())
    reach = ProgramModel(module, "agent.py").mcp_reach(_names(module, "server")[0])
    assert reach is not None and reach.kind == "server" and not reach.known


def test_every_api_a_recogniser_handles_is_dispatched_to_it() -> None:
    """A recogniser branch without its `_RECOGNISERS` entry would never run: each API id a recogniser
    tests for is routed to that recogniser."""
    import ast
    import re

    from cfmigrate.analyzers import code_agents

    tree = ast.parse(Path(code_agents.__file__).read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AgentRecognition")
    routes = {api: fn.__name__ for api, fn in code_agents._RECOGNISERS.items()}
    checked = 0
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef) or method.name not in set(routes.values()):
            continue
        for node in ast.walk(method):
            if isinstance(node, ast.If) and "api" in ast.unparse(node.test).split(" ")[0]:
                for api in re.findall(r"'([\w.]+)'", ast.unparse(node.test)):
                    assert routes.get(api) == method.name, (api, method.name)
                    checked += 1
    assert checked >= 40


@pytest.mark.parametrize(
    ("client", "provider"),
    [
        ('OpenAI(base_url="https://api.groq.com/openai/v1")', "groq"),
        ('OpenAI(base_url="http://localhost:11434/v1")', "ollama"),
        ("OpenAI()", "openai"),
    ],
)
def test_openai_compatible_endpoints_are_labelled_with_their_provider(client: str, provider: str) -> None:
    source = f"""
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from openai import OpenAI

MODEL = "some-open-model"

async def main():
    llm = {client}
    async with stdio_client(StdioServerParameters(command="uvx", args=["mcp-server-time"])) as (r, w):
        async with ClientSession(r, w) as session:
            listed = await session.list_tools()
            tools = [{{"type": "function", "function": {{"name": t.name}}}} for t in listed.tools]
            llm.chat.completions.create(model=MODEL, messages=[], tools=tools)
"""
    facts = analyze_python(source.encode(), "agent.py")
    (agent,) = facts.agents
    assert (agent.framework, agent.provider, agent.model) == ("openai", provider, "some-open-model")


def test_module_level_ollama_chat_is_a_model_call() -> None:
    source = b"""
import ollama
from mcp import ClientSession

async def step(session: ClientSession):
    listed = await session.list_tools()
    return ollama.chat(model="llama3.1", messages=[], tools=[t.name for t in listed.tools])
"""
    (agent,) = analyze_python(source, "bot.py").agents
    assert (agent.framework, agent.provider, agent.model) == ("ollama", "ollama", "llama3.1")
