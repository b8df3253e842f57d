"""The helpdesk server (helpdesk_server.py) served over streamable HTTP on 127.0.0.1:$MCP_PORT (default 8000).

State lives in this one process for its whole life, as with a deployed server: every client that
connects sees what earlier clients created.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import helpdesk_server

if __name__ == "__main__":
    with Path(__file__).with_name("launches.log").open("a", encoding="utf-8") as log:
        log.write(f"{helpdesk_server.server.name} {os.getpid()}\n")
    helpdesk_server.server.run(
        transport="streamable-http", host="127.0.0.1", port=int(os.environ.get("MCP_PORT", "8000"))
    )
