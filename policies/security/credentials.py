"""Rules have the credentials their upstream needs, in a secret ECR can read: same account and region."""

import pulumi
from ptc_policy_support.hardening import declare
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from facts import (
    ARN,
    CREDENTIAL_ARN,
    NO_CREDENTIALS,
    ROLE_CREDENTIALS,
    RULES,
    SECRET_CREDENTIALS,
    SECRET_PREFIX,
    SECRETS,
    account_list,
    kind_of_url,
    name_list,
)
from support import Unknowns, get, has, label, shown


def region_of(resource) -> str | None:
    """The region a resource deploys to: its own `region`, its provider's, or the stack's `aws:region`."""
    region = get(resource.props, "region")
    if not region and resource.provider is not None and resource.provider.props:
        region = get(resource.provider.props, "region")
    return region or pulumi.Config("aws").get("region")


def validate_rule(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Which credentials a rule carries; needs no value known only after apply."""
    if args.resource_type not in RULES:
        return
    what = label(args.resource_type, args.name)
    props = args.props
    url = get(props, "upstreamRegistryUrl")
    kind = kind_of_url(url) if isinstance(url, str) else None
    if kind is None:
        return  # upstream-allowlist reports unknown registries
    has_secret, has_role = has(props, "credentialArn"), has(props, "customRoleArn")
    if kind in SECRET_CREDENTIALS and not has_secret:
        report(
            f"The pull through cache rule {what} caches {url}, which needs credentials, but has no credentialArn; "
            f"store the upstream's username and accessToken in a secret under '{SECRET_PREFIX}' and reference it."
        )
    if kind in NO_CREDENTIALS and has_secret:
        reason = "ECR refuses credentials for Quay" if kind == "quay" else "it is public"
        report(
            f"The pull through cache rule {what} caches {url} with a credentialArn, but {reason}; remove the "
            "credentialArn."
        )
    if kind in ROLE_CREDENTIALS and has_secret:
        report(
            f"The pull through cache rule {what} caches the ECR registry {url} with a credentialArn; ECR upstreams "
            "authenticate with customRoleArn, not a secret."
        )
    if kind in ROLE_CREDENTIALS and not has_role:
        report(
            f"The pull through cache rule {what} caches the ECR registry {url} but has no customRoleArn; give it a "
            "role trusted by pullthroughcache.ecr.amazonaws.com that may pull from the upstream."
        )
    if kind not in ROLE_CREDENTIALS and has_role:
        report(
            f"The pull through cache rule {what} caches {url} with a customRoleArn, which only ECR upstreams use; "
            "remove it."
        )


def _known(props, key: str):
    """(value, True), or (None, False) when the value is known only after apply."""
    try:
        return get(props, key), True
    except UnknownValueError:
        return None, False


def validate_location(args: StackValidationArgs, report: ReportViolation) -> None:
    """A known secret ARN: under the prefix, in the rule's region and account. An ARN known only after
    apply: the secret resource of this stack it comes from, named under the prefix, in the rule's region.

    Each check runs on its own, so one value known only after apply (the region, the registry id) never
    hides what is already known (a secret outside ecr-pullthroughcache/)."""
    accounts = set(args.get_config().get("accountIds") or [])
    by_urn = {r.urn: r for r in args.resources}
    unknowns = Unknowns()
    for rule in (r for r in args.resources if r.resource_type in RULES and has(r.props, "credentialArn")):
        what = label(rule.resource_type, rule.name)
        arn, arn_known = _known(rule.props, "credentialArn")
        if not arn_known:
            with unknowns.guard(what):
                check_source_secrets(rule, by_urn, what, report, unknowns)
            continue
        if isinstance(arn, str) and arn.startswith(SECRET_PREFIX):
            report(
                f"The pull through cache rule {what} gives the secret name '{arn}' as its credentialArn; ECR needs "
                "the secret's full ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>): "
                "reference the secret's arn.",
                rule.urn,
            )
            continue
        if not isinstance(arn, str) or not CREDENTIAL_ARN.fullmatch(arn):
            report(
                f"The pull through cache rule {what} reads credentials from {shown(arn)}, which is not a secret under "
                f"'{SECRET_PREFIX}'; ECR only reads secrets whose name starts with '{SECRET_PREFIX}': move the "
                f"credentials to a secret named '{SECRET_PREFIX}...' and reference its ARN.",
                rule.urn,
            )
            continue
        parsed = ARN.fullmatch(arn)
        with unknowns.guard(f"{what} .region"):
            region = region_of(rule)
            if region and parsed["region"] != region:
                report(
                    f"The pull through cache rule {what} deploys to {shown(region)} but its secret {arn} is in "
                    f"{parsed['region']}; ECR only reads a secret in the rule's own region: copy it there.",
                    rule.urn,
                )
        registry, registry_known = _known(rule.props, "registryId")
        expected = {registry} if registry_known and registry else accounts
        if not expected:
            unknowns.skipped.append(f"{what} .registryId (set accountIds to check the account during preview)")
        elif parsed["account"] not in expected:
            report(
                f"The pull through cache rule {what} reads credentials from account {parsed['account']} "
                f"({arn}) but deploys to {' or '.join(sorted(expected))}; ECR only reads a secret in the "
                "rule's own account: copy the secret there.",
                rule.urn,
            )
    unknowns.finish()


def check_source_secrets(rule, by_urn, what: str, report: ReportViolation, unknowns: Unknowns) -> None:
    sources = [
        by_urn[d.urn]
        for d in rule.property_dependencies.get("credentialArn", [])
        if d.urn in by_urn and by_urn[d.urn].resource_type in SECRETS
    ]
    if not sources:
        raise UnknownValueError(UNKNOWN_STRING_VALUE, ["credentialArn"])
    for secret in sources:
        secret_label = label(secret.resource_type, secret.name)
        with unknowns.guard(f"{what} .credentialArn"):
            name = get(secret.props, "name") or get(secret.props, "namePrefix")
            if not isinstance(name, str):
                raise UnknownValueError(UNKNOWN_STRING_VALUE, ["credentialArn"])
            if not name.startswith(SECRET_PREFIX):
                report(
                    f"The pull through cache rule {what} reads credentials from the secret {secret_label} named "
                    f"'{name}'; ECR only reads secrets under '{SECRET_PREFIX}': rename it.",
                    rule.urn,
                )
        with unknowns.guard(f"{what} .region"):
            region, secret_region = region_of(rule), region_of(secret)
            if region and secret_region and secret_region != region:
                report(
                    f"The pull through cache rule {what} deploys to {shown(region)} but its secret {secret_label} to "
                    f"{shown(secret_region)}; ECR only reads a secret in the rule's own region: create it there.",
                    rule.urn,
                )


def secret_name_of(rule, by_urn) -> str | None:
    """The name of the secret a rule reads: from a known ARN (without AWS's 6-character suffix), else from the
    secret resource the ARN comes from."""
    arn, known = _known(rule.props, "credentialArn")
    if known and isinstance(arn, str) and (parsed := ARN.fullmatch(arn)):
        resource = parsed["resource"].removeprefix("secret:")
        return resource[:-7] if len(resource) > 7 and resource[-7] == "-" else resource
    for dependency in rule.property_dependencies.get("credentialArn", []):
        secret = by_urn.get(dependency.urn)
        if secret is not None and secret.resource_type in SECRETS:
            name, name_known = _known(secret.props, "name")
            prefix, prefix_known = _known(secret.props, "namePrefix")
            value = name if name_known and name else prefix if prefix_known else None
            if isinstance(value, str):
                return value
    return None


def validate_environment(args: StackValidationArgs, report: ReportViolation) -> None:
    """A rule of one environment reads a secret of its own: `ecr-pullthroughcache/<env>/...` or a shared one."""
    env = pulumi.Config("ecr-pull-through-cache").get("environment") or pulumi.get_stack()
    known_environments = set(
        args.get_config().get("environments") or ["dev", "test", "staging", "stage", "prod", "production"]
    )
    by_urn = {r.urn: r for r in args.resources}
    for rule in (r for r in args.resources if r.resource_type in RULES and has(r.props, "credentialArn")):
        name = secret_name_of(rule, by_urn)
        if not isinstance(name, str) or not name.startswith(SECRET_PREFIX):
            continue
        first = name[len(SECRET_PREFIX) :].split("/", 1)[0]
        if "/" in name[len(SECRET_PREFIX) :] and first != env and first in known_environments:
            report(
                f"The pull through cache rule {label(rule.resource_type, rule.name)} of the {env} environment reads "
                f"the {first} environment's secret '{name}'; give {env} a secret of its own "
                f"('{SECRET_PREFIX}{env}/...') or share one under '{SECRET_PREFIX}shared/'.",
                rule.urn,
            )


RULE_POLICY = declare(
    "rule-credentials",
    "A pull through cache rule has exactly the credentials its upstream needs: a secret for token "
    "upstreams, none for public ones, a role (and no secret) for ECR upstreams.",
    validate_rule,
)

STACK_POLICY = declare(
    "rule-secret-location",
    "A pull through cache rule's secret is named under ecr-pullthroughcache/ and lives in the rule's own "
    "region and account.",
    validate_location,
    stack=True,
    settings={
        "accountIds": account_list(
            "Accounts the stack deploys to; lets the account check run during preview, before the "
            "registry's account is known."
        ),
    },
)

ENVIRONMENT_POLICY = declare(
    "secret-of-own-environment",
    "A pull through cache rule reads a secret of its own environment (ecr-pullthroughcache/<env>/...) "
    "or a shared one, not another environment's.",
    validate_environment,
    stack=True,
    advisory=True,
    settings={
        "environments": name_list(
            "Names that count as environments in secret paths. Default: dev, test, staging, stage, prod, production."
        ),
    },
)
