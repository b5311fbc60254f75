"""Which resources the conventions apply to, and safe reads of their raw properties."""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from ptc_policy_support.reading import get, has, label
from ptc_policy_support.unknowns import Unknowns

__all__ = ["Unknowns", "get", "has", "label"]  # shared (policies/pack-support): imported from here

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
