"""Required tags are present and the environment shows in names and tags."""

import json
import re

from ptc_policy_support.hardening import declare
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UnknownValueError

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


def owning_environment(resource) -> str:
    """The environment a resource belongs to: the `environment` of the nearest component above it (one stack may
    deploy several environments' caches, `PullThroughCache("qa", environment="qa")`), else the stack's."""
    parent = resource.parent
    while parent is not None:
        try:
            value = get(parent.props, "environment")
        except UnknownValueError:
            value = None
        if isinstance(value, str) and value:
            return value
        parent = parent.parent
    return environment_of()


def validate_environment_tag(args: StackValidationArgs, report: ReportViolation) -> None:
    """An `environment` tag names the resource's own environment: policies that grant by tag
    (`aws:ResourceTag/environment`) would otherwise hand a qa secret tagged prod to prod's roles."""
    unknowns = Unknowns()
    for resource in args.resources:
        if resource.resource_type not in TAGGABLE | {TEMPLATE}:
            continue
        what = label(resource.resource_type, resource.name)
        with unknowns.guard(what):
            if not in_scope(resource.resource_type, resource.urn, resource.props):
                continue
            where = "resourceTags" if resource.resource_type == TEMPLATE else "tags"
            tags = get(resource.props, where)
            value = get(tags, "environment") if hasattr(tags, "keys") else None
            env = owning_environment(resource)
            if isinstance(value, str) and value and value != env:
                report(
                    f"The {what} is tagged environment={json.dumps(value)} in its {where}, but it belongs to the "
                    f"'{env}' environment; tag it environment={env} (or deploy it as part of {value}).",
                    resource.urn,
                )
    unknowns.finish()


def tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[-_/.]+", text) if t]


def carries(text: str, env: str) -> bool:
    """Whether a name carries the environment as whole words: `dev-eu-hub` carries `dev-eu` (environment names may
    hold `-` themselves), `devil-hub` does not carry `dev`."""
    words, wanted = tokens(text), tokens(env)
    return bool(wanted) and any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


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
        if not carries(args.name, env):
            report(f"The {what} does not carry its environment '{env}' in its name; name it '{env}-...'.")
        if args.resource_type == SECRET:
            name = get(args.props, "name") or get(args.props, "namePrefix")
            if isinstance(name, str) and not carries(name, env):
                report(
                    f"The {what} is named '{name}' without its environment '{env}'; secrets of different "
                    f"environments in one account must not collide: use ecr-pullthroughcache/{env}/..."
                )
    unknowns.finish()


REQUIRED_TAGS_POLICY = declare(
    "required-tags",
    "Pull through cache resources carry the required tags, and templates tag the repositories they create with them.",
    validate_required_tags,
    settings={
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
    },
)

ENVIRONMENT_POLICY = declare(
    "environment-in-names",
    "Pull through cache resources carry their environment in their names (and secrets in their "
    "secret names), from a configured set of environments.",
    validate_environment,
    advisory=True,
    settings={
        "environments": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Allowed environment names. Default: any.",
        },
    },
)

ENVIRONMENT_TAG_POLICY = declare(
    "environment-tag-matches",
    "A pull through cache resource's environment tag names the environment it belongs to (its "
    "component's environment, else the stack's).",
    validate_environment_tag,
    stack=True,
)
