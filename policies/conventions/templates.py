"""Every cache prefix has a creation template with a lifecycle policy; templates that need a role have one."""

from ptc_policy_support.hardening import declare
from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from resources import RULE, TEMPLATE, Unknowns, as_list, get, has, label, policy_lifecycle_rules


def _prefix(resource, key: str) -> str | None:
    """The prefix as a string, or None when it is missing, not text, or known only after apply."""
    try:
        value = get(resource.props, key)
    except UnknownValueError:
        return None
    return value.rstrip("/") if isinstance(value, str) else None


def _known_prefix(resource, key: str) -> bool:
    try:
        get(resource.props, key)
    except UnknownValueError:
        return False
    return True


def _dependencies(resource, key: str) -> frozenset[str]:
    return frozenset(d.urn for d in resource.property_dependencies.get(key, []))


class Templates:
    """The stack's templates, indexed once: by prefix, and (for prefixes known only after apply) by the
    resources their prefix comes from."""

    def __init__(self, resources) -> None:
        self.by_prefix: dict[str, object] = {}
        self.by_source: dict[frozenset[str], object] = {}
        for template in (r for r in resources if r.resource_type == TEMPLATE):
            prefix = _prefix(template, "prefix")
            if prefix is not None:
                self.by_prefix.setdefault(prefix, template)
            elif not _known_prefix(template, "prefix") and (deps := _dependencies(template, "prefix")):
                self.by_source.setdefault(deps, template)

    def covering(self, rule):
        """The template of a rule's prefix: the same prefix, else the nearest parent namespace (ECR applies a
        template to every repository created under its prefix), else ROOT; for a prefix known only after apply,
        the template whose prefix comes from the same resources."""
        prefix = _prefix(rule, "ecrRepositoryPrefix")
        if prefix is None and not _known_prefix(rule, "ecrRepositoryPrefix"):
            template = self.by_source.get(_dependencies(rule, "ecrRepositoryPrefix"))
            if template is None:
                raise UnknownValueError(UNKNOWN_STRING_VALUE, ["ecrRepositoryPrefix"])
            return template
        if prefix is None:
            return self.by_prefix.get("ROOT")
        parts = prefix.split("/")
        for end in range(len(parts), 0, -1):
            template = self.by_prefix.get("/".join(parts[:end]))
            if template is not None:
                return template
        return self.by_prefix.get("ROOT")


def validate_coverage(args: StackValidationArgs, report: ReportViolation) -> None:
    require_lifecycle = args.get_config().get("requireLifecyclePolicy", True)
    templates = Templates(args.resources)
    unknowns = Unknowns()
    for rule in (r for r in args.resources if r.resource_type == RULE):
        what = label(rule.resource_type, rule.name)
        with unknowns.guard(what):
            template = templates.covering(rule)
            prefix = _prefix(rule, "ecrRepositoryPrefix") or "(known after apply)"
            if template is None:
                report(
                    f"The pull through cache rule {what} (prefix '{prefix}') has no repository creation template; "
                    "cached repositories would get no lifecycle policy: add a template for the prefix.",
                    rule.urn,
                )
                continue
            shown = label(template.resource_type, template.name)
            if "PULL_THROUGH_CACHE" not in as_list(get(template.props, "appliedFors")):
                report(
                    f"The repository creation template {shown} covers the rule {what} but does not apply to "
                    "PULL_THROUGH_CACHE; add it to appliedFors.",
                    template.urn,
                )
            if require_lifecycle and not policy_lifecycle_rules(get(template.props, "lifecyclePolicy")):
                report(
                    f"The repository creation template {shown} of the rule {what} has no lifecycle policy; cached "
                    "images would pile up: expire untagged images and cap the image count.",
                    template.urn,
                )
    unknowns.finish()


def validate_role(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TEMPLATE:
        return
    what = label(args.resource_type, args.name)
    unknowns = Unknowns()
    with unknowns.guard(what):
        needs = []
        if get(args.props, "resourceTags"):
            needs.append("resource tags")
        configs = as_list(get(args.props, "encryptionConfigurations"))
        if configs and hasattr(configs[0], "keys") and get(configs[0], "encryptionType") in ("KMS", "KMS_DSSE"):
            needs.append("KMS encryption")
        if needs and not has(args.props, "customRoleArn"):
            report(
                f"The repository creation template {what} sets {' and '.join(needs)} but has no customRoleArn; "
                "ECR needs a role trusted by ecr.amazonaws.com to create such repositories."
            )
    unknowns.finish()


COVERAGE_POLICY = declare(
    "template-coverage",
    "Every pull through cache prefix has a repository creation template applied to PULL_THROUGH_CACHE "
    "with a lifecycle policy.",
    validate_coverage,
    stack=True,
    settings={
        "requireLifecyclePolicy": {"type": "boolean", "description": "Require a lifecycle policy. Default: true."},
    },
)

ROLE_POLICY = declare(
    "template-custom-role",
    "A repository creation template that tags repositories or encrypts them with KMS has a custom role.",
    validate_role,
)
