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

_GUIDE = "wrap `await code_mode.handle_tool_use('execute_code', {'code': code})` in"
# qualified name of the API -> (framework, keyword or "" for the call itself, manual step)
FRAMEWORK_APIS: dict[str, tuple[str, str, str]] = {
    "agents.Agent": (
        "OpenAI Agents SDK",
        "mcp_servers",
        f"drop mcp_servers=, {_GUIDE} an @function_tool and pass it in tools=; put code_mode.system_prompt() in instructions=",
    ),
    "pydantic_ai.Agent": (
        "pydantic-ai",
        "toolsets",
        f"drop the MCP toolsets, {_GUIDE} a plain async function passed in tools=; add code_mode.system_prompt() to instructions=",
    ),
    "pydantic_ai.agent.Agent": (
        "pydantic-ai",
        "toolsets",
        f"drop the MCP toolsets, {_GUIDE} a plain async function passed in tools=; add code_mode.system_prompt() to instructions=",
    ),
    "langchain_mcp_adapters.client.MultiServerMCPClient.get_tools": (
        "langchain-mcp-adapters",
        "",
        f"replace get_tools() with [execute_code], where execute_code is {_GUIDE.split(' in', 1)[0]} a @tool (langchain_core.tools); pass code_mode.system_prompt() as the agent's prompt",
    ),
    "langchain_mcp_adapters.tools.load_mcp_tools": (
        "langchain-mcp-adapters",
        "",
        f"replace load_mcp_tools(...) with [execute_code], where execute_code is {_GUIDE.split(' in', 1)[0]} a @tool (langchain_core.tools)",
    ),
    "smolagents.ToolCollection.from_mcp": (
        "smolagents",
        "",
        f"{_GUIDE} a smolagents @tool and give the agent that tool instead of the MCP tool collection",
    ),
    "crewai_tools.MCPServerAdapter": (
        "CrewAI",
        "",
        f"{_GUIDE} a crewai BaseTool subclass and pass it to the Agent's tools= instead of the adapter's tools",
    ),
    "google.adk.tools.mcp_tool.MCPToolset": (
        "Google ADK",
        "",
        f"replace MCPToolset with a FunctionTool whose function does {_GUIDE.split('in', 1)[0].replace('wrap ', '')}; add code_mode.system_prompt() to instruction=",
    ),
    "google.adk.tools.mcp_tool.mcp_toolset.MCPToolset": (
        "Google ADK",
        "",
        f"replace MCPToolset with a FunctionTool whose function does {_GUIDE.split('in', 1)[0].replace('wrap ', '')}; add code_mode.system_prompt() to instruction=",
    ),
}
_PYDANTIC_KEYWORDS = ("toolsets", "mcp_servers")


@register
class FrameworkAgents(MigrationRule):
    """Framework-managed MCP agents → reported with the framework's documented manual step."""

    RULE_ID = "CFM005"
    TITLE = "framework agents → manual step reported"
    DESCRIPTION = "Framework-managed MCP agents (Agents SDK, pydantic-ai, langchain, smolagents, CrewAI, ADK) → reported with what to do."
    TRIGGERS = (b"mcp_servers", b"toolsets", b"get_tools", b"load_mcp_tools", b"from_mcp", b"MCPServerAdapter", b"MCPToolset")

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
            self.skipped(call, f"{framework} agent loads MCP tools itself: {step}", manual=True)
            return
