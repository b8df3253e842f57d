"""Who may call which tool: allow, deny or ask, per server and tool, with destructive tools asking by default."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["allow", "deny", "ask"]
DECISIONS: tuple[Decision, ...] = ("allow", "deny", "ask")


@dataclass(frozen=True)
class ToolCall:
    """One tool call the host is about to make (arguments are the real, unmasked values)."""

    server: str
    tool: str
    arguments: Mapping[str, Any]
    annotations: Mapping[str, Any] = field(
        default_factory=dict
    )  # wire names: readOnlyHint, destructiveHint, ...
    via: Literal["code", "direct"] = "code"

    @property
    def destructive(self) -> bool:
        """Destructive unless the server says otherwise, as the MCP spec defines the hints' defaults.

        A tool is safe only when it is hinted read-only (`readOnlyHint: true`) or explicitly not
        destructive (`destructiveHint: false`); a tool with no annotations is treated as destructive.
        """
        if self.annotations.get("readOnlyHint") is True:
            return False
        return self.annotations.get("destructiveHint") is not False


Approver = Callable[[ToolCall], bool | Awaitable[bool]]


class NoApprover(Exception):
    """Raised by an approver that has nobody to ask for this call: refused as if no approver were configured."""


@dataclass(frozen=True)
class Policy:
    """Rules keyed `"server/tool"` (shell wildcards allowed: `"crm/*"`, `"*/delete_*"`); the most specific wins.

    A tool with no matching rule gets `destructive` unless the server hints it read-only or not
    destructive (the MCP default: an unannotated tool may be destructive), else `default`.
    """

    rules: Mapping[str, Decision] = field(default_factory=dict)
    destructive: Decision = "ask"
    default: Decision = "allow"

    def __post_init__(self) -> None:
        for key, value in [*self.rules.items(), ("destructive", self.destructive), ("default", self.default)]:
            if value not in DECISIONS:
                raise ValueError(f"policy rule {key!r}: {value!r} is not one of {', '.join(DECISIONS)}")

    def decide(self, call: ToolCall) -> Decision:
        """The decision for one call."""
        target = f"{call.server}/{call.tool}"
        if target in self.rules:
            return self.rules[target]
        matches = [pattern for pattern in self.rules if fnmatch.fnmatchcase(target, pattern)]
        if matches:
            best = max(matches, key=lambda p: (len(p.replace("*", "").replace("?", "")), p))
            return self.rules[best]
        return self.destructive if call.destructive else self.default


async def resolve(policy: Policy, call: ToolCall, approve: Approver | None) -> tuple[bool, str]:
    """Apply the policy (asking the approver when needed): (allowed, reason shown to the model when refused)."""
    decision = policy.decide(call)
    name = f"{call.server}/{call.tool}"
    if decision == "allow":
        return True, ""
    if decision == "deny":
        return False, f"the host's policy denies {name}; do not retry it, tell the user it is not allowed"
    if call.destructive:
        why = (
            "is marked destructive"
            if call.annotations.get("destructiveHint") is True
            else "is not marked read-only by its server, so it counts as destructive"
        )
    else:
        why = "needs approval under the host's policy"
    unasked = (
        f"{name} {why} and no approver is configured, so it was not called; "
        "tell the user what you would do and ask them to run it or to allow it"
    )
    if approve is None:
        return False, unasked
    try:
        answer = approve(call)
        if inspect.isawaitable(answer):
            answer = await answer
    except NoApprover:
        return False, unasked
    except Exception as exc:  # an approver that fails must not approve
        return False, f"{name} {why}; the approval check failed ({type(exc).__name__}), so it was not called"
    if answer:
        return True, ""
    return False, f"{name} {why} and the approver declined it; do not retry it"
