"""AWS test helpers: the stack outputs a deployed cache would print, and moto.server as a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ecr_pull_through_cache.lifecycle import default_lifecycle_policy

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-2"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def template(**overrides: Any) -> dict[str, Any]:
    settings = {
        "image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
        "image_tag_mutability_exclusion_filters": ["latest"],
        "lifecycle_policy": default_lifecycle_policy(),
        "encryption_type": "AES256",
        "kms_key_arn": None,
        "resource_tags": {"environment": "dev", "team": "platform"},
        "applied_for": ["PULL_THROUGH_CACHE"],
        "scan_on_push": True,
        "repository_policy": None,
    }
    settings.update(overrides)
    return settings


def upstream(kind: str, url: str, prefix: str, credential_arn: str | None = None, **extra: Any) -> dict[str, Any]:
    role, upstream_prefix = extra.pop("custom_role_arn", None), extra.pop("upstream_prefix", None)
    return {
        "kind": kind,
        "upstream_url": url,
        "cache_uri": f"{REGISTRY}/{prefix}",
        "credential_arn": credential_arn,
        "custom_role_arn": role,
        "upstream_prefix": upstream_prefix,
        "template": template(**extra),
    }


def outputs(upstreams: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"registry_url": REGISTRY, "upstreams": upstreams}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """`python -m moto.server` on 127.0.0.1 and a free port; yields its endpoint URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto.server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def dumps(document: dict) -> str:
    return json.dumps(document)
