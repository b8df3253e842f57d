"""CFM004: only the tool list of a prompt becomes `code_mode.system_prompt()`; instructions stay (inserted where none)."""

from __future__ import annotations

from libcst.codemod import CodemodTest

from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules.cfm004_prompt import CodeFirstPrompt

PLAN = MigrationPlan()


class TestCodeFirstPrompt(CodemodTest):
    TRANSFORM = CodeFirstPrompt

    def check(self, before: str, after: str, warnings: list[str] | None = None) -> None:
        self.assertCodemod(before, after, plan=PLAN, expected_warnings=warnings)

    # ------------------------------------------------------------------ rewrites
    def test_format_keeps_the_instructions_and_drops_the_tools_heading(self) -> None:
        before = """
            import anthropic

            PROMPT = \"\"\"You help the sales team.
            Tools:
            {tool_list}
            \"\"\"

            def describe(tools):
                return "\\n".join(f"- {t['name']}: {t['description']}" for t in tools)

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                system = PROMPT.format(tool_list=describe(tools))
                return await anthropic.AsyncAnthropic().messages.create(
                    model="m", max_tokens=5, system=system, tools=tools, messages=messages
                )
        """
        after = """
            import anthropic

            PROMPT = \"\"\"You help the sales team.
            {tool_list}
            \"\"\"

            def describe(tools):
                return "\\n".join(f"- {t['name']}: {t['description']}" for t in tools)

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                system = PROMPT.format(tool_list=code_mode.system_prompt())
                return await anthropic.AsyncAnthropic().messages.create(
                    model="m", max_tokens=5, system=system, tools=tools, messages=messages
                )
        """
        self.check(before, after)

    def test_streamed_anthropic_call_gets_system_not_a_system_message(self) -> None:
        """`messages.stream(...)` is the Messages API: the prompt goes to `system=`, never into `messages`."""
        before = """
            import anthropic

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                messages = [{"role": "user", "content": "hi"}]
                async with anthropic.AsyncAnthropic().messages.stream(
                    model="m", max_tokens=5, tools=tools, messages=messages
                ) as stream:
                    return await stream.get_final_message()
        """
        after = """
            import anthropic

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                messages = [{"role": "user", "content": "hi"}]
                async with anthropic.AsyncAnthropic().messages.stream(
                    model="m", max_tokens=5, system=code_mode.system_prompt(), tools=tools, messages=messages
                ) as stream:
                    return await stream.get_final_message()
        """
        self.check(before, after)

    def test_tool_choice_forcing_an_mcp_tool_leaves_the_call(self) -> None:
        """Forcing one MCP tool by name cannot survive code mode (that tool is no longer offered): manual."""
        for choice, shown in (
            ('{"type": "tool", "name": "list_tickets"} if first else {"type": "auto"}', "'list_tickets'"),
            ('{"type": "function", "function": {"name": "get_ticket"}}', "'get_ticket'"),
        ):
            before = f"""
                import anthropic

                async def run(messages, first):
                    tools = code_mode.tool_definitions("anthropic")
                    return await anthropic.AsyncAnthropic().messages.create(
                        model="m", max_tokens=5, system="Be brief.", tools=tools, tool_choice={choice}, messages=messages
                    )
            """
            self.check(
                before,
                before,
                warnings=[
                    f"CFM004 line 5: tool_choice forces the tool {shown}, which the model is no longer offered on "
                    "code mode (the request would be refused); force the code tool or drop tool_choice by hand"
                ],
            )

    def test_code_tools_offered_beside_the_agents_own_tools(self) -> None:
        """`tools=[*code_tools, CLOCK]` still sends the code-mode tools: the call gets the prompt."""
        before = """
            import anthropic

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=5, tools=tools + [CLOCK], messages=messages)
                return await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=5, tools=[*tools, CLOCK], messages=messages)
        """
        after = """
            import anthropic

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=5, system=code_mode.system_prompt(), tools=tools + [CLOCK], messages=messages)
                return await anthropic.AsyncAnthropic().messages.create(model="m", max_tokens=5, system=code_mode.system_prompt(), tools=[*tools, CLOCK], messages=messages)
        """
        self.check(before, after)

    def test_tool_choice_any_or_auto_is_kept(self) -> None:
        before = """
            import anthropic

            async def run(messages, first):
                tools = code_mode.tool_definitions("anthropic")
                return await anthropic.AsyncAnthropic().messages.create(
                    model="m", max_tokens=5, tools=tools, tool_choice={"type": "any"} if first else {"type": "auto"},
                    messages=messages,
                )
        """
        after = """
            import anthropic

            async def run(messages, first):
                tools = code_mode.tool_definitions("anthropic")
                return await anthropic.AsyncAnthropic().messages.create(
                    model="m", max_tokens=5, system=code_mode.system_prompt(), tools=tools, tool_choice={"type": "any"} if first else {"type": "auto"},
                    messages=messages,
                )
        """
        self.check(before, after)

    def test_format_of_a_constant_read_twice_keeps_its_text(self) -> None:
        before = """
            import anthropic

            PROMPT = "Be brief.\\nTools available:\\n{tools}"
            TEMPLATES = [PROMPT]

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                listing = "\\n".join(t["name"] for t in tools)
                return await anthropic.AsyncAnthropic().messages.create(
                    model="m", max_tokens=5, system=PROMPT.format(tools=listing, extra=1), tools=tools, messages=messages
                )
        """
        after = """
            import anthropic

            PROMPT = "Be brief.\\nTools available:\\n{tools}"
            TEMPLATES = [PROMPT]

            async def run(messages):
                tools = code_mode.tool_definitions("anthropic")
                listing = "\\n".join(t["name"] for t in tools)
                return await anthropic.AsyncAnthropic().messages.create(
                    model="m", max_tokens=5, system=PROMPT.format(tools=code_mode.system_prompt(), extra=1), tools=tools, messages=messages
                )
        """
        self.check(before, after)

    def test_fstring_field_swapped_and_its_heading_dropped(self) -> None:
        before = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                tool_list = "\\n".join(f"- {t['name']}: {t['description']}" for t in tools)
                system = f"You are the sales assistant.\\nYou can use these tools:\\n{tool_list}\\nAnswer briefly."
                return Anthropic().messages.create(model="m", max_tokens=5, system=system, tools=tools, messages=messages)
        """
        after = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                tool_list = "\\n".join(f"- {t['name']}: {t['description']}" for t in tools)
                system = f"You are the sales assistant.\\n{code_mode.system_prompt()}\\nAnswer briefly."
                return Anthropic().messages.create(model="m", max_tokens=5, system=system, tools=tools, messages=messages)
        """
        self.check(before, after)

    def test_heading_on_the_line_of_the_field_is_dropped(self) -> None:
        """ "Tools you can call: {names}" on one line: the heading goes with the list; a sentence stays."""
        before = """
            from anthropic import Anthropic

            def ask(messages, tools_in):
                tools = code_mode.tool_definitions("anthropic")
                names = ", ".join(t["name"] for t in tools)
                system = f"{INSTRUCTIONS}\\nTools you can call: {names}."
                other = f"Be brief. Use these: {names}"
                Anthropic().messages.create(model="m", max_tokens=5, system=other, tools=tools, messages=messages)
                return Anthropic().messages.create(model="m", max_tokens=5, system=system, tools=tools, messages=messages)
        """
        after = """
            from anthropic import Anthropic

            def ask(messages, tools_in):
                tools = code_mode.tool_definitions("anthropic")
                names = ", ".join(t["name"] for t in tools)
                system = f"{INSTRUCTIONS}\\n{code_mode.system_prompt()}."
                other = f"Be brief. Use these: {code_mode.system_prompt()}"
                Anthropic().messages.create(model="m", max_tokens=5, system=other, tools=tools, messages=messages)
                return Anthropic().messages.create(model="m", max_tokens=5, system=system, tools=tools, messages=messages)
        """
        self.check(before, after)

    def test_raw_fstring_keeps_its_text(self) -> None:
        before = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                names = ", ".join(t["name"] for t in tools)
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=rf"Paths look like C:\\data.\\nTools:\\n{names}", tools=tools, messages=messages
                )
        """
        after = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                names = ", ".join(t["name"] for t in tools)
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=rf"Paths look like C:\\data.\\nTools:\\n{code_mode.system_prompt()}", tools=tools, messages=messages
                )
        """
        self.check(before, after)

    def test_concatenated_tool_text_swapped(self) -> None:
        before = """
            from anthropic import Anthropic

            BASE = "You are the sales assistant."

            def describe(tools):
                return "\\n".join(t["name"] for t in tools)

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=BASE + "\\nTools:\\n" + describe(tools), tools=tools, messages=messages
                )
        """
        after = """
            from anthropic import Anthropic

            BASE = "You are the sales assistant."

            def describe(tools):
                return "\\n".join(t["name"] for t in tools)

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=BASE + "\\n" + code_mode.system_prompt(), tools=tools, messages=messages
                )
        """
        self.check(before, after)

    def test_percent_formatting_swapped(self) -> None:
        before = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                names = ", ".join(t["name"] for t in tools)
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system="Answer in French. Tools: %s" % names, tools=tools, messages=messages
                )
        """
        after = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                names = ", ".join(t["name"] for t in tools)
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system="Answer in French. Tools: %s" % code_mode.system_prompt(), tools=tools, messages=messages
                )
        """
        self.check(before, after)

    def test_prompt_that_is_only_a_tool_list_is_replaced_whole(self) -> None:
        before = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system="Tools:\\n" + "\\n".join(t["name"] for t in tools), tools=tools, messages=messages
                )
        """
        after = """
            from anthropic import Anthropic

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=code_mode.system_prompt(), tools=tools, messages=messages
                )
        """
        self.check(before, after)

    def test_missing_system_is_inserted_before_tools(self) -> None:
        before = """
            from anthropic import Anthropic

            def ask(messages):
                return Anthropic().messages.create(
                    model="m",
                    max_tokens=5,
                    tools=code_mode.tool_definitions("anthropic"),
                    messages=messages,
                )
        """
        after = """
            from anthropic import Anthropic

            def ask(messages):
                return Anthropic().messages.create(
                    model="m",
                    max_tokens=5,
                    system=code_mode.system_prompt(),
                    tools=code_mode.tool_definitions("anthropic"),
                    messages=messages,
                )
        """
        self.check(before, after)

    def test_prompt_without_tools_keeps_its_text_after_the_code_first_prompt(self) -> None:
        before = """
            from anthropic import Anthropic

            SYSTEM = "Answer in two sentences."

            def ask(messages):
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=SYSTEM, tools=code_mode.tool_definitions("anthropic"), messages=messages
                )
        """
        after = """
            from anthropic import Anthropic

            SYSTEM = "Answer in two sentences."

            def ask(messages):
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=code_mode.system_prompt() + "\\n\\n" + SYSTEM, tools=code_mode.tool_definitions("anthropic"), messages=messages
                )
        """
        self.check(before, after)

    def test_openai_system_message_literal_and_inserted(self) -> None:
        before = """
            from openai import OpenAI

            def ask(question, tools_text):
                client = OpenAI()
                tools = code_mode.tool_definitions("openai")
                first = client.chat.completions.create(
                    model="m", tools=tools, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}]
                )
                messages = [{"role": "user", "content": question}]
                second = client.chat.completions.create(model="m", tools=tools, messages=messages)
                return first, second
        """
        after = """
            from openai import OpenAI

            def ask(question, tools_text):
                client = OpenAI()
                tools = code_mode.tool_definitions("openai")
                first = client.chat.completions.create(
                    model="m", tools=tools, messages=[{"role": "system", "content": code_mode.system_prompt() + "\\n\\nBe brief."}, {"role": "user", "content": question}]
                )
                messages = [{"role": "system", "content": code_mode.system_prompt()}, {"role": "user", "content": question}]
                second = client.chat.completions.create(model="m", tools=tools, messages=messages)
                return first, second
        """
        self.check(before, after)

    def test_messages_posted_by_the_agent_itself_get_the_prompt(self) -> None:
        before = """
            async def chat(http, messages, tools):
                reply = await http.post("/chat/completions", json={"model": "m", "messages": messages, "tools": tools})
                return reply.json()["choices"][0]["message"]

            async def main(http, question):
                tools = code_mode.tool_definitions("openai")
                messages = [{"role": "user", "content": question}]
                rows = [1, 2]
                print(rows, tools)
                return await chat(http, messages, tools)
        """
        after = """
            async def chat(http, messages, tools):
                reply = await http.post("/chat/completions", json={"model": "m", "messages": messages, "tools": tools})
                return reply.json()["choices"][0]["message"]

            async def main(http, question):
                tools = code_mode.tool_definitions("openai")
                messages = [{"role": "system", "content": code_mode.system_prompt()}, {"role": "user", "content": question}]
                rows = [1, 2]
                print(rows, tools)
                return await chat(http, messages, tools)
        """
        self.check(before, after)

    def test_fstring_listing_mcp_tools_directly(self) -> None:
        before = """
            from anthropic import Anthropic
            from mcp import ClientSession

            async def ask(session: ClientSession, messages):
                listed = await session.list_tools()
                names = ", ".join(t.name for t in listed.tools)
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=f"You can call: {names}", tools=code_mode.tool_definitions("anthropic"), messages=messages
                )
        """
        after = """
            from anthropic import Anthropic
            from mcp import ClientSession

            async def ask(session: ClientSession, messages):
                listed = await session.list_tools()
                names = ", ".join(t.name for t in listed.tools)
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=code_mode.system_prompt(), tools=code_mode.tool_definitions("anthropic"), messages=messages
                )
        """
        self.check(before, after)

    # ------------------------------------------------------------------ left alone
    def test_calls_without_code_mode_tools(self) -> None:
        code = """
            from anthropic import Anthropic

            TOOLS = [{"name": "calc", "input_schema": {}}]

            def ask(messages):
                return Anthropic().messages.create(model="m", max_tokens=5, system="Be brief.", tools=TOOLS, messages=messages)
        """
        self.check(code, code)

    def test_prompt_of_an_agent_still_sending_mcp_schemas(self) -> None:
        code = """
            from anthropic import Anthropic
            from mcp import ClientSession

            async def ask(session: ClientSession, messages):
                listed = await session.list_tools()
                names = ", ".join(t.name for t in listed.tools)
                tools = [{"name": t.name, "input_schema": t.inputSchema} for t in listed.tools]
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=f"You can call: {names}", tools=tools, messages=messages
                )
        """
        self.check(code, code)

    def test_not_an_llm_client(self) -> None:
        code = """
            import httpx

            class Anthropic:
                def __init__(self):
                    self.messages = httpx.Client()

            def ask(messages):
                return Anthropic().messages.create(tools=code_mode.tool_definitions("anthropic"), messages=messages)
        """
        self.check(code, code)

    def test_already_migrated(self) -> None:
        code = """
            from anthropic import Anthropic

            def ask(messages):
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=code_mode.system_prompt(), tools=code_mode.tool_definitions("anthropic"), messages=messages
                )
        """
        self.check(code, code)

    def test_untraceable_openai_messages_are_reported(self) -> None:
        code = """
            from openai import OpenAI

            def ask(messages):
                return OpenAI().chat.completions.create(model="m", tools=code_mode.tool_definitions("openai"), messages=messages)
        """
        self.check(
            code,
            code,
            [
                "CFM004 line 4: the messages list cannot be traced to a literal list; add "
                '{"role": "system", "content": code_mode.system_prompt()} at its head by hand'
            ],
        )

    def test_helper_mixing_instructions_and_the_list_is_reported(self) -> None:
        code = """
            from anthropic import Anthropic

            def build_prompt(tools):
                names = ", ".join(t["name"] for t in tools)
                return f"You are the sales assistant. Never guess an id. Tools: {names}"

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                return Anthropic().messages.create(model="m", max_tokens=5, system=build_prompt(tools), tools=tools, messages=messages)
        """
        self.check(
            code,
            code,
            [
                "CFM004 line 9: the prompt is built from the tools, but its tool list cannot be told apart from its "
                "instructions; replace just the tool list with code_mode.system_prompt() by hand"
            ],
        )

    def test_format_with_a_keyword_splat_is_reported(self) -> None:
        code = """
            from anthropic import Anthropic

            PROMPT = "You help.\\n{tools}"

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                parts = {"tools": "\\n".join(t["name"] for t in tools)}
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=PROMPT.format("\\n".join(t["name"] for t in tools), **parts), tools=tools, messages=messages
                )
        """
        self.check(
            code,
            code,
            [
                "CFM004 line 8: the prompt is built from the tools, but its tool list cannot be told apart from its "
                "instructions; replace just the tool list with code_mode.system_prompt() by hand"
            ],
        )

    def test_already_migrated_format_and_fstring(self) -> None:
        code = """
            from anthropic import Anthropic

            PROMPT = "You help.\\n{tool_list}"

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                first = Anthropic().messages.create(
                    model="m", max_tokens=5, system=PROMPT.format(tool_list=code_mode.system_prompt()), tools=tools, messages=messages
                )
                second = Anthropic().messages.create(
                    model="m", max_tokens=5, system=f"You help.\\n{code_mode.system_prompt()}", tools=tools, messages=messages
                )
                return first, second
        """
        self.check(code, code)

    def test_tool_list_in_a_user_message_is_not_the_prompt(self) -> None:
        code = """
            from anthropic import Anthropic

            def ask():
                tools = code_mode.tool_definitions("anthropic")
                listing = "\\n".join(t["name"] for t in tools)
                return Anthropic().messages.create(
                    model="m",
                    max_tokens=5,
                    system=code_mode.system_prompt(),
                    tools=tools,
                    messages=[{"role": "user", "content": listing}],
                )
        """
        self.check(code, code)

    def test_dynamic_client_is_left_alone(self) -> None:
        code = """
            import importlib

            def ask(messages):
                tools = code_mode.tool_definitions("anthropic")
                client = getattr(importlib.import_module("anthropic"), "Anthropic")()
                names = ", ".join(t["name"] for t in tools)
                return client.messages.create(model="m", max_tokens=5, system=f"Tools: {names}", tools=tools, messages=messages)
        """
        self.check(code, code)

    def test_system_content_blocks_are_reported(self) -> None:
        code = """
            from anthropic import Anthropic

            def ask(messages, rules):
                return Anthropic().messages.create(
                    model="m", max_tokens=5, system=[{"type": "text", "text": rules}], tools=code_mode.tool_definitions("anthropic"), messages=messages
                )
        """
        self.check(
            code,
            code,
            [
                "CFM004 line 4: system= is a list of content blocks; put code_mode.system_prompt() in its first "
                "text block by hand"
            ],
        )
