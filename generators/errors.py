"""Errors `generate` reports to the user: each message names the file, server or tool and what to do."""

from __future__ import annotations


class GenerateFailure(Exception):
    """Base of every error that stops `cfmigrate generate` (exit code 2, one line, no traceback)."""


class NoManifests(GenerateFailure):
    """No server has a known tool list; `errors` are the input problems met on the way (may be empty)."""

    def __init__(self, message: str, errors: str = "") -> None:
        super().__init__(message)
        self.errors = errors
