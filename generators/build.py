"""Manifests to the package IR: names resolved once, schemas prepared, one model batch per server, split per tool."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cfmigrate.analyzers.model import Manifest, Problem, ServerSpec, ToolDef
from cfmigrate.analyzers.naming import Collision, assign, to_class_name, to_field_name
from cfmigrate.generators import docs, package_runtime
from cfmigrate.generators.errors import GenerateFailure
from cfmigrate.generators.ir import Arg, PackageIR, ServerIR, ToolIR
from cfmigrate.generators.models import (
    Block,
    ModelGenerationError,
    ModelModule,
    build_check,
    check_module,
    parse_models,
    rebase,
    run_datamodel_codegen,
)
from cfmigrate.generators.schema import Batch, flatten_root, property_objects, sanitize

# Attributes every typed result has (see `_runtime.ToolOutput`); an output field of that name gets a trailing `_`.
RESULT_ATTRIBUTES = frozenset({"content", "structured_content", "is_error", "text", "result"})


class GenerateError(GenerateFailure):
    """Generation cannot proceed (name collisions, unusable input); the message says what to change."""


def output_field_name(raw: str) -> str:
    """The naming rule for a top-level field of an output model (keeps clear of the result accessors)."""
    name = to_field_name(raw)
    return f"{name}_" if name in RESULT_ATTRIBUTES else name


@dataclass
class _Tool:
    """A tool while its server's batch is being built."""

    tool: ToolDef
    id: str
    cls: str
    input_class: str
    output_class: str | None
    flat: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _collisions_message(collisions: Sequence[Collision]) -> str:
    return "; ".join(c.message() for c in collisions)


def _prepare(tools: Sequence[_Tool], renames: Mapping[str, str]) -> tuple[Batch, dict[str, str]]:
    """The batch document for `tools` (class names reserved first, then schemas hoisted in tool order)."""
    batch = Batch()
    for t in tools:
        batch.reserve(t.input_class)
        if t.output_class:
            batch.reserve(t.output_class)
    for t in tools:
        t.notes = []
        schema = sanitize(t.tool.input_schema or {"type": "object"}, t.notes, where="inputSchema")
        root = batch.hoist(t.input_class, schema, t.cls, t.notes)
        t.flat = flatten_root(root, batch.defs, t.notes)
        props = {
            name: {k: v for k, v in sub.items() if k != "description"} if isinstance(sub, Mapping) else sub
            for name, sub in t.flat["properties"].items()
        }
        batch.set_root(t.input_class, {**t.flat, "properties": props})
        if t.output_class:
            out = sanitize(t.tool.output_schema, t.notes, relax=True, where="outputSchema")
            out_root = batch.hoist(t.output_class, out, t.cls, t.notes)
            if out_root.get("type", "object") != "object" or any(k in out_root for k in ("anyOf", "oneOf")):
                t.notes.append("outputSchema is not a plain object; the function returns ToolResult")
                t.output_class = None
            else:
                batch.set_root(t.output_class, out_root)
    aliases: dict[str, str] = {}
    for schema in batch.defs.values():
        for obj in property_objects(schema):
            for prop in obj["properties"]:
                ident = to_field_name(renames.get(prop, prop))
                if ident != prop:
                    aliases[prop] = ident
    for t in tools:
        if t.output_class:
            for prop in batch.defs[t.output_class].get("properties", {}):
                ident = output_field_name(renames.get(prop, prop))
                if ident != to_field_name(renames.get(prop, prop)):
                    aliases[f"{t.output_class}.{prop}"] = ident
    return batch, aliases


def _property_collisions(server: str, t: _Tool, renames: Mapping[str, str]) -> list[Collision]:
    """Two properties of one object that the naming rule maps onto one Python name."""
    found: list[Collision] = []
    notes: list[str] = []
    scope = f"server {server!r}, tool {t.tool.name!r}: property"
    schemas = [sanitize(t.tool.input_schema, notes)]
    if t.tool.output_schema is not None:
        out = sanitize(t.tool.output_schema, notes)
        schemas.append(out)
        _, top = assign(out.get("properties") or {}, scope, renames, convert=output_field_name)
        found.extend(top)
    for schema in schemas:
        for obj in property_objects(schema):
            _, collisions = assign(obj["properties"], scope, renames, convert=to_field_name)
            found.extend(collisions)
    return found


