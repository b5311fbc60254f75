"""UpstreamCache: one upstream registry cached in this account's ECR.

Children, all named `<name>-...` and parented to the component:

    <name>-prefix-suffix    random.RandomId                        only with random_suffix
    <name>-secret           aws.secretsmanager.Secret              kinds that authenticate with a secret
    <name>-credentials      aws.secretsmanager.SecretVersion       (unless existing_secret is given)
    <name>-upstream         aws.iam.Role + aws.iam.RolePolicy      kind ecr: the role ECR pulls through
    <name>-template         aws.iam.Role + aws.iam.RolePolicy      when the template tags or KMS-encrypts
    <name>-template-kms     aws.iam.RolePolicy                     with KMS: the key, in its own policy
    <name>-template         aws.ecr.RepositoryCreationTemplate
    <name>-rule             aws.ecr.PullThroughCacheRule           created last, once the rest exists

The arguments are validated before the component registers anything.
"""

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from . import catalog, config, iam, naming
from .args import TemplateOutput, UpstreamCacheArgs
from .context import AwsContext, aws_context
from .model import validate

TYPE = "ecr-pull-through-cache:index:UpstreamCache"


def plain(value: Any) -> Any:
    """Enums (as the plugin passes them) to their values, recursively."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class UpstreamPlan:
    """One upstream's arguments, validated: what `UpstreamCache` builds from.

    `UpstreamCache` makes one from dict args (`plan_from_args`, which validates them); `PullThroughCache` hands it
    one made from the settings it parsed (`plan_of`), so a config value is checked once on its way to the resources.
    """

    kind: catalog.Kind
    environment: str
    prefix: str
    random_suffix: bool
    upstream_url: str
    upstream_prefix: Optional[str]
    username: Any
    token: Any
    token_scopes: tuple[str, ...]
    token_type: Optional[str]
    managed_token: Optional[config.ManagedToken]
    existing_secret: Optional[str]
    template: config.TemplateSettings
    template_extra: dict[str, Any]
    recovery_window: int
    iam: config.IamSettings
    scan_frequency: Optional[str]
    tags: Any = None
    """The tags every child carries (an Input), beside the environment, kind and prefix tags the component adds."""


def plan_of(
    upstream: config.UpstreamSettings,
    *,
    environment: str,
    tags: Any,
    iam: config.IamSettings,
    recovery_window: int,
    scan_frequency: Optional[str],
    template_extra: dict[str, Any],
) -> UpstreamPlan:
    """The plan of an upstream `parse_settings` has already validated (no second validation): the registry's
    settings handed down. `template_extra` holds the inputs known only later (the registry's KMS key, the merged
    repository policy)."""
    return UpstreamPlan(
        kind=catalog.KINDS[upstream.kind],
        environment=environment,
        prefix=upstream.prefix,
        random_suffix=upstream.random_suffix,
        upstream_url=upstream.upstream_url,
        upstream_prefix=upstream.upstream_prefix,
        username=upstream.username,
        token=upstream.token.reveal() if upstream.token is not None else None,
        token_scopes=upstream.token_scopes,
        token_type=upstream.token_type,
        managed_token=upstream.managed_token,
        existing_secret=upstream.existing_secret,
        template=upstream.template,
        template_extra=template_extra,
        recovery_window=recovery_window,
        iam=iam,
        scan_frequency=scan_frequency,
        tags=tags,
    )


def plan_from_args(name: str, args: UpstreamCacheArgs) -> UpstreamPlan:
    """Validate the arguments; raise `ConfigError` with every fault before anything is created."""
    where = f"UpstreamCache '{name}'"
    given = config.component_args(args, where)
    shape_faults: list[config.Fault] = []
    upstream = plain(config.mapping_arg(given, "upstream", where, shape_faults))
    token = upstream.pop("access_token", None)
    template_raw = config.mapping_arg(upstream, "template", f"{where} upstream", shape_faults)
    upstream.pop("template", None)
    # The KMS key is passed on as given. A repository policy in plain text stays in the template, to be validated
    # with it; one known only later (an Output) is passed on.
    template_extra = {}
    if template_raw.get("kms_key_arn") is not None:
        template_extra["kms_key_arn"] = template_raw.pop("kms_key_arn")
    if template_raw.get("repository_policy") is not None and not isinstance(template_raw["repository_policy"], str):
        template_extra["repository_policy"] = template_raw.pop("repository_policy")
    entry = {k: v for k, v in upstream.items() if v is not None}

    faults, settled = config.upstream_faults(entry, where, token=token)
    faults[:0] = shape_faults
    tags = config.tag_args(given.get("tags"), where, faults)
    for problem in naming.environment_faults(given.get("environment"), arguments=True):
        faults.append(config.Fault(where, "environment", problem))
    recovery, found = validate(config.RecoveryWindow, given.get("secret_recovery_window_days", 30))
    faults.extend(config.Fault(where, "secret_recovery_window_days", message) for _, message in found)
    template_faults, template = config.template_settings(
        template_raw, where, kms_enabled="kms_key_arn" in template_extra
    )
    faults.extend(template_faults)
    iam_faults, iam_settings = config.iam_settings(plain(given.get("iam")), where)
    faults.extend(iam_faults)
    scan_frequency = given.get("scan_frequency")
    if scan_frequency is not None:
        scan_frequency, found = validate(config.ScanFrequency, scan_frequency)
        faults.extend(config.Fault(where, "scan_frequency", message) for _, message in found)
    if faults or settled is None or settled.prefix is None or settled.upstream_url is None:
        raise config.ConfigError(faults, where)
    return UpstreamPlan(
        kind=settled.spec,
        environment=given["environment"],
        prefix=settled.prefix,
        random_suffix=bool(settled.random_suffix),
        upstream_url=settled.upstream_url,
        upstream_prefix=settled.upstream_prefix,
        username=settled.username,
        token=token,
        token_scopes=tuple(settled.token_scopes or ()),
        token_type=settled.token_type,
        managed_token=settled.token if isinstance(settled.token, config.ManagedToken) else None,
        existing_secret=settled.existing_secret,
        template=template,
        template_extra=template_extra,
        recovery_window=recovery,
        iam=iam_settings,
        scan_frequency=scan_frequency,
        tags=tags,
    )


class UpstreamCache(pulumi.ComponentResource):
    """One upstream registry cached in ECR: its credentials secret (or an existing one), its pull
    through cache rule, and the repository creation template that shapes every cached repository."""

    kind: pulumi.Output[str]
    """The upstream kind (the ECR API's upstreamRegistry value)."""
    prefix: pulumi.Output[str]
    """The ECR repository prefix of the cache, including any random suffix."""
    upstream_url: pulumi.Output[str]
    """The upstream registry URL."""
    cache_uri: pulumi.Output[str]
    """`<registry_url>/<prefix>`: where images of this upstream are pulled from."""
    credential_arn: pulumi.Output[Optional[str]]
    """ARN of the credentials secret, for upstreams that authenticate with one."""
    custom_role_arn: pulumi.Output[Optional[str]]
    """ARN of the IAM role an ECR upstream is reached through."""
    upstream_prefix: pulumi.Output[Optional[str]]
    """ECR upstreams: the upstream repository prefix mirrored."""
    template: pulumi.Output[TemplateOutput]
    """The creation-template settings every cached repository of this prefix starts with."""

    def __init__(
        self,
        name: str,
        args: UpstreamCacheArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        context: Optional[AwsContext] = None,
        plan: Optional[UpstreamPlan] = None,
    ):
        """`args` are validated here, unless `plan` is given: the plan `PullThroughCache` made from settings it has
        already validated (then `args` is not read). `context` shares one account/region lookup among sibling
        components; omitted, the component looks it up. (`args` keeps its annotation: the plugin's schema is read
        from it.)"""
        plan = plan if plan is not None else plan_from_args(name, args)
        super().__init__(
            TYPE,
            name,
            {
                "kind": plan.kind.kind,
                "prefix": plan.prefix,
                "upstreamUrl": plan.upstream_url,
                "environment": plan.environment,
            },
            opts,
        )
        child = pulumi.ResourceOptions(parent=self)
        ctx = context or aws_context(self)

        prefix = self._prefix(name, plan, child)
        tags = merge_tags(
            plan.tags, {"environment": plan.environment, "ptc:upstream": plan.kind.kind, "ptc:prefix": prefix}
        )

        credential_arn, rule_needs = self._credentials(name, plan, tags, child)
        custom_role_arn = None
        if plan.kind.kind == "ecr":
            custom_role_arn, role_policy = self._upstream_role(name, plan, prefix, tags, ctx, child)
            rule_needs.append(role_policy)
        template, template_output = self._template(name, plan, prefix, tags, ctx, child)

        # Last: a pull must never find the rule before its template and credentials exist.
        # Delete before replace: AWS allows one rule per prefix (CreatePullThroughCacheRule fails with
        # PullThroughCacheRuleAlreadyExistsException), and a new registry, kind or upstream prefix under the same
        # prefix replaces the rule (UpdatePullThroughCacheRule changes only the credential and role).
        aws.ecr.PullThroughCacheRule(
            f"{name}-rule",
            ecr_repository_prefix=prefix,
            upstream_registry_url=plan.upstream_url,
            credential_arn=credential_arn,
            custom_role_arn=custom_role_arn,
            upstream_repository_prefix=plan.upstream_prefix if plan.kind.kind == "ecr" else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[template, *rule_needs], delete_before_replace=True),
        )

        self.kind = pulumi.Output.from_input(plan.kind.kind)
        self.prefix = pulumi.Output.from_input(prefix)
        self.upstream_url = pulumi.Output.from_input(plan.upstream_url)
        self.cache_uri = pulumi.Output.concat(ctx.registry_url, "/", prefix)
        self.credential_arn = pulumi.Output.from_input(credential_arn)
        self.custom_role_arn = pulumi.Output.from_input(custom_role_arn)
        self.upstream_prefix = pulumi.Output.from_input(plan.upstream_prefix)
        self.template = template_output
        self.register_outputs(
            {
                "kind": self.kind,
                "prefix": self.prefix,
                "upstreamUrl": self.upstream_url,
                "cacheUri": self.cache_uri,
                "credentialArn": self.credential_arn,
                "customRoleArn": self.custom_role_arn,
                "upstreamPrefix": self.upstream_prefix,
                "template": self.template,
            }
        )

    def _prefix(self, name: str, plan: UpstreamPlan, child: pulumi.ResourceOptions) -> pulumi.Input[str]:
        """The prefix as given (a plain value keeps every input built from it plain), or with its random suffix."""
        if not plan.random_suffix:
            return plan.prefix
        suffix = random.RandomId(
            f"{name}-prefix-suffix", byte_length=naming.RANDOM_SUFFIX_BYTES, keepers={"prefix": plan.prefix}, opts=child
        )
        return suffix.hex.apply(lambda hex_: naming.suffixed_prefix(plan.prefix, hex_))

    def _credentials(
        self, name: str, plan: UpstreamPlan, tags: Any, child: pulumi.ResourceOptions
    ) -> tuple[Any, list[pulumi.Resource]]:
        """The secret ARN the rule reads (or None), and the resources the rule must wait for."""
        if not plan.kind.needs_secret:
            return None, []
        if plan.existing_secret:
            if plan.existing_secret.startswith("arn:"):
                return plan.existing_secret, []
            found = aws.secretsmanager.get_secret_output(
                name=plan.existing_secret, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            return found.arn, []
        secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            name_prefix=naming.secret_name_prefix(plan.environment, plan.prefix),
            description=f"{plan.kind.title} credentials of the ECR pull through cache '{plan.prefix}' "
            f"({plan.environment}); JSON with username and accessToken",
            # No kms_key_id, ever: ECR reads the secret through the service-linked role
            # AWSServiceRoleForECRPullThroughCache, which has no KMS permission, so the secret must use the default
            # aws/secretsmanager key (ECR user guide, "Storing your upstream repository credentials in an AWS
            # Secrets Manager secret").
            recovery_window_in_days=plan.recovery_window,
            tags=merge_tags(
                tags,
                {
                    "ptc:token-scopes": " ".join(plan.token_scopes),
                    **({"ptc:token-type": plan.token_type} if plan.token_type else {}),
                    **token_tags(plan.managed_token),
                },
            ),
            opts=child,
        )
        username, token = plan.username, plan.token
        if plan.managed_token is not None:
            username, token = self._gitlab_token(name, plan, child)
        value: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.json_dumps({"username": username, "accessToken": pulumi.Output.secret(token)})
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-credentials", secret_id=secret.id, secret_string=value, opts=child
        )
        return secret.arn, [version]

    def _gitlab_token(self, name: str, plan: UpstreamPlan, child: pulumi.ResourceOptions) -> tuple[Any, Any]:
        """A read_registry-only GitLab token made by the stack; its value goes straight into the secret version.

        The GitLab provider authenticates with GITLAB_TOKEN or the `gitlab:token` secret config (a token allowed
        to create group tokens), never with this project's settings.
        """
        managed = plan.managed_token
        assert managed is not None
        token_name = f"ecr-pull-through-cache-{plan.environment}-{naming.slug(plan.prefix)}"
        if managed.type == "group-access-token":
            # Only read_registry, and the least role that pulls from the group's projects: Reporter unless every
            # project is public (catalog.gitlab_pull_role cites GitLab's permission table). The provider rotates the
            # token on `pulumi up` once it is within rotate_before_days of its expiry.
            token = gitlab_resource(
                GITLAB_GROUP_ACCESS_TOKEN,
                f"{name}-gitlab-token",
                {
                    "group": managed.group,
                    "name": token_name,
                    "description": f"ECR pull through cache '{plan.prefix}' ({plan.environment}): pull only",
                    "accessLevel": managed.access_level,
                    "scopes": ["read_registry"],
                    "rotationConfiguration": {
                        "expirationDays": managed.expires_in_days,
                        "rotateBeforeDays": managed.rotation_days,
                    },
                },
                child,
            )
            # "Any non-blank value as a username" (GitLab docs, "Group access tokens").
            return catalog.GITLAB_ACCESS_TOKEN_USERNAME, token.token
        # Deploy tokens have no rotation: the expiry moves on a fixed schedule (stable between runs), and a new
        # expiry replaces the token, the new one created and stored before the old one is deleted.
        token = gitlab_resource(
            GITLAB_GROUP_DEPLOY_TOKEN,
            f"{name}-gitlab-token",
            {
                "group": managed.group,
                "name": token_name,
                "username": token_name,
                "scopes": ["read_registry"],
                "expiresAt": deploy_token_expiry(managed.expires_in_days, managed.rotation_days),
            },
            child,
        )
        # A deploy token authenticates with its own username (GitLab docs, "Deploy tokens").
        return token.username, token.token

    def _upstream_role(
        self,
        name: str,
        plan: UpstreamPlan,
        prefix: pulumi.Input[str],
        tags: Any,
        ctx: AwsContext,
        child: pulumi.ResourceOptions,
    ) -> tuple[pulumi.Output[str], pulumi.Resource]:
        upstream = catalog.ECR_HOST.fullmatch(plan.upstream_url)
        assert upstream is not None  # validated in plan_from_args or parse_settings
        role = aws.iam.Role(
            f"{name}-upstream",
            description=f"ECR pull through cache '{plan.prefix}' ({plan.environment}) pulls from {plan.upstream_url}",
            assume_role_policy=json.dumps(iam.upstream_role_trust()),
            path=plan.iam.path,
            permissions_boundary=plan.iam.permissions_boundary,
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-upstream",
            role=role.id,
            policy=pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id, prefix).apply(
                lambda v: json.dumps(
                    iam.upstream_role_policy(
                        v[0],
                        v[1],
                        v[2],
                        v[3],
                        upstream.group("account"),
                        upstream.group("region"),
                        plan.upstream_prefix or naming.ROOT,
                    )
                )
            ),
            opts=child,
        )
        return role.arn, policy

    def _template_role(
        self,
        name: str,
        plan: UpstreamPlan,
        prefix: pulumi.Input[str],
        tags: Any,
        ctx: AwsContext,
        uses_kms: bool,
        kms_key_arn: Any,
        child: pulumi.ResourceOptions,
    ) -> tuple[Any, list[pulumi.Resource]]:
        """The role ECR assumes to create this prefix's repositories with their tags and encryption: its ARN, and
        its policies, which the template must wait for."""
        settings = plan.template
        role = aws.iam.Role(
            f"{name}-template",
            description=f"ECR creates cached repositories of '{plan.prefix}' ({plan.environment}) with "
            "their tags and encryption",
            assume_role_policy=json.dumps(iam.template_role_trust()),
            path=plan.iam.path,
            permissions_boundary=plan.iam.permissions_boundary,
            tags=tags,
            opts=child,
        )
        needs: list[pulumi.Resource] = [
            aws.iam.RolePolicy(
                f"{name}-template",
                role=role.id,
                policy=pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id, prefix).apply(
                    lambda v: json.dumps(
                        iam.template_role_policy(
                            v[0],
                            v[1],
                            v[2],
                            v[3],
                            tags=settings.tag_repositories,
                            replication="REPLICATION" in settings.applied_for,
                        )
                    )
                ),
                opts=child,
            )
        ]
        if uses_kms:  # apart, so the repository statement can be checked before the key exists
            needs.append(
                aws.iam.RolePolicy(
                    f"{name}-template-kms",
                    role=role.id,
                    policy=pulumi.Output.all(ctx.region, pulumi.Output.from_input(kms_key_arn), ctx.dns_suffix).apply(
                        lambda v: json.dumps(iam.template_kms_policy(v[0], v[1], v[2]))
                    ),
                    opts=child,
                )
            )
        return role.arn, needs

    def _template(
        self,
        name: str,
        plan: UpstreamPlan,
        prefix: pulumi.Input[str],
        tags: Any,
        ctx: AwsContext,
        child: pulumi.ResourceOptions,
    ) -> tuple[pulumi.Resource, pulumi.Output[Any]]:
        settings = plan.template
        kms_key_arn = plan.template_extra.get("kms_key_arn")
        repository_policy = plan.template_extra.get("repository_policy") or settings.repository_policy
        uses_kms = settings.encryption in ("KMS", "KMS_DSSE")
        resource_tags = merge_tags(tags, settings.resource_tags) if settings.tag_repositories else None
        needs: list[pulumi.Resource] = []
        role_arn: Any = settings.custom_role_arn
        # A template needs a role when it tags repositories or encrypts them with KMS (ECR user guide,
        # "Repository creation templates": customRoleArn).
        if role_arn is None and (settings.tag_repositories or uses_kms):
            role_arn, needs = self._template_role(name, plan, prefix, tags, ctx, uses_kms, kms_key_arn, child)
        template = aws.ecr.RepositoryCreationTemplate(
            f"{name}-template",
            prefix=prefix,
            description=f"Cached repositories of {plan.kind.title} ({plan.environment})",
            applied_fors=list(settings.applied_for),
            image_tag_mutability=settings.image_tag_mutability,
            image_tag_mutability_exclusion_filters=[
                aws.ecr.RepositoryCreationTemplateImageTagMutabilityExclusionFilterArgs(
                    filter=f, filter_type="WILDCARD"
                )
                for f in settings.image_tag_mutability_exclusion_filters
            ]
            or None,
            lifecycle_policy=settings.lifecycle_policy,
            encryption_configurations=[
                aws.ecr.RepositoryCreationTemplateEncryptionConfigurationArgs(
                    encryption_type=settings.encryption, kms_key=kms_key_arn if uses_kms else None
                )
            ],
            resource_tags=resource_tags,
            custom_role_arn=role_arn,
            repository_policy=repository_policy,
            # One template per prefix (CreateRepositoryCreationTemplate fails with TemplateAlreadyExistsException):
            # a replacement must delete first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=needs, delete_before_replace=True),
        )
        output = pulumi.Output.all(
            pulumi.Output.from_input(resource_tags or {}),
            pulumi.Output.from_input(kms_key_arn if uses_kms else None),
            pulumi.Output.from_input(repository_policy),
        ).apply(lambda v: template_output(settings, v[0], v[1], v[2], plan.scan_frequency))
        return template, output


