"""The libraries the code analysis recognises, keyed by the qualified names their imports resolve to.

A name counts only when it resolves through an import to one of these packages; a user class that
happens to be called `MCPClient` or `ClientSession` resolves to the user's module and is ignored.
"""

from __future__ import annotations

import re

__all__ = ["CHAT_MODEL_PROVIDERS", "canonical", "provider_of_model"]

# (package root, last segment of the qualified name) -> canonical API id
_BY_ROOT: dict[str, dict[str, str]] = {
    "mcp": {
        "ClientSession": "mcp.ClientSession",
        "Client": "mcp.Client",
        "ClientSessionGroup": "mcp.ClientSessionGroup",
        "stdio_client": "mcp.stdio_client",
        "streamablehttp_client": "mcp.streamable_http_client",
        "streamable_http_client": "mcp.streamable_http_client",
        "sse_client": "mcp.sse_client",
        "StdioServerParameters": "mcp.StdioServerParameters",
        "SseServerParameters": "mcp.SseServerParameters",
        "StreamableHttpParameters": "mcp.StreamableHttpParameters",
        "MCPServer": "mcp.MCPServer",
        "FastMCP": "mcp.FastMCP",
        "Context": "mcp.Context",
        "Tool": "mcp.Tool",
        "ToolAnnotations": "mcp.ToolAnnotations",
    },
    "mcp_types": {"Tool": "mcp.Tool", "ToolAnnotations": "mcp.ToolAnnotations"},
    "fastmcp": {
        "Client": "fastmcp.Client",
        "FastMCP": "fastmcp.FastMCP",
        "Context": "mcp.Context",
        "StdioTransport": "fastmcp.StdioTransport",
        "StreamableHttpTransport": "fastmcp.StreamableHttpTransport",
    },
    "agents": {
        "MCPServerStdio": "agents.MCPServerStdio",
        "MCPServerStreamableHttp": "agents.MCPServerStreamableHttp",
        "MCPServerSse": "agents.MCPServerSse",
        "Agent": "agents.Agent",
        "create_static_tool_filter": "agents.create_static_tool_filter",
    },
    "pydantic_ai": {
        "MCPServerStdio": "pydantic_ai.MCPServerStdio",
        "MCPServerStreamableHTTP": "pydantic_ai.MCPServerStreamableHTTP",
        "MCPServerSSE": "pydantic_ai.MCPServerSSE",
        "MCPServerHTTP": "pydantic_ai.MCPServerSSE",
        "Agent": "pydantic_ai.Agent",
        "load_mcp_servers": "pydantic_ai.load_mcp_servers",
        "MCPToolset": "pydantic_ai.MCPToolset",
    },
    "langchain_mcp_adapters": {
        "MultiServerMCPClient": "langchain.MultiServerMCPClient",
        "load_mcp_tools": "langchain.load_mcp_tools",
    },
    "langgraph": {"create_react_agent": "langchain.create_agent"},
    "langchain": {"create_agent": "langchain.create_agent", "init_chat_model": "langchain.init_chat_model"},
    "langchain_anthropic": {"ChatAnthropic": "langchain.ChatAnthropic"},
    "langchain_openai": {"ChatOpenAI": "langchain.ChatOpenAI", "AzureChatOpenAI": "langchain.ChatOpenAI"},
    "langchain_groq": {"ChatGroq": "langchain.ChatGroq"},
    "langchain_ollama": {"ChatOllama": "langchain.ChatOllama", "OllamaLLM": "langchain.ChatOllama"},
    "langchain_community": {"ChatOllama": "langchain.ChatOllama"},
    "ollama": {"Client": "ollama.Client", "AsyncClient": "ollama.Client", "chat": "ollama.chat"},
    "smolagents": {
        "ToolCollection": "smolagents.ToolCollection",
        "MCPClient": "smolagents.MCPClient",
        "CodeAgent": "smolagents.Agent",
        "ToolCallingAgent": "smolagents.Agent",
        "LiteLLMModel": "smolagents.Model",
        "OpenAIServerModel": "smolagents.Model",
        "InferenceClientModel": "smolagents.Model",
        "HfApiModel": "smolagents.Model",
        "AzureOpenAIServerModel": "smolagents.Model",
    },
    "crewai_tools": {"MCPServerAdapter": "crewai.MCPServerAdapter"},
    "crewai": {"Agent": "crewai.Agent", "LLM": "crewai.LLM"},
    "google": {
        "MCPToolset": "adk.MCPToolset",
        "McpToolset": "adk.MCPToolset",
        "StdioConnectionParams": "adk.StdioConnectionParams",
        "SseConnectionParams": "adk.SseConnectionParams",
        "SseServerParams": "adk.SseConnectionParams",
        "StreamableHTTPConnectionParams": "adk.StreamableHTTPConnectionParams",
        "StdioServerParameters": "mcp.StdioServerParameters",
        "LlmAgent": "adk.LlmAgent",
        "Agent": "adk.LlmAgent",
        "LiteLlm": "adk.LiteLlm",
    },
    "mcp_use": {"MCPClient": "mcp_use.MCPClient", "MCPAgent": "mcp_use.MCPAgent"},
    "anthropic": {
        "Anthropic": "anthropic.Client",
        "Client": "anthropic.Client",
        "AsyncClient": "anthropic.Client",
        "AsyncAnthropic": "anthropic.Client",
        "AnthropicBedrock": "anthropic.Client",
        "AsyncAnthropicBedrock": "anthropic.Client",
        "AnthropicVertex": "anthropic.Client",
        "AsyncAnthropicVertex": "anthropic.Client",
    },
    "openai": {
        "OpenAI": "openai.Client",
        "Client": "openai.Client",
        "AsyncClient": "openai.Client",
        "AsyncOpenAI": "openai.Client",
        "AzureOpenAI": "openai.Client",
        "AsyncAzureOpenAI": "openai.Client",
    },
    "cfmigrate": {"CodeMode": "cfmigrate.CodeMode"},
    "httpx": {"AsyncClient": "httpx.Client", "Client": "httpx.Client"},
}
CHAT_MODEL_PROVIDERS: dict[str, str] = {
    "langchain.ChatAnthropic": "anthropic",
    "langchain.ChatOpenAI": "openai",
    "langchain.ChatGroq": "groq",
    "langchain.ChatOllama": "ollama",
}
"""Framework chat-model classes -> the provider that answers their requests (whatever the model name)."""
_LOWLEVEL = frozenset(
    {"mcp.server.Server", "mcp.server.lowlevel.Server", "mcp.server.lowlevel.server.Server"}
)
_EXACT = {
    "os.getenv": "os.getenv",
    "os.environ.get": "os.getenv",
    "os.environ": "os.environ",
    "os.path.join": "os.path.join",
    "os.path.dirname": "os.path.dirname",
    "os.path.abspath": "os.path.same",
    "os.path.realpath": "os.path.same",
    "os.path.normpath": "os.path.same",
    "os.fspath": "os.path.same",
    "pathlib.Path": "pathlib.Path",
    "builtins.str": "builtins.str",
    "sys.executable": "sys.executable",
    "fastmcp.FastMCP.from_openapi": "",
}
# A module path under the root must contain one of these to count (guards against same-named re-exports).
_ROOT_GUARD: dict[str, tuple[str, ...]] = {
    "google": ("google.adk.",),
    "agents": ("agents.",),
    "langgraph": ("langgraph.prebuilt",),
    "langchain": ("langchain.agents", "langchain.chat_models"),
}


