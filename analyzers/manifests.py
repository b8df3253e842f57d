"""Tool manifests: `tools/list` dumps on disk, the bundled catalog, and the package a launch command runs."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Literal

from cfmigrate.analyzers.model import (
    SNAPSHOT_SCHEMA,
    Manifest,
    ManifestOrigin,
    Problem,
    ServerSpec,
    SourceRef,
    ToolDef,
)

MAX_FILE_BYTES = 5 * 1024 * 1024
HEAD_BYTES = 4096

# ---------------------------------------------------------------------------------------------
# Reading files defensively (shared with configs.py)
# ---------------------------------------------------------------------------------------------


def read_source(path: Path, rel: str) -> tuple[str | None, list[Problem]]:
    """The file's text, or None and a Problem when it is unreadable, huge, binary or not UTF-8."""
    where = SourceRef(rel)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, [
            Problem(
                "error", f"cannot read {rel}: {exc.strerror or exc}", where, "check the path and permissions"
            )
        ]
    if size > MAX_FILE_BYTES:
        mb = size / (1024 * 1024)
        return None, [
            Problem(
                "warning",
                f"{rel} is {mb:.1f} MB, over the {MAX_FILE_BYTES // (1024 * 1024)} MB limit; skipped",
                where,
                "MCP configs and tools/list dumps are small: check that this is the right file, or exclude it",
            )
        ]
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [
            Problem("error", f"cannot read {rel}: {exc.strerror or exc}", where, "check the permissions")
        ]
    if b"\x00" in data[:8192]:
        return None, [
            Problem("warning", f"{rel} is a binary file; skipped", where, "exclude it from the scan")
        ]
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [
            Problem(
                "error",
                f"{rel} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); skipped",
                SourceRef(rel, line),
                "re-save the file as UTF-8",
            )
        ]


# ---------------------------------------------------------------------------------------------
# tools/list dumps
# ---------------------------------------------------------------------------------------------

_TOOL_MARKERS = (b'"inputSchema"', b'"input_schema"')


def is_manifest_candidate(rel_path: str, head: bytes) -> bool:
    """Cheap test on a file name and its first 4 KiB: could this be a `tools/list` dump?"""
    name = PurePosixPath(rel_path).name.lower()
    if not name.endswith(".json"):
        return False
    if name.endswith(".tools.json") or name == "tools.json":
        return True
    if any(m in head for m in _TOOL_MARKERS):
        return True
    # A dump whose first description is longer than the head: fall back to the name and a "tools" key.
    stem = name[: -len(".json")]
    return ("tools" in stem or "manifest" in stem) and b'"tools"' in head


def _named_like_manifest(rel: str) -> bool:
    name = PurePosixPath(rel).name.lower()
    return name.endswith(".tools.json") or name == "tools.json"


def _server_from_stem(rel: str) -> str:
    name = PurePosixPath(rel).name
    stem = name[: -len(".json")] if name.lower().endswith(".json") else name
    return stem[: -len(".tools")] if stem.lower().endswith(".tools") else stem


def load_manifest_file(path: Path, rel: str) -> tuple[Manifest | None, list[Problem]]:
    """A `tools/list` dump as a Manifest; (None, []) when the JSON is clearly something else."""
    text, problems = read_source(path, rel)
    if text is None:
        return None, problems
    named = _named_like_manifest(rel)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if named or any(m.decode() in text[:HEAD_BYTES] for m in _TOOL_MARKERS):
            return None, [
                Problem(
                    "error",
                    f"malformed JSON in tools manifest {rel}: {exc.msg}",
                    SourceRef(rel, exc.lineno),
                    f"fix the syntax at line {exc.lineno} column {exc.colno}, or re-capture the dump",
                )
            ]
        return None, []
    except RecursionError:
        return None, [Problem("error", f"{rel} is nested too deeply to be a tools manifest", SourceRef(rel))]
    return parse_manifest_data(data, rel, named=named)


@dataclass
class _Collected:
    pages: list[tuple[Any, int]]  # (tools value, page index)
    cursors: list[Any]
    server_info: Mapping[str, Any] | None = None
    protocol: str | None = None
    snapshot_server: str | None = None
    origin: ManifestOrigin = "manifest-file"
    error: str | None = None


def _is_tool_like(item: Any) -> bool:
    return isinstance(item, Mapping) and isinstance(item.get("name"), str)


