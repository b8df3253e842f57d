"""A JSONL audit log of every script run and every tool call: no secrets, no payloads unless asked for."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


class AuditLog:
    """Appends one JSON object per line; each line is written with a single `write` on an O_APPEND file."""

    def __init__(self, path: Path | None, *, session: str, log_payloads: bool = False) -> None:
        self.path = path
        self.session = session
        self.log_payloads = log_payloads
        self._lock = threading.Lock()
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def write(self, event: str, **fields: Any) -> None:
        """Record one event; keys are written sorted so lines are easy to diff."""
        if self._fd is None:
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": event,
            "session": self.session,
            **{k: v for k, v in fields.items() if v is not None},
        }
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)

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
