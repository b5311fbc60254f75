"""Prefix, environment, secret-name and ARN rules as pure functions.

The patterns are copied from botocore's ECR model (`PullThroughCacheRuleRepositoryPrefix`,
`CredentialArn`) as the model spells them; `tests/test_naming.py` checks them against the
installed model so that a drift in AWS's rules fails the build.
"""

from __future__ import annotations

import re
from typing import NamedTuple

PREFIX_PATTERN = r"^([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)$"
PREFIX_MIN_LENGTH = 2
PREFIX_MAX_LENGTH = 30
ROOT = "ROOT"

CREDENTIAL_ARN_PATTERN = (
    r"^arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+$"
)
CREDENTIAL_ARN_MIN_LENGTH = 50
CREDENTIAL_ARN_MAX_LENGTH = 612
SECRET_NAME_PREFIX = "ecr-pullthroughcache/"
SECRET_NAME_CHARS = re.compile(r"^[a-zA-Z0-9/_+=.@-]{1,512}$", re.ASCII)

ENVIRONMENT_PATTERN = r"^[a-z0-9-]+$"
ENVIRONMENT_MAX_LENGTH = 16
"""Keeps every auto-named IAM role (`<env>-<prefix>-template-<7 chars>`) within IAM's 64 characters."""

RANDOM_SUFFIX_BYTES = 2
RANDOM_SUFFIX_LENGTH = 2 * RANDOM_SUFFIX_BYTES
"""`gitlab` becomes `gitlab-ef1b`, like the console's generated prefixes."""

# Patterns are matched with `fullmatch` (`$` alone admits a trailing newline) and ASCII classes.
_PREFIX = re.compile(PREFIX_PATTERN, re.ASCII)
_CREDENTIAL_ARN = re.compile(CREDENTIAL_ARN_PATTERN, re.ASCII)
_ENVIRONMENT = re.compile(ENVIRONMENT_PATTERN, re.ASCII)
_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z0-9-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>\d{12}|):(?P<resource>.+)$",
    re.ASCII,
)


def prefix_faults(prefix: str, *, allow_root: bool = False, reserve: int = 0) -> list[str]:
    """What is wrong with an ECR repository prefix, as sentences; empty when it is valid.

    `allow_root` admits `ROOT` (upstream prefixes of ECR upstreams). As a cache prefix ROOT is
    refused: AWS allows it for ECR upstreams, but it makes every repository of the registry a cache
    and needs pull permissions on `repository/*`. `reserve` characters are kept free for a suffix
    added later (the random prefix suffix).
    """
    if not isinstance(prefix, str) or not prefix:
        return ["must be a non-empty string such as 'docker-hub'"]
    faults = []
    limit = PREFIX_MAX_LENGTH - reserve
    if prefix == ROOT:
        if not allow_root:
            faults.append(
                "ROOT would make every repository of the registry a cache of this upstream and needs "
                "permissions on repository/*; give a named prefix such as 'mirror'"
            )
        return faults
    if not PREFIX_MIN_LENGTH <= len(prefix) <= limit:
        room = f"{limit} (the random suffix takes {reserve})" if reserve else str(limit)
        faults.append(f"'{prefix}' is {len(prefix)} characters; ECR allows {PREFIX_MIN_LENGTH} to {room}")
    if not _PREFIX.fullmatch(prefix):
        faults.append(
            f"'{prefix}' does not match ECR's prefix pattern: use lower-case letters and digits, "
            "separated by '.', '_', '__', '-' or '/', for example 'docker-hub' or 'mirrors/quay'"
        )
    return faults


def normalize_prefix(prefix: str) -> str:
    """ECR treats `x` and `x/` alike; keep the form without the trailing slash."""
    return prefix[:-1] if prefix.endswith("/") and prefix != "/" else prefix


def prefixes_overlap(a: str, b: str) -> bool:
    """True when one prefix is the other or a path under it (`team` and `team/hub`)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def slug(prefix: str) -> str:
    """A prefix as a resource-name fragment: `mirrors/quay` -> `mirrors-quay`."""
    return prefix.replace("/", "-")


def suffixed_prefix(prefix: str, suffix: str) -> str:
    return f"{prefix}-{suffix}"


def environment_faults(environment: object, *, arguments: bool = False) -> list[str]:
    """Why `environment` is not an environment name; `arguments`: said of a component's arguments, not the config."""
    if environment is None or environment == "":
        if arguments:
            return ["is required: give the environment's name, such as 'dev'"]
        return ["is required: set it with `pulumi config set environment dev`"]
    if not isinstance(environment, str):
        return [f"must be text such as 'dev', not {type(environment).__name__} {environment!r}; quote it"]
    faults = []
    if not _ENVIRONMENT.fullmatch(environment):
        faults.append(f"'{environment}' must use only lower-case letters, digits and '-' (for example 'dev')")
    if len(environment) > ENVIRONMENT_MAX_LENGTH:
        faults.append(
            f"'{environment}' is {len(environment)} characters; keep it to {ENVIRONMENT_MAX_LENGTH} so that "
            "generated IAM role names fit in 64 characters"
        )
    return faults


def secret_name_prefix(environment: str, prefix: str) -> str:
    """Name prefix of the secret for one upstream; AWS appends a unique suffix.

    The environment keeps stacks of one account apart, and the unique suffix lets a secret be
    re-created while its predecessor waits out Secrets Manager's recovery window.
    """
    return f"{SECRET_NAME_PREFIX}{environment}/{slug(prefix)}-"


def is_credential_arn(arn: str) -> bool:
    return (
        CREDENTIAL_ARN_MIN_LENGTH <= len(arn) <= CREDENTIAL_ARN_MAX_LENGTH
        and _CREDENTIAL_ARN.fullmatch(arn) is not None
    )


class Arn(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(value: str) -> Arn | None:
    match = _ARN.fullmatch(value) if isinstance(value, str) else None
    return Arn(**match.groupdict()) if match else None


def scanning_filter(prefix: str) -> str:
    """The narrowest registry scanning filter (WILDCARD) that covers every repository under `prefix`.

    ECR accepts prefixes with '__' and runs of '-' (its repository-name pattern), but a scanning filter allows one
    separator at a time: each longer run becomes '*', which matches it (`team__hub` -> `team*hub/*`). The filter then
    also covers names such as `teamXhub/...`: the narrowest ECR can express, and it misses nothing under the prefix.
    """
    return re.sub(r"[._-]{2,}", "*", prefix.rstrip("/")) + "/*"
