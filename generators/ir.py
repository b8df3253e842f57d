"""The validated intermediate form of a `servers/` package: names resolved, models generated; templates read only this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cfmigrate.analyzers.model import Problem

PACKAGE_FORMAT = 2  # bump when the generated layout (and so what reading it costs) changes; 2: arguments described beside them


@dataclass(frozen=True)
class Arg:
    """One keyword argument of a tool function (one property of the input schema)."""

    name: str  # Python name, by the naming rule
    wire: str  # property name on the wire
    annotation: str  # Python type expression
    required: bool
    default: str  # Python source of the default ("None" when the tool has none the signature can show)
    note: str  # what the signature cannot show ("date-time", "default {...}"): in its comment and `Args:`
    description: str

    @property
    def comment(self) -> str:
        """What the module says about the argument beside it in the signature (one line, printable)."""
        text = f"({self.note}) {self.description}" if self.note else self.description
        return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text).strip()


@dataclass(frozen=True)
class ToolIR:
    """One tool: its module, function, models and the text the model reads."""

    id: str  # module and function name
    wire_name: str
    summary: str
    input_class: str  # only rendered when another model refers to it: the signature is the input model
    output_class: str | None  # None: the function returns the runtime's ToolResult
    args: tuple[Arg, ...]
    models_source: str  # the classes only this tool uses, datamodel-code-generator's code
    model_imports: tuple[str, ...]
    shared_imports: tuple[str, ...]  # classes taken from the server's `_models` module
    rebuilds: tuple[str, ...]
    docstring: str  # the function's docstring
    details: str  # what search's "full" detail shows under the signature (the docstring with every hint)
    signature: str  # one line: "create_entities(entities: list[Entity]) -> {entities: list[Entity]}"
    aliases: tuple[tuple[str, str], ...] = ()  # (Python name, wire name) of arguments whose names differ
    notes: tuple[str, ...] = ()

    @property
    def return_type(self) -> str:
        return self.output_class or "_runtime.ToolResult"

    @property
    def commented(self) -> bool:
        """Whether an argument carries a comment (then the signature has one argument per line)."""
        return any(a.comment for a in self.args)

    @property
    def required_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if a.required)

    @property
    def optional_args(self) -> tuple[Arg, ...]:
        return tuple(a for a in self.args if not a.required)


@dataclass(frozen=True)
class ServerIR:
    """One server package."""

    id: str  # package name
    name: str  # the server's name in the MCP config / manifest
    sha256: str  # manifest hash stamped into its files
    tools: tuple[ToolIR, ...]
    shared_source: str  # classes several tools use (`_models.py`), may be empty
    shared_imports: tuple[str, ...]
    shared_rebuilds: tuple[str, ...]
    launch: dict[str, Any]  # the `_servers.json` entry: names only, never values
    skipped: tuple[tuple[str, str], ...] = ()  # (wire tool name, reason) for tools not generated
    provenance: str = ""


@dataclass(frozen=True)
class PackageIR:
    """The whole package, ready to render."""

    name: str  # the package's import name (the output directory's name)
    servers: tuple[ServerIR, ...]
    sha256: str  # over every server's hash: stamped into the package-level files
    problems: tuple[Problem, ...] = field(default=())
