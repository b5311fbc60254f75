"""Which resources the conventions apply to, and safe reads of their raw properties."""

import contextlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pulumi
from ptc_policy_support.reading import get, has, label
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

__all__ = ["get", "has", "label"]  # the shared readers, for this pack's modules to import from one place

SECRET = "aws:secretsmanager/secret:Secret"
ROLE = "aws:iam/role:Role"
RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
COMPONENT_TYPES = "ecr-pull-through-cache:index:"
SECRET_PREFIX = "ecr-pullthroughcache/"
ECR_SERVICES = ("ecr.amazonaws.com", "pullthroughcache.ecr.amazonaws.com")
TAGGABLE = {SECRET, ROLE, "aws:iam/policy:Policy", "aws:kms/key:Key"}

PREFIX = re.compile(r"([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*\/?|ROOT)", re.ASCII)
"""ECR's prefix pattern; match it with `fullmatch` (a `$` would admit a trailing newline)."""


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]


class Unknowns:
    """Check what is known, then report the checks that wait for apply as one "can't run during preview" note."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except UnknownValueError as exc:
            self.skipped.append(f"{what} .{'.'.join(exc.props)}")

    def finish(self) -> None:
        if self.skipped:
            error = UnknownValueError(UNKNOWN_STRING_VALUE, [])
            error.message = (
                f"{len(self.skipped)} check(s) need values known only after apply: {'; '.join(self.skipped)}"
            )
            raise error


def in_scope(resource_type: str, urn: str, props: Mapping[str, Any]) -> bool:
    """Resources of ECR pull through caches, however they were written.

    Children of this project's components; rules and templates; secrets under the ECR prefix or
    tagged ptc:upstream; roles trusted by ECR.
    """
    if COMPONENT_TYPES in urn.rsplit("::", 1)[0] or resource_type in (RULE, TEMPLATE):
        return True
    if resource_type == SECRET:
        if get(get(props, "tags") or {}, "ptc:upstream") is not None:
            return True
        return any(
            isinstance(get(props, k), str) and get(props, k).startswith(SECRET_PREFIX) for k in ("name", "namePrefix")
        )
    if resource_type == ROLE:
        trust = get(props, "assumeRolePolicy")
        text = trust if isinstance(trust, str) else json.dumps(trust or {}, default=str)
        return any(f'"{service}"' in text for service in ECR_SERVICES)
    return False


def environment_of() -> str:
    """The stack's environment: the project's `environment` setting, else the stack name. Never a resource's own
    tag, which any resource could spell `Prod` or `dev`."""
    return pulumi.Config("ecr-pull-through-cache").get("environment") or pulumi.get_stack()


def policy_lifecycle_rules(text: Any) -> list:
    try:
        document = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return []
    rules = document.get("rules") if isinstance(document, dict) else None
    return rules if isinstance(rules, list) else []
