"""One process that imports the policy SDK once and forks a child per policy pack.

The Pulumi CLI starts each pack as `python -m pulumi.policy <engine> <pack dir>`: a new interpreter that imports
pulumi, grpc and protobuf before the pack's first line (~0.25 s of CPU). `ptc preview` starts two packs per stack,
and `--all` two per stack again, all while its own program runs on the same cores. The host pays for the imports
once; each child it forks then runs `pulumi.policy`'s own entry point unchanged, with the environment, working
directory, arguments and standard streams the CLI would give it, so the pack runs exactly as it would alone.

Protocol, over a Unix SOCK_SEQPACKET pair (message boundaries kept): ptc sends one JSON message per pack
({"argv", "env", "cwd"}) with the write ends of the child's stdout and stderr pipes attached (SCM_RIGHTS); the
host answers {"pid": N}. ptc reads the port from the pipe as it would from a subprocess, and ends a child with a
signal. The host leads a process group of its own with its packs: when ptc closes its end of the socket, or dies
(the kernel closes it then), or stops the host, the host ends every pack still running before it leaves.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sys
from typing import Any

HOST_FD_ENV = "PTC_PACK_HOST_FD"
_forked_from_ptc = False
"""True in a host forked from `ptc` itself (`become_host`) and in the packs it forks."""


NICE_ENV = "PTC_PACK_NICE"
DEFAULT_NICE = 10
"""The niceness the relay, the pack hosts and their packs run at (`PTC_PACK_NICE`, 0-19; 0 keeps ptc's own)."""


def yield_to_the_program(pid: int = 0) -> None:
    """Run this process (or the child `pid`), and what it forks, at a lower CPU priority than `ptc`'s, so the program
    gets the cores.

    `ptc`'s program run is the critical path of a preview: its CPU time is its wall time, while the packs analyze
    each resource as it arrives and keep up with the program with time to spare. On two cores the packs (3 of the
    4 busy processes) otherwise take the scheduler's fair share from the program. Measured on 2 cores, medians
    of interleaved A/B runs (nice 0 / nice 10; 7, 15 and 15 repetitions): 5 upstreams 0.46/0.46, 0.56/0.51,
    0.42/0.40 s; 50 upstreams 1.14/1.17, 1.23/1.14, 1.01/0.94 s: a small gain (0-8 %) that the ratio 50/5 does
    not show (2.2-2.6x either way), since the program, not the packs, sets it. Nice 19 was no better than 10.
    The niceness is set absolutely, never lowered (an unprivileged process cannot raise its priority back); children
    inherit it and keep it across exec, and a process may lower the priority of its own children (setpriority(2)).
    On a machine busy with other work the packs then wait longer for the cores: `PTC_PACK_NICE=0` keeps them at
    ptc's priority.
    """
    wanted = pack_niceness()
    try:
        current = os.getpriority(os.PRIO_PROCESS, pid)
        if wanted > current:
            os.setpriority(os.PRIO_PROCESS, pid, wanted)
    except (AttributeError, OSError):
        pass  # no priorities here (not POSIX), not allowed, or the child already gone: nothing to yield


def pack_niceness() -> int:
    """`PTC_PACK_NICE` as a niceness (0-19); the default where it is unset or not a number."""
    try:
        wanted = int(os.environ.get(NICE_ENV, DEFAULT_NICE))
    except ValueError:
        wanted = DEFAULT_NICE
    return min(max(wanted, 0), 19)


def _preload() -> None:
    """What every pack imports first; importing creates no gRPC channel or thread, so forking after it is safe."""
    import google.protobuf  # noqa: F401
    import grpc  # noqa: F401
    import pulumi  # noqa: F401
    import pulumi.runtime  # noqa: F401
    import pulumi_policy  # noqa: F401
    from pulumi.runtime.proto import analyzer_pb2_grpc  # noqa: F401


def _child(request: dict[str, Any], out_fd: int, err_fd: int) -> None:
    """In the forked child: become `python -u -m pulumi.policy <engine> <pack dir>` and never return."""
    import runpy

    code = 1
    try:
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        # As `python -u`: unbuffered binary streams. The SDK writes the port to sys.stdout.buffer and never
        # flushes it, so a buffered stream here would hold it back.
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["pulumi.policy", *request["argv"]]
        # As `python -m` run in the pack's directory: that directory first on the path, not this file's.
        sys.path[0] = request["cwd"]
        if _forked_from_ptc:
            for name in [m for m in sys.modules if m.split(".", 1)[0] in LEFT_BEHIND]:
                del sys.modules[name]
        runpy.run_module("pulumi.policy", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report like the interpreter would, then leave
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _end_packs() -> None:
    """End every pack still running: the host leads a process group of its own, which holds only its packs."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the host itself leaves by returning, after its packs
    try:
        os.killpg(0, signal.SIGTERM)
    except OSError:
        pass


def _on_terminate(*_: object) -> None:
    _end_packs()
    os._exit(0)


def serve(sock: socket.socket) -> None:
    """Fork a pack per request until ptc closes its end (or dies: the kernel closes it then), then end the packs:
    none outlives the ptc that asked for it, even one killed with SIGKILL."""
    import gc

    try:
        os.setpgid(0, 0)
    except OSError:
        pass  # already a group leader (started so by hand): then the group is the host's anyway
    signal.signal(signal.SIGTERM, _on_terminate)
    yield_to_the_program()  # a host started on its own (spawned, or by hand) as the relay's are
    # What the host imported is shared, unchanged, by every pack it forks: kept out of their collections.
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    try:
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 2)
            except OSError:
                return
            if not message:
                return  # ptc closed its end, or has gone
            request = json.loads(message)
            out_fd, err_fd = fds
            # SIGTERM held back across the fork, so the child never runs the host's handler (`_child` resets it).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                sock.close()
                _child(request, out_fd, err_fd)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            os.close(out_fd)
            os.close(err_fd)
            sock.send(json.dumps({"pid": pid}).encode())
    finally:
        _end_packs()


def main() -> None:
    _preload()
    sock = socket.socket(fileno=int(os.environ[HOST_FD_ENV]))
    print("ready", flush=True)
    serve(sock)


LEFT_BEHIND = ("ptc", "ecr_pull_through_cache", "pulumi_aws", "rich", "boto3", "botocore", "jsonschema", "regex")
"""What a `ptc` process has imported and a fresh `python -m pulumi.policy` would not: dropped from a pack forked
by a host that was itself forked from `ptc`, so the pack imports them afresh if it imports them at all."""


def streams_to_devnull() -> None:
    """A helper forked from `ptc` writes nothing to ptc's streams (no traceback, so no secret, can reach them):
    stdin, stdout and stderr become /dev/null; it answers through its socket."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def become_host(sock: socket.socket) -> None:
    """In a child forked from `ptc` (the SDK imported, no gRPC object made): serve as the host, never return."""
    code = 0
    try:
        streams_to_devnull()  # as the spawned host
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        global _forked_from_ptc
        _forked_from_ptc = True
        _preload()
        serve(sock)
    except BaseException:  # noqa: BLE001 - nothing to report to: ptc sees the host gone and starts packs itself
        code = 1
    finally:
        os._exit(code)


if __name__ == "__main__":
    main()