def _generate(tools: list[_Tool], renames: Mapping[str, str]) -> tuple[ModelModule, dict[str, str]]:
    """One datamodel-code-generator batch for `tools`; tools it cannot handle are found and reported.

    Returns the parsed models and {tool id: reason} for tools left out. A failing batch is bisected, so
    one bad schema costs a few extra runs, never the other tools.
    """
    failed: dict[str, str] = {}

    def attempt(subset: list[_Tool]) -> ModelModule:
        batch, aliases = _prepare(subset, renames)
        return parse_models(run_datamodel_codegen(batch.document(), aliases))

    def bisect(subset: list[_Tool]) -> None:
        try:
            attempt(subset)
        except ModelGenerationError as exc:
            if len(subset) == 1:
                failed[subset[0].id] = f"model generation failed: {exc}"
                return
            half = len(subset) // 2
            bisect(subset[:half])
            bisect(subset[half:])

    for _round in range(4):
        ok = [t for t in tools if t.id not in failed]
        if not ok:
            return ModelModule(imports=(), blocks=()), failed
        try:
            module = attempt(ok)
        except ModelGenerationError:
            bisect(ok)
            continue
        module = _rebase_outputs(module, ok)
        errors = build_check(module, [b.name for b in module.blocks], {"_runtime": package_runtime})
        if not errors:
            return module, failed
        for t in ok:
            bad = sorted(module.closure(_roots(t)) & set(errors))
            if bad:
                failed[t.id] = f"generated model {bad[0]} does not build: {errors[bad[0]]}"
    for t in tools:  # still failing after several rounds: report rather than loop
        failed.setdefault(t.id, "models could not be generated for this tool's schemas")
    return ModelModule(imports=(), blocks=()), failed


def _ordered(blocks: list[Block], last: Sequence[str]) -> list[Block]:
    """Classes in dependency order (what a class uses comes first), `last` (the tool's own models) at the end."""
    by_name = {b.name: b for b in blocks}
    done: list[Block] = []
    seen: set[str] = set()

    def visit(block: Block) -> None:
        if block.name in seen:
            return
        seen.add(block.name)
        for dep in sorted(block.deps):
            # a base class must come first even when it is one of the tool's own models (`last`)
            if dep in by_name and (dep not in last or dep in block.bases):
                visit(by_name[dep])
        done.append(block)

    for block in blocks:
        if block.name not in last:
            visit(block)
    for name in last:
        if name in by_name:
            visit(by_name[name])
    return done


def _rebuilds(blocks: Sequence[Block]) -> tuple[str, ...]:
    """Classes that use a class defined after them (a cycle): they need `model_rebuild()` at the end."""
    position = {b.name: i for i, b in enumerate(blocks)}
    return tuple(b.name for i, b in enumerate(blocks) if any(position.get(d, -1) > i for d in b.deps))


def _refers_to(name: str, module: ModelModule, roots: Sequence[str], args: Sequence[Arg]) -> bool:
    """Whether a model of the tool (other than `name` itself) or an argument's type uses the class `name`."""
    used = any(name in b.deps for b in module.blocks if b.name in module.closure(roots) and b.name != name)
    return used or any(re.search(rf"\b{re.escape(name)}\b", a.annotation) for a in args)


def module_check_source(tool: ToolIR, shared_imports: Sequence[str]) -> str:
    """A tool module as `tool.py.jinja` renders it, minus the package-relative imports (for `check_module`)."""
    head = ["from __future__ import annotations"] if tool.models_source else []
    params = ", ".join(
        f"{a.name}: {a.annotation}" + ("" if a.required else f" = {a.default}") for a in tool.args
    )
    lines = [
        *head,
        *tool.model_imports,
        tool.models_source,
        *(f"{name}.model_rebuild()" for name in tool.rebuilds),
        f"async def {tool.id}({'*, ' + params if params else ''}) -> {tool.return_type}: ...",
    ]
    return "\n".join(lines) + "\n"


def _shared_namespace(imports: Sequence[str], shared: Sequence[Block]) -> tuple[dict[str, Any], str]:
    """The classes of a server's `_models.py`, executed as an import would; an error leaves the namespace empty."""
    if not shared:
        return {}, ""
    lines = ["from __future__ import annotations", *imports, *(b.source for b in shared)]
    lines += [f"{name}.model_rebuild()" for name in _rebuilds(shared)]
    namespace: dict[str, Any] = {"_runtime": package_runtime}
    try:
        exec(compile("\n".join(lines) + "\n", "<_models>", "exec", dont_inherit=True), namespace)
    except Exception as exc:  # the same failure would stop `import <server>._models`
        return (
            {},
            f"its shared models do not import: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}",
        )
    return namespace, ""