def _looks_like_bare_tools(items: list[Any]) -> bool:
    return (
        bool(items)
        and all(_is_tool_like(t) for t in items)
        and any(k in t for t in items for k in ("inputSchema", "input_schema"))
    )


def _result_of(msg: Mapping[str, Any]) -> Any:
    """The payload of a JSON-RPC response, or the message itself."""
    if "result" in msg and ("jsonrpc" in msg or "id" in msg or len(msg) == 1):
        return msg["result"]
    return msg


def _absorb_info(obj: Mapping[str, Any], out: _Collected) -> None:
    info = obj.get("serverInfo", obj.get("server_info"))
    if isinstance(info, Mapping) and out.server_info is None:
        out.server_info = info
    proto = obj.get("protocolVersion", obj.get("protocol_version"))
    if isinstance(proto, str) and out.protocol is None:
        out.protocol = proto


def _collect(data: Any) -> _Collected | None:
    """Find the pages of tools in any of the accepted dump shapes; None when it is not a dump."""
    out = _Collected(pages=[], cursors=[])
    if isinstance(data, Mapping):
        if data.get("schema") == SNAPSHOT_SCHEMA:
            out.origin = "snapshot"
            server = data.get("server")
            out.snapshot_server = server if isinstance(server, str) else None
        if "error" in data and ("jsonrpc" in data or "id" in data):
            out.error = "a JSON-RPC error response, not a tools/list result"
            return out
        body = _result_of(data)
        if not isinstance(body, Mapping):
            return None
        _absorb_info(data, out)
        _absorb_info(body, out)
        if isinstance(body.get("pages"), list):
            return _collect_pages(body["pages"], out)
        if "tools" not in body:
            return None
        out.pages.append((body["tools"], 0))
        out.cursors.append(body.get("nextCursor", body.get("next_cursor")))
        return out
    if isinstance(data, list):
        if not data:
            return out  # an empty list of tools
        if _looks_like_bare_tools(data):
            out.pages.append((data, 0))
            out.cursors.append(None)
            return out
        if all(isinstance(p, Mapping) for p in data):
            return _collect_pages(data, out)
    return None


def _collect_pages(pages: list[Any], out: _Collected) -> _Collected | None:
    for index, raw in enumerate(pages):
        if not isinstance(raw, Mapping):
            return None
        if "error" in raw and ("jsonrpc" in raw or "id" in raw):
            out.error = f"page {index + 1} is a JSON-RPC error response"
            return out
        page = _result_of(raw)
        if not isinstance(page, Mapping):
            return None
        _absorb_info(page, out)
        if "tools" in page:
            out.pages.append((page["tools"], index))
            out.cursors.append(page.get("nextCursor", page.get("next_cursor")))
    return out if out.pages else None


_SNAKE_PART = re.compile(r"_([a-z])")


def _camel(key: str) -> str:
    return _SNAKE_PART.sub(lambda m: m.group(1).upper(), key)


def _tool_from(raw: Mapping[str, Any], where: str, problems: list[Problem], src: SourceRef) -> ToolDef | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        problems.append(
            Problem("error", f"{where} has no tool name", src, "each tool needs a non-empty string `name`")
        )
        return None
    schema = raw.get("inputSchema", raw.get("input_schema"))
    if schema is None:
        problems.append(
            Problem(
                "warning",
                f"tool '{name}' has no inputSchema; assuming an object with no parameters",
                src,
                "re-capture the dump with `tools/list` so schemas are included",
            )
        )
        schema = {"type": "object"}
    if not isinstance(schema, Mapping):
        problems.append(
            Problem(
                "error",
                f"tool '{name}': inputSchema is not a JSON object; tool skipped",
                src,
                "re-capture the dump",
            )
        )
        return None
    output = raw.get("outputSchema", raw.get("output_schema"))
    if output is not None and not isinstance(output, Mapping):
        problems.append(Problem("warning", f"tool '{name}': outputSchema is not a JSON object; ignored", src))
        output = None
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(Problem("warning", f"tool '{name}': description is not a string; ignored", src))
        description = None
    title = raw.get("title")
    annotations = raw.get("annotations")
    if isinstance(annotations, Mapping):
        annotations = {_camel(str(k)): v for k, v in annotations.items() if v is not None}
    else:
        annotations = None
    return ToolDef(
        name=name,
        description=description or "",
        input_schema=dict(schema),
        output_schema=dict(output) if output is not None else None,
        title=title if isinstance(title, str) and title else None,
        annotations=annotations or None,
    )


