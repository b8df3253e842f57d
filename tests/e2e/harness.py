"""End-to-end harness: run an agent repository, migrate a copy with the CLI, run the copy, compare.

Layout: one repository per folder under `tests/e2e/agents/<name>/` with a `case.json`:

    {"run": ["agent.py", "{task}"],        # argv after the interpreter; {task} is the scenario's task
     "scenario": "triage",                 # a key of SCENARIOS
     "state": ["data/helpdesk.json"],      # files the servers write, relative to the repository
     "host_ticket": "Printer on floor 3 jams",  # what the host creates before the model's first turn
     "expect": "migrated"}                 # or "manual": files byte-identical, `reason` in the report

The model is scripted (tests/support/scripted_api.py on 127.0.0.1) and provider-neutral here: a
*brain* reads a `View` (system prompt, offered tools, task, earlier tool exchanges, max_tokens) and
returns the next `Turn`. `DirectBrain` calls the offered MCP tools by the names it sees; `CodeBrain`
first prints `servers.search_tools(...)`, then writes one script per step against the functions that
listing showed. Both walk the same `Scenario` and record what they observed, so a test can assert the
model saw the same data (the host's ticket included) before and after the migration.
Adapters turn a wire request into a `View` (`anthropic_view`; OpenAI shapes can add their own).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from support.scripted_api import (
    PolicyError,
    ScriptedAPI,
    ToolCall,
    Turn,
    exchanges,
    user_task,
)
from support.scripted_openai import ScriptedOpenAI

from cfmigrate.analyzers.naming import to_field_name, to_identifier

E2E = Path(__file__).resolve().parent
AGENTS = E2E / "agents"
BIN = Path(sys.executable).parent
CFMIGRATE = str(BIN / "cfmigrate")
API_KEY = "sk-ant-e2e-secret-5b1d"
AGENT_TIMEOUT = 120


# ---------------------------------------------------------------------------------------------- the model's view


@dataclass(frozen=True)
class Exchange:
    """One earlier tool call and the text the client sent back (None: not answered)."""

    name: str
    input: Mapping[str, Any]
    result: str | None
    is_error: bool = False


@dataclass(frozen=True)
class View:
    """What a model sees in one request, whatever the provider's wire shape."""

    system: str
    tools: tuple[Mapping[str, Any], ...]  # {"name", "description", "schema"}
    task: str
    exchanges: tuple[Exchange, ...]
    max_tokens: int

    def tool_names(self) -> list[str]:
        return [str(t["name"]) for t in self.tools]


def anthropic_view(request: Mapping[str, Any]) -> View:
    """A Messages API request body as a `View`."""
    system = request.get("system") or ""
    if isinstance(system, list):
        system = "".join(str(b.get("text", "")) for b in system if isinstance(b, Mapping))
    tools = tuple(
        {
            "name": t.get("name"),
            "description": t.get("description", ""),
            "schema": t.get("input_schema") or {},
        }
        for t in request.get("tools") or []
    )
    return View(
        system=str(system),
        tools=tools,
        task=user_task(request),
        exchanges=tuple(Exchange(e.name, e.input, e.result, e.is_error) for e in exchanges(request)),
        max_tokens=int(request.get("max_tokens") or 0),
    )


class Brain(Protocol):
    def respond(self, view: View) -> Turn: ...


@dataclass
class AnthropicPolicy:
    """A `scripted_api.Policy` (Messages API) driven by a provider-neutral brain."""

    brain: Brain

    def respond(self, request: Mapping[str, Any]) -> Turn:
        return self.brain.respond(anthropic_view(request))


# ---------------------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Step:
    """The next tool call a scenario wants: wire tool name and wire arguments."""

    tool: str
    arguments: Mapping[str, Any]


class Scenario(Protocol):
    task: str

    def next_step(self, seen: Sequence[tuple[str, Any]]) -> Step | None: ...

    def answer(self, seen: Sequence[tuple[str, Any]]) -> str: ...


