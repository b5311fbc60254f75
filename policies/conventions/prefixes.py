"""Cache prefixes follow ECR's pattern and the organisation's own."""

import re

from ptc_policy_support.hardening import declare
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

from resources import PREFIX, RULE, TEMPLATE, Unknowns, get, label

ECR_UPSTREAM = re.compile(r"[0-9]{12}\.dkr\.ecr\.", re.ASCII)


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (RULE, TEMPLATE):
        return
    unknowns = Unknowns()
    with unknowns.guard(label(args.resource_type, args.name)):
        check(args, report)
    unknowns.finish()


def check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    what = label(args.resource_type, args.name)
    key = "ecrRepositoryPrefix" if args.resource_type == RULE else "prefix"
    prefix = get(args.props, key)
    if not isinstance(prefix, str):
        report(f"The {what} has no {key}; give it the ECR repository prefix it serves, such as 'docker-hub'.")
        return
    limits = (2, 30) if args.resource_type == RULE else (1, 256)
    if not PREFIX.fullmatch(prefix) or not limits[0] <= len(prefix) <= limits[1]:
        report(
            f"The {what} has {key} '{prefix}', which ECR rejects: {limits[0]}-{limits[1]} lower-case letters and "
            "digits separated by '.', '_', '__', '-' or '/'."
        )
        return
    if prefix == "ROOT":
        url = get(args.props, "upstreamRegistryUrl") if args.resource_type == RULE else None
        if args.resource_type == RULE and not (isinstance(url, str) and ECR_UPSTREAM.match(url)):
            report(f"The {what} uses the ROOT prefix, which only ECR upstreams may use; give it a named prefix.")
        return
    pattern = args.get_config().get("prefixPattern")
    if pattern and not re.fullmatch(pattern, prefix.rstrip("/")):
        report(
            f"The {what} has {key} '{prefix}', which does not follow the organisation's prefix pattern "
            f"'{pattern}'; rename the prefix."
        )


POLICY = declare(
    "prefix-naming",
    "Pull through cache and template prefixes match ECR's pattern and length, and the organisation's "
    "prefix pattern when one is configured.",
    validate,
    settings={
        "prefixPattern": {
            "type": "string",
            "format": "regex",  # checked by the CLI (gojsonschema) and ptc (jsonschema) before the pack runs
            "description": "A regular expression every prefix must match in full, for example "
            "'^(mirror|cache)/[a-z0-9-]+$'. Default: ECR's pattern only.",
        },
    },
)


def _rule_prefix(rule) -> str | None:
    try:
        value = get(rule.props, "ecrRepositoryPrefix")
    except UnknownValueError:
        return None
    return value.rstrip("/") if isinstance(value, str) and value else None


def validate_unique(args: StackValidationArgs, report: ReportViolation) -> None:
    """AWS keeps one rule per prefix, and a prefix nested in another's makes it ambiguous which rule caches a
    repository: both are refused, naming both rules."""
    rules = [
        (p, r) for r in args.resources if r.resource_type == RULE if (p := _rule_prefix(r)) is not None and p != "ROOT"
    ]
    first: dict[str, object] = {}
    for prefix, rule in rules:
        if prefix in first:
            other = first[prefix]
            report(
                f"The pull through cache rules {label(other.resource_type, other.name)} and "
                f"{label(rule.resource_type, rule.name)} both use the prefix '{prefix}'; ECR allows one rule per "
                "prefix: give each upstream its own prefix.",
                rule.urn,
            )
        else:
            first[prefix] = rule
    for prefix, rule in rules:  # each parent namespace of a prefix, looked up: O(rules x depth)
        parts = prefix.split("/")
        for end in range(1, len(parts)):
            parent = "/".join(parts[:end])
            if parent in first:
                other = first[parent]
                report(
                    f"The pull through cache rule {label(rule.resource_type, rule.name)} (prefix '{prefix}') and "
                    f"{label(other.resource_type, other.name)} (prefix '{parent}') nest one prefix in the other, "
                    "so a repository path matches both; use prefixes that do not contain each other.",
                    rule.urn,
                )
                break


UNIQUE_POLICY = declare(
    "rule-prefixes-unique",
    "Pull through cache rules of one stack use distinct prefixes, none nested in another.",
    validate_unique,
    stack=True,
)


def check_config(settings) -> list[str]:
    from ptc_policy_support.hardening import regex_fault

    return regex_fault("prefixPattern", settings.get("prefixPattern"))
