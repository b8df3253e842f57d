"""Pydantic models from one server's schema batch: the single datamodel-code-generator call, and its output split per tool."""

from __future__ import annotations

import ast
import json
import sys
import types
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cfmigrate.generators.errors import GenerateFailure
from cfmigrate.generators.schema import BATCH_ROOT

if TYPE_CHECKING:
    from pydantic import BaseModel


class ModelGenerationError(GenerateFailure):
    """datamodel-code-generator refused a batch, or its output does not build; the message says why."""


# Outputs (or refusals) of datamodel-code-generator by input, for this process: `migrate --write` builds the
# package twice (the names it rewrites to, then `generate`), and the library is most of a build's time.
_CODEGEN_CACHE: OrderedDict[str, str | ModelGenerationError] = OrderedDict()
_CODEGEN_CACHE_SIZE = 256


def run_datamodel_codegen(document: Mapping[str, Any], aliases: Mapping[str, str]) -> str:
    """The one place datamodel-code-generator runs, with every option that affects output pinned.

    A pure function of its input, so answers are kept per process (key: the document in its order, and
    the aliases); a refusal is kept too and raised again.
    """
    key = json.dumps([document, sorted(aliases.items())], ensure_ascii=False)
    found = _CODEGEN_CACHE.get(key)
    if found is None:
        try:
            found = _run_datamodel_codegen(document, aliases)
        except ModelGenerationError as exc:
            found = exc
        _CODEGEN_CACHE[key] = found
        if len(_CODEGEN_CACHE) > _CODEGEN_CACHE_SIZE:
            _CODEGEN_CACHE.popitem(last=False)
    else:
        _CODEGEN_CACHE.move_to_end(key)
    if isinstance(found, ModelGenerationError):
        raise ModelGenerationError(str(found))
    return found


def _run_datamodel_codegen(document: Mapping[str, Any], aliases: Mapping[str, str]) -> str:
    from datamodel_code_generator import InputFileType, LiteralType, PythonVersion, generate
    from datamodel_code_generator.enums import DataModelType

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = generate(
                dict(document),
                input_file_type=InputFileType.JsonSchema,
                output_model_type=DataModelType.PydanticV2BaseModel,
                target_python_version=PythonVersion.PY_311,
                disable_timestamp=True,
                formatters=[],  # ruff formats the whole package afterwards
                class_name=BATCH_ROOT,
                aliases=dict(aliases) or None,
                field_constraints=True,
                use_annotated=False,
                use_union_operator=True,
                use_standard_collections=True,
                enum_field_as_literal=LiteralType.All,
                collapse_root_models=True,
                use_default_kwarg=False,
                strict_nullable=False,
                use_schema_description=False,
                use_field_description=False,
                use_title_as_name=False,
                reuse_model=False,
                keep_model_order=True,
                allow_remote_refs=False,
                snake_case_field=False,
                capitalise_enum_members=False,
                disable_future_imports=False,
            )
    except Exception as exc:  # the library raises many types for bad schemas; all mean "this batch failed"
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelGenerationError(message[:500]) from None
    if not isinstance(out, str):
        raise ModelGenerationError("datamodel-code-generator returned several modules for one batch")
    return out


@dataclass(frozen=True)
class ModelField:
    """One field of a generated model, as the wrapper function needs it."""

    name: str  # Python name
    wire: str  # name on the wire (the alias, or the name)
    annotation: str  # source text of the annotation
    required: bool
    default: str | None  # source text of the default, when not required


@dataclass(frozen=True)
class Block:
    """One top-level class of the generated code and what it needs."""

    name: str
    source: str
    deps: frozenset[str]
    bases: tuple[str, ...]
    fields: tuple[ModelField, ...]
    rebuild: bool  # DCG asked for `model_rebuild()` after the module's classes


@dataclass(frozen=True)
class ModelModule:
    """The parsed datamodel-code-generator output of one batch."""

    imports: tuple[str, ...]
    blocks: tuple[Block, ...]

    def block(self, name: str) -> Block | None:
        return next((b for b in self.blocks if b.name == name), None)

    def closure(self, roots: Iterable[str]) -> set[str]:
        """The classes `roots` need, transitively (roots included)."""
        by_name = {b.name: b for b in self.blocks}
        todo = [r for r in roots if r in by_name]
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(d for d in by_name[name].deps if d in by_name and d not in seen)
        return seen


def _field(stmt: ast.AnnAssign) -> ModelField | None:
    if not isinstance(stmt.target, ast.Name):
        return None
    name = stmt.target.id
    annotation = ast.unparse(stmt.annotation)
    value = stmt.value
    wire = name
    required = value is None
    default: str | None = None
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "Field":
        for kw in value.keywords:
            if kw.arg == "alias" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                wire = kw.value.value
            elif kw.arg == "default":
                default = ast.unparse(kw.value)
            elif kw.arg == "default_factory":
                default = "None"
        if value.args:
            first = value.args[0]
            if isinstance(first, ast.Constant) and first.value is Ellipsis:
                required = True
            else:
                default = ast.unparse(first)
        elif default is None and not any(kw.arg == "default_factory" for kw in value.keywords):
            required = True
    elif value is not None:
        default = ast.unparse(value)
    return ModelField(name=name, wire=wire, annotation=annotation, required=required, default=default)


