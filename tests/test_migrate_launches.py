"""The agent's own launch reaches `CodeMode(launches=...)`: kept by name, moved when inline, or the agent is left alone."""

from __future__ import annotations

import textwrap
from pathlib import Path

from cfmigrate.migrate.rules import MigrationPlan, all_rules
from cfmigrate.migrate.runner import transform_source

RULES = tuple(r.RULE_ID for r in all_rules())
PLAN = MigrationPlan(file_servers={"agent.py": ("helpdesk",)})

LOOP = """
                tools = [
                    {"name": t.name, "description": t.description, "input_schema": t.input_schema}
                    for t in (await session.list_tools()).tools
                ]
                reply = await llm.messages.create(model="claude-sonnet-5", max_tokens=512, tools=tools, messages=[])
                for block in reply.content:
                    if block.type == "tool_use":
                        out = await session.call_tool(block.name, block.input)
                return out
"""


def run(source: str) -> tuple[str, list[str]]:
    result = transform_source(textwrap.dedent(source).encode(), "agent.py", PLAN, RULES)
    text = (result.new or result.old or b"").decode()
    return text, [f"{s.rule}:{s.applied}:{s.message}" for s in result.sites]


def test_a_named_launch_stays_and_is_passed_by_name() -> None:
    source = (
        """
        import sys
        from pathlib import Path

        from anthropic import AsyncAnthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        PARAMS = StdioServerParameters(
            command=sys.executable, args=["srv.py"], env={"HELPDESK_DATA": "d.json"}, cwd=Path(__file__).parent
        )
        llm = AsyncAnthropic()


        async def main():
            async with stdio_client(PARAMS) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
        """
        + LOOP
    )
    text, sites = run(source)
    assert '"helpdesk": PARAMS' in text, text
    assert "stdio_client" not in text and "ClientSession" not in text, text
    assert "command=sys.executable" in text and text.count('"HELPDESK_DATA": "d.json"') == 1
    assert not [s for s in sites if ":False:" in s and s.startswith("CFM006")], sites


def test_an_inline_launch_moves_into_codemode_once() -> None:
    source = (
        """
        import sys

        from anthropic import AsyncAnthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        llm = AsyncAnthropic()


        async def main():
            launch = StdioServerParameters(command=sys.executable, args=["srv.py"], env={"KEY": "literal-1"})
            async with stdio_client(launch) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
        """
        + LOOP
    )
    text, _ = run(source)
    assert '"helpdesk": launch' in text and text.count('"KEY": "literal-1"') == 1, text
    assert text.index("launch = StdioServerParameters") < text.index("CodeMode("), text


def test_a_launch_bound_after_codemode_opens_leaves_the_agent_alone() -> None:
    source = (
        """
        from anthropic import AsyncAnthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        llm = AsyncAnthropic()


        async def main(read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                if read:
                    later = StdioServerParameters(command="python", args=["srv.py"])
                    async with stdio_client(later) as (r, w):
                        pass
        """
        + LOOP
    )
    _, sites = run(source)
    assert any(s.startswith("CFM006:False:") for s in sites), sites


def _found(source: str) -> list[tuple[str, str, bool]]:
    import libcst as cst

    from cfmigrate.migrate.rules._launch import find_launches

    launches = find_launches(cst.parse_module(textwrap.dedent(source)), "agent.py", PLAN)
    return [(launch.server, " ".join(launch.expression.split()), launch.named) for launch in launches]


def test_launch_shapes_of_mcp_and_the_frameworks() -> None:
    assert _found(
        """
        from mcp import Client
        async def main():
            async with Client("http://127.0.0.1:8000/mcp") as client:
                pass
        """
    ) == [("helpdesk", '"http://127.0.0.1:8000/mcp"', False)]
    assert _found(
        """
        import os
        from mcp.client.streamable_http import streamablehttp_client
        async def main():
            async with streamablehttp_client("https://x.example/mcp", headers={"X-Key": os.environ["K"]}) as t:
                pass
        """
    ) == [("helpdesk", '{"url": "https://x.example/mcp", "headers": {"X-Key": os.environ["K"]}}', False)]
    assert _found(
        """
        from agents.mcp import MCPServerStdio
        async def main():
            async with MCPServerStdio(name="helpdesk", params={"command": "python", "args": ["s.py"]}) as s:
                pass
        """
    ) == [("helpdesk", '{"command": "python", "args": ["s.py"]}', False)]
    assert _found(
        """
        import sys
        from pydantic_ai.mcp import MCPServerStdio
        server = MCPServerStdio(sys.executable, ["-m", "pkg.server"], env={"A": "b"}, cwd="backend")
        """
    ) == [
        (
            "helpdesk",
            '{"command": sys.executable, "args": ["-m", "pkg.server"], "env": {"A": "b"}, "cwd": "backend"}',
            False,
        )
    ]
    assert _found(
        """
        from fastmcp import Client
        from fastmcp.client.transports import StdioTransport
        TRANSPORT = StdioTransport(command="python", args=["s.py"])
        async def main():
            async with Client(TRANSPORT) as client:
                pass
        """
    ) == [("helpdesk", "TRANSPORT", True)]


def test_a_launch_from_a_helper_function_is_not_carried() -> None:
    assert (
        _found(
            """
            from mcp import ClientSession
            from mcp.client.stdio import stdio_client
            async def main():
                async with stdio_client(params_from_config()) as (read, write):
                    pass
            """
        )
        == []
    )


def test_an_agent_whose_launch_is_only_known_at_run_time_is_not_migrated(tmp_path: Path) -> None:
    from cfmigrate.migrate.runner import migrate

    agent = (
        textwrap.dedent(
            """
        import sys

        from anthropic import AsyncAnthropic
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client

        llm = AsyncAnthropic()
        PARAMS = StdioServerParameters(command=sys.argv[1], args=sys.argv[2:])


        async def main():
            async with stdio_client(PARAMS) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
        """
        )
        + textwrap.dedent(LOOP).replace("\n", "\n        ").rstrip()
        + "\n"
    )
    (tmp_path / "agent.py").write_text(agent)
    result = migrate(tmp_path, write=True, allow_dirty=True, generate=False)
    assert (tmp_path / "agent.py").read_text() == agent
    assert not result.changed
    assert [(path, "cannot be linked statically" in reason) for path, _, reason in result.skipped] == [
        ("agent.py", True)
    ], result.skipped


def test_a_session_group_still_constructed_opens_sessions() -> None:
    """A `ClientSessionGroup` left beside CodeMode still connects its servers: the runner must see it."""
    import libcst as cst

    from cfmigrate.migrate.rules._launch import session_groups, session_openers

    module = cst.parse_module(
        "from mcp import ClientSessionGroup\n\nasync def main():\n    async with ClientSessionGroup() as group:\n"
        "        pass\n"
    )
    assert session_openers(module) == [4]
    assert session_groups(module) == [4]  # the runner names the group in its reason
    assert session_groups(cst.parse_module("from mcp import ClientSession\nClientSession(r, w)\n")) == []
