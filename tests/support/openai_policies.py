"""Policies for the scripted OpenAI-compatible server: one task, worked through directly or in code mode.

A :class:`Task` is what a user asks and how a model would get it done from data it reads: which tools
(by base name), which record to pick from a listing, what to write. :class:`DirectPolicy` calls the
offered MCP tools one round trip at a time. :class:`CodePolicy` only has the code tool: it learns
how to find tools from the system prompt it was sent, runs a discovery script, reads the import
paths and parameter names from that script's printed output, then writes one program against
`servers/` with exactly those names. Both build the final answer with :meth:`Task.answer` from what
the tools returned, so a migrated agent and its original give the same answer when (and only when)
the model saw the same data.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from support.scripted_openai import Conversation, Exchange, PolicyError, ToolCall, Turn


@dataclass(frozen=True)
class Task:
    """List records with one tool, pick one whose `match_field` contains `match`, update it with another."""

    list_tool: str  # base name, e.g. "list_tickets"
    list_args: Mapping[str, Any]
    items_key: str  # the listing's key holding the records
    match_field: str
    match: str
    update_tool: str
    id_arg: str  # the update tool's parameter that takes the record id
    update_args: Mapping[str, Any]
    search_query: str  # words a model would search the tool catalogue with

    def pick(self, listing: Any) -> Mapping[str, Any]:
        items = listing.get(self.items_key) if isinstance(listing, Mapping) else None
        if not isinstance(items, list):
            raise PolicyError(f"the listing has no {self.items_key!r} list: {str(listing)[:300]}")
        for item in items:
            if isinstance(item, Mapping) and self.match.casefold() in str(item.get(self.match_field, "")).casefold():
                return item
        raise PolicyError(f"no record whose {self.match_field} mentions {self.match!r} in {str(items)[:300]}")

    def answer(self, listing: Any, updated: Any) -> str:
        """The final answer, from the listing and the update's result (the same words in both modes)."""
        picked = self.pick(listing)
        seen = ", ".join(f"{i.get('id')} {i.get(self.match_field)!r}" for i in listing[self.items_key])
        if not isinstance(updated, Mapping):
            raise PolicyError(f"{self.update_tool} returned {str(updated)[:300]}")
        detail = json.dumps({k: v for k, v in updated.items() if k != "id"}, sort_keys=True)
        return f"Updated {picked.get('id')} ({picked.get(self.match_field)}): {detail}. Records seen: {seen}."


def _json(exchange: Exchange, step: str) -> Any:
    if exchange.output is None:
        raise PolicyError(f"{step}: no output for {exchange.name}")
    try:
        return json.loads(exchange.output)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{step}: {exchange.name} did not return JSON: {exchange.output[:300]!r}") from exc


@dataclass(frozen=True)
class DirectPolicy:
    """Calls the task's tools directly: list, then update, then answer."""

    task: Task

    def respond(self, conversation: Conversation) -> Turn:
        t = self.task
        lister = conversation.find_tool(t.list_tool)
        updater = conversation.find_tool(t.update_tool)
        done = [e for e in conversation.exchanges if e.name in (lister.name, updater.name)]
        if not done:
            return Turn("Let me look at the queue first.", (ToolCall(lister.name, dict(t.list_args)),))
        listing = _json(next(e for e in done if e.name == lister.name), "reading the listing")
        if done[-1].name == lister.name:
            picked = t.pick(listing)
            return Turn(
                f"Found {picked.get('id')}. Updating it.",
                (ToolCall(updater.name, {t.id_arg: picked.get("id"), **t.update_args}),),
            )
        return Turn(t.answer(listing, _json(done[-1], "reading the update")))


# ---------------------------------------------------------------------------------------------------
# code mode: only what the requests showed


def output_text(raw: str | None) -> str:
    """What a script printed, as the agent forwarded it: plain text, or JSON carrying it (structured content)."""
    if raw is None:
        return ""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "\n".join(v for v in value.values() if isinstance(v, str))
    return raw


@dataclass(frozen=True)
class Signature:
    module: str
    function: str
    parameters: tuple[str, ...]


