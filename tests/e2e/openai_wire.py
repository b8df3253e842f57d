"""The harness's brains behind the scripted OpenAI-compatible server (Chat Completions and Responses).

`OpenAIPolicy` reads each request as the scripted server's neutral `Conversation`, hands the brain the
same `View` the Anthropic adapter builds, and returns the brain's turn in the server's terms. The
server itself enforces that a turn calls only offered tools with declared argument names and fits the
request's output budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from support import scripted_openai as oai

from e2e.harness import Brain, Exchange, View


def openai_view(conversation: oai.Conversation) -> View:
    """A Chat Completions or Responses request as the brains' `View`."""
    if not conversation.task:
        raise oai.PolicyError("the request has no user message")
    return View(
        system=conversation.system,
        tools=tuple(
            {"name": t.name, "description": t.description, "schema": dict(t.parameters)}
            for t in conversation.tools
        ),
        task=conversation.task,
        exchanges=tuple(Exchange(e.name, e.arguments, e.output) for e in conversation.exchanges),
        max_tokens=conversation.max_output_tokens or 0,
    )


@dataclass
class OpenAIPolicy:
    """A `scripted_openai.Policy` driven by a provider-neutral brain."""

    brain: Brain

    def respond(self, conversation: oai.Conversation) -> oai.Turn:
        turn = self.brain.respond(openai_view(conversation))
        return oai.Turn(turn.text, tuple(oai.ToolCall(c.name, c.input) for c in turn.tool_calls))
