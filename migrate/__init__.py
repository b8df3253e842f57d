"""The Typer CLI, the codemods and the migration plan."""

from cfmigrate.generators import __version__

__all__ = ["__version__"]
