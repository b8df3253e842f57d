"""MCP client configs of every format, parsed from fixtures/config-zoo into exact ServerSpecs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfmigrate.analyzers.configs import (
    ConfigSyntaxError,
    duplicate_server_problems,
    find_refs,
    is_config_candidate,
    parse_config_file,
    parse_config_text,
    parse_env_ref,
    parse_jsonc,
    redact_args,
    redact_url,
)
from cfmigrate.analyzers.manifests import package_of
from cfmigrate.analyzers.model import Problem, ServerSpec

ZOO = Path(__file__).resolve().parents[1] / "fixtures" / "config-zoo"
CANARY = re.compile("canary", re.IGNORECASE)


def parse(rel: str) -> tuple[list[ServerSpec], list[Problem]]:
    result = parse_config_file(ZOO / rel, rel)
    assert result is not None, f"{rel} was not recognised as an MCP config"
    return result


def summary(specs: list[ServerSpec]) -> list[tuple[Any, ...]]:
    return [(s.name, s.transport, s.source.line) for s in specs]


def by_name(specs: list[ServerSpec]) -> dict[str, ServerSpec]:
    return {s.name: s for s in specs}


def zoo_files() -> list[str]:
    return sorted(p.relative_to(ZOO).as_posix() for p in ZOO.rglob("*") if p.is_file())


# --- one test per format --------------------------------------------------------------------


def test_claude_code_mcp_json() -> None:
    specs, problems = parse(".mcp.json")
    assert problems == []
    assert summary(specs) == [
        ("github", "stdio", 3),
        ("filesystem", "stdio", 10),
        ("linear", "http", 15),
        ("sentry", "sse", 22),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"claude-code"}
    assert s["github"].command == "npx"
    assert s["github"].args == ("-y", "@modelcontextprotocol/server-github")
    assert s["github"].env_names == ("GITHUB_PERSONAL_ACCESS_TOKEN",)
    assert s["github"].env_refs == ("${GITHUB_TOKEN}",)
    assert s["github"].package == "@modelcontextprotocol/server-github"
    # a shell-style default may be a secret: the name stays, the default does not
    assert s["filesystem"].args[-1] == "${PROJECT_ROOT:-***}"
    assert s["filesystem"].env_refs == ("${PROJECT_ROOT}",)
    assert s["filesystem"].package == "@modelcontextprotocol/server-filesystem"
    assert s["linear"].url == "https://mcp.linear.app/mcp"
    assert s["linear"].header_names == ("Authorization",)
    assert s["linear"].command is None and s["linear"].package is None
    assert s["sentry"].env_refs == ("${SENTRY_AUTH_TOKEN}",)


def test_claude_desktop() -> None:
    specs, problems = parse("claude_desktop_config.json")
    assert problems == []
    assert summary(specs) == [
        ("time", "stdio", 4),
        ("shop-repo", "stdio", 8),
        ("fetch", "stdio", 12),
        ("slack", "stdio", 16),
        ("brave-search", "stdio", 24),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"claude-desktop"}
    assert s["time"].args == ("-m", "mcp_server_time", "--local-timezone=Europe/Berlin")
    assert s["time"].package == "mcp-server-time"
    assert s["shop-repo"].package == "mcp-server-git"
    assert s["fetch"].package == "mcp/fetch"
    assert s["slack"].env_names == ("SLACK_BOT_TOKEN", "SLACK_TEAM_ID")
    assert s["brave-search"].args == ("-y", "@modelcontextprotocol/server-brave-search", "--api-key", "***")


def test_cursor() -> None:
    specs, problems = parse(".cursor/mcp.json")
    assert problems == []
    assert summary(specs) == [
        ("memory", "stdio", 3),
        ("postgres", "stdio", 10),
        ("context7", "http", 14),
        ("zapier", "sse", 20),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"cursor"}
    assert s["memory"].env_names == ("MEMORY_FILE_PATH",)
    assert s["memory"].env_refs == ("${env:HOME}",)
    assert s["postgres"].args[-1] == "postgresql://app:***@localhost:5432/shop"
    assert s["context7"].header_names == ("CONTEXT7_API_KEY",)
    assert s["context7"].env_refs == ("${env:CONTEXT7_API_KEY}",)
    # a key embedded in the URL path is masked; the /sse suffix still decides the transport
    assert s["zapier"].url == "https://actions.zapier.com/mcp/***/sse"


def test_vscode_jsonc_with_inputs() -> None:
    specs, problems = parse(".vscode/mcp.json")
    assert problems == []
    assert summary(specs) == [
        ("perplexity", "stdio", 18),
        ("github-remote", "http", 27),
        ("playwright", "stdio", 34),
        ("build-log", "sse", 38),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"vscode"}
    assert s["perplexity"].env_names == ("PERPLEXITY_API_KEY",)
    assert s["perplexity"].env_refs == ("${input:perplexity-key}",)
    assert s["github-remote"].url == "https://api.githubcopilot.com/mcp/"
    assert s["github-remote"].env_refs == ("${input:github-pat}",)
    assert s["playwright"].package == "@playwright/mcp"
    assert s["build-log"].url == "http://localhost:8931/sse"


def test_vscode_undeclared_input_is_reported() -> None:
    text = '{"inputs": [], "servers": {"gh": {"type": "http", "url": "https://x/mcp", "headers": {"A": "${input:pat}"}}}}'
    result = parse_config_text(text, ".vscode/mcp.json")
    assert result is not None
    specs, problems = result
    assert [s.name for s in specs] == ["gh"]
    assert len(problems) == 1 and "${input:pat}" in problems[0].message and problems[0].source.line == 1  # type: ignore[union-attr]


def test_vscode_settings_json_mcp_block() -> None:
    text = '{\n  "editor.tabSize": 2,\n  "mcp": {\n    "servers": {\n      "time": {"command": "uvx", "args": ["mcp-server-time"]}\n    }\n  }\n}\n'
    result = parse_config_text(text, ".vscode/settings.json")
    assert result is not None
    assert [(s.name, s.origin, s.source.line, s.package) for s in result[0]] == [
        ("time", "vscode", 5, "mcp-server-time")
    ]


def test_windsurf_server_url_and_disabled() -> None:
    specs, problems = parse(".codeium/windsurf/mcp_config.json")
    assert problems == []
    assert summary(specs) == [
        ("figma", "http", 3),
        ("supabase", "stdio", 9),
        ("everything", "stdio", 13),
        ("events", "sse", 18),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"windsurf"}
    assert s["figma"].url == "https://mcp.figma.com/mcp"
    assert s["figma"].header_names == ("Authorization",)
    assert s["supabase"].args == ("-y", "@supabase/mcp-server-supabase@latest", "--access-token", "***")
    assert s["supabase"].package == "@supabase/mcp-server-supabase"
    assert s["everything"].disabled is True
    assert s["figma"].disabled is False
    assert s["events"].env_refs == ("${env:EVENTS_API_KEY}",)


def test_gemini_cli_http_url_and_sse_url() -> None:
    specs, problems = parse(".gemini/settings.json")
    assert problems == []
    assert summary(specs) == [
        ("git", "stdio", 5),
        ("github-copilot", "http", 13),
        ("stripe-events", "sse", 20),
        ("pythonTools", "stdio", 26),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"gemini-cli"}
    assert s["git"].cwd == "./"
    assert s["git"].tool_filter == ("git_status", "git_diff", "git_log")
    assert s["github-copilot"].url == "https://api.githubcopilot.com/mcp/"
    assert s["stripe-events"].url == "http://localhost:8080/events"  # Gemini's `url` means SSE
    assert s["stripe-events"].env_refs == ("$STRIPE_KEY",)
    assert s["pythonTools"].env_names == ("DATABASE_URL", "API_KEY")
    assert s["pythonTools"].env_refs == ("$DB_CONNECTION_STRING", "${EXTERNAL_API_KEY}")
    assert s["pythonTools"].disabled is True  # listed in mcp.excluded
    assert s["git"].disabled is False


def test_codex_config_toml() -> None:
    specs, problems = parse(".codex/config.toml")
    assert problems == []
    assert summary(specs) == [
        ("sequential-thinking", "stdio", 4),
        ("figma", "http", 8),
        ("fs", "stdio", 13),
        ("chrome", "stdio", 25),
        ("internal", "http", 30),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"codex"}
    assert s["figma"].header_names == ("Authorization", "X-Figma-Region")
    assert s["figma"].env_refs == ("${env:FIGMA_OAUTH_TOKEN}",)
    assert s["fs"].args == ("-y", "@modelcontextprotocol/server-filesystem", "/Users/dana/src")
    assert s["fs"].env_names == ("NODE_OPTIONS",)
    assert s["fs"].tool_filter == ("read_text_file", "list_directory")
    assert s["chrome"].disabled is True and s["chrome"].package == "chrome-devtools-mcp"
    assert s["internal"].header_names == ("X-Tenant-Secret", "X-Api-Key")
    assert s["internal"].env_refs == ("${env:INTERNAL_MCP_KEY}",)


def test_codex_inline_tables_and_quoted_names() -> None:
    text = (
        'model = "o3"\n'
        "[mcp_servers]\n"
        'time = { command = "uvx", args = ["mcp-server-time"] }\n'
        '\n[mcp_servers."my.git"]\ncommand = "uvx"\nargs = ["mcp-server-git"]\n'
        "mcp_servers_note = 1\n"
    )
    result = parse_config_text(text, ".codex/config.toml")
    assert result is not None
    assert summary(result[0]) == [("time", "stdio", 3), ("my.git", "stdio", 5)]


def test_toml_without_mcp_servers_is_not_a_config() -> None:
    assert parse_config_text("[tool.ruff]\nline-length = 100\n", "config.toml") is None
    assert parse_config_text('[build]\ntarget = "x86_64"\n', ".cargo/config.toml") is None


def test_zed_old_and_new_shapes() -> None:
    specs, problems = parse(".zed/settings.json")
    assert summary(specs) == [
        ("postgres-context-server", "stdio", 6),
        ("git", "stdio", 17),
        ("remote-docs", "http", 23),
    ]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"zed"}
    assert s["postgres-context-server"].command == "/usr/local/bin/postgres-context-server"
    assert s["postgres-context-server"].args == ("--readonly",)
    assert s["postgres-context-server"].env_names == ("DATABASE_URL",)
    assert s["git"].package == "mcp-server-git"
    assert s["remote-docs"].header_names == ("Authorization",)
    # the extension-provided server cannot be started from the file: a warning naming it and its line
    assert [(p.level, p.source.line) for p in problems] == [("warning", 30)]  # type: ignore[union-attr]
    assert "mcp-server-github" in problems[0].message


def test_continue_block_file() -> None:
    specs, problems = parse(".continue/mcpServers/shop-db.yaml")
    assert problems == []
    assert summary(specs) == [("shop-db", "stdio", 5), ("brave", "stdio", 11)]
    s = by_name(specs)
    assert {x.origin for x in specs} == {"continue"}
    assert s["shop-db"].args == ("mcp-server-sqlite", "--db-path", "./data/shop.db")
    assert s["shop-db"].package == "mcp-server-sqlite"
    assert s["brave"].env_names == ("BRAVE_API_KEY",)
    assert s["brave"].env_refs == ("${{ secrets.BRAVE_API_KEY }}",)


def test_continue_config_yaml() -> None:
    specs, problems = parse(".continue/config.yaml")
    assert problems == []
    assert summary(specs) == [("docs", "http", 10), ("build-events", "sse", 16), ("memory", "stdio", 19)]
    s = by_name(specs)
    assert s["docs"].header_names == ("Authorization",)  # from requestOptions.headers
    assert s["memory"].package == "@modelcontextprotocol/server-memory"


def test_servers_config_json() -> None:
    specs, problems = parse("servers_config.json")
    assert problems == []
    assert summary(specs) == [("sqlite", "stdio", 3), ("puppeteer", "stdio", 7)]
    assert {s.origin for s in specs} == {"mcp-json"}
    assert by_name(specs)["puppeteer"].package == "@modelcontextprotocol/server-puppeteer"


def test_ad_hoc_mcp_config_json() -> None:
    specs, problems = parse("agent/mcp_config.json")
    assert problems == []
    assert summary(specs) == [("airbnb", "stdio", 3), ("weather", "sse", 7), ("calculator", "stdio", 10)]
    s = by_name(specs)
    assert s["calculator"].args == ("servers/calculator.py",)
    assert s["calculator"].package is None  # a local script is not a registry package
    assert s["calculator"].env_names == ("OPENWEATHER_API_KEY",)


def test_langchain_multiserver_dict() -> None:
    specs, problems = parse("agent/mcp_servers.json")
    assert problems == []
    assert summary(specs) == [("math", "stdio", 2), ("forecast", "http", 7), ("search", "sse", 14)]
    assert {s.origin for s in specs} == {"langchain"}
    assert by_name(specs)["forecast"].header_names == ("Authorization",)


def test_claude_json_projects() -> None:
    text = (
        '{\n "mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"]}},\n'
        ' "projects": {\n  "/home/d/shop": {\n   "mcpServers": {\n    "git": {"type": "stdio", "command": "uvx", "args": ["mcp-server-git"]}\n   }\n  }\n }\n}\n'
    )
    result = parse_config_text(text, ".claude.json")
    assert result is not None
    assert summary(result[0]) == [("time", "stdio", 2), ("git", "stdio", 6)]


def test_files_that_are_not_mcp_configs() -> None:
    assert parse_config_file(ZOO / "package.json", "package.json") is None
    assert parse_config_file(ZOO / ".vscode/settings.json", ".vscode/settings.json") is None
    assert parse_config_text('{"theme": "dark"}', ".gemini/settings.json") is None
    assert parse_config_text('{"name": "x", "version": "1"}', "my-mcp-notes.json") is None
    assert parse_config_text("not json at all", "docs/mcp-overview.json") is None
    assert parse_config_text("title: x\n", ".continue/prompts/mcp.yaml") is None


# --- candidates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rel",
    [
        ".mcp.json",
        "mcp.json",
        "claude_desktop_config.json",
        ".cursor/mcp.json",
        ".vscode/mcp.json",
        ".gemini/settings.json",
        ".codeium/windsurf/mcp_config.json",
        "agent/mcp_config.json",
        "servers_config.json",
        ".codex/config.toml",
        ".zed/settings.json",
        ".continue/mcpServers/db.yaml",
        ".continue/mcpServers/db.yml",
        ".continue/mcpServers/claude.json",
        ".continue/config.yaml",
        "config/my-mcp-servers.json",
        "deploy/mcp.yaml",
        "cline_mcp_settings.json",
    ],
)
def test_config_candidates(rel: str) -> None:
    assert is_config_candidate(rel)


@pytest.mark.parametrize(
    "rel",
    [
        "package.json",
        "src/agent.py",
        "tsconfig.json",
        "fixtures/server-github.tools.json",
        "README.md",
        "data/users.json",
        "ci.yaml",
    ],
)
def test_not_config_candidates(rel: str) -> None:
    assert not is_config_candidate(rel)


def test_every_zoo_config_is_a_candidate() -> None:
    configs = [
        r
        for r in zoo_files()
        if not r.startswith(("broken/", "manifests/")) and r not in ("package.json", "README.md")
    ]
    assert configs and all(is_config_candidate(r) for r in configs)


# --- secrets ------------------------------------------------------------------------------------


def test_no_secret_value_reaches_any_result() -> None:
    checked = 0
    for rel in zoo_files():
        result = parse_config_file(ZOO / rel, rel)
        if result is None:
            continue
        checked += 1
        text = repr(result)
        assert not CANARY.search(text), f"{rel} leaked a secret value: {text}"
    assert checked >= 20
    # the zoo really carries the canaries, so the assertion above could fail
    raw = "".join((ZOO / r).read_text(encoding="utf-8", errors="replace") for r in zoo_files())
    assert len(CANARY.findall(raw)) >= 20


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--token=abc123"], ["--token=***"]),
        (["--api-key", "abc123", "--port", "80"], ["--api-key", "***", "--port", "80"]),
        (["--api-key", "${API_KEY}"], ["--api-key", "${API_KEY}"]),
        (
            ["-e", "GITHUB_TOKEN=ghp_x", "-e", "GITHUB_TOKEN"],
            ["-e", "GITHUB_TOKEN=***", "-e", "GITHUB_TOKEN"],
        ),
        (["--header", "Authorization: Bearer xyz123"], ["--header", "Authorization: ***"]),
        (["--header", "Authorization:${AUTH_HEADER}"], ["--header", "Authorization:${AUTH_HEADER}"]),
        (["-H", "X-Key: Bearer ${KEY}"], ["-H", "X-Key: Bearer ${KEY}"]),
        (["sk-live-abcdef123456"], ["***"]),
        (["OPENAI_API_KEY=sk-abc", "DEBUG=1"], ["OPENAI_API_KEY=***", "DEBUG=1"]),
        (["https://u:pw123@db.example.com/x"], ["https://u:***@db.example.com/x"]),
        (
            ["--url=https://x.dev/mcp?api_key=k123&region=eu"],
            ["--url=https://x.dev/mcp?api_key=***&region=eu"],
        ),
        (
            ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
            ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
        ),
        (["${ROOT:-/secret/default}"], ["${ROOT:-***}"]),
    ],
)
def test_redact_args(args: list[str], expected: list[str]) -> None:
    assert redact_args(args) == tuple(expected)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://mcp.example.com/mcp", "https://mcp.example.com/mcp"),
        ("https://mcp.example.com/sse?token=abc&x=1", "https://mcp.example.com/sse?token=***&x=1"),
        ("https://mcp.example.com/sse?token=${env:TOKEN}", "https://mcp.example.com/sse?token=${env:TOKEN}"),
        ("https://actions.zapier.com/mcp/sk-ak-1234/sse", "https://actions.zapier.com/mcp/***/sse"),
        ("https://bob:hunter2@host/mcp", "https://bob:***@host/mcp"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_header_and_env_values_are_never_kept() -> None:
    text = (
        '{"mcpServers": {"a": {"type": "http", "url": "https://a.dev/mcp", "headers": {"Authorization": "Bearer s3cr3tvalue"}},'
        ' "b": {"command": "npx", "args": ["-y", "b-mcp", "--password", "s3cr3tvalue"], "env": {"B_TOKEN": "s3cr3tvalue"}}}}'
    )
    result = parse_config_text(text, ".mcp.json")
    assert result is not None
    assert "s3cr3tvalue" not in repr(result)
    assert [s.header_names for s in result[0]] == [("Authorization",), ()]
    assert result[0][1].env_names == ("B_TOKEN",)


def test_secret_inside_a_single_string_command_is_masked() -> None:
    text = '{"mcpServers": {"a": {"command": "/opt/bin/a-server --token=s3cr3tvalue"}, "b": {"command": "npx -y b-mcp --api-key s3cr3tvalue"}}}'
    result = parse_config_text(text, "mcp.json")
    assert result is not None
    assert "s3cr3tvalue" not in repr(result)
    b = by_name(result[0])["b"]
    assert (b.command, b.args, b.package) == ("npx", ("-y", "b-mcp", "--api-key", "***"), "b-mcp")


def test_refs() -> None:
    assert find_refs("Bearer ${env:GH}") == ["${env:GH}"]
    assert find_refs("${workspaceFolder}/x ${HOME}") == ["${HOME}"]
    assert find_refs("${{ secrets.X_KEY }}") == ["${{ secrets.X_KEY }}"]
    assert find_refs("{env:OPENCODE_KEY}") == ["{env:OPENCODE_KEY}"]
    assert find_refs("$TOKEN") == ["$TOKEN"]
    assert find_refs("pa$word") == []
    assert parse_env_ref("${env:GH}") == ("env", "GH")
    assert parse_env_ref("${input:pat}") == ("input", "pat")
    assert parse_env_ref("${{ secrets.K }}") == ("secret", "K")
    assert parse_env_ref("$TOKEN") == ("env", "TOKEN")


# --- transports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "transport"),
    [
        ('{"url": "https://x.dev/mcp"}', "http"),
        ('{"url": "https://x.dev/sse"}', "sse"),
        ('{"url": "https://x.dev/sse/"}', "sse"),
        ('{"type": "sse", "url": "https://x.dev/events"}', "sse"),
        ('{"type": "streamableHttp", "url": "https://x.dev/sse"}', "http"),
        ('{"transportType": "sse", "url": "https://x.dev/a"}', "sse"),
        ('{"command": "uvx", "args": ["x"], "url": "https://x.dev/mcp"}', "stdio"),
    ],
)
def test_transport_inference(entry: str, transport: str) -> None:
    result = parse_config_text('{"mcpServers": {"s": ' + entry + "}}", ".mcp.json")
    assert result is not None and [s.transport for s in result[0]] == [transport]


def test_unsupported_transport_is_kept_as_unknown_with_a_warning() -> None:
    result = parse_config_text(
        '{"s": {"url": "ws://localhost:9/ws", "transport": "websocket"}}', "mcp_servers.json"
    )
    assert result is not None
    specs, problems = result
    assert [(s.name, s.transport) for s in specs] == [("s", "unknown")]
    assert [p.level for p in problems] == ["warning"] and "websocket" in problems[0].message


# --- broken input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "line", "words"),
    [
        ("broken/malformed-json/.mcp.json", 5, "malformed JSON"),
        ("broken/malformed-toml/.codex/config.toml", 6, "malformed TOML"),
        ("broken/malformed-yaml/.continue/mcpServers/search.yaml", 7, "malformed YAML"),
        ("broken/latin1/mcp_config.json", 3, "not UTF-8"),
        ("broken/wrong-shape/claude_desktop_config.json", 2, "must be an object"),
    ],
)
def test_broken_file_gives_one_error_with_file_and_line(rel: str, line: int, words: str) -> None:
    specs, problems = parse(rel)
    assert specs == []
    assert len(problems) == 1
    problem = problems[0]
    assert problem.level == "error"
    assert problem.source is not None and (problem.source.path, problem.source.line) == (rel, line)
    assert words in problem.message
    assert problem.hint
    assert not CANARY.search(repr(problems))


def test_entry_without_command_or_url_is_named() -> None:
    specs, problems = parse("broken/no-command/.mcp.json")
    assert summary(specs) == [("time", "stdio", 8)]
    assert [(p.level, p.source.line) for p in problems] == [("error", 3)]  # type: ignore[union-attr]
    assert "'notes'" in problems[0].message


def test_duplicate_name_in_one_file() -> None:
    specs, problems = parse("broken/duplicate-names/mcp.json")
    assert summary(specs) == [("git", "stdio", 7), ("time", "stdio", 11)]
    assert by_name(specs)["time"].command == "python"  # the later one wins, as JSON.parse does
    assert [(p.level, p.source.line) for p in problems] == [("warning", 11)]  # type: ignore[union-attr]
    assert "'time'" in problems[0].message and "lines 3 and 11" in problems[0].message


def test_duplicate_names_across_configs() -> None:
    a, _ = parse("broken/dup-a/.mcp.json")
    b, _ = parse("broken/dup-b/.cursor/mcp.json")
    problems = duplicate_server_problems(a + b)
    assert len(problems) == 1
    assert "'github'" in problems[0].message
    assert (
        "broken/dup-a/.mcp.json:3" in problems[0].message
        and "broken/dup-b/.cursor/mcp.json:3" in problems[0].message
    )


def test_clean_zoo_has_no_conflicting_duplicates() -> None:
    specs: list[ServerSpec] = []
    for rel in zoo_files():
        if rel.startswith("broken/"):
            continue
        result = parse_config_file(ZOO / rel, rel)
        if result:
            specs += result[0]
    assert len(specs) >= 40
    assert duplicate_server_problems(specs) == []


def test_binary_huge_and_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "mcp.json"
    binary.write_bytes(b"\x00\x01\x02{}")
    specs, problems = parse_config_file(binary, "mcp.json") or ([], [])
    assert specs == [] and [p.level for p in problems] == ["warning"] and "binary" in problems[0].message

    huge = tmp_path / ".mcp.json"
    huge.write_bytes(b'{"mcpServers": {}, "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    specs, problems = parse_config_file(huge, ".mcp.json") or ([], [])
    assert specs == [] and "MB" in problems[0].message

    missing = tmp_path / "nope" / ".mcp.json"
    specs, problems = parse_config_file(missing, "nope/.mcp.json") or ([], [])
    assert specs == [] and problems[0].level == "error" and "cannot read" in problems[0].message


def test_empty_and_comment_only_files() -> None:
    result = parse_config_text("  // nothing yet\n", ".vscode/mcp.json")
    assert result is not None and result[0] == [] and "empty" in result[1][0].message
    assert parse_config_text('{"mcpServers": {}}', ".mcp.json") == ([], [])


# --- the JSONC parser ----------------------------------------------------------------------------


def test_jsonc_comments_trailing_commas_and_slashes_in_strings() -> None:
    doc = parse_jsonc(
        '// head\n{\n  "url": "https://x.dev/a//b", /* inline */\n  "list": [1, 2.5, -3e2, true, null,],\n}\n'
    )
    assert doc == {"url": "https://x.dev/a//b", "list": [1, 2.5, -300.0, True, None]}
    assert doc.key_lines == {"url": 3, "list": 4}


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('{\n "a": 1\n "b": 2\n}', 2),
        ("{\n 'a': 1\n}", 2),
        ('{\n "a": [1, 2\n}', 3),
        ('{"a": 1}\n{"b": 2}', 2),
        ('{\n  "a": "x" /* never closed\n}', 2),
        ('{"a": tru}', 1),
        ("", 1),
    ],
)
def test_jsonc_errors_carry_the_line(text: str, line: int) -> None:
    with pytest.raises(ConfigSyntaxError) as info:
        parse_jsonc(text)
    assert info.value.line == line


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    result = parse_config_text("[" * 5000 + "]" * 5000, ".mcp.json")
    assert result is not None and result[0] == [] and result[1][0].level == "error"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.sampled_from(list('{}[]",:/*\n tn0123 -.ecommandurlmcpServers$')), max_size=200),
    st.sampled_from(
        [
            ".mcp.json",
            ".codex/config.toml",
            ".continue/mcpServers/a.yaml",
            "mcp_servers.json",
            ".zed/settings.json",
        ]
    ),
)
def test_parse_never_raises(text: str, rel: str) -> None:
    result = parse_config_text(text, rel)
    assert result is None or (isinstance(result[0], list) and isinstance(result[1], list))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.fixed_dictionaries(
            {},
            optional={
                "command": st.one_of(
                    st.text(max_size=10), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3)
                ),
                "args": st.one_of(st.lists(st.text(max_size=8), max_size=4), st.text(max_size=5), st.none()),
                "url": st.one_of(st.text(max_size=20), st.just("https://x.dev/sse"), st.none()),
                "env": st.one_of(
                    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3), st.lists(st.text())
                ),
                "type": st.sampled_from(["stdio", "http", "sse", "ws", "", 3]),
                "headers": st.one_of(
                    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2), st.text(max_size=3)
                ),
            },
        ),
        max_size=4,
    )
)
def test_any_entry_shape_never_raises(servers: dict[str, Any]) -> None:
    import json

    result = parse_config_text(json.dumps({"mcpServers": servers}), ".mcp.json")
    assert result is not None
    specs, problems = result
    parsed = {s.name for s in specs}
    for name in servers:  # every entry either became a spec or has an error naming it
        assert name in parsed or any(p.level == "error" and f"'{name}'" in p.message for p in problems)
    for spec in specs:
        assert spec.transport in ("stdio", "http", "sse", "unknown")
        assert (spec.command is not None) or (spec.url is not None)


# --- package_of -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "args", "package"),
    [
        (
            "npx",
            ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
            "@modelcontextprotocol/server-filesystem",
        ),
        (
            "npx",
            ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
            "@modelcontextprotocol/server-github",
        ),
        ("npx", ["--yes", "--package=@playwright/mcp@0.0.83", "playwright-mcp"], "@playwright/mcp"),
        ("npx", ["mcp-remote", "https://x.dev/sse"], "mcp-remote"),
        ("npx.cmd", ["-y", "chrome-devtools-mcp@latest"], "chrome-devtools-mcp"),
        (
            "cmd",
            ["/c", "npx", "-y", "@modelcontextprotocol/server-memory"],
            "@modelcontextprotocol/server-memory",
        ),
        (
            "pnpm",
            ["dlx", "@modelcontextprotocol/server-everything"],
            "@modelcontextprotocol/server-everything",
        ),
        ("bunx", ["@modelcontextprotocol/server-slack"], "@modelcontextprotocol/server-slack"),
        ("uvx", ["mcp-server-git", "--repository", "."], "mcp-server-git"),
        ("uvx", ["mcp-server-fetch==2026.10.24"], "mcp-server-fetch"),
        ("uvx", ["--from", "mcp-server-time[cli]>=2025", "mcp-server-time"], "mcp-server-time"),
        ("uv", ["tool", "run", "mcp-server-git"], "mcp-server-git"),
        ("uv", ["--directory", "/srv/app", "run", "server.py"], None),
        ("uv", ["run", "python", "-m", "mcp_server_time"], "mcp-server-time"),
        ("pipx", ["run", "mcp-server-time"], "mcp-server-time"),
        ("pipx", ["run", "--spec", "mcp-server-git==1.0", "mcp-server-git"], "mcp-server-git"),
        ("python", ["-m", "mcp_server_time"], "mcp-server-time"),
        ("/usr/bin/python3.11", ["-u", "-m", "mcp_server_git", "--repository", "."], "mcp-server-git"),
        ("python", ["server.py"], None),
        ("docker", ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", "mcp/github"], "mcp/github"),
        (
            "docker",
            ["run", "-i", "--rm", "--network=host", "-v", "/a:/b", "docker.io/mcp/fetch:latest"],
            "mcp/fetch",
        ),
        (
            "podman",
            ["run", "-i", "ghcr.io/github/github-mcp-server@sha256:abc"],
            "ghcr.io/github/github-mcp-server",
        ),
        (
            "node",
            ["/app/node_modules/@modelcontextprotocol/server-memory/dist/index.js"],
            "@modelcontextprotocol/server-memory",
        ),
        (
            "/repo/node_modules/.bin/mcp-server-filesystem",
            ["/tmp"],
            "@modelcontextprotocol/server-filesystem",
        ),
        ("mcp-server-time", [], "mcp-server-time"),
        ("npx -y @modelcontextprotocol/server-github", [], "@modelcontextprotocol/server-github"),
        ("bash", ["-c", "npx -y @modelcontextprotocol/server-slack"], "@modelcontextprotocol/server-slack"),
        ("env", ["DEBUG=1", "uvx", "mcp-server-git"], "mcp-server-git"),
        ("/opt/tools/custom-server", ["--port", "1"], None),
        (None, [], None),
        ("npx", [], None),
        ("npx", ["./local/server.js"], None),
    ],
)
def test_package_of(command: str | None, args: list[str], package: str | None) -> None:
    assert package_of(command, args) == package


def test_reference_only_values_are_kept_as_templates_and_literals_are_not(tmp_path: Path) -> None:
    cfg = tmp_path / ".mcp.json"
    cfg.write_text(
        '{"mcpServers": {"gh": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],'
        ' "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}", "LITERAL": "sk-test-canary-123"}},'
        ' "api": {"type": "http", "url": "https://x.test/mcp", "headers": {"Authorization": "Bearer ${API_TOKEN}", "X-Key": "abc123"}}}}'
    )
    result = parse_config_file(cfg, ".mcp.json")
    assert result is not None
    specs = {s.name: s for s in result[0]}
    assert specs["gh"].env_templates == (("GITHUB_PERSONAL_ACCESS_TOKEN", "${GITHUB_TOKEN}"),)
    assert specs["api"].header_templates == (("Authorization", "Bearer ${API_TOKEN}"),)
    assert "sk-test-canary-123" not in repr(result) and "abc123" not in repr(result)
