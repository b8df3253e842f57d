"""Naming and launch details of MCP servers declared in Python code (never their secret values)."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit

from cfmigrate.analyzers.manifests import package_of

__all__ = ["derive_name", "name_from_variable", "transport_of_url"]

_GENERIC_VARIABLES = frozenset(
    {
        "server",
        "servers",
        "params",
        "server_params",
        "server_parameters",
        "parameters",
        "client",
        "mcp_client",
        "mcp_server",
        "stdio_server",
        "stdio_params",
        "http_server",
        "transport",
        "toolset",
        "tools",
        "conn",
        "connection",
        "connection_params",
        "config",
        "cfg",
        "session",
        "s",
        "p",
        "c",
        "remote",
        "local",
        "mcp",
        "srv",
        "api",
    }
)
_VARIABLE_SUFFIXES = (
    "_server_parameters",
    "_server_params",
    "_parameters",
    "_params",
    "_server",
    "_toolset",
    "_client",
    "_mcp",
    "_conn",
)
_PACKAGE_VERSION = re.compile(r"(?<=.)@[^/@]+$|==.*$|>=.*$")
_NAME_NOISE = re.compile(r"^(mcp[-_]server[-_]|server[-_]|mcp[-_])|([-_]mcp[-_]server|[-_]mcp|[-_]server)$")


def name_from_variable(variable: str) -> str | None:
    """A server name from the variable a declaration is assigned to, or None when the variable says nothing."""
    name = variable.lstrip("_")
    if name.lower() in _GENERIC_VARIABLES:
        return None
    for suffix in _VARIABLE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    return name or None


def transport_of_url(url: str, hint: str | None = None) -> str:
    """`sse` for SSE endpoints (by the declared transport or a `/sse` path), else `http`."""
    if hint:
        h = hint.lower().replace("-", "_")
        if h == "sse":
            return "sse"
        if h in ("streamable_http", "http", "streamablehttp"):
            return "http"
    return "sse" if urlsplit(url).path.rstrip("/").endswith("/sse") else "http"


def _clean(name: str) -> str:
    name = _PACKAGE_VERSION.sub("", name)
    stripped = _NAME_NOISE.sub("", name)
    stripped = _NAME_NOISE.sub("", stripped)
    return stripped or name


def derive_name(command: str | None, args: tuple[str, ...], url: str | None) -> str:
    """A readable server name from how it is launched, used when code gives it no name."""
    if url:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host in ("localhost", "127.0.0.1", "0.0.0.0", "::1") or not host:
            return f"localhost-{parts.port}" if parts.port else "localhost"
        labels = [x for x in host.split(".")[:-1] if x not in ("mcp", "www", "api", "server")]
        return labels[-1] if labels else host
    package = package_of(command, args)
    if package:
        tail = package.rsplit("/", 1)[-1]
        cleaned = _clean(tail)
        if cleaned in ("mcp", "server") and package.startswith("@"):
            return package[1:].split("/", 1)[0]
        return cleaned
    if "-m" in args:
        index = args.index("-m")
        if index + 1 < len(args):
            return _clean(args[index + 1].rsplit(".", 1)[-1])
    for arg in args:
        if arg.endswith((".py", ".js", ".mjs", ".ts")):
            stem = posixpath.splitext(posixpath.basename(arg.split(":", 1)[0]))[0]
            if stem in ("server", "main", "index", "__main__"):
                parent = posixpath.basename(posixpath.dirname(arg))
                if parent:
                    return _clean(parent)
            return _clean(stem)
    if command:
        return _clean(posixpath.basename(command.replace("\\", "/")))
    return "server"