def parse_manifest_data(data: Any, rel: str, *, named: bool = True) -> tuple[Manifest | None, list[Problem]]:
    """Decoded JSON of a dump as a Manifest; `named` says the file name promises a tools list."""
    src = SourceRef(rel, 1)
    collected = _collect(data)
    if collected is None:
        if named:
            return None, [
                Problem(
                    "error",
                    f"{rel} is named like a tools manifest but holds no tools list",
                    src,
                    'expected a tools/list result: {"tools": [...]}, a list of tools, a JSON-RPC response '
                    "or a list of pages; rename the file if it is something else",
                )
            ]
        return None, []
    if collected.error:
        return None, [
            Problem("error", f"{rel} is {collected.error}", src, "capture a successful tools/list response")
        ]
    problems: list[Problem] = []
    tools: list[ToolDef] = []
    seen: set[str] = set()
    multi = len(collected.pages) > 1
    for tools_value, page_index in collected.pages:
        at = f"page {page_index + 1} " if multi else ""
        if not isinstance(tools_value, list):
            problems.append(
                Problem(
                    "error",
                    f"{rel}: {at}`tools` is a {type(tools_value).__name__}, not a list of tools",
                    src,
                    "expected a list of tool objects with name and inputSchema",
                )
            )
            return None, problems
        for i, raw in enumerate(tools_value):
            where = f"{at}tools[{i}]"
            if not isinstance(raw, Mapping):
                problems.append(
                    Problem(
                        "error",
                        f"{rel}: {where} is a {type(raw).__name__}, not a tool object",
                        src,
                        "a tools list holds objects with name, description and inputSchema, as tools/list returns",
                    )
                )
                return None, problems
            tool = _tool_from(raw, where, problems, src)
            if tool is None:
                continue
            if tool.name in seen:
                problems.append(
                    Problem(
                        "warning", f"{rel}: tool '{tool.name}' is listed twice; the first one is kept", src
                    )
                )
                continue
            seen.add(tool.name)
            tools.append(tool)
    if collected.cursors and collected.cursors[-1]:
        problems.append(
            Problem(
                "warning",
                f"{rel}: the last page has a nextCursor, so the dump is incomplete",
                src,
                "list every page (follow nextCursor until it is absent) and save them all",
            )
        )
    info = collected.server_info or {}
    info_name = info.get("name") if isinstance(info.get("name"), str) else None
    info_version = info.get("version") if isinstance(info.get("version"), str) else None
    server = collected.snapshot_server or info_name or _server_from_stem(rel)
    manifest = Manifest(
        server=server,
        tools=tuple(tools),
        origin=collected.origin,
        source=SourceRef(rel),
        server_name=info_name,
        server_version=info_version,
        protocol_version=collected.protocol,
    )
    return manifest, problems


# ---------------------------------------------------------------------------------------------
# Which registry package a launch command runs
# ---------------------------------------------------------------------------------------------

