"""`cfmigrate serve --install CLIENT`: point a client's repository config at the gateway, and undo it byte for byte.

A plan is computed first (nothing written): which entries move behind the gateway, which stay and why,
the new text and a diff that shows secret values as ***. Applying it writes the original bytes to a
backup next to the config, a small record under `.cfmigrate/install/`, then the new config.
`--uninstall` puts the backup's bytes back, refusing when the config changed since.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from cfmigrate.analyzers.configs import (
    REDACTED,
    ConfigSyntaxError,
    LinedDict,
    install_backup_name,
    is_gateway_launch,
    only_references,
    parse_config_file,
    parse_config_text,
    parse_jsonc,
    redact_args,
    redact_url,
)
from cfmigrate.analyzers.files import atomic_write_bytes, atomic_write_text
from cfmigrate.analyzers.model import ServerSpec
from cfmigrate.migrate.install_clients import (
    CLIENTS,
    DROPPABLE_KEYS,
    GATEWAY_ENTRY,
    LAUNCH_KEYS,
    UNSUPPORTED,
    Client,
    ConfigPlace,
    client_named,
    gateway_entry,
)
from cfmigrate.migrate.install_edit import EditError, edit_json_members, edit_toml_servers

RECORD_DIR = ".cfmigrate/install"
RECORD_SCHEMA = "cfmigrate.install/1"


class InstallError(Exception):
    """Bad input or an unsafe state: one line naming the file and what to do; nothing was written."""


@dataclass(frozen=True)
class Kept:
    """A server entry left as it is, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class GatewayView:
    """What the gateway serves, as `--install` needs it (built from the gateway's own estate).

    served: server name -> repo-relative config that declares the copy the gateway serves (None: code).
    unserved: server name -> why the gateway cannot serve it.
    command: the gateway's launch before the repository argument, e.g. ("cfmigrate", "serve").
    """

    served: Mapping[str, str | None]
    unserved: Mapping[str, str]
    command: tuple[str, ...] = ("cfmigrate", "serve")


@dataclass(frozen=True)
class InstallPlan:
    """What `--install` (or `--uninstall`) would do to one client config."""

    action: Literal["install", "uninstall"]
    client: Client
    root: Path
    rel: str  # the config, relative to root
    before: str = field(repr=False)  # the texts hold the config's secret values: never in a repr
    after: str = field(repr=False)
    state: Literal["change", "installed", "nothing"] = "nothing"
    moved: tuple[str, ...] = ()
    kept: tuple[Kept, ...] = ()
    note: str = ""
    before_bytes: bytes = field(default=b"", repr=False)
    after_bytes: bytes = field(default=b"", repr=False)
    secret_names: tuple[str, ...] = field(default=(), repr=False)  # env/header names whose values are masked
    secret_values: tuple[str, ...] = field(default=(), repr=False)  # literal secrets from args and URLs

    @property
    def config(self) -> Path:
        return self.root / self.rel

    @property
    def backup_rel(self) -> str:
        return str(PurePosixPath(self.rel).with_name(install_backup_name(PurePosixPath(self.rel).name)))

    @property
    def backup(self) -> Path:
        return self.root / self.backup_rel

    @property
    def record(self) -> Path:
        return self.root / RECORD_DIR / f"{self.client.name}.json"

    def diff(self) -> str:
        """A unified diff of the config, env and header values shown as *** (names stay)."""
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"a/{self.rel}",
            tofile=f"b/{self.rel}",
        )
        out = []
        for line in lines:
            text = mask_line(line, self.secret_names, self.secret_values)
            out.append(text if text.endswith("\n") else text + "\n\\ No newline at end of file\n")
        return "".join(out)


# ---------------------------------------------------------------------------------------------
# Reading the client's config
# ---------------------------------------------------------------------------------------------


def resolve_client(name: str) -> Client:
    client = client_named(name)
    if client is not None:
        return client
    if name in UNSUPPORTED:
        raise InstallError(f"--install {name}: {UNSUPPORTED[name]}")
    known = ", ".join(c.name for c in CLIENTS)
    raise InstallError(f"--install {name!r}: unknown client; choose one of {known}")


def _find_place(root: Path, client: Client) -> ConfigPlace:
    for place in client.places:
        if (root / place.path).is_file():
            return place
    looked = " or ".join(p.path for p in client.places)
    raise InstallError(
        f"{root}: no {client.label} config found (looked for {looked}); create it with the servers the "
        f"client should load, or pick the client whose config this repository has"
    )


