"""CFM007: only locals that fed code the rules removed, now unread and free of effects, are dropped."""

from __future__ import annotations

from libcst.codemod import CodemodContext, CodemodTest

from cfmigrate.migrate.rules import MigrationPlan
from cfmigrate.migrate.rules._base import ORPHANS_KEY
from cfmigrate.migrate.rules.cfm007_cleanup import RemoveOrphans

PLAN = MigrationPlan()


class TestRemoveOrphans(CodemodTest):
    TRANSFORM = RemoveOrphans

    def check(self, before: str, after: str, orphans: set[tuple[str, str]]) -> None:
        context = CodemodContext(scratch={ORPHANS_KEY: set(orphans)})
        self.assertCodemod(before, after, plan=PLAN, context_override=context)

    def test_listing_and_derived_text_removed_in_cascade(self) -> None:
        before = """
            async def ask(session):
                listed = await session.list_tools()
                names = ", ".join(t.name for t in listed.tools)
                tools = code_mode.tool_definitions("anthropic")
                return tools
        """
        after = """
            async def ask(session):
                tools = code_mode.tool_definitions("anthropic")
                return tools
        """
        self.check(before, after, {("ask", "names")})

    def test_method_path(self) -> None:
        before = """
            class Agent:
                async def ask(self):
                    listed = await self.session.list_tools()
                    return code_mode.tool_definitions("anthropic")
        """
        after = """
            class Agent:
                async def ask(self):
                    return code_mode.tool_definitions("anthropic")
        """
        self.check(before, after, {("Agent.ask", "listed")})

    # ------------------------------------------------------------------ left alone
    def test_still_read_names_are_kept(self) -> None:
        code = """
            async def ask(session):
                listed = await session.list_tools()
                print(listed)
                return code_mode.tool_definitions("anthropic")
        """
        self.check(code, code, {("ask", "listed")})

    def test_effects_are_kept(self) -> None:
        code = """
            async def ask(session):
                result = await session.call_tool("send_email", {})
                return code_mode.tool_definitions("anthropic")
        """
        self.check(code, code, {("ask", "result")})

    def test_names_no_rule_reported_are_kept(self) -> None:
        code = """
            def prepare():
                unused = "the user's own dead code"
                return 1
        """
        self.check(code, code, {("other_function", "unused")})

    def test_module_level_values_are_kept(self) -> None:
        code = """
            TOOLS_TEXT = ", ".join(["a", "b"])
        """
        self.check(code, code, {("", "TOOLS_TEXT")})
