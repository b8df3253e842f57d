"""Start a Python program by forking a warm interpreter instead of starting a cold one (test support only).

This file is copied into the site-packages of the suite's overlay interpreter (tests/support/forkserver.py)
and imported by a `.pth` line there, so it runs inside `site` at the start of every process that the overlay
interpreter starts. Standard library only.

Two halves:
* `hook()` (the client, in the new process): if the process is a plain `python SCRIPT ...` or
  `python -m MODULE ...` and a fork server with the same fingerprint (interpreter, flags, locale, sys.path,
  limits, namespaces, ...) listens, it hands the server its argv, cwd, environment and its stdin, stdout and
  stderr file descriptors, forwards the signals it receives to the forked program, and exits with the
  program's status. Anything it cannot vouch for (a TTY, extra inherited descriptors, `-c`, other flags, a
  different fingerprint, no server) starts the process the ordinary way.
* `serve()` (the fork server): imports the heavy libraries once, then for each request forks a monitor that
  forks the program, sets up its process state the way a fresh interpreter would, and reports its wait
  status back to the client.
"""

from __future__ import annotations

import os
import sys

SOCKETS = ""  # set when the file is copied into an overlay: the directory of the servers' sockets
_KEEP_ENV = ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONPATH")
_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGWINCH")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return "?"


def fingerprint() -> str:
    """A digest of what a forked program would inherit from the server (`_parts()`)."""
    import hashlib

    return hashlib.sha256(repr(_parts()).encode()).hexdigest()[:24]


def _parts() -> list[object]:
    """Everything about this interpreter and process that a forked program would inherit from the server."""
    import _locale
    import re
    import resource

    flags = re.sub(r"dont_write_bytecode=\d+, ", "", repr(sys.flags))  # the program sets its own
    status = [
        ln
        for ln in _read("/proc/self/status").splitlines()
        if ln.startswith(("Seccomp", "NoNewPrivs", "Cap"))
    ]
    ns = []
    for name in sorted(os.listdir("/proc/self/ns")) if os.path.isdir("/proc/self/ns") else ():
        try:
            ns.append(os.readlink("/proc/self/ns/" + name))
        except OSError:
            ns.append(name + ":?")
    limits = [
        resource.getrlimit(getattr(resource, n)) for n in sorted(dir(resource)) if n.startswith("RLIMIT_")
    ]
    mask = os.umask(0)
    os.umask(mask)
    parts = [
        sys.prefix,
        sys.exec_prefix,
        sys.version,
        [p for p in sys.path if p],
        flags,
        sys.warnoptions,
        sorted(sys._xoptions.items()),
        sys.getfilesystemencoding(),
        _locale.setlocale(_locale.LC_ALL),
        sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON") and k not in _KEEP_ENV),
        [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), sorted(os.getgroups())],
        mask,
        sorted(os.sched_getaffinity(0)),
        limits,
        ns,
        status,
        _read("/proc/self/cgroup"),
    ]
    return parts


def _stream_info(stream: object) -> list[object] | None:
    if stream is None:
        return None
    return [
        getattr(stream, "encoding", "utf-8"),
        getattr(stream, "errors", "strict"),
        bool(getattr(stream, "line_buffering", False)),
        bool(getattr(stream, "write_through", False)),
        type(getattr(stream, "buffer", None)).__name__ == "FileIO",  # unbuffered (-u, PYTHONUNBUFFERED)
    ]


def _eligible() -> tuple[str, str, list[str]] | None:
    argv = getattr(sys, "orig_argv", [])
    if len(argv) >= 3 and argv[1] == "-m" and argv[2] and not argv[2].startswith("-"):
        return ("module", argv[2], argv[3:])
    if len(argv) >= 2 and argv[1] and not argv[1].startswith("-"):
        script = argv[1]
        try:
            with open(script, "rb") as f:
                if f.read(2) == b"PK":  # a zip application
                    return None
        except OSError:  # not a readable file: let the interpreter say so
            return None
        return ("script", script, argv[2:])
    return None


def _say(why: str) -> None:
    if os.environ.get("CFM_FORKSERVER") == "debug":
        print(f"_cfm_fork: cold start of {sys.orig_argv!r}: {why}", file=sys.stderr)