def _read(path: Path, rel: str) -> tuple[bytes, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InstallError(f"{rel}: cannot read it ({exc.strerror}); check the file's permissions") from None
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError:
        raise InstallError(f"{rel}: not UTF-8 text; save it as UTF-8 and retry") from None


def _servers_json(text: str, rel: str, place: ConfigPlace) -> LinedDict:
    try:
        doc = parse_jsonc(text)
    except ConfigSyntaxError as err:
        raise InstallError(
            f"{rel}:{err.line}: malformed JSON ({err.message}); fix it and retry (nothing was written)"
        ) from None
    node: Any = doc
    for key in place.key:
        if not isinstance(node, LinedDict) or key not in node:
            raise InstallError(
                f"{rel}: no `{'.'.join(place.key)}` object, so no server to put behind the gateway; "
                "declare the client's servers there first"
            )
        node = node[key]
    if not isinstance(node, LinedDict):
        raise InstallError(
            f"{rel}: `{'.'.join(place.key)}` must be an object mapping server names to entries; fix it and retry"
        )
    if node.dupes:  # two members of one name: which one the client uses is its own business; edit neither
        name, first, later = node.dupes[0]
        raise InstallError(
            f"{rel}: server '{name}' is defined twice (lines {first} and {later}); remove one and retry"
        )
    return node


def _servers_toml(text: str, rel: str, place: ConfigPlace) -> Mapping[str, Any]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstallError(f"{rel}: malformed TOML ({exc}); fix it and retry (nothing was written)") from None
    node: Any = doc
    for key in place.key:
        if not isinstance(node, Mapping) or key not in node:
            raise InstallError(
                f"{rel}: no `[{'.'.join(place.key)}.<name>]` table, so no server to put behind the gateway; "
                "declare the client's servers there first"
            )
        node = node[key]
    if not isinstance(node, Mapping):
        raise InstallError(
            f"{rel}: `{'.'.join(place.key)}` must be a table of server tables; fix it and retry"
        )
    return node


# ---------------------------------------------------------------------------------------------
# Which entries move
# ---------------------------------------------------------------------------------------------

_FILTER_KEYS = {"includeTools", "excludeTools", "enabled_tools", "disabled_tools", "tools"}
_HEADER_KEYS = {"http_headers", "env_http_headers", "bearer_token_env_var", "requestOptions"}


def _refs_input(entry: Mapping[str, Any]) -> bool:
    """True when the entry uses a VS Code `${input:id}` prompt, which only the client can answer."""
    return "${input:" in json.dumps(entry, default=str)


def _launch_of(spec: ServerSpec) -> tuple[object, ...]:
    return (spec.transport, spec.command, spec.args, spec.url, spec.cwd)


def _declared_in(root: Path, rel: str, name: str) -> ServerSpec | None:
    """The server `name` as another config of the repository declares it."""
    parsed = parse_config_file(root / rel, rel)
    return next((s for s in (parsed[0] if parsed else []) if s.name == name), None)


def _why_kept(
    name: str, entry: Any, spec: ServerSpec | None, gateway: GatewayView, rel: str, root: Path
) -> str | None:
    """Why this entry must stay as it is, or None when the gateway can take it over."""
    if not isinstance(entry, Mapping):
        return "not an object"
    if spec is None:
        return "launch unknown (neither `command` nor `url`)"
    if spec.disabled or entry.get("disabled") is True or entry.get("enabled") is False:
        return "disabled in this config"
    if spec.transport == "unknown":
        return "transport unknown"
    if isinstance(entry.get("command"), Mapping):
        return "Zed's nested `command` object: write it flat (command, args, env) to move it"
    extra = sorted(
        k
        for k in entry
        if k not in LAUNCH_KEYS
        and k not in DROPPABLE_KEYS
        and not (k == "disabled" and entry[k] is False)
        and not (k == "enabled" and entry[k] is True)
        and not (k == "source" and entry[k] == "custom")  # Zed's flat shape
    )
    headers = [k for k in extra if k in _HEADER_KEYS]
    if headers:
        names = ", ".join(spec.header_names) or ", ".join(headers)
        return (
            f"sends headers ({names}) through `{headers[0]}`; the gateway reads header values from a config's "
            "`headers` only"
        )
    filters = [k for k in extra if k in _FILTER_KEYS]
    if filters:
        return f"limits its tools (`{filters[0]}`); the gateway would expose all of them"
    if extra:
        return f"uses {', '.join(f'`{k}`' for k in extra)}, which the gateway entry cannot carry"
    if _refs_input(entry):
        return "uses `${input:...}` prompts, which only the client can answer"
    if name in gateway.unserved:
        return gateway.unserved[name]
    if name not in gateway.served:
        return "the gateway has no server of this name (`cfmigrate audit` lists the names it knows; an alias of another name stays direct)"
    where = gateway.served[name]
    if where is not None and where != rel:
        other = _declared_in(
            root, where, name
        )  # the same launch declared twice (e.g. .mcp.json and .vscode) is fine
        if other is None or _launch_of(other) != _launch_of(spec):
            return f"the gateway serves the '{name}' declared in {where}, which starts differently"
    return None


def _secret_material(
    entries: Mapping[str, Any], specs: Mapping[str, ServerSpec]
) -> tuple[set[str], set[str]]:
    """Env/header names (their values are masked) and literal secrets found in args and URLs."""
    names: set[str] = set()
    values: set[str] = set()
    for name, entry in entries.items():
        if not isinstance(entry, Mapping):
            continue
        for key in ("env", "headers", "http_headers", "env_http_headers"):
            block = entry.get(key)
            if isinstance(block, Mapping):
                names.update(str(k) for k in block)
        args = entry.get("args")
        if isinstance(args, list) and all(isinstance(a, str) for a in args):
            for raw, shown in zip(args, redact_args(args), strict=True):
                if raw != shown:
                    values.add(raw)
        for key in ("url", "serverUrl", "httpUrl"):
            url = entry.get(key)
            if isinstance(url, str) and redact_url(url) != url:
                values.add(url)
        spec = specs.get(name)
        if spec is not None:
            names.update(spec.env_names)
            names.update(spec.header_names)
    return names, values


def mask_line(line: str, names: Sequence[str] | set[str], values: Sequence[str] | set[str]) -> str:
    """A config line with the values of the named env/header keys (JSON or TOML) and literal secrets as ***."""
    for value in sorted(values, key=len, reverse=True):
        for form in {value, json.dumps(value)[1:-1]}:
            if form:
                line = line.replace(form, REDACTED)
    for name in names:
        quoted = re.escape(json.dumps(name))
        bare = re.escape(name)
        for pattern in (
            rf'({quoted}\s*:\s*)"((?:[^"\\]|\\.)*)"',
            rf'((?:^[-+ ]?|[\s{{,])(?:{bare}|{quoted})\s*=\s*)"((?:[^"\\]|\\.)*)"',
            rf"((?:^[-+ ]?|[\s{{,])(?:{bare}|{quoted})\s*=\s*)'([^']*)'",
        ):
            line = re.sub(
                pattern,
                lambda m: m.group(0) if only_references(m.group(2)) else f'{m.group(1)}"{REDACTED}"',
                line,
            )
    return line


def _launch(
    client: Client, root: Path, gateway: GatewayView, backup_rel: str, serve_args: Sequence[str]
) -> tuple[str, list[str]]:
    """The command and args of the gateway entry: the repository, the backup holding the moved entries'
    values, then `serve_args` (policy flags given with --install)."""
    repo = client.root_arg(root)
    backup = backup_rel if repo == "." else f"{repo.rstrip('/')}/{backup_rel}"
    command, *rest = gateway.command
    return command, [*rest, repo, "--config", backup, *serve_args]


def plan_install(
    root: Path,
    client_name: str,
    gateway: GatewayView | Callable[[], GatewayView],
    serve_args: Sequence[str] = (),
) -> InstallPlan:
    """What `--install CLIENT` would change in the repository; nothing is written.

    `serve_args` are added to the gateway entry's command line (e.g. `--deny crm/delete_*`).
    """
    client = resolve_client(client_name)
    root = root.resolve()
    place = _find_place(root, client)
    rel = place.path
    data, text = _read(root / rel, rel)
    entries: Mapping[str, Any] = (
        _servers_toml(text, rel, place) if place.fmt == "toml" else _servers_json(text, rel, place)
    )
    parsed = parse_config_text(text, rel)
    specs = {s.name: s for s in (parsed[0] if parsed else [])}
    errors = [p for p in (parsed[1] if parsed else []) if p.level == "error" and "malformed" in p.message]
    if errors:
        raise InstallError(f"{errors[0].source}: {errors[0].message}; fix it and retry (nothing was written)")
    names, values = _secret_material(entries, specs)
    base = InstallPlan(
        "install", client, root, rel, text, text, "nothing", before_bytes=data, after_bytes=data,
        secret_names=tuple(sorted(names)), secret_values=tuple(sorted(values)),
    )  # fmt: skip
    ours = [
        n
        for n, e in entries.items()
        if isinstance(e, Mapping)
        and isinstance(e.get("command"), str)
        and is_gateway_launch(e.get("command"), [str(a) for a in e.get("args") or ()])
    ]
    if ours:
        how = "installed by cfmigrate" if base.backup.is_file() else "no backup: it was added by hand"
        return _replace(
            base, state="installed", note=f"{rel} already points at the gateway ('{ours[0]}'; {how})"
        )
    if base.backup.exists():
        raise InstallError(
            f"{base.backup_rel} exists but {rel} has no gateway entry: remove the stale backup "
            f"(or restore it over {rel}) and retry"
        )
    if GATEWAY_ENTRY in entries:
        raise InstallError(
            f"{rel}: a server named '{GATEWAY_ENTRY}' already exists and is not the gateway; rename it and retry"
        )
    view = gateway() if callable(gateway) else gateway
    moved: list[str] = []
    kept: list[Kept] = []
    for name, entry in entries.items():
        reason = _why_kept(name, entry, specs.get(name), view, rel, root)
        if reason is None:
            moved.append(name)
        else:
            kept.append(Kept(name, reason))
    if not moved:
        return _replace(
            base, kept=tuple(kept), note=f"{rel}: no server can go behind the gateway; nothing to change"
        )
    env_vars: list[str] = []  # Codex: names passed through from the client's environment
    for name in moved:
        listed = entries[name].get("env_vars")
        if isinstance(listed, list):
            env_vars += [str(v) for v in listed if str(v) not in env_vars]
    command, args = _launch(client, root, view, base.backup_rel, serve_args)
    entry = gateway_entry(client, command, args, {}, env_vars)
    try:
        if place.fmt == "toml":
            after = edit_toml_servers(text, place.key[0], moved, (GATEWAY_ENTRY, entry))
        else:
            assert isinstance(entries, LinedDict)
            after = edit_json_members(text, entries, moved, (GATEWAY_ENTRY, entry))
        _verify(text, after, place, moved, (GATEWAY_ENTRY, entry))
    except EditError as exc:
        raise InstallError(f"{rel}: cannot be edited safely ({exc}); nothing was written") from None
    return _replace(
        base,
        after=after,
        after_bytes=after.encode("utf-8"),
        state="change",
        moved=tuple(moved),
        kept=tuple(kept),
    )


def _load(text: str, fmt: str) -> Any:
    return tomllib.loads(text) if fmt == "toml" else json.loads(json.dumps(parse_jsonc(text)))


def _verify(
    before: str, after: str, place: ConfigPlace, moved: Sequence[str], add: tuple[str, Mapping[str, Any]]
) -> None:
    """Read the edited text back: the same document but for the moved entries and the gateway's; else refuse."""
    try:
        old, new = _load(before, place.fmt), _load(after, place.fmt)
    except (ConfigSyntaxError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise EditError(f"the edited text does not parse ({exc})") from None
    expected = old
    node = expected
    for key in place.key[:-1]:
        node = node[key]
    servers = {k: v for k, v in node[place.key[-1]].items() if k not in moved}
    servers[add[0]] = json.loads(json.dumps(add[1]))
    node[place.key[-1]] = servers
    if new != expected:
        raise EditError("reading the edited text back gives another document")
    if place.fmt == "json":
        try:
            json.loads(before)
        except ValueError:
            return  # JSONC in, JSONC out
        try:
            json.loads(after)
        except ValueError as exc:
            raise EditError(f"the file was strict JSON and the edit is not ({exc})") from None


def _replace(plan: InstallPlan, **changes: Any) -> InstallPlan:
    return replace(plan, **changes)


# ---------------------------------------------------------------------------------------------
# Writing, and undoing
# ---------------------------------------------------------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def apply_install(plan: InstallPlan) -> None:
    """Backup, record, then the new config; on any failure nothing is left behind."""
    if plan.state != "change":
        return
    if plan.config.read_bytes() != plan.before_bytes:
        raise InstallError(f"{plan.rel} changed while the plan was made; run the command again")
    record = {
        "schema": RECORD_SCHEMA,
        "client": plan.client.name,
        "config": plan.rel,
        "backup": plan.backup_rel,
        "original_sha256": _sha(plan.before_bytes),
        "installed_sha256": _sha(plan.after_bytes),
        "moved": list(plan.moved),
        "kept": [{"name": k.name, "reason": k.reason} for k in plan.kept],
    }
    written: list[Path] = []
    try:
        with plan.backup.open("xb") as fh:  # never overwrite an earlier backup
            written.append(plan.backup)
            fh.write(plan.before_bytes)
        if plan.config.stat().st_mode & 0o777:
            plan.backup.chmod(plan.config.stat().st_mode & 0o777)
        atomic_write_text(plan.record, json.dumps(record, indent=2, sort_keys=True) + "\n")
        written.append(plan.record)
        atomic_write_bytes(plan.config, plan.after_bytes)
    except FileExistsError:
        raise InstallError(f"{plan.backup_rel} already exists; remove it or run --uninstall first") from None
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise InstallError(f"{plan.rel}: cannot write ({exc.strerror}); nothing was changed") from None


def plan_uninstall(root: Path, client_name: str) -> InstallPlan:
    """What `--uninstall CLIENT` would restore; refuses when the config changed since the install."""
    client = resolve_client(client_name)
    root = root.resolve()
    record_path = root / RECORD_DIR / f"{client.name}.json"
    if not record_path.is_file():
        raise InstallError(
            f"{RECORD_DIR}/{client.name}.json not found: cfmigrate did not install the gateway into "
            f"{client.label} here (nothing to undo)"
        )
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        rel, backup_rel, installed = record["config"], record["backup"], record["installed_sha256"]
        if record.get("schema") != RECORD_SCHEMA or not all(
            isinstance(v, str) for v in (rel, backup_rel, installed)
        ):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise InstallError(
            f"{RECORD_DIR}/{client.name}.json is not an install record; restore the backup by hand "
            "(mv <config>.cfmigrate-backup.<ext> <config>)"
        ) from None
    backup = root / backup_rel
    if not backup.is_file():
        raise InstallError(
            f"{backup_rel} is missing, so {rel} cannot be restored; restore it from version control"
        )
    original, original_text = _read(backup, backup_rel)
    config = root / rel
    current, current_text = _read(config, rel) if config.exists() else (b"", "")
    if config.exists() and _sha(current) != installed:
        raise InstallError(
            f"{rel} changed since `cfmigrate serve --install {client.name}`; restoring {backup_rel} would lose "
            f"those edits: undo them, or copy them into {backup_rel} and move it over {rel} yourself"
        )
    plan = InstallPlan(
        "uninstall", client, root, rel, current_text, original_text, "change",
        before_bytes=current, after_bytes=original,
    )  # fmt: skip
    try:
        place = next(p for p in client.places if p.path == rel)
        entries = (
            _servers_toml(original_text, rel, place)
            if place.fmt == "toml"
            else _servers_json(original_text, rel, place)
        )
        parsed = parse_config_text(original_text, rel)
        names, values = _secret_material(entries, {s.name: s for s in (parsed[0] if parsed else [])})
        plan = _replace(plan, secret_names=tuple(sorted(names)), secret_values=tuple(sorted(values)))
    except (StopIteration, InstallError):
        # the diff is still shown, with every env/header-looking value masked by the args/URL rules only
        pass
    return plan


def apply_uninstall(plan: InstallPlan) -> None:
    """Put the backup's bytes back, then remove the backup and the record."""
    if plan.state != "change":
        return
    try:
        atomic_write_bytes(plan.config, plan.after_bytes)
    except OSError as exc:
        raise InstallError(f"{plan.rel}: cannot write ({exc.strerror}); nothing was changed") from None
    plan.backup.unlink(missing_ok=True)
    plan.record.unlink(missing_ok=True)
    for folder in (plan.record.parent, plan.record.parent.parent):  # only when empty
        try:
            folder.rmdir()
        except OSError:
            break


def summary(plan: InstallPlan, *, written: bool) -> list[str]:
    """The lines printed after the diff: what moved, what stayed and why (names only, never values)."""
    out: list[str] = []
    if plan.note:
        out.append(plan.note)
    if plan.action == "install":
        if plan.moved:
            verb = "moved" if written else "would move"
            out.append(f"{verb} behind the gateway: {', '.join(plan.moved)}")
        for k in plan.kept:
            out.append(f"kept as it is: {k.name} ({k.reason})")
        if plan.state == "change":
            if written:
                out.append(
                    f"wrote {plan.rel}; the original is in {plan.backup_rel} (`--uninstall {plan.client.name}` restores it)"
                )
            else:
                out.append(
                    f"dry run: nothing written; add --write to apply (the original goes to {plan.backup_rel})"
                )
    elif plan.state == "change":
        if written:
            out.append(
                f"restored {plan.rel} from {plan.backup_rel} (byte for byte); backup and record removed"
            )
        else:
            out.append(f"dry run: nothing written; add --write to restore {plan.rel} from {plan.backup_rel}")
    return out