_NPX_VALUE_FLAGS = {"--registry", "--cache", "--userconfig", "--prefix", "-w", "--workspace", "--loglevel"}
_UVX_VALUE_FLAGS = {
    "--with",
    "--with-editable",
    "--with-requirements",
    "--python",
    "-p",
    "--index",
    "--index-url",
    "-i",
    "--extra-index-url",
    "--default-index",
    "--find-links",
    "-f",
    "--directory",
    "--project",
    "--refresh-package",
    "--reinstall-package",
    "--upgrade-package",
    "-P",
    "--constraints",
    "-c",
    "--overrides",
    "--build-constraints",
    "-b",
    "--env-file",
    "--cache-dir",
    "--config-file",
    "--color",
    "--keyring-provider",
    "--index-strategy",
    "--resolution",
    "--prerelease",
    "--exclude-newer",
    "--python-platform",
    "--package",
    "--extra",
    "--group",
    "--only-group",
    "--no-group",
}
_PIPX_VALUE_FLAGS = {"--python", "--pip-args", "--index-url", "-i", "--backend"}
_DOCKER_VALUE_FLAGS = {
    "-e",
    "--env",
    "--env-file",
    "-v",
    "--volume",
    "--mount",
    "-p",
    "--publish",
    "--name",
    "--network",
    "--net",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--entrypoint",
    "--platform",
    "-l",
    "--label",
    "--label-file",
    "--add-host",
    "--cpus",
    "-m",
    "--memory",
    "--memory-swap",
    "--pull",
    "--restart",
    "-h",
    "--hostname",
    "--device",
    "--cap-add",
    "--cap-drop",
    "--security-opt",
    "--tmpfs",
    "--ulimit",
    "--log-driver",
    "--log-opt",
    "--dns",
    "--ipc",
    "--pid",
    "--runtime",
    "--gpus",
    "--shm-size",
    "--stop-signal",
    "--stop-timeout",
    "--health-cmd",
    "--cidfile",
    "--expose",
    "--link",
    "-c",
    "--cpu-shares",
    "--cgroupns",
    "--group-add",
    "--attach",
    "-a",
    "--volumes-from",
}
_UV_RUN_VALUE_FLAGS = _UVX_VALUE_FLAGS
_LAUNCHERS = {
    "npx",
    "pnpx",
    "bunx",
    "npm",
    "pnpm",
    "yarn",
    "bun",
    "uvx",
    "uv",
    "pipx",
    "python",
    "py",
    "docker",
    "podman",
    "node",
    "deno",
    "cmd",
    "sh",
    "bash",
    "zsh",
    "env",
}
_PY_EXE = re.compile(r"^(python|pypy)(\d+(\.\d+)*)?w?$")
_PEP508_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_NODE_MODULES = re.compile(r"node_modules[/\\]+((?:@[^/\\]+[/\\]+)?[^/\\@.][^/\\]*)")