def next_steps(scenario: Scenario, seen: Sequence[tuple[str, Any]]) -> list[Step]:
    """The steps a model can take in one turn: each one whose arguments do not depend on the others' results.

    A scenario may say so with `next_steps(seen)`; otherwise one step per turn.
    """
    batch = getattr(scenario, "next_steps", None)
    if callable(batch):
        return list(batch(seen))
    step = scenario.next_step(seen)
    return [] if step is None else [step]


@dataclass(frozen=True)
class Triage:
    """Triage the newest open ticket: comment, raise its priority (and, with `kb`, write an article)."""

    kb: bool = False
    task: str = (
        "Triage the newest open helpdesk ticket: acknowledge it with a comment and raise its priority."
    )

    def next_step(self, seen: Sequence[tuple[str, Any]]) -> Step | None:
        done = [tool for tool, _ in seen]
        if "list_tickets" not in done:
            return Step("list_tickets", {"status": "open"})
        tickets = dict(seen)["list_tickets"]["tickets"]
        if not tickets:
            raise PolicyError("no open ticket to triage (the host's ticket is not visible)")
        ticket = tickets[-1]
        if "add_comment" not in done:
            return Step(
                "add_comment", {"ticket_id": ticket["id"], "text": f"Looking into: {ticket['title']}"}
            )
        if "set_priority" not in done:
            return Step("set_priority", {"ticket_id": ticket["id"], "priority": "high"})
        if self.kb and "write_article" not in done:
            return Step(
                "write_article", {"title": f"Known issue: {ticket['title']}", "body": "Workaround pending."}
            )
        return None

    def next_steps(self, seen: Sequence[tuple[str, Any]]) -> list[Step]:
        """After the listing, the comment, the priority (and the article) go together: one turn, one script."""
        steps: list[Step] = []
        done = list(seen)
        while (step := self.next_step(done)) is not None:
            steps.append(step)
            if step.tool == "list_tickets":
                break
            done.append((step.tool, None))
        return steps

    def answer(self, seen: Sequence[tuple[str, Any]]) -> str:
        final = dict(seen)["set_priority"]
        extra = f"; article {dict(seen)['write_article']['id']} drafted" if self.kb else ""
        return f"TRIAGED {final['id']} ({final['title']}) priority={final['priority']}{extra}"


SCENARIOS: dict[str, Scenario] = {
    "triage": Triage(),
    "triage-kb": Triage(
        kb=True,
        task="Triage the newest open helpdesk ticket: acknowledge it, raise its priority and draft a known-issue "
        "article in the knowledge base.",
    ),
}


def _blocks_text(data: Any) -> str | None:
    """The text of a JSON list of MCP content blocks (a loop that forwards `[b.model_dump() ...]` as JSON)."""
    if (
        isinstance(data, list)
        and data
        and all(isinstance(b, Mapping) and b.get("type") == "text" for b in data)
    ):
        return "".join(str(b.get("text", "")) for b in data)
    return None


def _parse(text: str | None, step: str) -> Any:
    if text is None:
        raise PolicyError(f"{step}: the client sent no result")
    try:
        data = json.loads(text)
    except ValueError:
        raise PolicyError(f"{step}: the result is not JSON: {text[:300]!r}") from None
    inner = _blocks_text(data)
    return _parse(inner, step) if inner is not None else data


def _fits(turn: Turn, view: View) -> Turn:
    """Respect max_tokens the way the API does: a turn that does not fit is cut (no tool call)."""
    from cfmigrate.analyzers.tokens import BpeTokenizer

    size = BpeTokenizer("o200k_base").count(turn.text + json.dumps([c.input for c in turn.tool_calls]))
    if view.max_tokens and size > view.max_tokens:
        raise PolicyError(f"the turn needs {size} output tokens but max_tokens is {view.max_tokens}")
    return turn


# ---------------------------------------------------------------------------------------------- brains


