"""The library APIs the program model recognises: one table that the audit's code scan and the migrate
rules both read, keyed by the qualified names imports resolve to.

A name counts only when it resolves through an import to one of these packages; a user class that
happens to be called `MCPClient` or `ClientSession` resolves to the user's module and is ignored.
Adding a framework is one `LibraryApi` entry here (its spellings and what it is) plus one recogniser
in `code_agents._RECOGNISERS` (what its calls build); the rules read the same entry through
`api_of`, so they cannot know a spelling the audit does not, or the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CHAT_MODEL_PROVIDERS",
    "LIBRARY_APIS",
    "MCP_PACKAGES",
    "SESSION_APIS",
    "LibraryApi",
    "Role",
    "api_by_id",
    "api_of",
    "canonical",
    "packages_of",
    "provider_of_model",
    "role_of",
]


class Role(StrEnum):
    """What a library API is to an agent."""

    SESSION = "session"  # an MCP client session: call_tool / list_tools (flavor: its library)
    SESSION_FACTORY = "session_factory"  # hands out MCP sessions by server name
    TRANSPORT = "transport"  # opens the streams an MCP ClientSession runs on (transport: its kind)
    SERVER_PARAMS = "server_params"  # a server's launch held as a value (transport: its kind)
    FRAMEWORK_SERVER = "framework_server"  # a framework's MCP server object (flavor: the framework)
    FRAMEWORK_TOOLS = "framework_tools"  # loads MCP tools into a framework (flavor: the framework)
    SERVER_CONFIG = "server_config"  # reads a framework's server objects from an MCP config file
    FRAMEWORK_AGENT = "framework_agent"  # a framework agent that sends the model requests
    TOOL_FILTER = "tool_filter"  # builds a framework server's static tool filter
    CHAT_MODEL = "chat_model"  # a framework's chat model (flavor: its provider, "" when the model says)
    LLM_CLIENT = "llm_client"  # a model provider's SDK client (flavor: the provider)
    MODEL_CALL = "model_call"  # a function that sends one model request (flavor: the provider)
    HTTP_CLIENT = "http_client"  # a plain HTTP client (a model loop without an SDK posts with it)
    CODE_MODE = "code_mode"  # a code-mode runtime
    SERVER_DEF = "server_def"  # defines an MCP server in the repository (flavor: its SDK)
    MCP_TYPE = "mcp_type"  # an MCP protocol type or server helper


@dataclass(frozen=True)
class LibraryApi:
    """One library API: the qualified names it is imported by, and what it is."""

    id: str  # canonical id, the audit's vocabulary: "mcp.ClientSession", "agents.MCPServerStdio", ...
    role: Role
    spellings: tuple[str, ...]  # qualified names of every supported version, as imports resolve them
    flavor: str = ""  # the session's library, the provider, the framework or the server SDK (see Role)
    under: tuple[str, ...] = ()  # a re-export of a spelled name from a module under these also counts
    exact: bool = False  # only the spellings count (the name is too common to match by module)
    transport: str = ""  # "stdio" / "http" / "sse": the kind of launch it opens or holds
    launch_arg: tuple[int, str] | None = None  # (position, keyword) of the argument giving the launch
    constructors: tuple[str, ...] = ()  # class methods that build an instance (`from_dict`, `from_mcp`)
    tool_loaders: tuple[str, ...] = ()  # instance methods that hand the servers' MCP tools to a framework
    server_keywords: tuple[str, ...] = ()  # keywords of a framework agent that take MCP servers
    prompt_keywords: tuple[str, ...] = ()  # keywords of a framework agent that take its instructions

    @property
    def names(self) -> frozenset[str]:
        """The last segments of its spellings (what a re-export under `scope` must be called)."""
        return frozenset(s.rpartition(".")[2] for s in self.spellings)

    def roots_of(self, name: str) -> frozenset[str]:
        """The root packages of the spellings that end in `name`."""
        return frozenset(s.split(".", 1)[0] for s in self.spellings if s.rpartition(".")[2] == name)

    @property
    def scope(self) -> tuple[str, ...]:
        """Modules under which a re-export of one of its names counts (none when only spellings count)."""
        if self.exact:
            return ()
        return self.under or tuple(sorted({s.split(".", 1)[0] for s in self.spellings}))


def _api(id: str, role: Role, *spellings: str, **facts: object) -> LibraryApi:
    return LibraryApi(id, role, tuple(spellings), **facts)  # type: ignore[arg-type]


_MCP_CLIENT_SUBMODULES = ("stdio", "sse", "streamable_http", "session", "session_group")

LIBRARY_APIS: tuple[LibraryApi, ...] = (
    # --- mcp, 1.x and 2.x: client sessions, transports, launches
    _api("mcp.ClientSession", Role.SESSION, "mcp.ClientSession", "mcp.client.ClientSession",
         "mcp.client.session.ClientSession", flavor="mcp"),
    _api("mcp.Client", Role.SESSION, "mcp.Client", "mcp.client.Client", "mcp.client.client.Client",
         flavor="mcp", exact=True, launch_arg=(0, "server")),
    _api("mcp.ClientSessionGroup", Role.SESSION, "mcp.ClientSessionGroup",
         "mcp.client.session_group.ClientSessionGroup", flavor="group"),
    _api("mcp.stdio_client", Role.TRANSPORT, "mcp.stdio_client", "mcp.client.stdio.stdio_client",
         transport="stdio", launch_arg=(0, "server")),
    _api("mcp.streamable_http_client", Role.TRANSPORT, "mcp.client.streamable_http.streamable_http_client",
         "mcp.client.streamable_http.streamablehttp_client", transport="http", launch_arg=(0, "url")),
    _api("mcp.sse_client", Role.TRANSPORT, "mcp.client.sse.sse_client", transport="sse",
         launch_arg=(0, "url")),
    _api("mcp.StdioServerParameters", Role.SERVER_PARAMS, "mcp.StdioServerParameters",
         "mcp.client.stdio.StdioServerParameters",
         "google.adk.tools.mcp_tool.mcp_session_manager.StdioServerParameters",
         under=("mcp", "google.adk"), transport="stdio"),
    _api("mcp.SseServerParameters", Role.SERVER_PARAMS, "mcp.client.session_group.SseServerParameters",
         transport="sse"),
    _api("mcp.StreamableHttpParameters", Role.SERVER_PARAMS,
         "mcp.client.session_group.StreamableHttpParameters", transport="http"),
    # --- MCP servers defined in the repository
    _api("mcp.MCPServer", Role.SERVER_DEF, "mcp.server.MCPServer", "mcp.server.mcpserver.MCPServer",
         "mcp.server.mcpserver.server.MCPServer", flavor="mcp", under=("mcp.server",)),
    _api("mcp.FastMCP", Role.SERVER_DEF, "mcp.server.fastmcp.FastMCP", "mcp.server.fastmcp.server.FastMCP",
         "mcp.server.FastMCP", flavor="mcp", under=("mcp.server.fastmcp",)),
    _api("fastmcp.FastMCP", Role.SERVER_DEF, "fastmcp.FastMCP", "fastmcp.server.server.FastMCP",
         flavor="fastmcp2"),
    _api("mcp.LowLevelServer", Role.SERVER_DEF, "mcp.server.Server", "mcp.server.lowlevel.Server",
         "mcp.server.lowlevel.server.Server", flavor="mcp", exact=True),
    _api("mcp.Context", Role.MCP_TYPE, "mcp.server.fastmcp.Context", "mcp.server.mcpserver.Context",
         "fastmcp.Context", "fastmcp.server.context.Context"),
    _api("mcp.Tool", Role.MCP_TYPE, "mcp.Tool", "mcp.types.Tool", "mcp_types.Tool", exact=True),
    _api("mcp.ToolAnnotations", Role.MCP_TYPE, "mcp.ToolAnnotations", "mcp.types.ToolAnnotations",
         "mcp_types.ToolAnnotations"),
    # --- FastMCP 2.x+ client
    _api("fastmcp.Client", Role.SESSION, "fastmcp.Client", "fastmcp.client.Client",
         "fastmcp.client.client.Client", flavor="fastmcp", launch_arg=(0, "transport")),
    _api("fastmcp.StdioTransport", Role.SERVER_PARAMS, "fastmcp.client.StdioTransport",
         "fastmcp.client.transports.StdioTransport", "fastmcp.client.transports.stdio.StdioTransport",
         flavor="fastmcp", transport="stdio"),
    _api("fastmcp.PythonStdioTransport", Role.SERVER_PARAMS, "fastmcp.client.PythonStdioTransport",
         "fastmcp.client.transports.PythonStdioTransport",
         "fastmcp.client.transports.stdio.PythonStdioTransport", flavor="fastmcp", transport="stdio"),
    _api("fastmcp.StreamableHttpTransport", Role.SERVER_PARAMS, "fastmcp.client.StreamableHttpTransport",
         "fastmcp.client.transports.StreamableHttpTransport",
         "fastmcp.client.transports.http.StreamableHttpTransport", flavor="fastmcp", transport="http"),
    _api("fastmcp.SSETransport", Role.SERVER_PARAMS, "fastmcp.client.SSETransport",
         "fastmcp.client.transports.SSETransport", "fastmcp.client.transports.sse.SSETransport",
         flavor="fastmcp", transport="sse"),
    # --- mcp-use
    _api("mcp_use.MCPClient", Role.SESSION_FACTORY, "mcp_use.MCPClient", "mcp_use.client.MCPClient",
         "mcp_use.client.client.MCPClient", flavor="mcp-use",
         constructors=("from_dict", "from_config_file", "from_config")),
    _api("mcp_use.Session", Role.SESSION, "mcp_use.MCPSession", "mcp_use.session.MCPSession",
         "mcp_use.client.session.MCPSession", flavor="mcp-use"),
    _api("mcp_use.MCPAgent", Role.FRAMEWORK_AGENT, "mcp_use.MCPAgent", "mcp_use.agents.MCPAgent",
         "mcp_use.agents.mcpagent.MCPAgent", flavor="mcp-use"),
    # --- OpenAI Agents SDK
    _api("agents.MCPServerStdio", Role.FRAMEWORK_SERVER, "agents.mcp.MCPServerStdio",
         "agents.mcp.server.MCPServerStdio", flavor="openai-agents", transport="stdio",
         launch_arg=(0, "params")),
    _api("agents.MCPServerStreamableHttp", Role.FRAMEWORK_SERVER, "agents.mcp.MCPServerStreamableHttp",
         "agents.mcp.server.MCPServerStreamableHttp", flavor="openai-agents", transport="http",
         launch_arg=(0, "params")),
    _api("agents.MCPServerSse", Role.FRAMEWORK_SERVER, "agents.mcp.MCPServerSse",
         "agents.mcp.server.MCPServerSse", flavor="openai-agents", transport="sse",
         launch_arg=(0, "params")),
    _api("agents.Agent", Role.FRAMEWORK_AGENT, "agents.Agent", "agents.agent.Agent",
         flavor="openai-agents", server_keywords=("mcp_servers",), prompt_keywords=("instructions",)),
    _api("agents.create_static_tool_filter", Role.TOOL_FILTER, "agents.mcp.create_static_tool_filter",
         "agents.mcp.util.create_static_tool_filter", flavor="openai-agents"),
    # --- pydantic-ai (MCPServerHTTP is the old name of its SSE server)
    _api("pydantic_ai.MCPServerStdio", Role.FRAMEWORK_SERVER, "pydantic_ai.mcp.MCPServerStdio",
         flavor="pydantic-ai", transport="stdio", launch_arg=(0, "command")),
    _api("pydantic_ai.MCPServerStreamableHTTP", Role.FRAMEWORK_SERVER,
         "pydantic_ai.mcp.MCPServerStreamableHTTP", flavor="pydantic-ai", transport="http",
         launch_arg=(0, "url")),
    _api("pydantic_ai.MCPServerSSE", Role.FRAMEWORK_SERVER, "pydantic_ai.mcp.MCPServerSSE",
         "pydantic_ai.mcp.MCPServerHTTP", flavor="pydantic-ai", transport="sse", launch_arg=(0, "url")),
    _api("pydantic_ai.MCPToolset", Role.FRAMEWORK_SERVER, "pydantic_ai.mcp.MCPToolset",
         flavor="pydantic-ai", launch_arg=(0, "client")),
    _api("pydantic_ai.load_mcp_servers", Role.SERVER_CONFIG, "pydantic_ai.mcp.load_mcp_servers",
         flavor="pydantic-ai"),
    _api("pydantic_ai.Agent", Role.FRAMEWORK_AGENT, "pydantic_ai.Agent", "pydantic_ai.agent.Agent",
         flavor="pydantic-ai", server_keywords=("toolsets", "mcp_servers"),
         prompt_keywords=("instructions", "system_prompt")),
    # --- langchain / langgraph
    _api("langchain.MultiServerMCPClient", Role.FRAMEWORK_TOOLS, "langchain_mcp_adapters.MultiServerMCPClient",
         "langchain_mcp_adapters.client.MultiServerMCPClient", flavor="langchain", tool_loaders=("get_tools",)),
    _api("langchain.load_mcp_tools", Role.FRAMEWORK_TOOLS, "langchain_mcp_adapters.tools.load_mcp_tools",
         flavor="langchain"),
    _api("langchain.create_agent", Role.FRAMEWORK_AGENT, "langgraph.prebuilt.create_react_agent",
         "langchain.agents.create_agent", flavor="langchain", under=("langgraph.prebuilt", "langchain.agents")),
    _api("langchain.init_chat_model", Role.CHAT_MODEL, "langchain.chat_models.init_chat_model",
         under=("langchain.chat_models",)),
    _api("langchain.ChatAnthropic", Role.CHAT_MODEL, "langchain_anthropic.ChatAnthropic", flavor="anthropic"),
    _api("langchain.ChatOpenAI", Role.CHAT_MODEL, "langchain_openai.ChatOpenAI",
         "langchain_openai.AzureChatOpenAI", flavor="openai"),
    _api("langchain.ChatGroq", Role.CHAT_MODEL, "langchain_groq.ChatGroq", flavor="groq"),
    _api("langchain.ChatOllama", Role.CHAT_MODEL, "langchain_ollama.ChatOllama", "langchain_ollama.OllamaLLM",
         "langchain_community.chat_models.ChatOllama", flavor="ollama"),
    # --- smolagents, CrewAI, Google ADK
    _api("smolagents.ToolCollection", Role.FRAMEWORK_TOOLS, "smolagents.ToolCollection", flavor="smolagents",
         constructors=("from_mcp",)),
    _api("smolagents.MCPClient", Role.FRAMEWORK_TOOLS, "smolagents.MCPClient", flavor="smolagents"),
    _api("smolagents.Agent", Role.FRAMEWORK_AGENT, "smolagents.CodeAgent", "smolagents.ToolCallingAgent",
         flavor="smolagents"),
    _api("smolagents.Model", Role.CHAT_MODEL, "smolagents.LiteLLMModel", "smolagents.OpenAIServerModel",
         "smolagents.InferenceClientModel", "smolagents.HfApiModel", "smolagents.AzureOpenAIServerModel"),
    _api("crewai.MCPServerAdapter", Role.FRAMEWORK_TOOLS, "crewai_tools.MCPServerAdapter", flavor="crewai"),
    _api("crewai.Agent", Role.FRAMEWORK_AGENT, "crewai.Agent", flavor="crewai"),
    _api("crewai.LLM", Role.CHAT_MODEL, "crewai.LLM"),
    _api("adk.MCPToolset", Role.FRAMEWORK_TOOLS, "google.adk.tools.mcp_tool.MCPToolset",
         "google.adk.tools.mcp_tool.mcp_toolset.MCPToolset", "google.adk.tools.mcp_tool.McpToolset",
         flavor="adk", under=("google.adk",)),
    _api("adk.StdioConnectionParams", Role.SERVER_PARAMS,
         "google.adk.tools.mcp_tool.mcp_session_manager.StdioConnectionParams", under=("google.adk",),
         transport="stdio"),
    _api("adk.SseConnectionParams", Role.SERVER_PARAMS,
         "google.adk.tools.mcp_tool.mcp_session_manager.SseConnectionParams",
         "google.adk.tools.mcp_tool.mcp_session_manager.SseServerParams", under=("google.adk",),
         transport="sse"),
    _api("adk.StreamableHTTPConnectionParams", Role.SERVER_PARAMS,
         "google.adk.tools.mcp_tool.mcp_session_manager.StreamableHTTPConnectionParams", under=("google.adk",),
         transport="http"),
    _api("adk.LlmAgent", Role.FRAMEWORK_AGENT, "google.adk.agents.LlmAgent", "google.adk.agents.Agent",
         flavor="adk", under=("google.adk",)),
    _api("adk.LiteLlm", Role.CHAT_MODEL, "google.adk.models.lite_llm.LiteLlm", under=("google.adk",)),
    # --- model providers' SDKs
    _api("anthropic.Client", Role.LLM_CLIENT, "anthropic.Anthropic", "anthropic.AsyncAnthropic",
         "anthropic.Client", "anthropic.AsyncClient", "anthropic.AnthropicBedrock",
         "anthropic.AsyncAnthropicBedrock", "anthropic.AnthropicVertex", "anthropic.AsyncAnthropicVertex",
         flavor="anthropic"),
    _api("openai.Client", Role.LLM_CLIENT, "openai.OpenAI", "openai.AsyncOpenAI", "openai.Client",
         "openai.AsyncClient", "openai.AzureOpenAI", "openai.AsyncAzureOpenAI", flavor="openai"),
    _api("ollama.Client", Role.LLM_CLIENT, "ollama.Client", "ollama.AsyncClient", flavor="ollama"),
    _api("ollama.chat", Role.MODEL_CALL, "ollama.chat", flavor="ollama"),
    _api("httpx.Client", Role.HTTP_CLIENT, "httpx.Client", "httpx.AsyncClient"),
    # --- code mode
    _api("cfmigrate.CodeMode", Role.CODE_MODE, "cfmigrate.runtime.CodeMode", "cfmigrate.runtime.codemode.CodeMode"),
)  # fmt: skip
"""Every library API the program model knows. The tests derive from it a module per spelling and check
that the audit and the rules recognise each the same way."""

_BY_ID: dict[str, LibraryApi] = {api.id: api for api in LIBRARY_APIS}
_BY_SPELLING: dict[str, LibraryApi] = {s: api for api in LIBRARY_APIS for s in api.spellings}
_BY_NAME: dict[str, tuple[LibraryApi, ...]] = {}
for _entry in LIBRARY_APIS:
    for _name in sorted(_entry.names):
        _BY_NAME[_name] = (*_BY_NAME.get(_name, ()), _entry)

_STDLIB = {
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
}
"""Standard-library values the evaluation follows (paths, environment), by qualified name."""


def _under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def api_of(qname: str) -> LibraryApi | None:
    """The library API an import-resolved qualified name stands for, or None when it is not one."""
    found = _BY_SPELLING.get(qname)
    if found is not None:
        return found
    head, _, last = qname.rpartition(".")
    if not head:
        return None
    for api in _BY_NAME.get(last, ()):
        roots = api.roots_of(last)  # `langchain.agents.create_react_agent` is not langgraph's
        if _under(head, [p for p in api.scope if p.split(".", 1)[0] in roots]):
            return api
    return None


def api_by_id(api_id: str) -> LibraryApi | None:
    """The table entry of a canonical API id."""
    return _BY_ID.get(api_id)


def canonical(qname: str) -> str | None:
    """The canonical API id for an import-resolved qualified name, or None when it is not a known API."""
    if qname in _STDLIB:
        return _STDLIB[qname]
    api = api_of(qname)
    return api.id if api is not None else None


MCP_ROLES = frozenset(
    {
        Role.SESSION,
        Role.SESSION_FACTORY,
        Role.TRANSPORT,
        Role.SERVER_PARAMS,
        Role.FRAMEWORK_SERVER,
        Role.FRAMEWORK_TOOLS,
        Role.SERVER_CONFIG,
        Role.TOOL_FILTER,
        Role.CODE_MODE,
        Role.SERVER_DEF,
        Role.MCP_TYPE,
    }
)
"""The roles of APIs that only MCP code uses (a model SDK or a framework agent alone is no MCP agent)."""

MCP_PACKAGES: tuple[str, ...] = tuple(
    sorted({s.split(".", 1)[0] for api in LIBRARY_APIS if api.role in MCP_ROLES for s in api.spellings})
)
"""The top-level packages of those APIs: a Python file that imports none of them holds no MCP code."""


def role_of(api_id: str) -> Role | None:
    """The role of a canonical API id (None for values the recognisers build, such as "server_params")."""
    api = _BY_ID.get(api_id)
    return api.role if api is not None else None


def packages_of(flavor: str) -> frozenset[str]:
    """The top-level packages of a library or framework (`"pydantic-ai"` -> `{"pydantic_ai"}`)."""
    return frozenset(
        s.split(".", 1)[0] for api in LIBRARY_APIS if api.flavor == flavor for s in api.spellings
    )


def ids_with(role: Role) -> frozenset[str]:
    """The canonical ids of every API of one role."""
    return frozenset(api.id for api in LIBRARY_APIS if api.role is role)


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


CHAT_MODEL_PROVIDERS: dict[str, str] = {
    api.id: api.flavor for api in LIBRARY_APIS if api.role is Role.CHAT_MODEL and api.flavor
}
"""Framework chat-model classes -> the provider that answers their requests (whatever the model name)."""

SESSION_APIS = ids_with(Role.SESSION)

_TRANSPORT_APIS = ids_with(Role.TRANSPORT)

_SERVER_DEF_APIS = {api.id: api.flavor for api in LIBRARY_APIS if api.role is Role.SERVER_DEF}

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
