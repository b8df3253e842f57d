"""Honest scripted models for the benchmarks: they work only from what their requests showed them.

Each model reads the request the way a model would -- the task, the tools offered, earlier tool results
or the printed output of earlier scripts -- and answers with the next turn. Every turn passes
``support.honesty.honesty_check`` (installed on the server), so a model cannot use a tool name, module,
argument or result field it was never shown, and facts it writes for people (a Slack summary, the final
answer) are quoted from text it was shown (``HonestTurn.quotes``). The server cuts any turn at the
request's ``max_tokens``.

Code mode works through the documented path: the first script searches the generated package
(``search_tools``, as the prompt says: a few words per need, ``limit=2``); the next one calls what it
found, reading the signatures it was shown (argument names, and return fields read as attributes under
the names the line gives, e.g. ``doc.id_``). When a signature leaves out something it needs, or a script
fails, the model reads the tools' full documentation and writes the script again; after a second failure it gives up and
says so (the run then fails its checks). Each script starts with a ``# step: <name>`` comment, which is
how the model recognises its own earlier work in the conversation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from support.honesty import HonestTurn, visible_identifiers
from support.scripted_api import (
    Exchange,
    PolicyError,
    ToolCall,
    Turn,
    exchanges,
    find_tool,
    tool_names,
    user_task,
)

_STEP = re.compile(r"^# step: ([a-z-]+)", re.MULTILINE)
_ORDINAL = re.compile(r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten):\s*([^.]+)\.", re.IGNORECASE)


def lit(text: str) -> str:
    """A Python string literal."""
    return json.dumps(text, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------
# What the model has learnt about the generated package from printed output


@dataclass
class ToolInfo:
    """A tool as the printed discovery output showed it."""

    server: str
    tool: str
    params: set[str] = field(default_factory=set)
    context: str = ""  # every piece of shown text that is about this tool

    def knows(self, *words: str) -> bool:
        found = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", self.context))
        return all(w in found for w in words)


def _balanced(text: str, start: int) -> int:
    """Index just past the bracket that closes the one before `start`."""
    depth, i = 1, start
    while i < len(text) and depth:
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
        i += 1
    return i


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def learn_tools(texts: Sequence[str]) -> dict[str, ToolInfo]:
    """Tools named as `server.tool(args)` (a search line) or `from servers.X import tool` (a full entry)."""
    out: dict[str, ToolInfo] = {}
    for text in texts:
        for m in re.finditer(r"\b(?:servers\.)?([A-Za-z_]\w*)\.([A-Za-z_]\w*)\(", text):
            server, tool = m.groups()
            if server == "servers" or tool.startswith("_"):
                continue
            end = _balanced(text, m.end())
            info = out.setdefault(tool, ToolInfo(server, tool))
            for chunk in _split_top(text[m.end() : end - 1]):
                name = re.match(r"[\s\[\]*]*([A-Za-z_]\w*)", chunk)
                if name:
                    info.params.add(name.group(1))
            line_end = text.find("\n", end)
            info.context += "\n" + text[m.start() : line_end if line_end >= 0 else len(text)]
        for m in re.finditer(r"from servers\.([A-Za-z_]\w*) import ([A-Za-z_]\w*)", text):
            server, tool = m.groups()
            nxt = text.find("from servers.", m.end())
            block = text[m.start() : nxt if nxt >= 0 else len(text)]
            info = out.setdefault(tool, ToolInfo(server, tool))
            info.context += "\n" + block
            sig = re.search(rf"\b{re.escape(tool)}\(", block)
            if sig:
                end = _balanced(block, sig.end())
                for chunk in _split_top(block[sig.end() : end - 1]):
                    name = re.match(r"[\s\[\]*]*([A-Za-z_]\w*)", chunk)
                    if name and name.group(1) != "_":
                        info.params.add(name.group(1))
    return out


# ---------------------------------------------------------------------------------------------------
# Reading a code-mode conversation


@dataclass(frozen=True)
class Run:
    """One execute-code call: its step, its code and what came back."""

    step: str
    code: str
    output: str
    is_error: bool


def code_tool(request: Mapping[str, Any]) -> str:
    """The offered tool that takes `code`."""
    names = [
        str(t.get("name"))
        for t in request.get("tools") or []
        if "code" in ((t.get("input_schema") or {}).get("properties") or {})
    ]
    if len(names) != 1:
        raise PolicyError(f"code mode needs one tool with a 'code' argument; offered: {tool_names(request)}")
    return names[0]


def runs_of(request: Mapping[str, Any], tool: str) -> list[Run]:
    out = []
    for e in exchanges(request):
        if e.name != tool:
            continue
        code = str(e.input.get("code", ""))
        step = _STEP.search(code)
        if e.result is None:
            raise PolicyError(f"the client sent no tool_result for {tool}")
        out.append(Run(step.group(1) if step else "?", code, e.result, e.is_error))
    return out


def error_line(output: str) -> str:
    """The last non-empty line of a failed run's output (the exception)."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def printed_value(output: str, label: str) -> str:
    """The rest of the printed line `label: value`."""
    m = re.search(rf"^{re.escape(label)}: (.+)$", output, re.MULTILINE)
    if not m:
        raise PolicyError(f"the script's output has no line {label!r}: {output[:300]!r}")
    return m.group(1).strip()