def read_catalogue(text: str) -> dict[str, Signature]:
    """`from <module> import <fn>` lines, each followed by that function's signature, from search output."""
    found: dict[str, Signature] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        head = re.match(r"\s*from ([\w.]+) import (\w+)\b", line)
        if not head:
            continue
        module, function = head.groups()
        for sig_line in lines[i + 1 : i + 4]:
            sig = re.match(rf"\s*(?:async\s+)?(?:def\s+)?{re.escape(function)}\(", sig_line)
            if not sig:
                continue
            header = "def " + re.sub(r"^(?:async\s+)?(?:def\s+)?", "", sig_line.strip())
            try:
                tree = ast.parse(header.rstrip(":") + ": ...")
            except SyntaxError:
                break
            fn = tree.body[0]
            assert isinstance(fn, ast.FunctionDef)
            names = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)]
            found[function] = Signature(module, function, tuple(names))
            break
    return found


def _search_hint(system: str) -> tuple[str, str]:
    """The module and function the system prompt says find tools (`from servers import search_tools`)."""
    hint = re.search(r"from ([\w.]+) import (search_tools)\b", system)
    if not hint:
        raise PolicyError(
            "the system prompt does not say how to find the tools (no `from ... import search_tools`); "
            f"system text was: {system[:300]!r}"
        )
    return hint.group(1), hint.group(2)


def _pick(catalogue: Mapping[str, Signature], base: str, needs: tuple[str, ...]) -> Signature:
    options = [s for name, s in catalogue.items() if name == base or name.endswith("_" + base)]
    if len(options) != 1:
        raise PolicyError(f"the discovery output shows {len(options)} functions like {base!r}: {sorted(catalogue)}")
    missing = [n for n in needs if n not in options[0].parameters]
    if missing:
        raise PolicyError(f"{options[0].function} takes {options[0].parameters}, not {missing}")
    return options[0]


def _kwargs(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


@dataclass(frozen=True)
class CodePolicy:
    """Discovers the tools with a first script, then does the whole task in a second one."""

    task: Task

    def respond(self, conversation: Conversation) -> Turn:
        t = self.task
        tool = conversation.code_tool()
        runs = [e for e in conversation.exchanges if e.name == tool.name]
        if not runs:
            module, search = _search_hint(conversation.system)
            code = f"from {module} import {search}\nprint({search}({t.search_query!r}, detail='full'))\n"
            return Turn("Let me find the tools.", (ToolCall(tool.name, {"code": code}),))
        if len(runs) == 1:
            catalogue = read_catalogue(output_text(runs[0].output))
            lister = _pick(catalogue, t.list_tool, tuple(t.list_args))
            updater = _pick(catalogue, t.update_tool, (t.id_arg, *t.update_args))
            imports = sorted({(lister.module, lister.function), (updater.module, updater.function)})
            code = "\n".join(
                [
                    "import json",
                    *(f"from {m} import {f}" for m, f in imports),
                    "",
                    f"listing = (await {lister.function}({_kwargs(t.list_args)})).structured_content",
                    f"record = next(r for r in listing[{t.items_key!r}] "
                    f"if {t.match.casefold()!r} in str(r.get({t.match_field!r}, '')).lower())",
                    f"updated = (await {updater.function}({t.id_arg}=record['id'], {_kwargs(t.update_args)}))"
                    ".structured_content",
                    'print(json.dumps({"listing": listing, "updated": updated}))',
                    "",
                ]
            )
            return Turn("Now the whole task in one script.", (ToolCall(tool.name, {"code": code}),))
        text = output_text(runs[-1].output)
        last = next((line for line in reversed(text.splitlines()) if line.startswith("{")), None)
        if last is None:
            raise PolicyError(f"the script printed no JSON: {text[:2000]}")
        printed = json.loads(last)
        return Turn(t.answer(printed["listing"], printed["updated"]))


TICKETS = Task(
    list_tool="list_tickets",
    list_args={"status": "open"},
    items_key="tickets",
    match_field="title",
    match="printer",
    update_tool="add_comment",
    id_arg="ticket_id",
    update_args={"text": "A technician is on the way."},
    search_query="ticket",
)
TICKETS_TASK = "Something is burning near a printer. Find its open ticket and tell the reporter a technician is coming."
