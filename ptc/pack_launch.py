"""Where policy packs run: the pack host (`pack_host.py`) of each interpreter, or a plain process.

Kept apart from `analyzer` and free of gRPC and the Pulumi SDK, so `ptc preview` can start the host first thing,
and the host's own imports overlap this process's.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any


def pack_python(pack_dir: Path) -> str:
    """The pack's own virtualenv (`runtime.options.virtualenv: venv`, made by `make packs`) when it exists,
    as the CLI would use it; otherwise this interpreter, which has the same pinned pulumi-policy."""
    own = pack_dir / "venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


class _Polled:
    """The parts of `subprocess.Popen` that `PackProcess`, `stop` and `_host` use, for a process known by its pid
    only; subclasses say how to poll it and signal it."""

    returncode: int | None = None

    @property
    def pid(self) -> int:
        raise NotImplementedError

    def poll(self) -> int | None:
        raise NotImplementedError

    def _signal(self, number: int) -> None:
        raise NotImplementedError

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.001  # poll, quickly at first: a pack stops within milliseconds of its signal
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return self.returncode or 0


class _ForkedPack(_Polled):
    """A pack forked by the pack host (the host's child, not ours: no waitpid). Its pid arrives once the host has
    forked it; asking for it waits."""

    def __init__(self, host: PackHost, stdout: Any, stderr: Any):
        self._host, self.stdout, self.stderr = host, stdout, stderr
        self._pid: int | None = None

    @property
    def pid(self) -> int:
        while self._pid is None:
            self._host.receive()
        return self._pid

    def poll(self) -> int | None:
        if self.returncode is None:
            if self.pid <= 0:  # never signal pid 0 or -1: that would reach the whole process group, or everyone
                self.returncode = -1
                return self.returncode
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -1
            except PermissionError:
                pass
        return self.returncode

    def _signal(self, number: int) -> None:
        if self.pid <= 0:
            return
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            self.returncode = -1


class _OwnChild(_Polled):
    """A host forked from this process."""

    def __init__(self, pid: int):
        self._pid = pid

    @property
    def pid(self) -> int:
        return self._pid

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
            else:
                if done:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def _signal(self, number: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, number)
            except ProcessLookupError:
                pass


class PackHost:
    """`ptc/pack_host.py` for one interpreter: imports the policy SDK once, forks a child per pack."""

    def __init__(self, python: str, *, fork: bool = False):
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._pending: deque[_ForkedPack] = deque()
        self.process: Any
        if fork:
            # This process has imported the SDK already: fork the host from it instead of starting an interpreter
            # that imports it all again (~0.25 s of CPU, on the cores the program needs).
            pid = os.fork()
            if pid == 0:
                self._sock.close()
                from .pack_host import become_host

                become_host(theirs)  # never returns
            self.process = _OwnChild(pid)
        else:
            self.process = subprocess.Popen(
                [python, "-u", str(Path(__file__).with_name("pack_host.py"))],
                pass_fds=[theirs.fileno()],
                env={**os.environ, "PTC_PACK_HOST_FD": str(theirs.fileno())},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        theirs.close()

    def spawn(self, argv: list[str], *, cwd: Path, env: dict[str, str]) -> _ForkedPack:
        """Ask for a fork and return at once: the host may still be importing the SDK."""
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            with self._lock:
                socket.send_fds(
                    self._sock, [json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode()], [out_w, err_w]
                )
                pack = _ForkedPack(self, os.fdopen(out_r, "r"), os.fdopen(err_r, "r"))
                self._pending.append(pack)
        finally:
            os.close(out_w)
            os.close(err_w)
        return pack

    def receive(self) -> None:
        """The host's next answer: the pid of the oldest pack still waiting for one."""
        with self._lock:
            if not self._pending:
                return
            reply = self._sock.recv(4096)
            pack = self._pending.popleft()
            pack._pid = json.loads(reply)["pid"] if reply else -1
            if not reply:
                pack.returncode = -1

    def close(self) -> None:
        self._sock.close()
        stop(self.process)


def stop(process: Any, timeout: float = 5) -> None:
    """Terminate a process (or a forked pack), and kill it if it has not gone within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


_HOSTS: dict[str, PackHost] = {}
_HOSTS_LOCK = threading.Lock()


_FORK_HERE = False
"""Set by the `ptc` console entry: this is a fresh process that has made no gRPC channel, server or thread yet."""


def fork_host_from_here() -> None:
    """Let the first host of this interpreter be forked from this process (see `start_hosts`).

    Only a fresh `ptc` process may: gRPC's core keeps threads once a channel or server exists, and a process forked
    after that cannot run gRPC safely. Library callers (tests, benchmarks) get a host started as its own process.
    """
    global _FORK_HERE
    _FORK_HERE = threading.active_count() == 1


def may_fork_here() -> bool:
    """Whether this process may still fork a helper that runs gRPC (`fork_host_from_here`, one thread)."""
    return _FORK_HERE and threading.active_count() == 1


def forked_elsewhere() -> None:
    """Another process (the pack relay) forks the hosts now: none is forked from this one."""
    global _FORK_HERE
    _FORK_HERE = False


def _host(python: str) -> PackHost | None:
    """The pack host of an interpreter, started on first use and kept for every later stack (`--all`)."""
    global _FORK_HERE
    if not hasattr(os, "fork") or os.environ.get("PTC_PACK_HOST", "1") == "0":
        return None
    with _HOSTS_LOCK:
        host = _HOSTS.get(python)
        if host is None or host.process.poll() is not None:
            fork, _FORK_HERE = _FORK_HERE and python == sys.executable and threading.active_count() == 1, False
            host = _HOSTS[python] = PackHost(python, fork=fork)
            if len(_HOSTS) == 1:
                atexit.register(_close_hosts)
        return host


def _close_hosts() -> None:
    with _HOSTS_LOCK:
        for host in _HOSTS.values():
            host.close()
        _HOSTS.clear()


def launch(python: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> Any:
    """Start `python -u -m pulumi.policy <argv>` in `cwd` with `env`: forked by the pack host where it can be,
    else as a new process (PTC_PACK_HOST=0 forces that)."""
    host = _host(python)
    if host is not None:
        try:
            return host.spawn(argv, cwd=cwd, env=env)
        except OSError:
            pass  # the host is gone: start the pack the plain way
    process = subprocess.Popen(
        _ending_with_this_process([python, "-u", "-m", "pulumi.policy", *argv]),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from .pack_host import yield_to_the_program

    yield_to_the_program(process.pid)  # as a forked pack has its host's niceness, from any thread, on any POSIX
    return process


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_SET_PDEATHSIG_THEN_EXEC = (
    "import os, sys\n"
    "try:\n"
    "    import ctypes\n"
    f"    ctypes.CDLL(None, use_errno=True).prctl({_PR_SET_PDEATHSIG}, {int(signal.SIGTERM)})\n"
    "except (ImportError, OSError, AttributeError):\n"
    "    pass\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
"""Run as `python -I -S -c`: ask the kernel for SIGTERM at the parent's death, then become the command."""


def _ending_with_this_process(command: list[str]) -> list[str]:
    """`command`, started so that the kernel sends it SIGTERM when this process dies, even by SIGKILL (no atexit,
    no `stop`), as a forked pack ends with its host: PR_SET_PDEATHSIG, which exec keeps (prctl(2)).

    The call is made by a small Python that then execs the command, not in a `preexec_fn`: a preexec_fn makes
    `subprocess` fork this whole process and run Python in the child, which the Python docs call "NOT SAFE to use
    in the presence of threads" (the child may deadlock before exec), and here gRPC's threads run (the engine
    server, the other packs' channels): its fork handlers are skipped ("Other threads are currently calling into
    gRPC") and the child died before exec now and then ("epoll_wait error: Bad file descriptor"). Without a
    preexec_fn, `subprocess` uses vfork, which runs no fork handler. The wrapper costs a `python -I -S` start
    (about 10 ms).

    Linux only, and only from the main thread: PR_SET_PDEATHSIG fires when the *thread* that started the child
    ends, and a worker thread may end long before the pack should."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return command
    return [command[0], "-I", "-S", "-c", _SET_PDEATHSIG_THEN_EXEC, str(os.getpid()), *command]


_SELECTED: list[Path] | None = None
"""The packs `--policy-pack` named (None: the project's own); forked relays and hosts inherit it."""


def select_packs(dirs: list[Path]) -> None:
    """Run exactly these packs, as `pulumi preview --policy-pack DIR ...` runs exactly the packs it is given."""
    global _SELECTED
    _SELECTED = [d.resolve() for d in dirs]


def pack_dirs(project_dir: Path) -> list[Path]:
    """The packs to run: those `--policy-pack` named, else the project's (folders of `policies/` with a
    PulumiPolicy.yaml), else the ones installed with this tool."""
    if _SELECTED is not None:
        return list(_SELECTED)
    own = sorted(p.parent for p in (project_dir / "policies").glob("*/PulumiPolicy.yaml"))
    return own or installed_packs()


INSTALLED_PACKS = ("conventions", "security")
"""The packs the wheel ships (`ecr_pull_through_cache.packs.<pack>`, pyproject.toml)."""


def installed_packs() -> list[Path]:
    """The packs that came with this tool, for projects without packs of their own (`policies/*`): in the wheel,
    `ecr_pull_through_cache/packs/<pack>`; in a clone (installed editable), `policies/<pack>` beside `components/`."""
    import ecr_pull_through_cache

    library = Path(ecr_pull_through_cache.__file__).resolve().parent
    found = []
    for name in INSTALLED_PACKS:
        for candidate in (library / "packs" / name, library.parent / "policies" / name):
            if (candidate / "PulumiPolicy.yaml").is_file():
                found.append(candidate)
                break
    return found


def start_hosts(project_dir: Path) -> None:
    """Start the pack host of every interpreter the project's packs use, ahead of the first pack."""
    for pack_dir in pack_dirs(project_dir):
        _host(pack_python(pack_dir.resolve()))
    from . import timing

    timing.mark("host started")
