"""PullThroughCache: every upstream of one registry, plus what the registry shares.

Children, named `<name>-...` and parented to the component:

    <name>-<prefix>     UpstreamCache (one per upstream; see upstream_cache.py)
    <name>-consumer     aws.iam.Policy                               what a workload needs to pull through the cache
    <name>-kms          aws.kms.Key + aws.kms.Alias                  with kms.create_key
    <name>-scanning     aws.ecr.RegistryScanningConfiguration        with scanning
    <name>-consumers    aws.ecr.RegistryPolicy                       with consumers (other accounts, an organization)

The whole argument set is validated (the same checks as the stack config) before the
component registers anything.
"""

import json
from typing import Any, Optional

import pulumi
import pulumi_aws as aws

from . import config, iam, images, naming
from .args import PullThroughCacheArgs, UpstreamOutput
from .context import aws_context
from .upstream_cache import TEMPLATE_ONLY_KEYS, UpstreamCache, merge_tags, plain

TYPE = "ecr-pull-through-cache:index:PullThroughCache"


def _settings(args: PullThroughCacheArgs) -> tuple[config.Settings, Any]:
    """Validate the arguments as a stack config; returns the settings and the tags as given."""
    raw: dict[str, Any] = plain({k: v for k, v in args.items() if k not in ("upstreams", "tags", "template")})
    faults: list[config.Fault] = []
    tags = args.get("tags")
    raw["tags"] = None if isinstance(tags, pulumi.Output) else tags
    raw["template"] = _without_registry_keys(plain(args.get("template")), "template", faults)
    upstreams, credentials = [], {}
    for index, upstream in enumerate(args.get("upstreams") or []):
        entry = plain(dict(upstream)) if isinstance(upstream, dict) else upstream
        if isinstance(entry, dict):
            token = entry.pop("access_token", None)
            key = config.credentials_key(entry)
            if token is not None and key is not None:
                credentials[key] = token
            entry["template"] = _without_registry_keys(entry.get("template"), f"upstreams[{index}] template", faults)
        upstreams.append(entry)
    raw["upstreams"] = upstreams
    raw["credentials"] = credentials or None
    try:
        settings = config.parse_settings(raw, context=None)
    except config.ConfigError as err:
        raise config.ConfigError(faults + err.faults) from None
    if faults:
        raise config.ConfigError(faults)
    return settings, tags


def _without_registry_keys(template: Any, where: str, faults: list[config.Fault]) -> Any:
    if not isinstance(template, dict):
        return template
    for key in TEMPLATE_ONLY_KEYS:
        if template.get(key) is not None:
            faults.append(config.Fault(where, key, "is set by the registry (from kms and consumers); remove it"))
    return {k: v for k, v in template.items() if k not in TEMPLATE_ONLY_KEYS} or None


