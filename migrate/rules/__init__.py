"""Codemod rules, one module per rule, registered under stable IDs and run in ID order.

| ID     | Rule                                                                  |
|--------|-----------------------------------------------------------------------|
| CFM001 | literal `session.call_tool("tool", {...})` → typed wrapper call        |
| CFM002 | dynamic `session.call_tool(block.name, block.input)` → `code_mode.handle_tool_use` |
| CFM003 | tool lists sent to a model (Anthropic / OpenAI shapes) → `code_mode.tool_definitions(...)` |
| CFM004 | the tool list inside a system prompt → `code_mode.system_prompt()`; the agent's instructions stay (inserted where none) |
| CFM005 | Agents SDK / pydantic-ai MCP servers → one `execute_code` function tool on CodeMode; other frameworks reported with the manual step |
| CFM006 | `CodeMode` opened next to the agent's MCP sessions where the rules above use it (always on) |
| CFM007 | values the rules above made dead (unused local tool listings) are removed (always on) |
| CFM008 | MCP sessions left unread, then module helpers and imports only they used, are removed; connect-time listings read `code_mode.list_tools(server)` (always on) |

Each module's docstring shows the rule's before and after; `cfmigrate migrate --list-rules` prints this table.
"""

from __future__ import annotations

from collections.abc import Iterable

from cfmigrate.migrate.rules import (  # noqa: F401  (importing registers the rules, in order)
    cfm001_literal_call,
    cfm002_dynamic_dispatch,
    cfm003_tool_list,
    cfm004_prompt,
    cfm005_framework,
    cfm006_code_mode_instance,
    cfm007_cleanup,
    cfm008_dead_sessions,
)
from cfmigrate.migrate.rules._base import REGISTRY, MigrationRule, Site
from cfmigrate.migrate.rules._plan import MigrationPlan, ToolNames

__all__ = ["REGISTRY", "MigrationPlan", "MigrationRule", "Site", "ToolNames", "all_rules", "select_rules"]


class UnknownRuleError(ValueError):
    """A rule ID given on the command line does not exist."""


def all_rules() -> list[type[MigrationRule]]:
    """Every registered rule, in the documented (ID) order."""
    return [REGISTRY[key] for key in sorted(REGISTRY)]


def select_rules(only: Iterable[str] = (), disable: Iterable[str] = ()) -> list[type[MigrationRule]]:
    """The rules to run for `--only` / `--disable`; support rules (always on) are kept whenever anything runs."""
    only_set = {r.strip().upper() for r in only if r.strip()}
    disable_set = {r.strip().upper() for r in disable if r.strip()}
    unknown = sorted((only_set | disable_set) - set(REGISTRY))
    if unknown:
        raise UnknownRuleError(f"unknown rule {unknown[0]}; choose from {', '.join(sorted(REGISTRY))}")
    always = {k for k, rule in REGISTRY.items() if rule.ALWAYS}
    forced = sorted((only_set | disable_set) & always)
    if forced and disable_set & always:
        raise UnknownRuleError(f"{forced[0]} always runs when needed and cannot be disabled")
    chosen = [
        r
        for r in all_rules()
        if (not only_set or r.RULE_ID in only_set or r.ALWAYS) and r.RULE_ID not in disable_set
    ]
    if all(r.ALWAYS for r in chosen):
        return []
    return chosen
