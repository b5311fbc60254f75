"""How policy packs run: each as its own `python -m pulumi.policy` process, in the pack's virtualenv when it has
one, as the Pulumi CLI starts it (pkg/resource/plugin/analyzer_plugin.go); and which packs run.

A pack host that forked packs from a process with the SDK imported was measured and removed: it bought nothing on
the 50-upstream preview (benchmarks/LAYERS.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any


def pack_python(pack_dir: Path) -> str:
    """The pack's own virtualenv (`runtime.options.virtualenv: venv`, made by `make packs`) when it exists,
    as the CLI would use it; otherwise this interpreter, which has the same pinned pulumi-policy."""
    own = pack_dir / "venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def stop(process: Any, timeout: float = 5) -> None:
    """Terminate a pack's process, and kill it if it has not gone within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


_FORK_HERE = False
"""Set by the `ptc` console entry: this is a fresh process that has made no gRPC channel, server or thread yet."""


def mark_fresh_process() -> None:
    """Let the pack relay be forked from this process (`pack_relay.start`).

    Only a fresh `ptc` process may: gRPC's core keeps threads once a channel or server exists, and a process forked
    after that cannot run gRPC safely. Library callers (tests, benchmarks) call the packs from their own process.
    """
    global _FORK_HERE
    _FORK_HERE = threading.active_count() == 1


def may_fork_here() -> bool:
    """Whether this process may still fork a helper that runs gRPC (`mark_fresh_process`, one thread)."""
    return _FORK_HERE and threading.active_count() == 1


def forked_elsewhere() -> None:
    """The relay is forked: no other helper is forked from this process."""
    global _FORK_HERE
    _FORK_HERE = False


def launch(python: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> Any:
    """Start `python -u -m pulumi.policy <argv>` in `cwd` with `env`, ending when this process ends."""
    return subprocess.Popen(
        _ending_with_this_process([python, "-u", "-m", "pulumi.policy", *argv]),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


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
    no `stop`), as the CLI's plugins end with the engine: PR_SET_PDEATHSIG, which exec keeps (prctl(2)).

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
"""The packs `--policy-pack` named (None: the project's own); the forked relay inherits it."""


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
