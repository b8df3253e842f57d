"""Test-wide settings: hypothesis runs are deterministic unless a developer asks otherwise.

CI (and a plain `pytest`) uses the "ci" profile: `derandomize=True`, so a property test explores the same
examples on every run and a failure found once is found again. `HYPOTHESIS_PROFILE=explore pytest ...` draws
fresh random examples (and more of them) to look for new bugs; keep each one found as an `@example`.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=300, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
