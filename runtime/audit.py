"""A JSONL audit log of every script run and every tool call: no secrets, no payloads unless asked for."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAX_FIELD = 2_000  # characters of one string field
MAX_ITEMS = 50  # entries of one list or object
MAX_DEPTH = 6
MAX_BYTES = 10 * 1024 * 1024  # then the log is rotated: audit.jsonl -> audit.jsonl.1 -> ... .3
KEEP = 3


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def truncate(value: Any, depth: int = 0) -> Any:
    """A bounded copy of a value for the log: long strings, long lists and deep nesting are cut and marked."""
    if isinstance(value, str):
        return value if len(value) <= MAX_FIELD else value[:MAX_FIELD] + f"... ({len(value):,} chars)"
    if isinstance(value, bool | int | float) or value is None:
        return value
    if depth >= MAX_DEPTH:
        return "... (nested deeper)"
    if isinstance(value, dict):
        items = list(value.items())
        out = {truncate(str(k)): truncate(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            out["..."] = f"{len(items) - MAX_ITEMS} more"
        return out
    if isinstance(value, list | tuple):
        cut = [truncate(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            cut.append(f"... {len(value) - MAX_ITEMS} more")
        return cut
    return truncate(str(value), depth)


class AuditLog:
    """Appends one JSON object per line; each line is written with a single `write` on an O_APPEND file.

    Every field is cut to size (`truncate`), and past `max_bytes` the file is rotated, keeping `KEEP`
    old files, so a script cannot fill the disk through the log.
    """

    def __init__(
        self, path: Path | None, *, session: str, log_payloads: bool = False, max_bytes: int = MAX_BYTES
    ) -> None:
        self.path = path
        self.session = session
        self.log_payloads = log_payloads
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        self._fd = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600
        )
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        assert self.path is not None and self._fd is not None
        os.close(self._fd)
        self._fd = None
        for i in range(KEEP - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._open()

    def write(self, event: str, **fields: Any) -> None:
        """Record one event; keys are written sorted so lines are easy to diff."""
        if self._fd is None:
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "session": self.session,
            **{k: truncate(v) for k, v in fields.items() if v is not None},
        }
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode(
            "utf-8", errors="replace"
        )
        with self._lock:
            if self._fd is None:
                return
            if self._size + len(line) > self.max_bytes and self._size > 0:
                try:
                    self._rotate()
                except OSError:
                    return
                if self._fd is None:
                    return
            os.write(self._fd, line)
            self._size += len(line)

    def execution(
        self,
        *,
        script: str,
        duration_ms: float,
        outcome: str,
        tool_calls: int,
        stdout_bytes: int,
        exit_code: int | None,
        output: str | None = None,
    ) -> None:
        self.write(
            "execution",
            script_sha256=sha256(script),
            duration_ms=round(duration_ms, 1),
            outcome=outcome,
            tool_calls=tool_calls,
            stdout_bytes=stdout_bytes,
            exit_code=exit_code,
            script=script if self.log_payloads else None,
            output=output if self.log_payloads else None,
        )

    def tool_call(
        self,
        *,
        server: str,
        tool: str,
        via: str,
        duration_ms: float,
        outcome: str,
        script_sha256: str | None,
        error_kind: str | None = None,
        arguments: Any = None,
        result: Any = None,
    ) -> None:
        self.write(
            "tool_call",
            server=server,
            tool=tool,
            via=via,
            script_sha256=script_sha256,
            duration_ms=round(duration_ms, 1),
            outcome=outcome,
            error_kind=error_kind,
            arguments=arguments if self.log_payloads else None,
            result=result if self.log_payloads else None,
        )

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
