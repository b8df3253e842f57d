"""`CodeMode(launches=...)`: a server the agent declares in code starts exactly as the agent started it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import StdioServerParameters

from cfmigrate.runtime import CodeMode, CodeModeError, Limits
from cfmigrate.runtime.launches import LaunchError, apply_launches, launch_spec
from cfmigrate.runtime.sessions import LaunchSpec

SECRET = "launch-literal-4f9e2b71"  # a literal env value in the agent's source: never shown anywhere

PROBE_SERVER = '''
"""Reports how it was started: interpreter, working directory, a hash of PROBE_MARK, its pid."""
import hashlib
import os
import sys

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("probe")


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def where() -> dict:
    """How this server process was started."""
    mark = os.environ.get("PROBE_MARK")
    return {
        "executable": sys.executable,
        "cwd": os.getcwd(),
        "mark_sha": hashlib.sha256(mark.encode()).hexdigest()[:16] if mark else None,
        "pid": os.getpid(),
        "relative_args_seen": sys.argv[0],
    }


if __name__ == "__main__":
    server.run()
'''


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- shapes


def test_stdio_parameters_are_kept_as_given() -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["srv.py", "--flag"], env={"A": SECRET}, cwd=Path("/srv/app")
    )
    spec = launch_spec("probe", "probe", params)
    assert (spec.transport, spec.command, spec.args, spec.cwd) == (
        "stdio",
        sys.executable,
        ("srv.py", "--flag"),
        "/srv/app",
    )
    assert spec.exact and spec.config_env == {"A": SECRET} and spec.env_names == ("A",)
    assert SECRET not in repr(spec) and "/srv/app" not in repr(spec)


def test_dicts_transports_and_urls() -> None:
    agents_sdk = {"command": "python", "args": ["s.py"], "env": {"K": "v"}}
    spec = launch_spec("s", "s", agents_sdk)
    assert (spec.command, spec.args, spec.cwd, spec.config_env) == ("python", ("s.py",), None, {"K": "v"})
    from fastmcp.client.transports import StdioTransport

    transport = StdioTransport(command="python", args=["-m", "pkg.server"], cwd="/work")
    spec = launch_spec("s", "s", transport)
    assert (spec.command, spec.args, spec.cwd, spec.config_env) == (
        "python",
        ("-m", "pkg.server"),
        "/work",
        {},
    )
    url = launch_spec("web", "web", "https://mcp.example.com/mcp")
    assert (url.transport, url.url) == ("http", "https://mcp.example.com/mcp")
    http = launch_spec("web", "web", {"url": "https://x.example/sse", "headers": {"Authorization": SECRET}})
    assert http.transport == "sse" and http.config_headers == {"Authorization": SECRET}
    assert SECRET not in repr(http)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "int is not a launch CodeMode can start"),
        ("helpdesk_server.py", "must be an http(s) URL"),
        ({"command": ""}, "command must be a non-empty string"),
        ({"command": "python", "args": "srv.py"}, "args must be a list of strings"),
        ({"command": "python", "env": ["A"]}, "env must be a dict of strings"),
    ],
)
def test_bad_launches_name_the_server(value: Any, message: str) -> None:
    with pytest.raises(LaunchError, match="launches\\['probe'\\]") as info:
        launch_spec("probe", "probe", value)
    assert message in str(info.value)


def test_a_launch_replaces_the_package_spec_by_id_or_name() -> None:
    packaged = {
        "help_desk": LaunchSpec(server_id="help_desk", name="help-desk", transport="stdio", command="python")
    }
    by_name = apply_launches(packaged, {"help-desk": {"command": sys.executable}})
    assert list(by_name) == ["help_desk"] and by_name["help_desk"].command == sys.executable
    assert by_name["help_desk"].name == "help-desk"
    added = apply_launches(packaged, {"other": "http://127.0.0.1:9/mcp"})
    assert sorted(added) == ["help_desk", "other"] and added["help_desk"] is packaged["help_desk"]


# ---------------------------------------------------------------------------------------------- live


@pytest.fixture(scope="module")
def probe_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository whose generated package knows `probe` as `python probe_server.py` (names only, no env)."""
    from cfmigrate.generators.api import GenerateOptions, generate, refresh

    root = tmp_path_factory.mktemp("probe-repo")
    (root / "probe_server.py").write_text(PROBE_SERVER)
    config = {"mcpServers": {"probe": {"command": sys.executable, "args": ["probe_server.py"]}}}
    (root / ".mcp.json").write_text(json.dumps(config))
    options = GenerateOptions(root=root)
    assert not [p for p in refresh(options) if p.level == "error"]
    generate(options)
    assert (root / "servers" / "_servers.json").is_file()
    return root


def test_host_and_scripts_share_the_agents_own_launch(probe_repo: Path, tmp_path: Path) -> None:
    """The launch from code wins: its interpreter, literal env and cwd; host call and script hit one process."""
    (tmp_path / "probe_server.py").write_text(PROBE_SERVER)  # a relative script path, found from its own cwd
    params = StdioServerParameters(
        command=sys.executable, args=["probe_server.py"], env={"PROBE_MARK": SECRET}, cwd=tmp_path
    )
    audit = tmp_path / "audit.jsonl"

    async def main() -> tuple[dict[str, Any], str, str]:
        async with CodeMode(
            servers_dir=probe_repo / "servers",
            config=None,
            launches={"probe": params},
            limits=Limits(timeout_s=30),
            audit_log=audit,
            log_payloads=True,
        ) as cm:
            host = await cm.host_call("probe", "where", {})
            script = await cm.handle_tool_use(
                "execute_code",
                {"code": "from servers.probe import where\nr = await where()\nprint(r.text)\n"},
            )
            return host, script.text, cm.system_prompt()

    host, script_text, prompt = asyncio.run(main())
    seen = json.loads(host["content"][0]["text"])
    assert seen["executable"] == sys.executable
    assert Path(seen["cwd"]).resolve() == tmp_path.resolve()
    assert seen["mark_sha"] == _sha(SECRET)
    from_script = json.loads(script_text)
    assert from_script["pid"] == seen["pid"], "the script reached another server process than the host"
    assert SECRET not in audit.read_text() and SECRET not in prompt


def test_a_launch_that_cannot_start_is_a_clear_error(probe_repo: Path) -> None:
    async def main() -> None:
        async with CodeMode(servers_dir=probe_repo / "servers", config=None, launches={"probe": 3.5}):
            pass

    with pytest.raises(CodeModeError, match=r"launches\['probe'\]: float is not a launch"):
        asyncio.run(main())
