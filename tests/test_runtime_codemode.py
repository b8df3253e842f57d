"""CodeMode end to end: a real MCPServer, the package `cfmigrate generate` writes for it, the sandbox, the bridge."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cfmigrate.analyzers.tokens import BpeTokenizer
from cfmigrate.runtime import CodeMode, CodeModeError, Limits, Policy, ToolCall, ToolUseResult

SERVER_TOKEN = "srv-canary-7f3a9c"  # the demo server's secret: lives in the host and the server only
HOST_CANARY = "host-canary-51d0e2"

DEMO_SERVER = '''
"""Demo MCP server for the runtime tests."""
import os
from pathlib import Path

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("demo")
DATA = Path(os.environ["DEMO_DATA"])
READ_ONLY = ToolAnnotations(readOnlyHint=True)


@server.tool(annotations=READ_ONLY)
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool(annotations=READ_ONLY)
def token_length() -> str:
    """How long the server's access token is (proves the host passed it)."""
    return str(len(os.environ.get("DEMO_TOKEN", "")))


@server.tool(annotations=READ_ONLY)
def get_contact(name: str) -> str:
    """A contact card with an email address and a phone number."""
    return f"{name}: dana.whitfield@acme-logistics.example, +1 415 555 0134"


@server.tool(annotations=ToolAnnotations(destructiveHint=False))
def save_note(text: str) -> str:
    """Append a note to the server's notes file."""
    with open(DATA / "notes.txt", "a") as fh:
        fh.write(text + "\\n")
    return f"saved {len(text)} chars"


@server.tool(annotations=READ_ONLY)
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ValueError(reason)


@server.tool(annotations=ToolAnnotations(destructiveHint=True, readOnlyHint=False))
def delete_notes(confirm: bool) -> str:
    """Delete every note."""
    (DATA / "notes.txt").unlink(missing_ok=True)
    return "deleted"


if __name__ == "__main__":
    server.run()