GITLAB_GROUP_ACCESS_TOKEN = "gitlab:index/groupAccessToken:GroupAccessToken"
GITLAB_GROUP_DEPLOY_TOKEN = "gitlab:index/groupDeployToken:GroupDeployToken"
GITLAB_OUTPUTS = ("token", "username", "expiresAt")


def gitlab_resource(type_token: str, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> Any:
    """A resource of the GitLab provider (pulumi-gitlab's plugin, at the pinned package's version).

    Registered as the SDK class would register it (same type token, the engine's property names, `token` a
    secret output), without importing `pulumi_gitlab`: its package imports all of its ~300 modules, 0.25 s of
    every preview for two resource types.
    """
    from importlib.metadata import version

    merged = pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(version=version("pulumi-gitlab"), additional_secret_outputs=["token"])
    )
    outputs = {key: None for key in GITLAB_OUTPUTS if key not in props}  # inputs given keep their values
    return pulumi.CustomResource(type_token, name, {**props, **outputs}, merged)


def deploy_token_expiry(expires_in_days: int, rotate_before_days: int, today: Optional[Any] = None) -> str:
    """An expiry date that stays the same between runs and moves on every `expires - rotate_before` days.

    Windows are counted from 2000-01-01, so every run inside one window computes the same date; the token is
    replaced at the start of the next window, `rotate_before_days` before it would expire.
    """
    import datetime

    today = today or datetime.date.today()
    period = max(1, expires_in_days - rotate_before_days)
    epoch = datetime.date(2000, 1, 1)
    start = epoch + datetime.timedelta(days=((today - epoch).days // period) * period)
    # RFC3339, as pulumi-gitlab's GroupDeployToken.expires_at takes it ("Time the token expires in RFC3339 format");
    # a bare date is refused by the provider's Check.
    return f"{(start + datetime.timedelta(days=expires_in_days)).isoformat()}T00:00:00Z"


def token_tags(managed: Optional[config.ManagedToken]) -> dict[str, str]:
    """What `ptc verify` reads of a token the stack made: its lifetime and rotation window (never the token)."""
    if managed is None:
        return {}
    return {
        "ptc:token-expires-in-days": str(managed.expires_in_days),
        "ptc:token-rotate-before-days": str(managed.rotation_days),
    }


def merge_tags(given: Any, extra: dict[str, Any]) -> Any:
    """Tags as a map of per-key inputs, so one value known only after apply leaves the others known."""
    if isinstance(given, pulumi.Output):
        return pulumi.Output.all(given, pulumi.Output.from_input(extra)).apply(lambda v: {**v[0], **v[1]})
    return {**(given or {}), **extra}


def template_output(
    settings: config.TemplateSettings,
    resource_tags: dict[str, str],
    kms_key_arn: Optional[str],
    repository_policy: Optional[str],
    scan_frequency: Optional[str],
) -> dict[str, Any]:
    """The `template` record of the outputs contract (docs/DESIGN.md section 6)."""
    return {
        "image_tag_mutability": settings.image_tag_mutability,
        "image_tag_mutability_exclusion_filters": list(settings.image_tag_mutability_exclusion_filters),
        "lifecycle_policy": settings.lifecycle_policy,
        "encryption_type": settings.encryption,
        "kms_key_arn": kms_key_arn,
        "resource_tags": dict(resource_tags),
        "applied_for": list(settings.applied_for),
        # Registry scanning governs: any rule whose filter covers the prefix scans images when they are cached
        # (CONTINUOUS_SCAN includes the scan on push). PutImageScanningConfiguration, the per-repository
        # setting, is deprecated in favour of registry scanning (botocore's ECR model).
        "scan_on_push": scan_frequency is not None,
        "scan_frequency": scan_frequency,
        "repository_policy": repository_policy,
    }
