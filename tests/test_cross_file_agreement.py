"""An agent spread over two files -- a helper class that owns the MCP session in one module, the model
loop in another -- as the audit, its program model, the rules' resolver and `migrate` each see it.

The audit and migrate must name the same agent with the same files and servers; inside the helper
module the rules' resolver and the audit agree on what the session is; across the module boundary the
rules know nothing (they rewrite one module at a time), so the agent is left whole, with the reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import libcst as cst
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from cfmigrate.analyzers.code import analyze_python
from cfmigrate.analyzers.code_model import ProgramModel
from cfmigrate.analyzers.code_repo import external_context
from cfmigrate.migrate.audit import run_audit
from cfmigrate.migrate.rules._resolve import Resolver
from cfmigrate.migrate.runner import build_plan, migrate

CASE = Path(__file__).resolve().parents[1] / "fixtures" / "audit-corpus" / "helper-agent"


def _resolver(module: cst.Module) -> Resolver:
    resolved = MetadataWrapper(module, unsafe_skip_copy=True).resolve_many(
        (QualifiedNameProvider, ScopeProvider, ParentNodeProvider, PositionProvider)
    )

    def get_metadata(provider: object, node: cst.CSTNode, default: object = None) -> object:
        found = resolved[provider].get(node, default)  # type: ignore[index]
        return found() if callable(found) else found

    return Resolver(get_metadata, module)


def _receivers(module: cst.Module, method: str) -> list[cst.BaseExpression]:
    """The receivers of every `<x>.<method>(...)` call of a module."""
    found: list[cst.BaseExpression] = []

    class Finder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            if isinstance(node.func, cst.Attribute) and node.func.attr.value == method:
                found.append(node.func.value)

    module.visit(Finder())
    return found


def _models() -> tuple[tuple[cst.Module, ProgramModel], tuple[cst.Module, ProgramModel]]:
    """(toolbox, assistant): each module with the audit's program model of it, the sibling module known."""
    helper = analyze_python((CASE / "toolbox.py").read_bytes(), "toolbox.py")
    agent = analyze_python((CASE / "assistant.py").read_bytes(), "assistant.py", force=True)
    assert helper.exports is not None and agent.exports is not None
    by_rel = {"toolbox.py": helper.exports, "assistant.py": agent.exports}
    out = []
    for rel, exports in (("toolbox.py", helper.exports), ("assistant.py", agent.exports)):
        module = cst.parse_module((CASE / rel).read_text())
        out.append((module, ProgramModel(module, rel, external_context(rel, exports, by_rel))))
    return out[0], out[1]


def test_audit_and_migrate_name_one_agent_over_both_files(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(CASE, root)
    (agent,) = run_audit(root).agents
    assert (agent.name, agent.files, agent.servers) == (
        "assistant",
        ("assistant.py", "toolbox.py"),
        ("filesystem",),
    )
    plan = build_plan(root, all_agents=True)[0]
    (unit,) = plan.units
    assert (unit.name, unit.path, unit.files, unit.servers) == (
        agent.name,
        "assistant.py",
        agent.files,
        agent.servers,
    )


def test_the_helpers_session_is_a_session_to_both_sides() -> None:
    (toolbox, helper_model), _ = _models()
    resolver = _resolver(toolbox)
    receivers = _receivers(toolbox, "call_tool") + _receivers(toolbox, "list_tools")
    assert len(receivers) == 2
    for receiver in receivers:
        reach = helper_model.mcp_reach(receiver)
        assert reach is not None and (reach.kind, reach.servers) == ("session", ("filesystem",))
        assert resolver.type_of(receiver).kind == "session"


def test_across_the_module_boundary_only_the_audit_sees_the_helper() -> None:
    _, (assistant, agent_model) = _models()
    resolver = _resolver(assistant)
    (box,) = _receivers(assistant, "tool_specs")
    reach = agent_model.mcp_reach(box)
    assert reach is not None and (reach.kind, reach.servers) == ("client", ("filesystem",))
    # the rules' resolver is per module: an instance of another module's class is unknown to it, and
    # an unknown receiver is never rewritten
    assert resolver.type_of(box).kind == "?"
    # the model client of the loop is the same to both
    (messages,) = _receivers(assistant, "create")
    assert resolver.type_of(messages).kind == "llm_ns"


def test_migrate_leaves_the_agent_whole_with_the_helpers_reason(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(CASE, root)
    before = {p.name: p.read_bytes() for p in root.glob("*.py")}
    result = migrate(root, write=True, allow_dirty=True, all_agents=True)
    assert {p.name: p.read_bytes() for p in root.glob("*.py")} == before
    reasons = {(m.path, m.line): m.reason for m in result.manual}
    assert "not moved onto code mode" in reasons[("assistant.py", 14)]
    assert "toolbox.py" in reasons[("assistant.py", 14)]
