"""Session settings: the suite writes nothing into the source tree, and hypothesis runs are deterministic.

Bytecode: child processes (MCP servers, CLIs, agents) get PYTHONDONTWRITEBYTECODE, and this process
stops writing from here on (run the suite as `python -B -m pytest` so pytest's own imports write none).
Hypothesis keeps its example database and caches in the temp dir instead of `./.hypothesis`; the
cache provider is off in `addopts` (no `./.pytest_cache`).

CI (and a plain `pytest`) uses the "ci" hypothesis profile: `derandomize=True`, so a property test explores
the same examples on every run and a failure found once is found again. `HYPOTHESIS_PROFILE=explore pytest ...`
draws fresh random examples (and more of them) to look for new bugs; keep each one found as an `@example`.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from hypothesis import configuration, settings

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
sys.dont_write_bytecode = True
configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "cfmigrate-hypothesis")

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=300, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