def _roots(t: _Tool) -> list[str]:
    return [t.input_class, *([t.output_class] if t.output_class else [])]


def _rebase_outputs(module: ModelModule, tools: Sequence[_Tool]) -> ModelModule:
    """Output root models derive from the runtime's ToolOutput; a non-BaseModel output falls back to ToolResult."""
    outputs: dict[str, _Tool] = {t.output_class: t for t in tools if t.output_class}
    blocks: list[Block] = []
    for block in module.blocks:
        owner = outputs.get(block.name)
        if owner is not None:
            if block.bases == ("BaseModel",):  # a RootModel output has no fields to type
                block = rebase(block, "_runtime.ToolOutput")
            else:
                owner.notes.append("outputSchema did not become a model; the function returns ToolResult")
                owner.output_class = None
        blocks.append(block)
    return ModelModule(imports=module.imports, blocks=tuple(blocks))


def _literal_default(prop: Mapping[str, Any]) -> str | None:
    """The schema default as Python source, when it is a scalar the annotation surely accepts."""
    if "default" not in prop or "$ref" in prop:
        return None
    value = prop["default"]
    kinds = prop.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
    if "enum" in prop and value not in prop["enum"]:
        return None
    if "const" in prop and value != prop["const"]:
        return None
    if value is None:
        return "None"
    if isinstance(value, bool):
        ok = "boolean" in kinds
    elif isinstance(value, int):
        ok = bool(kinds & {"integer", "number"})
    elif isinstance(value, float):
        ok = "number" in kinds and math.isfinite(value)
    elif isinstance(value, str):
        ok = "string" in kinds or ("enum" in prop and not kinds)
    else:
        ok = False
    return repr(value) if ok else None


def _nullable(prop: Mapping[str, Any]) -> bool:
    """Whether the schema accepts null (then `None` is a value the caller may mean, not just "not sent")."""
    kinds = prop.get("type")
    kinds = {kinds} if isinstance(kinds, str) else set(kinds or ())
    if (
        "null" in kinds
        or ("enum" in prop and None in prop["enum"])
        or ("const" in prop and prop["const"] is None)
    ):
        return True
    if any(
        _nullable(alt)
        for key in ("anyOf", "oneOf")
        for alt in prop.get(key) or ()
        if isinstance(alt, Mapping)
    ):
        return True
    shaped = ("type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const", "properties", "items")
    return not any(k in prop for k in shaped)  # no constraint at all: any value, null included


def _args(t: _Tool, block: Block) -> tuple[Arg, ...]:
    raw_props = t.tool.input_schema.get("properties") if isinstance(t.tool.input_schema, Mapping) else None
    raw_props = raw_props if isinstance(raw_props, Mapping) else {}
    required: list[Arg] = []
    optional: list[Arg] = []
    for f in block.fields:
        prop = t.flat["properties"].get(f.wire)
        prop = prop if isinstance(prop, Mapping) else {}
        description = docs.one_line(prop.get("description") or "")
        annotation = f.annotation
        raw = raw_props.get(f.wire)
        fmt = raw.get("format") if isinstance(raw, Mapping) else None
        notes = [docs.one_line(fmt)[:40]] if isinstance(fmt, str) and fmt.strip() else []
        if f.required:
            required.append(Arg(f.name, f.wire, annotation, True, "", ", ".join(notes), description))
            continue
        default = _literal_default(prop) or "None"
        if default == "None" and prop.get("default") is not None:
            notes.append(f"default {docs.compact_json(prop['default'])[:80]}")
        if default == "None":
            if "None" not in annotation and annotation != "Any":
                annotation = f"{annotation} | None"
        elif annotation.endswith(" | None") and not _nullable(prop):
            # `limit: int = 5`: None is not a value the server takes, so the type does not offer it
            annotation = annotation.removesuffix(" | None")
        optional.append(Arg(f.name, f.wire, annotation, False, default, ", ".join(notes), description))
    return (*required, *optional)


_CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z0-9_]*\b")
NESTED_FIELDS_SHOWN = 12  # a nested output model with at most this many fields is spelled out in the line


