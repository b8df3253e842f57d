"""Where the real MCP servers that `.ci/run` installs live, for tests and benchmarks."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NPM_BIN = REPO / ".ci" / "npm-servers" / "node_modules" / ".bin"


def npm_server(name: str) -> str:
    """Absolute path of an npm server binary installed by .ci/run (e.g. 'mcp-server-filesystem')."""
    path = NPM_BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `npm ci --prefix .ci/npm-servers` (done by .ci/run)")
    return str(path)


def pypi_server(name: str) -> str:
    """Absolute path of a PyPI server console script installed beside this interpreter."""
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed: pip install -e '.[test]' installs it")
    return found
