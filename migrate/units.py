"""The agent is the unit of a rewrite: all its rules apply together, or none of its files change.

Which agents there are, which files each one spans (the module holding its model loop or framework
agent, plus the helper modules whose MCP code it runs) and what the decision framework says about
each come from the audit's program model (`Inventory.agents`, each an `AgentUnit` in the plan); this
module only selects and checks. An agent that the decision would migrate is rewritten whole across its
files or left byte-identical and listed under "needs manual migration" with `file:line` and the reason:

* a site a rule had to leave alone (a dispatch it could not route, a tool list it could not replace,
  a literal call it could not map, a prompt it could not rewrite) means the agent would end half on
  MCP and half on code mode;
* a model loop must come out complete: tool list, dispatch and prompt all on `CodeMode`;
* host-side literal calls moved onto wrappers while the rest stays on the MCP session would run on a
  second server process (what the host created, the model would not see);
* no codemod applies to its code at all (the rules cannot see what the model sees across files);
* it shares a file with an agent that stays (kept on direct MCP, or already on code mode) and the
  codemods cannot rewrite one without the other.

Agents that share a file are one group: the group is written whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cfmigrate.migrate.rules._plan import AgentUnit

if TYPE_CHECKING:
    from cfmigrate.migrate.runner import FileResult

# Sites these rules leave alone make the agent incomplete (CFM006: CodeMode could not be opened with the
# agent's own launches); CFM007 and CFM008 only report.
_BLOCKING_RULES = frozenset({"CFM001", "CFM002", "CFM003", "CFM004", "CFM005", "CFM006"})
_INFORMATIONAL = ("is kept on direct MCP by the audit decision",)
_MODEL_RULES = frozenset({"CFM002", "CFM003"})


@dataclass(frozen=True)
class Manual:
    """An agent left on direct MCP because it cannot be rewritten whole."""

    path: str
    line: int
    reason: str


@dataclass(frozen=True)
class Selection:
    """What a run does with the audit's agents before any rule runs."""

    files: tuple[str, ...]  # files to run the rules on: every file of every agent that moves
    units: tuple[AgentUnit, ...]  # the agents that move (their files are rewritten whole or not at all)
    skipped: tuple[tuple[str, int, str], ...]  # agents left on direct MCP by the decision (path, line, why)
    notes: tuple[str, ...]  # agents already on code mode, tool scripts
    manual: tuple[Manual, ...]  # agents the decision would move that cannot be rewritten apart from others


def blocking(result: FileResult) -> list[tuple[int, str, str]]:
    """(line, rule, message) of the sites in a file that leave its agent incomplete."""
    return [
        (site.line, site.rule, site.message)
        for site in result.sites
        if not site.applied
        and site.rule in _BLOCKING_RULES
        and not any(mark in site.message for mark in _INFORMATIONAL)
    ]


def select(
    units: Sequence[AgentUnit], targets: Iterable[str] | None = None, tool_scripts: Iterable[str] = ()
) -> Selection:
    """The agents a run considers (all, or those with a file among `targets`) and what happens to each."""
    wanted = set(targets) if targets is not None else None
    chosen = [u for u in units if wanted is None or wanted & set(u.files)]
    owners: dict[str, list[AgentUnit]] = {}
    for unit in units:
        for rel in unit.files:
            owners.setdefault(rel, []).append(unit)
    skipped: list[tuple[str, int, str]] = []
    notes: list[str] = []
    manual: list[Manual] = []
    moving: list[AgentUnit] = []
    for unit in chosen:
        if unit.action == "code-mode":
            notes.append(f"{unit.path}: {unit.reason}")
        elif unit.action == "held":
            skipped.append((unit.path, unit.line, unit.reason))
        else:
            why = _entangled(unit, owners)
            if why:
                manual.append(Manual(unit.path, unit.line, f"{unit.name} not moved onto code mode: {why}"))
            else:
                moving.append(unit)
    notes.extend(tool_scripts)
    files = sorted({rel for unit in moving for rel in unit.files})
    return Selection(tuple(files), tuple(moving), tuple(skipped), tuple(notes), tuple(manual))


def _entangled(unit: AgentUnit, owners: Mapping[str, Sequence[AgentUnit]]) -> str:
    """Why this agent cannot be rewritten without touching an agent that stays, else ""."""
    for rel in unit.files:
        others = [o for o in owners.get(rel, ()) if o.action != "migrate"]
        if not others:
            continue
        if rel == unit.path and all(o.action == "held" and o.separable for o in others):
            continue  # framework agents built one call each: CFM005 converts this one and leaves them be
        names = ", ".join(o.name for o in others)
        if any(o.action == "code-mode" for o in others):
            return (
                f"{rel} also holds {names}, already on code mode, and the codemods rewrite a file as a whole; "
                "move it by hand"
            )
        return (
            f"{rel} also holds {names}, which the decision keeps on direct MCP, and the codemods rewrite a file "
            "as a whole; move it by hand, or run `cfmigrate migrate --all` to move them together"
        )
    return ""


