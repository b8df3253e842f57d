"""Recognising agents in code: model calls, framework agents, MCP sessions and their call sites, per
library API.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from dataclasses import replace

import libcst as cst

from cfmigrate.analyzers.code_apis import (
    _ANTHROPIC_METHODS,
    _OPENAI_METHODS,
    _SERVER_DEF_APIS,
    CHAT_MODEL_PROVIDERS,
    Role,
    provider_of_model,
    role_of,
)
from cfmigrate.analyzers.code_bindings import _ENTER_METHODS, _code
from cfmigrate.analyzers.code_facts import DefinedServer, Event
from cfmigrate.analyzers.code_prompts import PromptRecognition
from cfmigrate.analyzers.code_repo import HelperClass, HelperFunction, ServerConstant
from cfmigrate.analyzers.code_values import (
    UNKNOWN,
    DictV,
    EnvRef,
    FileRef,
    Lit,
    LocalFunc,
    Obj,
    Seq,
    SrvRef,
    Val,
    _configs_in,
    _execute_code_tool,
    _joined,
    _servers_in,
    _system_messages,
)
from cfmigrate.analyzers.cst_children import children as child_nodes


class AgentRecognition(PromptRecognition):
    """Model calls, framework agents and MCP call sites of one module."""

    def _emit(self, call: cst.CSTNode, event: Event) -> None:
        self._node_events.setdefault(call, []).append(event)

    def _agent(
        self,
        call: cst.CSTNode,
        api: str,
        line: int,
        *,
        framework: str,
        model: str | None,
        provider: str | None,
        servers: frozenset[SrvRef],
        system_text: str = "",
        announce_servers: bool = True,
    ) -> Obj:
        """Record a framework agent's constructor (an `anchor` event) and return the agent it builds."""
        self._emit(
            call,
            Event(
                "anchor",
                api,
                line,
                servers=servers if announce_servers else frozenset(),
                framework=framework,
                model=model,
                provider=provider,
                system_text=system_text,
                label=self._hints.get(call),
            ),
        )
        return Obj("agent", servers, model=model)

    def _model(self, node: cst.BaseExpression | None) -> tuple[str | None, str | None]:
        """(model, provider) of a model argument: a literal, a constant, or a known chat-model object."""
        value = self.eval(node)
        if isinstance(value, Lit) and isinstance(value.value, str):
            return value.value, provider_of_model(value.value)
        if isinstance(value, Obj) and value.model:
            return value.model, CHAT_MODEL_PROVIDERS.get(value.api, provider_of_model(value.model))
        if isinstance(value, Obj) and value.api in CHAT_MODEL_PROVIDERS:
            return None, CHAT_MODEL_PROVIDERS[value.api]
        return None, None

    def _model_call(
        self, call: cst.Call, provider: str, api: str, body: Mapping[str, cst.BaseExpression] | None = None
    ) -> Val:
        line = self.line(call)
        kw = body if body is not None else self._args(call)[1]
        model, _ = self._model(kw.get("model"))
        if provider == "anthropic":
            prompt = self._prompt(kw.get("system"))
        else:  # `instructions=` and the system/developer messages are all sent
            messages = kw.get("messages") if "messages" in kw else kw.get("input")
            prompt = _joined(self._prompt(kw.get("instructions")), _system_messages(self.eval(messages)))
        framework = api.split(".")[
            0
        ]  # the SDK: "anthropic", "openai" (also for compatible endpoints), "ollama"
        self._emit(
            call,
            Event(
                "model", api, line, framework=framework, model=model, provider=provider, system_text=prompt
            ),
        )
        if "tools" in kw:
            tools = self.eval(kw["tools"])
            servers = _servers_in(tools)
            execute = _execute_code_tool(tools)
            hosted = self._hosted_mcp_tools(call, tools)
            if execute:
                self._emit(
                    call,
                    Event(
                        "code_mode", api, line, code_mode=True, mcp=True, detail=f"offers an {execute} tool"
                    ),
                )
            self._emit(
                call,
                Event(
                    "tools_param",
                    api,
                    line,
                    servers=servers | hosted,
                    mcp=bool(servers or hosted),
                    detail=f"tools={_code(kw['tools'])}",
                ),
            )
        if "mcp_servers" in kw:
            hosted = self._hosted_mcp_tools(call, self.eval(kw["mcp_servers"]), anthropic=True)
            self._emit(
                call,
                Event(
                    "tools_param",
                    api,
                    line,
                    servers=hosted,
                    mcp=bool(hosted),
                    detail="mcp_servers= (MCP connector)",
                ),
            )
        return Obj("model.response")

    def _call_api(self, api: str, call: cst.Call) -> Val:
        """Dispatch a call of a known library API to its library's recogniser (`_RECOGNISERS`)."""
        recognise = _RECOGNISERS.get(api)
        return recognise(self, api, call) if recognise is not None else UNKNOWN

    def _mcp_sdk(self, api: str, call: cst.Call) -> Val:
        """MCP SDK: server parameters, transports, sessions, servers defined in code."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api == "mcp.StdioServerParameters":
            index = self._decl_from_kwargs(
                call,
                "code:StdioServerParameters",
                kind="stdio",
                command=self._arg(call, 0, "command"),
                args=self._arg(call, 1, "args"),
                env=self._arg(call, 2, "env"),
                cwd=self._arg(call, 3, "cwd"),
            )
            return Obj("server_params", frozenset({index}) if index is not None else frozenset())
        if api in ("mcp.SseServerParameters", "mcp.StreamableHttpParameters"):
            kind = "sse" if api == "mcp.SseServerParameters" else "http"
            index = self._decl_from_kwargs(
                call,
                f"code:{api.split('.')[-1]}",
                kind=kind,
                url=self._arg(call, 0, "url"),
                headers=kw.get("headers"),
            )
            return Obj("server_params", frozenset({index}) if index is not None else frozenset())
        if api == "mcp.stdio_client":
            params = self.eval(self._arg(call, 0, "server"))
            return Obj(api, _servers_in(params))
        if api in ("mcp.streamable_http_client", "mcp.sse_client"):
            url = self._arg(call, 0, "url")
            index = self._decl_from_kwargs(
                call,
                f"code:{api.split('.')[-1]}",
                kind="sse" if api == "mcp.sse_client" else "http",
                url=url,
                headers=kw.get("headers"),
            )
            return Obj(api, frozenset({index}) if index is not None else frozenset())
        if api == "mcp.ClientSession":
            streams = self.eval(self._arg(call, 0, "read_stream"))
            return Obj(api, _servers_in(streams))
        if api in ("mcp.Client", "fastmcp.Client"):
            return Obj(api, self._client_target(call, api))
        if api == "mcp.ClientSessionGroup":
            return Obj(api, self._group_servers(call))
        if api in _SERVER_DEF_APIS:
            name = self._str(self._arg(call, 0, "name"))
            variable = self._hints.get(call)
            self.defined.append(
                DefinedServer(
                    name=name or variable or "server",
                    api=api,
                    flavor=_SERVER_DEF_APIS[api],  # type: ignore[arg-type]
                    line=line,
                    variable=variable,
                )
            )
            self._served_at(len(self.defined) - 1, call)
            return Obj("server_def", defined=len(self.defined) - 1)
        if api == "mcp.LowLevelServer":
            name = self._str(self._arg(call, 0, "name"))
            variable = self._hints.get(call)
            self.defined.append(
                DefinedServer(
                    name=name or variable or "server", api=api, flavor="mcp", line=line, variable=variable
                )
            )
            return Obj("server_def", defined=len(self.defined) - 1)
        return UNKNOWN

    def _group_servers(self, call: cst.Call) -> frozenset[SrvRef]:
        """The servers a `ClientSessionGroup()` bound to a name is connected to: every
        `<name>.connect_to_server(params)` of the module, each item when `params` walks a list."""
        name = self._hints.get(call)
        if name is None:
            return frozenset()
        out: set[SrvRef] = set()
        stack: list[cst.CSTNode] = [self.module]
        while stack:
            node = stack.pop()
            stack.extend(child_nodes(node))
            if not (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value == "connect_to_server"
                and isinstance(node.func.value, cst.Name)
                and node.func.value.value == name
            ):
                continue
            arg = self._arg(node, 0, "server_params")
            bound = (
                [self._bindings.get(t) for t in self._assignments(arg)] if isinstance(arg, cst.Name) else []
            )
            if len(bound) == 1 and bound[0] is not None and bound[0].kind == "iter" and not bound[0].unpack:
                items = self.eval(bound[0].expr)  # `for params in SERVERS:` connects every item
                if isinstance(items, Seq):
                    for item in items.items:
                        out |= _servers_in(item)
                    continue
            out |= _servers_in(self.eval(arg))
        return frozenset(out)

    def _openai_agents(self, api: str, call: cst.Call) -> Val:
        """OpenAI Agents SDK."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api in ("agents.MCPServerStdio", "agents.MCPServerStreamableHttp", "agents.MCPServerSse"):
            params = self.eval(self._arg(call, 0, "params"))
            name = self._str(kw.get("name"))
            index = None
            if isinstance(params, DictV):
                index = self._decl_from_dict(call, params, f"code:{api.split('.')[-1]}", name)
                if index is not None and api == "agents.MCPServerSse":
                    self.decls[index].kind = "sse"
                if index is not None:
                    self.decls[index].tool_filter = self._agents_tool_filter(kw.get("tool_filter"))
            return Obj("agents.MCPServer", frozenset({index}) if index is not None else frozenset())
        if api == "agents.Agent":
            servers = _servers_in(self.eval(kw.get("mcp_servers")))
            model, provider = self._model(kw.get("model"))
            prompt = self._prompt(kw.get("instructions"))
            if "mcp_servers" in kw:
                self._emit(
                    call,
                    Event(
                        "framework",
                        "agents.Agent",
                        line,
                        servers=servers,
                        framework="openai-agents",
                        mcp=True,
                        detail="mcp_servers=",
                    ),
                )
            return self._agent(
                call,
                "agents.Agent",
                line,
                framework="openai-agents",
                model=model,
                provider=provider or "openai",
                servers=servers,
                system_text=prompt,
                announce_servers=False,
            )
        return UNKNOWN

    def _pydantic_ai(self, api: str, call: cst.Call) -> Val:
        """pydantic-ai."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api in (
            "pydantic_ai.MCPServerStdio",
            "pydantic_ai.MCPServerStreamableHTTP",
            "pydantic_ai.MCPServerSSE",
        ):
            name = self._str(kw.get("id")) or self._str(kw.get("tool_prefix"))
            origin = f"code:pydantic_ai.{api.split('.')[-1]}"
            if api == "pydantic_ai.MCPServerStdio":
                index = self._decl_from_kwargs(
                    call,
                    origin,
                    kind="stdio",
                    command=self._arg(call, 0, "command"),
                    args=self._arg(call, 1, "args"),
                    env=kw.get("env"),
                    cwd=kw.get("cwd"),
                    name=name,
                )
            else:
                index = self._decl_from_kwargs(
                    call,
                    origin,
                    kind="sse" if api.endswith("SSE") else "http",
                    url=self._arg(call, 0, "url"),
                    headers=kw.get("headers"),
                    name=name,
                )
            return Obj("pydantic_ai.MCPServer", frozenset({index}) if index is not None else frozenset())
        if api == "pydantic_ai.MCPToolset":  # pydantic-ai 2.x: a FastMCP transport (or a URL) per toolset
            return Obj("pydantic_ai.MCPServer", self._toolset_decl(call, self._str(kw.get("id"))))
        if api == "pydantic_ai.load_mcp_servers":
            configs = self._config_refs(self._arg(call, 0, "config_path"))
            self._emit(call, Event("config", api, line, configs=configs))
            return Seq((Obj("pydantic_ai.MCPServer", configs=configs),))
        if api == "pydantic_ai.Agent":
            toolsets = self.eval(kw.get("toolsets"))
            servers = _servers_in(toolsets) | _servers_in(self.eval(kw.get("mcp_servers")))
            configs = _configs_in(toolsets) | _configs_in(self.eval(kw.get("mcp_servers")))
            model, provider = self._model(self._arg(call, 0, "model"))
            prompt = _joined(self._prompt(kw.get("system_prompt")), self._prompt(kw.get("instructions")))
            if servers or configs:
                self._emit(
                    call,
                    Event(
                        "framework",
                        "pydantic_ai.Agent",
                        line,
                        servers=servers,
                        configs=configs,
                        framework="pydantic-ai",
                        mcp=True,
                        detail="toolsets=",
                    ),
                )
            return self._agent(
                call,
                api,
                line,
                framework="pydantic-ai",
                model=model,
                provider=provider,
                servers=servers,
                system_text=prompt,
                announce_servers=False,
            )
        return UNKNOWN

    def _langchain(self, api: str, call: cst.Call) -> Val:
        """LangChain / LangGraph (and their chat models)."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api == "langchain.MultiServerMCPClient":
            arg = self._arg(call, 0, "connections")
            value = self.eval(arg)
            servers = self._servers_from_config_dict(call, value, "code:MultiServerMCPClient")
            return Obj(api, servers, configs=_configs_in(value))
        if api == "langchain.load_mcp_tools":
            session = self.eval(self._arg(call, 0, "session"))
            servers = _servers_in(session)
            self._emit(call, Event("framework", api, line, servers=servers, framework="langchain", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "langchain.create_agent":
            model, provider = self._model(self._arg(call, 0, "model"))
            tools = self.eval(self._arg(call, 1, "tools"))
            prompt = max(self._prompt(kw.get("prompt")), self._prompt(kw.get("system_prompt")), key=len)
            return self._agent(
                call,
                api,
                line,
                framework="langchain",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
                system_text=prompt,
            )
        if api in CHAT_MODEL_PROVIDERS or api == "langchain.init_chat_model":
            model = self._str(self._arg(call, 0, "model")) or self._str(kw.get("model_name"))
            return Obj(api, model=model)
        return UNKNOWN

    def _httpx(self, api: str, call: cst.Call) -> Val:
        """An httpx client: its POSTs to an OpenAI-compatible chat endpoint are model requests."""
        return Obj(api) if api == "httpx.Client" else UNKNOWN

    def _http_model_call(self, call: cst.Call) -> Val:
        """`http.post(f"{BASE}/chat/completions", json={"model": ..., "messages": ..., "tools": ...})`: an
        OpenAI-compatible request (Ollama, vLLM, LM Studio) sent without an SDK; its JSON body is read like
        the SDK's keyword arguments."""
        url = self.eval(self._arg(call, 0, "url"))
        text = (
            url.value if isinstance(url, Lit) and isinstance(url.value, str) else getattr(url, "static", "")
        )
        body = self._args(call)[1].get("json")
        if not isinstance(text, str) or not text.rstrip("/").endswith("/chat/completions"):
            return UNKNOWN
        if not isinstance(body, cst.Dict):
            return UNKNOWN
        fields: dict[str, cst.BaseExpression] = {}
        for element in body.elements:
            if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                key = element.key.evaluated_value
                if isinstance(key, str):
                    fields[key] = element.value
        if "messages" not in fields:
            return UNKNOWN
        provider = "ollama" if ":11434" in text else "openai"
        return self._model_call(call, provider, "openai.http.chat.completions", fields)

    def _ollama(self, api: str, call: cst.Call) -> Val:
        """Ollama's own client."""
        if api == "ollama.Client":
            return Obj(api)
        if api == "ollama.chat":
            return self._model_call(call, "ollama", api)
        return UNKNOWN

    def _smolagents(self, api: str, call: cst.Call) -> Val:
        """smolagents."""
        line = self.line(call)
        if api == "smolagents.ToolCollection.from_mcp":
            servers = self._params_servers(
                call, self.eval(self._arg(call, 0, "server_parameters")), "code:smolagents"
            )
            self._emit(call, Event("framework", api, line, servers=servers, framework="smolagents", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "smolagents.MCPClient":
            servers = self._params_servers(
                call, self.eval(self._arg(call, 0, "server_parameters")), "code:smolagents"
            )
            self._emit(call, Event("framework", api, line, servers=servers, framework="smolagents", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "smolagents.Model":
            return Obj(api, model=self._str(self._arg(call, 0, "model_id")))
        if api == "smolagents.Agent":
            tools = self.eval(self._arg(call, 0, "tools"))
            model, provider = self._model(self._arg(call, 1, "model"))
            return self._agent(
                call,
                api,
                line,
                framework="smolagents",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
            )
        return UNKNOWN

    def _crewai(self, api: str, call: cst.Call) -> Val:
        """CrewAI."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api == "crewai.MCPServerAdapter":
            positional, _ = self._args(call)
            servers = self._params_servers(
                call, self.eval(positional[0]) if positional else UNKNOWN, "code:MCPServerAdapter"
            )
            names = [self._str(p) for p in positional[1:]]
            if names and all(names):
                for ref in servers:
                    if isinstance(ref, int):
                        self.decls[ref].tool_filter = tuple(n for n in names if n)
            self._emit(call, Event("framework", api, line, servers=servers, framework="crewai", mcp=True))
            return Obj("mcp.tools", servers)
        if api == "crewai.LLM":
            return Obj(api, model=self._str(self._arg(call, 0, "model")))
        if api == "crewai.Agent":
            tools = self.eval(kw.get("tools"))
            model, provider = self._model(kw.get("llm"))
            prompt = _joined(*(self._prompt(kw.get(k)) for k in ("role", "goal", "backstory")))
            return self._agent(
                call,
                api,
                line,
                framework="crewai",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
                system_text=prompt,
            )
        return UNKNOWN

    def _adk(self, api: str, call: cst.Call) -> Val:
        """Google ADK."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api == "adk.StdioConnectionParams":
            return Obj("server_params", _servers_in(self.eval(self._arg(call, 0, "server_params"))))
        if api in ("adk.SseConnectionParams", "adk.StreamableHTTPConnectionParams"):
            index = self._decl_from_kwargs(
                call,
                f"code:adk.{api.split('.')[-1]}",
                kind="sse" if api == "adk.SseConnectionParams" else "http",
                url=self._arg(call, 0, "url"),
                headers=kw.get("headers"),
            )
            return Obj("server_params", frozenset({index}) if index is not None else frozenset())
        if api == "adk.MCPToolset":
            servers = _servers_in(self.eval(self._arg(call, None, "connection_params")))
            tool_filter = self.eval(kw.get("tool_filter"))
            if isinstance(tool_filter, Seq):
                allowed = tuple(
                    i.value for i in tool_filter.items if isinstance(i, Lit) and isinstance(i.value, str)
                )
                for ref in servers:
                    if isinstance(ref, int):
                        self.decls[ref].tool_filter = allowed
            self._emit(
                call, Event("framework", "adk.MCPToolset", line, servers=servers, framework="adk", mcp=True)
            )
            return Obj("mcp.tools", servers)
        if api == "adk.LiteLlm":
            return Obj(api, model=self._str(self._arg(call, 0, "model")))
        if api == "adk.LlmAgent":
            tools = self.eval(kw.get("tools"))
            model, provider = self._model(kw.get("model"))
            return self._agent(
                call,
                api,
                line,
                framework="adk",
                model=model,
                provider=provider,
                servers=_servers_in(tools),
                system_text=self._prompt(kw.get("instruction")),
            )
        return UNKNOWN

    def _mcp_use(self, api: str, call: cst.Call) -> Val:
        """mcp-use."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api in ("mcp_use.MCPClient", "mcp_use.MCPClient.from_dict", "mcp_use.MCPClient.from_config_file"):
            arg = self._arg(call, 0, "config")
            value = self.eval(arg)
            code_mode = self.eval(kw.get("code_mode")) == Lit(True)
            if api == "mcp_use.MCPClient.from_config_file" or isinstance(value, Lit | FileRef):
                configs = self._config_refs(arg)
                self._emit(call, Event("config", api, line, configs=configs))
                return Obj("mcp_use.MCPClient", configs=configs, code_mode=code_mode)
            servers = self._servers_from_config_dict(call, value, "code:mcp_use")
            return Obj("mcp_use.MCPClient", servers, code_mode=code_mode)
        if api == "mcp_use.MCPAgent":
            client = self.eval(kw.get("client"))
            model, provider = self._model(kw.get("llm"))
            prompt = self._prompt(kw.get("system_prompt"))
            self._emit(
                call,
                Event(
                    "framework",
                    api,
                    line,
                    servers=_servers_in(client),
                    configs=_configs_in(client),
                    framework="mcp-use",
                    mcp=True,
                ),
            )
            if isinstance(client, Obj) and client.code_mode:  # mcp-use's own code mode
                self._emit(
                    call,
                    Event(
                        "code_mode",
                        api,
                        line,
                        servers=_servers_in(client),
                        configs=_configs_in(client),
                        code_mode=True,
                        mcp=True,
                        detail="mcp-use MCPClient(code_mode=True)",
                    ),
                )
            return self._agent(
                call,
                api,
                line,
                framework="mcp-use",
                model=model,
                provider=provider,
                servers=_servers_in(client),
                system_text=prompt,
                announce_servers=False,
            )
        return UNKNOWN

    def _model_sdks(self, api: str, call: cst.Call) -> Val:
        """model SDKs and cfmigrate."""
        line = self.line(call)
        kw = self._args(call)[1]
        if api == "anthropic.Client":
            return Obj(api)
        if api == "openai.Client":
            return Obj(api, provider=_compatible_provider(self.eval(kw.get("base_url"))))
        if api == "cfmigrate.CodeMode":
            config = kw.get("config")
            configs = (
                self._config_refs(config)
                if config is not None
                else frozenset(self.config_candidates(".mcp.json"))
            )
            servers = self._code_mode_launches(kw.get("launches"))
            self._emit(
                call,
                Event(
                    "code_mode",
                    "cfmigrate.runtime.CodeMode",
                    line,
                    servers=servers,
                    configs=configs,
                    code_mode=True,
                    mcp=True,
                ),
            )
            return Obj("cfmigrate.CodeMode", servers, configs=configs)
        return UNKNOWN

    def _code_mode_launches(self, node: cst.BaseExpression | None) -> frozenset[SrvRef]:
        """Servers a migrated agent hands to `CodeMode(launches={name: launch})`, declared as the agent declared them."""
        if not isinstance(node, cst.Dict):
            return frozenset()
        origin = "code:CodeMode.launches"
        out: set[SrvRef] = set()
        for element in node.elements:
            if not isinstance(element, cst.DictElement):
                continue
            name = self._str(element.key)
            target = element.value
            if not name:
                continue
            value = self.eval(target)
            index: int | None = None
            if isinstance(value, DictV):
                index = self._decl_from_dict(target, value, origin, name)
            elif (transport := self._transport_call(target)) is not None:  # inline, or a name bound to one
                index = self._decl_from_transport(
                    transport, transport, self.api_of(transport.func), origin, name
                )
            elif (self._str(target) or "").startswith(("http://", "https://")):
                index = self._decl_from_kwargs(target, origin, kind="http", url=target, name=name)
            else:  # a launch object declared elsewhere in the module (`PARAMS = StdioServerParameters(...)`)
                out.update(_servers_in(value))
            if index is not None:
                out.add(index)
        return frozenset(out)

    def _path_values(self, api: str, call: cst.Call) -> Val:
        """helpers whose value matters for paths and environment names."""
        if api == "os.getenv":
            name = self._str(self._arg(call, 0, "key"))
            return EnvRef(name) if name else UNKNOWN
        if api in ("os.path.same", "builtins.str"):
            return self.eval(self._arg(call, 0, None))
        if api == "os.path.dirname":
            value = self.eval(self._arg(call, 0, None))
            return FileRef(posixpath.dirname(value.rel)) if isinstance(value, FileRef) else UNKNOWN
        if api == "pathlib.Path":
            value = self.eval(self._arg(call, 0, None))
            return value if isinstance(value, FileRef | Lit) else UNKNOWN
        if api == "os.path.join":
            parts = [self.eval(a.value) for a in call.args]
            head = parts[0] if parts else None
            tail = [p.value for p in parts[1:] if isinstance(p, Lit) and isinstance(p.value, str)]
            if isinstance(head, FileRef) and len(tail) == len(parts) - 1:
                return FileRef(posixpath.normpath(posixpath.join(head.rel, *tail)))
            return UNKNOWN
        return UNKNOWN

    def _agents_tool_filter(self, node: cst.BaseExpression | None) -> tuple[str, ...] | None:
        if not isinstance(node, cst.Call) or self.api_of(node.func) != "agents.create_static_tool_filter":
            return None
        value = self.eval(self._arg(node, 0, "allowed_tool_names"))
        if isinstance(value, Seq):
            return tuple(i.value for i in value.items if isinstance(i, Lit) and isinstance(i.value, str))
        return None

    def _call_external(self, qname: str, call: cst.Call) -> Val:
        """An instance of another module's helper class: it reaches that helper's servers, declared here
        with their own file and line (identical launches merge into one server)."""
        helper = self.external.get(qname)
        if not isinstance(helper, HelperClass | HelperFunction):
            return UNKNOWN
        indices = self._helper_decls.get(qname)
        if indices is None:
            declared = (self._declare(call, replace(decl, via=helper.rel)) for decl in helper.servers)
            indices = frozenset(i for i in declared if i is not None)
            self._helper_decls[qname] = indices
        if isinstance(helper, HelperFunction):  # what it returns, reaching its servers from here
            return Obj(helper.api, frozenset(indices), configs=frozenset(helper.configs))
        return Obj(f"helper:{qname}", frozenset(indices))

    def _ref(self, qname: str) -> Val:
        """An imported name; a constant of another module that holds server launches is declared here with
        its own file and line (one object reaches its servers; a list keeps one server per item)."""
        shared = self.external.get(qname)
        if not isinstance(shared, ServerConstant):
            return super()._ref(qname)
        declared = self._constant_decls.get(qname)
        if declared is None:
            declared = tuple(self._declare(self.module, replace(d, via=shared.rel)) for d in shared.servers)
            self._constant_decls[qname] = declared
        if shared.listed:
            return Seq(
                tuple(
                    Obj("server_params", frozenset({i}) if i is not None else frozenset()) for i in declared
                )
            )
        return Obj("server_params", frozenset(i for i in declared if i is not None))

    def _helper_method(self, obj: Obj, call: cst.Call) -> Val:
        """A method of a helper instance: its MCP calls and tool lists happen here, for this agent."""
        helper = self.external.get(obj.api.removeprefix("helper:"))
        if not isinstance(helper, HelperClass) or len(obj.path) != 1:
            return UNKNOWN
        method = obj.path[0]
        kinds = helper.kinds(method)
        line = self.line(call)
        api = f"{helper.qname}.{method}"
        if "call_tool" in kinds:
            self._emit(
                call, Event("call_tool", api, line, servers=obj.servers, mcp=True, detail="through a helper")
            )
        if "list_tools" in kinds:
            self._emit(call, Event("list_tools", api, line, servers=obj.servers, mcp=True))
            return Obj("mcp.tools", obj.servers)
        return Obj("mcp.call_result", obj.servers) if kinds else UNKNOWN

    def _served_at(self, index: int, call: cst.Call, method: str | None = None) -> None:
        """Port, path and HTTP transport of a defined server, from its constructor or a `run(...)` call."""
        server = self.defined[index]
        _, kw = self._args(call)
        port = self.eval(kw.get("port"))
        if isinstance(port, Lit) and isinstance(port.value, int) and not isinstance(port.value, bool):
            server.port = port.value
        for key in ("path", "streamable_http_path", "sse_path"):
            path = self._str(kw.get(key))
            if path and path.startswith("/"):
                server.path = path
        if method is None:
            return
        transport = self._str(self._arg(call, 0, "transport"))
        if method in ("run_streamable_http_async",) or transport in (
            "streamable-http",
            "http",
            "streamable_http",
        ):
            server.transport = "http"
        elif method == "run_sse_async" or transport == "sse":
            server.transport = "sse"

    def _call_method(self, obj: Obj, call: cst.Call) -> Val:
        line = self.line(call)
        path = obj.path
        method = path[-1] if path else ""
        if role_of(obj.api) is Role.SESSION and path in (("call_tool",), ("connector", "call_tool")):
            name = self._str(self._arg(call, 0, "name"))
            api = "mcp_use.MCPSession.call_tool" if obj.api == "mcp_use.Session" else f"{obj.api}.call_tool"
            detail = "" if name else f"dynamic tool name: {_code(self._arg(call, 0, 'name') or call.func)}"
            self._emit(
                call, Event("call_tool", api, line, tool=name, servers=obj.servers, mcp=True, detail=detail)
            )
            return Obj("mcp.call_result", obj.servers)
        if role_of(obj.api) is Role.SESSION and path in (("list_tools",), ("connector", "list_tools")):
            api = "mcp_use.MCPSession.list_tools" if obj.api == "mcp_use.Session" else f"{obj.api}.list_tools"
            self._emit(call, Event("list_tools", api, line, servers=obj.servers, mcp=True))
            return Obj("mcp.tools_result" if obj.api != "fastmcp.Client" else "mcp.tools", obj.servers)
        if obj.api == "langchain.MultiServerMCPClient":
            if method == "get_tools":
                servers = obj.servers
                only = self._str(self._arg(call, None, "server_name"))
                if only:
                    servers = self._named(servers, only)
                self._emit(
                    call,
                    Event(
                        "framework",
                        "langchain_mcp_adapters.MultiServerMCPClient.get_tools",
                        line,
                        servers=servers,
                        configs=obj.configs,
                        framework="langchain",
                        mcp=True,
                    ),
                )
                return Obj("mcp.tools", servers, configs=obj.configs)
            if method == "session":
                name = self._str(self._arg(call, 0, "server_name"))
                return Obj("mcp.ClientSession", self._named(obj.servers, name) if name else obj.servers)
        if obj.api == "mcp_use.MCPClient" and method in ("get_session", "create_session"):
            name = self._str(self._arg(call, 0, "server_name"))
            servers = self._named(obj.servers, name) if name else obj.servers
            if name and not servers:
                servers = frozenset({name})
            return Obj("mcp_use.Session", servers, configs=obj.configs)
        if obj.api == "mcp.ClientSessionGroup" and method == "connect_to_server":
            return Obj("mcp.ClientSession", _servers_in(self.eval(self._arg(call, 0, "server_params"))))
        if obj.api == "anthropic.Client" and path in _ANTHROPIC_METHODS:
            return self._model_call(call, "anthropic", "anthropic." + ".".join(path))
        if obj.api == "openai.Client" and path in _OPENAI_METHODS:
            return self._model_call(call, obj.provider or "openai", "openai." + ".".join(path))
        if obj.api == "httpx.Client" and path == ("post",):
            return self._http_model_call(call)
        if obj.api == "ollama.Client" and path == ("chat",):
            return self._model_call(call, "ollama", "ollama.Client.chat")
        if obj.api.startswith("helper:"):
            return self._helper_method(obj, call)
        if obj.api == "server_def":
            if (
                method in ("run", "run_async", "run_streamable_http_async", "run_sse_async")
                and obj.defined is not None
            ):
                self._served_at(obj.defined, call, method)
            if method == "add_tool" and obj.defined is not None:
                fn = self.eval(self._arg(call, 0, "fn"))
                if isinstance(fn, LocalFunc):
                    _, kw = self._args(call)
                    self._add_tool(obj.defined, fn.node, kw)
            return UNKNOWN
        if method in _ENTER_METHODS and call.args:
            return self.eval(call.args[0].value)
        return UNKNOWN


_COMPATIBLE_HOSTS = (("api.groq.com", "groq"), (":11434", "ollama"), ("ollama", "ollama"))
"""OpenAI-compatible endpoints by a part of their base URL -> the provider behind them."""


def _compatible_provider(base_url: Val) -> str | None:
    """The provider an `OpenAI(base_url=...)` client talks to, when the literal URL names a known one."""
    if not (isinstance(base_url, Lit) and isinstance(base_url.value, str)):
        return None
    return next((name for part, name in _COMPATIBLE_HOSTS if part in base_url.value), None)


_Recogniser = Callable[[AgentRecognition, str, cst.Call], Val]
_RECOGNISERS: dict[str, _Recogniser] = {
    **dict.fromkeys(
        (
            "fastmcp.Client",
            "fastmcp.FastMCP",
            "mcp.Client",
            "mcp.ClientSession",
            "mcp.ClientSessionGroup",
            "mcp.FastMCP",
            "mcp.LowLevelServer",
            "mcp.MCPServer",
            "mcp.SseServerParameters",
            "mcp.StdioServerParameters",
            "mcp.StreamableHttpParameters",
            "mcp.sse_client",
            "mcp.stdio_client",
            "mcp.streamable_http_client",
        ),
        AgentRecognition._mcp_sdk,
    ),
    **dict.fromkeys(
        ("agents.Agent", "agents.MCPServerSse", "agents.MCPServerStdio", "agents.MCPServerStreamableHttp"),
        AgentRecognition._openai_agents,
    ),
    **dict.fromkeys(
        (
            "pydantic_ai.Agent",
            "pydantic_ai.MCPServerSSE",
            "pydantic_ai.MCPServerStdio",
            "pydantic_ai.MCPServerStreamableHTTP",
            "pydantic_ai.MCPToolset",
            "pydantic_ai.load_mcp_servers",
        ),
        AgentRecognition._pydantic_ai,
    ),
    **dict.fromkeys(
        (
            "langchain.ChatAnthropic",
            "langchain.ChatGroq",
            "langchain.ChatOllama",
            "langchain.ChatOpenAI",
            "langchain.MultiServerMCPClient",
            "langchain.create_agent",
            "langchain.init_chat_model",
            "langchain.load_mcp_tools",
        ),
        AgentRecognition._langchain,
    ),
    **dict.fromkeys(("ollama.Client", "ollama.chat"), AgentRecognition._ollama),
    "httpx.Client": AgentRecognition._httpx,
    **dict.fromkeys(
        (
            "smolagents.Agent",
            "smolagents.MCPClient",
            "smolagents.Model",
            "smolagents.ToolCollection.from_mcp",
        ),
        AgentRecognition._smolagents,
    ),
    **dict.fromkeys(("crewai.Agent", "crewai.LLM", "crewai.MCPServerAdapter"), AgentRecognition._crewai),
    **dict.fromkeys(
        (
            "adk.LiteLlm",
            "adk.LlmAgent",
            "adk.MCPToolset",
            "adk.SseConnectionParams",
            "adk.StdioConnectionParams",
            "adk.StreamableHTTPConnectionParams",
        ),
        AgentRecognition._adk,
    ),
    **dict.fromkeys(
        (
            "mcp_use.MCPAgent",
            "mcp_use.MCPClient",
            "mcp_use.MCPClient.from_config_file",
            "mcp_use.MCPClient.from_dict",
        ),
        AgentRecognition._mcp_use,
    ),
    **dict.fromkeys(
        ("anthropic.Client", "cfmigrate.CodeMode", "openai.Client"), AgentRecognition._model_sdks
    ),
    **dict.fromkeys(
        ("builtins.str", "os.getenv", "os.path.dirname", "os.path.join", "os.path.same", "pathlib.Path"),
        AgentRecognition._path_values,
    ),
}
"""Canonical API id (see `code_apis`) -> the recogniser of its library. A new framework is one entry in
`code_apis` (its names) plus one recogniser here (what its calls build and which events they record)."""
