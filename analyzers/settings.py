"""`[tool.cfmigrate]` in the scanned repository's pyproject.toml: options a team keeps in the repo."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(Exception):
    """The settings table is unusable; the message names the file and key."""


@dataclass(frozen=True)
class Settings:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    tokenizer: str | None = None
    model: str | None = None
    provider: str | None = None
    price: float | None = None
    requests_per_day: int | None = None
    fail_over: int | None = None
    out: str | None = None
    servers: tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)
    keep_direct: tuple[str, ...] = ()
    source: str | None = None  # the file it came from, for messages


_TYPES: dict[str, type | tuple[type, ...]] = {
    "include": list,
    "exclude": list,
    "tokenizer": str,
    "model": str,
    "provider": str,
    "price": (int, float),
    "requests_per_day": int,
    "fail_over": int,
    "out": str,
    "servers": list,
    "rename": dict,
    "keep_direct": list,
}


def load_settings(root: Path) -> Settings:
    """Read `[tool.cfmigrate]` from root/pyproject.toml; absent file or table -> defaults."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc}); fix it or remove [tool.cfmigrate]") from None
    table: Any = data.get("tool", {}).get("cfmigrate", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [tool.cfmigrate] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        expected = _TYPES.get(name)
        if expected is None:
            raise SettingsError(
                f"{path}: unknown key [tool.cfmigrate] {key!r}; known keys: {', '.join(sorted(_TYPES))}"
            )
        if not isinstance(value, expected) or isinstance(value, bool):
            raise SettingsError(f"{path}: [tool.cfmigrate] {key} has the wrong type ({type(value).__name__})")
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                raise SettingsError(f"{path}: [tool.cfmigrate] {key} must be a list of strings")
            value = tuple(value)
        if name == "rename" and not all(isinstance(v, str) for v in value.values()):
            raise SettingsError(f"{path}: [tool.cfmigrate.rename] values must be strings")
        values[name] = float(value) if name == "price" else value
        problem = check_value(name, values[name])
        if problem:
            raise SettingsError(f"{path}: [tool.cfmigrate] {key} {problem}")
    return Settings(source=str(path), **values)


# The same limits the command line enforces on its flags (one place for both).
TOKENIZERS = ("o200k_base", "cl100k_base", "anthropic")
PROVIDERS = ("anthropic", "openai")
PRICE_RANGE = (0.0, 10_000.0)


def check_value(name: str, value: Any) -> str | None:
    """Why a setting's value is out of range (the flag's own check), or None when it is fine."""
    if name == "price" and not PRICE_RANGE[0] <= value <= PRICE_RANGE[1]:
        return f"= {value} is out of range: USD per million input tokens, {PRICE_RANGE[0]:g} to {PRICE_RANGE[1]:g}"
    if name == "requests_per_day" and value < 1:
        return f"= {value} is out of range: requests per agent per day, at least 1"
    if name == "fail_over" and value < 0:
        return f"= {value} is out of range: a token count, at least 0"
    if name == "tokenizer" and value not in TOKENIZERS:
        return f"= {value!r} is not a tokenizer: choose {', '.join(TOKENIZERS)}"
    if name == "provider" and value not in PROVIDERS:
        return f"= {value!r} is not a provider: choose {', '.join(PROVIDERS)}"
    return None
