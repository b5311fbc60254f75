"""Production caches encrypt with a customer-managed KMS key: secrets and cached repositories."""

import pulumi
from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from facts import SECRET, TEMPLATE
from scopes import is_credentials_secret
from support import Unknowns, as_list, get, has, label

DEFAULT_ENVIRONMENTS = ["prod", "production"]


def environment(args: ResourceValidationArgs, tags_key: str) -> str:
    """The resource's `environment` tag, else the project's environment setting, else the stack name."""
    tags = get(args.props, tags_key) or {}
    return get(tags, "environment") or pulumi.Config("ecr-pull-through-cache").get("environment") \
        or pulumi.get_stack()


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (SECRET, TEMPLATE):
        return
    what = label(args.resource_type, args.name)
    environments = args.get_config().get("environments") or DEFAULT_ENVIRONMENTS
    unknowns = Unknowns()
    with unknowns.guard(what):
        if args.resource_type == TEMPLATE:
            env = environment(args, "resourceTags")
            if env in environments:
                configs = as_list(get(args.props, "encryptionConfigurations"))
                kind = get(configs[0], "encryptionType") if configs else "AES256"
                if kind not in ("KMS", "KMS_DSSE"):
                    report(f"The repository creation template {what} encrypts cached repositories with {kind} in the "
                           f"{env} environment; use KMS encryption (kms.create_key, or template.encryption: KMS).")
        elif is_credentials_secret(args.props, unknowns, what):
            env = environment(args, "tags")
            if env in environments and not has(args.props, "kmsKeyId"):
                report(f"The secret {what} holds upstream credentials in the {env} environment under the AWS managed "
                       "key; set kmsKeyId to a customer-managed key whose policy lets "
                       "AWSServiceRoleForECRPullThroughCache decrypt through Secrets Manager.")
    unknowns.finish()


POLICY = ResourceValidationPolicy(
    name="kms-in-production",
    description="In production environments, credentials secrets and cached repositories use a customer-managed "
                "KMS key.",
    validate=validate,
    config_schema=PolicyConfigSchema(properties={
        "environments": {
            "type": "array", "items": {"type": "string"},
            "description": "Environments (the resource's environment tag, else the stack's) that require KMS. "
                           "Default: prod, production.",
        },
    }),
)
