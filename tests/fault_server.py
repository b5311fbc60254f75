"""A fault-injecting AWS endpoint for `ptc verify` and `ptc reconcile` (issue 31, item 7).

STS answers who is calling (moto's default account); every ECR call gets the answer `fault` gives: a JSON
document of any shape, throttling, a server error, a truncated body, or text that is not JSON. The server
counts the calls it answered, so a test can wait on the event (a call arrived) instead of the clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.aws_support import ACCOUNT

IDENTITY = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    f"<Arn>arn:aws:iam::{ACCOUNT}:user/ci</Arn><UserId>AIDA</UserId><Account>{ACCOUNT}</Account>"
    "</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
    "</GetCallerIdentityResponse>"
)


class Answer:
    """What the server sends for one ECR operation."""

    def __init__(self, status: int = 200, body: Any = None, raw: bytes | None = None, truncate: bool = False):
        self.status, self.body, self.raw, self.truncate = status, body, raw, truncate

    @classmethod
    def throttled(cls) -> Answer:
        return cls(400, {"__type": "ThrottlingException", "message": "Rate exceeded"})

    @classmethod
    def unavailable(cls) -> Answer:
        return cls(503, {"__type": "ServiceUnavailableException", "message": "try later"})


Fault = Callable[[str, dict[str, Any]], Answer]
"""(ECR operation name, request document) -> the answer."""


@contextmanager
def fault_server(fault: Fault) -> Iterator[tuple[str, list[str]]]:
    """Yields the endpoint URL and the list of ECR operations answered so far."""
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            request = self.rfile.read(length)
            target = self.headers.get("X-Amz-Target", "")
            if not target:  # STS, query protocol
                self._send(200, IDENTITY.encode(), "text/xml")
                return
            operation = target.rsplit(".", 1)[-1]
            calls.append(operation)
            answer = fault(operation, json.loads(request or b"{}"))
            body = answer.raw if answer.raw is not None else json.dumps(answer.body or {}).encode()
            self._send(answer.status, body, "application/x-amz-json-1.1", truncate=answer.truncate)

        def _send(self, status: int, body: bytes, kind: str, truncate: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body) * 2 if truncate else len(body)))
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            if truncate:
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


class Gate:
    """Holds every ECR call after the first one `after` names, until the test opens it."""

    def __init__(self, after: str) -> None:
        self.after = after
        self.reached = threading.Event()
        self.open = threading.Event()


@contextmanager
def gated_proxy(target: str, gate: Gate) -> Iterator[str]:
    """Forwards every call to `target` (moto server) unchanged; once a call to `gate.after` has been answered,
    the following ECR calls wait for `gate.open`. A test can then act while the client is known to be mid-run,
    and let it go on when it has seen the client react: events, not clocks."""
    import urllib.error
    import urllib.request

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
            if operation and gate.reached.is_set():
                gate.open.wait()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            request = urllib.request.Request(target + self.path, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request) as answer:
                    status, payload, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
            except urllib.error.HTTPError as error:
                status, payload, kind = error.code, error.read(), error.headers.get("Content-Type", "")
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            if operation == gate.after:
                gate.reached.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        gate.open.set()
        server.shutdown()
        server.server_close()
