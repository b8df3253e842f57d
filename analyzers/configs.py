"""MCP client configs of every popular client, normalised into ServerSpec without keeping any secret value."""

from __future__ import annotations

import bisect
import functools
import json
import re
import shlex
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cfmigrate.analyzers.manifests import is_launcher, package_of, read_source
from cfmigrate.analyzers.model import Problem, ServerSpec, SourceRef, Transport

REDACTED = "***"

# ---------------------------------------------------------------------------------------------
# Which files to look at
# ---------------------------------------------------------------------------------------------

_STRONG_NAMES = {
    ".mcp.json",
    "mcp.json",
    "claude_desktop_config.json",
    "mcp_config.json",
    "servers_config.json",
    "mcp_servers.json",
    "mcp_settings.json",
    "cline_mcp_settings.json",
    ".claude.json",
}
_NEVER = {"package.json", "package-lock.json", "tsconfig.json", "jsconfig.json", "composer.json", "deno.json"}
_MARKERS = ("mcpServers", "context_servers", "mcp_servers")
INSTALL_BACKUP_TAG = ".cfmigrate-backup"  # `cfmigrate serve --install` backups: see install_backup_name


def is_config_candidate(rel_path: str) -> bool:
    """Cheap test on the path alone: could this file declare MCP servers? False positives are fine."""
    p = PurePosixPath(rel_path.replace("\\", "/"))
    name = p.name.lower()
    parts = [s.lower() for s in p.parts[:-1]]
    if name in _NEVER or name.endswith(".tools.json") or INSTALL_BACKUP_TAG in name:
        return False
    if name in _STRONG_NAMES or name in ("settings.json", "config.toml"):
        return True
    suffix = p.suffix.lower()
    if ".continue" in parts and suffix in (".yaml", ".yml", ".json"):
        return True
    if suffix in (".json", ".jsonc"):
        return "mcp" in name or name.endswith("servers.json") or "servers_config" in name
    if suffix in (".yaml", ".yml"):
        return "mcp" in name
    return False


def _is_strong(rel: str) -> bool:
    p = PurePosixPath(rel)
    name = p.name.lower()
    parents = [s.lower() for s in p.parts[:-1]]
    if name in _STRONG_NAMES:
        return True
    return ".continue" in parents and "mcpservers" in parents


# ---------------------------------------------------------------------------------------------
# JSON with comments, remembering the line of every key
# ---------------------------------------------------------------------------------------------


class LinedDict(dict[str, Any]):
    """A mapping from a config file that remembers where it and each of its keys start."""

    __slots__ = ("dupes", "end", "key_lines", "line", "spans", "start")

    def __init__(self, line: int, start: int = -1) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}
        self.dupes: list[tuple[str, int, int]] = []  # (key, first line, later line)
        # JSON(C) only: offsets of `{` and just past `}`, and per key (start of its quoted name, end of
        # its value), so an editor can change one member and leave every other character alone
        self.start = start
        self.end = -1
        self.spans: dict[str, tuple[int, int]] = {}

    def put(self, key: str, value: Any, line: int) -> None:
        """Set a key; a repeated key wins (as JSON.parse does) and is remembered in `dupes`."""
        if key in self:
            self.dupes.append((key, self.key_lines[key], line))
        self[key] = value
        self.key_lines[key] = line


