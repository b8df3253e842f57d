"""References to the environment in an MCP client config (`${VAR}`, `${env:VAR}`, `${VAR:-default}`,
`{env:VAR}`, `${{ secrets.VAR }}`, `${workspaceFolder}` and its family), resolved in the host.

The same grammar as `cfmigrate.analyzers.connect.expand_refs`, copied so that the runtime imports nothing
of the tool; `tests/test_runtime_footprint.py` checks the two agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

_REDACTED = "***"  # the audit's stand-in for a literal default; never used as a value
_REF = re.compile(
    r"\$\{\{\s*secrets\.(?P<secret>[A-Za-z0-9_.-]+)\s*\}\}"
    r"|\$\{(?P<body>[^{}]*)\}"
    r"|(?<!\$)\{env:(?P<brace>[A-Za-z_][A-Za-z0-9_]*)\}"
)
_BUILTINS = frozenset(
    {"workspaceFolder", "workspaceRoot", "cwd", "workspaceFolderBasename", "userHome", "pathSeparator"}
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnresolvedReference(Exception):
    """A reference the host cannot answer: `kind` is "env" (a variable that is not set) or "input"."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(name)
        self.kind = kind
        self.name = name


def _parse(match: re.Match[str]) -> tuple[str, str, str | None] | None:
    """(kind, name, default) for one match; kind is "env", "input" or "builtin"; None if not a reference."""
    if match.group("secret"):
        return ("env", match.group("secret"), None)
    if match.group("brace"):
        return ("env", match.group("brace"), None)
    body = match.group("body")
    if body in _BUILTINS:
        return ("builtin", body, None)
    name, sep, default = body.removeprefix("env:").partition(":-")
    if _ENV_NAME.fullmatch(name):
        return ("env", name, default if sep and default != _REDACTED else None)
    scope, colon, _rest = body.partition(":")
    if colon and re.fullmatch(r"[A-Za-z]+", scope):
        return ("input", body.removeprefix("input:"), None)  # ${input:id}, ${command:x}: editors only
    return None


def expand_refs(text: str, environ: Mapping[str, str], base: Path) -> str:
    """Replace every reference in `text`; raise `UnresolvedReference` for one the environment cannot answer."""

    def sub(match: re.Match[str]) -> str:
        parsed = _parse(match)
        if parsed is None:
            return match.group(0)
        kind, name, default = parsed
        if kind == "builtin":
            return {
                "workspaceFolder": str(base),
                "workspaceRoot": str(base),
                "cwd": str(base),
                "workspaceFolderBasename": base.name,
                "userHome": str(Path.home()),
                "pathSeparator": os.sep,
            }[name]
        if kind == "input":
            raise UnresolvedReference("input", name)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        raise UnresolvedReference("env", name)

    return _REF.sub(sub, text)