def canonical(qname: str) -> str | None:
    """The canonical API id for an import-resolved qualified name, or None when it is not a known API."""
    if qname in _EXACT:
        return _EXACT[qname] or None
    if qname in _LOWLEVEL:
        return "mcp.LowLevelServer"
    head, _, last = qname.rpartition(".")
    if not head:
        return None
    root = head.split(".", 1)[0]
    table = _BY_ROOT.get(root)
    if table is None or last not in table:
        return None
    guards = _ROOT_GUARD.get(root)
    if guards and not any(qname.startswith(g) for g in guards):
        return None
    api = table[last]
    if api == "mcp.Client" and head not in ("mcp", "mcp.client", "mcp.client.client"):
        return None
    if api == "mcp.Tool" and head not in ("mcp", "mcp.types", "mcp_types"):
        return None
    if api in ("mcp.MCPServer",) and not head.startswith("mcp.server"):
        return None
    if api == "mcp.FastMCP" and not head.startswith("mcp.server.fastmcp"):
        return None
    return api


def provider_of_model(model: str) -> str:
    """'anthropic', 'openai' or 'unknown' for a model string such as 'claude-sonnet-4-5' or 'openai:gpt-4o'."""
    text = model.lower()
    prefix, sep, rest = text.partition(":")
    if not sep:
        prefix, sep, rest = text.partition("/")
    if sep and prefix in ("anthropic", "bedrock", "vertex_ai") and "claude" in rest:
        return "anthropic"
    if sep and prefix in ("anthropic",):
        return "anthropic"
    if sep and prefix in ("openai", "azure", "openai-responses"):
        return "openai"
    name = rest if sep else text
    if name.startswith("claude") or "claude-" in name:
        return "anthropic"
    if name.startswith(("gpt-", "gpt4", "o1", "o3", "o4", "chatgpt", "codex")):
        return "openai"
    return "unknown"


SESSION_APIS = frozenset(
    {"mcp.ClientSession", "mcp.Client", "fastmcp.Client", "mcp.ClientSessionGroup", "mcp_use.Session"}
)

_TRANSPORT_APIS = frozenset({"mcp.stdio_client", "mcp.streamable_http_client", "mcp.sse_client"})

_SERVER_DEF_APIS = {"mcp.MCPServer": "mcp", "mcp.FastMCP": "mcp", "fastmcp.FastMCP": "fastmcp2"}

_ANTHROPIC_METHODS = {
    ("messages", "create"),
    ("messages", "stream"),
    ("beta", "messages", "create"),
    ("beta", "messages", "stream"),
    ("beta", "messages", "tool_runner"),
}

_OPENAI_METHODS = {
    ("chat", "completions", "create"),
    ("chat", "completions", "parse"),
    ("chat", "completions", "stream"),
    ("beta", "chat", "completions", "parse"),
    ("beta", "chat", "completions", "stream"),
    ("responses", "create"),
    ("responses", "parse"),
    ("responses", "stream"),
}

_EXECUTE_CODE_TOOLS = frozenset(
    {"execute_code", "run_code", "execute_python", "run_python", "code_execution"}
)

_CONFIG_PATH = re.compile(r"^[\w.~${}:/\\ -]*[\w-]\.(?:json|jsonc|json5|ya?ml|toml)$")
