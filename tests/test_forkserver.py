"""The suite's warm start (tests/support/forkserver.py): a forked program is indistinguishable from a cold one.

Every comparison runs the same program twice, cold (`CFM_FORKSERVER=off`) and through the fork server,
and compares what the program saw and what its parent saw.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp.client.stdio import get_default_environment
from support import forkserver

pytestmark = pytest.mark.skipif(forkserver.ACTIVE is None, reason="the suite runs outside a venv: no overlay")


@pytest.fixture(autouse=True)
def _servers_ready() -> None:
    assert forkserver.ACTIVE is not None
    states = forkserver.ACTIVE.ready()
    assert "ready" in states and set(states) <= {"ready", "twin"}, states


PROBE = r"""
import json, os, signal, sys
preloaded = "anthropic" in sys.modules  # only the fork server's programs start with it imported
signal.signal(signal.SIGTERM, lambda *_: (os.write(1, b"got SIGTERM\n"), sys.exit(7)))  # print may be busy
seen = {
    "argv": sys.argv,
    "orig_argv": sys.orig_argv[1:],
    "executable": sys.executable,
    "path": sys.path,
    "cwd": os.getcwd(),
    "env": {k: v for k, v in os.environ.items() if k.startswith("CFM_PROBE")},
    "main": [__name__, __file__],
    "stdin": sys.stdin.read(),
    "encodings": [s.encoding for s in (sys.stdin, sys.stdout, sys.stderr)],
    "errors": [s.errors for s in (sys.stdin, sys.stdout, sys.stderr)],
    "dont_write_bytecode": sys.dont_write_bytecode,
}
print(json.dumps(seen), flush=True)
print(json.dumps(preloaded), flush=True)
print("to stderr", file=sys.stderr)
mode = sys.argv[1] if len(sys.argv) > 1 else ""
if mode == "wait":
    print("waiting", flush=True)
    signal.pause()
if mode == "raise":
    raise ValueError("boom")
if mode == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.exit(int(mode) if mode.isdigit() else 0)
"""


def _pair(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, **kw: object
) -> tuple[object, object]:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    base = {**os.environ, "CFM_PROBE_X": "1"} if env is None else env
    runs = []
    for hook in ("off", "on"):
        run_env = {**base, "CFM_FORKSERVER": hook}
        done = subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            env=run_env,
            cwd=tmp_path,
            **kw,
        )
        runs.append((done, json.loads(done.stdout.splitlines()[1])))
    (cold, cold_forked), (warm, warm_forked) = runs
    assert not cold_forked and warm_forked, "the warm run must be forked by the server, the cold one not"
    return cold, warm


def _seen(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    seen = json.loads(done.stdout.splitlines()[0])
    seen["env"].pop("CFM_FORKSERVER", None)  # type: ignore[union-attr]
    return seen


@pytest.mark.parametrize("code", ["0", "3", "raise", "kill"])
def test_a_forked_program_sees_and_returns_what_a_cold_one_does(tmp_path: Path, code: str) -> None:
    cold, warm = _pair(tmp_path, code, input="some input\n")
    assert _seen(warm) == _seen(cold)  # type: ignore[arg-type]
    assert warm.returncode == cold.returncode  # type: ignore[attr-defined]
    assert warm.returncode == {"0": 0, "3": 3, "raise": 1, "kill": -signal.SIGKILL}[code]  # type: ignore[attr-defined]
    cold_err = cold.stderr.splitlines()  # type: ignore[attr-defined]
    warm_err = warm.stderr.splitlines()  # type: ignore[attr-defined]
    assert warm_err == cold_err and warm_err[0] == "to stderr"
    if code == "raise":
        assert warm_err[-1] == "ValueError: boom" and 'File "' + str(tmp_path / "probe.py") in warm.stderr  # type: ignore[attr-defined]


def test_the_mcp_clients_reduced_environment_is_served_too(tmp_path: Path) -> None:
    """mcp's stdio client gives a server only HOME, LOGNAME, PATH, SHELL, TERM, USER (no LANG: UTF-8 mode)."""
    env = get_default_environment()
    assert "LANG" not in env
    cold, warm = _pair(tmp_path, env=env, input="é\n")
    assert _seen(warm) == _seen(cold)  # type: ignore[arg-type]
    assert _seen(warm)["stdin"] == "é\n"


def _waiting(script: Path, **popen: object) -> tuple[subprocess.Popen[str], dict[str, object], bool]:
    """The probe started in its waiting mode: the process, what it saw, whether it started warm."""
    proc = subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, str(script), "wait"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )
    assert proc.stdout is not None
    seen, preloaded, waiting = (proc.stdout.readline() for _ in range(3))
    assert waiting == "waiting\n"
    return proc, json.loads(seen), json.loads(preloaded)


def test_signals_to_the_stand_in_reach_the_program_and_its_status_comes_back(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    for hook in ("off", "on"):
        proc, _, warm = _waiting(script, env={**os.environ, "CFM_FORKSERVER": hook})
        assert warm is (hook == "on")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert out == "got SIGTERM\n" and proc.returncode == 7, (hook, out, err, proc.returncode)


def test_killing_the_stand_in_kills_the_program(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(PROBE.replace('"dont_write_bytecode"', '"pid": os.getpid(), "dont_write_bytecode"'))
    proc, seen, warm = _waiting(script, start_new_session=True)  # as the MCP SDK starts a server
    pid = seen["pid"]
    assert warm and isinstance(pid, int)
    assert pid != proc.pid  # forked by the server, not the stand-in itself
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"program {pid} outlived its killed stand-in")
    assert proc.stdout is not None and proc.stdout.read() == ""  # the pipe closed: nobody holds it


def _preloaded_on_start(cmd: list[str], **kw: object) -> bool:
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, **kw)  # type: ignore[call-overload]
    return done.stdout.strip() == "True"


def test_what_the_hook_leaves_to_a_cold_start(tmp_path: Path) -> None:
    probe = tmp_path / "preloaded.py"
    probe.write_text("import sys\nprint('anthropic' in sys.modules)\n")
    assert _preloaded_on_start([sys.executable, str(probe)])  # the fast path, for contrast
    # -c (import footprints are measured that way), other flags, a module run with -I
    assert not _preloaded_on_start([sys.executable, "-c", "import sys; print('anthropic' in sys.modules)"])
    assert not _preloaded_on_start([sys.executable, "-X", "importtime", str(probe)])
    # an inherited descriptor beyond 0-2, which a forked program would not have
    read, write = os.pipe()
    try:
        assert not _preloaded_on_start([sys.executable, str(probe)], pass_fds=(write,))
    finally:
        os.close(read)
        os.close(write)
    # the switch
    assert not _preloaded_on_start([sys.executable, str(probe)], env={**os.environ, "CFM_FORKSERVER": "off"})
    # a terminal (a forked program could not make it its controlling terminal)
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, str(probe)], stdin=follower, stdout=follower, stderr=follower)
        assert done.returncode == 0
        assert os.read(leader, 100).strip() == b"False"
    finally:
        os.close(leader)
        os.close(follower)