def _returns(t: _Tool, module: ModelModule) -> str:
    """The return part of a tool's one-line signature: the output fields as a caller reads them (attributes of
    the result), or a plain result with no schema.

    A nested model of at most NESTED_FIELDS_SHOWN fields is spelled out one level down (`list[{id_, name}]`);
    a bigger one keeps its class name (its fields are in the module and in search's full detail). An output
    with more than NESTED_FIELDS_SHOWN fields lists their names without types, so one line stays short.
    """
    block = module.block(t.output_class) if t.output_class else None
    if block is None:
        return "ToolResult (no output schema)"

    def nested(match: re.Match[str]) -> str:
        inner = module.block(match.group(0))
        if inner is None or not inner.fields or len(inner.fields) > NESTED_FIELDS_SHOWN:
            return match.group(0)
        return "{" + ", ".join(f.name for f in inner.fields) + "}"

    if len(block.fields) > NESTED_FIELDS_SHOWN:
        return "{" + ", ".join(f.name for f in block.fields) + "}"
    fields = (f"{f.name}: {_CLASS_NAME.sub(nested, f.annotation)}" for f in block.fields)
    return "{" + ", ".join(fields) + "}"


def _signature(tool_id: str, args: Sequence[Arg], returns: str) -> str:
    """One line: the tool's typed parameters (keyword-only) and what it returns."""
    params = ", ".join(f"{a.name}: {a.annotation}" + ("" if a.required else f" = {a.default}") for a in args)
    return f"{tool_id}({params}) -> {returns}"


def launch_entry(spec: ServerSpec | None, base: str) -> dict[str, Any]:
    """The `_servers.json` entry for a server: how to start or reach it, with names instead of secret values.

    `base` is the folder relative paths resolve against (the declaring config's folder), relative to the
    package directory. A header's value comes from the variable named like it, else `header_env_name`.
    """
    from cfmigrate.analyzers.connect import header_env_name

    if spec is None:
        return {"transport": "unknown"}
    return {
        "transport": spec.transport,
        "command": spec.command,
        "args": list(spec.args),
        "cwd": spec.cwd,
        "url": spec.url,
        "env": sorted(set(spec.env_names)),
        "headers": {h: header_env_name(h) for h in sorted(set(spec.header_names))},
        "base": base,
    }


