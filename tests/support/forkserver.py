"""The suite's Python processes start warm: an overlay interpreter whose new processes fork from a server.

Most of the suite's CPU time went to interpreters importing the same libraries again: every in-repo MCP
server pays about 1 CPU-s for `mcp`, every agent 2 CPU-s for `anthropic`, and an end-to-end case starts a
dozen of them. `install()` builds, per xdist worker, an *overlay* of the test venv in a temporary directory:
* `bin/python` (and the venv's console scripts, with their `#!` pointing there) is a venv of the same base
  interpreter whose site-packages adds the test venv's own (`site.addsitedir`, so its `.pth` files,
  including the editable install, apply exactly as before);
* a `.pth` line there imports `_cfm_fork` and calls its `hook()`, which hands a plain `python SCRIPT` or
  `python -m MODULE` process to a fork server with the same fingerprint (see _cfm_fork.py);
* two fork servers run per worker: one in the suite's environment and one in the reduced environment that
  the MCP SDK's stdio client gives a server it launches (no `LANG`: a coerced C locale, UTF-8 mode on). Each
  imports `PRELOAD` once.

The worker then points `sys.executable` and the front of `PATH` at the overlay, so the tests, the agents
they start and the servers those agents launch (`sys.executable`, `python`, `cfmigrate`, `mcp-server-*`)
all go through it. What a program sees is what a cold start would give it (argv, `sys.path`, cwd,
environment, std streams, signals, exit status, real pipes), with one difference: the modules of `PRELOAD`
are already in `sys.modules`. So a test about what a process imports or how fast it starts a cold
interpreter uses `-c`, `-I`, `-X`, a TTY or another venv, none of which the hook takes (test_runtime_footprint
does). `CFM_FORKSERVER=off` in the environment turns the hook off for a process and its children.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Imported once per server: the MCP SDK (server, stdio and HTTP clients) and the model SDKs the agents use.
PRELOAD = [
    "mcp",
    "mcp.server",
    "mcp.client.session",
    "mcp.client.stdio",
    "mcp.client.streamable_http",
    "anthropic",
    "openai",
    "uvicorn",
    "starlette.applications",
    "sse_starlette",
]
HERE = Path(__file__).resolve().parent
ACTIVE: Overlay | None = None  # this process's overlay, once install() ran


@dataclass
class Overlay:
    root: Path
    python: Path
    bin: Path
    servers: list[subprocess.Popen[str]] = field(default_factory=list)
    states: list[str] = field(default_factory=list)

    def ready(self) -> list[str]:
        """Wait until every server has imported and listens (or has left: "twin", "threads"); their states."""
        while len(self.states) < len(self.servers):
            server = self.servers[len(self.states)]
            assert server.stdout is not None
            self.states.append(server.stdout.readline().strip() or f"exited {server.wait()}")
        return self.states

    def stop(self) -> None:
        for server in self.servers:
            if server.stdin:
                server.stdin.close()  # the server's signal to stop
        for server in self.servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def build(root: Path) -> Overlay | None:
    """The overlay venv in `root`, or None when the suite does not run in a venv (nothing to overlay)."""
    if sys.prefix == sys.base_prefix or os.name != "posix" or not Path("/proc/self/fd").is_dir():
        return None
    venv = Path(sys.prefix)
    site_packages = Path(sysconfig.get_paths()["purelib"])
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    (root / "pyvenv.cfg").write_text((venv / "pyvenv.cfg").read_text())
    base = os.path.realpath(sys.executable)  # the interpreter the test venv was made from
    names = {"python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    for name in names:
        (bin_dir / name).symlink_to(base)
    own = root / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    own.mkdir(parents=True)
    module = (HERE / "_cfm_fork.py").read_text()
    module = module.replace('SOCKETS = ""', f"SOCKETS = {str(root / 'sockets')!r}", 1)
    (root / "sockets").mkdir()
    (own / "_cfm_fork.py").write_text(module)
    # One line, so the test venv's packages (and its .pth files) are there before the hook looks at sys.path.
    (own / "_cfm_overlay.pth").write_text(
        f"import site, _cfm_fork; site.addsitedir({str(site_packages)!r}); _cfm_fork.hook()\n"
    )
    real_python = {str(venv / "bin" / n) for n in (*names, "python")}
    for script in (venv / "bin").iterdir():
        if script.name in names or not script.is_file() or script.name.startswith("activate"):
            continue
        try:
            with script.open("rb") as f:
                first = f.readline()
        except OSError:
            continue
        if not first.startswith(b"#!") or first[2:].strip().decode(errors="replace") not in real_python:
            continue
        copy = bin_dir / script.name
        copy.write_bytes(b"#!" + str(bin_dir / "python").encode() + b"\n" + script.read_bytes()[len(first) :])
        copy.chmod(0o755)
    return Overlay(root=root, python=bin_dir / "python", bin=bin_dir)


def _start_server(overlay: Overlay, env: dict[str, str]) -> subprocess.Popen[str]:
    code = f"import sys, _cfm_fork; _cfm_fork.serve({PRELOAD!r}, {os.getpid()})"
    return subprocess.Popen(
        [str(overlay.python), "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=overlay.root,
    )


def install() -> Overlay | None:
    """Build the overlay, start its servers, and point this process (and its children) at it."""
    if os.environ.get("CFM_FORKSERVER") == "off":
        return None
    overlay = build(Path(tempfile.mkdtemp(prefix="cfm-fork-")))
    if overlay is None:
        return None
    from mcp.client.stdio import get_default_environment

    os.environ["PATH"] = f"{overlay.bin}{os.pathsep}{os.environ.get('PATH', '')}"
    # The suite's environment, and what the installed SDK's stdio client gives the servers it launches.
    # Not waited for: a server binds its socket first and listens once its imports are done, so a process
    # started meanwhile is refused and starts cold (the worker collects tests in the meantime).
    overlay.servers = [_start_server(overlay, env) for env in (dict(os.environ), get_default_environment())]
    sys.executable = str(overlay.python)
    global ACTIVE
    ACTIVE = overlay
    return overlay


def cpu_seconds(overlay: Overlay | None) -> float:
    """CPU seconds of the programs the overlay's servers forked and that have finished."""
    import socket

    if overlay is None:
        return 0.0
    total = 0.0
    for path in (overlay.root / "sockets").glob("*.sock"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
            try:
                sock.connect(str(path))
                sock.send(b"stats")
                total += float(sock.recv(64))
            except (OSError, ValueError):
                continue
    return total