def _exe_name(command: str) -> str:
    """The program's base name, lower-case, without a Windows extension or a Python version suffix."""
    name = PureWindowsPath(command).name if "\\" in command else PurePosixPath(command).name
    name = name.lower()
    for ext in (".exe", ".cmd", ".bat", ".ps1"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return "python" if _PY_EXE.match(name) else name


def is_launcher(command: str) -> bool:
    """True when `command` names a package runner or interpreter (npx, uvx, python, docker, ...)."""
    return _exe_name(command) in _LAUNCHERS


def _strip_npm_version(spec: str) -> str | None:
    if (
        spec.startswith(("./", "../", "/", "~", "file:", "git+", "git:", "github:", "http:", "https:"))
        or "\\" in spec
    ):
        return None
    if spec.startswith("npm:"):
        spec = spec[4:]
    if spec.startswith("@"):
        at = spec.find("@", 1)
        name = spec if at == -1 else spec[:at]
        return name if "/" in name else None
    name = spec.split("@", 1)[0]
    return name or None


def _pep508(spec: str) -> str | None:
    m = _PEP508_NAME.match(spec)
    return m.group(1) if m else None


def _positionals(args: Sequence[str], value_flags: set[str]) -> tuple[list[str], dict[str, str]]:
    """Split launcher args into the first positional and the rest, remembering flag values."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            return list(args[i + 1 :]), values
        if a.startswith("-") and len(a) > 1:
            if "=" in a:
                k, v = a.split("=", 1)
                values.setdefault(k, v)
            elif a in value_flags and i + 1 < len(args):
                values.setdefault(a, args[i + 1])
                i += 1
            i += 1
            continue
        return list(args[i:]), values
    return [], values


def _npx(args: Sequence[str]) -> str | None:
    rest, values = _positionals(args, _NPX_VALUE_FLAGS | {"-p", "--package", "-c", "--call"})
    pkg = values.get("-p") or values.get("--package")
    if pkg:
        return _strip_npm_version(pkg)
    return _strip_npm_version(rest[0]) if rest else None


def _uvx(args: Sequence[str]) -> str | None:
    rest, values = _positionals(args, _UVX_VALUE_FLAGS | {"--from"})
    if values.get("--from"):
        return _pep508(values["--from"])
    return _pep508(rest[0]) if rest else None


def _uv(args: Sequence[str], depth: int) -> str | None:
    rest, _ = _positionals(args, {"--directory", "--project", "--cache-dir", "--config-file", "--color"})
    if not rest:
        return None
    if rest[:2] == ["tool", "run"]:
        return _uvx(rest[2:])
    if rest[0] == "run":
        inner, run_values = _positionals(rest[1:], _UV_RUN_VALUE_FLAGS)
        if not inner:
            return None
        if _exe_name(inner[0]) == "python":
            return _argv_package(inner, depth + 1)
        if inner[0].endswith(".py"):
            return None
        if run_values.get("--with"):
            return _pep508(run_values["--with"])
        return _bin_package(inner[0])
    return None


def _pipx(args: Sequence[str]) -> str | None:
    rest, _ = _positionals(args, _PIPX_VALUE_FLAGS)
    if rest and rest[0] == "run":
        inner, run_values = _positionals(rest[1:], _PIPX_VALUE_FLAGS | {"--spec"})
        if run_values.get("--spec"):
            return _pep508(run_values["--spec"])
        return _pep508(inner[0]) if inner else None
    return None


def _python(args: Sequence[str]) -> str | None:
    i = 0
    while i < len(args):
        a = args[i]
        if a == "-m" and i + 1 < len(args):
            module = args[i + 1].split(".", 1)[0]
            return module.replace("_", "-") if module else None
        if a.startswith("-m") and len(a) > 2:
            return a[2:].split(".", 1)[0].replace("_", "-")
        if a in ("-c",) or not a.startswith("-"):
            return None  # inline code or a script file: not a registry package
        i += 1
    return None


def _docker_image(args: Sequence[str]) -> str | None:
    rest, _ = _positionals(args, {"--context", "-H", "--host", "--config", "--log-level", "-l"})
    if not rest or rest[0] not in ("run", "container"):
        return None
    sub = rest[1:]
    if rest[0] == "container":
        if not sub or sub[0] != "run":
            return None
        sub = sub[1:]
    inner, _ = _positionals(sub, _DOCKER_VALUE_FLAGS)
    if not inner:
        return None
    image = inner[0].split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image = image[: len(image) - len(last)] + last.split(":", 1)[0]
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if image.startswith(prefix):
            image = image[len(prefix) :]
    if image.startswith("library/"):
        image = image[len("library/") :]
    return image.lower() or None


def _node(args: Sequence[str]) -> str | None:
    for a in args:
        if a.startswith("-"):
            continue
        return _path_package(a)
    return None


def _path_package(path: str) -> str | None:
    """The package a path inside node_modules belongs to (`.bin/<name>` resolved through the catalog)."""
    norm = path.replace("\\", "/")
    if "node_modules/.bin/" in norm:
        return _bin_package(norm.rsplit("/", 1)[-1])
    found = _NODE_MODULES.findall(path)
    return found[-1].replace("\\", "/") if found else None


def _bin_package(command: str) -> str | None:
    return _catalog_index().bins.get(_exe_name(command))


def _argv_package(argv: Sequence[str], depth: int = 0) -> str | None:
    if not argv or depth > 4:
        return None
    exe = _exe_name(argv[0])
    rest = list(argv[1:])
    if exe == "cmd":
        if rest and rest[0].lower() in ("/c", "/k", "/s"):
            return _argv_package(rest[1:], depth + 1)
        return None
    if exe in ("sh", "bash", "zsh"):
        if "-c" in rest and rest.index("-c") + 1 < len(rest):
            try:
                return _argv_package(shlex.split(rest[rest.index("-c") + 1]), depth + 1)
            except ValueError:
                return None
        return None
    if exe == "env":
        while rest and (rest[0].startswith("-") or "=" in rest[0]):
            rest.pop(0)
        return _argv_package(rest, depth + 1)
    if exe in ("npx", "pnpx", "bunx"):
        return _npx(rest)
    if exe in ("npm", "pnpm", "yarn", "bun"):
        if rest and rest[0] in ("exec", "x", "dlx"):
            return _npx(rest[1:])
        return None
    if exe == "uvx":
        return _uvx(rest)
    if exe == "uv":
        return _uv(rest, depth)
    if exe == "pipx":
        return _pipx(rest)
    if exe in ("python", "py"):
        return _python(rest)
    if exe in ("docker", "podman"):
        return _docker_image(rest)
    if exe == "node":
        return _node(rest)
    if exe == "deno":
        for a in rest:
            if a.startswith("npm:"):
                return _strip_npm_version(a)
        return None
    if "node_modules" in argv[0]:
        return _path_package(argv[0])
    return _bin_package(argv[0])


def package_of(command: str | None, args: Sequence[str]) -> str | None:
    """The npm/PyPI package (or container image) a launch command runs, without its version; None if unknown."""
    if not command:
        return None
    argv = [command, *args]
    if not args and re.search(r"\s", command.strip()):
        try:
            split = shlex.split(command)
        except ValueError:
            split = []
        if split and is_launcher(split[0]):
            argv = split
    return _argv_package(argv)


# ---------------------------------------------------------------------------------------------
# The bundled catalog of captured manifests
# ---------------------------------------------------------------------------------------------

CATALOG_SCHEMA = "cfmigrate.catalog/1"
Registry = Literal["npm", "pypi"]


@dataclass(frozen=True)
class CatalogEntry:
    """Facts about one bundled manifest: which package and server version produced it."""

    file: str
    package: str
    registry: Registry
    version: str
    server_name: str
    server_version: str
    protocol_version: str
    tool_count: int
    bins: tuple[str, ...] = ()  # executables the package installs (npm bin / console scripts)
    modules: tuple[str, ...] = ()  # `python -m` module names
    images: tuple[str, ...] = ()  # container images that run the same server


@dataclass(frozen=True)
class _Index:
    entries: tuple[CatalogEntry, ...]
    by_package: Mapping[str, CatalogEntry]
    bins: Mapping[str, str]


def _pypi_norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _package_key(name: str) -> str:
    return name.lower() if name.startswith("@") or "/" in name else _pypi_norm(name)


def _catalog_dir() -> Any:
    return resources.files("cfmigrate.analyzers").joinpath("catalog")


@cache
def _catalog_index() -> _Index:
    raw = json.loads(_catalog_dir().joinpath("index.json").read_text(encoding="utf-8"))
    if raw.get("schema") != CATALOG_SCHEMA:
        raise RuntimeError(
            f"catalog/index.json: schema is {raw.get('schema')!r}, expected {CATALOG_SCHEMA!r}"
        )
    entries = tuple(
        CatalogEntry(
            file=e["file"],
            package=e["package"],
            registry=e["registry"],
            version=e["version"],
            server_name=e["server_name"],
            server_version=e["server_version"],
            protocol_version=e["protocol_version"],
            tool_count=int(e["tool_count"]),
            bins=tuple(e.get("bins", ())),
            modules=tuple(e.get("modules", ())),
            images=tuple(e.get("images", ())),
        )
        for e in raw["manifests"]
    )
    by_package: dict[str, CatalogEntry] = {}
    bins: dict[str, str] = {}
    for entry in entries:
        by_package[_package_key(entry.package)] = entry
        for image in entry.images:
            by_package[image.lower()] = entry
        for module in entry.modules:
            by_package.setdefault(_pypi_norm(module), entry)
        for b in entry.bins:
            bins[b.lower()] = entry.package
    return _Index(entries, by_package, bins)


def catalog_entries() -> tuple[CatalogEntry, ...]:
    """The facts behind every bundled manifest, in index order."""
    return _catalog_index().entries


@cache
def catalog() -> tuple[Manifest, ...]:
    """The bundled captured manifests (origin "catalog"), one per package."""
    out: list[Manifest] = []
    for entry in catalog_entries():
        data = json.loads(_catalog_dir().joinpath(entry.file).read_text(encoding="utf-8"))
        manifest, problems = parse_manifest_data(data, f"catalog/{entry.file}")
        errors = [p for p in problems if p.level == "error"]
        if manifest is None or errors:
            detail = errors[0].message if errors else "no tools list"
            raise RuntimeError(f"bundled catalog/{entry.file} is broken ({detail}); reinstall cfmigrate")
        out.append(
            replace(
                manifest,
                origin="catalog",
                source=None,
                server=entry.file.removesuffix(".json").removesuffix(".tools"),
                server_name=entry.server_name,
                server_version=entry.server_version,
                package=entry.package,
                protocol_version=entry.protocol_version,
            )
        )
    return tuple(out)


def catalog_entry_for(package: str) -> CatalogEntry | None:
    """The catalog entry for an npm/PyPI package name, `python -m` module or container image."""
    return _catalog_index().by_package.get(_package_key(package))


def match_catalog(spec: ServerSpec) -> Manifest | None:
    """The bundled manifest for the package a server runs, renamed to the server's name; None if unknown."""
    if spec.transport not in ("stdio", "unknown"):
        return None
    package = spec.package or package_of(spec.command, spec.args)
    if not package:
        return None
    entry = catalog_entry_for(package)
    if entry is None:
        return None
    found = next(m for m in catalog() if m.package == entry.package)
    return replace(found, server=spec.name)