def build_server(
    server_id: str, spec: ServerSpec | None, manifest: Manifest, renames: Mapping[str, str], base: str
) -> tuple[ServerIR, list[Problem]]:
    """One server's IR; raises GenerateError on tool-name collisions, reports per-tool problems."""
    problems: list[Problem] = []
    source = manifest.source or (spec.source if spec else None)
    scope = f"server {manifest.server!r}: tool"
    by_name = {t.name: t for t in manifest.tools}
    ids, collisions = assign(by_name, scope, renames)
    taken = set(ids.values())
    for name, ident in sorted(ids.items()):
        if f"{ident}_sync" in taken:
            other = next(n for n, i in ids.items() if i == f"{ident}_sync")
            collisions.append(Collision(scope, name, other, f"{ident}_sync"))
    if collisions:
        raise GenerateError(_collisions_message(collisions))
    tools: list[_Tool] = []
    classes: set[str] = set()
    for name, ident in sorted(ids.items(), key=lambda kv: kv[1]):
        cls = to_class_name(ident)
        while cls.casefold() in classes:
            cls += "Tool"
        classes.add(cls.casefold())
        tool = by_name[name]
        tools.append(
            _Tool(tool, ident, cls, f"{cls}Input", f"{cls}Output" if tool.output_schema is not None else None)
        )

    skipped: dict[str, str] = {}
    for t in tools:
        found = _property_collisions(manifest.server, t, renames)
        if found:
            skipped[t.id] = _collisions_message(found)
    module, failed = _generate([t for t in tools if t.id not in skipped], renames)
    skipped.update(failed)
    live = [t for t in tools if t.id not in skipped]

    owners: dict[str, set[str]] = {}
    for t in live:
        for name in module.closure(_roots(t)):
            owners.setdefault(name, set()).add(t.id)
    shared = _ordered([b for b in module.blocks if len(owners.get(b.name, ())) > 1], last=[])
    shared_names = {b.name for b in shared}

    shared_namespace, shared_error = _shared_namespace(module.imports, shared)
    irs: list[ToolIR] = []
    for t in live:
        block = module.block(t.input_class)
        if block is None:  # pragma: no cover - _generate checks every root builds
            skipped[t.id] = "the input model was not generated"
            continue
        own = _ordered([b for b in module.blocks if owners.get(b.name) == {t.id}], last=_roots(t))
        args = _args(t, block)
        if not _refers_to(t.input_class, module, _roots(t), args):
            own = [b for b in own if b.name != t.input_class]  # the signature is the input model
        returns = _returns(t, module)
        description = (
            t.tool.description
            or t.tool.title
            or f"Call the {t.tool.name!r} tool of the {manifest.server!r} server."
        )
        arg_docs = [(a.name, a.note, a.description) for a in args]
        hints = docs.hints(t.tool.annotations)
        # the module describes each argument beside it in the signature (`Arg.comment`), so its docstring is
        # the description plus the hint a caller must not miss; search's full detail adds `Args:` and every hint
        docstring = docs.function_docstring(description, [], [h for h in hints if h == "destructive"])
        details = docs.function_docstring(description, arg_docs, hints)
        ir = ToolIR(
            id=t.id,
            wire_name=t.tool.name,
            summary=docs.summary(t.tool.description or t.tool.title or ""),
            input_class=t.input_class,
            output_class=t.output_class,
            args=args,
            models_source="\n\n\n".join(b.source for b in own),
            model_imports=module.imports,
            shared_imports=tuple(sorted(module.closure(_roots(t)) & shared_names)),
            rebuilds=_rebuilds(own),
            docstring=docstring,
            details=details,
            signature=_signature(t.id, args, returns),
            aliases=tuple((a.name, a.wire) for a in args if a.name != a.wire),
            notes=tuple(dict.fromkeys(t.notes)),
        )
        # the module as written must import and its arguments model build: otherwise report, never ship it
        extra = {
            "_runtime": package_runtime,
            **{n: shared_namespace[n] for n in ir.shared_imports if n in shared_namespace},
        }
        error = shared_error if set(ir.shared_imports) - set(shared_namespace) else None
        error = error or check_module(module_check_source(ir, module.imports), ir.id, dict(ir.aliases), extra)
        if error:
            skipped[t.id] = f"the generated module does not import: {error}"
            continue
        irs.append(ir)
        for note in dict.fromkeys(t.notes):
            problems.append(
                Problem("info", f"server {manifest.server!r}, tool {t.tool.name!r}: {note}", source)
            )
    wire = {t.id: t.tool.name for t in tools}
    for tool_id, reason in sorted(skipped.items()):
        problems.append(
            Problem(
                "error",
                f"server {manifest.server!r}, tool {wire[tool_id]!r} was not generated: {reason}",
                source,
                hint="the rest of the package is generated; fix the schema upstream or rename as suggested",
            )
        )
    server = ServerIR(
        id=server_id,
        name=manifest.server,
        sha256=manifest.sha256,
        tools=tuple(irs),
        shared_source="\n\n\n".join(b.source for b in shared),
        shared_imports=module.imports,
        shared_rebuilds=_rebuilds(shared),
        launch=launch_entry(spec, base),
        skipped=tuple((wire[i], r) for i, r in sorted(skipped.items())),
        provenance=_provenance(manifest),
    )
    return server, problems


def _provenance(manifest: Manifest) -> str:
    parts = [p for p in (manifest.server_name, manifest.server_version) if p]
    return " ".join(parts)


def build_package(
    pairs: Sequence[tuple[ServerSpec | None, Manifest]],
    *,
    package: str,
    renames: Mapping[str, str] | None = None,
    bases: Mapping[str, str] | None = None,
) -> PackageIR:
    """The IR of a whole package from (launch spec, manifest) pairs; raises GenerateError on name collisions.

    `bases` maps a server name to its config folder relative to the package directory (default "..").
    """
    renames = dict(renames or {})
    if not package.isidentifier():
        raise GenerateError(
            f"output directory name {package!r} is not a valid Python package name; choose e.g. --out servers"
        )
    by_server: dict[str, tuple[ServerSpec | None, Manifest]] = {}
    for spec, manifest in pairs:
        if manifest.server in by_server:
            raise GenerateError(f"two manifests for server {manifest.server!r}; pass each server once")
        by_server[manifest.server] = (spec, manifest)
    ids, collisions = assign(by_server, "server", renames)
    if collisions:
        raise GenerateError(_collisions_message(collisions))
    servers: list[ServerIR] = []
    problems: list[Problem] = []
    for name, server_id in sorted(ids.items(), key=lambda kv: kv[1]):
        spec, manifest = by_server[name]
        server, found = build_server(server_id, spec, manifest, renames, (bases or {}).get(name, ".."))
        servers.append(server)
        problems.extend(found)
        if not manifest.tools:
            problems.append(Problem("warning", f"server {name!r} lists no tools", manifest.source))
    digest = hashlib.sha256("\n".join(f"{s.id}:{s.sha256}" for s in servers).encode()).hexdigest()
    return PackageIR(name=package, servers=tuple(servers), sha256=digest, problems=tuple(problems))
