"""Rules have the credentials their upstream needs, in a secret ECR can read: same account and region."""

import pulumi
from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from facts import (
    ARN,
    CREDENTIAL_ARN,
    NO_CREDENTIALS,
    ROLE_CREDENTIALS,
    RULE,
    SECRET,
    SECRET_CREDENTIALS,
    SECRET_PREFIX,
    kind_of_url,
)
from support import Unknowns, get, has, label


def region_of(resource) -> str | None:
    """The region a resource deploys to: its own `region`, its provider's, or the stack's `aws:region`."""
    region = get(resource.props, "region")
    if not region and resource.provider is not None and resource.provider.props:
        region = get(resource.provider.props, "region")
    return region or pulumi.Config("aws").get("region")


def validate_rule(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Which credentials a rule carries; needs no value known only after apply."""
    if args.resource_type != RULE:
        return
    what = label(args.resource_type, args.name)
    props = args.props
    url = get(props, "upstreamRegistryUrl")
    kind = kind_of_url(url) if isinstance(url, str) else None
    if kind is None:
        return  # upstream-allowlist reports unknown registries
    has_secret, has_role = has(props, "credentialArn"), has(props, "customRoleArn")
    if kind in SECRET_CREDENTIALS and not has_secret:
        report(f"The pull through cache rule {what} caches {url}, which needs credentials, but has no credentialArn; "
               f"store the upstream's username and accessToken in a secret under '{SECRET_PREFIX}' and reference it.")
    if kind in NO_CREDENTIALS and has_secret:
        reason = "ECR refuses credentials for Quay" if kind == "quay" else "it is public"
        report(f"The pull through cache rule {what} caches {url} with a credentialArn, but {reason}; remove the "
               "credentialArn.")
    if kind in ROLE_CREDENTIALS and has_secret:
        report(f"The pull through cache rule {what} caches the ECR registry {url} with a credentialArn; ECR upstreams "
               "authenticate with customRoleArn, not a secret.")
    if kind in ROLE_CREDENTIALS and not has_role:
        report(f"The pull through cache rule {what} caches the ECR registry {url} but has no customRoleArn; give it a "
               "role trusted by pullthroughcache.ecr.amazonaws.com that may pull from the upstream.")
    if kind not in ROLE_CREDENTIALS and has_role:
        report(f"The pull through cache rule {what} caches {url} with a customRoleArn, which only ECR upstreams use; "
               "remove it.")


def validate_location(args: StackValidationArgs, report: ReportViolation) -> None:
    """A known secret ARN: under the prefix, in the rule's region and account. An ARN known only after
    apply: the secret resource of this stack it comes from, named under the prefix, in the rule's region."""
    accounts = set(args.get_config().get("accountIds") or [])
    by_urn = {r.urn: r for r in args.resources}
    unknowns = Unknowns()
    for rule in (r for r in args.resources if r.resource_type == RULE and has(r.props, "credentialArn")):
        what = label(rule.resource_type, rule.name)
        with unknowns.guard(what):
            region = region_of(rule)
            try:
                arn = rule.props["credentialArn"]
            except UnknownValueError:
                check_source_secrets(rule, by_urn, region, what, report)
                continue
            if not isinstance(arn, str) or not CREDENTIAL_ARN.match(arn):
                report(f"The pull through cache rule {what} reads credentials from {arn}, which is not a secret under "
                       f"'{SECRET_PREFIX}'; ECR only reads secrets whose name starts with '{SECRET_PREFIX}'.", rule.urn)
                continue
            parsed = ARN.match(arn)
            if region and parsed["region"] != region:
                report(f"The pull through cache rule {what} deploys to {region} but its secret {arn} is in "
                       f"{parsed['region']}; ECR only reads a secret in the rule's own region: copy it there.",
                       rule.urn)
            registry = get(rule.props, "registryId")
            expected = {registry} if registry else accounts
            if not expected:
                raise UnknownValueError(UNKNOWN_STRING_VALUE, ["registryId"])
            if parsed["account"] not in expected:
                report(f"The pull through cache rule {what} reads credentials from account {parsed['account']} "
                       f"({arn}) but deploys to {' or '.join(sorted(expected))}; ECR only reads a secret in the "
                       "rule's own account: copy the secret there.", rule.urn)
    unknowns.finish()


def check_source_secrets(rule, by_urn, region: str | None, what: str, report: ReportViolation) -> None:
    sources = [by_urn[d.urn] for d in rule.property_dependencies.get("credentialArn", [])
               if d.urn in by_urn and by_urn[d.urn].resource_type == SECRET]
    if not sources:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, ["credentialArn"])
    for secret in sources:
        shown = label(secret.resource_type, secret.name)
        name = get(secret.props, "name") or get(secret.props, "namePrefix")
        if not isinstance(name, str):
            raise UnknownValueError(UNKNOWN_STRING_VALUE, ["credentialArn"])
        if not name.startswith(SECRET_PREFIX):
            report(f"The pull through cache rule {what} reads credentials from the secret {shown} named '{name}'; ECR "
                   f"only reads secrets under '{SECRET_PREFIX}': rename it.", rule.urn)
        secret_region = region_of(secret)
        if region and secret_region and secret_region != region:
            report(f"The pull through cache rule {what} deploys to {region} but its secret {shown} to {secret_region}; "
                   "ECR only reads a secret in the rule's own region.", rule.urn)


RULE_POLICY = ResourceValidationPolicy(
    name="rule-credentials",
    description="A pull through cache rule has exactly the credentials its upstream needs: a secret for token "
                "upstreams, none for public ones, a role (and no secret) for ECR upstreams.",
    validate=validate_rule,
)

STACK_POLICY = StackValidationPolicy(
    name="rule-secret-location",
    description="A pull through cache rule's secret is named under ecr-pullthroughcache/ and lives in the rule's own "
                "region and account.",
    validate=validate_location,
    config_schema=PolicyConfigSchema(properties={
        "accountIds": {
            "type": "array", "items": {"type": "string", "pattern": "^[0-9]{12}$"},
            "description": "Accounts the stack deploys to; lets the account check run during preview, before the "
                           "registry's account is known.",
        },
    }),
)