class LinedList(list[Any]):
    """A sequence from a config file that remembers the line of each item."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


class ConfigSyntaxError(ValueError):
    """A config file does not parse; `line`/`column` are 1-based."""

    def __init__(self, message: str, line: int, column: int = 1) -> None:
        super().__init__(f"{message} (line {line}, column {column})")
        self.message = message
        self.line = line
        self.column = column


# The stdlib's string scanner (escapes, surrogates) without its typeshed gap.
_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.__dict__["scanstring"]
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_MAX_DEPTH = 256


class _Jsonc:
    """A small recursive-descent JSON parser that accepts // and /* */ comments and trailing commas."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.i = 0
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def fail(self, message: str, pos: int | None = None) -> ConfigSyntaxError:
        at = self.i if pos is None else pos
        line = self.line(min(at, self.n))
        return ConfigSyntaxError(message, line, at - self.starts[line - 1] + 1)

    def skip(self) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in " \t\r\n\ufeff":
                self.i += 1
            elif s.startswith("//", self.i):
                end = s.find("\n", self.i)
                self.i = n if end == -1 else end + 1
            elif s.startswith("/*", self.i):
                end = s.find("*/", self.i + 2)
                if end == -1:
                    raise self.fail("unterminated /* comment")
                self.i = end + 2
            else:
                return

    def document(self) -> Any:
        self.skip()
        if self.i >= self.n:
            raise self.fail("the file is empty")
        value = self.value(0)
        self.skip()
        if self.i < self.n:
            raise self.fail("unexpected text after the end of the JSON document")
        return value

    def value(self, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail(f"nested deeper than {_MAX_DEPTH} levels")
        self.skip()
        if self.i >= self.n:
            raise self.fail("unexpected end of file, expected a value")
        c = self.s[self.i]
        if c == "{":
            return self.obj(depth)
        if c == "[":
            return self.arr(depth)
        if c == '"':
            return self.string()
        m = _NUMBER.match(self.s, self.i)
        if m and m.end() > self.i:
            self.i = m.end()
            text = m.group()
            return float(text) if any(ch in text for ch in ".eE") else int(text)
        for literal, val in (("true", True), ("false", False), ("null", None)):
            if self.s.startswith(literal, self.i):
                self.i += len(literal)
                return val
        shown = f" {c!r}" if not c.isalnum() else ""
        hint = " (JSON strings need double quotes)" if c in "'`" or c.isalpha() else ""
        raise self.fail(f"unexpected character{shown}, expected a value{hint}")

    def string(self) -> str:
        try:
            text, end = _scanstring(self.s, self.i + 1, False)
        except json.JSONDecodeError as exc:
            raise self.fail(exc.msg.split(":")[0].lower(), exc.pos) from None
        self.i = end
        return text

    def obj(self, depth: int) -> LinedDict:
        out = LinedDict(self.line(self.i), self.i)
        self.i += 1
        while True:
            self.skip()
            if self.i >= self.n:
                raise self.fail("unexpected end of file inside an object (missing '}')")
            if self.s[self.i] == "}":
                self.i += 1
                out.end = self.i
                return out
            if self.s[self.i] != '"':
                raise self.fail("expected a property name in double quotes")
            key_line = self.line(self.i)
            key_start = self.i
            key = self.string()
            self.skip()
            if self.i >= self.n or self.s[self.i] != ":":
                raise self.fail("expected ':' after the property name")
            self.i += 1
            value = self.value(depth + 1)
            out.put(key, value, key_line)
            out.spans[key] = (key_start, self.i)
            end = self.i
            self.skip()
            if self.i < self.n and self.s[self.i] == ",":
                self.i += 1
                continue
            if self.i < self.n and self.s[self.i] == "}":
                continue
            if self.i >= self.n:
                raise self.fail("unexpected end of file inside an object (missing '}')")
            if self.s[self.i] == "]":
                raise self.fail(
                    f"found ']' but the object opened on line {out.line} is not closed (missing '}}')"
                )
            raise self.fail("expected ',' or '}' after this value (a comma is probably missing)", end)

    def arr(self, depth: int) -> LinedList:
        out = LinedList(self.line(self.i))
        self.i += 1
        while True:
            self.skip()
            if self.i >= self.n:
                raise self.fail("unexpected end of file inside an array (missing ']')")
            if self.s[self.i] == "]":
                self.i += 1
                return out
            item_line = self.line(self.i)
            out.append(self.value(depth + 1))
            out.item_lines.append(item_line)
            end = self.i
            self.skip()
            if self.i < self.n and self.s[self.i] == ",":
                self.i += 1
                continue
            if self.i < self.n and self.s[self.i] == "]":
                continue
            if self.i >= self.n:
                raise self.fail("unexpected end of file inside an array (missing ']')")
            if self.s[self.i] == "}":
                raise self.fail(
                    f"found '}}' but the array opened on line {out.line} is not closed (missing ']')"
                )
            raise self.fail("expected ',' or ']' after this item (a comma is probably missing)", end)


def parse_jsonc(text: str) -> Any:
    """Parse JSON or JSONC into LinedDict/LinedList; raises ConfigSyntaxError with the line."""
    return _Jsonc(text).document()


# ---------------------------------------------------------------------------------------------
# YAML with line numbers
# ---------------------------------------------------------------------------------------------


@functools.cache
def _yaml() -> Any:
    """PyYAML, loaded on the first YAML config (an audit without one never pays for the import)."""
    import yaml  # type: ignore[import-untyped]

    return yaml


@functools.cache
def _line_loader() -> Any:
    """A safe YAML loader whose mappings and sequences remember their lines."""
    yaml = _yaml()

    def yaml_map(loader: Any, node: Any) -> LinedDict:
        loader.flatten_mapping(node)
        out = LinedDict(node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            out.put(
                key if isinstance(key, str) else str(key),
                loader.construct_object(value_node, deep=True),
                key_node.start_mark.line + 1,
            )
        return out

    def yaml_seq(loader: Any, node: Any) -> LinedList:
        out = LinedList(node.start_mark.line + 1)
        for item in node.value:
            out.append(loader.construct_object(item, deep=True))
            out.item_lines.append(item.start_mark.line + 1)
        return out

    class LineLoader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
        """SafeLoader (no arbitrary objects) with the two constructors below."""

    LineLoader.add_constructor("tag:yaml.org,2002:map", yaml_map)
    LineLoader.add_constructor("tag:yaml.org,2002:seq", yaml_seq)
    return LineLoader


def parse_yaml(text: str) -> Any:
    """Parse YAML into LinedDict/LinedList; raises ConfigSyntaxError with the line."""
    yaml = _yaml()
    try:
        return yaml.load(text, Loader=_line_loader())  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            what = f"{exc.context}: {exc.problem}"
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        raise ConfigSyntaxError(what, line, column) from None
    except yaml.YAMLError as exc:
        raise ConfigSyntaxError(type(exc).__name__, 1) from None


# ---------------------------------------------------------------------------------------------
# TOML: tomllib has no positions, so server lines come from scanning the text
# ---------------------------------------------------------------------------------------------

_TOML_KEY_PART = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_TOML_KEY = re.compile(rf"\s*({_TOML_KEY_PART}(?:\s*\.\s*{_TOML_KEY_PART})*)\s*")
_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)|\s*\(at end of document\)")


def _toml_path(text: str) -> list[str]:
    parts = re.findall(_TOML_KEY_PART, text)
    out = []
    for p in parts:
        if p.startswith('"'):
            try:
                out.append(json.loads(p))
            except json.JSONDecodeError:
                out.append(p[1:-1])
        elif p.startswith("'"):
            out.append(p[1:-1])
        else:
            out.append(p)
    return out


def _toml_table_lines(text: str, table: str) -> dict[str, int]:
    """First line that mentions each `table.<name>` (headers, dotted keys, or keys under `[table]`)."""
    found: dict[str, int] = {}
    current: list[str] = []
    in_multiline: str | None = None
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if in_multiline:
            if raw.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        if not line or line.startswith("#"):
            continue
        full: list[str] | None = None
        if line.startswith("["):
            inner = line[2:] if line.startswith("[[") else line[1:]
            m = _TOML_KEY.match(inner)
            current = _toml_path(m.group(1)) if m else []
            full = current
        else:
            m = _TOML_KEY.match(line)
            if m and line[m.end() : m.end() + 1] == "=":
                full = current + _toml_path(m.group(1))
                for quote in ('"""', "'''"):
                    if line.count(quote) % 2 == 1:
                        in_multiline = quote
        if full and len(full) >= 2 and full[0] == table:
            found.setdefault(full[1], no)
    return found


def _toml_error(exc: tomllib.TOMLDecodeError, text: str) -> ConfigSyntaxError:
    message = str(exc)
    m = _TOML_AT.search(message)
    line, column = (int(m.group(1)), int(m.group(2))) if m and m.group(1) else (text.count("\n") + 1, 1)
    return ConfigSyntaxError(_TOML_AT.sub("", message).strip() or "invalid TOML", line, column)


# ---------------------------------------------------------------------------------------------
# Secrets: references are kept, values never
# ---------------------------------------------------------------------------------------------

_REF = re.compile(
    r"\$\{\{\s*secrets\.(?P<secret>[A-Za-z0-9_.-]+)\s*\}\}"  # Continue: ${{ secrets.NAME }}
    r"|\$\{(?P<scope>env|input):(?P<scoped>[^}\s]+)\}"  # VS Code / Cursor / Windsurf: ${env:NAME}, ${input:id}
    r"|\$\{(?P<bare>[A-Za-z_][A-Za-z0-9_]*)(?P<default>:-[^}]*)?\}"  # Claude Code / shells: ${NAME}, ${NAME:-x}
    r"|(?<!\$)\{env:(?P<brace>[A-Za-z_][A-Za-z0-9_]*)\}"  # opencode: {env:NAME}
)
_WHOLE_DOLLAR = re.compile(r"^(?:(?:Bearer|Basic|Token)\s+)?\$([A-Za-z_][A-Za-z0-9_]*)$")
# Editor variables that look like ${NAME} but are not environment variables.
_PREDEFINED = {
    "workspaceFolder",
    "workspaceFolderBasename",
    "workspaceRoot",
    "userHome",
    "cwd",
    "pathSeparator",
    "file",
    "fileBasename",
    "fileBasenameNoExtension",
    "fileDirname",
    "fileExtname",
    "relativeFile",
    "relativeFileDirname",
    "execPath",
    "extensionPath",
    "lineNumber",
    "selectedText",
    "defaultBuildTask",
}


def find_refs(value: str) -> list[str]:
    """The `${VAR}`, `${env:VAR}`, `${input:id}`, `${{ secrets.X }}` references in a value (defaults dropped)."""
    out: list[str] = []
    for m in _REF.finditer(value):
        if m.group("secret"):
            out.append(f"${{{{ secrets.{m.group('secret')} }}}}")
        elif m.group("scope"):
            out.append(f"${{{m.group('scope')}:{m.group('scoped')}}}")
        elif m.group("bare"):
            if m.group("bare") not in _PREDEFINED:
                out.append(f"${{{m.group('bare')}}}")
        elif m.group("brace"):
            out.append(f"{{env:{m.group('brace')}}}")
    whole = _WHOLE_DOLLAR.match(value.strip())
    if whole:
        out.append(f"${whole.group(1)}")
    return out


def parse_env_ref(ref: str) -> tuple[str, str] | None:
    """("env", NAME), ("input", id) or ("secret", NAME) for a reference as stored in `env_refs`."""
    m = _REF.fullmatch(ref)
    if m:
        if m.group("secret"):
            return "secret", m.group("secret")
        if m.group("scope"):
            return m.group("scope"), m.group("scoped")
        return "env", m.group("bare") or m.group("brace")
    whole = _WHOLE_DOLLAR.match(ref)
    return ("env", whole.group(1)) if whole else None


def _only_refs(value: str) -> bool:
    """True when a value holds nothing but references (and an auth scheme word): safe to keep."""
    rest = _REF.sub("", value)
    rest = re.sub(r"^\s*(?:Bearer|Basic|Token)\b", "", rest.strip(), flags=re.I)
    if not rest.strip(" :=") and _REF.search(value):
        return True
    return bool(_WHOLE_DOLLAR.match(value.strip()))


def only_references(value: str) -> bool:
    """True when a value names its secret (`${TOKEN}`, `Bearer ${env:TOKEN}`) instead of holding it."""
    return _only_refs(value)


def _scrub_defaults(value: str) -> str:
    """`${VAR:-literal}` keeps its name but not a possibly secret default."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-[^}]+\}", rf"${{\1:-{REDACTED}}}", value)


_SECRET_WORDS = {
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "apikey",
    "key",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "bearer",
    "pat",
    "cookie",
    "session",
    "signature",
    "sig",
    "dsn",
}
_SECRET_VALUE = re.compile(
    r"(?:^|[^A-Za-z0-9])(?:sk-|sk_live|sk_test|rk_live|pk_live|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|xox[abprs]-|"
    r"xapp-|AKIA[0-9A-Z]{12}|AIza[0-9A-Za-z_-]{20}|ya29\.|eyJ[0-9A-Za-z_-]{10,}|npm_[0-9A-Za-z]{20}|hf_[A-Za-z]{20}|"
    r"lin_api_|shpat_|sntrys_|dop_v1_|SG\.[0-9A-Za-z_-]{16})"
)
_HEADER_FLAGS = {"--header", "--headers", "-H"}
_ENV_FLAGS = {"-e", "--env", "--env-var", "--environment"}


def _secret_name(name: str) -> bool:
    lowered = name.lower().lstrip("-")
    words = [w for w in re.split(r"[-_.\s]+", lowered) if w]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(
        k in lowered for k in ("token", "secret", "password", "apikey", "api_key", "api-key", "credential")
    )


def _looks_secret(value: str) -> bool:
    return bool(_SECRET_VALUE.search(value)) or bool(re.search(r"(?i)\b(bearer|basic)\s+\S{6,}", value))


def _mask(value: str) -> str:
    return value if _only_refs(value) else REDACTED


def redact_url(url: str) -> str:
    """The URL with any password, secret-looking query value or path segment replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _scrub_defaults(url) if _only_refs(url) else REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{_mask(user)}@{host}"
    segments = [
        REDACTED if _looks_secret(seg) and not _only_refs(seg) else seg for seg in parts.path.split("/")
    ]
    query = []
    for pair in parts.query.split("&") if parts.query else []:
        key, eq, val = pair.partition("=")
        if eq and val and (_secret_name(key) or _looks_secret(val)) and not _only_refs(val):
            val = REDACTED
        query.append(f"{key}{eq}{val}")
    fragment = REDACTED if parts.fragment and _looks_secret(parts.fragment) else parts.fragment
    return _scrub_defaults(urlunsplit((parts.scheme, netloc, "/".join(segments), "&".join(query), fragment)))


def redact_args(args: Sequence[str]) -> tuple[str, ...]:
    """Arguments with secret values replaced by *** (flags, env assignments, headers and URLs kept)."""
    out: list[str] = []
    pending: str | None = None  # what the previous flag says this argument is
    for arg in args:
        kind, pending = pending, None
        if kind == "secret":
            out.append(_mask(arg))
            continue
        if kind == "header":
            name, colon, value = arg.partition(":")
            out.append(
                f"{name}:{' ' if value.startswith(' ') else ''}{_mask(value.strip())}"
                if colon
                else _mask(arg)
            )
            continue
        if kind == "env":
            name, eq, value = arg.partition("=")
            out.append(f"{name}={_mask(value)}" if eq else arg)
            continue
        if arg.startswith("-") and len(arg) > 1:
            flag, eq, value = arg.partition("=")
            lowered = flag if flag == "-H" else flag.lower()
            if eq:
                if lowered in _HEADER_FLAGS:
                    name, colon, hval = value.partition(":")
                    out.append(f"{flag}={name}:{_mask(hval.strip())}" if colon else f"{flag}={_mask(value)}")
                elif lowered in _ENV_FLAGS:
                    name, eq2, evalue = value.partition("=")
                    out.append(f"{flag}={name}={_mask(evalue)}" if eq2 else arg)
                elif _secret_name(flag) or _looks_secret(value):
                    out.append(f"{flag}={_mask(value)}")
                else:
                    out.append(f"{flag}={redact_url(value)}" if "://" in value else arg)
                continue
            if lowered in _HEADER_FLAGS:
                pending = "header"
            elif lowered in _ENV_FLAGS:
                pending = "env"
            elif _secret_name(flag):
                pending = "secret"
            out.append(arg)
            continue
        if "://" in arg:
            out.append(redact_url(arg))
        elif re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", arg):
            name, _, value = arg.partition("=")
            out.append(f"{name}={_mask(value)}" if (_secret_name(name) or _looks_secret(value)) else arg)
        elif _looks_secret(arg):
            out.append(_mask(arg))
        else:
            out.append(_scrub_defaults(arg))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Normalising one server entry
# ---------------------------------------------------------------------------------------------

_TRANSPORTS: dict[str, Transport] = {
    "stdio": "stdio",
    "local": "stdio",
    "command": "stdio",
    "http": "http",
    "streamable-http": "http",
    "streamable_http": "http",
    "streamablehttp": "http",
    "streamable": "http",
    "remote": "http",
    "sse": "sse",
}


@dataclass
class _Ctx:
    rel: str
    origin: str
    problems: list[Problem] = field(default_factory=list)
    inputs: set[str] | None = None  # VS Code `inputs` ids, when the file declares them
    url_means: Transport | None = None  # Gemini CLI: `url` is SSE


def _line_of(container: Any, key: str | int, default: int = 1) -> int:
    if isinstance(container, LinedDict) and isinstance(key, str):
        return container.key_lines.get(key, container.line)
    if isinstance(container, LinedList) and isinstance(key, int) and key < len(container.item_lines):
        return container.item_lines[key]
    return default


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value
    ):
        return [str(v) for v in value]
    return None


