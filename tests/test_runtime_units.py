"""Fast checks of the runtime's pure parts: policy decisions, PII masking, result shapes, launch specs, audit lines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from mcp.types import CallToolResult

from cfmigrate.runtime import ExecutionResult, Limits, PiiMasker, Policy, ToolCall, ToolUseResult
from cfmigrate.runtime._sandbox import short_traceback
from cfmigrate.runtime.audit import AuditLog
from cfmigrate.runtime.policy import resolve
from cfmigrate.runtime.sessions import SessionError, _expand, load_launch_specs


def call(tool: str, server: str = "crm", **annotations: bool) -> ToolCall:
    return ToolCall(server=server, tool=tool, arguments={}, annotations=annotations)


def test_policy_most_specific_rule_wins() -> None:
    policy = Policy(
        rules={"crm/*": "deny", "crm/find_lead": "allow", "*/delete_*": "ask", "slack/*": "allow"}
    )
    assert policy.decide(call("find_lead")) == "allow"
    assert policy.decide(call("update_lead")) == "deny"
    assert policy.decide(call("delete_lead")) == "ask"  # "*/delete_*" is longer than "crm/*"
    assert policy.decide(call("post_message", server="slack")) == "allow"
    assert policy.decide(call("get", server="drive", readOnlyHint=True)) == "allow"
    assert policy.decide(call("get", server="drive")) == "ask"  # no rule, no hint: destructive per MCP


def test_policy_destructive_hint_needs_approval_by_default() -> None:
    policy = Policy()
    assert policy.decide(call("wipe", destructiveHint=True)) == "ask"
    assert policy.decide(call("wipe", destructiveHint=True, readOnlyHint=True)) == "allow"
    assert policy.decide(call("wipe", destructiveHint=False)) == "allow"
    assert policy.decide(call("wipe")) == "ask"  # no hint given: destructive, as the MCP spec defaults it
    assert policy.decide(call("wipe", readOnlyHint=False)) == "ask"
    assert policy.decide(call("wipe", readOnlyHint=True)) == "allow"
    assert Policy(destructive="deny").decide(call("wipe", destructiveHint=True)) == "deny"
    with pytest.raises(ValueError, match="'maybe' is not one of allow, deny, ask"):
        Policy(rules={"a/b": "maybe"})  # type: ignore[dict-item]


def test_resolve_explains_refusals() -> None:
    destructive = call("wipe", destructiveHint=True)
    allowed, reason = asyncio.run(resolve(Policy(), destructive, None))
    assert not allowed and "crm/wipe is marked destructive and no approver is configured" in reason

    def boom(_: ToolCall) -> bool:
        raise RuntimeError("approver down")

    allowed, reason = asyncio.run(resolve(Policy(), destructive, boom))
    assert not allowed and "approval check failed (RuntimeError)" in reason
    allowed, _ = asyncio.run(resolve(Policy(), destructive, lambda c: c.tool == "wipe"))
    assert allowed
    allowed, reason = asyncio.run(resolve(Policy(rules={"crm/wipe": "deny"}), destructive, lambda c: True))
    assert not allowed and "denies crm/wipe" in reason


def test_pii_masking_is_stable_and_reversible() -> None:
    masker = PiiMasker()
    text = "Dana <dana@acme.example>, cc ops@acme.example, call +1 (415) 555-0134 or 020 7946 0958; dana@acme.example"
    masked = masker.mask(text)
    assert masked == "Dana <[EMAIL_1]>, cc [EMAIL_2], call [PHONE_1] or [PHONE_2]; [EMAIL_1]"
    assert masker.unmask({"to": "[EMAIL_1]", "body": ["ring [PHONE_2]", 3], "[EMAIL_2]": None}) == {
        "to": "dana@acme.example",
        "body": ["ring 020 7946 0958", 3],
        "ops@acme.example": None,
    }
    assert masker.unmask("[EMAIL_9] stays") == "[EMAIL_9] stays"
    assert len(masker) == 4


@pytest.mark.parametrize(
    "text",
    [
        "created 2025-03-14 16:00:37",
        "lead 00Q5f00001Dw7XYEAZ",
        "order 12345678",
        "version 3.4.1",
        "ts 1710432037.000100",
        "ids 1, 2, 3 and 4",
    ],
)
def test_pii_masking_leaves_non_phone_numbers_alone(text: str) -> None:
    assert PiiMasker().mask(text) == text


def test_tool_use_result_reads_like_call_tool_result() -> None:
    result = ToolUseResult.from_wire(
        {
            "content": [
                {"type": "text", "text": "a"},
                {"type": "image", "data": "AAA", "mimeType": "image/png"},
                {"type": "text", "text": "b"},
            ],
            "structuredContent": {"k": 1},
            "isError": True,
        }
    )
    assert result.content[0].text == "a" and result.text == "a\nb"
    assert result.is_error and result.isError
    assert result.structured_content == result.structuredContent == {"k": 1}
    assert result.content[1].mime_type == "image/png"
    assert result.content[1].model_dump(by_alias=True)["mimeType"] == "image/png"
    assert isinstance(result, CallToolResult)  # the installed mcp's own type: every access pattern works
    assert result.model_dump()["structured_content"] == {"k": 1}
    assert json.loads(result.model_dump_json(by_alias=True))["isError"] is True
    assert [c.model_dump()["type"] for c in result.content] == ["text", "image", "text"]
    assert ToolUseResult.from_wire({}).content[0].text == ""


def test_code_result_carries_the_output_as_text_and_structured_content() -> None:
    result = ToolUseResult.of_code("T-1 closed\n", ok=True)
    assert result.content[0].text == result.text == "T-1 closed\n"
    assert result.structured_content == result.structuredContent == {"output": "T-1 closed\n"}
    assert json.loads(json.dumps(result.structured_content))["output"] == result.text
    assert result.content[0].model_dump()["text"] == "T-1 closed\n"
    failed = ToolUseResult.of_code("Traceback ...", ok=False)
    assert failed.is_error and failed.isError and failed.model_dump()["is_error"] is True


def test_execution_result_text_marks_every_part() -> None:
    result = ExecutionResult(
        stdout="out\n",
        stderr="warn\n",
        ok=False,
        error="Traceback...\nValueError: x",
        stdout_dropped=1234,
        notes=("stopped: y",),
    )
    assert (
        result.text()
        == "out\n[stdout cut: 1,234 more bytes not shown; print a summary or a slice instead]\n[stderr]\nwarn\n[error]\nTraceback...\nValueError: x\n[stopped: y]"
    )
    assert ExecutionResult(stdout="", stderr="", ok=True).text().startswith("(the script printed nothing")


def test_limits_to_wire() -> None:
    wire = Limits(cpu_s=5, memory_mb=100, nproc=8, fsize_mb=2).to_wire()
    assert wire == {
        "cpu_seconds": 5,
        "memory_bytes": 100 << 20,
        "nproc": 8,
        "fsize_bytes": 2 << 20,
        "nofile": 256,
        "disk_bytes": 256 << 20,
    }


def test_short_traceback_keeps_the_scripts_frames() -> None:
    source = "def helper():\n    raise KeyError('lead')\n\nhelper()\n"
    import linecache

    linecache.cache["<cell>"] = (len(source), None, source.splitlines(True), "<cell>")
    try:
        exec(compile(source, "<cell>", "exec"), {})
    except KeyError as exc:
        text = short_traceback(exc, "/work", [])
    assert text.splitlines() == [
        "Traceback (most recent call last):",
        '  File "<cell>", line 4, in <module>',
        "    helper()",
        '  File "<cell>", line 2, in helper',
        "    raise KeyError('lead')",
        "KeyError: 'lead'",
    ]
    try:
        compile("x = (1,\n", "<cell>", "exec")
    except SyntaxError as exc:
        assert short_traceback(exc, "/work", []).startswith("SyntaxError: '(' was never closed (line 1)")


def test_launch_specs_from_the_package_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    servers = tmp_path / "servers"
    servers.mkdir()
    (servers / "_servers.json").write_text(
        json.dumps(
            {
                "servers": {
                    "github": {
                        "transport": "http",
                        "url": "https://api.example/mcp",
                        "headers": {"Authorization": "GH_TOKEN"},
                        "name": "github",
                    },
                    "files": {
                        "transport": "stdio",
                        "command": "npx",
                        "args": ["srv", "${workspaceFolder}"],
                        "env": ["FS_KEY"],
                        "base": "..",
                    },
                }
            }
        )
    )
    config = tmp_path / ".mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "files": {"command": "npx", "env": {"FS_KEY": "${MY_KEY}"}},
                    "extra": {"url": "https://x/mcp"},
                }
            }
        )
    )
    specs = load_launch_specs(servers, config)
    assert sorted(specs) == ["extra", "files", "github"]
    assert specs["github"].transport == "http" and specs["github"].headers == {"Authorization": "GH_TOKEN"}
    assert specs["files"].config_env == {"FS_KEY": "${MY_KEY}"} and specs["files"].base_dir == str(tmp_path)
    assert specs["extra"].transport == "http"
    assert "MY_KEY" not in repr(specs["files"])
    monkeypatch.setenv("MY_KEY", "v")
    assert (
        _expand("${env:MY_KEY}-${workspaceFolderBasename}-${MISSING:-d}", "x", tmp_path)
        == f"v-{tmp_path.name}-d"
    )
    with pytest.raises(SessionError, match="MISSING_TOO is not set"):
        _expand("${MISSING_TOO}", "server x", tmp_path)
    (servers / "_servers.json").write_text("{broken")
    with pytest.raises(SessionError, match="cannot read the launch specs"):
        load_launch_specs(servers, None)


def test_a_server_with_no_known_launch_is_not_reachable(tmp_path: Path) -> None:
    """A package server whose launch is unknown (defined in code, started by nothing) is no spec: CodeMode cannot
    start it, its prompt and its scripts' `search_tools` leave it out; a config or `launches=` entry still adds it."""
    from cfmigrate.runtime import CodeMode

    servers = tmp_path / "servers"
    for name in ("desk", "web_desk"):
        (servers / name).mkdir(parents=True)
        (servers / name / "__init__.py").write_text("")
    (servers / "__init__.py").write_text("")
    (servers / "_servers.json").write_text(
        json.dumps(
            {
                "servers": {
                    "desk": {"name": "desk", "transport": "unknown"},
                    "web_desk": {"name": "web-desk", "transport": "http", "url": "http://127.0.0.1:9/mcp"},
                }
            }
        )
    )
    assert sorted(load_launch_specs(servers, None)) == ["web_desk"]
    config = tmp_path / ".mcp.json"
    config.write_text(json.dumps({"mcpServers": {"desk": {"command": "python", "args": ["desk.py"]}}}))
    assert sorted(load_launch_specs(servers, config)) == ["desk", "web_desk"]
    assert "Servers: web_desk." in CodeMode(servers_dir=servers, config=None).system_prompt()
    launched = CodeMode(
        servers_dir=servers, config=None, launches={"desk": {"command": "python", "args": ["d.py"]}}
    )
    assert "Servers: desk, web_desk." in launched.system_prompt()


