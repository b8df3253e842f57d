"""`cfmigrate serve --install/--uninstall`: every client format round-trips byte for byte.

The configs below are written in the shapes each client documents (comments, `inputs`, Codex tables,
Gemini's `httpUrl`, Windsurf's `serverUrl`, ...); the gateway's view is given explicitly so these
tests run without a generated package.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from cfmigrate.analyzers.configs import install_backup_name, parse_config_text, parse_jsonc
from cfmigrate.analyzers.discover import discover
from cfmigrate.migrate.install import (
    GatewayView,
    InstallError,
    apply_install,
    apply_uninstall,
    plan_install,
    plan_uninstall,
    summary,
)

SECRETS = ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "literal-drive-token-42", "Bearer sk-live-header-9")

CLAUDE_CODE = """{
  "mcpServers": {
    "github": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
      }
    },
    "drive": {
      "type": "stdio",
      "command": "python",
      "args": ["mcp_servers/drive_server.py"],
      "env": {
        "DRIVE_ACCESS_TOKEN": "literal-drive-token-42",
        "DRIVE_DATA": "${DRIVE_DATA:-data/drive.json}"
      }
    },
    "docs": {
      "type": "http",
      "url": "https://docs.example.com/mcp",
      "headers": {
        "Authorization": "Bearer sk-live-header-9"
      }
    }
  }
}
"""

CURSOR = """{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${env:GITHUB_TOKEN}"}
    },
    "drive": {
      "command": "python",
      "args": ["${workspaceFolder}/mcp_servers/drive_server.py"]
    },
    "context7": {
      "url": "https://mcp.context7.com/mcp",
      "headers": {"CONTEXT7_API_KEY": "${env:CONTEXT7_API_KEY}"}
    },
    "local": {
      "command": "node",
      "args": ["tools/local-mcp.js"],
      "envFile": "${workspaceFolder}/.env"
    }
  }
}
"""

VSCODE = """// Workspace MCP servers for Copilot agent mode.
{
  "inputs": [
    {
      "type": "promptString",
      "id": "drive-token",
      "description": "Drive access token",
      "password": true
    }
  ],
  "servers": {
    // GitHub: the token comes from the shell
    "github": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "${env:GITHUB_TOKEN}",
      },
    },
    /* asks for its token once */
    "drive": {
      "type": "stdio",
      "command": "python",
      "args": ["${workspaceFolder}/mcp_servers/drive_server.py"],
      "env": {"DRIVE_ACCESS_TOKEN": "${input:drive-token}"},
    },
    "git": {
      "type": "stdio",
      "command": "uvx",
      "args": ["mcp-server-git", "--repository", "${workspaceFolder}"], // this repository
    },
  },
}
"""

VSCODE_SETTINGS = """{
    "editor.formatOnSave": true,
    "mcp": {
        "servers": {
            "time": {
                "type": "stdio",
                "command": "uvx",
                "args": ["mcp-server-time", "--local-timezone=UTC"]
            }
        }
    },
    "files.exclude": {"**/.git": true}
}
"""

CODEX = """# Codex settings for this project (trusted)
model = "gpt-5-codex"
approval_policy = "on-request"

[mcp_servers.github]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-github"]
env_vars = ["GITHUB_PERSONAL_ACCESS_TOKEN"]
startup_timeout_sec = 20

[mcp_servers.drive]
command = "python"
args = ["mcp_servers/drive_server.py"]

[mcp_servers.drive.env]
DRIVE_ACCESS_TOKEN = "literal-drive-token-42"

[mcp_servers.linear]
url = "https://mcp.linear.app/mcp"
bearer_token_env_var = "LINEAR_TOKEN"

[mcp_servers.browser]
command = "npx"
args = ["@playwright/mcp@latest"]
enabled = false