def _names_and_refs(
    value: Any, refs: list[str], templates: list[tuple[str, str]] | None = None
) -> list[str] | None:
    """Keys of a name → value mapping, collecting references from the values (which are never kept).

    A value made only of references (`"${TOKEN}"`, `"Bearer ${TOKEN}"`) holds no secret and is kept
    in `templates` so a runtime can expand it from its own environment.
    """
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return None
    for k, v in value.items():
        if isinstance(v, str):
            refs.extend(find_refs(v))
            if templates is not None and _only_refs(v):
                templates.append((str(k), _scrub_defaults(v.strip())))
    return [str(k) for k in value]


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _url_transport(url: str) -> Transport:
    path = urlsplit(url).path.rstrip("/") if "://" in url else url
    return "sse" if path.endswith("/sse") else "http"


def _server(name: str, entry: Any, line: int, ctx: _Ctx) -> ServerSpec | None:
    """One server entry of any format as a ServerSpec; problems go to ctx."""
    where = SourceRef(ctx.rel, line)
    if not isinstance(entry, Mapping):
        ctx.problems.append(
            Problem(
                "error",
                f"server '{name}' is not an object; skipped",
                where,
                "each server entry is an object with command/args or url",
            )
        )
        return None
    refs: list[str] = []
    env_names: list[str] = []
    header_names: list[str] = []
    env_templates: list[tuple[str, str]] = []
    header_templates: list[tuple[str, str]] = []

    raw_type = entry.get("type", entry.get("transport", entry.get("transportType")))
    if isinstance(raw_type, Mapping):  # Continue's legacy {"transport": {"type": ..., ...}}
        entry = {**entry, **raw_type}
        raw_type = raw_type.get("type")
    declared: Transport | None = None
    if isinstance(raw_type, str) and raw_type:
        declared = _TRANSPORTS.get(raw_type.lower().replace(" ", ""))
        if declared is None:
            ctx.problems.append(
                Problem(
                    "warning",
                    f"server '{name}' uses transport '{raw_type[:40]}', which cfmigrate does not support",
                    where,
                    "use stdio, streamable http or sse; the server is listed with transport 'unknown'",
                )
            )

    command: str | None = None
    args: list[str] = []
    raw_cmd = entry.get("command")
    raw_args = entry.get("args")
    if isinstance(raw_cmd, Mapping):  # Zed's old {"command": {"path", "args", "env"}}
        raw_args = raw_cmd.get("args", raw_args)
        env_names += _names_and_refs(raw_cmd.get("env"), refs, env_templates) or []
        raw_cmd = raw_cmd.get("path")
    if isinstance(raw_cmd, list):  # opencode-style ["npx", "-y", "pkg"]
        parts = _strings(raw_cmd) or []
        raw_cmd, raw_args = (parts[0], parts[1:] + (_strings(raw_args) or [])) if parts else (None, raw_args)
    if isinstance(raw_cmd, str) and raw_cmd.strip():
        command = raw_cmd.strip()
    elif raw_cmd not in (None, ""):
        ctx.problems.append(Problem("error", f"server '{name}': `command` must be a string", where))
    parsed_args = _strings(raw_args)
    if parsed_args is None:
        ctx.problems.append(
            Problem("error", f"server '{name}': `args` must be a list of strings; arguments ignored", where)
        )
        parsed_args = []
    args = parsed_args
    if command and not args and re.search(r"\s", command):
        try:
            split = shlex.split(command)
        except ValueError:
            split = []
        if split and is_launcher(split[0]):
            command, args = split[0], split[1:]
        elif split and redact_args(split) != tuple(split):
            command = shlex.join(redact_args(split))

    url: str | None = None
    url_kind: Transport | None = None
    for key, kind in (("httpUrl", "http"), ("serverUrl", None), ("url", ctx.url_means), ("uri", None)):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            url, url_kind = value.strip(), kind
            break

    for env_key in ("env", "environment"):
        names = _names_and_refs(entry.get(env_key), refs, env_templates)
        if names is None:
            ctx.problems.append(
                Problem("error", f"server '{name}': `{env_key}` must be an object of NAME: value", where)
            )
        else:
            env_names += names
    env_vars = _strings(entry.get("env_vars"))
    env_names += env_vars or []

    headers_value = entry.get("headers", entry.get("http_headers"))
    options = entry.get("requestOptions")
    if headers_value is None and isinstance(options, Mapping):
        headers_value = options.get("headers")
    names = _names_and_refs(headers_value, refs, header_templates)
    if names is None:
        ctx.problems.append(
            Problem("error", f"server '{name}': `headers` must be an object of Name: value", where)
        )
    else:
        header_names += names
    env_headers = entry.get("env_http_headers")
    if isinstance(env_headers, Mapping):
        for header, var in env_headers.items():
            header_names.append(str(header))
            if isinstance(var, str) and var:
                refs.append(f"${{env:{var}}}")
                header_templates.append((str(header), f"${{env:{var}}}"))
    bearer_var = entry.get("bearer_token_env_var")
    if isinstance(bearer_var, str) and bearer_var:
        header_names.insert(0, "Authorization")
        refs.append(f"${{env:{bearer_var}}}")
        header_templates.append(("Authorization", f"Bearer ${{env:{bearer_var}}}"))
    if entry.get("bearer_token") not in (None, ""):
        header_names.insert(0, "Authorization")
        ctx.problems.append(
            Problem(
                "warning",
                f"server '{name}' has an inline bearer_token; cfmigrate ignores its value",
                where,
                "move the token to an environment variable and use bearer_token_env_var",
            )
        )

    for text in [
        command or "",
        *args,
        url or "",
        entry.get("cwd") if isinstance(entry.get("cwd"), str) else "",
    ]:
        refs.extend(find_refs(text))

    unsupported = isinstance(raw_type, str) and bool(raw_type) and declared is None
    transport: Transport
    if not command and not url:
        ctx.problems.append(
            Problem(
                "error",
                f"server '{name}' has neither a command nor a url; skipped",
                where,
                "add `command` (and `args`) for a local server or `url` for a remote one, or remove the entry",
            )
        )
        return None
    if unsupported:
        transport = "unknown"
    elif declared == "stdio" or (declared is None and command):
        if not command:
            ctx.problems.append(
                Problem(
                    "error",
                    f"server '{name}' is declared stdio but has no `command`; skipped",
                    where,
                    "add the command that starts the server (and its args)",
                )
            )
            return None
        transport = "stdio"
        url = None
    elif url:
        transport = declared or url_kind or _url_transport(url)
        command, args = None, []
    else:
        ctx.problems.append(
            Problem(
                "error",
                f"server '{name}' is declared {declared} but has no url; skipped",
                where,
                "add the server's url",
            )
        )
        return None

    disabled = entry.get("disabled") is True or entry.get("enabled") is False
    tool_filter_raw = entry.get("includeTools", entry.get("enabled_tools"))
    tool_filter = tuple(_strings(tool_filter_raw) or ()) if isinstance(tool_filter_raw, list) else None

    for ref in refs:
        kind_name = parse_env_ref(ref)
        if (
            kind_name
            and kind_name[0] == "input"
            and ctx.inputs is not None
            and kind_name[1] not in ctx.inputs
        ):
            ctx.problems.append(
                Problem(
                    "warning",
                    f"server '{name}' uses {ref}, but the file declares no input with id '{kind_name[1]}'",
                    where,
                    "add it to `inputs` or fix the id",
                )
            )
    cwd = entry.get("cwd")
    safe_args = redact_args(args)
    return ServerSpec(
        name=name,
        transport=transport,
        source=where,
        origin=ctx.origin,
        command=command,
        args=safe_args,
        cwd=cwd if isinstance(cwd, str) and cwd else None,
        url=redact_url(url) if url else None,
        env_names=_unique(env_names),
        header_names=_unique(header_names),
        env_refs=tuple(sorted(set(refs))),
        package=package_of(command, safe_args) if transport in ("stdio", "unknown") else None,
        tool_filter=tool_filter,
        disabled=disabled,
        env_templates=tuple(sorted(dict(env_templates).items())),
        header_templates=tuple(sorted(dict(header_templates).items())),
    )


