"""The agent is the unit of a rewrite: all its rules apply together, or none of its files change.

The rules work file by file; an agent may span several files (a helper module wrapping the session
and the module holding the model loop). Files are grouped by their imports (a file with rule sites,
the files it imports and the files importing it), and every group that the rules changed is checked
as a whole before anything is written:

* a site a rule had to leave alone (a dispatch it could not route, a tool list it could not replace,
  a literal call it could not map, a prompt it could not rewrite) means the agent would end half on
  MCP and half on code mode;
* a model loop must come out complete: tool list, dispatch and prompt all on `CodeMode`;
* host-side literal calls moved onto wrappers while the rest stays on the MCP session would run on a
  second server process (what the host created, the model would not see).

Such a group keeps its files byte-identical and is listed under "needs manual migration" with
`file:line` and the reason; a group with a blocking site and no change is listed too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

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


def blocking(result: FileResult) -> list[tuple[int, str, str]]:
    """(line, rule, message) of the sites in a file that leave its agent incomplete."""
    return [
        (site.line, site.rule, site.message)
        for site in result.sites
        if not site.applied
        and site.rule in _BLOCKING_RULES
        and not any(mark in site.message for mark in _INFORMATIONAL)
    ]


def whole_agents(
    results: Sequence[FileResult], files: Mapping[str, Path], code_mode_var: str = "code_mode"
) -> tuple[list[FileResult], list[Manual]]:
    """The results with every incomplete agent's files reverted, and the agents that need manual migration."""
    by_path = {r.path: r for r in results}
    interesting = [r.path for r in results if r.status != "error" and (r.status == "changed" or blocking(r))]
    if not interesting:
        return list(results), []
    groups = _groups(interesting, files)
    out = dict(by_path)
    manual: list[Manual] = []
    for group in groups:
        members = [by_path[p] for p in group if p in by_path]
        reasons = _reasons(members, group, files, code_mode_var)
        if not reasons:
            continue
        for member in members:  # nothing of the group is applied; what was left alone stays listed
            kept = tuple(site for site in member.sites if not site.applied)
            out[member.path] = replace(member, status="unchanged", new=b"", old=b"", sites=kept)
        manual.extend(reasons)
    ordered = [out[r.path] for r in results]
    return ordered, sorted(set(manual), key=lambda m: (m.path, m.line, m.reason))


def _reasons(
    members: Sequence[FileResult], group: Sequence[str], files: Mapping[str, Path], var: str
) -> list[Manual]:
    found = [
        Manual(m.path, line, f"{rule}: {message}") for m in members for line, rule, message in blocking(m)
    ]
    changed = [m for m in members if m.status == "changed"]
    if found or not changed:
        if found and changed:
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
    if "CFM005" in applied:
        return []  # framework agents: CFM005 converts the agent as one piece
    texts = [_text(m.new if m.status == "changed" else m.old, files.get(m.path)) for m in members]
    texts += [_text(b"", files.get(p)) for p in group if p not in {m.path for m in members}]
    code = "\n".join(texts)
    where = changed[0].path
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
            return [
                Manual(
                    where,
                    1,
                    f"{' and '.join(missing)} could not be moved onto CodeMode with the rest of the agent; "
                    "left unchanged (half on MCP and half on code mode, the model's calls would fail)",
                )
            ]
        return []
    if "CFM001" in applied and "CodeMode(" not in code and ".call_tool(" in code:
        return [
            Manual(
                where,
                1,
                "its literal tool calls would move to the generated wrappers (a second server process) while its "
                "other calls stay on the MCP session; left unchanged",
            )
        ]
    return []


def _text(data: bytes, path: Path | None) -> str:
    if not data and path is not None:
        try:
            data = path.read_bytes()
        except OSError:
            return ""
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------- grouping


def _module_names(rel: str) -> list[str]:
    """Dotted names a file may be imported by: its full path and every shorter suffix."""
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return [".".join(parts[i:]) for i in range(len(parts)) if parts[i:]]


def _imports(rel: str, path: Path) -> set[str]:
    """Absolute dotted names a file imports (relative imports resolved against its package)."""
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return set()
    package = rel[:-3].split("/")[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module:
                out.add(module)
            out.update(f"{module}.{alias.name}" if module else alias.name for alias in node.names)
    return out


def _groups(interesting: Iterable[str], files: Mapping[str, Path]) -> list[list[str]]:
    """Connected groups of files: the interesting ones, linked to the files they import and that import them."""
    index: dict[str, set[str]] = {}
    for rel in files:
        for name in _module_names(rel):
            index.setdefault(name, set()).add(rel)
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    wanted = list(dict.fromkeys(interesting))
    chosen = set(wanted)
    for rel in wanted:  # files with sites that import each other are one agent
        find(rel)
        for name in _imports(rel, files[rel]) if rel in files else ():
            for other in index.get(name, ()):
                if other != rel and other in chosen:
                    union(rel, other)
    # A file without sites that imports the files of exactly one group is part of that agent (the module
    # holding the model loop over a session helper); one importing several agents (a CLI) is not.
    stems = {rel: {n.rsplit(".", 1)[-1].encode() for n in _module_names(rel)} for rel in wanted}
    joins: list[tuple[str, str]] = []
    for rel, path in files.items():
        if rel in chosen:
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        targets = [w for w in wanted if any(stem in data for stem in stems[w])]
        if not targets:
            continue
        imported = _imports(rel, path)
        hits = {find(t) for t in targets if imported & set(_module_names(t))}
        if len(hits) == 1:
            joins.append((rel, next(iter(hits))))
    for rel, group in joins:
        union(rel, group)
    groups: dict[str, list[str]] = {}
    for rel in parent:
        groups.setdefault(find(rel), []).append(rel)
    return [sorted(g) for g in groups.values() if any(rel in wanted for rel in g)]