def whole_agents(
    results: Sequence[FileResult],
    units: Sequence[AgentUnit],
    files: Mapping[str, Path],
    code_mode_var: str = "code_mode",
) -> tuple[list[FileResult], list[Manual]]:
    """The results with every incomplete agent's files reverted, and the agents that need manual migration."""
    by_path = {r.path: r for r in results}
    out = dict(by_path)
    manual: list[Manual] = []
    for group in _groups(units):
        paths = sorted({rel for unit in group for rel in unit.files})
        members = [by_path[p] for p in paths if p in by_path]
        if any(m.status == "error" for m in members):
            errors = ", ".join(m.path for m in members if m.status == "error")
            reasons = [
                Manual(
                    u.path,
                    u.line,
                    f"{u.name} not moved onto code mode: {errors} cannot be rewritten (see errors)",
                )
                for u in group
            ]
        else:
            reasons = _reasons(group, members, paths, files, code_mode_var)
        if not reasons:
            continue
        for member in members:  # nothing of the group is applied; what was left alone stays listed
            if member.status == "error":
                continue
            kept = tuple(site for site in member.sites if not site.applied)
            out[member.path] = replace(member, status="unchanged", new=b"", old=b"", sites=kept)
        manual.extend(reasons)
    ordered = [out[r.path] for r in results]
    return ordered, sorted(set(manual), key=lambda m: (m.path, m.line, m.reason))


def _groups(units: Sequence[AgentUnit]) -> list[list[AgentUnit]]:
    """Agents that share a file, joined: each group is written whole or not at all."""
    parent = list(range(len(units)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, unit in enumerate(units):
        for rel in unit.files:
            if rel in first:
                parent[find(i)] = find(first[rel])
            else:
                first[rel] = i
    groups: dict[int, list[AgentUnit]] = {}
    for i, unit in enumerate(units):
        groups.setdefault(find(i), []).append(unit)
    return list(groups.values())


def _reasons(
    group: Sequence[AgentUnit],
    members: Sequence[FileResult],
    paths: Sequence[str],
    files: Mapping[str, Path],
    var: str,
) -> list[Manual]:
    found = [
        Manual(m.path, line, f"{rule}: {message}") for m in members for line, rule, message in blocking(m)
    ]
    changed = [m for m in members if m.status == "changed"]
    if found:
        found.sort(key=lambda m: (m.path, m.line))
        where = ", ".join(f"{m.path}:{m.line} ({m.reason.split(':', 1)[0]})" for m in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        found += _named(group, f"the codemods cannot rewrite {where}{more}; its files are left unchanged")
        if changed:
            found.append(
                Manual(
                    changed[0].path,
                    1,
                    "left unchanged: the agent is rewritten whole or not at all "
                    f"({', '.join(m.path for m in changed)} would have changed)",
                )
            )
        return found
    applied = {s.rule for m in members for s in m.sites if s.applied}
    untouched = [u for u in group if not any(m.status == "changed" for m in members if m.path in u.files)]
    if untouched:
        names = ", ".join(u.name for u in untouched)
        return [
            Manual(
                u.path,
                u.line,
                f"{u.name} not moved onto code mode: {_unreached(u, _text(b'', files.get(u.path)))}; move it by hand",
            )
            for u in untouched
        ] + _named(
            [u for u in group if u not in untouched],
            f"it shares its files with {names}, which cannot be rewritten; left unchanged",
        )
    if "CFM005" in applied:
        return []  # framework agents: CFM005 converts each agent as one piece
    texts = [_text(m.new if m.status == "changed" else m.old, files.get(m.path)) for m in members]
    texts += [_text(b"", files.get(p)) for p in paths if p not in {m.path for m in members}]
    code = "\n".join(texts)
    if applied & _MODEL_RULES:
        missing = [
            what
            for what, mark in (
                ("the tool list", ".tool_definitions("),
                ("the dispatch of the model's tool calls", ".handle_tool_use("),
                ("the prompt", ".system_prompt()"),
            )
            if f"{var}{mark}" not in code and mark not in code
        ]
        if missing:
            return _named(
                group,
                f"{' and '.join(missing)} could not be moved onto CodeMode with the rest of the agent; "
                "left unchanged (half on MCP and half on code mode, the model's calls would fail)",
            )
        return []
    if "CFM001" in applied and "CodeMode(" not in code and ".call_tool(" in code:
        return _named(
            group,
            "its literal tool calls would move to the generated wrappers (a second server process) while its "
            "other calls stay on the MCP session; left unchanged",
        )
    return []


def _unreached(unit: AgentUnit, source: str = "") -> str:
    """Why no codemod touched an agent the audit sees."""
    if len(unit.files) > 1:
        return (
            f"its MCP code is in {', '.join(unit.files[1:])} and its model requests in {unit.path}, and no codemod "
            "can follow the session or client across these modules"
        )
    if (
        ".wrap_async_context_manager(" in source
    ):  # anyio's blocking portal: sync code holding an async session
        return (
            f"no codemod rewrites its {unit.framework} code ({unit.path}): it drives its MCP session through an anyio "
            "blocking portal (`portal.call(session.call_tool, ...)`); open CodeMode with "
            "`portal.wrap_async_context_manager(CodeMode(...))` and dispatch with "
            "`portal.call(code_mode.handle_tool_use, name, arguments)`"
        )
    return f"no codemod rewrites its {unit.framework} code ({unit.path})"


def _named(group: Sequence[AgentUnit], why: str) -> list[Manual]:
    """One entry per agent of the group, at the line the audit reports it, naming it."""
    return [Manual(u.path, u.line, f"{u.name} not moved onto code mode: {why}") for u in group]


def _text(data: bytes, path: Path | None) -> str:
    if not data and path is not None:
        try:
            data = path.read_bytes()
        except OSError:
            return ""
    return data.decode("utf-8", "replace")
