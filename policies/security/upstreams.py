"""Rules cache only known upstream registries, and the registry matches the kind it is declared as."""

from fnmatch import fnmatchcase

from ptc_policy_support.hardening import declare
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from facts import ARN, DEFAULT_ALLOWED_HOSTS, RULES, SECRET, TAG_UPSTREAM, UPSTREAM_COMPONENT, kind_of_url
from support import Unknowns, get, label, shown


def validate_allowlist(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in RULES:
        return
    allowed = args.get_config().get("allowedHosts") or DEFAULT_ALLOWED_HOSTS
    url = get(args.props, "upstreamRegistryUrl")
    if not isinstance(url, str) or not any(fnmatchcase(url.lower(), pattern.lower()) for pattern in allowed):
        report(
            f"The pull through cache rule {label(args.resource_type, args.name)} caches '{shown(url)}', which is not "
            f"an allowed upstream ({', '.join(allowed)}); use a supported registry or add the host to the policy's "
            "allowedHosts."
        )
    elif kind_of_url(url) is None:
        report(
            f"The pull through cache rule {label(args.resource_type, args.name)} caches '{url}', which ECR pull "
            "through cache does not support as an upstream; use one of the supported registries (ECR Public, "
            "registry.k8s.io, quay.io, Docker Hub, ghcr.io, *.azurecr.io, registry.gitlab.com, cgr.dev, or an ECR "
            "registry) or remove the rule."
        )


class DeclaredSecrets:
    """The stack's secrets, indexed by name and by name prefix, so a literal ARN finds its secret in O(length)."""

    def __init__(self, args: StackValidationArgs) -> None:
        self.by_name: dict[str, object] = {}
        self.by_prefix: dict[str, object] = {}
        for secret in (r for r in args.resources if r.resource_type == SECRET):
            for key, index in (("name", self.by_name), ("namePrefix", self.by_prefix)):
                try:
                    value = get(secret.props, key)
                except UnknownValueError:
                    continue
                if isinstance(value, str) and value:
                    index.setdefault(value, secret)

    def named(self, resource: str) -> list:
        """Secrets an ARN's `secret:<name>-<6 characters>` part names."""
        name = resource[:-7] if len(resource) > 7 and resource[-7] == "-" else resource
        found = [self.by_name[name]] if name in self.by_name else []
        found += [
            self.by_prefix[resource[:end]] for end in range(1, len(resource) + 1) if resource[:end] in self.by_prefix
        ]
        return found


def declared_secrets(args: StackValidationArgs) -> DeclaredSecrets:
    return DeclaredSecrets(args)


def secrets_of(rule, secrets: DeclaredSecrets) -> list:
    """The stack's secrets a rule reads: through its dependencies, or by a literal ARN naming one of them."""
    found = [d for d in rule.property_dependencies.get("credentialArn", []) if d.resource_type == SECRET]
    try:
        arn = rule.props["credentialArn"] if "credentialArn" in list(rule.props) else None
    except UnknownValueError:
        arn = None
    match = ARN.fullmatch(arn) if isinstance(arn, str) else None
    if match:
        found += [s for s in secrets.named(match["resource"].removeprefix("secret:")) if s not in found]
    return found


def validate_kind(args: StackValidationArgs, report: ReportViolation) -> None:
    unknowns = Unknowns()
    secrets = declared_secrets(args)
    for rule in (r for r in args.resources if r.resource_type in RULES):
        what = label(rule.resource_type, rule.name)
        with unknowns.guard(what):
            url = get(rule.props, "upstreamRegistryUrl")
            actual = kind_of_url(url) if isinstance(url, str) else None
            if actual is None:
                continue
            if rule.parent is not None and rule.parent.resource_type == UPSTREAM_COMPONENT:
                declared = get(rule.parent.props, "kind")
                if declared and declared != actual:
                    report(
                        f"The pull through cache rule {what} caches {url}, a {actual} upstream, but its "
                        f"UpstreamCache '{rule.parent.name}' is declared as kind {shown(declared)}; make the kind and "
                        "the registry agree.",
                        rule.urn,
                    )
            for secret in secrets_of(rule, secrets):
                with unknowns.guard(what):
                    declared = get(get(secret.props, "tags") or {}, TAG_UPSTREAM)
                    if declared and declared != actual:
                        report(
                            f"The pull through cache rule {what} caches {url}, a {actual} upstream, but its "
                            f"credentials secret '{secret.name}' is tagged {TAG_UPSTREAM}={shown(declared)}; store "
                            f"{actual} credentials in it (and tag it so) or point the rule at the right secret.",
                            rule.urn,
                        )
    unknowns.finish()


ALLOWLIST_POLICY = declare(
    "upstream-allowlist",
    "A pull through cache rule caches a known upstream registry (Azure and ECR registries by pattern).",
    validate_allowlist,
    settings={
        "allowedHosts": {
            "type": "array",
            "minItems": 1,  # an empty list would refuse every upstream
            "items": {"type": "string", "pattern": "\\S"},
            "description": "Upstream hosts rules may cache; shell-style patterns such as '*.azurecr.io' or "
            "'acmeprod.azurecr.io'. Default: every upstream ECR supports.",
        },
    },
)

KIND_POLICY = declare(
    "upstream-matches-kind",
    "A pull through cache rule's registry matches the kind its UpstreamCache or its credentials "
    "secret (tag ptc:upstream) declares.",
    validate_kind,
    stack=True,
)


def check_config(settings) -> list[str]:
    hosts = settings.get("allowedHosts")
    if hosts is not None and not [h for h in hosts if isinstance(h, str) and h.strip()]:
        return ["allowedHosts: an empty list would refuse every upstream; remove the setting for the defaults"]
    return []