'''


def make_demo_repo(root: Path) -> Path:
    """A repository with the demo server, its MCP config and the generated `servers/` package."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "demo_server.py").write_text(DEMO_SERVER)
    (root / "data").mkdir(exist_ok=True)
    config = {
        "mcpServers": {
            "demo": {
                "command": sys.executable,
                "args": ["demo_server.py"],
                "env": {"DEMO_TOKEN": "${DEMO_TOKEN}", "DEMO_DATA": "${DEMO_DATA}"},
            }
        }
    }
    (root / ".mcp.json").write_text(json.dumps(config, indent=2))
    generate_package(root)
    return root


def generate_package(root: Path) -> Path:
    """What `cfmigrate generate --refresh` does (its API): list the tools live, then write servers/."""
    from cfmigrate.generators.api import GenerateOptions, generate, refresh

    options = GenerateOptions(root=root)
    problems = [p for p in refresh(options) if p.level == "error"]
    assert not problems, problems
    outcome = generate(options)
    servers = root / "servers"
    assert (servers / "_runtime.py").is_file() and (servers / "_servers.json").is_file(), outcome.problems
    return servers


@pytest.fixture(scope="module")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("demo-repo")
    saved = {k: os.environ.get(k) for k in ("DEMO_TOKEN", "DEMO_DATA", "CFM_HOST_CANARY")}
    os.environ.update(DEMO_TOKEN=SERVER_TOKEN, DEMO_DATA=str(root / "data"), CFM_HOST_CANARY=HOST_CANARY)
    try:
        yield make_demo_repo(root)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def code_mode(repo: Path, **kwargs: Any) -> CodeMode:
    kwargs.setdefault("limits", Limits(timeout_s=20))
    return CodeMode(servers_dir=repo / "servers", config=repo / ".mcp.json", **kwargs)


async def run(cm: CodeMode, code: str) -> ToolUseResult:
    return await asyncio.wait_for(cm.handle_tool_use("execute_code", {"code": code}), 60)


# ---------------------------------------------------------------------------------------------


def test_tool_definitions_and_prompt(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    async def scenario() -> None:
        async with code_mode(demo_repo) as cm:
            anthropic = cm.tool_definitions("anthropic")
            openai = cm.tool_definitions("openai")
            assert [t["name"] for t in anthropic] == ["execute_code"]
            assert anthropic[0]["input_schema"]["required"] == ["code"]
            assert openai[0]["type"] == "function" and openai[0]["function"]["name"] == "execute_code"
            assert openai[0]["function"]["parameters"] == anthropic[0]["input_schema"]
            responses = cm.tool_definitions("openai-responses")  # the Responses API's flat function tools
            assert responses == [{"type": "function", **openai[0]["function"]}]
            prompt = cm.system_prompt()
            for needle in ("search_tools", "servers/", "workspace/", "skills/", "print", "demo"):
                assert needle in prompt
            tokens, label = cm.context_tokens("anthropic", BpeTokenizer("o200k_base"))
            assert tokens < 600 and label == "estimate, o200k_base"
            with pytest.raises(CodeModeError):
                cm.tool_definitions("gemini")  # type: ignore[arg-type]

    loop.run_until_complete(scenario())


def test_prompt_stays_small_with_many_servers(
    loop: asyncio.AbstractEventLoop, demo_repo: Path, tmp_path: Path
) -> None:
    servers = tmp_path / "servers"
    shutil.copytree(demo_repo / "servers", servers)
    specs = json.loads((servers / "_servers.json").read_text())
    for i in range(60):  # 60 servers x 40 tools each would be ~1M tokens of schemas in direct mode
        name = f"extra_server_{i:02d}"
        (servers / name).mkdir()
        (servers / name / "__init__.py").write_text('"""placeholder"""\n')
        for t in range(40):
            (servers / name / f"tool_{t}.py").write_text("")
        specs["servers"][name] = dict(specs["servers"]["demo"], name=name)
    (servers / "_servers.json").write_text(json.dumps(specs))

    async def scenario() -> None:
        async with CodeMode(servers_dir=servers, config=None) as cm:
            tok = BpeTokenizer("o200k_base")
            prompt = cm.system_prompt()
            assert "61 servers" in prompt and "extra_server_07" not in prompt
            total = tok.count(prompt) + tok.count(json.dumps(cm.tool_definitions()[0], separators=(",", ":")))
            assert total < 600, total

    loop.run_until_complete(scenario())


def test_code_calls_tools_through_the_generated_wrappers(
    loop: asyncio.AbstractEventLoop, demo_repo: Path
) -> None:
    async def scenario() -> None:
        async with code_mode(demo_repo) as cm:
            result = await run(
                cm,
                "from servers.demo import echo, token_length\n"
                "r = await echo(text='over the bridge')\n"
                "print(r.text, '|', r.content[0].text, '|', (await token_length()).text)\n",
            )
            assert not result.is_error and not result.isError, result.text
            assert result.text == f"over the bridge | over the bridge | {len(SERVER_TOKEN)}"
            assert result.content[0].text == result.text and result.structured_content == {
                "output": result.text
            }
            assert result.to_anthropic("toolu_1") == {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": result.text,
                "is_error": False,
            }
            assert result.to_openai("call_1")["content"] == result.text
            assert result.to_openai_responses("call_2") == {
                "type": "function_call_output",
                "call_id": "call_2",
                "output": result.text,
            }
            sync = await run(cm, "from servers.demo import echo_sync\nprint(echo_sync(text='blocking').text)")
            assert sync.text == "blocking", sync.text
            search = await run(
                cm,
                "from servers import search_tools\nprint(search_tools('contact email', detail='name'))\n"
                "print(open('servers/demo/__init__.py').read())",
            )
            assert "get_contact" in search.text and not search.is_error

    loop.run_until_complete(scenario())


def test_errors_come_back_as_short_tracebacks(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    async def scenario() -> None:
        async with code_mode(demo_repo) as cm:
            failed = await run(cm, "from servers.demo import fail\nawait fail(reason='upstream said no')\n")
            assert failed.is_error
            assert "ToolError" in failed.text and "upstream said no" in failed.text
            assert 'File "<cell>", line 2' in failed.text
            assert failed.text.count("\n") < 15
            invalid = await run(
                cm, "from servers.demo import echo\nawait echo(text=['not', 'a', 'string'])\n"
            )
            assert invalid.is_error and "invalid arguments" in invalid.text
            syntax = await run(cm, "print('unclosed'\n")
            assert syntax.is_error and syntax.text.startswith("[error]\nSyntaxError")
            empty = await cm.handle_tool_use("execute_code", {"code": "   "})
            assert empty.is_error and "nothing was run" in empty.text
            unknown = await cm.handle_tool_use("echo", {"text": "x"})
            assert unknown.is_error and "unknown tool 'echo'" in unknown.text

    loop.run_until_complete(scenario())


def test_workspace_persists_and_skills_import(
    loop: asyncio.AbstractEventLoop, demo_repo: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with code_mode(demo_repo, work_dir=tmp_path / "work") as cm:
            first = await run(
                cm,
                "import json\n"
                "json.dump({'runs': 1}, open('workspace/state.json', 'w'))\n"
                "open('skills/shout.py', 'w').write('def shout(s):\\n    return s.upper() + \"!\"\\n')\n"
                "print('saved')",
            )
            assert first.text == "saved", first.text
            second = await run(
                cm,
                "import json\nfrom skills.shout import shout\n"
                "state = json.load(open('workspace/state.json'))\nprint(shout('runs'), state['runs'])",
            )
            assert second.text == "RUNS! 1", second.text
        assert (tmp_path / "work" / "workspace" / "state.json").is_file()
        assert (demo_repo / ".cfmigrate" / "audit.jsonl").is_file()  # the default: beside the package

    loop.run_until_complete(scenario())


def test_hybrid_keeps_a_direct_tool(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    async def scenario() -> None:
        async with code_mode(demo_repo, keep_direct=("demo/echo",)) as cm:
            tools = cm.tool_definitions("anthropic")
            assert [t["name"] for t in tools] == ["execute_code", "echo"]
            assert tools[1]["input_schema"]["properties"]["text"]["type"] == "string"
            assert cm.tool_definitions("openai")[1]["function"]["name"] == "echo"
            assert "Also callable directly as tools: echo" in cm.system_prompt()
            direct = await cm.handle_tool_use("echo", {"text": "direct call"})
            assert direct.text == "direct call" and not direct.is_error
            assert direct.structured_content == {"result": "direct call"}
        with pytest.raises(CodeModeError, match="no tool 'nope'"):
            async with code_mode(demo_repo, keep_direct=("nope",)):
                pass

    loop.run_until_complete(scenario())


def test_list_tools_gives_what_the_servers_own_session_lists(
    loop: asyncio.AbstractEventLoop, demo_repo: Path
) -> None:
    """`list_tools(server)` (a migrated connect-time listing): the server's tools, in its order, from CodeMode's
    own session; by config name or package id; an unknown name is refused with the known ones."""
    from mcp.types import ListToolsResult

    async def scenario() -> None:
        cm = code_mode(demo_repo)  # not entered: it opens on first use, as in a class's __init__
        try:
            listed = await cm.list_tools("demo")
            assert isinstance(listed, ListToolsResult)
            names = [t.name for t in listed.tools]
            assert names[:3] == ["echo", "token_length", "get_contact"] and "delete_notes" in names
            assert listed.tools[0].input_schema["properties"]["text"]["type"] == "string"
            with pytest.raises(CodeModeError, match=r"unknown server 'kb' \(servers: demo\)"):
                await cm.list_tools("kb")
            echoed = await cm.handle_tool_use("execute_code", {"code": "print('still one session')"})
            assert echoed.text.strip() == "still one session"
        finally:
            await cm.aclose()

    loop.run_until_complete(scenario())


def test_policy_asks_before_destructive_tools(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    asked: list[ToolCall] = []
    code = "from servers.demo import delete_notes\nprint((await delete_notes(confirm=True)).text)"

    async def approve(call: ToolCall) -> bool:
        asked.append(call)
        return True

    async def scenario() -> None:
        async with code_mode(demo_repo) as cm:
            denied = await run(cm, code)
            assert denied.is_error
            assert "marked destructive" in denied.text and "no approver" in denied.text
        async with code_mode(demo_repo, approve=approve) as cm:
            allowed = await run(cm, code)
            assert allowed.text == "deleted", allowed.text
            assert (
                asked
                and asked[0].server == "demo"
                and asked[0].tool == "delete_notes"
                and asked[0].destructive
            )
            assert asked[0].arguments == {"confirm": True}
        async with code_mode(demo_repo, approve=lambda call: False) as cm:
            declined = await run(cm, code)
            assert declined.is_error and "declined" in declined.text
        async with code_mode(
            demo_repo, policy=Policy(rules={"demo/echo": "deny", "demo/delete_*": "allow"})
        ) as cm:
            blocked = await run(cm, "from servers.demo import echo\nawait echo(text='x')")
            assert blocked.is_error and "policy denies demo/echo" in blocked.text
            assert (await run(cm, code)).text == "deleted"

    loop.run_until_complete(scenario())


def test_secrets_never_reach_the_sandbox_or_the_log(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    snoop = (
        "import os\n"
        "from servers.demo import token_length\n"
        "print('length', (await token_length()).text)\n"
        "print(dict(os.environ))\n"
        "for root in ('/proc', '/root', '/etc'):\n"
        "    try:\n"
        "        print(root, sorted(os.listdir(root))[:20])\n"
        "    except OSError as exc:\n"
        "        print(root, 'refused', exc.strerror)\n"
        "print(open('servers/_servers.json').read())\n"
    )

    async def scenario() -> None:
        async with code_mode(demo_repo, log_payloads=True) as cm:
            result = await run(cm, snoop)
            assert not result.is_error, result.text
            assert f"length {len(SERVER_TOKEN)}" in result.text  # the server did get its token
            assert SERVER_TOKEN not in result.text and HOST_CANARY not in result.text
            assert "DEMO_TOKEN" in result.text  # the package carries the name, never the value
            log = Path(cm.audit.path).read_text()  # type: ignore[union-attr, arg-type]
            assert SERVER_TOKEN not in log and HOST_CANARY not in log

    loop.run_until_complete(scenario())


def test_audit_log_records_runs_and_calls_without_payloads(
    loop: asyncio.AbstractEventLoop, demo_repo: Path
) -> None:
    code = "from servers.demo import echo, fail\nawait echo(text='PAYLOAD-123')\nawait fail(reason='nope')\n"

    def lines(cm: CodeMode) -> list[dict[str, Any]]:
        assert cm.audit is not None and cm.audit.path is not None
        records = [json.loads(line) for line in cm.audit.path.read_text().splitlines()]
        return [r for r in records if r["session"] == cm.audit.session]

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with code_mode(demo_repo) as cm:
            await run(cm, code)
            plain = lines(cm)
        async with code_mode(demo_repo, log_payloads=True) as cm:
            await run(cm, code)
            full = lines(cm)
        return plain, full

    plain, full = loop.run_until_complete(scenario())
    calls = [r for r in plain if r["event"] == "tool_call"]
    runs = [r for r in plain if r["event"] == "execution"]
    assert [(c["server"], c["tool"], c["outcome"]) for c in calls] == [
        ("demo", "echo", "ok"),
        ("demo", "fail", "tool_error"),
    ]
    assert len(runs) == 1 and runs[0]["outcome"] == "error" and runs[0]["tool_calls"] == 2
    assert {c["script_sha256"] for c in calls} == {runs[0]["script_sha256"]}
    assert all({"time", "duration_ms", "session"} <= set(r) for r in plain)
    assert "PAYLOAD-123" not in json.dumps(plain) and "script" not in runs[0]
    assert "PAYLOAD-123" in json.dumps(full)
    assert next(r for r in full if r["event"] == "execution")["script"] == code


def test_pii_is_masked_for_the_model_and_restored_for_tools(
    loop: asyncio.AbstractEventLoop, demo_repo: Path
) -> None:
    notes = demo_repo / "data" / "notes.txt"
    notes.unlink(missing_ok=True)

    async def scenario() -> None:
        async with code_mode(demo_repo, mask_pii=True) as cm:
            seen = await run(
                cm, "from servers.demo import get_contact\nprint((await get_contact(name='Dana')).text)"
            )
            assert seen.text == "Dana: [EMAIL_1], [PHONE_1]", seen.text
            assert "Emails and phone numbers appear as placeholders" in cm.system_prompt()
            saved = await run(
                cm,
                "from servers.demo import save_note\nprint((await save_note(text='call [PHONE_1] or mail [EMAIL_1]')).text)",
            )
            assert not saved.is_error, saved.text
        async with code_mode(demo_repo) as cm:
            plain = await run(
                cm, "from servers.demo import get_contact\nprint((await get_contact(name='Dana')).text)"
            )
            assert "dana.whitfield@acme-logistics.example" in plain.text  # masking is off by default

    loop.run_until_complete(scenario())
    assert notes.read_text() == "call +1 415 555 0134 or mail dana.whitfield@acme-logistics.example\n"


def test_bridge_refuses_bad_requests(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    raw_client = (
        "import json, os, socket\n"
        "c = socket.socket(fileno=int(os.environ['CFMIGRATE_BRIDGE_FD']))\n"
        "c.send(b'connect')\n"
        "s = socket.socket(fileno=socket.recv_fds(c, 64, 1)[1][0])\n"
        "f = s.makefile('rwb')\n"
        "for line in [b'not json', json.dumps({'id': 2, 'server': 'nope', 'tool': 'x', 'arguments': {}}).encode(),\n"
        "             json.dumps({'id': 3, 'server': 'demo', 'tool': 'echo', 'arguments': [1]}).encode(),\n"
        "             json.dumps({'id': 4, 'server': 'demo', 'tool': 'echo', 'arguments': {'text': 'raw'}}).encode()]:\n"
        "    f.write(line + b'\\n'); f.flush()\n"
        "    print(f.readline().decode().strip())\n"
    )

    async def scenario() -> None:
        async with code_mode(demo_repo) as cm:
            result = await run(cm, raw_client)
            replies = [json.loads(line) for line in result.text.splitlines()]
            assert [r["ok"] for r in replies] == [False, False, False, True]
            assert replies[0]["error"]["kind"] == "invalid"
            assert (
                replies[1]["error"]["kind"] == "invalid"
                and "unknown server 'nope'" in replies[1]["error"]["message"]
            )
            assert replies[3]["id"] == 4 and replies[3]["result"]["content"][0]["text"] == "raw"
            # outside a running script the bridge answers nobody: there is no socket file to connect to
            assert cm.session is not None and not list(cm.session.runtime_dir.rglob("*.sock"))
            assert cm._bridge is not None
            late = await cm._bridge.answer(
                b'{"id": 1, "server": "demo", "tool": "echo", "arguments": {"text": "late"}}'
            )
            assert late["ok"] is False and late["error"]["kind"] == "denied"

    loop.run_until_complete(scenario())


def test_protections_are_listed(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    async def scenario() -> None:
        async with code_mode(demo_repo) as cm:
            table = cm.protections()
            names = {p.name for p in table}
            assert {
                "network blocked",
                "credentials stay in the host",
                "writes confined to the work dir",
            } <= names
            assert next(p for p in table if p.name == "credentials stay in the host").enforced

    loop.run_until_complete(scenario())
    unopened = code_mode(demo_repo).protections()  # before opening: a probe of this machine
    assert any(p.name == "memory" and p.enforced for p in unopened)


def test_concurrent_calls_and_json_string_arguments(loop: asyncio.AbstractEventLoop, demo_repo: Path) -> None:
    async def scenario() -> None:
        async with code_mode(demo_repo) as cm:
            scripts = [
                f"from servers.demo import echo\nimport asyncio\nawait asyncio.sleep(0.05)\nprint((await echo(text='run {i}')).text)"
                for i in range(4)
            ]
            results = await asyncio.gather(*(run(cm, s) for s in scripts))
            assert [r.text for r in results] == [f"run {i}" for i in range(4)]
            as_json = await cm.handle_tool_use("execute_code", json.dumps({"code": "print(6 * 7)"}))
            assert as_json.text == "42"
            assert cm.audit is not None and cm.audit.path is not None
            calls = [
                json.loads(line)
                for line in cm.audit.path.read_text().splitlines()
                if f'"session": "{cm.audit.session}"' in line and '"tool_call"' in line
            ]
            assert len(calls) == 4 and all(c["outcome"] == "ok" for c in calls)

    loop.run_until_complete(scenario())


def test_setup_errors_name_the_path(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with CodeMode(servers_dir=tmp_path / "missing", config=None):
            pass

    with pytest.raises(CodeModeError, match="run `cfmigrate generate`"):
        asyncio.run(scenario())


def test_sandbox_cannot_reach_a_tcp_listener_even_with_tools(
    loop: asyncio.AbstractEventLoop, demo_repo: Path
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def scenario() -> ToolUseResult:
        async with code_mode(demo_repo) as cm:
            return await run(
                cm,
                "import socket\nfrom servers.demo import echo\nprint((await echo(text='bridge ok')).text)\n"
                f"socket.create_connection(('127.0.0.1', {port}), timeout=2)\n",
            )

    try:
        result = loop.run_until_complete(scenario())
    finally:
        listener.close()
    assert result.is_error and result.text.startswith("bridge ok") and "no network" in result.text
