"""CodeMode opens itself on first use and closes cleanly; host wrapper calls share its server process.

Each case runs as its own Python process, the way an agent does (`asyncio.run(main())`), against the
e2e helpdesk server, which keeps its tickets in memory: a ticket the host creates is visible to the
model's script only when both went through the same server process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "tests" / "e2e" / "servers" / "helpdesk_server.py"

SCRIPT = """
import asyncio, json, sys
from contextlib import AsyncExitStack
from pathlib import Path

from cfmigrate.runtime import CodeMode, Policy
from servers.helpdesk import create_ticket

ROOT = Path.cwd()
READ = "from servers.helpdesk import list_tickets\\nprint((await list_tickets(status='open')).text)"


def make() -> CodeMode:
    return CodeMode(servers_dir=ROOT / "servers", config=ROOT / ".mcp.json", policy=Policy(destructive="allow"))
"""

FUNCTION_AGENT = """
code_mode = make()  # module level, never entered


async def main() -> dict:
    await create_ticket(title="made by the host", body="before the model's first turn")
    result = await code_mode.handle_tool_use("execute_code", {"code": READ})
    return {"seen": json.loads(result.text), "runtime": str(code_mode._runtime_dir), "structured": result.structured_content}


out = asyncio.run(main())
out["closed"] = code_mode._closed and code_mode.session is None and not Path(out["runtime"]).exists()
print(json.dumps(out))
"""

CLASS_AGENT = """
class Agent:
    def __init__(self) -> None:
        self.code_mode = make()
        self.exit_stack = AsyncExitStack()
        self.exit_stack.push_async_callback(self.code_mode.aclose)

    async def connect(self) -> None:
        await create_ticket(title="made by the host", body="at connect time")

    async def chat(self) -> dict:
        result = await self.code_mode.handle_tool_use("execute_code", {"code": READ})
        return {"seen": json.loads(result.text), "runtime": str(self.code_mode._runtime_dir)}

    async def cleanup(self) -> None:
        await self.exit_stack.aclose()


async def main() -> dict:
    agent = Agent()
    try:
        await agent.connect()
        out = await agent.chat()
    finally:
        await agent.cleanup()
    out["closed"] = agent.code_mode._closed and not Path(out["runtime"]).exists()  # closed by cleanup, in the loop
    return out


print(json.dumps(asyncio.run(main())))
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cfmigrate.generators.api import GenerateOptions, generate, refresh

    root = tmp_path_factory.mktemp("lifecycle")
    shutil.copy(SERVER, root / "helpdesk_server.py")
    config = {"mcpServers": {"helpdesk": {"command": sys.executable, "args": ["helpdesk_server.py"]}}}
    (root / ".mcp.json").write_text(json.dumps(config))
    options = GenerateOptions(root=root)
    assert not [p for p in refresh(options) if p.level == "error"]
    generate(options)
    return root


@pytest.mark.parametrize("agent", [FUNCTION_AGENT, CLASS_AGENT], ids=["function", "class"])
def test_lazy_code_mode_serves_host_and_scripts_from_one_process(repo: Path, agent: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT) + textwrap.dedent(agent)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    titles = [t["title"] for t in out["seen"]["tickets"]]
    assert titles == ["made by the host"], (
        "the script did not see what the host created (two server processes?)"
    )
    assert out["closed"], "CodeMode did not close cleanly"
    if "structured" in out:
        assert json.loads(out["structured"]["output"]) == out["seen"]


def test_keep_direct_before_open_says_what_to_do(repo: Path) -> None:
    from cfmigrate.runtime import CodeMode, CodeModeError

    code_mode = CodeMode(servers_dir=repo / "servers", config=repo / ".mcp.json", keep_direct=("helpdesk",))
    with pytest.raises(CodeModeError, match="ensure_open"):
        code_mode.tool_definitions("anthropic")
