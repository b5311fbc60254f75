"""UpstreamGrant: the upstream registry's side of an ECR-to-ECR pull through cache, as code.

A cache stack that mirrors another account's ECR registry exports `upstream_grants`: upstream registry host ->
the registry policy its owner must apply so the cache's role may pull (ECR user guide, "Setting up
permissions for cross-account ECR to ECR PTC": "The upstream registry owner must also grant the cache
registry owner with the required permissions"). The upstream account's own stack reads that output through a
`StackReference` and declares this component:

    <name>-registry-policy    aws.ecr.RegistryPolicy    the grants for this registry, merged with its own statements

A registry has one registry policy (`PutRegistryPolicy` replaces it), so the registry's other statements
(replication, other principals) are given here and merged, never overwritten. The grants come from another
stack, so they are checked before they are applied: only Allow statements, only the pull actions the cache
needs, only role principals, and only this registry's own repositories. Pulling through a registry policy
needs the V2 registry policy scope, AWS's default (ECR user guide, "Private registry permissions").
"""

import json
from typing import Any, Optional, Required, TypedDict, cast

import pulumi
import pulumi_aws as aws

from . import catalog, config, iam

TYPE = "ecr-pull-through-cache:index:UpstreamGrant"


class UpstreamGrantArgs(TypedDict, total=False):
    """Arguments of an `UpstreamGrant`."""

    grants: Required[pulumi.Input[dict[str, pulumi.Input[str]]]]
    """The cache stack's `upstream_grants` output (read it with a StackReference)."""
    registry: Required[str]
    """This registry's host, `<account>.dkr.ecr.<region>.amazonaws.com`: which grant applies here."""
    statements: str
    """JSON text: a list of this registry's other registry-policy statements, merged with the grants."""


class GrantError(pulumi.RunError):
    """A grant that this registry must not apply."""


def grant_faults(statement: Any, account: str, region: str) -> list[str]:
    """Why a grant statement from the cache stack must not be applied to this registry; empty when it may."""
    if not isinstance(statement, dict):
        return ["is not a policy statement"]
    faults = []
    if statement.get("Effect") != "Allow":
        faults.append("is not an Allow statement")
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    extra = [a for a in actions if a not in iam.UPSTREAM_GRANT_ACTIONS]
    if extra:
        faults.append(
            f"grants {', '.join(map(str, extra))}, beyond what a pull through cache needs "
            f"({', '.join(iam.UPSTREAM_GRANT_ACTIONS)})"
        )
    principal = statement.get("Principal")
    principals = principal.get("AWS") if isinstance(principal, dict) else None
    principals = principals if isinstance(principals, list) else [principals]
    if not principals or not all(isinstance(p, str) and config.ROLE_ARN.fullmatch(p) for p in principals):
        faults.append("must name IAM roles (the cache's upstream roles) as its principal")
    resources = statement.get("Resource")
    resources = resources if isinstance(resources, list) else [resources]
    own = f":ecr:{region}:{account}:repository/"
    if not resources or not all(isinstance(r, str) and own in r and r.startswith("arn:aws") for r in resources):
        faults.append(f"must be scoped to this registry's repositories (arn:...:ecr:{region}:{account}:repository/...)")
    for key in ("NotAction", "NotPrincipal", "NotResource"):
        if key in statement:
            faults.append(f"uses {key}")
    return faults


def grants_for(grants: Any, registry: str) -> list[dict[str, Any]]:
    """The checked grant statements for `registry` in one cache stack's `upstream_grants` (empty when it has none)."""
    match = catalog.ECR_HOST.fullmatch(registry)
    assert match is not None  # validated before
    grants = grants or {}
    if not isinstance(grants, dict):
        raise GrantError("grants must be the cache stack's upstream_grants output (a map of registry host to policy)")
    text = grants.get(registry)
    if text is None:
        return []
    try:
        document = json.loads(text)
    except (TypeError, ValueError):
        raise GrantError(f"the grant for {registry} is not a JSON policy document") from None
    found = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(found, list):
        raise GrantError(f"the grant for {registry} has no Statement list")
    for index, statement in enumerate(found):
        faults = grant_faults(statement, match.group("account"), match.group("region"))
        if faults:
            raise GrantError(
                f"the grant for {registry}, statement {index}, {'; '.join(faults)}: it is not "
                "applied. Check the cache stack's upstream_grants output."
            )
    return found


def merge_statements(registry: str, own_statements: list[dict[str, Any]], grants: list[Any]) -> list[dict[str, Any]]:
    """This registry's own statements, then every cache stack's grants for it; no statement id twice."""
    statements = [s for each in grants for s in grants_for(each, registry)]
    sids = {s.get("Sid") for s in own_statements}
    clashing = [str(s.get("Sid")) for s in statements if s.get("Sid") in sids]
    if clashing:
        raise GrantError(
            f"the grant for {registry} reuses the statement id(s) {', '.join(clashing)} of this "
            "registry's own statements; rename those"
        )
    return [*own_statements, *statements]


def merged_policy(grants: Any, registry: str, own_statements: list[dict[str, Any]]) -> str:
    """The registry policy: this registry's own statements plus the checked grants for it."""
    merged = merge_statements(registry, own_statements, [grants])
    if not merged:
        known = ", ".join(sorted(grants)) if isinstance(grants, dict) and grants else "no registry"
        raise GrantError(
            f"the cache stack grants nothing to {registry} (its upstream_grants has {known}) and no statements of "
            "this registry were given: there is no registry policy to apply"
        )
    try:
        return iam.registry_policy_text({"Version": iam.VERSION, "Statement": merged})
    except iam.PolicyTooLarge as exc:
        raise GrantError(f"{registry}: {exc}") from None


class UpstreamGrant(pulumi.ComponentResource):
    """The upstream registry's registry policy: the cache stack's grants for it, merged with its own statements."""

    policy: pulumi.Output[str]
    """The registry policy applied (JSON)."""

    def __init__(self, name: str, args: UpstreamGrantArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = cast(UpstreamGrantArgs, config.component_args(args, f"UpstreamGrant '{name}'"))
        registry = args.get("registry")
        faults = []
        if not isinstance(registry, str) or not catalog.ECR_HOST.fullmatch(registry):
            faults.append(
                config.Fault(
                    f"UpstreamGrant '{name}'",
                    "registry",
                    f"{registry!r} is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com)",
                )
            )
        statement_faults, own = (
            config.registry_statements(args["statements"]) if args.get("statements") is not None else ([], ())
        )
        faults.extend(config.Fault(f"UpstreamGrant '{name}'", "statements", f) for f in statement_faults)
        if args.get("grants") is None:
            faults.append(
                config.Fault(
                    f"UpstreamGrant '{name}'", "grants", "is required: the cache stack's upstream_grants output"
                )
            )
        if faults:
            raise config.ConfigError(faults, f"UpstreamGrant '{name}'")
        super().__init__(TYPE, name, {"registry": registry}, opts)
        policy = pulumi.Output.from_input(args["grants"]).apply(lambda g: merged_policy(g, registry, list(own)))
        aws.ecr.RegistryPolicy(f"{name}-registry-policy", policy=policy, opts=pulumi.ResourceOptions(parent=self))
        self.policy = policy
        self.register_outputs({"policy": self.policy})
