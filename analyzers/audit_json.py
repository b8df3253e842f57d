"""Read an audit JSON file (`cfmigrate audit --format json`) back into the audit's dataclasses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfmigrate.analyzers.clients import ClientFigure
from cfmigrate.analyzers.measure import (
    REPORT_SCHEMA,
    AgentFigure,
    AuditReport,
    ServerFigure,
    ToolFigure,
    WorkflowFigure,
    source_ref,
)
from cfmigrate.analyzers.model import Problem


class AuditFileError(Exception):
    """Unusable audit file (not JSON, not an audit, a key missing or mistyped); the message names the file."""


class _Reader:
    """Typed access to one JSON object, with errors that name the file and the key path."""

    def __init__(self, data: Any, where: str, path: str) -> None:
        if not isinstance(data, dict):
            raise AuditFileError(f"{where}: {path or 'the file'} must be a JSON object")
        self.data: dict[str, Any] = data
        self.where = where
        self.path = path

    def _fail(self, key: str, what: str) -> AuditFileError:
        at = f"{self.path}.{key}" if self.path else key
        return AuditFileError(
            f"{self.where}: `{at}` {what}; regenerate it with `cfmigrate audit --format json`"
        )

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise self._fail(key, "is missing")
        return self.data[key]

    def text(self, key: str, optional: bool = False) -> Any:
        value = self.data.get(key) if optional else self.raw(key)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "must be a string")
        return value

    def integer(self, key: str, optional: bool = False) -> Any:
        value = self.data.get(key) if optional else self.raw(key)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail(key, "must be an integer")
        return value

    def number(self, key: str, optional: bool = False) -> Any:
        value = self.data.get(key) if optional else self.raw(key)
        if value is None and optional:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._fail(key, "must be a number")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self._fail(key, "must be true or false")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "must be a list of strings")
        return tuple(value)

    def items(self, key: str) -> list[_Reader]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self._fail(key, "must be a list")
        base = f"{self.path}.{key}" if self.path else key
        return [_Reader(v, self.where, f"{base}[{i}]") for i, v in enumerate(value)]

    def obj(self, key: str) -> _Reader | None:
        value = self.data.get(key)
        if value is None:
            return None
        base = f"{self.path}.{key}" if self.path else key
        return _Reader(value, self.where, base)


def _tool(r: _Reader) -> ToolFigure:
    return ToolFigure(
        r.text("server"),
        r.text("tool"),
        r.integer("tokens"),
        r.integer("description_tokens", optional=True),
        r.integer("schema_tokens", optional=True),
    )


def _server(r: _Reader) -> ServerFigure:
    return ServerFigure(
        name=r.text("name"),
        status=r.text("status"),
        transport=r.text("transport"),
        source=r.text("source"),
        manifest=r.text("manifest", optional=True),
        tool_count=r.integer("tool_count", optional=True),
        tokens=r.integer("tokens", optional=True),
        description_tokens=r.integer("description_tokens", optional=True),
        tools=tuple(_tool(t) for t in r.items("tools")),
        package=r.text("package", optional=True),
        note=r.text("note", optional=True) or "",
        measured_tokens=r.integer("measured_tokens", optional=True),
        preamble_tokens=r.integer("preamble_tokens", optional=True),
        aliases=r.texts("aliases"),
    )


def _workflow(r: _Reader | None) -> WorkflowFigure | None:
    if r is None:
        return None
    return WorkflowFigure(
        basis=r.text("basis"),
        calls=r.integer("calls"),
        requests_before=r.integer("requests_before"),
        billed_before=r.integer("billed_before"),
        requests_after=r.integer("requests_after"),
        billed_after=r.integer("billed_after"),
        before_basis=r.text("before_basis", optional=True) or "",
        after_basis=r.text("after_basis", optional=True) or "",
    )


def _agent(r: _Reader) -> AgentFigure:
    breakdown = r.obj("breakdown")
    return AgentFigure(
        name=r.text("name"),
        source=r.text("source"),
        framework=r.text("framework"),
        provider=r.text("provider"),
        model=r.text("model", optional=True),
        servers=r.texts("servers"),
        servers_basis=r.text("servers_basis"),
        unknown_servers=r.texts("unknown_servers"),
        tool_count=r.integer("tool_count", optional=True),
        tool_count_is_lower_bound=bool(r.data.get("tool_count_is_lower_bound", False)),
        threshold=r.text("threshold", optional=True),
        definition_tokens=r.integer("definition_tokens", optional=True),
        overhead_tokens=r.integer("overhead_tokens", optional=True),
        overhead_note=r.text("overhead_note"),
        system_prompt_tokens=r.integer("system_prompt_tokens"),
        tool_context_tokens=r.integer("tool_context_tokens", optional=True),
        per_request_tokens=r.integer("per_request_tokens", optional=True),
        code_mode_tokens=r.integer("code_mode_tokens", optional=True),
        code_mode_per_request_tokens=r.integer("code_mode_per_request_tokens", optional=True),
        deferred_tokens=r.integer("deferred_tokens", optional=True),
        deferred_note=r.text("deferred_note", optional=True) or "",
        reduction=r.number("reduction", optional=True),
        decision=r.text("decision"),
        reasons=r.texts("reasons"),
        basis=r.text("basis", optional=True) or "",
        price_per_mtok=r.number("price_per_mtok", optional=True),
        price_source=r.text("price_source"),
        monthly_cost_before=r.number("monthly_cost_before", optional=True),
        monthly_cost_after=r.number("monthly_cost_after", optional=True),
        monthly_waste=r.number("monthly_waste", optional=True),
        code_mode=r.flag("code_mode"),
        workflow=_workflow(r.obj("workflow")),
        tool_sequence=r.texts("tool_sequence"),
        files=r.texts("files"),
        breakdown={k: int(v) for k, v in breakdown.data.items()} if breakdown is not None else {},
    )


def _client(r: _Reader) -> ClientFigure:
    return ClientFigure(
        client=r.text("client"),
        label=r.text("label"),
        config=r.text("config"),
        installed=r.flag("installed"),
        servers=r.texts("servers"),
        unknown_servers=r.texts("unknown_servers"),
        tool_count=r.integer("tool_count", optional=True),
        tokens_before=r.integer("tokens_before", optional=True),
        direct=r.texts("direct"),
        gateway_tool_count=r.integer("gateway_tool_count", optional=True),
        tokens_with_gateway=r.integer("tokens_with_gateway", optional=True),
        reduction=r.number("reduction", optional=True),
        basis=r.text("basis"),
        note=r.text("note", optional=True) or "",
    )


def _problem(r: _Reader) -> Problem:
    src = r.text("source", optional=True)
    return Problem(
        r.text("level"),
        r.text("message"),
        source_ref(src) if src else None,
        r.text("hint", optional=True) or "",
    )


def audit_from_json(data: Any, where: str) -> AuditReport:
    """Rebuild an AuditReport from its documented JSON form, naming the file and key of any fault."""
    r = _Reader(data, where, "")
    schema = r.text("schema")
    if schema != REPORT_SCHEMA:
        raise AuditFileError(
            f"{where}: schema {schema!r} is not {REPORT_SCHEMA!r}; regenerate it with this cfmigrate version"
        )
    totals = r.raw("totals")
    if not isinstance(totals, dict):
        raise AuditFileError(f"{where}: `totals` must be a JSON object")
    rpd = r.integer("requests_per_day")
    if rpd <= 0:
        raise AuditFileError(f"{where}: `requests_per_day` must be positive")
    return AuditReport(
        schema=schema,
        root=r.text("root"),
        tokenizer=r.text("tokenizer"),
        provider=r.text("provider"),
        requests_per_day=rpd,
        code_mode_source=r.text("code_mode_source"),
        servers=tuple(_server(s) for s in r.items("servers")),
        agents=tuple(_agent(a) for a in r.items("agents")),
        problems=tuple(_problem(p) for p in r.items("problems")),
        files_scanned=r.integer("files_scanned"),
        totals=totals,
        tool_scripts=tuple(t.data for t in r.items("tool_scripts")),
        clients=tuple(_client(c) for c in r.items("clients")),
    )


def load_audit(path: Path) -> AuditReport:
    """Read an audit written by `cfmigrate audit --format json`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditFileError(
            f"{path}: no such file; write one with `cfmigrate audit PATH --format json --output {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditFileError(f"{path}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AuditFileError(
            f"{path}:{exc.lineno}: not valid JSON ({exc.msg}); pass the output of `cfmigrate audit --format json`"
        ) from None
    return audit_from_json(data, str(path))
