"""boto3 clients for the AWS-facing verbs: standard retry mode, one endpoint, and a call counter."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
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
DEFAULT_DEADLINE = 600
"""Seconds a verb may spend asking AWS (`--deadline`). Checked before every attempt and every retry, so under
sustained throttling or 5xx a verb ends at most one backoff (botocore's standard mode caps it at 20 s) and one
read timeout (30 s) after it; what was not checked by then is reported as not checked."""

SHAPE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError)
"""What reading an AWS answer of the wrong shape raises: botocore's JSON parser does not check the answer against
the model (a truncated body parses as `{"message": ...}`), so a missing or mistyped field surfaces here."""


class DeadlineExceeded(BotoCoreError):  # type: ignore[misc]  # botocore ships no type hints
    """The verb's deadline passed: no further call is sent."""

    fmt = "not asked: the deadline of {seconds} s passed (--deadline)"


def unanswered(exc: Exception) -> bool:
    """Whether a failed call says nothing about the resource: the deadline, the network, a malformed answer, or
    throttling and server errors that outlasted botocore's retries (its standard mode's own throttling codes).
    Anything else (AccessDenied, ResourceNotFound) is AWS's answer, and a finding."""
    if isinstance(exc, (BotoCoreError, *SHAPE_ERRORS)):
        return True
    if isinstance(exc, ClientError):
        from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        context = RetryContext(attempt_number=1, parsed_response=exc.response)
        return status == 429 or status >= 500 or ThrottledRetryableChecker().is_retryable(context)
    return False


def could_not_check(exc: Exception) -> str:
    """One line for an answer that could not be used, naming no value from it (it may be a secret's)."""
    if isinstance(exc, DeadlineExceeded):
        return str(exc)
    if isinstance(exc, SHAPE_ERRORS):
        return f"could not check: AWS's answer had an unexpected shape ({type(exc).__name__})"
    return f"could not check: {error_message(exc)}"


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

    def __init__(
        self,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_pool: int = 16,
        deadline: float = DEFAULT_DEADLINE,
    ):
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
        self.deadline_seconds = deadline
        self.deadline = time.monotonic() + deadline
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def region(self) -> str | None:
        region: str | None = self.session.region_name
        return region

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self.session.client(service, endpoint_url=self.endpoint_url, config=self.config)
                self.watch(client)
                self._clients[service] = client
            return self._clients[service]

    def watch(self, client: Any) -> None:
        """Count the client's calls and hold them to the deadline, before each attempt and each retry."""
        client.meta.events.register("before-send.*.*", self.counter)
        client.meta.events.register_first("before-send.*.*", self.check_deadline)
        client.meta.events.register_first("needs-retry.*.*", self.check_deadline_before_retry)

    @contextmanager
    def finishing(self) -> Iterator[None]:
        """Calls made inside are exempt from the deadline: the writes of a repository already begun."""
        self._local.finishing = True
        try:
            yield
        finally:
            self._local.finishing = False

    def check_deadline(self, **_: Any) -> None:
        if time.monotonic() > self.deadline and not getattr(self._local, "finishing", False):
            raise DeadlineExceeded(seconds=f"{self.deadline_seconds:g}")

    def check_deadline_before_retry(
        self, response: Any = None, caught_exception: Exception | None = None, **_: Any
    ) -> None:
        """A failed attempt past the deadline is not retried; an answer that came in time is kept."""
        failed = caught_exception is not None or (
            response is not None and getattr(response[0], "status_code", 200) >= 400
        )
        if failed:
            self.check_deadline()

    @property
    def past_deadline(self) -> bool:
        return time.monotonic() > self.deadline


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
        aws.watch(sts)
        caller = sts.get_caller_identity()["Account"]
        if not isinstance(caller, str):
            raise TypeError("Account")
    except NoCredentialsError:
        raise CouldNotCheck("no AWS credentials found (environment, profile or instance role)") from None
    except (ClientError, BotoCoreError, *SHAPE_ERRORS) as exc:
        raise CouldNotCheck(f"cannot ask AWS who is calling: {could_not_check(exc)}") from None
    if aws.region and aws.region != region:
        raise InvalidInput(f"the outputs describe a registry in {region}, but the clients use {aws.region}")
    if caller != account and allow_account != caller:
        raise InvalidInput(
            f"the outputs describe the registry of account {account}, but these credentials are "
            f"account {caller}'s: every call would go to {caller}'s registry. Use credentials of "
            f"{account}, or pass --account {caller} to act on {caller}'s registry on purpose."
        )
    return caller