def _servers_map(
    container: Any, key: str, ctx: _Ctx, parent: Any, *, list_ok: bool = False
) -> list[ServerSpec]:
    """Every server of a `{name: entry}` object (or a list of entries with `name`)."""
    where = SourceRef(ctx.rel, _line_of(parent, key))
    specs: list[ServerSpec] = []
    if isinstance(container, Mapping):
        if isinstance(container, LinedDict):
            for dup, first, later in container.dupes:
                ctx.problems.append(
                    Problem(
                        "warning",
                        f"server '{dup}' is defined twice in `{key}` (lines {first} and {later}); the later one wins",
                        SourceRef(ctx.rel, later),
                        "remove or rename one of them",
                    )
                )
        for name, entry in container.items():
            spec = _server(str(name), entry, _line_of(container, str(name)), ctx)
            if spec:
                specs.append(spec)
        return specs
    if list_ok and isinstance(container, list):
        seen: dict[str, int] = {}
        for i, entry in enumerate(container):
            line = _line_of(container, i)
            name = entry.get("name") if isinstance(entry, Mapping) else None
            if not isinstance(name, str) or not name:
                uses = entry.get("uses") if isinstance(entry, Mapping) else None
                if isinstance(uses, str):
                    ctx.problems.append(
                        Problem(
                            "warning",
                            f"`{key}` item {i + 1} uses the hub block '{uses[:80]}', which cfmigrate cannot resolve offline",
                            SourceRef(ctx.rel, line),
                            "inline the server's command/url, or add a tools manifest for it",
                        )
                    )
                else:
                    ctx.problems.append(
                        Problem(
                            "error",
                            f"`{key}` item {i + 1} has no `name`; skipped",
                            SourceRef(ctx.rel, line),
                            "give every server a name",
                        )
                    )
                continue
            if name in seen:
                ctx.problems.append(
                    Problem(
                        "warning",
                        f"server '{name}' is defined twice in `{key}` (lines {seen[name]} and {line}); the first one is kept",
                        SourceRef(ctx.rel, line),
                        "remove or rename one of them",
                    )
                )
                continue
            seen[name] = line
            spec = _server(name, entry, line, ctx)
            if spec:
                specs.append(spec)
        return specs
    ctx.problems.append(
        Problem(
            "error",
            f"`{key}` must be an object mapping server names to server entries",
            where,
            'write it as {"name": {"command": ..., "args": [...]}}',
        )
    )
    return []