def hook() -> None:
    """Run this process's program in a fork of a warm server, or return to start it the ordinary way."""
    if not SOCKETS or os.environ.get("CFM_FORKSERVER") == "off":
        return
    plan = _eligible()
    if plan is None:
        return
    try:
        fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    except OSError:
        return
    # Beyond 0-2 only `site` reading the .pth file that runs this, and the listing's own descriptor (closed by
    # now), may be open: any other descriptor was passed on purpose.
    for fd in fds[3:]:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if not target.endswith("_cfm_overlay.pth"):
            return _say(f"descriptor {fd} is open ({target})")
    if fds[:3] != [0, 1, 2]:
        return _say("a standard stream is closed")
    if any(os.isatty(fd) for fd in (0, 1, 2)):
        return _say("a standard stream is a terminal")
    path = os.path.join(SOCKETS, fingerprint() + ".sock")
    if not os.path.exists(path):
        return _say(f"no server for {path}: {_parts()!r}")
    import array
    import json
    import signal
    import socket

    request = {
        "plan": list(plan),
        "orig_argv": list(sys.orig_argv),
        "cwd": os.getcwd(),
        "executable": sys.executable,
        "env": dict(os.environ),
        "path": list(sys.path),
        "dont_write_bytecode": sys.dont_write_bytecode,
        "streams": [_stream_info(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
    }
    # Signals are caught from before the program can start (it may run before its pid reaches us): held
    # until the pid is known, then forwarded; re-raised here if the program is not started after all.
    child: list[int] = []
    held: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not child:
            held.append(signum)
            return
        try:
            os.kill(child[0], signum)
        except ProcessLookupError:
            pass

    previous = {name: signal.signal(getattr(signal, name), forward) for name in _FORWARDED}

    def cold_start() -> None:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
        for signum in held:  # what a cold start would have met, met now
            os.kill(os.getpid(), signum)

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(path)
        payload = json.dumps(request).encode()
        sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
        reply = sock.recv(64)
    except OSError:
        sock.close()
        return cold_start()  # a stale socket, or a server not listening yet: nothing was started
    if not reply.startswith(b"P"):
        sock.close()
        return cold_start()
    # From here on the program runs in the fork: this process only stands in for it.
    child.append(int(reply[1:]))
    for signum in held:
        forward(signum, None)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # the pipes close when the program exits, not when this stand-in does
        os.dup2(null, fd)
    os.close(null)
    status = b""
    while True:
        try:
            chunk = sock.recv(64)
        except InterruptedError:
            continue
        if not chunk:
            break
        status = chunk
    if not status.startswith(b"S"):
        os._exit(70)  # the server died under the program (EX_SOFTWARE)
    wait = int(status[1:])
    if os.WIFSIGNALED(wait):
        signum = os.WTERMSIG(wait)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    os._exit(os.waitstatus_to_exitcode(wait) if os.WIFEXITED(wait) else 1)


# ------------------------------------------------------------------------------------------------- the server
def _stdio(fd: int, info: list[object] | None, reading: bool) -> object:
    import io

    if info is None:
        return None
    encoding, errors, line_buffering, write_through, unbuffered = info
    raw = io.FileIO(fd, "rb" if reading else "wb", closefd=False)
    raw.name = ("<stdin>", "<stdout>", "<stderr>")[fd]  # type: ignore[misc]
    buffer: io.RawIOBase | io.BufferedIOBase
    if reading:
        buffer = io.BufferedReader(raw)
    elif unbuffered:
        buffer = raw
    else:
        buffer = io.BufferedWriter(raw)
    text = io.TextIOWrapper(
        buffer,
        encoding=str(encoding),
        errors=str(errors),
        line_buffering=bool(line_buffering),
        write_through=bool(write_through),
    )
    text.mode = "r" if reading else "w"  # type: ignore[misc]
    return text


def _set_pdeathsig() -> None:
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_program(request: dict) -> int:  # type: ignore[type-arg]
    """In the forked program: become the process the client would have been, run it, return its exit code."""
    import signal
    import threading
    import traceback

    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.dont_write_bytecode = bool(request["dont_write_bytecode"])
    sys.orig_argv = request["orig_argv"]
    sys.executable = request["executable"]
    streams = request["streams"]
    sys.stdin = sys.__stdin__ = _stdio(0, streams[0], True)  # type: ignore[assignment,misc]
    sys.stdout = sys.__stdout__ = _stdio(1, streams[1], False)  # type: ignore[assignment,misc]
    sys.stderr = sys.__stderr__ = _stdio(2, streams[2], False)  # type: ignore[assignment,misc]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGTERM", "SIGCHLD", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    kind, target, args = request["plan"]
    code = 0
    try:
        try:
            if kind == "module":
                import runpy

                sys.argv = ["-m", *args]
                sys.path[:] = [os.getcwd(), *request["path"]]
                runpy._run_module_as_main(target, alter_argv=True)  # type: ignore[attr-defined]
            else:
                import types
                from importlib.machinery import SourceFileLoader

                sys.argv = [target, *args]
                sys.path[:] = [os.path.dirname(os.path.realpath(target)), *request["path"]]
                with open(target, "rb") as f:
                    source = f.read()
                main = types.ModuleType("__main__")
                main.__file__ = target
                main.__loader__ = SourceFileLoader("__main__", target)
                main.__builtins__ = __builtins__
                sys.modules["__main__"] = main
                exec(compile(source, target, "exec", dont_inherit=True), main.__dict__)
        except SystemExit as done:
            code = _exit_code(done.code)
        except KeyboardInterrupt:
            traceback.print_exc()
            _finish()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
            return 130
        except BaseException as error:  # noqa: BLE001  (the interpreter prints it and exits 1)
            tb = error.__traceback__
            tb = tb.tb_next if tb is not None else None  # drop this function's frame
            sys.excepthook(type(error), error.with_traceback(tb), tb)  # type: ignore[arg-type]
            code = 1
        try:
            threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads, as at exit
        except BaseException:  # noqa: BLE001
            pass
    finally:
        code = _finish(code)
    return code


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    try:
        print(value, file=sys.stderr)
    except BaseException:  # noqa: BLE001
        pass
    return 1


def _finish(code: int = 0) -> int:
    import atexit

    try:
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BaseException:  # noqa: BLE001
            if code == 0:
                code = 120  # what the interpreter returns when flushing at exit fails
    return code


def _monitor(conn: object, fds: list[int], request: dict, listeners: list[object]) -> None:  # type: ignore[type-arg]
    """The server's child: fork the program, tell the client its pid, wait, report the wait status."""
    import select
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for listener in listeners:
        listener.close()  # type: ignore[attr-defined]
    pid = os.fork()
    if pid == 0:
        try:
            # A session of its own: signals reach it once, through the stand-in (joining the stand-in's group
            # would deliver a group's signal twice; the stand-in forwards what it gets).
            os.setsid()
            _set_pdeathsig()
            if os.getppid() == 1:
                os._exit(70)
            conn.close()  # type: ignore[attr-defined]
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
            for fd in fds:
                if fd > 2:
                    os.close(fd)
            code = _run_program(request)
        except BaseException:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            code = 70
        os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.send(b"P%d" % pid)  # type: ignore[attr-defined]
    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([conn, pidfd], [], [])
        if pidfd in ready:
            break
        if not conn.recv(16):  # type: ignore[attr-defined]  # the client is gone: so is its program
            try:  # with its process group, where a killpg of the stand-in's would have reached its children
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            break
    _, status = os.waitpid(pid, 0)
    try:
        conn.send(b"S%d" % status)  # type: ignore[attr-defined]
    except OSError:
        pass
    os._exit(0)


def serve(preload: list[str], parent: int) -> None:
    """The fork server: bind `<SOCKETS>/<fingerprint>.sock` (or leave if a twin holds it), import, serve."""
    import importlib
    import json
    import resource
    import select
    import socket
    import threading

    path = os.path.join(SOCKETS, fingerprint() + ".sock")
    if os.environ.get("CFM_FORKSERVER") == "debug":
        print(f"_cfm_fork: serving {path}: {_parts()!r}", file=sys.stderr)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        listener.bind(path)
    except OSError:  # a server with the same fingerprint already runs
        print("twin", flush=True)
        return
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (a library this venv lacks stays unloaded)
            pass
    if threading.active_count() != 1:  # forking a threaded process is unsafe: refuse to serve
        os.unlink(path)
        print("threads", flush=True)
        return
    import array
    import ctypes  # noqa: F401
    import gc
    import io  # noqa: F401
    import runpy  # noqa: F401
    import traceback  # noqa: F401

    gc.freeze()  # what every program inherits is never traversed (nor its pages copied) by their collections
    listener.listen(128)
    print("ready", flush=True)
    children = 0

    def reap() -> int:
        left = children
        while left:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return 0
            if pid == 0:
                break
            left -= 1
        return left

    while True:
        children = reap()
        ready, _, _ = select.select([listener, sys.stdin], [], [], 1.0)
        if sys.stdin in ready or os.getppid() != parent:  # the suite closed our stdin, or died: stop
            break
        if listener not in ready:
            continue
        conn, _ = listener.accept()
        message, ancillary, _, _ = conn.recvmsg(1 << 22, socket.CMSG_SPACE(3 * 4))
        if message == b"stats":  # CPU seconds of the programs served that have finished
            children = reap()
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            conn.send(json.dumps(used.ru_utime + used.ru_stime).encode())
            conn.close()
            continue
        fds: list[int] = []
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(array.array("i", data[: len(data) - len(data) % 4]))
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            conn.close()
            continue
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            _monitor(conn, fds, request, [listener])
        children += 1
        conn.close()
        for fd in fds:
            os.close(fd)
    os.unlink(path)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
