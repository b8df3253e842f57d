"""The command line's first-run manners: one-line usage errors, named values in help, no wrapped
tables in CI logs, and messages that say what was looked for."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cfmigrate.migrate.cli import COMMANDS, app

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": None})  # not a terminal, as in CI
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["audit", "--price", "-1"], "'--price'"),
        (["plan", "--format", "pdf"], "'--format'"),
        (["migrate", "--jobs", "many"], "'--jobs'"),
        (["generate", "--nope"], "--nope"),
        (["measure"], "'BEFORE'"),
        (["bogus"], "'bogus'"),
    ],
)
def test_a_usage_error_is_one_line(args: list[str], names: str) -> None:
    code, out, err = _run(*args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and names in err and "--help` lists the" in err
    assert "Usage:" not in err and "Try '" not in err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_names_values_and_choices(command: str) -> None:
    code, out, _ = _run(command, "--help")
    assert code == 0
    assert "<" not in out.replace("<=", ""), out  # no `<str>`, `<float range>`, `<list[str]>`, `<path>`
    assert "{" not in out.splitlines()[0], out.splitlines()[0]  # usage: `BEFORE AFTER`, not `{BEFORE}`


def test_help_shows_the_choices() -> None:
    assert "--format table|json|markdown" in _run("audit", "--help")[1]
    assert "BEFORE AFTER" in _run("measure", "--help")[1].splitlines()[0]


def test_audit_table_rows_do_not_wrap_without_a_terminal() -> None:
    code, out, _ = _run("audit", str(REPO / "fixtures" / "seed-scenario"))
    assert code == 0
    row = next(line for line in out.splitlines() if "mcp_servers/crm_server.py" in line)
    assert "(stdio, .mcp.json:" in row and max(len(line) for line in out.splitlines()) > 80


def test_generate_check_without_a_package_is_one_line(tmp_path: Path) -> None:
    code, out, err = _run("generate", "--check", "--root", str(tmp_path))
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "servers/ does not exist" in err
    assert "cfmigrate generate`" in err


def test_no_manifests_says_what_was_looked_for(tmp_path: Path) -> None:
    code, _, err = _run("generate", "--no-discover", "--root", str(tmp_path))
    assert code == 2 and "--no-discover reads only --manifest files" in err and "--refresh" not in err
    code, _, err = _run("generate", "--root", str(tmp_path))
    assert code == 2 and "found no tool snapshot" in err and "cfmigrate generate --refresh" in err
