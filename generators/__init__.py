"""Manifests to a typed servers/ package."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cfmigrate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