def test_search_tools_lists_only_the_servers_a_script_can_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a CodeMode script `CFMIGRATE_SERVERS` names the servers it reaches; the generated search_tools follows it."""
    import importlib
    import sys

    golden = Path(__file__).resolve().parent / "golden" / "manifests"
    monkeypatch.syspath_prepend(str(golden))
    for name in [m for m in sys.modules if m == "servers" or m.startswith("servers.")]:
        monkeypatch.delitem(sys.modules, name)
    package = importlib.import_module("servers")
    everything = package.search_tools("", detail="name", limit=1000).splitlines()
    assert {line.split(".")[1] for line in everything} == set(package.SERVERS)
    monkeypatch.setenv("CFMIGRATE_SERVERS", "mcp_server_time,server_memory")
    reached = package.search_tools("", detail="name", limit=1000).splitlines()
    assert reached and {line.split(".")[1] for line in reached} == {"mcp_server_time", "server_memory"}
    assert package.search_tools("no-such-word").endswith("servers: mcp_server_time, server_memory")
    for name in [m for m in sys.modules if m == "servers" or m.startswith("servers.")]:
        monkeypatch.delitem(sys.modules, name)


def test_audit_log_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", session="s1")
    log.execution(
        script="print(1)",
        duration_ms=1.234,
        outcome="ok",
        tool_calls=0,
        stdout_bytes=2,
        exit_code=0,
        output="1",
    )
    log.tool_call(
        server="crm",
        tool="find_lead",
        via="code",
        duration_ms=2.0,
        outcome="ok",
        script_sha256="abc",
        arguments={"q": "x"},
    )
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert (
        lines[0]["event"] == "execution"
        and lines[0]["duration_ms"] == 1.2
        and "script" not in lines[0]
        and "output" not in lines[0]
    )
    assert len(lines[0]["script_sha256"]) == 64
    assert lines[1]["server"] == "crm" and "arguments" not in lines[1]
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


def test_protections_are_printed_by_the_module_and_logged_at_start(tmp_path, caplog) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import logging
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "cfmigrate.runtime"], capture_output=True, text=True, check=True
    )
    assert "protections enforced on this machine" in out.stdout
    assert "network blocked" in out.stdout and "memory" in out.stdout

    from cfmigrate.runtime import CodeMode

    async def open_and_close() -> None:
        async with CodeMode(servers_dir=None, config=None, audit_log=False, work_dir=tmp_path):
            pass

    with caplog.at_level(logging.INFO, logger="cfmigrate.runtime"):
        asyncio.run(open_and_close())
    assert any("protections enforced" in r.getMessage() for r in caplog.records)


def test_host_reads_configs_in_every_format_the_audit_reads(tmp_path: Path) -> None:
    """A VS Code `mcp.json` with comments and trailing commas, a Codex TOML and a Continue YAML config give the
    host the same server entries the audit finds; a broken one is one line naming the file and line."""
    from cfmigrate.analyzers.configs import parse_config_file

    servers = tmp_path / "servers"
    servers.mkdir()
    (servers / "_servers.json").write_text(json.dumps({"servers": {}}))  # the config alone declares it
    vscode = tmp_path / ".vscode" / "mcp.json"
    vscode.parent.mkdir()
    vscode.write_text(
        '{\n  // the team\'s servers\n  "servers": {\n    /* local */ "files": {\n'
        '      "command": "npx", "args": ["-y", "pkg", "https://x//y"],\n'
        '      "env": {"FS_KEY": "${input:key}",},\n    },\n  },\n}\n'
    )
    codex = tmp_path / "config.toml"
    codex.write_text(
        '[mcp_servers.files]\ncommand = "uvx"\nargs = ["files-server"]\nenv = { FS_KEY = "x" }\n'
    )
    cont = tmp_path / ".continue" / "mcpServers" / "files.yaml"
    cont.parent.mkdir(parents=True)
    cont.write_text("name: files\nmcpServers:\n  - name: files\n    command: node\n    args: [server.js]\n")
    for config, command, args in (
        (vscode, "npx", ("-y", "pkg", "https://x//y")),
        (codex, "uvx", ("files-server",)),
        (cont, "node", ("server.js",)),
    ):
        spec = load_launch_specs(servers, config)["files"]
        assert (spec.command, spec.args) == (command, args), config
        rel = config.relative_to(tmp_path).as_posix()
        parsed = parse_config_file(config, rel)
        assert parsed is not None
        audit = next(s for s in parsed[0] if s.name == "files")  # the audit reads the same entry
        assert (audit.command, audit.args) == (command, args), config
    assert load_launch_specs(servers, vscode)["files"].config_env == {"FS_KEY": "${input:key}"}
    broken = tmp_path / "broken" / "mcp.json"
    broken.parent.mkdir()
    broken.write_text('{\n  // fine\n  "servers": {\n    "files": {"command": "npx" "args": []}\n  }\n}\n')
    with pytest.raises(SessionError) as err:
        load_launch_specs(servers, broken)
    assert (
        str(broken) in err.value.message and "line 4" in err.value.message and "\n" not in err.value.message
    )
