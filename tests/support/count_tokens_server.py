"""A scripted `POST /v1/messages/count_tokens` on 127.0.0.1 with fault modes, for exact-mode tests.

`input_tokens` is the o200k_base count of the request's system, tools and messages as compact JSON
(`scripted_api.request_tokens`), so a test can recompute every figure by subtraction. Fault modes:
"malformed" (200 without input_tokens), "non-json" (200 text), "429", "500", "529" (JSON error
bodies, no retry hint), "hang" (never answers within the client's timeout).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.scripted_api import request_tokens

FAULTS = ("malformed", "non-json", "429", "500", "529", "hang")


class CountTokensServer:
    def __init__(self, fault: str | None = None, *, fault_after: int = 0, hang_seconds: float = 5.0) -> None:
        self.fault = fault
        self.fault_after = fault_after  # answer this many requests correctly first
        self.hang_seconds = hang_seconds
        self.requests: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> CountTokensServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, body: Mapping[str, Any]) -> tuple[int, bytes]:
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
        fault = self.fault if n > self.fault_after else None
        if fault == "hang":
            time.sleep(self.hang_seconds)
        if fault == "malformed":
            return 200, b'{"tokens": 12}'
        if fault == "non-json":
            return 200, b"<html>gateway</html>"
        if fault in ("429", "500", "529"):
            kind = {"429": "rate_limit_error", "500": "api_error", "529": "overloaded_error"}[fault]
            error = {"type": "error", "error": {"type": kind, "message": f"scripted {fault}"}}
            return int(fault), json.dumps(error).encode()
        return 200, json.dumps({"input_tokens": request_tokens(body)}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        owner: CountTokensServer = self.server.owner  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        status, data = owner.answer(json.loads(raw or b"{}"))
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("x-should-retry", "false")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout)
            pass

    def log_message(self, *args: object) -> None:
        pass