# ---------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------


def _origin_for(rel: str) -> str:
    p = PurePosixPath(rel.lower())
    name = p.name
    parents = set(p.parts[:-1])
    text = "/" + rel.lower()
    if name == "claude_desktop_config.json":
        return "claude-desktop"
    if name in (".mcp.json", ".claude.json"):
        return "claude-code"
    if ".cursor" in parents:
        return "cursor"
    if "/.codeium/windsurf/" in text or "windsurf" in name:
        return "windsurf"
    if ".gemini" in parents:
        return "gemini-cli"
    if ".continue" in parents:
        return "continue"
    if ".vscode" in parents:
        return "vscode"
    if name == "cline_mcp_settings.json":
        return "cline"
    if ".roo" in parents:
        return "roo-code"
    if ".kiro" in parents:
        return "kiro"
    if ".amazonq" in parents:
        return "amazon-q"
    return "mcp-json"


def _vscode_inputs(value: Any) -> set[str]:
    ids: set[str] = set()
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                ids.add(item["id"])
    return ids


def _gemini_scope(specs: list[ServerSpec], doc: Mapping[str, Any]) -> list[ServerSpec]:
    """Gemini CLI's `mcp.allowed` / `mcp.excluded` lists switch servers off."""
    mcp = doc.get("mcp")
    if not isinstance(mcp, Mapping):
        return specs
    allowed = mcp.get("allowed")
    excluded = mcp.get("excluded")
    out = []
    for s in specs:
        off = (isinstance(excluded, list) and s.name in excluded) or (
            isinstance(allowed, list) and s.name not in allowed
        )
        out.append(replace(s, disabled=True) if off else s)
    return out


