"""Session settings: the suite writes nothing into the source tree.

Bytecode: child processes (MCP servers, CLIs, agents) get PYTHONDONTWRITEBYTECODE, and this process
stops writing from here on (run the suite as `python -B -m pytest` so pytest's own imports write none).
Hypothesis keeps its example database and caches in the temp dir instead of `./.hypothesis`; the
cache provider is off in `addopts` (no `./.pytest_cache`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from hypothesis import configuration

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
sys.dont_write_bytecode = True
configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "cfmigrate-hypothesis")
