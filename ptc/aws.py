"""boto3 clients for the AWS-facing verbs: standard retry mode, one endpoint, and a call counter."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

RETRIES = {"mode": "standard", "max_attempts": 10}
"""botocore's standard retry mode: exponential backoff with jitter on throttling and transient errors."""


@dataclass
class CallCounter:
    """Counts API calls per operation (retries included), thread-safely."""

    calls: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event_name: str, **_: Any) -> None:
        operation = event_name.split(".")[-1]
        with self.lock:
            self.calls[operation] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class Aws:
    """Clients for one region (and optionally one endpoint, such as moto.server or a VPC endpoint)."""

    def __init__(self, region: str | None = None, endpoint_url: str | None = None, max_pool: int = 16):
        self.session = boto3.session.Session(region_name=region)
        self.endpoint_url = endpoint_url
        self.config = Config(retries=RETRIES, max_pool_connections=max_pool)
        self.counter = CallCounter()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str | None:
        return self.session.region_name

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self.session.client(service, endpoint_url=self.endpoint_url, config=self.config)
                client.meta.events.register("before-send.*.*", self.counter)
                self._clients[service] = client
            return self._clients[service]


def error_code(exc: Exception) -> str:
    """The AWS error code of a failed call (or the exception's type for network and client-side errors)."""
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__


def error_message(exc: Exception) -> str:
    """`Code: Message` of a failed AWS call, for a report line."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', str(exc))}"
    return str(exc)
