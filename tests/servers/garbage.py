"""A stdio "server" that writes text that is not JSON-RPC on stdout, like a CLI run with the wrong arguments.

Usage: garbage.py exit — answers the first request with a usage text and exits 0.
       garbage.py stay — answers every request line with text and never exits.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Read request lines and answer each with plain text."""
    mode = sys.argv[1] if len(sys.argv) > 1 else "exit"
    for _line in sys.stdin:
        print("Usage: garbage [--help] [--port PORT]", flush=True)
        print("{this is not json-rpc", flush=True)
        if mode == "exit":
            return


if __name__ == "__main__":
    main()
