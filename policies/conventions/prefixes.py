"""Cache prefixes follow ECR's pattern and the organisation's own."""

import re

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from resources import PREFIX, RULE, TEMPLATE, Unknowns, get, label

ECR_UPSTREAM = re.compile(r"^\d{12}\.dkr\.ecr\.")


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
        report(f"The {what} has no {key}.")
        return
    limits = (2, 30) if args.resource_type == RULE else (1, 256)
    if not PREFIX.match(prefix) or not limits[0] <= len(prefix) <= limits[1]:
        report(f"The {what} has {key} '{prefix}', which ECR rejects: {limits[0]}-{limits[1]} lower-case letters and "
               "digits separated by '.', '_', '__', '-' or '/'.")
        return
    if prefix == "ROOT":
        url = get(args.props, "upstreamRegistryUrl") if args.resource_type == RULE else None
        if args.resource_type == RULE and not (isinstance(url, str) and ECR_UPSTREAM.match(url)):
            report(f"The {what} uses the ROOT prefix, which only ECR upstreams may use; give it a named prefix.")
        return
    pattern = args.get_config().get("prefixPattern")
    if pattern and not re.fullmatch(pattern, prefix.rstrip("/")):
        report(f"The {what} has {key} '{prefix}', which does not follow the organisation's prefix pattern "
               f"'{pattern}'; rename the prefix.")


POLICY = ResourceValidationPolicy(
    name="prefix-naming",
    description="Pull through cache and template prefixes match ECR's pattern and length, and the organisation's "
                "prefix pattern when one is configured.",
    validate=validate,
    config_schema=PolicyConfigSchema(properties={
        "prefixPattern": {
            "type": "string",
            "description": "A regular expression every prefix must match in full, for example "
                           "'^(mirror|cache)/[a-z0-9-]+$'. Default: ECR's pattern only.",
        },
    }),
)