class PullThroughCache(pulumi.ComponentResource):
    """Amazon ECR pull through caches for a whole registry: one UpstreamCache per upstream registry,
    an optional customer-managed KMS key, and optional scanning of the cached prefixes."""

    registry_url: pulumi.Output[str]
    """`<account>.dkr.ecr.<region>.amazonaws.com`: the private registry that serves the caches."""
    upstreams: pulumi.Output[dict[str, UpstreamOutput]]
    """Every upstream, keyed by its ECR prefix."""
    consumer_policy_arn: pulumi.Output[str]
    """Managed IAM policy that lets a workload pull through every cache prefix (attach it to the workload's role)."""
    consumer_policy_document: pulumi.Output[str]
    """The consumer policy's document (JSON), for workloads in other accounts to grant themselves."""
    image_hosts: pulumi.Output[dict[str, str]]
    """Upstream host -> cache URI (`docker.io` -> `<registry_url>/docker-hub`), for rewriting image references."""
    kms_key_arn: pulumi.Output[Optional[str]]
    """The customer-managed KMS key of secrets and repositories, when there is one."""

    def __init__(self, name: str, args: PullThroughCacheArgs, opts: Optional[pulumi.ResourceOptions] = None):
        settings, tags = _settings(args)
        super().__init__(TYPE, name, {
            "environment": settings.environment,
            "prefixes": [u.prefix for u in settings.upstreams],
        }, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = aws_context(self)
        tags = merge_tags(tags, {"environment": settings.environment})

        kms_key_arn = self._kms_key(name, settings, tags, ctx, child)
        repository_policy = None
        if settings.consumers is not None:
            consumers = settings.consumers
            repository_policy = ctx.partition.apply(lambda p: json.dumps(iam.cached_repository_policy(
                p, consumers.account_ids, consumers.organization_id)))
        caches = [
            UpstreamCache(f"{name}-{naming.slug(u.prefix)}", {
                "upstream": self._upstream_args(u, kms_key_arn, repository_policy),
                "environment": settings.environment,
                "tags": tags,
                "secret_kms_key_arn": kms_key_arn,
                "secret_recovery_window_days": settings.secret_recovery_window_days,
                "scan_on_push": settings.scanning is not None,
            }, child, context=ctx)
            for u in settings.upstreams
        ]
        if settings.scanning is not None:
            self._scanning(name, settings.scanning, caches, child)
        prefixes = pulumi.Output.all(*[c.prefix for c in caches])
        if settings.consumers is not None:
            self._registry_policy(name, settings.consumers, prefixes, ctx, child)

        document = pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id, prefixes).apply(
            lambda v: json.dumps(iam.consumer_policy(v[0], v[1], v[2], v[3])))
        consumer = aws.iam.Policy(
            f"{name}-consumer",
            description=f"Pull images through the ECR pull through caches of {settings.environment}: first pulls "
                        "and steady-state pulls under every cache prefix",
            policy=document,
            tags=tags,
            opts=child,
        )

        self.registry_url = ctx.registry_url
        self.consumer_policy_arn = consumer.arn
        self.consumer_policy_document = document
        self.kms_key_arn = pulumi.Output.from_input(kms_key_arn)
        self.upstreams = pulumi.Output.all(*[
            pulumi.Output.all(
                prefix=c.prefix, kind=c.kind, upstream_url=c.upstream_url, cache_uri=c.cache_uri,
                credential_arn=c.credential_arn, custom_role_arn=c.custom_role_arn,
                upstream_prefix=c.upstream_prefix, template=c.template,
            ) for c in caches
        ]).apply(lambda entries: {e.pop("prefix"): e for e in (dict(x) for x in entries)})
        self.image_hosts = self.upstreams.apply(images.image_hosts)
        self.register_outputs({
            "registryUrl": self.registry_url,
            "upstreams": self.upstreams,
            "consumerPolicyArn": self.consumer_policy_arn,
            "consumerPolicyDocument": self.consumer_policy_document,
            "imageHosts": self.image_hosts,
            "kmsKeyArn": self.kms_key_arn,
        })

    @staticmethod
    def _upstream_args(upstream: config.UpstreamSettings, kms_key_arn: Any, repository_policy: Any) -> dict[str, Any]:
        args = config.upstream_args(upstream)
        if upstream.template.encryption in ("KMS", "KMS_DSSE") and kms_key_arn is not None:
            args["template"]["kms_key_arn"] = kms_key_arn
        if repository_policy is not None:
            args["template"]["repository_policy"] = repository_policy
        return args

    def _registry_policy(self, name: str, consumers: config.ConsumerSettings, prefixes: pulumi.Output,
                         ctx: Any, child: pulumi.ResourceOptions) -> None:
        """Other accounts may create and import cached repositories under the prefixes (and nowhere else)."""
        aws.ecr.RegistryPolicy(
            f"{name}-consumers",
            policy=pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id, prefixes).apply(
                lambda v: json.dumps(iam.registry_policy(v[0], v[1], v[2], v[3], consumers.account_ids,
                                                         consumers.organization_id))),
            opts=child,
        )

    def _kms_key(self, name: str, settings: config.Settings, tags: Any, ctx: Any,
                 child: pulumi.ResourceOptions) -> Any:
        if settings.kms.key_arn:
            return settings.kms.key_arn
        if not settings.kms.create_key:
            return None
        key = aws.kms.Key(
            f"{name}-kms",
            description=f"ECR pull through cache secrets and cached repositories ({settings.environment})",
            policy=pulumi.Output.all(ctx.partition, ctx.region, ctx.account_id, ctx.dns_suffix).apply(
                lambda v: json.dumps(iam.kms_key_policy(v[0], v[1], v[2], v[3]))),
            enable_key_rotation=True,
            deletion_window_in_days=settings.kms.deletion_window_days,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-kms", name_prefix=f"alias/ecr-pull-through-cache-{settings.environment}-",
                      target_key_id=key.key_id, opts=child)
        return key.arn

    def _scanning(self, name: str, scanning: config.ScanningSettings, caches: list[UpstreamCache],
                  child: pulumi.ResourceOptions) -> None:
        filters = pulumi.Output.all(*[c.prefix for c in caches]).apply(lambda prefixes: [
            {"filter": f"{p}/*", "filter_type": "WILDCARD"} for p in prefixes])
        aws.ecr.RegistryScanningConfiguration(
            f"{name}-scanning",
            scan_type=scanning.scan_type,
            rules=[aws.ecr.RegistryScanningConfigurationRuleArgs(
                scan_frequency=scanning.frequency, repository_filters=filters)],
            opts=child,
        )
