"""Where `ptc preview` talks to its policy packs: a process of its own beside the program's.

On two cores the program's process is the critical path of a preview: it runs the program, and every `Analyze`
the packs answer was a gRPC call made from it (about 0.3 ms of its CPU each, two per resource, 0.3 s at 50
upstreams) while the second core idled a third of the time. The relay, forked from `ptc` once the SDK is imported
(and before any gRPC object exists), makes those calls instead: the program's process hands each registration
over as bytes, and reads the violations back at the end.

The relay runs `PolicyPacks` and `Analysis` (`ptc.analyzer`) unchanged, so what the packs are sent and answer is
what they would be sent and answer in-process; it starts the packs (`pack_launch.launch`).
A process that cannot fork a relay (a library caller that has made gRPC objects, a system without `fork`) runs
the packs in-process: `preview` asks `packs_for` which it gets.

Protocol, over a stream socket pair: length-prefixed pickles (the relay is this program's own fork; nothing else
holds the socket).
    ptc to relay:  ("open", sid, pack dirs, StackConfig)   ("stream", sid, policy config)
                   ("add", sid, urn, RegisterResourceRequest bytes)   ("end", sid, urns or None)   ("close", sid)
    relay to ptc:  ("done", sid, violations, packs)   ("failed", sid, "PolicyPackError" | "PolicyConfigError", message)
When ptc closes its end (or dies: the kernel closes it), the relay closes every pack and its host, and leaves.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import struct
import threading
from pathlib import Path
from typing import Any

from .analyzer import Analysis, PolicyConfigError, PolicyPackError, PolicyPacks
from .mock_engine import Registration
from .stack_config import StackConfig

_HEADER = struct.Struct("!I")
_FAILURES: dict[str, type[Exception]] = {"PolicyPackError": PolicyPackError, "PolicyConfigError": PolicyConfigError}


def _send(sock: socket.socket, lock: threading.Lock, message: tuple[Any, ...]) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:
        sock.sendall(_HEADER.pack(len(data)) + data)


def _receive(stream: Any) -> tuple[Any, ...] | None:
    """The next message, or None once the other end has closed (or died: a peer killed with our data unread
    resets the connection)."""
    try:
        header = stream.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(header)
        data = stream.read(size)
    except OSError:
        return None
    if len(data) < size:
        return None
    message: tuple[Any, ...] = pickle.loads(data)
    return message


class Relay:
    """ptc's end: the relay process, and the stacks opened in it."""

    def __init__(self) -> None:
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            self._sock.close()
            _become_relay(theirs)  # never returns
        theirs.close()
        self.pid = pid
        self._lock = threading.Lock()
        self._replies = self._sock.makefile("rb")
        self._next = 0
        self.packs_ran: dict[int, list[str]] = {}
        """Per stack, `<name>@<version>` of each pack that analyzed it."""

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            _send(self._sock, self._lock, message)
        except OSError:
            pass  # the relay is gone: `wait` reports it

    def open(self, dirs: list[Path], config: StackConfig) -> RelayedPacks:
        sid, self._next = self._next, self._next + 1
        self.send(("open", sid, [str(d) for d in dirs], config))
        return RelayedPacks(self, sid)

    def wait(self, sid: int) -> list[dict[str, Any]]:
        """The violations of stack `sid` (stacks are previewed one at a time, so no other answer is pending)."""
        while (reply := _receive(self._replies)) is not None:
            kind, answered = reply[0], reply[1]
            if answered != sid:
                continue
            if kind == "done":
                violations: list[dict[str, Any]] = reply[2]
                self.packs_ran[sid] = list(reply[3])
                return violations
            raise _FAILURES.get(reply[2], PolicyPackError)(reply[3])
        raise PolicyPackError("the process that runs the policy packs stopped before they answered")

    def close(self) -> None:
        """Close ptc's end: the relay closes the packs and leaves on its own (no wait here)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pass


class RelayedPacks:
    """One stack's packs in the relay: what `preview` uses of `PolicyPacks`."""

    def __init__(self, relay: Relay, sid: int):
        self._relay, self._sid = relay, sid

    def stream(self, policy_config: dict[str, Any] | None = None) -> RelayedAnalysis:
        self._relay.send(("stream", self._sid, policy_config or {}))
        return RelayedAnalysis(self._relay, self._sid)

    def close(self) -> None:
        self._relay.send(("close", self._sid))


