"""CFM002: the model-chosen `call_tool` of an agent loop → `code_mode.handle_tool_use` (look-alikes left alone)."""

from __future__ import annotations

from libcst.codemod import CodemodTest

from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules.cfm002_dynamic_dispatch import DynamicDispatch

PLAN = MigrationPlan()


class TestDynamicDispatch(CodemodTest):
    TRANSFORM = DynamicDispatch

    def check(self, before: str, after: str, warnings: list[str] | None = None) -> None:
        self.assertCodemod(before, after, plan=PLAN, expected_warnings=warnings)

    # ------------------------------------------------------------------ rewrites
    def test_anthropic_loop_with_session_lookup_removed(self) -> None:
        before = """
            import anthropic
            from mcp import ClientSession

            async def loop(sessions: dict[str, ClientSession], messages: list) -> list:
                client = anthropic.AsyncAnthropic()
                response = await client.messages.create(model="m", max_tokens=10, messages=messages)
                results = []
                for block in response.content:
                    if block.type == "tool_use":
                        session = sessions[block.name]
                        result = await session.call_tool(block.name, block.input)
                        results.append(result.content[0].text)
                return results
        """
        after = """
            import anthropic
            from mcp import ClientSession

            async def loop(sessions: dict[str, ClientSession], messages: list) -> list:
                client = anthropic.AsyncAnthropic()
                response = await client.messages.create(model="m", max_tokens=10, messages=messages)
                results = []
                for block in response.content:
                    if block.type == "tool_use":
                        result = await code_mode.handle_tool_use(block.name, block.input)
                        results.append(result.content[0].text)
                return results
        """
        self.check(before, after)

    def test_streamed_reply_final_message(self) -> None:
        """`async with client.messages.stream(...) as stream` + `stream.get_final_message()` is a model reply."""
        before = """
            import anthropic
            from mcp import ClientSession

            async def turn(session: ClientSession, messages: list) -> list:
                client = anthropic.AsyncAnthropic()
                async with client.messages.stream(model="m", max_tokens=10, messages=messages) as stream:
                    reply = await stream.get_final_message()
                return [await session.call_tool(b.name, b.input) for b in reply.content if b.type == "tool_use"]
        """
        after = """
            import anthropic
            from mcp import ClientSession

            async def turn(session: ClientSession, messages: list) -> list:
                client = anthropic.AsyncAnthropic()
                async with client.messages.stream(model="m", max_tokens=10, messages=messages) as stream:
                    reply = await stream.get_final_message()
                return [await code_mode.handle_tool_use(b.name, b.input) for b in reply.content if b.type == "tool_use"]
        """
        self.check(before, after)

    def test_streamed_responses_final_response(self) -> None:
        before = """
            import json
            from mcp import ClientSession
            from openai import OpenAI

            async def turn(session: ClientSession, items: list) -> None:
                with OpenAI().responses.stream(model="m", input=items) as stream:
                    response = stream.get_final_response()
                for item in response.output:
                    await session.call_tool(item.name, json.loads(item.arguments))
        """
        after = """
            import json
            from mcp import ClientSession
            from openai import OpenAI

            async def turn(session: ClientSession, items: list) -> None:
                with OpenAI().responses.stream(model="m", input=items) as stream:
                    response = stream.get_final_response()
                for item in response.output:
                    await code_mode.handle_tool_use(item.name, json.loads(item.arguments))
        """
        self.check(before, after)

    def test_stream_text_is_not_a_tool_name(self) -> None:
        before = """
            import anthropic
            from mcp import ClientSession

            async def turn(session: ClientSession, messages: list) -> None:
                async with anthropic.AsyncAnthropic().messages.stream(model="m", max_tokens=9, messages=messages) as stream:
                    async for text in stream.text_stream:
                        await session.call_tool(text, {})
        """
        self.check(
            before,
            before,
            warnings=[
                "CFM002 line 7: the tool name is computed here, not taken from a model's tool-use block; if it is "
                "the model's choice, call code_mode.handle_tool_use(name, arguments) by hand"
            ],
        )

    def test_fastmcp_raise_on_error_false_goes(self) -> None:
        """handle_tool_use returns a failed tool as an error result: `raise_on_error=False` asks for just that."""
        before = """
            import anthropic
            from fastmcp import Client

            async def run_tool(client: Client, use) -> str:
                result = await client.call_tool(use.name, use.input, raise_on_error=False)
                return result.content[0].text

            async def turn(client: Client, messages: list) -> None:
                reply = await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=9, messages=messages)
                for use in reply.content:
                    await run_tool(client, use)
        """
        after = """
            import anthropic
            from fastmcp import Client

            async def run_tool(client: Client, use) -> str:
                result = await code_mode.handle_tool_use(use.name, use.input)
                return result.content[0].text

            async def turn(client: Client, messages: list) -> None:
                reply = await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=9, messages=messages)
                for use in reply.content:
                    await run_tool(client, use)
        """
        self.check(before, after)

    def test_fastmcp_raise_on_error_true_stays(self) -> None:
        before = """
            import anthropic
            from fastmcp import Client

            async def turn(client: Client, messages: list) -> None:
                reply = await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=9, messages=messages)
                for use in reply.content:
                    await client.call_tool(use.name, use.input, raise_on_error=True)
        """
        self.check(
            before,
            before,
            warnings=["CFM002 line 7: the call passes raise_on_error=, which handle_tool_use does not take"],
        )

    def test_local_tool_set_apart_before_the_call(self) -> None:
        """`if use.name == "now": <local> else: <call>` lets execute_code through to the call: rewritten."""
        before = """
            import anthropic
            from mcp import ClientSession

            async def turn(session: ClientSession, messages: list) -> list:
                reply = await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=9, messages=messages)
                out = []
                for use in reply.content:
                    if use.name == "now":
                        out.append("12:00")
                    elif use.name not in ("today", "tomorrow"):
                        out.append(await session.call_tool(use.name, use.input))
                return out
        """
        after = """
            import anthropic
            from mcp import ClientSession

            async def turn(session: ClientSession, messages: list) -> list:
                reply = await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=9, messages=messages)
                out = []
                for use in reply.content:
                    if use.name == "now":
                        out.append("12:00")
                    elif use.name not in ("today", "tomorrow"):
                        out.append(await code_mode.handle_tool_use(use.name, use.input))
                return out
        """
        self.check(before, after)

    def test_call_under_a_check_for_one_mcp_tool_stays(self) -> None:
        before = """
            import anthropic
            from mcp import ClientSession

            async def turn(session: ClientSession, messages: list) -> None:
                reply = await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=9, messages=messages)
                for use in reply.content:
                    if use.name == "list_tickets":
                        await session.call_tool(use.name, use.input)
        """
        self.check(
            before,
            before,
            warnings=[
                "CFM002 line 8: the call is guarded by a check on the tool name, which would reject execute_code after "
                "migration -- route the model's call to handle_tool_use by hand"
            ],
        )

    def test_openai_chat_tool_calls_with_json_arguments_mcp2_client(self) -> None:
        before = """
            import json
            from mcp import Client
            from openai import OpenAI

            async def run(url: str, messages: list) -> None:
                llm = OpenAI()
                async with Client(url) as notes:
                    completion = llm.chat.completions.create(model="m", messages=messages)
                    for call in completion.choices[0].message.tool_calls:
                        result = await notes.call_tool(call.function.name, json.loads(call.function.arguments))
        """
        after = """
            import json
            from mcp import Client
            from openai import OpenAI

            async def run(url: str, messages: list) -> None:
                llm = OpenAI()
                async with Client(url) as notes:
                    completion = llm.chat.completions.create(model="m", messages=messages)
                    for call in completion.choices[0].message.tool_calls:
                        result = await code_mode.handle_tool_use(call.function.name, json.loads(call.function.arguments))
        """
        self.check(before, after)

    def test_openai_compatible_reply_read_as_json(self) -> None:
        before = """
            import json
            from mcp import Client

            async def loop(mcp: Client, message: dict, routes: dict) -> list:
                out = []
                for call in message.get("tool_calls") or []:
                    result = await mcp.call_tool(call["function"]["name"], json.loads(call["function"]["arguments"]))
                    out.append(result)
                for row in routes["rows"]:
                    await mcp.call_tool(row["function"]["name"], {})
                return out
        """
        after = """
            import json
            from mcp import Client

            async def loop(mcp: Client, message: dict, routes: dict) -> list:
                out = []
                for call in message.get("tool_calls") or []:
                    result = await code_mode.handle_tool_use(call["function"]["name"], json.loads(call["function"]["arguments"]))
                    out.append(result)
                for row in routes["rows"]:
                    await mcp.call_tool(row["function"]["name"], {})
                return out
        """
        self.check(
            before,
            after,
            [
                "CFM002 line 10: the tool name is computed here, not taken from a model's tool-use block; if it is "
                "the model's choice, call code_mode.handle_tool_use(name, arguments) by hand"
            ],
        )

    def test_helper_method_called_with_the_models_choice(self) -> None:
        before = """
            from anthropic import Anthropic
            from mcp import ClientSession

            class Agent:
                def __init__(self, session: ClientSession) -> None:
                    self.session = session
                    self.llm = Anthropic()

                async def execute(self, name, arguments):
                    return await self.session.call_tool(name=name, arguments=arguments)

                async def step(self, messages):
                    reply = self.llm.messages.create(model="m", max_tokens=5, messages=messages)
                    for block in reply.content:
                        await self.execute(block.name, block.input)
        """
        after = """
            from anthropic import Anthropic
            from mcp import ClientSession

            class Agent:
                def __init__(self, session: ClientSession) -> None:
                    self.session = session
                    self.llm = Anthropic()

                async def execute(self, name, arguments):
                    return await code_mode.handle_tool_use(name, arguments)

                async def step(self, messages):
                    reply = self.llm.messages.create(model="m", max_tokens=5, messages=messages)
                    for block in reply.content:
                        await self.execute(block.name, block.input)
        """
        self.check(before, after)

    # ------------------------------------------------------------------ left alone
    def test_literal_name_is_cfm001s(self) -> None:
        code = """
            from mcp import ClientSession

            async def run(session: ClientSession) -> None:
                await session.call_tool("get_document", {"documentId": "x"})
        """
        self.check(code, code)

    def test_httpx_and_user_mcpclient_receivers(self) -> None:
        code = """
            import httpx
            from anthropic import Anthropic

            class MCPClient:
                async def call_tool(self, name, args):
                    return name

            async def run(messages) -> None:
                reply = Anthropic().messages.create(model="m", max_tokens=5, messages=messages)
                http = httpx.AsyncClient()
                mine = MCPClient()
                for block in reply.content:
                    await http.call_tool(block.name, block.input)
                    await mine.call_tool(block.name, block.input)
        """
        self.check(code, code)

    def test_name_not_from_a_model_is_reported(self) -> None:
        code = """
            from mcp import ClientSession

            async def run(session: ClientSession, plan: list[str]) -> None:
                for step in plan:
                    await session.call_tool(step, {})
        """
        self.check(
            code,
            code,
            [
                "CFM002 line 5: the tool name is computed here, not taken from a model's tool-use block; if it is "
                "the model's choice, call code_mode.handle_tool_use(name, arguments) by hand"
            ],
        )

    def test_routing_by_trying_sessions_and_guards_on_the_name(self) -> None:
        code = """
            from anthropic import Anthropic
            from mcp import ClientSession

            async def run(sessions: list[ClientSession], known: set[str], messages) -> None:
                reply = Anthropic().messages.create(model="m", max_tokens=5, messages=messages)
                for block in reply.content:
                    for session in sessions:
                        await session.call_tool(block.name, block.input)
                    if block.name in known:
                        await sessions[0].call_tool(block.name, block.input)
        """
        self.check(
            code,
            code,
            [
                "CFM002 line 8: the session is chosen by trying sessions in a loop; route the model's call to "
                "handle_tool_use by hand",
                "CFM002 line 10: the call is guarded by a check on the tool name, which would reject execute_code "
                "after migration -- route the model's call to handle_tool_use by hand",
            ],
        )

    def test_lookup_used_elsewhere_and_options(self) -> None:
        code = """
            from anthropic import Anthropic
            from mcp import ClientSession

            async def run(by_tool: dict[str, ClientSession], messages) -> None:
                reply = Anthropic().messages.create(model="m", max_tokens=5, messages=messages)
                for block in reply.content:
                    session = by_tool[block.name]
                    print(session)
                    await session.call_tool(block.name, block.input)
                    await by_tool["x"].call_tool(block.name, block.input, read_timeout_seconds=3)
        """
        self.check(
            code,
            code,
            [
                "CFM002 line 9: 'session' (looked up by tool name) is used elsewhere; the model will now call "
                "execute_code, which that lookup does not know -- migrate by hand",
                "CFM002 line 10: the call passes read_timeout_seconds=, which handle_tool_use does not take",
            ],
        )

    def test_already_migrated(self) -> None:
        code = """
            from cfmigrate.runtime import CodeMode

            async def run(code_mode: CodeMode, block) -> None:
                await code_mode.handle_tool_use(block.name, block.input)
        """
        self.check(code, code)
