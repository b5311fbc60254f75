"""boto3 clients for the AWS-facing verbs: standard retry mode, one endpoint, and a call counter."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from .exits import (  # noqa: F401 - re-exported: the AWS verbs' outcomes
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_UNCHECKED,
    CouldNotCheck,
    InvalidInput,
)

RETRIES = {"mode": "standard", "max_attempts": 10}
"""botocore's standard retry mode: exponential backoff with jitter on throttling and transient errors."""
CONNECT_TIMEOUT, READ_TIMEOUT = 5, 30
"""A dead endpoint fails fast; a slow answer still gets time. The identity check runs first, with few retries,
so a verb against an unreachable endpoint stops after one bounded call instead of minutes of retries."""
IDENTITY_RETRIES = {"mode": "standard", "max_attempts": 2}


@dataclass
class CallCounter:
    """Counts API calls per operation (retries included), thread-safely."""

    calls: Counter[str] = field(default_factory=Counter)
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
        if endpoint_url is not None:
            parsed = urlparse(endpoint_url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise InvalidInput(
                    f"--endpoint-url {endpoint_url!r} is not an http(s) URL such as http://127.0.0.1:5000"
                )
        try:
            self.session = boto3.session.Session(region_name=region)
        except ProfileNotFound as exc:
            raise InvalidInput(f"{exc}: set AWS_PROFILE to a profile of ~/.aws/config, or unset it") from None
        self.endpoint_url = endpoint_url
        self.config = Config(
            retries=RETRIES, max_pool_connections=max_pool, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT
        )
        self.counter = CallCounter()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str | None:
        region: str | None = self.session.region_name
        return region

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


def confirm_identity(aws: Aws, account: str, region: str, allow_account: str | None = None) -> str:
    """The caller's account, after making sure it is the one the outputs describe.

    Without this, another account's outputs would be reported as that account while every read and write went to
    the caller's own registry. `allow_account` names the caller's account to act on it deliberately.
    """
    try:
        sts = aws.session.client(
            "sts", endpoint_url=aws.endpoint_url, config=aws.config.merge(Config(retries=IDENTITY_RETRIES))
        )
        sts.meta.events.register("before-send.*.*", aws.counter)
        caller: str = sts.get_caller_identity()["Account"]
    except NoCredentialsError:
        raise CouldNotCheck("no AWS credentials found (environment, profile or instance role)") from None
    except (ClientError, BotoCoreError) as exc:
        raise CouldNotCheck(f"cannot ask AWS who is calling: {error_message(exc)}") from None
    if aws.region and aws.region != region:
        raise InvalidInput(f"the outputs describe a registry in {region}, but the clients use {aws.region}")
    if caller != account and allow_account != caller:
        raise InvalidInput(
            f"the outputs describe the registry of account {account}, but these credentials are "
            f"account {caller}'s: every call would go to {caller}'s registry. Use credentials of "
            f"{account}, or pass --account {caller} to act on {caller}'s registry on purpose."
        )
    return caller