class RelayedAnalysis:
    """What `preview` uses of `Analysis`, answered by the relay's."""

    def __init__(self, relay: Relay, sid: int):
        self._relay, self._sid = relay, sid

    def add(self, resource: Registration) -> None:
        """Called for each registration, from the SDK's threads: one message, the request as the engine got it."""
        self._relay.send(("add", self._sid, resource.urn, resource.request.SerializeToString()))

    def end(self, resources: list[Registration] | None) -> None:
        self._relay.send(("end", self._sid, None if resources is None else [r.urn for r in resources]))

    def violations(self) -> list[dict[str, Any]]:
        return self._relay.wait(self._sid)

    def packs_ran(self) -> list[str]:
        """After `violations`: `<name>@<version>` of each pack that analyzed the stack."""
        return self._relay.packs_ran.get(self._sid, [])


_RELAY: Relay | None = None


def start(project_dir: Path) -> None:
    """Fork the relay, if this process may fork one (`pack_launch.mark_fresh_process`) and the project has packs."""
    global _RELAY
    from . import pack_launch

    if (
        _RELAY is not None
        or os.environ.get("PTC_PACK_RELAY", "1") == "0"  # packs called from this process (as library callers do)
        or not pack_launch.may_fork_here()
        or not pack_launch.pack_dirs(project_dir)
    ):
        return
    import atexit

    from . import timing

    _RELAY = Relay()
    pack_launch.forked_elsewhere()
    atexit.register(_RELAY.close)
    timing.mark("relay started")


def packs_for(dirs: list[Path], config: StackConfig) -> PolicyPacks | RelayedPacks:
    """One stack's packs: in the relay when there is one, else in this process."""
    if _RELAY is not None:
        return _RELAY.open(dirs, config)
    return PolicyPacks(dirs, config, dry_run=True)


def _registration(urn: str, request_bytes: bytes) -> Registration:
    from pulumi.runtime.proto import resource_pb2

    request = resource_pb2.RegisterResourceRequest.FromString(request_bytes)
    return Registration(
        urn=urn, type=request.type, name=request.name, custom=request.custom, parent=request.parent, request=request
    )


def _streams_to_devnull() -> None:
    """The relay writes nothing to ptc's streams (no traceback, so no secret, can reach them): stdin, stdout and
    stderr become /dev/null; it answers through its socket."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _become_relay(sock: socket.socket) -> None:
    """In the child forked from `ptc`: serve until ptc closes its end; never return."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # ptc handles ^C and then closes its end
        _streams_to_devnull()
        _serve(sock)
    except BaseException:  # noqa: BLE001 - nothing to report to; ptc sees the socket close
        code = 1
    finally:
        os._exit(code)


def _serve(sock: socket.socket) -> None:
    lock = threading.Lock()
    stacks: dict[int, PolicyPacks] = {}
    opened: dict[int, BaseException] = {}
    analyses: dict[int, Analysis] = {}
    registered: dict[int, dict[str, Registration]] = {}

    def answer(sid: int) -> None:
        try:
            if sid in opened:
                raise opened[sid]
            found = analyses[sid].violations()
            ran = analyses[sid].packs_ran()
        except (PolicyPackError, PolicyConfigError) as exc:
            _send(sock, lock, ("failed", sid, type(exc).__name__, str(exc)))
        except Exception as exc:  # noqa: BLE001 - its message could quote a secret: only its type is told
            _send(sock, lock, ("failed", sid, "PolicyPackError", f"the policy packs failed ({type(exc).__name__})"))
        else:
            _send(sock, lock, ("done", sid, found, ran))

    stream = sock.makefile("rb")
    try:
        while (message := _receive(stream)) is not None:
            op, sid = message[0], message[1]
            if op == "add":
                if sid in analyses:
                    resource = _registration(message[2], message[3])
                    registered[sid][resource.urn] = resource
                    analyses[sid].add(resource)
            elif op == "open":
                try:
                    stacks[sid] = PolicyPacks([Path(d) for d in message[2]], message[3], dry_run=True)
                except Exception as exc:  # noqa: BLE001 - answered when the stack's violations are asked for
                    opened[sid] = exc
            elif op == "stream":
                registered[sid] = {}
                if sid in stacks:
                    analyses[sid] = stacks[sid].stream(message[2])
            elif op == "end":
                if sid in analyses:
                    urns = message[2]
                    analyses[sid].end(None if urns is None else [registered[sid][u] for u in urns])
                threading.Thread(target=answer, args=(sid,), daemon=True).start()
            elif op == "close":
                analyses.pop(sid, None)
                registered.pop(sid, None)
                packs = stacks.pop(sid, None)
                if packs is not None:
                    packs.close()
    finally:
        for packs in stacks.values():
            packs.close()
