"""`CodeMode`: one execute-code tool, a code-first prompt, sandboxed scripts, MCP sessions kept in the host."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from cfmigrate.runtime import prompts
from cfmigrate.runtime._naming import to_identifier
from cfmigrate.runtime.audit import AuditLog, sha256
from cfmigrate.runtime.bridge import BridgeError, BridgeServer
from cfmigrate.runtime.executor import (
    ExecutionResult,
    Executor,
    ExecutorError,
    Limits,
    LocalExecutor,
    Protection,
    SandboxSession,
    UnconfinedError,
)
from cfmigrate.runtime.launches import LaunchError, apply_launches
from cfmigrate.runtime.pii import PiiMasker
from cfmigrate.runtime.policy import Approver, Policy, ToolCall, resolve
from cfmigrate.runtime.results import ToolUseResult
from cfmigrate.runtime.sessions import HostSessions, LaunchSpec, SessionError, load_launch_specs
from cfmigrate.runtime.tools import ToolDefinition, compact, render_tool

SERVERS_ENV = "CFMIGRATE_SERVERS"
"""Scripts see the servers this CodeMode reaches here (comma-separated ids): the package's `search_tools` lists only
their tools (a server defined in code that nothing launches has a module in `servers/` but cannot be called)."""

log = logging.getLogger("cfmigrate.runtime")

Provider = Literal["anthropic", "openai", "openai-responses"]
_PROVIDERS = ("anthropic", "openai", "openai-responses")


def _render(tool: ToolDefinition, provider: Provider) -> dict[str, Any]:
    """A tool definition as the provider's API takes it: the Responses API's function tools are flat."""
    if provider == "openai-responses":
        return {"type": "function", **render_tool(tool, "openai")["function"]}
    return render_tool(tool, provider)


CODE_TOOL = "execute_code"
MAX_LISTED_SERVERS = 12


def default_audit_path(servers_dir: Path | None, work_dir: Path | None) -> Path:
    """`.cfmigrate/audit.jsonl` beside the generated package (the project root), else in the work dir or temp dir."""
    if servers_dir is not None:
        return servers_dir.parent / ".cfmigrate" / "audit.jsonl"
    if work_dir is not None:
        return work_dir / "audit.jsonl"
    return Path(tempfile.gettempdir()) / "cfmigrate-audit.jsonl"


class CodeModeError(Exception):
    """CodeMode was set up wrongly; the message names the path or option and what to do."""


class Tokenizer(Protocol):
    """Anything that counts tokens and names how (`cfmigrate.analyzers.tokens.BpeTokenizer` is one)."""

    @property
    def label(self) -> str: ...

    def count(self, text: str) -> int: ...


@dataclass(frozen=True)
class KeptTool:
    """A tool the plan keeps on direct MCP (hybrid): exposed to the model as itself."""

    server: str
    name: str
    definition: ToolDefinition


@dataclass
class _Active:
    script_sha256: str
    tool_calls: int = 0
    refused: int = 0


class CodeMode:
    """The code-mode runtime for one agent session (use as `async with CodeMode(...) as code_mode:`)."""

    def __init__(
        self,
        servers_dir: str | os.PathLike[str] | None = "servers",
        config: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = ".mcp.json",
        keep_direct: Sequence[str] = (),
        work_dir: str | os.PathLike[str] | None = None,
        *,
        executor: Executor | None = None,
        limits: Limits | None = None,
        policy: Policy | None = None,
        approve: Approver | None = None,
        audit_log: str | os.PathLike[str] | bool = True,
        log_payloads: bool = False,
        mask_pii: bool = False,
        tool_name: str = CODE_TOOL,
        call_timeout_s: float = 120.0,
        connect_timeout_s: float = 30.0,
        read_paths: Sequence[str] = (),
        allow_unconfined: bool | None = None,
        launches: Mapping[str, Any] | None = None,
    ) -> None:
        self.servers_dir = Path(servers_dir).resolve() if servers_dir is not None else None
        given = [config] if isinstance(config, str | os.PathLike) else list(config or ())
        self.configs = tuple(Path(c).resolve() for c in given)  # the first one declaring a server wins
        self.config = self.configs[0] if self.configs else None
        self.keep_direct = tuple(keep_direct)
        self._given_work_dir = Path(work_dir).resolve() if work_dir is not None else None
        self.limits = limits or Limits()
        self.policy = policy or Policy()
        self.approve = approve
        self.audit_setting = audit_log
        self.log_payloads = log_payloads
        self.mask_pii = mask_pii
        self.tool_name = tool_name
        self.call_timeout_s = call_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.read_paths = tuple(read_paths)
        # server -> the launch the agent declares in its own code (StdioServerParameters, a params dict, a
        # FastMCP transport, a URL): started exactly that way instead of by servers/_servers.json
        self.launches: Mapping[str, Any] = dict(launches or {})
        self._own_executor = executor is None
        self.executor: Executor = executor or LocalExecutor(allow_unconfined=allow_unconfined)
        self.masker = PiiMasker() if mask_pii else None
        self.specs: dict[str, LaunchSpec] = {}
        self.sessions: HostSessions | None = None
        self.audit: AuditLog | None = None
        self.session: SandboxSession | None = None
        self.kept: dict[str, KeptTool] = {}
        self._bridge: BridgeServer | None = None
        self._runtime_dir: Path | None = None
        self._temp_work: Path | None = None
        self._active: _Active | None = None
        self._run_lock = asyncio.Lock()  # one script at a time per session, so bridge calls know their script
        self._entered = False  # `async with` was used (it closes on exit)
        self._opening: asyncio.Lock | None = None
        self._keeper: asyncio.Task[None] | None = None  # holds a lazily opened CodeMode until the loop ends
        self._closed = False
        self._host_runtime = _claim_host_calls(self)

    # ------------------------------------------------------------------ lifecycle

    @property
    def work_dir(self) -> Path:
        if self.session is None:
            raise CodeModeError("CodeMode is not open: use `async with CodeMode(...) as code_mode:`")
        return self.session.work_dir

    async def __aenter__(self) -> CodeMode:
        if self._entered:
            raise CodeModeError("this CodeMode is already open; create one per session")
        self._entered = True
        await self.ensure_open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def ensure_open(self) -> CodeMode:
        """Open now if not open yet (every method that needs the sandbox or the sessions calls this).

        Opened by `async with`, it closes when the block ends. Opened lazily (a CodeMode created in an
        `__init__` or at module level and used directly), it stays open until `aclose()` or until the
        event loop that opened it finishes (`asyncio.run` cancels the task that holds it, which closes
        the servers, the sandbox and the temporary folders).
        """
        if self.session is not None:
            return self
        if self._closed:
            raise CodeModeError("this CodeMode was closed; create a new one for a new session")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self.session is not None:
                return self
            try:
                await self._open()
            except BaseException:
                await self._close()
                self._closed = False  # a failed start may be retried
                raise
            if not self._entered:
                self._keeper = asyncio.get_running_loop().create_task(self._hold(), name="cfmigrate-codemode")
        return self

    async def _hold(self) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await self._close()

    async def aclose(self) -> None:
        """Close the servers, the sandbox and the temporary folders (idempotent)."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None and keeper is not asyncio.current_task() and not keeper.done():
            keeper.cancel()
            with contextlib.suppress(BaseException):
                await keeper
        await self._close()

    async def _open(self) -> None:
        if self.servers_dir is not None and not (self.servers_dir / "__init__.py").is_file():
            raise CodeModeError(
                f"{self.servers_dir}: no generated servers package here; run `cfmigrate generate` "
                "or pass servers_dir= the package's path"
            )
        try:
            self.specs = apply_launches(load_launch_specs(self.servers_dir, self.configs), self.launches)
        except SessionError as exc:
            raise CodeModeError(exc.message) from None
        except LaunchError as exc:
            raise CodeModeError(str(exc)) from None
        self.sessions = HostSessions(
            self.specs, call_timeout=self.call_timeout_s, connect_timeout=self.connect_timeout_s
        )
        self._runtime_dir = Path(
            tempfile.mkdtemp(prefix="cfm-", dir="/tmp" if os.path.isdir("/tmp") else None)
        )
        os.chmod(self._runtime_dir, 0o700)
        if self._given_work_dir is not None:
            work_dir = self._given_work_dir
        else:
            self._temp_work = Path(tempfile.mkdtemp(prefix="cfmigrate-work-"))
            work_dir = self._temp_work
        session_id = self._runtime_dir.name
        audit_path: Path | None
        if self.audit_setting is True:
            audit_path = default_audit_path(self.servers_dir, self._given_work_dir)
        elif self.audit_setting is False:
            audit_path = None
        else:
            audit_path = Path(self.audit_setting).resolve()
        self.audit = AuditLog(audit_path, session=session_id, log_payloads=self.log_payloads)
        self._bridge = BridgeServer(self._bridge_call, check=self._bridge_check)
        self.session = SandboxSession(
            id=session_id,
            work_dir=work_dir,
            runtime_dir=self._runtime_dir,
            servers_dir=self.servers_dir,
            bridge=self._bridge.serve_connector,
            limits=self.limits,
            read_paths=self.read_paths,
            env={
                SERVERS_ENV: ",".join(sorted(self.specs))
            },  # search_tools lists only the servers it can reach
        )
        if isinstance(self.executor, LocalExecutor):
            try:
                await self.executor.start(self.session)
            except ExecutorError as exc:
                raise CodeModeError(str(exc)) from None
        await self._load_kept()
        self._announce_protections()

    def _announce_protections(self) -> None:
        """Say at start-up, on the `cfmigrate.runtime` logger, which protections this machine enforces."""
        layers = self.protections()
        missing = [p for p in layers if not p.enforced]
        log.info(
            "sandbox session %s: %d of %d protections enforced",
            self.session.id if self.session else "?",
            len(layers) - len(missing),
            len(layers),
        )
        for p in missing:
            if p.name == "minimum confinement":
                log.error("sandbox session %s: %s", self.session.id if self.session else "?", p.how)
            else:
                log.warning("sandbox protection NOT enforced on this machine: %s (%s)", p.name, p.how)

    async def _close(self) -> None:
        self._closed = True
        _release_host_calls(self)
        if self._bridge is not None:
            await self._bridge.close()
            self._bridge = None
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.executor.close_session(self.session)
        if self._own_executor and isinstance(self.executor, LocalExecutor) and self.session is not None:
            await self.executor.aclose()
        if self.sessions is not None:
            await self.sessions.aclose()
        if self.audit is not None:
            self.audit.close()
            self.audit = None
        self.session = None
        if self._runtime_dir is not None:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
            self._runtime_dir = None
        if self._temp_work is not None:
            shutil.rmtree(self._temp_work, ignore_errors=True)
            self._temp_work = None

    async def _load_kept(self) -> None:
        """Resolve keep_direct entries ("server/tool", a bare server name = all its tools, or a unique tool name)."""
        if not self.keep_direct:
            return
        assert self.sessions is not None
        wanted: list[tuple[str | None, str]] = []
        whole: list[str] = []
        for entry in self.keep_direct:
            server, sep, tool = entry.partition("/")
            if sep:
                wanted.append((server, tool))
            elif entry in self.specs:  # a server's name (it wins over a tool of the same name)
                whole.append(entry)
            else:
                wanted.append((None, entry))
        servers = {s for s, _ in wanted if s is not None} | set(whole)
        if any(s is None for s, _ in wanted):
            servers = set(self.specs)
        listed: dict[str, dict[str, Any]] = {}
        for server in sorted(servers):
            if server not in self.specs:
                raise CodeModeError(
                    f"keep_direct: unknown server {server!r} (servers: {', '.join(sorted(self.specs))})"
                )
            try:
                listed[server] = await self.sessions.list_tools(server)
            except SessionError as exc:
                raise CodeModeError(
                    f"keep_direct: cannot list the tools of {server}: {exc.message}"
                ) from None
        for server in sorted(set(whole)):
            wanted.extend((server, tool) for tool in sorted(listed[server]) if (server, tool) not in wanted)
        for where, tool in wanted:
            owners = [s for s in ([where] if where else sorted(listed)) if tool in listed.get(s, {})]
            if not owners:
                raise CodeModeError(f"keep_direct: no tool {tool!r} on {where or 'any server'}")
            if len(owners) > 1:
                raise CodeModeError(
                    f"keep_direct: {tool!r} exists on {', '.join(owners)}; write it as 'server/{tool}'"
                )
            found = listed[owners[0]][tool]
            if tool in self.kept or tool == self.tool_name:
                raise CodeModeError(f"keep_direct: two kept tools are named {tool!r}; keep only one")
            annotations = (
                found.annotations.model_dump(by_alias=True, exclude_none=True) if found.annotations else None
            )
            self.kept[tool] = KeptTool(
                server=owners[0],
                name=tool,
                definition=ToolDefinition(
                    name=tool,
                    description=found.description or "",
                    input_schema=found.input_schema,
                    annotations=annotations,
                ),
            )

    # ------------------------------------------------------------------ what the model sees

    def code_tool(self, provider: Provider = "anthropic") -> dict[str, Any]:
        """The execute-code tool definition alone."""
        description = prompts.EXECUTE_CODE_DESCRIPTION
        schema = {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Python source; print() what you need back."}
            },
            "required": ["code"],
        }
        return _render(
            ToolDefinition(name=self.tool_name, description=description, input_schema=schema), provider
        )

    def tool_definitions(self, provider: Provider = "anthropic") -> list[dict[str, Any]]:
        """The tools to pass to the model API: the code tool, then any kept direct tools (plain dicts)."""
        if provider not in _PROVIDERS:
            raise CodeModeError(
                f"provider must be one of {', '.join(map(repr, _PROVIDERS))}, not {provider!r}"
            )
        if self.keep_direct and self.session is None:
            raise CodeModeError(
                "keep_direct tools are listed from their servers when CodeMode opens: enter it "
                "(`async with CodeMode(...)`) or `await code_mode.ensure_open()` before tool_definitions()"
            )
        tools = [self.code_tool(provider)]
        tools.extend(_render(kept.definition, provider) for _, kept in sorted(self.kept.items()))
        return tools

    def system_prompt(self) -> str:
        """The code-first system prompt (discovery, printed output only, workspace/ and skills/)."""
        servers = sorted(self.specs) or self._package_servers()
        return prompts.system_prompt(
            tool_name=self.tool_name,
            servers=servers if len(servers) <= MAX_LISTED_SERVERS else [],
            server_count=len(servers),
            max_output=f"{self.limits.max_output_bytes:,}",
            timeout=f"{self.limits.timeout_s:g}",
            mask_pii=self.mask_pii,
            kept=sorted(self.kept),
        )

    def _package_servers(self) -> list[str]:
        """The package's servers this CodeMode could start (before it opens): not those with no known launch."""
        if self.servers_dir is None or not self.servers_dir.is_dir():
            return []
        try:
            reachable = set(load_launch_specs(self.servers_dir, self.configs)) | {
                to_identifier(name) for name in self.launches
            }
        except SessionError:
            reachable = set()
        found = sorted(p.name for p in self.servers_dir.iterdir() if (p / "__init__.py").is_file())
        return [name for name in found if name in reachable] or found

    def context_tokens(self, provider: Provider, tokenizer: Tokenizer) -> tuple[int, str]:
        """Tokens of the system prompt plus the code tool definition, and the tokenizer label.

        The runtime ships no vocabulary: pass a tokenizer, e.g. `BpeTokenizer("o200k_base")` from
        `cfmigrate.analyzers.tokens` (the cfmigrate tool) or your own object with `count()` and `label`.
        """
        total = tokenizer.count(self.system_prompt()) + tokenizer.count(compact(self.code_tool(provider)))
        return total, tokenizer.label

    def protections(self) -> list[Protection]:
        """Each sandbox layer as (name, enforced, how/why not) for this machine."""
        session = self.session or SandboxSession(
            id="probe",
            work_dir=Path(tempfile.gettempdir()),
            runtime_dir=Path(tempfile.gettempdir()),
            limits=self.limits,
        )
        return self.executor.protections(session)

    async def list_tools(self, server: str) -> Any:
        """The server's tools as its own session lists them (the installed mcp's `ListToolsResult`).

        For host code that used to list a session of its own at connect time (`print(len(r.tools))`):
        the listing comes from CodeMode's session of that server, so the server starts once. `server` is
        the server's name in the config or the generated package (`servers/<name>/`).
        """
        from mcp.types import ListToolsResult

        await self.ensure_open()
        assert self.sessions is not None
        server_id = self._server_id(server)
        try:
            tools = await self.sessions.list_tools(server_id)
        except SessionError as exc:
            raise CodeModeError(f"cannot list the tools of {server}: {exc.message}") from None
        return ListToolsResult(tools=list(tools.values()))

    def _server_id(self, server: str) -> str:
        """The id of a server given by its id, its config name or that name as an identifier."""
        if server in self.specs:
            return server
        for server_id, spec in sorted(self.specs.items()):
            if spec.name == server:
                return server_id
        key = to_identifier(server)
        if key in self.specs:
            return key
        raise CodeModeError(f"unknown server {server!r} (servers: {', '.join(sorted(self.specs)) or 'none'})")

    # ------------------------------------------------------------------ running

    async def handle_tool_use(self, name: str, input: Mapping[str, Any] | str | None) -> ToolUseResult:
        """Run the code tool, or pass a kept direct tool to its MCP server; the result is a CallToolResult.

        Whatever the model sent, this returns a result (an error result for bad input); only a CodeMode that cannot open
        or a sandbox that refuses to run unconfined raises `CodeModeError`.
        """
        await self.ensure_open()
        if not isinstance(name, str) or not isinstance(input, Mapping | str | None):
            return ToolUseResult.of_text(
                f"{self.tool_name} needs a tool name and a JSON object as input; nothing was run",
                is_error=True,
            )
        try:
            return await self._handle_tool_use(name, input)
        except CodeModeError:
            raise
        except Exception as exc:  # nothing the model sends may crash the agent loop
            log.exception("handle_tool_use failed")
            return ToolUseResult.of_text(
                f"the host could not handle this call ({type(exc).__name__})", is_error=True
            )

    async def _handle_tool_use(self, name: str, input: Mapping[str, Any] | str | None) -> ToolUseResult:
        assert self.session is not None
        if isinstance(input, str):  # OpenAI sends function arguments as a JSON string
            try:
                decoded = json.loads(input)
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                input = decoded
        if name == self.tool_name:
            code = input if isinstance(input, str) else (input or {}).get("code")
            if not isinstance(code, str) or not code.strip():
                return ToolUseResult.of_text(
                    f'{self.tool_name} needs {{"code": "<python source>"}}; nothing was run', is_error=True
                )
            result = await self.run_code(code)
            return ToolUseResult.of_code(result.text(), ok=result.ok, execution=result)
        kept = self.kept.get(name)
        if kept is None:
            available = ", ".join([self.tool_name, *sorted(self.kept)])
            return ToolUseResult.of_text(
                f"unknown tool {name!r}; available tools: {available}", is_error=True
            )
        return await self.call_direct(kept.server, kept.name, input if isinstance(input, Mapping) else {})

    async def call_direct(self, server: str, tool: str, arguments: Mapping[str, Any]) -> ToolUseResult:
        """A direct (hybrid) call the model made: policy, PII swap-back and audit as for scripts' calls.

        The server starts on its first call; a server that cannot start, a tool it does not list or a
        refusal comes back as an error result naming the server, never as an exception.
        """
        await self.ensure_open()
        try:
            await self._bridge_check(server, tool, direct=True)
            wire = await self._call(server, tool, dict(arguments), via="direct")
        except BridgeError as exc:
            return ToolUseResult.of_text(exc.message, is_error=True)
        return ToolUseResult.from_wire(wire)  # masked in _call when masking is on

    async def run_code(self, code: str) -> ExecutionResult:
        """Run one script in the sandbox; every run is audited, whatever happens to it."""
        await self.ensure_open()
        assert self.session is not None
        async with self._run_lock:
            self._active = _Active(script_sha256=sha256(code))
            started = time.perf_counter()
            result: ExecutionResult | None = None
            try:
                result = await self.executor.run(code, session=self.session)
            except UnconfinedError as exc:
                raise CodeModeError(str(exc)) from None
            except ExecutorError as exc:
                result = ExecutionResult(
                    stdout="", stderr="", ok=False, notes=(f"the sandbox could not run the script: {exc}",)
                )
            finally:
                active, self._active = self._active, None
                if self._bridge is not None:
                    await self._bridge.cancel_calls()
                if self.audit is not None:
                    self._audit_run(code, result, active, started)
        return result

    def _audit_run(
        self, code: str, result: ExecutionResult | None, active: _Active | None, started: float
    ) -> None:
        try:
            outcome = (
                "aborted"
                if result is None
                else "ok"
                if result.ok
                else "timeout"
                if result.timed_out
                else "killed"
                if result.signal is not None
                else "error"
            )
            assert self.audit is not None
            self.audit.execution(
                script=code,
                duration_ms=(time.perf_counter() - started) * 1000,
                outcome=outcome,
                tool_calls=active.tool_calls if active else 0,
                stdout_bytes=(len(result.stdout.encode()) + result.stdout_dropped) if result else 0,
                exit_code=result.exit_code if result else None,
                output=result.text() if result else None,
            )
        except Exception:  # the audit log must not turn a finished run into a crash
            log.exception("audit: could not record a script run")

    async def _bridge_check(self, server: str, tool: str, *, direct: bool = False) -> None:
        """Before anything else: a running script (for bridge calls), a known server, a tool it lists."""
        if not direct and self._active is None:
            raise BridgeError("no script of this session is running", kind="denied")
        if server not in self.specs:
            known = ", ".join(sorted(self.specs)) or "none"
            raise BridgeError(f"unknown server {server[:64]!r} (servers: {known})", kind="invalid")
        assert self.sessions is not None
        try:
            listed = await self.sessions.list_tools(server)
        except SessionError as exc:
            raise BridgeError(self.sessions.redact(exc.message), kind=exc.kind, code=exc.code) from None
        if tool not in listed:
            raise BridgeError(f"{server} lists no tool {tool[:64]!r}", kind="invalid")
        if not direct and self._active is not None and self._active.tool_calls >= self.limits.max_tool_calls:
            self._active.refused += 1
            if self.audit is not None and self._active.refused == 1:
                self.audit.tool_call(
                    server=server, tool=tool, via="code", duration_ms=0.0, outcome="refused",
                    script_sha256=self._active.script_sha256, error_kind="limit",
                )  # fmt: skip
            raise BridgeError(
                f"tool call limit reached: a script may make {self.limits.max_tool_calls} tool calls; "
                "do the rest in another script",
                kind="denied",
            )

    async def host_call(self, server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A call the host makes itself through the generated package (`await create_ticket(...)` in the agent).

        It goes to this CodeMode's session of that server, so the host and the model's scripts share
        one server process (what the host created, the scripts see). No policy applies: it is the
        agent's own code, as `session.call_tool(...)` was before the migration.
        """
        await self.ensure_open()
        assert self.sessions is not None
        started = time.perf_counter()
        outcome, kind = "ok", None
        try:
            result = await self.sessions.call_tool(server, tool, arguments)
            if result.get("isError"):
                outcome = "tool_error"
            return result
        except SessionError as exc:
            outcome, kind = "failed", exc.kind
            raise CodeModeError(f"{server}.{tool}: {exc.message}") from None
        finally:
            if self.audit is not None:
                self.audit.tool_call(
                    server=server, tool=tool, via="direct", duration_ms=(time.perf_counter() - started) * 1000,
                    outcome=outcome, script_sha256=None, error_kind=kind,
                )  # fmt: skip

    async def _bridge_call(self, server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A call from a running script (through the bridge socket)."""
        if self._active is None:
            raise BridgeError("no script of this session is running", kind="denied")
        self._active.tool_calls += 1
        return await self._call(server, tool, arguments, via="code")

    async def _call(
        self, server: str, tool: str, arguments: dict[str, Any], *, via: Literal["code", "direct"]
    ) -> dict[str, Any]:
        """Policy, PII swap-back, the MCP call and its audit record."""
        assert self.sessions is not None
        started = time.perf_counter()
        script = self._active.script_sha256 if self._active else None
        outcome, kind = "ok", None

        def record() -> None:
            if self.audit is not None:
                self.audit.tool_call(
                    server=server,
                    tool=tool,
                    via=via,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    outcome=outcome,
                    script_sha256=script,
                    error_kind=kind,
                    arguments=arguments,
                    result=result if outcome in ("ok", "tool_error") else None,
                )

        result: dict[str, Any] | None = None
        try:
            if server not in self.specs:
                known = ", ".join(sorted(self.specs)) or "none"
                raise BridgeError(f"unknown server {server!r} (servers: {known})", kind="invalid")
            if self.masker is not None:
                arguments = self.masker.unmask(arguments)
            try:
                annotations = await self.sessions.annotations(server, tool)
            except SessionError as exc:
                raise BridgeError(exc.message, kind=exc.kind, code=exc.code) from None
            allowed, reason = await resolve(
                self.policy,
                ToolCall(server=server, tool=tool, arguments=arguments, annotations=annotations, via=via),
                self.approve,
            )
            if not allowed:
                raise BridgeError(f"denied: {reason}", kind="denied")
            try:
                result = await self.sessions.call_tool(server, tool, arguments)
            except SessionError as exc:
                raise BridgeError(exc.message, kind=exc.kind, code=exc.code) from None
            if result.get("isError"):
                outcome = "tool_error"
            if self.masker is not None:  # PII leaves the host only as placeholders
                result = self.masker.mask_result(result)
            return result
        except BridgeError as exc:
            outcome, kind = "refused" if exc.kind == "denied" else "failed", exc.kind
            exc.message = self.sessions.redact(exc.message)
            raise
        finally:
            record()


# ---------------------------------------------------------------------------------------------- host calls

# The generated package's `_runtime` module -> the CodeModes routing its host-side calls, latest last.
_claims: dict[str, list[CodeMode]] = {}


def _package_runtime(servers_dir: Path | None) -> Any:
    """The generated package's `_runtime` module as this process imports it, or None when it cannot.

    The agent imports `from servers.<server> import <tool>` by the package's folder name from its
    `sys.path`; the module found under that name must be the one in `servers_dir`.
    """
    import importlib
    import importlib.util
    import sys

    if servers_dir is None or not (servers_dir / "_runtime.py").is_file():
        return None
    target = (servers_dir / "_runtime.py").resolve()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and module.__name__.endswith("._runtime") and Path(file).resolve() == target:
            return module
    name = servers_dir.name
    if not name.isidentifier():
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if (
        spec is None
        or spec.origin is None
        or Path(spec.origin).resolve() != (servers_dir / "__init__.py").resolve()
    ):
        return None
    try:
        return importlib.import_module(f"{name}._runtime")
    except Exception:  # a package that does not import is reported when the agent imports it
        return None


def _claim_host_calls(code_mode: CodeMode) -> Any:
    """Route the generated package's host-side calls through `code_mode` (one server process per agent)."""
    runtime = _package_runtime(code_mode.servers_dir)
    if runtime is None or not callable(getattr(runtime, "set_transport", None)):
        return None
    _claims.setdefault(runtime.__name__, []).append(code_mode)
    runtime.set_transport(code_mode.host_call)
    return runtime


def _release_host_calls(code_mode: CodeMode) -> None:
    runtime = code_mode._host_runtime
    if runtime is None:
        return
    code_mode._host_runtime = None
    claims = _claims.get(runtime.__name__, [])
    if code_mode in claims:
        claims.remove(code_mode)
    live = [c for c in claims if not c._closed]
    runtime.set_transport(live[-1].host_call if live else None)
