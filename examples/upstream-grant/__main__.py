"""The upstream registry's registry policy: every cache stack's grant for it, merged with its own statements.

Each cache stack (ecr-pull-through-cache with an `ecr` upstream pointing here) exports `upstream_grants`;
this stack reads them through StackReferences and applies the one registry policy this registry has.
"""

import json

import pulumi
import pulumi_aws as aws

from ecr_pull_through_cache.upstream_grant import UpstreamGrant

config = pulumi.Config()
identity = aws.get_caller_identity()
partition = aws.get_partition()
region = aws.get_region().region
registry = f"{identity.account_id}.dkr.ecr.{region}.{partition.dns_suffix}"

stacks = config.require_object("cacheStacks")
grants = [pulumi.StackReference(stack).require_output("upstream_grants") for stack in stacks]


def combined(each: list[dict[str, str]]) -> dict[str, str]:
    """One grant per registry host, with the statements of every cache stack."""
    merged: dict[str, list] = {}
    for outputs in each:
        for host, text in (outputs or {}).items():
            merged.setdefault(host, []).extend(json.loads(text)["Statement"])
    return {host: json.dumps({"Version": "2012-10-17", "Statement": s}) for host, s in merged.items()}


grant = UpstreamGrant(
    "upstream",
    {
        "grants": pulumi.Output.all(*grants).apply(combined),
        "registry": registry,
        "statements": json.dumps(config.get_object("statements") or []),
    },
)

pulumi.export("registry_policy", grant.policy)
