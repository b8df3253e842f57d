"""Reading an MCP client config in the host: JSON, JSONC (VS Code's `mcp.json` with comments), TOML, YAML.

The same formats the audit reads, with no dependency beyond the standard library (YAML needs PyYAML, which
cfmigrate installs; the runtime alone does not require it and says so when a YAML config meets its absence).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class ConfigFileError(ValueError):
    """The config cannot be read or parsed; the message names the file, the line when known, and the fix."""


def strip_jsonc(text: str) -> str:
    """JSONC as plain JSON: `//` and `/* */` comments and trailing commas blanked out (strings untouched).

    Blanked characters become spaces (newlines kept), so a parser's line and column still point into `text`.
    """
    out = list(text)
    i, n = 0, len(text)
    last_comma = -1  # position of a comma that may turn out to be trailing
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            last_comma = -1
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        if c == "/" and i + 1 < n and text[i + 1] == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            for j in range(i, end):
                if out[j] != "\n":
                    out[j] = " "
            i = end
            continue
        if c == ",":
            last_comma = i
        elif c in "}]":
            if last_comma >= 0:
                out[last_comma] = " "
            last_comma = -1
        elif not c.isspace():
            last_comma = -1
        i += 1
    return "".join(out)


def read_config(path: Path) -> Any:
    """The parsed document of an MCP config file, by its suffix (`.toml`, `.yaml`/`.yml`, else JSON/JSONC)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot read the MCP config ({exc})") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigFileError(f"{path}: not valid TOML ({exc}); fix the file and retry") from None
    if suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigFileError(
                f"{path}: a YAML config needs PyYAML (`pip install pyyaml`), or point the runtime at a JSON config"
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigFileError(f"{path}:{where} not valid YAML; fix the file and retry") from None
    try:
        return json.loads(strip_jsonc(text))
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = f" line {line}:" if line else ""
        message = getattr(exc, "msg", str(exc))
        raise ConfigFileError(
            f"{path}:{where} not valid JSON/JSONC ({message}); fix the file and retry"
        ) from None


_SERVER_KEYS = ("mcpServers", "servers", "mcp_servers", "context_servers")


def _entry(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One server entry, Zed's `"command": {"path", "args", "env"}` form flattened."""
    entry = dict(raw)
    command = entry.get("command")
    if isinstance(command, Mapping):
        entry["command"] = command.get("path")
        entry.setdefault("args", command.get("args") or [])
        entry.setdefault("env", command.get("env") or {})
    return entry


def _entries(value: Any) -> dict[str, dict[str, Any]] | None:
    """A `{name: entry}` map, or a list of entries with `name` (Continue's YAML), as a map; else None."""
    if isinstance(value, Mapping):
        return {str(k): _entry(v) for k, v in value.items() if isinstance(v, Mapping)}
    if isinstance(value, list):
        named = [item for item in value if isinstance(item, Mapping) and isinstance(item.get("name"), str)]
        return {str(item["name"]): _entry(item) for item in named} if named else None
    return None


def config_servers(document: Any) -> dict[str, dict[str, Any]]:
    """Server entries of a parsed MCP client config: `mcpServers`, `servers`, `mcp_servers` (Codex TOML),
    `context_servers` (Zed) or `mcp.servers` (VS Code settings)."""
    if not isinstance(document, Mapping):
        return {}
    for key in _SERVER_KEYS:
        found = _entries(document.get(key))
        if found is not None:
            return found
    nested = document.get("mcp")
    if isinstance(nested, Mapping):
        found = _entries(nested.get("servers"))
        if found is not None:
            return found
    return {}
