"""The static text of system prompts: each way agents build a prompt gives its literal parts exactly, parts
computed at run time are left out, and nothing is ever run."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from cfmigrate.analyzers.code import PythonFacts, analyze_python
from cfmigrate.analyzers.model import Agent

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = REPO / "fixtures" / "frameworks"
SEED_AGENT = REPO / "fixtures" / "seed-scenario" / "agent.py"


def analyze(source: str) -> PythonFacts:
    return analyze_python(textwrap.dedent(source).encode(), "agent.py")


def anthropic_agent(prelude: str, body: str, system: str = "system") -> Agent:
    """The one agent of a module whose `run()` builds a prompt in `body` and sends `system=<system>`."""
    source = (
        "import anthropic\n"
        "import textwrap\n"
        "from mcp import ClientSession\n"
        + textwrap.dedent(prelude)
        + "\n\nasync def run(session: ClientSession, tools: list, user: str) -> None:\n"
        + "    client = anthropic.Anthropic()\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + f"\n    client.messages.create(model='claude-sonnet-4-5', max_tokens=64, system={system}, messages=[])\n"
        + "    await session.call_tool('search', {})\n"
    )
    facts = analyze_python(source.encode(), "agent.py")
    assert not facts.problems, facts.problems
    [agent] = facts.agents
    assert agent.system_prompt_chars == len(agent.system_prompt)
    return agent


CASES = {
    "format with a module constant, run-time field dropped": (
        'TEMPLATE = "You help the {team} team.\\nTools:\\n{tool_list}\\nBe brief."',
        'system = TEMPLATE.format(team="sales", tool_list="\\n".join(t.name for t in tools))',
        "You help the sales team.\nTools:\n\nBe brief.",
    ),
    "format with a literal template, positions, escaped braces and conversions": (
        "",
        'system = "Hello {0}, today is {1}; {{braces}} stay. {2!r}".format("Ann", user, "x")',
        "Hello Ann, today is ; {braces} stay. 'x'",
    ),
    "format specs and automatic numbering": (
        "PI = 3.14159",
        'system = "{:>5}|{pi:.2f}|{}".format(7, "end", pi=PI)',
        "    7|3.14|end",
    ),
    "format with a **dict and format_map": (
        'T = "{a}-{b}-{c}"',
        'system = T.format(**{"a": "x", "b": user}, c="z") + " " + "{a}/{b}".format_map({"a": 1, "b": user})',
        "x--z 1/",
    ),
    "f-string with constants, specs, escapes and a run-time part": (
        'ROLE = "an analyst"\nMAX_TURNS = 5\nPI = 3.14159',
        'system = f"You are {ROLE}. Max {MAX_TURNS} turns.\\n\\t{user}{{x}} {PI:.1f} \\N{EM DASH} {ROLE!r}"',
        "You are an analyst. Max 5 turns.\n\t{x} 3.1 \u2014 'an analyst'",
    ),
    "raw f-string keeps backslashes": (
        "",
        'system = rf"C:\\new\\{user}dir"',
        "C:\\new\\dir",
    ),
    "concatenation of constants, literals and run-time text": (
        'PREFIX = "Be kind. "',
        'tools_text = "\\n".join(t.name for t in tools)\nsystem = PREFIX + "Tools: " + tools_text + "\\nEnd."',
        "Be kind. Tools: \nEnd.",
    ),
    "implicit concatenation in parentheses": (
        'SYSTEM = (\n    "Line one. "\n    "Line two."\n)',
        "system = SYSTEM",
        "Line one. Line two.",
    ),
    "join of a literal list": (
        "",
        'system = "\\n".join(["Rule one.", "Rule two.", user, "Rule three."])',
        "Rule one.\nRule two.\n\nRule three.",
    ),
    "join of a module tuple": (
        'RULES = ("A.", "B.")',
        'system = " ".join(RULES)',
        "A. B.",
    ),
    "textwrap.dedent of a triple-quoted literal": (
        'SYSTEM = textwrap.dedent("""\n    You are helpful.\n      Indented.\n    """)',
        "system = SYSTEM",
        "\nYou are helpful.\n  Indented.\n",
    ),
    "dedent imported by name, then strip": (
        'from textwrap import dedent\nSYSTEM = dedent("""\n    Be exact.\n    Cite sources.\n    """).strip()',
        "system = SYSTEM",
        "Be exact.\nCite sources.",
    ),
    "inspect.cleandoc": (
        'import inspect\nSYSTEM = inspect.cleandoc("""First line.\n        Second line.\n    """)',
        "system = SYSTEM",
        "First line.\nSecond line.",
    ),
    "percent formatting with a tuple": (
        "",
        'system = "Hi %s, you have %d tasks (%s); 100%% sure. %5.1f" % ("Ann", 3, user, 2.25)',
        "Hi Ann, you have 3 tasks (); 100% sure.   2.2",
    ),
    "percent formatting with a mapping": (
        'NAME = "pi"',
        'system = "%(name)s: %(n)05.1f %(who)s." % {"name": NAME, "n": 3.14159, "who": user}',
        "pi: 003.1 .",
    ),
    "local variable reassigned and extended with +=": (
        'BASE = "You answer questions."',
        'system = BASE\nsystem += "\\nNever guess."\nsystem += "\\nTools: " + ", ".join(t.name for t in tools)',
        "You answer questions.\nNever guess.\nTools: ",
    ),
    "replace of a placeholder by run-time text": (
        'TEMPLATE = "Use these tools:\\n{{TOOLS}}\\nThen answer."',
        'system = TEMPLATE.replace("{{TOOLS}}", describe(tools))',
        "Use these tools:\n\nThen answer.",
    ),
    "a helper function that returns the prompt": (
        'def build_prompt(tools):\n    return "You are terse. " + ", ".join(t.name for t in tools)',
        "system = build_prompt(tools)",
        "You are terse. ",
    ),
    "separator line built with *": (
        "",
        'system = "Rules\\n" + "=" * 5 + "\\nOne."',
        "Rules\n=====\nOne.",
    ),
}


@pytest.mark.parametrize(("prelude", "body", "expected"), list(CASES.values()), ids=list(CASES))
def test_prompt_construction_gives_its_static_text(prelude: str, body: str, expected: str) -> None:
    assert anthropic_agent(prelude, body).system_prompt == expected


def test_anthropic_system_blocks_are_joined() -> None:
    agent = anthropic_agent(
        'T = "Second {x}."',
        'blocks = [{"type": "text", "text": "First."}, {"type": "text", "text": T.format(x=user)}]',
        system="blocks",
    )
    assert agent.system_prompt == "First.\nSecond ."


def test_longest_prompt_of_the_agent_wins() -> None:
    source = """
        import anthropic
        from mcp import ClientSession

        async def run(session: ClientSession) -> None:
            client = anthropic.Anthropic()
            client.messages.create(model="claude-sonnet-4-5", max_tokens=9, system="Short.", messages=[])
            client.messages.create(model="claude-sonnet-4-5", max_tokens=9, system="A longer prompt.", messages=[])
            await session.call_tool("search", {})
        """
    [agent] = analyze(source).agents
    assert (agent.system_prompt, agent.system_prompt_chars) == ("A longer prompt.", 16)


def test_prompts_held_by_the_class_or_the_instance() -> None:
    source = """
        import anthropic
        from mcp import ClientSession

        class Bot:
            SYSTEM = "You are the {team} bot."

            def __init__(self, session: ClientSession) -> None:
                self.session = session
                self.client = anthropic.Anthropic()
                self.rules = "Rule: " + "be brief."

            async def run(self) -> None:
                prompt = self.SYSTEM.format(team="ops") + "\\n" + self.rules
                self.client.messages.create(model="claude-sonnet-4-5", max_tokens=9, system=prompt, messages=[])
                await self.session.call_tool("search", {})
        """
    [agent] = analyze(source).agents
    assert agent.system_prompt == "You are the ops bot.\nRule: be brief."


def test_openai_system_and_developer_messages_and_instructions() -> None:
    source = """
        from mcp import ClientSession
        from openai import OpenAI

        GUIDE = "Answer in {lang}."

        async def run(session: ClientSession, question: str) -> None:
            llm = OpenAI()
            messages = [
                {"role": "system", "content": GUIDE.format(lang="English")},
                {"role": "developer", "content": [{"type": "text", "text": "Cite the tool you used."}]},
                {"role": "user", "content": question},
            ]
            llm.chat.completions.create(model="gpt-4.1", messages=messages)
            llm.responses.create(model="gpt-4.1", instructions=f"Be {'brief'}.", input=messages)
            await session.call_tool("search", {})
        """
    [agent] = analyze(source).agents
    assert agent.system_prompt == "Be brief.\nAnswer in English.\nCite the tool you used."


def test_framework_prompt_arguments() -> None:
    source = """
        from crewai import Agent
        from crewai_tools import MCPServerAdapter

        TOPIC = "retrieval"
        with MCPServerAdapter({"url": "http://localhost:8001/sse"}) as tools:
            Agent(role="Analyst", goal=f"Study {TOPIC}.", backstory="Careful.", tools=tools, llm="gpt-4o")
        """
    [agent] = analyze(source).agents
    assert agent.system_prompt == "Analyst\nStudy retrieval.\nCareful."


def test_seed_agent_prompt_is_its_template_without_the_tool_list() -> None:
    source = SEED_AGENT.read_text(encoding="utf-8")
    template = next(
        node.value.value
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "SYSTEM_PROMPT"
        and isinstance(node.value, ast.Constant)
    )
    [agent] = analyze_python(source.encode(), "agent.py").agents
    prompt = agent.system_prompt
    assert prompt.startswith("You are the sales-operations assistant of Northwind Robotics")
    assert "{tool_list}" not in prompt and "- search_files:" not in prompt
    assert prompt == template.replace("{tool_list}", "")
    assert prompt.endswith("Tools available:\n\n")
    assert agent.system_prompt_chars == len(prompt) > 1000


# Before prompts were followed as text (the sum of CrewAI's three fields was 114; now joined by newlines).
FRAMEWORK_CHARS_BEFORE = {
    "adk_agent": 55,
    "anthropic_loop": 104,
    "code_mode_agent": 0,
    "crewai_agent": 114,
    "langchain_agent": 32,
    "mcp_use_agent": 0,
    "mcp_use_config_agent": 0,
    "openai_agents_sdk": 76,
    "openai_chat": 64,
    "prompt_chatbot": 0,
    "pydantic_ai_agent": 53,
    "smolagents_agent": 0,
}


@pytest.mark.parametrize("name", sorted(FRAMEWORK_CHARS_BEFORE))
def test_framework_fixture_prompts_keep_their_length(name: str) -> None:
    rel = f"agents/{name}.py"
    facts = analyze_python((FRAMEWORKS / rel).read_bytes(), rel)
    [agent] = facts.agents
    assert agent.system_prompt_chars == len(agent.system_prompt) >= FRAMEWORK_CHARS_BEFORE[name]
    if FRAMEWORK_CHARS_BEFORE[name]:
        assert agent.system_prompt.strip() and "{" not in agent.system_prompt


NOT_STATIC = {
    "a parameter": "system = user",
    "an undefined helper": "system = build_prompt(user)",
    "every field run-time": 'system = "{a}{b}".format(**settings)',
    "malformed braces": 'system = "{".format(user)',
    "a huge repeat": 'system = "x" * 1000000000',
    "a huge format width": 'system = "{:>999999999}".format("a")',
    "bytes": 'system = b"abc"',
    "a non-string join": 'system = ", ".join([1, 2])',
    "a method the analysis does not follow": 'system = "abc".upper()',
    "a string method on a run-time receiver": "system = user.format(x=1)",
}


@pytest.mark.parametrize("body", list(NOT_STATIC.values()), ids=list(NOT_STATIC))
def test_prompts_not_known_statically_give_empty_text(body: str) -> None:
    agent = anthropic_agent("settings = load()", body)
    assert (agent.system_prompt, agent.system_prompt_chars) == ("", 0)


def test_no_model_call_no_prompt_and_no_errors() -> None:
    source = """
        from mcp import ClientSession

        PROMPT = "You are a bot with {n} tools." % ()

        async def run(session: ClientSession) -> None:
            text = PROMPT.format(n=3) + "%d%%" % "x"
            await session.call_tool("search", {"q": text})
        """
    facts = analyze(source)
    assert not facts.problems
    [agent] = facts.agents
    assert agent.system_prompt == "" and agent.system_prompt_chars == 0


def test_exact_string_building_resolves_server_launch_arguments() -> None:
    source = """
        from mcp import StdioServerParameters

        ROOT = "servers"
        params = StdioServerParameters(command="python", args=["{}/weather.py".format(ROOT), "--port=%d" % 8000])
        """
    [spec] = analyze(source).servers
    assert spec.args == ("servers/weather.py", "--port=8000")
