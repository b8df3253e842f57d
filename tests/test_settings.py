from __future__ import annotations

from pathlib import Path

import pytest

from cfmigrate.analyzers.settings import SettingsError, load_settings


def test_defaults_without_pyproject(tmp_path: Path) -> None:
    assert load_settings(tmp_path).include == ()


def test_reads_the_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.cfmigrate]\ninclude = ["agents/**"]\nprice = 3\nrequests-per-day = 500\n[tool.cfmigrate.rename]\nVLAN = "vlan_upper"\n'
    )
    s = load_settings(tmp_path)
    assert s.include == ("agents/**",) and s.price == 3.0 and s.requests_per_day == 500
    assert s.rename == {"VLAN": "vlan_upper"}


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("[tool.cfmigrate]\nprise = 3\n", "unknown key"),
        ("[tool.cfmigrate]\nprice = 'cheap'\n", "wrong type"),
        ("[tool.cfmigrate]\ninclude = [1]\n", "list of strings"),
        ("[tool.cfmigrate\n", "not valid TOML"),
    ],
)
def test_bad_tables_name_the_file(tmp_path: Path, body: str, match: str) -> None:
    (tmp_path / "pyproject.toml").write_text(body)
    with pytest.raises(SettingsError, match=match) as err:
        load_settings(tmp_path)
    assert "pyproject.toml" in str(err.value)
