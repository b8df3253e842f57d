"""The text the model reads: the code-first system prompt and the execute-code tool's description.

Plain string formatting (no template engine), so the runtime needs only the standard library here.
"""

from __future__ import annotations

from collections.abc import Sequence

EXECUTE_CODE_DESCRIPTION = (
    "Run a Python 3.11 script in the sandbox; returns what it printed, plus a short traceback on error."
)


def system_prompt(
    *,
    tool_name: str,
    servers: Sequence[str],
    server_count: int,
    max_output: str,
    timeout: str,
    mask_pii: bool,
    kept: Sequence[str],
) -> str:
    """The code-first prompt (with the tool definition it stays under 600 tokens whatever the tool count).

    It teaches two runs: one script that finds every tool the task needs (one typed line per tool, return
    fields included, so no documentation round is needed), then one script that does the whole task and
    prints only what the model must read.
    """
    find = (
        '- Run 1, find every tool the task needs: `from servers import search_tools`, `print(search_tools("words", limit=2))` per need. '
        "A line is `servers.<server>.<tool>(<arguments>) -> {<result fields>} - <summary>`; "
        'detail="full" adds the docstring; `servers/<server>/__init__.py` lists a server\'s tools.'
    )
    if servers:
        find += f" Servers: {', '.join(servers)}."
    elif server_count:
        find += f" {server_count} servers: print `servers.SERVERS`."
    lines = [
        f"You work by writing Python 3.11 run in a sandbox by the `{tool_name}` tool; tools are async functions there.",
        find,
        "- Run 2, the whole task in one script (or in run 1, for tools you already know): "
        "`from servers.<server> import <tool>`, `r = await <tool>(arg=...)` (top-level await). "
        "Result fields are attributes named as in the line (`r.<field>`, `r.<list>[0].<field>`); `r.text` is the raw text. "
        "A failure raises `ToolError`: fix the code from the traceback and run again.",
        f"- Only what you print comes back: keep documents and records in variables, pass them between tools in the script, print only the ids, counts and short excerpts you need. Output over {max_output} characters is cut.",
    ]
    if mask_pii:
        lines.append(
            "- Emails and phone numbers appear as placeholders like [EMAIL_1]; use them as they are in tool arguments and the real values are sent."
        )
    lines.append(
        f"- Each run is a new process with no network but the tools, stopped after {timeout} s; only `workspace/` (state), "
        "`skills/<name>.py` (reusable functions: `import skills.<name>`) and $TMPDIR are writable."
    )
    if kept:
        lines.append(f"- Also callable directly as tools: {', '.join(kept)}.")
    lines.append("Then give the user a short summary.")
    return "\n".join(lines)
