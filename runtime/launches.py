"""Launches the agent declares in its own code, handed to `CodeMode(launches=...)`, as launch specs.

A migrated agent keeps its own launch object where it was (`StdioServerParameters(command=sys.executable,
args=[...], env={...}, cwd=...)`, an Agents SDK `params={...}` dict, a FastMCP `StdioTransport(...)`, a URL)
and passes it to `CodeMode`; the runtime starts the server from it exactly as the agent's MCP library did:
the same command, args, literal env (merged over mcp's default environment by `stdio_client`, as before) and
cwd (`None`: the process's working directory). Nothing is resolved against another base, and the values
never reach `servers/_servers.json`, a report or a log: the spec holds them and its repr hides them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from cfmigrate.runtime._naming import to_identifier
from cfmigrate.runtime.sessions import LaunchSpec


class LaunchError(ValueError):
    """A launch given to CodeMode cannot be started; the message names the server and what to pass."""


_ACCEPTED = (
    "pass mcp's StdioServerParameters, a dict with command/args/env/cwd (or url/headers), a FastMCP "
    "transport, or an http(s) URL"
)


def _get(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)


def _strings(value: Any, where: str, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise LaunchError(f"{where}: {what} must be a list of strings")
    return tuple(os.fspath(item) if isinstance(item, os.PathLike) else str(item) for item in value)


def _mapping(value: Any, where: str, what: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise LaunchError(f"{where}: {what} must be a dict of strings")
    return {str(k): str(v) for k, v in value.items()}


def _transport(value: Any, url: str) -> Literal["http", "sse"]:
    kind = str(_get(value, "transport") or _get(value, "type") or "").lower()
    if kind == "sse" or (not kind and url.rstrip("/").endswith("/sse")):
        return "sse"
    return "http"


def launch_spec(server_id: str, name: str, value: Any) -> LaunchSpec:
    """The launch spec of one server from the object the agent declared it with (values held, never shown)."""
    where = f"launches[{name!r}]"
    if isinstance(value, str):
        if not value.startswith(("http://", "https://")):
            raise LaunchError(f"{where}: a string launch must be an http(s) URL; {_ACCEPTED}")
        return LaunchSpec(
            server_id=server_id,
            name=name,
            transport=_transport({}, value),
            url=value,
            exact=True,
            base_dir="",
        )
    command = _get(value, "command")
    if command is not None:
        if isinstance(command, os.PathLike):
            command = os.fspath(command)
        if not isinstance(command, str) or not command:
            raise LaunchError(f"{where}: command must be a non-empty string")
        env = _mapping(_get(value, "env"), where, "env")
        cwd = _get(value, "cwd")
        return LaunchSpec(
            server_id=server_id,
            name=name,
            transport="stdio",
            command=command,
            args=_strings(_get(value, "args"), where, "args"),
            cwd=os.fspath(cwd) if cwd is not None else None,
            env_names=tuple(env or ()),
            config_env=env or {},
            exact=True,
            base_dir="",
        )
    url = _get(value, "url")
    if url is not None:
        url = str(url)
        headers = _mapping(_get(value, "headers"), where, "headers") or {}
        return LaunchSpec(
            server_id=server_id,
            name=name,
            transport=_transport(value, url),
            url=url,
            headers={h: h for h in headers},
            config_headers=headers,
            exact=True,
            base_dir="",
        )
    raise LaunchError(f"{where}: {type(value).__name__} is not a launch CodeMode can start; {_ACCEPTED}")


def apply_launches(specs: Mapping[str, LaunchSpec], launches: Mapping[str, Any]) -> dict[str, LaunchSpec]:
    """`specs` with each server the agent launches in code replaced by (or added as) its own launch.

    A key names the server as the generated package does (its folder under `servers/`) or by its
    declared name; an unknown key adds a server under that name.
    """
    out = dict(specs)
    for key, value in launches.items():
        if not isinstance(key, str) or not key:
            raise LaunchError(f"launches: {key!r} is not a server name")
        sid = (
            key
            if key in out
            else next((s for s, spec in sorted(out.items()) if spec.name == key), to_identifier(key))
        )
        name = out[sid].name if sid in out else key
        out[sid] = launch_spec(sid, name, value)
    return out
