"""`cfmigrate ARGS` run in this process: its exit code, stdout and stderr, without a fresh interpreter.

A new `cfmigrate` process pays 1-2 CPU-s before the command does anything (Python, then libcst, mcp, pydantic
and typer imported); in this process, where they are loaded once, a call costs only the command's own work.
Use it for tests of messages, exit codes and written files. The console script itself stays tested as a real
process by a few tests (tests/test_migrate_runner.py, tests/test_packaging.py, the e2e rewrite in
tests/e2e/harness.py); a test that needs a real process for another reason (signals, a TTY, stdin, the
environment of a child) keeps `subprocess` too.

    from support.cli import cfmigrate
    done = cfmigrate("migrate", ".", "--check", cwd=root)
    assert done.returncode == 1 and "would rewrite agent.py" in done.stderr
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Done:
    """What the command printed and how it exited (the fields of `subprocess.CompletedProcess` tests read)."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def cfmigrate(*args: str, cwd: Path, env: Mapping[str, str | None] | None = None) -> Done:
    """Run `cfmigrate ARGS` in `cwd` through the CLI's own app; an uncaught exception fails the test.

    `env` sets (or, with None, removes) environment variables for the call only.
    """
    from typer.testing import CliRunner

    from cfmigrate.migrate.cli import app

    here = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), env=env)
    finally:
        os.chdir(here)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"`cfmigrate {' '.join(args)}` crashed (a process would print a traceback):\n{result.output}"
        ) from result.exception
    return Done(tuple(args), result.exit_code, result.stdout, result.stderr)
