"""Errors `generate` reports to the user: each message names the file, server or tool and what to do."""

from __future__ import annotations


class GenerateFailure(Exception):
    """Base of every error that stops `cfmigrate generate` (exit code 2, one line, no traceback)."""