@dataclass
class DirectBrain:
    """Calls the offered MCP tools directly, one per turn, by the names the request shows."""

    scenario: Scenario
    observed: list[tuple[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _offered(self, view: View, wire: str) -> str:
        names = view.tool_names()
        if wire in names:
            return wire
        matches = [n for n in names if re.fullmatch(rf".+?(?:__|_|-|\.){re.escape(wire)}", n)]
        if len(matches) != 1:
            raise PolicyError(
                f"the request offers no tool like {wire!r} (tools: {', '.join(names) or 'none'})"
            )
        return matches[0]

    def respond(self, view: View) -> Turn:
        seen: list[tuple[str, Any]] = []
        for e in view.exchanges:
            wire = e.name.rsplit("__", 1)[-1]
            if e.is_error:
                raise PolicyError(f"{e.name} failed: {(e.result or '')[:300]}")
            seen.append((wire, _parse(e.result, e.name)))
        with self._lock:
            self.observed[:] = seen
        steps = next_steps(self.scenario, seen)
        if not steps:
            return _fits(Turn(self.scenario.answer(seen)), view)
        calls = tuple(ToolCall(self._offered(view, step.tool), dict(step.arguments)) for step in steps)
        return _fits(Turn(f"Calling {', '.join(step.tool for step in steps)}.", calls), view)


_LISTED = re.compile(
    r"^(?P<package>\w+)\.(?P<server>\w+)\.(?P<function>\w+)\((?P<args>[^)]*)\)", re.MULTILINE
)
_MARK = "=== result "


@dataclass
class CodeBrain:
    """Writes code against `servers/`: lists the tools with search_tools, then one script per step.

    It knows only what it was shown: the code tool (the one offered tool with a `code` argument),
    the listing its first script printed, and the output of its later scripts.
    """

    scenario: Scenario
    observed: list[tuple[str, Any]] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _code_tool(self, view: View) -> str:
        names = [
            str(t["name"]) for t in view.tools if "code" in ((t.get("schema") or {}).get("properties") or {})
        ]
        if len(names) != 1:
            raise PolicyError(
                f"code mode needs one tool with a 'code' argument; offered: {view.tool_names()}"
            )
        return names[0]

    def respond(self, view: View) -> Turn:
        tool = self._code_tool(view)
        if "search_tools" not in view.system:
            raise PolicyError("the system prompt does not say how to find tools (no search_tools)")
        runs = [e for e in view.exchanges if e.name == tool]
        for run in runs:
            if run.result is None or run.is_error:
                raise PolicyError(f"{tool} failed: {(run.result or 'no result')[:1500]}")
        if not runs:
            return self._turn(
                view,
                tool,
                'from servers import search_tools\n\nprint(search_tools("", detail="description", limit=500))\n',
            )
        listing = _unwrap(runs[0].result or "")
        catalog = {m["function"]: m for m in _LISTED.finditer(listing)}
        where: dict[str, set[str]] = {}
        for m in _LISTED.finditer(listing):
            where.setdefault(m["function"], set()).add(m["server"])
        if not catalog:
            raise PolicyError(f"search_tools printed no tools: {listing[:500]!r}")
        seen: list[tuple[str, Any]] = []
        for run in runs[1:]:
            out = _unwrap(run.result or "")
            for part in out.split(_MARK)[1:]:
                head, _, body = part.partition("\n")
                seen.append((head.strip(), _parse(body, head)))
            if not out.startswith(_MARK):
                raise PolicyError(f"script output without its marker: {out[:300]!r}")
        with self._lock:
            self.observed[:] = seen
        steps = next_steps(self.scenario, seen)
        if not steps:
            return _fits(Turn(self.scenario.answer(seen)), view)
        imports: list[str] = []
        body: list[str] = []
        for step in steps:
            shown = catalog.get(to_identifier(step.tool))
            if shown is None:
                raise PolicyError(f"the listing shows no function for {step.tool!r}: {sorted(catalog)}")
            if len(where[shown["function"]]) > 1:  # the model cannot tell which server the task means
                raise PolicyError(
                    f"the listing shows {shown['function']} on several servers: {sorted(where[shown['function']])}"
                )
            # the listing's typed signature: `name: type = default, ...` (a name is what precedes its colon)
            params = set(re.findall(r"(?:^|,)\s*([A-Za-z_]\w*)\s*:", shown["args"]))
            kwargs = []
            for wire, value in step.arguments.items():
                name = to_field_name(wire)
                if name not in params:
                    raise PolicyError(
                        f"{shown['function']} shows no argument {name!r} (shown: {sorted(params)})"
                    )
                kwargs.append(f"{name}={value!r}")
            imports.append(f"from {shown['package']}.{shown['server']} import {shown['function']}\n")
            body.append(
                f"result = await {shown['function']}({', '.join(kwargs)})\n"
                f"print({_MARK + step.tool!r})\n"
                "print(result.text)\n"
            )
        return self._turn(view, tool, "".join(sorted(set(imports))) + "\n" + "".join(body))

    def _turn(self, view: View, tool: str, code: str) -> Turn:
        with self._lock:
            self.scripts.append(code)
        return _fits(Turn("Running a script.", (ToolCall(tool, {"code": code}),)), view)


def _unwrap(text: str) -> str:
    """Script output, whether the loop forwarded the text or a JSON dump of the structured content."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, Mapping) and isinstance(data.get("output"), str):
        return str(data["output"])
    inner = _blocks_text(data)
    return _unwrap(inner) if inner is not None else text


# ---------------------------------------------------------------------------------------------- cases and runs


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    run: tuple[str, ...]
    scenario: str
    state: tuple[str, ...]
    host_ticket: str
    expect: str  # "migrated" or "manual"
    reason: str = ""  # for "manual": words the report must contain
    env: Mapping[str, str] = field(default_factory=dict)
    pending: str = ""  # a known gap in cfmigrate this case still shows (the test is an expected failure)
    provider: str = "anthropic"  # the model API: "anthropic" or "openai" (Chat Completions and Responses)
    not_run: str = ""  # why the agent cannot run here (a library that cannot be installed)
    local_tools: tuple[str, ...] = ()  # the agent's own (non-MCP) tools: still offered beside the code tool
    # a regex: the lines of the agent's output it matches are the same after the migration
    same_lines: str = ""
    serve: tuple[
        str, ...
    ] = ()  # argv of a server that runs on its own (streamable HTTP), started around each run
    serve_env: Mapping[str, str] = field(default_factory=dict)
    port: int = (
        0  # the port the repository's files name (`127.0.0.1:<port>`): a free one replaces it in the copy
    )

    @classmethod
    def load(cls, folder: Path) -> Case:
        data = json.loads((folder / "case.json").read_text(encoding="utf-8"))
        return cls(
            name=folder.name,
            path=folder,
            run=tuple(data["run"]),
            scenario=data.get("scenario", "triage"),
            state=tuple(data.get("state", ())),
            host_ticket=data.get("host_ticket", ""),
            expect=data.get("expect", "migrated"),
            reason=data.get("reason", ""),
            env=data.get("env", {}),
            pending=data.get("pending", ""),
            provider=data.get("provider", "anthropic"),
            not_run=data.get("not_run", ""),
            local_tools=tuple(data.get("local_tools", ())),
            same_lines=data.get("same_lines", ""),
            serve=tuple(data.get("serve", ())),
            serve_env=data.get("serve_env", {}),
            port=int(data.get("port", 0)),
        )


def cases() -> list[Case]:
    return [Case.load(p) for p in sorted(AGENTS.iterdir()) if (p / "case.json").is_file()]


@dataclass(frozen=True)
class Run:
    """One agent run: its output, the requests the model got, what it observed, the servers' state after."""

    returncode: int
    stdout: str
    stderr: str
    requests: list[Mapping[str, Any]]
    observed: list[tuple[str, Any]]
    state: dict[str, Any]
    scripts: list[str]
    launches: dict[str, int] = field(default_factory=dict)  # server name -> processes started in the run


def copy_repo(case: Case, dest: Path) -> Path:
    """The case's repository copied to `dest`, symlinks resolved, as a fresh git repository with one commit."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(case.path, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "case.json"))
    if case.port:  # the server's address as the repository writes it, moved to a port free on this machine
        port = _free_port()
        for path in sorted(dest.rglob("*")):
            if path.is_file() and not path.is_symlink() and path.suffix in (".py", ".json", ".toml"):
                text = path.read_text(encoding="utf-8")
                if f"127.0.0.1:{case.port}" in text:
                    path.write_text(
                        text.replace(f"127.0.0.1:{case.port}", f"127.0.0.1:{port}"), encoding="utf-8"
                    )
        (dest / PORT_FILE).write_text(str(port), encoding="utf-8")
    git = ["git", "-C", str(dest), "-c", "user.email=e2e@example.com", "-c", "user.name=e2e"]
    subprocess.run([*git, "init", "-q"], check=True)
    exclude = dest / ".git" / "info" / "exclude"  # the servers' state files are data, not source
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text(
        "".join(f"/{rel}\n" for rel in case.state) + "*.tmp\n" + f"{LAUNCH_LOG}\n/{PORT_FILE}\n",
        encoding="utf-8",
    )
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "agent"], check=True)
    return dest


def agent_env(api: ScriptedAPI | ScriptedOpenAI, extra: Mapping[str, str] = {}) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "CFMIGRATE_"))}
    env.update(PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", PYTHONDONTWRITEBYTECODE="1")
    if isinstance(api, ScriptedOpenAI):  # the SDKs' variables, and the LLM_* ones of OpenAI-compatible loops
        env.update(
            OPENAI_BASE_URL=api.url,
            OPENAI_API_KEY=API_KEY,
            LLM_BASE_URL=api.url,
            LLM_API_KEY=API_KEY,
            OPENAI_AGENTS_DISABLE_TRACING="1",
        )
    else:
        env.update(ANTHROPIC_BASE_URL=api.url, ANTHROPIC_API_KEY=API_KEY)
    env.update(extra)
    return env


def model_server(case: Case, brain: Brain) -> ScriptedAPI | ScriptedOpenAI:
    """The scripted model API the case's agent talks to, driven by `brain`."""
    if case.provider == "openai":
        from e2e.openai_wire import OpenAIPolicy

        return ScriptedOpenAI(OpenAIPolicy(brain), api_keys={API_KEY})
    return ScriptedAPI(AnthropicPolicy(brain), api_keys={API_KEY})


def offered_tools(request: Mapping[str, Any]) -> list[str]:
    """Names of the tools a model request offered, in any of the three wire shapes."""
    names = []
    for tool in request.get("tools") or []:
        fn = tool.get("function") if isinstance(tool.get("function"), Mapping) else tool
        names.append(str(fn.get("name")))
    return names


# ---------------------------------------------------------------------------------------------- server starts

LAUNCH_LOG = "launches.log"  # the in-repo servers append "<name> <pid>" beside their own file at start-up


def take_launches(repo: Path) -> dict[str, int]:
    """How many processes of each in-repo server started since the last call (the logs are removed)."""
    counts: dict[str, int] = {}
    for log in sorted(repo.rglob(LAUNCH_LOG)):
        if log.relative_to(repo).parts[0] in (".git", "servers"):
            continue
        for line in log.read_text(encoding="utf-8").splitlines():
            name = line.split(" ", 1)[0]
            if name:
                counts[name] = counts.get(name, 0) + 1
        log.unlink()
    return counts


PORT_FILE = ".e2e-port"  # the port a served case's copy uses (see `copy_repo`)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(case: Case, repo: Path) -> Iterator[None]:
    """The case's own server process (streamable HTTP) running for the duration, fresh each time."""
    if not case.serve:
        yield
        return
    port = int((repo / PORT_FILE).read_text(encoding="utf-8"))
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "MCP_PORT": str(port), **case.serve_env}
    process = subprocess.Popen(
        [sys.executable, *case.serve], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise AssertionError(f"{case.name}: the server did not listen on port {port}:\n{err[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def run_agent(case: Case, repo: Path, brain: DirectBrain | CodeBrain) -> Run:
    """Run the agent in `repo` against a scripted model driven by `brain`."""
    for rel in case.state:  # a fresh start: the host creates the state the model then reads
        (repo / rel).unlink(missing_ok=True)
    take_launches(repo)  # starts before this run (a migration listing the tools) do not count
    scenario = SCENARIOS[case.scenario]
    argv = [a.replace("{task}", scenario.task) for a in case.run]
    with served(case, repo), model_server(case, brain) as api:
        done = subprocess.run(
            [sys.executable, *argv],
            cwd=repo,
            env=agent_env(api, case.env),
            capture_output=True,
            text=True,
            timeout=AGENT_TIMEOUT,
            check=False,
        )
        records = api.message_records()
    errors = [r.error for r in records if r.error]
    state = {}
    for rel in case.state:
        path = repo / rel
        state[rel] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    run = Run(
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        requests=[r.request or {} for r in records],
        observed=list(brain.observed),
        state=state,
        scripts=list(getattr(brain, "scripts", [])),
        launches=take_launches(repo),
    )
    if errors or done.returncode != 0:
        raise AssertionError(
            f"{case.name}: the agent failed (exit {done.returncode}); model errors: {errors}\n"
            f"stdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-5000:]}"
        )
    return run


@dataclass(frozen=True)
class Migration:
    returncode: int
    stdout: str
    stderr: str
    before: dict[str, bytes]
    after: dict[str, bytes]

    def changed(self) -> list[str]:
        return sorted(p for p in self.before if self.after.get(p) != self.before[p])


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every tracked-looking file's bytes (not .git, caches, the generated package or server state)."""
    out = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if (
            path.is_file()
            and not rel.startswith((".git/", "servers/", ".cfmigrate/"))
            and "__pycache__" not in rel
        ):
            out[rel] = path.read_bytes()
    return out


def cfmigrate(
    repo: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI, run in the repository."""
    return subprocess.run(
        [CFMIGRATE, *args],
        cwd=repo,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def migrate(repo: Path, *extra: str) -> Migration:
    """`cfmigrate migrate --write --refresh` on the repository (its servers listed live first).

    The CLI's app runs in this process (tests/support/cli.py: 2.4 CPU-s less per case than a fresh
    interpreter); the servers it lists are real processes, and `generate --check` afterwards runs the
    console script as a real process (`cfmigrate` below).
    """
    from support.cli import cfmigrate as in_process

    before = snapshot(repo)
    path = {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # `python` in the repo's configs
    done = in_process("migrate", "--write", "--refresh", "--no-diff", *extra, cwd=repo, env=path)
    return Migration(done.returncode, done.stdout, done.stderr, before, snapshot(repo))


def ruff_unused(source: bytes, rel: str) -> int:
    """How many F401 (unused import) and F841 (unused variable) findings ruff reports for a file."""
    from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

    done = subprocess.run(
        [str(find_ruff_bin()), "check", "--isolated", "--select", "F401,F841", "--output-format", "json",
         "--stdin-filename", rel, "-"],
        input=source, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return len(json.loads(done.stdout or b"[]"))


def observed_equal(direct: Run, code: Run) -> None:
    """The model observed the same data in both runs (ids, titles, results of every step)."""
    assert direct.observed, "the direct run observed nothing"
    assert code.observed == direct.observed, (
        f"the code-mode model saw different data:\n direct: {direct.observed}\n code:   {code.observed}"
    )


ANSWER = re.compile(r"TRIAGED \S+ \([^)]*\) priority=\w+[^\n]*")


def answer_in(run: Run) -> str:
    """The final answer line as printed by the agent, or ''."""
    found = ANSWER.search(run.stdout)
    return found.group(0) if found else ""


__all__ = [
    "SCENARIOS",
    "AnthropicPolicy",
    "Case",
    "CodeBrain",
    "DirectBrain",
    "Exchange",
    "Run",
    "Step",
    "Triage",
    "View",
    "anthropic_view",
    "cases",
    "copy_repo",
    "migrate",
    "run_agent",
    "served",
]
