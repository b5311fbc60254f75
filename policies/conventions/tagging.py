"""Required tags are present and the environment shows in names and tags."""

import re

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from hardening import guarded
from resources import SECRET, TAGGABLE, TEMPLATE, Unknowns, environment_of, get, in_scope, label

DEFAULT_REQUIRED_TAGS = ["environment"]


def validate_required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TAGGABLE | {TEMPLATE}:
        return
    what = label(args.resource_type, args.name)
    unknowns = Unknowns()
    with unknowns.guard(what):
        if not in_scope(args.resource_type, args.urn, args.props):
            return
        config = args.get_config()
        if args.resource_type == TEMPLATE:
            required = config.get("requiredRepositoryTags")
            required = DEFAULT_REQUIRED_TAGS if required is None else required
            tags = get(args.props, "resourceTags") or {}
            missing = [t for t in required if not get(tags, t)]
            if missing:
                report(
                    f"The {what} must tag the repositories it creates with {', '.join(missing)}; add them to its "
                    "resourceTags (this project sets them from the stack's tags and environment)."
                )
        else:
            required = config.get("requiredTags")
            required = DEFAULT_REQUIRED_TAGS if required is None else required  # [] means no required tags
            tags = get(args.props, "tags") or {}
            missing = [t for t in required if not get(tags, t)]
            if missing:
                report(
                    f"The {what} needs the tag(s) {', '.join(missing)}; add them (this project sets them from the "
                    "stack's tags and environment)."
                )
    unknowns.finish()


def tokens(text: str) -> set[str]:
    return set(re.split(r"[-_/.]+", text))


def validate_environment(args: ResourceValidationArgs, report: ReportViolation) -> None:
    what = label(args.resource_type, args.name)
    unknowns = Unknowns()
    with unknowns.guard(what):
        if not in_scope(args.resource_type, args.urn, args.props):
            return
        env = environment_of()
        allowed = args.get_config().get("environments")
        if allowed and env not in allowed:
            report(
                f"The {what} belongs to environment '{env}', which is not one of {', '.join(allowed)}; set the "
                "stack's environment to one of them or add it to the policy's environments."
            )
        if env not in tokens(args.name):
            report(f"The {what} does not carry its environment '{env}' in its name; name it '{env}-...'.")
        if args.resource_type == SECRET:
            name = get(args.props, "name") or get(args.props, "namePrefix")
            if isinstance(name, str) and env not in tokens(name):
                report(
                    f"The {what} is named '{name}' without its environment '{env}'; secrets of different "
                    f"environments in one account must not collide: use ecr-pullthroughcache/{env}/..."
                )
    unknowns.finish()


REQUIRED_TAGS_POLICY = ResourceValidationPolicy(
    name="required-tags",
    description="Pull through cache resources carry the required tags, and templates tag the repositories they "
    "create with them.",
    validate=guarded(validate_required_tags, "required-tags"),
    config_schema=PolicyConfigSchema(
        properties={
            "requiredTags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Tags every taggable pull through cache resource needs. Default: environment.",
            },
            "requiredRepositoryTags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Tags templates must give cached repositories. Default: "
                "environment; [] allows untagged repositories.",
            },
        }
    ),
)

ENVIRONMENT_POLICY = ResourceValidationPolicy(
    name="environment-in-names",
    description="Pull through cache resources carry their environment in their names (and secrets in their "
    "secret names), from a configured set of environments.",
    validate=guarded(validate_environment, "environment-in-names"),
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=PolicyConfigSchema(
        properties={
            "environments": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Allowed environment names. Default: any.",
            },
        }
    ),
)