def _zed_servers(container: Any, ctx: _Ctx, doc: LinedDict) -> list[ServerSpec]:
    if not isinstance(container, Mapping):
        return _servers_map(container, "context_servers", ctx, doc)
    specs: list[ServerSpec] = []
    for name, entry in container.items():
        line = _line_of(container, name)
        if isinstance(entry, Mapping):
            source = entry.get("source")
            if isinstance(source, Mapping):  # {"source": {"type": ..., "command"/"url": ...}}
                entry = {**entry, **{k: v for k, v in source.items() if k != "type"}}
            if not any(k in entry for k in ("command", "url")):
                ctx.problems.append(
                    Problem(
                        "warning",
                        f"context server '{name}' is provided by a Zed extension; cfmigrate cannot see how it starts",
                        SourceRef(ctx.rel, line),
                        'declare it with an explicit command ("source": "custom") or add a tools manifest for it',
                    )
                )
                continue
        spec = _server(name, entry, line, ctx)
        if spec:
            specs.append(spec)
    if isinstance(container, LinedDict):
        for dup, first, later in container.dupes:
            ctx.problems.append(
                Problem(
                    "warning",
                    f"server '{dup}' is defined twice in `context_servers` (lines {first} and {later}); the later one wins",
                    SourceRef(ctx.rel, later),
                    "remove or rename one of them",
                )
            )
    return specs


