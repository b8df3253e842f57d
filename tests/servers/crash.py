"""A stdio "server" that fails at start: logs to stderr (including a secret's value) and exits non-zero.

Usage: crash.py [EXIT_CODE] — the secret is read from the environment variable CFM_CRASH_TOKEN.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Print a few stderr lines, one of them leaking the token, then exit with the given code."""
    token = os.environ.get("CFM_CRASH_TOKEN", "")
    for i in range(30):
        print(f"crash: warming up step {i}", file=sys.stderr)
    print(f"crash: connecting with token={token}", file=sys.stderr)
    print("crash: RuntimeError: upstream refused the connection", file=sys.stderr)
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 3)


if __name__ == "__main__":
    main()
