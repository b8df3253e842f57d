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
    """The code-first prompt (with the tool definition it stays under 600 tokens whatever the tool count)."""
    find = '- Work in few runs. Run 1, find every tool the task needs in one script: `from servers import search_tools`, then `print(search_tools("words", limit=3))` once per need; each line is a tool\'s typed signature, return fields and summary (detail="full": the whole docstring). `servers/<server>/__init__.py` lists a server\'s tools.'
    if servers:
        find += f" Servers: {', '.join(servers)}."
    elif server_count:
        find += f" {server_count} servers: print `servers.SERVERS`."
    lines = [
        f"You work by writing Python 3.11 that runs in a sandbox through the `{tool_name}` tool; the tools are Python functions there.",
        find,
        "- Run 2, do the whole task in one script: `from servers.<server> import <tool>`, then `await <tool>(arg=...)` (top-level await works). Results have `.text`, `.structured_content` and typed fields when the tool has an output schema. A failure raises `ToolError`: read the traceback, fix the code, run again.",
        f"- Only what you print comes back to you. Keep documents and records in variables and pass them from tool to tool inside one script; print only ids, counts, short excerpts and what you need to decide. Output over {max_output} characters is cut.",
    ]
    if mask_pii:
        lines.append(
            "- Emails and phone numbers appear as placeholders like [EMAIL_1]; use them as they are in tool arguments and the real values are sent."
        )
    lines += [
        "- Each run is a new process: keep state in files under `workspace/`; save reusable functions in `skills/<name>.py` and import them from `skills.<name>`.",
        f"- No network except the tools; only `workspace/`, `skills/` and $TMPDIR are writable; a run stops after {timeout} s.",
    ]
    if kept:
        lines.append(f"- Also callable directly as tools: {', '.join(kept)}.")
    lines.append(
        "Do as much of the task as you safely can in one script, then give the user a short summary."
    )
    return "\n".join(lines)
