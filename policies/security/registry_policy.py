"""One registry policy per registry: ECR keeps one per account and region, and PutRegistryPolicy replaces it.

Two `aws:ecr/registryPolicy:RegistryPolicy` resources of one stack for the same account and region overwrite each
other on every `pulumi up`, each dropping the other's statements (ECR API reference, PutRegistryPolicy: "Creates or
updates the permissions policy for your registry"). The stack that owns the registry policy merges every statement
into one: consumers, grants (`upstream_grant_stacks`, or an UpstreamGrant alone in the upstream account) and extras
(`registry_policy_statements`). A pack sees one stack at a time: another stack of the same account and region that
writes the registry policy is beyond what it can see (the README says so).
"""

from ptc_policy_support.hardening import declare
from pulumi_policy import ReportViolation, StackValidationArgs

from credentials import region_of
from support import label

REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"


def owner_of(resource) -> tuple[str, str]:
    """(provider, region): the account and region a registry policy writes to, as far as the stack tells."""
    provider = resource.provider.urn if resource.provider is not None else "the default aws provider"
    return provider, str(region_of(resource) or "the stack's region")


def validate(args: StackValidationArgs, report: ReportViolation) -> None:
    seen: dict[tuple[str, str], object] = {}
    for resource in args.resources:
        if resource.resource_type != REGISTRY_POLICY:
            continue
        key = owner_of(resource)
        first = seen.setdefault(key, resource)
        if first is resource:
            continue
        report(
            f"The {label(resource.resource_type, resource.name)} writes the registry policy of {key[1]} that "
            f"{label(first.resource_type, first.name)} writes too: ECR keeps one policy per registry and "
            "PutRegistryPolicy replaces it, so each `pulumi up` drops the other's statements. Merge the statements "
            "into one resource (registry_policy_statements, upstream_grant_stacks).",
            resource.urn,
        )


POLICY = declare(
    "one-registry-policy",
    "A stack writes each registry's policy once: ECR keeps one registry policy per account and region, "
    "and PutRegistryPolicy replaces it.",
    validate,
    stack=True,
)
