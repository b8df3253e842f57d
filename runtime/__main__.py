"""`python -m cfmigrate.runtime`: print which sandbox protections this machine enforces."""

from __future__ import annotations

import socket
import sys

from cfmigrate.runtime.executor import Limits, LocalExecutor, SandboxSession


def main() -> int:
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.gettempdir())

    async def bridge(sock: socket.socket) -> None:  # stands for CodeMode's bridge: the report only needs one
        sock.close()

    session = SandboxSession(id="probe", work_dir=tmp, runtime_dir=tmp, limits=Limits(), bridge=bridge)
    layers = LocalExecutor().protections(session)
    width = max(len(p.name) for p in layers)
    for p in layers:
        print(f"{p.name:<{width}}  {'enforced' if p.enforced else 'NOT enforced':<12}  {p.how}")
    missing = sum(1 for p in layers if not p.enforced)
    print(f"\n{len(layers) - missing} of {len(layers)} protections enforced on this machine")
    refused = any(p.name == "minimum confinement" and not p.enforced for p in layers)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
