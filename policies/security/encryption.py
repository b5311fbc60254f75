"""Encryption that ECR can live with: credentials secrets on the default key, production templates on a CMK.

- `credentials-default-key`: ECR reads upstream credentials through the service-linked role
  AWSServiceRoleForECRPullThroughCache, which has no KMS permission, so a credentials secret must be
  encrypted with the default `aws/secretsmanager` key (ECR user guide, "Storing your upstream repository
  credentials in an AWS Secrets Manager secret"). Any other key breaks every pull, in every environment.
- `kms-in-production`: in production, creation templates encrypt cached repositories with a customer-managed
  key: `KMS` (or `KMS_DSSE`) with a key ARN. `KMS` without one uses the AWS managed `aws/ecr` key (ECR user
  guide, "Encryption at rest"), which does not count.

The environment comes from the stack's config (`ecr-pull-through-cache:environment`, else the stack name),
never from a tag a resource could spell `Prod`.
"""

from collections.abc import Mapping
from fnmatch import fnmatchcase

import pulumi
from ptc_policy_support.hardening import declare
from pulumi_policy import ReportViolation, ResourceValidationArgs

from facts import SECRET, TEMPLATE, name_list
from scopes import is_credentials_secret
from support import Unknowns, as_list, get, has, label, shown

DEFAULT_ENVIRONMENTS = ["prod*"]
"""Production, as shell patterns matched against the whole environment name: `prod`, `production`, `prod-us-east-2`."""
DEFAULT_SECRET_KEYS = ("alias/aws/secretsmanager",)


def stack_environment() -> str:
    """The stack's environment: the project's `environment` setting, else the stack name."""
    return pulumi.Config("ecr-pull-through-cache").get("environment") or pulumi.get_stack()


def is_default_secret_key(key: object) -> bool:
    """`alias/aws/secretsmanager`, by name or as an alias ARN; any key id or key ARN is a customer-managed key."""
    return isinstance(key, str) and (key in DEFAULT_SECRET_KEYS or key.endswith(":alias/aws/secretsmanager"))


def validate_secret_key(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != SECRET:
        return
    what = label(args.resource_type, args.name)
    unknowns = Unknowns()
    if is_credentials_secret(args.props, unknowns, what):
        with unknowns.guard(what):
            key = get(args.props, "kmsKeyId") if has(args.props, "kmsKeyId") else None
            if key not in (None, "") and not is_default_secret_key(key):
                report(
                    f"The secret {what} holds upstream credentials under the KMS key {shown(key)}; ECR's pull through "
                    "cache reads secrets through AWSServiceRoleForECRPullThroughCache, which has no KMS permission, "
                    "so every pull would fail. Remove kmsKeyId (the default aws/secretsmanager key)."
                )
    unknowns.finish()


def is_production(env: str, patterns: list[str]) -> bool:
    """The one definition of production: the environment matches one of the patterns (case-sensitive, as stack
    names are)."""
    return any(isinstance(p, str) and fnmatchcase(env, p) for p in patterns)


def validate_templates(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TEMPLATE:
        return
    what = label(args.resource_type, args.name)
    config = args.get_config()
    environments = config.get("environments")
    environments = DEFAULT_ENVIRONMENTS if environments is None else environments
    env = stack_environment()
    if not is_production(env, environments):
        return
    unknowns = Unknowns()
    with unknowns.guard(what):
        configs = as_list(get(args.props, "encryptionConfigurations"))
        first = configs[0] if configs and isinstance(configs[0], Mapping) else {}
        kind = get(first, "encryptionType") or "AES256"
        key = get(first, "kmsKey")
        if kind not in ("KMS", "KMS_DSSE"):
            report(
                f"The repository creation template {what} encrypts cached repositories with {shown(kind)} in the {env} "
                "environment; use KMS with a customer-managed key (kms.create_key or kms.key_arn)."
            )
        elif not key:
            report(
                f"The repository creation template {what} uses {kind} without a key in the {env} environment, so "
                "ECR uses the AWS managed aws/ecr key; give a customer-managed key (kms.create_key or kms.key_arn)."
            )
    unknowns.finish()


SECRET_KEY_POLICY = declare(
    "credentials-default-key",
    "Upstream credentials secrets use the default aws/secretsmanager key, the only one ECR's pull "
    "through cache can decrypt.",
    validate_secret_key,
)

POLICY = declare(
    "kms-in-production",
    "In production environments, repository creation templates encrypt cached repositories with a "
    "customer-managed KMS key.",
    validate_templates,
    settings={
        "environments": name_list(
            "Shell patterns of the environments (the stack's environment setting, else its name) "
            "that require a customer-managed key, matched against the whole name. Default: prod* (prod, "
            "production, prod-us-east-2)."
        ),
    },
)