[profiles.review]
model = "gpt-5"
"""

GEMINI = """{
  "theme": "GitHub",
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "$GITHUB_TOKEN"},
      "timeout": 30000,
      "trust": false
    },
    "drive": {
      "command": "python",
      "args": ["mcp_servers/drive_server.py"],
      "cwd": ".",
      "includeTools": ["search_files"]
    },
    "slack": {
      "httpUrl": "http://127.0.0.1:8931/mcp"
    }
  }
}
"""

WINDSURF = """{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${env:GITHUB_TOKEN}"}
    },
    "drive": {
      "command": "python",
      "args": ["mcp_servers/drive_server.py"],
      "disabled": false
    },
    "remote": {
      "serverUrl": "https://mcp.example.com/mcp",
      "headers": {"Authorization": "Bearer ${env:REMOTE_TOKEN}"}
    },
    "old": {
      "command": "npx",
      "args": ["old-server"],
      "disabled": true
    }
  }
}
"""

FLAT = """{
\t"mcpServers": {
\t\t"github": {
\t\t\t"command": "npx",
\t\t\t"args": ["-y", "@modelcontextprotocol/server-github"],
\t\t\t"env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}
\t\t},
\t\t"drive": {"command": "python", "args": ["mcp_servers/drive_server.py"], "alwaysAllow": ["search_files"]}
\t}
}
"""

ZED = """// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "github": {
      "source": "custom",
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}
    },
    "drive": {
      "command": {"path": "python", "args": ["mcp_servers/drive_server.py"]}
    }
  }
}
"""

# client -> (config path, text, servers that move, servers that stay)
CASES: dict[str, tuple[str, str, set[str], set[str]]] = {
    "claude-code": (".mcp.json", CLAUDE_CODE, {"github", "drive"}, {"docs"}),
    "cursor": (".cursor/mcp.json", CURSOR, {"github", "drive", "context7"}, {"local"}),
    "vscode": (".vscode/mcp.json", VSCODE, {"github", "git"}, {"drive"}),
    "codex": (".codex/config.toml", CODEX, {"github", "drive"}, {"linear", "browser"}),
    "gemini": (".gemini/settings.json", GEMINI, {"github", "slack"}, {"drive"}),
    "windsurf": (".codeium/windsurf/mcp_config.json", WINDSURF, {"github", "drive", "remote"}, {"old"}),
    "claude-desktop": ("claude_desktop_config.json", CLAUDE_CODE, {"github", "drive"}, {"docs"}),
    "cline": ("cline_mcp_settings.json", FLAT, {"github"}, {"drive"}),
    "roo": (".roo/mcp.json", FLAT, {"github"}, {"drive"}),
    "kiro": (".kiro/settings/mcp.json", CURSOR, {"github", "drive", "context7"}, {"local"}),
    "amazon-q": (".amazonq/mcp.json", FLAT, {"github"}, {"drive"}),
    "zed": (".zed/settings.json", ZED, {"github"}, {"drive"}),
}


def _view(config: str, *, unserved: dict[str, str] | None = None) -> GatewayView:
    """The gateway serves every server of the fixtures but `docs` (no generated wrapper)."""
    names = {
        "github",
        "drive",
        "git",
        "slack",
        "context7",
        "linear",
        "browser",
        "remote",
        "old",
        "time",
        "local",
    }
    missing = {"docs": "its tools are unknown, so no wrapper exists: run `cfmigrate generate --refresh`"}
    return GatewayView(served={n: config for n in names}, unserved=unserved or missing)


def _repo(tmp_path: Path, rel: str, text: str, *, newline: str = "\n") -> Path:
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def _servers(rel: str, text: str) -> dict[str, dict[str, object]]:
    if rel.endswith(".toml"):
        return dict(tomllib.loads(text)["mcp_servers"])
    doc = parse_jsonc(text)
    if "servers" in doc:
        return dict(doc["servers"])
    if "mcp" in doc:
        return dict(doc["mcp"]["servers"])
    return dict(doc.get("mcpServers") or doc["context_servers"])


@pytest.mark.parametrize("client", sorted(CASES))
def test_install_then_uninstall_round_trips(tmp_path: Path, client: str) -> None:
    rel, text, moves, stays = CASES[client]
    path = _repo(tmp_path, rel, text)
    original = path.read_bytes()

    dry = plan_install(tmp_path, client, _view(rel))
    assert dry.state == "change"
    assert set(dry.moved) == moves and {k.name for k in dry.kept} == stays
    assert path.read_bytes() == original and not dry.backup.exists()  # a dry run writes nothing
    shown = dry.diff() + "\n".join(summary(dry, written=False)) + repr(dry)
    assert not [s for s in SECRETS if s in shown], shown

    apply_install(dry)
    after = path.read_text()
    servers = _servers(rel, after)
    assert set(servers) == stays | {"cfmigrate"}
    gateway = servers["cfmigrate"]
    args = gateway["args"]
    assert isinstance(args, list) and gateway["command"] == "cfmigrate" and args[:1] == ["serve"]
    backup_arg = args[-1]
    assert backup_arg.endswith(install_backup_name(Path(rel).name))
    for name in stays:  # entries that stay are kept verbatim
        assert servers[name] == _servers(rel, text)[name]
    assert dry.backup.read_bytes() == original
    # the client's parser reading (the audit's, which every format test in test_configs uses) accepts it
    parsed = parse_config_text(after, rel)
    assert parsed is not None and not [p for p in parsed[1] if p.level == "error"]

    again = plan_install(tmp_path, client, _view(rel))
    assert again.state == "installed" and again.after == again.before
    apply_install(again)
    assert path.read_text() == after

    undo = plan_uninstall(tmp_path, client)
    assert not [s for s in SECRETS if s in undo.diff()]
    apply_uninstall(undo)
    assert path.read_bytes() == original
    assert not dry.backup.exists() and not dry.record.exists()
    assert not (tmp_path / ".cfmigrate").exists()


def test_comments_and_layout_outside_the_moved_entries_stay(tmp_path: Path) -> None:
    path = _repo(tmp_path, ".vscode/mcp.json", VSCODE)
    apply_install(plan_install(tmp_path, "vscode", _view(".vscode/mcp.json")))
    after = path.read_text()
    assert after.startswith('// Workspace MCP servers for Copilot agent mode.\n{\n  "inputs": [')
    assert '/* asks for its token once */\n    "drive": {' in after
    assert '"args": ["${workspaceFolder}"' not in after  # the git entry went whole, comment included
    assert "// this repository" not in after and "// GitHub: the token comes from the shell" not in after
    assert (
        '"args": ["serve", "${workspaceFolder}", "--config", "${workspaceFolder}/.vscode/mcp.json.cfmigrate-backup.json"]'
        in after
    )
    assert after.rstrip().endswith("},\n  },\n}")  # the file's trailing commas kept


def test_codex_toml_keeps_comments_and_other_tables(tmp_path: Path) -> None:
    path = _repo(tmp_path, ".codex/config.toml", CODEX)
    apply_install(plan_install(tmp_path, "codex", _view(".codex/config.toml")))
    after = path.read_text()
    assert after.startswith('# Codex settings for this project (trusted)\nmodel = "gpt-5-codex"\n')
    doc = tomllib.loads(after)
    assert doc["profiles"] == {"review": {"model": "gpt-5"}}
    assert doc["mcp_servers"]["cfmigrate"] == {
        "command": "cfmigrate",
        "args": ["serve", ".", "--config", ".codex/config.toml.cfmigrate-backup.toml"],
        "env_vars": ["GITHUB_PERSONAL_ACCESS_TOKEN"],  # what Codex must pass on for the moved github server
    }
    assert "literal-drive-token-42" not in after  # the value stays in the backup, which the gateway reads


def test_vscode_settings_json_nested_servers(tmp_path: Path) -> None:
    path = _repo(tmp_path, ".vscode/settings.json", VSCODE_SETTINGS)
    original = path.read_bytes()
    plan = plan_install(tmp_path, "vscode", _view(".vscode/settings.json"))
    assert plan.rel == ".vscode/settings.json" and plan.moved == ("time",)
    apply_install(plan)
    after = path.read_text()
    assert after.startswith(
        '{\n    "editor.formatOnSave": true,\n    "mcp": {\n        "servers": {\n            "cfmigrate": {\n'
    )
    assert after.endswith('    "files.exclude": {"**/.git": true}\n}\n')
    apply_uninstall(plan_uninstall(tmp_path, "vscode"))
    assert path.read_bytes() == original


def test_codex_crlf_round_trip(tmp_path: Path) -> None:
    path = _repo(tmp_path, ".codex/config.toml", CODEX, newline="\r\n")
    original = path.read_bytes()
    apply_install(plan_install(tmp_path, "codex", _view(".codex/config.toml")))
    after = path.read_bytes()
    assert (
        b"\n" not in after.replace(b"\r\n", b"")
        and "cfmigrate" in tomllib.loads(after.decode())["mcp_servers"]
    )
    apply_uninstall(plan_uninstall(tmp_path, "codex"))
    assert path.read_bytes() == original


def test_crlf_and_no_final_newline_round_trip(tmp_path: Path) -> None:
    path = _repo(tmp_path, ".mcp.json", CLAUDE_CODE.rstrip("\n"), newline="\r\n")
    original = path.read_bytes()
    apply_install(plan_install(tmp_path, "claude-code", _view(".mcp.json")))
    after = path.read_bytes()
    assert b"\r\n" in after and b"\n" not in after.replace(b"\r\n", b"")
    assert not after.endswith(b"\n")
    json.loads(after)
    apply_uninstall(plan_uninstall(tmp_path, "claude-code"))
    assert path.read_bytes() == original


def test_reasons_for_entries_that_stay(tmp_path: Path) -> None:
    _repo(tmp_path, ".mcp.json", CLAUDE_CODE)
    view = _view(".mcp.json", unserved={"drive": "its tools are unknown, so no wrapper exists"})
    view = GatewayView(served={k: v for k, v in view.served.items() if k != "drive"}, unserved=view.unserved)
    plan = plan_install(tmp_path, "claude-code", view)
    reasons = {k.name: k.reason for k in plan.kept}
    assert plan.moved == ("github",)
    assert reasons["drive"] == "its tools are unknown, so no wrapper exists"
    assert reasons["docs"].startswith("the gateway has no server of this name")
    lines = "\n".join(summary(plan, written=False))
    assert (
        "kept as it is: drive (its tools are unknown" in lines
        and "would move behind the gateway: github" in lines
    )
    assert "Bearer" not in lines and "ghp_" not in lines

    _repo(tmp_path, ".codex/config.toml", CODEX)
    codex = {k.name: k.reason for k in plan_install(tmp_path, "codex", _view(".codex/config.toml")).kept}
    assert codex == {
        "linear": "sends headers (Authorization) through `bearer_token_env_var`; "
        "the gateway reads header values from a config's `headers` only",
        "browser": "disabled in this config",
    }
    _repo(tmp_path, ".cursor/mcp.json", CURSOR)
    cursor = plan_install(tmp_path, "cursor", _view(".cursor/mcp.json"))
    assert {k.name: k.reason for k in cursor.kept} == {
        "local": "uses `envFile`, which the gateway entry cannot carry"
    }

    # the gateway serves a 'github' declared in another config: moved only when it starts the same way
    other = _repo(tmp_path, ".cursor/mcp.json", CURSOR.replace('"-y", ', ""))
    view = GatewayView(served={"github": ".cursor/mcp.json", "drive": ".cursor/mcp.json"}, unserved={})
    elsewhere = plan_install(tmp_path, "claude-code", view)
    assert {k.name: k.reason for k in elsewhere.kept}["github"] == (
        "the gateway serves the 'github' declared in .cursor/mcp.json, which starts differently"
    )
    assert elsewhere.state == "nothing" and elsewhere.after == elsewhere.before
    other.write_text(CURSOR)  # the same command and args as .mcp.json's github
    assert plan_install(tmp_path, "claude-code", view).moved == ("github",)


def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InstallError, match=r"'nope': unknown client; choose one of claude-code, cursor"):
        plan_install(tmp_path, "nope", _view(".mcp.json"))
    with pytest.raises(InstallError, match=r"Continue keeps servers in YAML"):
        plan_install(tmp_path, "continue", _view(".mcp.json"))
    with pytest.raises(InstallError, match=r"no Cursor config found \(looked for .cursor/mcp.json\)"):
        plan_install(tmp_path, "cursor", _view(".cursor/mcp.json"))
    path = _repo(
        tmp_path, ".mcp.json", '{\n  "mcpServers": {\n    "a": {"command": "x",}\n    "b": {}\n  }\n}\n'
    )
    with pytest.raises(InstallError) as err:
        plan_install(tmp_path, "claude-code", _view(".mcp.json"))
    assert str(err.value).startswith(".mcp.json:3: malformed JSON (expected ',' or '}'") and "\n" not in str(
        err.value
    )
    path.write_text(
        '{"mcpServers": {"cfmigrate": {"command": "node", "args": ["x.js"]}, "a": {"command": "y"}}}'
    )
    with pytest.raises(InstallError, match="a server named 'cfmigrate' already exists"):
        plan_install(tmp_path, "claude-code", _view(".mcp.json"))
    _repo(tmp_path, ".codex/config.toml", 'mcp_servers = { a = { command = "x" } }\n')
    with pytest.raises(InstallError, match=r"is an inline table: write it as \[mcp_servers.<name>\] tables"):
        plan_install(tmp_path, "codex", GatewayView(served={"a": ".codex/config.toml"}, unserved={}))
    _repo(tmp_path, ".codex/config.toml", "[mcp_servers.a]\ncommand = \n")
    with pytest.raises(InstallError, match=r"^\.codex/config\.toml: malformed TOML"):
        plan_install(tmp_path, "codex", _view(".codex/config.toml"))
    assert not list(tmp_path.rglob("*cfmigrate-backup*")) and not (tmp_path / ".cfmigrate").exists()
    with pytest.raises(InstallError, match=r"did not install the gateway into Claude Code here"):
        plan_uninstall(tmp_path, "claude-code")


def test_uninstall_refuses_when_the_config_changed(tmp_path: Path) -> None:
    path = _repo(tmp_path, ".mcp.json", CLAUDE_CODE)
    apply_install(plan_install(tmp_path, "claude-code", _view(".mcp.json")))
    edited = path.read_text().replace('"docs": {', '"docs": {\n      "timeout": 5,')
    path.write_text(edited)
    with pytest.raises(InstallError) as err:
        plan_uninstall(tmp_path, "claude-code")
    message = str(err.value)
    assert message.startswith(".mcp.json changed since `cfmigrate serve --install claude-code`")
    assert ".mcp.json.cfmigrate-backup.json" in message and "\n" not in message
    assert path.read_text() == edited  # nothing touched


def test_audit_sees_the_estate_through_an_installed_config(tmp_path: Path) -> None:
    _repo(tmp_path, ".mcp.json", CLAUDE_CODE)
    before = {(s.name, s.command, s.args) for s in discover(tmp_path).servers}
    apply_install(plan_install(tmp_path, "claude-code", _view(".mcp.json")))
    inv = discover(tmp_path)
    assert {(s.name, s.command, s.args) for s in inv.servers} == before  # the gateway entry is not a server
    sources = {s.name: s.source.path for s in inv.servers}
    assert sources == {
        "docs": ".mcp.json",
        "github": ".mcp.json.cfmigrate-backup.json",
        "drive": ".mcp.json.cfmigrate-backup.json",
    }
    assert not [
        p for p in inv.problems if "defined twice" in p.message or "declared differently" in p.message
    ]


def test_a_stale_backup_or_a_hand_added_gateway_is_not_overwritten(tmp_path: Path) -> None:
    path = _repo(tmp_path, ".mcp.json", CLAUDE_CODE)
    stale = tmp_path / ".mcp.json.cfmigrate-backup.json"
    stale.write_text("{}")
    with pytest.raises(
        InstallError,
        match=r"^\.mcp\.json\.cfmigrate-backup\.json exists but \.mcp\.json has no gateway entry",
    ):
        plan_install(tmp_path, "claude-code", _view(".mcp.json"))
    stale.unlink()
    path.write_text('{"mcpServers": {"gw": {"command": "cfmigrate", "args": ["serve", "."]}}}')
    plan = plan_install(tmp_path, "claude-code", _view(".mcp.json"))
    assert plan.state == "installed" and "no backup: it was added by hand" in plan.note
    with pytest.raises(InstallError, match="did not install the gateway"):
        plan_uninstall(tmp_path, "claude-code")


# ---------------------------------------------------------------------------------------------
# The span editor on generated files: any layout json.dumps can write, with comments sprinkled in
# ---------------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cfmigrate.migrate.install_edit import edit_json_members  # noqa: E402

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=8)
_entry = st.fixed_dictionaries(
    {"command": st.sampled_from(["npx", "uvx", "python"]), "args": st.lists(st.text(max_size=6), max_size=3)},
    optional={
        "env": st.dictionaries(st.from_regex(r"[A-Z]{1,6}", fullmatch=True), st.text(max_size=5), max_size=2)
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    servers=st.dictionaries(_names, _entry, min_size=1, max_size=5),
    picks=st.lists(st.booleans(), min_size=5, max_size=5),
    indent=st.sampled_from([None, 2, 4, "\t"]),
    crlf=st.booleans(),
    comment=st.booleans(),
    final_newline=st.booleans(),
)
def test_span_edit_keeps_every_other_member_and_stays_valid(
    servers: dict[str, dict[str, object]],
    picks: list[bool],
    indent: int | str | None,
    crlf: bool,
    comment: bool,
    final_newline: bool,
) -> None:
    names = list(servers)
    remove = [n for n, p in zip(names, picks, strict=False) if p] or names[:1]
    doc = {"other": [1, 2], "mcpServers": servers, "after": {"x": True}}
    text = json.dumps(doc, indent=indent)
    if comment:
        text = "// header comment\n" + text.replace('"after"', '/* kept */ "after"')
    text += "\n" if final_newline else ""
    if crlf:
        text = text.replace("\n", "\r\n")
    parsed = parse_jsonc(text)
    entry = {"command": "cfmigrate", "args": ["serve", "."]}
    out = edit_json_members(text, parsed["mcpServers"], remove, ("cfmigrate", entry))
    again = parse_jsonc(out)
    expected = {n: v for n, v in servers.items() if n not in remove}
    assert dict(again["mcpServers"]) == {**expected, "cfmigrate": entry} or (
        list(again["mcpServers"]) != list(expected)
        and dict(again["mcpServers"]) == {"cfmigrate": entry, **expected}
    )
    assert again["other"] == [1, 2] and again["after"] == {"x": True}
    if not comment:
        json.loads(out)  # strict JSON in, strict JSON out
    assert out.endswith("\n") == final_newline and ("\r\n" in out) == ("\r\n" in text)
    assert "\n" not in out.replace("\r\n", "") or not crlf
    if comment:
        assert out.startswith("// header comment") and "/* kept */" in out
    before_servers = text[: text.index('"mcpServers"')]
    after_servers = text[parsed["mcpServers"].end :]
    assert out.startswith(before_servers) and out.endswith(
        after_servers
    )  # the rest of the file, byte for byte


def test_an_edit_that_reads_back_wrong_is_refused() -> None:
    from cfmigrate.migrate.install import _verify
    from cfmigrate.migrate.install_clients import ConfigPlace
    from cfmigrate.migrate.install_edit import EditError

    place = ConfigPlace(".mcp.json", ("mcpServers",))
    before = '{"mcpServers": {"a": {"command": "x"}, "b": {"command": "y"}}, "keep": 1}'
    gateway = ("cfmigrate", {"command": "cfmigrate", "args": ["serve", "."]})
    good = '{"mcpServers": {"cfmigrate": {"command": "cfmigrate", "args": ["serve", "."]}, "b": {"command": "y"}}, "keep": 1}'
    _verify(before, good, place, ["a"], gateway)
    for bad in (
        good.replace('"keep": 1', '"keep": 2'),  # something else changed
        good.replace('"b": {"command": "y"}', '"b": {"command": "z"}'),  # a kept entry changed
        good.replace('}, "keep"', '},, "keep"'),  # does not parse
        good.replace('}, "keep"', '},\n // c\n "keep"'),  # strict JSON became JSONC
    ):
        with pytest.raises(EditError):
            _verify(before, bad, place, ["a"], gateway)