def parse_models(code: str) -> ModelModule:
    """Split datamodel-code-generator output into imports and one block per class."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ModelGenerationError(f"generated models do not parse: {exc.msg} (line {exc.lineno})") from None
    imports: list[str] = []
    classes: list[ast.ClassDef] = []
    rebuilds: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
                imports.append(ast.unparse(stmt))
        elif isinstance(stmt, ast.ClassDef):
            classes.append(stmt)
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Attribute)
            and stmt.value.func.attr == "model_rebuild"
            and isinstance(stmt.value.func.value, ast.Name)
        ):
            rebuilds.add(stmt.value.func.value.id)
        else:
            raise ModelGenerationError(f"unexpected statement in generated models: {ast.unparse(stmt)[:80]}")
    names = {c.name for c in classes}
    blocks = []
    for cls in classes:
        if cls.name == BATCH_ROOT:
            continue
        deps = frozenset(
            n.id for n in ast.walk(cls) if isinstance(n, ast.Name) and n.id in names and n.id != cls.name
        )
        fields = tuple(f for stmt in cls.body if isinstance(stmt, ast.AnnAssign) and (f := _field(stmt)))
        blocks.append(
            Block(
                name=cls.name,
                source=ast.unparse(cls),
                deps=deps,
                bases=tuple(ast.unparse(b) for b in cls.bases),
                fields=fields,
                rebuild=cls.name in rebuilds,
            )
        )
    return ModelModule(imports=tuple(imports), blocks=tuple(blocks))


def rebase(block: Block, base: str) -> Block:
    """The same class deriving from `base` instead of `BaseModel`."""
    tree = ast.parse(block.source)
    cls = tree.body[0]
    assert isinstance(cls, ast.ClassDef)
    cls.bases = [ast.parse(base, mode="eval").body]
    return Block(block.name, ast.unparse(cls), block.deps, (base,), block.fields, block.rebuild)


def build_check(
    module: ModelModule, names: Iterable[str], namespace_extra: Mapping[str, Any]
) -> dict[str, str]:
    """Execute the classes `names` (in order) as Python would on import; returns class -> error for those that fail.

    The code executed is datamodel-code-generator's own output (class statements with literal arguments);
    a failure here would be an `ImportError` for whoever imports the generated module.
    """
    from pydantic import BaseModel

    wanted = set(names)
    module_name = f"_cfmigrate_model_check_{id(module):x}"
    scratch = types.ModuleType(module_name)
    scratch.__dict__.update(namespace_extra)
    namespace = scratch.__dict__
    errors: dict[str, str] = {}
    sys.modules[module_name] = scratch  # pydantic resolves annotations through the defining module
    try:
        _exec_blocks(module, wanted, namespace, errors, BaseModel)
    finally:
        sys.modules.pop(module_name, None)
    return errors


def _exec_blocks(
    module: ModelModule,
    wanted: set[str],
    namespace: dict[str, Any],
    errors: dict[str, str],
    base: type[BaseModel],
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for stmt in ("from __future__ import annotations", *module.imports):
            exec(compile(stmt, "<models>", "exec", dont_inherit=True), namespace)
        for block in module.blocks:
            if block.name not in wanted:
                continue
            try:
                code = compile(
                    "from __future__ import annotations\n" + block.source,
                    "<models>",
                    "exec",
                    dont_inherit=True,
                )
                exec(code, namespace)
            except Exception as exc:
                errors[block.name] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        for block in module.blocks:
            cls = namespace.get(block.name)
            if block.name in errors or not (isinstance(cls, type) and issubclass(cls, base)):
                continue
            try:
                cls.model_rebuild(force=True)
            except Exception as exc:
                errors[block.name] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def check_module(
    source: str, function: str, aliases: Mapping[str, str], namespace_extra: Mapping[str, Any]
) -> str | None:
    """Execute a tool module's code as an import would, then build its arguments model as the runtime does on
    the first call; returns the error a user would meet (NameError, a class that does not build), or None.

    `source` is the module without its package-relative imports; `namespace_extra` stands in for them.
    """
    from cfmigrate.generators import package_runtime

    module_name = f"_cfmigrate_module_check_{abs(hash(source)):x}"
    scratch = types.ModuleType(module_name)
    scratch.__dict__.update(namespace_extra)
    sys.modules[module_name] = scratch
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(source, f"<{function}>", "exec", dont_inherit=True), scratch.__dict__)
            package_runtime.arguments_model(scratch.__dict__[function], aliases)
    except Exception as exc:  # whatever fails here would fail on import or on the first call
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    finally:
        sys.modules.pop(module_name, None)
    return None