def _looks_like_server(entry: Any) -> bool:
    return isinstance(entry, Mapping) and any(k in entry for k in ("command", "url", "transport"))


def _json_specs(
    doc: Any, rel: str, problems: list[Problem], *, yaml_doc: bool = False
) -> list[ServerSpec] | None:
    """Servers of a parsed JSON/YAML config, or None when the document declares none of the known shapes."""
    if not isinstance(doc, LinedDict):
        return None
    origin = _origin_for(rel)
    name = PurePosixPath(rel).name.lower()
    found = False
    specs: list[ServerSpec] = []

    if "mcpServers" in doc:
        found = True
        ctx = _Ctx(rel, origin, problems, url_means="sse" if origin == "gemini-cli" else None)
        batch = _servers_map(doc["mcpServers"], "mcpServers", ctx, doc, list_ok=yaml_doc)
        specs += _gemini_scope(batch, doc) if origin == "gemini-cli" else batch
    projects = doc.get("projects")
    if name == ".claude.json" and isinstance(projects, Mapping):
        for project in projects.values():
            if isinstance(project, LinedDict) and "mcpServers" in project:
                found = True
                specs += _servers_map(
                    project["mcpServers"], "mcpServers", _Ctx(rel, origin, problems), project
                )
    if "servers" in doc and (name in ("mcp.json", ".mcp.json") or origin == "vscode"):
        found = True
        inputs = _vscode_inputs(doc.get("inputs"))
        ctx = _Ctx(rel, "vscode" if origin in ("vscode", "mcp-json") else origin, problems, inputs=inputs)
        specs += _servers_map(doc["servers"], "servers", ctx, doc)
    mcp = doc.get("mcp")
    if isinstance(mcp, LinedDict) and "servers" in mcp:  # VS Code user/workspace settings.json
        found = True
        inputs = _vscode_inputs(mcp.get("inputs"))
        specs += _servers_map(mcp["servers"], "servers", _Ctx(rel, "vscode", problems, inputs=inputs), mcp)
    if "context_servers" in doc:
        found = True
        specs += _zed_servers(doc["context_servers"], _Ctx(rel, "zed", problems), doc)
    if (
        not found
        and doc
        and all(_looks_like_server(v) for v in doc.values())
        and ("mcp" in name or "servers" in name)
    ):
        found = True  # langchain MultiServerMCPClient-style {name: {command, args, transport}}
        specs += _servers_map(doc, "<top level>", _Ctx(rel, "langchain", problems), doc)
    return sorted(specs, key=lambda s: s.source.line or 0) if found else None


def _codex_specs(
    doc: Mapping[str, Any], text: str, rel: str, problems: list[Problem]
) -> list[ServerSpec] | None:
    table = doc.get("mcp_servers")
    if table is None:
        return None
    lines = _toml_table_lines(text, "mcp_servers")
    ctx = _Ctx(rel, "codex", problems, url_means="http")
    if not isinstance(table, Mapping):
        problems.append(
            Problem(
                "error", "`mcp_servers` must be a table of [mcp_servers.<name>] tables", SourceRef(rel, 1)
            )
        )
        return []
    specs = []
    for name, entry in table.items():
        spec = _server(str(name), entry, lines.get(str(name), 1), ctx)
        if spec:
            specs.append(spec)
    return sorted(specs, key=lambda s: s.source.line or 0)