def next_steps(text: str) -> list[str]:
    """Items of the last enumerated recap ('one: ... Two: ...') in `text`, quoted as written."""
    start = text.lower().rfind("next step")
    return [m.group(1).strip() for m in _ORDINAL.finditer(text[max(start, 0) :])]


def import_lines(*tools: ToolInfo) -> str:
    """`from servers.<server> import <tool>, ...`: one line per server, in the order the tools are given."""
    servers = dict.fromkeys(t.server for t in tools)
    return "".join(
        f"from servers.{server} import {', '.join(t.tool for t in tools if t.server == server)}\n"
        for server in servers
    )


@dataclass(frozen=True)
class Need:
    """A tool the task needs: its name, the arguments the script passes and the result fields it reads."""

    tool: str
    params: tuple[str, ...]
    fields: tuple[str, ...] = ()


class CodeModel:
    """Shared behaviour of the code-mode models: discover, check the signatures, write a step, react to errors.

    Subclasses give `queries` (what the task's words make the model search for), `needs`, and
    `step(name, request, runs, tools)` for the work itself.
    """

    queries: tuple[str, ...] = ()
    needs: tuple[Need, ...] = ()
    first_step = "work"
    limit = 2  # what the prompt suggests per search

    def respond(self, request: Mapping[str, Any]) -> Turn:
        user_task(request)
        tool = code_tool(request)
        runs = runs_of(request, tool)
        if not runs:
            return self.discover(tool, request)
        tools = learn_tools([r.output for r in runs if not r.is_error])
        last = runs[-1]
        if last.is_error:
            return self.react(tool, request, runs, tools)
        if last.step in ("discover", "read"):
            missing = self.missing(tools)
            if missing and last.step == "discover":
                return self.read(tool, missing)
            if missing:
                raise PolicyError(f"the documentation shown never told the model {missing}")
            return self.step(self.first_step, tool, request, runs, tools)
        return self.after(last.step, tool, request, runs, tools)

    # the generic parts ---------------------------------------------------------------------------
    def discover(self, tool: str, request: Mapping[str, Any]) -> Turn:
        """One search per need: by the tool's name with limit=1 when the request already names it (the
        agent's instructions often do), else by the task's words with the prompt's limit."""
        if len(self.queries) != len(self.needs):
            raise PolicyError("a code model needs one query per need")
        named = visible_identifiers(request)
        searches = [
            (need.tool, 1) if need.tool in named else (query, self.limit)
            for query, need in zip(self.queries, self.needs, strict=True)
        ]
        code = "# step: discover\nfrom servers import search_tools\n\n" + "".join(
            f"print(search_tools({lit(q)}, limit={n}))\n" for q, n in searches
        )
        return Turn("First I'll find the tools this needs.", (ToolCall(tool, {"code": code}),))

    def missing(self, tools: Mapping[str, ToolInfo]) -> list[str]:
        """Tools, arguments and result fields the model needs but has not been shown."""
        out = []
        for need in self.needs:
            info = tools.get(need.tool)
            if info is None or not set(need.params) <= info.params or not info.knows(*need.fields):
                out.append(need.tool)
        return out

    def read(self, tool: str, names: Sequence[str]) -> Turn:
        code = "# step: read\nfrom servers import search_tools\n\n" + "".join(
            f'print(search_tools({lit(n)}, detail="full", limit=1))\n' for n in names
        )
        return Turn(
            "The signatures leave out what I need; reading the full documentation.",
            (ToolCall(tool, {"code": code}),),
        )

    def react(
        self, tool: str, request: Mapping[str, Any], runs: Sequence[Run], tools: Mapping[str, ToolInfo]
    ) -> Turn:
        """A script failed: read the docs once and write the step again; after that, give up and say so."""
        last = runs[-1]
        fixed = self.fix(last, tools)
        if fixed is not None and sum(r.is_error for r in runs) <= 2:
            return fixed
        if not any(r.step == "read" for r in runs) and last.step not in ("discover", "read"):
            return self.read(tool, [n.tool for n in self.needs])
        failure = error_line(last.output)
        return HonestTurn(
            f"I could not finish the task: the {last.step} script failed with {failure}", quotes=(failure,)
        )

    def fix(self, failed: Run, tools: Mapping[str, ToolInfo]) -> Turn | None:
        """A scenario-specific repair of a failed script, from its error output; None when there is none."""
        return None

    def info(self, tools: Mapping[str, ToolInfo], name: str) -> ToolInfo:
        found = tools.get(name)
        if found is None:
            raise PolicyError(f"the model was never shown the tool {name!r}")
        return found

    # the scenario --------------------------------------------------------------------------------
    def step(
        self,
        name: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        raise NotImplementedError

    def after(
        self,
        step: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------
# The seed scenario: transcript Drive -> Salesforce lead -> Slack

SEED_CHANNEL = "#sales-updates"


@dataclass(frozen=True)
class SeedWords:
    """What the seed task's words give a model to search and filter with."""

    document_query: str = "Acme Logistics discovery call transcript"
    document_words: tuple[str, ...] = ("acme", "transcript")
    lead_query: str = "Dana Whitfield"
    company_word: str = "acme"
    channel: str = SEED_CHANNEL


def seed_slack_text(
    company: str, doc_name: str, lead: str, lead_id: str, note_id: str, steps: Sequence[str]
) -> str:
    text = (
        f"{company}: the transcript of the discovery call ({doc_name}) is attached in full to {lead}'s lead "
        f"in Salesforce ({lead_id}, note {note_id})."
    )
    if steps:
        text += (
            " Next steps from the call's recap: "
            + "; ".join(f"({i}) {s}" for i, s in enumerate(steps, 1))
            + "."
        )
    return text


class SeedCodeModel(CodeModel):
    """Code mode on the seed task: discover, attach (printing the call's recap), post to Slack, answer."""

    queries = ("search files", "get document", "find lead", "attach note lead", "post message")
    needs = (
        Need("search_files", ("query",), ("files", "id_", "name")),
        Need("get_document", ("document_id",), ("ToolResult",)),
        Need("find_lead", ("query",), ("records", "id_", "name", "company")),
        Need("attach_note_to_lead", ("lead_id", "title", "body"), ("note", "id_")),
        Need("post_message", ("channel", "text"), ("ok",)),
    )
    first_step = "attach"

    def __init__(self, words: SeedWords | None = None) -> None:
        self.words = words or SeedWords()

    def step(
        self,
        name: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        w = self.words
        if name == "attach":
            sf, gd, fl, an = (
                self.info(tools, n)
                for n in ("search_files", "get_document", "find_lead", "attach_note_to_lead")
            )
            match = " and ".join(f"{lit(x)} in f.name.lower()" for x in w.document_words)
            code = f"""# step: attach
{import_lines(sf, gd, fl, an)}
found = await {sf.tool}(query={lit(w.document_query)})
doc = next(f for f in found.files if {match})
transcript = (await {gd.tool}(document_id=doc.id_)).text
leads = await {fl.tool}(query={lit(w.lead_query)})
lead = next(r for r in leads.records if {lit(w.company_word)} in r.company.lower())
note = (await {an.tool}(lead_id=lead.id_, title=doc.name, body=transcript)).note
print(f"document: {{doc.name}} ({{len(transcript)}} chars)")
print(f"lead: {{lead.id_}}")
print(f"lead name: {{lead.name}}")
print(f"company: {{lead.company}}")
print(f"note: {{note.id_}}")
start = transcript.lower().rfind("next step")
print("end of the call:")
print(transcript[start:start + 2500] if start >= 0 else transcript[-2500:])
"""
            return Turn(
                "Now the transcript: find it, read it in the sandbox, attach it to the lead, and show me how the call ended.",
                (ToolCall(tool, {"code": code}),),
            )
        if name == "post":
            done = next(r for r in reversed(runs) if r.step == "attach" and not r.is_error)
            pm = self.info(tools, "post_message")
            facts = {k: printed_value(done.output, k) for k in ("lead", "lead name", "company", "note")}
            doc_name = re.sub(r" \(\d+ chars\)$", "", printed_value(done.output, "document"))
            steps = next_steps(done.output.split("end of the call:", 1)[-1])
            text = seed_slack_text(
                facts["company"], doc_name, facts["lead name"], facts["lead"], facts["note"], steps
            )
            code = f"""# step: post
from servers.{pm.server} import {pm.tool}

posted = await {pm.tool}(channel={lit(w.channel)}, text={lit(text)})
print(f"posted: {{posted.ok}}")
"""
            return HonestTurn(
                "Attached. Now a short note to the team with the next steps from the recap.",
                (ToolCall(tool, {"code": code}),),
                quotes=(doc_name, *facts.values(), *steps),
            )
        raise PolicyError(f"unknown step {name!r}")

    def after(
        self,
        step: str,
        tool: str,
        request: Mapping[str, Any],
        runs: Sequence[Run],
        tools: Mapping[str, ToolInfo],
    ) -> Turn:
        if step == "attach":
            return self.step("post", tool, request, runs, tools)
        if step == "post":
            attach = next(r for r in reversed(runs) if r.step == "attach" and not r.is_error)
            note, lead = printed_value(attach.output, "note"), printed_value(attach.output, "lead")
            return HonestTurn(
                f"Done: the full transcript is attached to lead {lead} as note {note}, and the team was told in "
                f"{self.words.channel}.",
                quotes=(note, lead),
            )
        raise PolicyError(f"no step follows {step!r}")


class SeedDirectModel:
    """Direct MCP on the seed task: one tool call per turn, the transcript copied into the CRM call."""

    def __init__(self, words: SeedWords | None = None) -> None:
        self.words = words or SeedWords()

    def respond(self, request: Mapping[str, Any]) -> Turn:
        user_task(request)
        w = self.words
        names = {
            base: find_tool(request, base)
            for base in ("search_files", "get_document", "find_lead", "attach_note_to_lead", "post_message")
        }
        base_of = {real: base for base, real in names.items()}
        done = [e for e in exchanges(request) if e.name in base_of]
        by = {base_of[e.name]: e for e in done}
        if done and done[-1].is_error:
            failure = (done[-1].result or "").strip().splitlines()[-1:] or ["(no text)"]
            return HonestTurn(
                f"I could not finish: {done[-1].name} failed: {failure[0]}", quotes=(failure[0],)
            )
        if "search_files" not in by:
            return Turn(
                "I'll find the transcript in Google Drive.",
                (ToolCall(names["search_files"], {"query": w.document_query}),),
            )
        if "get_document" not in by:
            files = _json(by["search_files"]).get("files") or []
            doc = next(
                (f for f in files if all(x in str(f.get("name", "")).lower() for x in w.document_words)), None
            )
            if doc is None:
                return HonestTurn("I found no transcript for that call in Drive.")
            return HonestTurn(
                f'Found "{doc["name"]}". Reading it.',
                (ToolCall(names["get_document"], {"document_id": doc["id"]}),),
                quotes=(doc["id"],),
            )
        if "find_lead" not in by:
            return Turn(
                "I have the transcript. Now the lead.",
                (ToolCall(names["find_lead"], {"query": w.lead_query}),),
            )
        if "attach_note_to_lead" not in by:
            records = _json(by["find_lead"]).get("records") or []
            lead = next((r for r in records if w.company_word in str(r.get("company", "")).lower()), None)
            if lead is None:
                return HonestTurn(f"No lead matches {w.lead_query}.")
            doc = self._doc(by)
            return HonestTurn(
                f"The lead is {lead['name']} ({lead['id']}). Attaching the complete transcript as a note.",
                (
                    ToolCall(
                        names["attach_note_to_lead"],
                        {
                            "lead_id": lead["id"],
                            "title": doc["name"],
                            "body": by["get_document"].result or "",
                        },
                    ),
                ),
                quotes=(lead["id"], doc["name"]),
            )
        if "post_message" not in by:
            outcome = _json(by["attach_note_to_lead"])
            lead = next(
                r
                for r in _json(by["find_lead"]).get("records") or []
                if w.company_word in str(r.get("company", "")).lower()
            )
            note_id = str((outcome.get("note") or {}).get("id"))
            steps = next_steps(by["get_document"].result or "")
            text = seed_slack_text(
                lead["company"], self._doc(by)["name"], lead["name"], lead["id"], note_id, steps
            )
            return HonestTurn(
                "The transcript is on the lead. Telling the team.",
                (ToolCall(names["post_message"], {"channel": w.channel, "text": text}),),
                quotes=(note_id, lead["id"], *steps),
            )
        note_id = str((_json(by["attach_note_to_lead"]).get("note") or {}).get("id"))
        lead_id = str((_json(by["attach_note_to_lead"]).get("lead") or {}).get("id"))
        return HonestTurn(
            f"Done: the full transcript is attached to lead {lead_id} as note {note_id}, and the team was told in {w.channel}.",
            quotes=(note_id, lead_id),
        )

    def _doc(self, by: Mapping[str, Exchange]) -> Mapping[str, Any]:
        files = _json(by["search_files"]).get("files") or []
        return next(
            f for f in files if all(x in str(f.get("name", "")).lower() for x in self.words.document_words)
        )


def _json(exchange: Exchange) -> dict[str, Any]:
    try:
        value = json.loads(exchange.result or "")
    except json.JSONDecodeError as exc:
        raise PolicyError(f"{exchange.name} did not return JSON: {(exchange.result or '')[:200]!r}") from exc
    if not isinstance(value, dict):
        raise PolicyError(f"{exchange.name} returned {type(value).__name__}, not an object")
    return value


ModelFactory = Callable[[], Any]
