"""CFM005 -- framework-managed MCP agents: reported with the exact manual step.

Before::

    from agents import Agent
    from agents.mcp import MCPServerStdio

    agent = Agent(name="ops", instructions="...", mcp_servers=[server])

After: unchanged; the summary lists the site with what to do by hand.

Frameworks load the MCP tools themselves (`mcp_servers=`, `toolsets=`, `get_tools()`,
`ToolCollection.from_mcp`, `MCPServerAdapter`, `MCPToolset`), so the tool schemas never appear in the
agent's code for CFM003 to replace. Each site resolved (by import, never by spelling) to one of those
APIs is reported with the framework's documented way to give the model one code tool instead.
"""

from __future__ import annotations

import libcst as cst

from cfmigrate.migrate.rules._base import MigrationRule, register

_RUN = "`(await code_mode.handle_tool_use('execute_code', {'code': code})).text`"
_AGENTS_SDK = (
    "OpenAI Agents SDK",
    "mcp_servers",
    f"define `@function_tool async def execute_code(code: str) -> str` returning {_RUN}, pass tools=[execute_code] "
    "instead of mcp_servers=, and start instructions= with code_mode.system_prompt()",
)
_PYDANTIC_AI = (
    "pydantic-ai",
    "toolsets",
    f"define `async def execute_code(code: str) -> str` returning {_RUN}, pass tools=[execute_code] instead of the MCP "
    "toolsets, and put code_mode.system_prompt() in instructions=",
)
_LANGCHAIN = (
    "langchain-mcp-adapters",
    "",
    f"define `@tool async def execute_code(code: str) -> str` (langchain_core.tools) returning {_RUN}, use "
    "[execute_code] instead of the MCP tools, and give the agent code_mode.system_prompt() as its prompt",
)
_ADK = (
    "Google ADK",
    "",
    f"define `async def execute_code(code: str) -> str` returning {_RUN}, put it in tools= instead of the MCPToolset "
    "(ADK wraps plain functions as FunctionTool), and start instruction= with code_mode.system_prompt()",
)
# qualified name of the API -> (framework, keyword that must be present or "" for the call itself, manual step)
FRAMEWORK_APIS: dict[str, tuple[str, str, str]] = {
    "agents.Agent": _AGENTS_SDK,
    "agents.agent.Agent": _AGENTS_SDK,
    "pydantic_ai.Agent": _PYDANTIC_AI,
    "pydantic_ai.agent.Agent": _PYDANTIC_AI,
    "langchain_mcp_adapters.client.MultiServerMCPClient.get_tools": _LANGCHAIN,
    "langchain_mcp_adapters.tools.load_mcp_tools": _LANGCHAIN,
    "smolagents.ToolCollection.from_mcp": (
        "smolagents",
        "",
        f"define `@tool def execute_code(code: str) -> str` (smolagents) that runs {_RUN} on the event loop, and "
        "give the agent [execute_code] instead of the MCP tool collection",
    ),
    "crewai_tools.MCPServerAdapter": (
        "CrewAI",
        "",
        f"subclass crewai.tools.BaseTool as ExecuteCode whose _run(code) returns {_RUN} (run on the event loop), and "
        "pass tools=[ExecuteCode()] instead of the adapter's tools",
    ),
    "google.adk.tools.mcp_tool.MCPToolset": _ADK,
    "google.adk.tools.mcp_tool.mcp_toolset.MCPToolset": _ADK,
}
_PYDANTIC_KEYWORDS = ("toolsets", "mcp_servers")


@register
class FrameworkAgents(MigrationRule):
    """Framework-managed MCP agents → reported with the framework's documented manual step."""

    RULE_ID = "CFM005"
    TITLE = "framework agents → manual step reported"
    DESCRIPTION = "Framework-managed MCP agents (Agents SDK, pydantic-ai, langchain, smolagents, CrewAI, ADK) → reported with what to do."
    TRIGGERS = (
        b"mcp_servers",
        b"toolsets",
        b"get_tools",
        b"load_mcp_tools",
        b"from_mcp",
        b"MCPServerAdapter",
        b"MCPToolset",
    )

    def analyze(self, module: cst.Module) -> None:
        stack: list[cst.CSTNode] = [module]
        while stack:
            node = stack.pop()
            stack.extend(reversed(node.children))
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name | cst.Attribute):
                self._site(node)

    def _site(self, call: cst.Call) -> None:
        names = sorted(self.resolver.qualified_names(call.func))
        if isinstance(call.func, cst.Attribute):
            receiver = self.resolver.type_of(call.func.value)
            if receiver.kind == "framework" and receiver.value:
                names.append(f"{receiver.value}.{call.func.attr.value}")
        for name in names:
            entry = FRAMEWORK_APIS.get(name)
            if entry is None:
                continue
            framework, keyword, step = entry
            keywords = _PYDANTIC_KEYWORDS if keyword == "toolsets" else (keyword,) if keyword else ()
            if keywords and not any(a.keyword is not None and a.keyword.value in keywords for a in call.args):
                continue
            self.skipped(call, f"{framework} loads the MCP tools itself; by hand: {step}", manual=True)
            return