def _syntax_problem(kind: str, rel: str, err: ConfigSyntaxError) -> Problem:
    return Problem(
        "error",
        f"malformed {kind} in {rel}: {err.message} (line {err.line}, column {err.column})",
        SourceRef(rel, err.line),
        f"fix the {kind} syntax at line {err.line}; cfmigrate skipped this file",
    )


def parse_config_text(text: str, rel: str) -> tuple[list[ServerSpec], list[Problem]] | None:
    """Servers declared by a config file's text, or None when it is not an MCP config."""
    problems: list[Problem] = []
    suffix = PurePosixPath(rel).suffix.lower()
    strong = _is_strong(rel)
    try:
        if suffix == ".toml":
            if "mcp_servers" not in text:
                return None
            try:
                doc: Any = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                return [], [_syntax_problem("TOML", rel, _toml_error(exc, text))]
            specs = _codex_specs(doc, text, rel, problems)
            return None if specs is None else (specs, problems)
        if suffix in (".yaml", ".yml"):
            if "mcpServers" not in text and "mcp_servers" not in text:
                return None
            try:
                doc = parse_yaml(text)
            except ConfigSyntaxError as err:
                return [], [_syntax_problem("YAML", rel, err)]
            result = _json_specs(doc, rel, problems, yaml_doc=True)
            return None if result is None else (result, problems)
        try:
            doc = parse_jsonc(text)
        except ConfigSyntaxError as err:
            if strong or any(m in text for m in _MARKERS):
                return [], [_syntax_problem("JSON", rel, err)]
            return None
        result = _json_specs(doc, rel, problems)
        if result is None:
            if strong and not isinstance(doc, Mapping):
                return [], [
                    Problem(
                        "error",
                        f"{rel} should hold a JSON object with `mcpServers`, but holds a {type(doc).__name__}",
                        SourceRef(rel, 1),
                        'write it as {"mcpServers": {"name": {"command": ..., "args": [...]}}}',
                    )
                ]
            return None
        return result, problems
    except RecursionError:
        return [], [Problem("error", f"{rel} is nested too deeply to be a config", SourceRef(rel, 1))]


def install_backup_name(name: str) -> str:
    """Where `cfmigrate serve --install` keeps a config's original bytes: `.mcp.json` -> `.mcp.json.cfmigrate-backup.json`.

    The format's suffix is kept so any reader picks the right parser; the audit reads the backup only
    through the installed config (see `parse_config_file`), never as a config of its own.
    """
    return f"{name}{INSTALL_BACKUP_TAG}{PurePosixPath(name).suffix}"


def is_gateway_launch(command: str | None, args: Sequence[str]) -> bool:
    """True for an entry that starts `cfmigrate serve` (the gateway itself: never one of the servers it fronts)."""
    words = [PurePosixPath((command or "").replace("\\", "/")).name.lower().removesuffix(".exe"), *args]
    if "serve" not in words[:4]:
        return False
    return any(w == "cfmigrate" or w.startswith("cfmigrate.") for w in words[: words.index("serve")])


def _seen_through_install(
    path: Path, rel: str, result: tuple[list[ServerSpec], list[Problem]]
) -> tuple[list[ServerSpec], list[Problem]]:
    """A config rewritten by `serve --install` declares the servers of its backup, less the gateway entry."""
    specs, problems = result
    specs = [s for s in specs if not is_gateway_launch(s.command, s.args)]
    backup = path.with_name(install_backup_name(path.name))
    if not backup.is_file():
        return specs, problems
    backup_rel = str(PurePosixPath(rel).with_name(backup.name))
    text, read_problems = read_source(backup, backup_rel)
    parsed = parse_config_text(text, rel) if text is not None else None
    if parsed is None:
        return specs, problems + read_problems
    here = {s.name for s in specs}
    behind = [
        replace(s, source=SourceRef(backup_rel, s.source.line))
        for s in parsed[0]
        if s.name not in here and not is_gateway_launch(s.command, s.args)
    ]
    return specs + behind, problems + read_problems


def parse_config_file(path: Path, rel: str) -> tuple[list[ServerSpec], list[Problem]] | None:
    """Servers declared by an MCP client config file; None when the file is not an MCP config. Never raises."""
    try:
        text, problems = read_source(path, rel)
        if text is None:
            return [], problems
        result = parse_config_text(text, rel)
        return None if result is None else _seen_through_install(path, rel, result)
    except Exception as exc:  # a bug must not stop the scan; report it without any file content
        return [], [
            Problem(
                "error",
                f"cfmigrate could not read {rel} ({type(exc).__name__})",
                SourceRef(rel),
                "please report this with the file's format (not its secrets)",
            )
        ]


def duplicate_server_problems(specs: Sequence[ServerSpec]) -> list[Problem]:
    """Warnings for one server name declared differently in two config files."""
    by_name: dict[str, list[ServerSpec]] = {}
    for spec in specs:
        by_name.setdefault(spec.name, []).append(spec)
    problems = []
    for name in sorted(by_name):
        group = by_name[name]
        files = {s.source.path for s in group}
        launches = {(s.transport, s.command, s.args, s.url) for s in group}
        if len(files) > 1 and len(launches) > 1:
            first = group[0]
            others = ", ".join(str(s.source) for s in group[1:])
            problems.append(
                Problem(
                    "warning",
                    f"server '{name}' is declared differently in {len(files)} configs: {first.source} and {others}",
                    first.source,
                    "rename one of them (generated wrappers use the server name), or make the declarations agree",
                )
            )
    return problems
