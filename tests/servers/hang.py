"""A stdio "server" that never answers: it ignores SIGTERM and stdin EOF and keeps a child in its group.

Usage: hang.py PIDFILE — writes "<own pid> <child pid>" to PIDFILE so a test can check both die.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time


def main() -> None:
    """Start a sleeping child, record both pids, then sleep forever without reading stdin."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
        ],
        stdin=subprocess.DEVNULL,
    )
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write(f"{os.getpid()} {child.pid}\n")
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    print("hang: started, will never answer", file=sys.stderr, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
