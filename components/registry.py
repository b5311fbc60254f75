"""PullThroughCache: every upstream of one registry, plus what the registry shares.

Children, named `<name>-...` and parented to the component:

    <name>-<prefix>     UpstreamCache (one per upstream; see upstream_cache.py)
    <name>-consumer     aws.iam.Policy                               what a workload needs to pull through the cache
    <name>-consumer-N   aws.iam.Policy                               more of it, only where one policy cannot hold all
    <name>-kms          aws.kms.Key + aws.kms.Alias                  with kms.create_key (cached repositories only)
    <name>-scanning     aws.ecr.RegistryScanningConfiguration        with scanning
    <name>-consumers    aws.ecr.RegistryPolicy                       with consumers or registry_policy_statements

The whole argument set is validated (the same checks as the stack config) before the
component registers anything.
"""

import json
import re
from typing import Any, Optional, cast

import pulumi
import pulumi_aws as aws

from . import catalog, config, iam, images, naming, upstream_grant
from .args import PullThroughCacheArgs, UpstreamCacheArgs, UpstreamOutput
from .context import aws_context
from .upstream_cache import UpstreamCache, merge_tags, plain, plan_of

TYPE = "ecr-pull-through-cache:index:PullThroughCache"


def _settings(name: str, given: PullThroughCacheArgs) -> tuple[config.Settings, Any]:
    """Validate the arguments as a stack config; returns the settings and the tags as given."""
    args = config.component_args(given, f"PullThroughCache '{name}'")
    raw: dict[str, Any] = plain(
        {k: v for k, v in args.items() if k not in ("upstreams", "tags", "template", "incoming_grants")}
    )
    faults: list[config.Fault] = []
    where = f"PullThroughCache '{name}'"
    tags = config.tag_args(args.get("tags"), where, faults)
    # The model counts the tags; a value known only later counts all the same.
    raw["tags"] = (
        {k: "" if isinstance(v, pulumi.Output) else v for k, v in tags.items()} if isinstance(tags, dict) else None
    )
    raw["template"] = _without_registry_keys(plain(args.get("template")), f"{where} template", faults)
    upstreams: Any = []
    credentials = {}
    entries = args.get("upstreams")
    if not isinstance(entries, (list, tuple)):
        upstreams = entries  # the model says what `upstreams` must be
        entries = []
    for index, upstream in enumerate(entries):
        entry = plain(dict(upstream)) if isinstance(upstream, dict) else upstream
        if isinstance(entry, dict):
            token = entry.pop("access_token", None)
            key = config.credentials_key(entry)
            if token is not None and key is not None:
                credentials[key] = token
            entry["template"] = _without_registry_keys(
                entry.get("template"), f"{where} upstreams[{index}] template", faults
            )
        upstreams.append(entry)
    raw["upstreams"] = upstreams
    incoming = args.get("incoming_grants")
    if incoming is not None and not isinstance(incoming, (list, tuple, pulumi.Output)):
        faults.append(
            config.Fault(
                where,
                "incoming_grants",
                f"must be a list of cache stacks' upstream_grants outputs, not {type(incoming).__name__}",
            )
        )
    raw["credentials"] = credentials or None
    try:
        settings = config.parse_settings(raw, context=None, arguments=True)
    except config.ConfigError as err:  # named as the component's, as a library user wrote them
        raise config.ConfigError(
            faults + [config.Fault(f"{where} {f.where}", f.field, f.message) for f in err.faults], where
        ) from None
    if faults:
        raise config.ConfigError(faults, where)
    return settings, tags


REGISTRY_ONLY_TEMPLATE_KEYS = ("kms_key_arn",)


def _without_registry_keys(template: Any, where: str, faults: list[config.Fault]) -> Any:
    if not isinstance(template, dict):
        return template
    for key in REGISTRY_ONLY_TEMPLATE_KEYS:
        if template.get(key) is not None:
            faults.append(config.Fault(where, key, "is set by the registry (from kms); remove it"))
    return {k: v for k, v in template.items() if k not in REGISTRY_ONLY_TEMPLATE_KEYS} or None


def deployed_prefix_bound(upstream: config.UpstreamSettings) -> str:
    """The longest prefix this upstream can deploy as (the random suffix is fixed-length)."""
    if upstream.random_suffix:
        return naming.suffixed_prefix(upstream.prefix, "f" * naming.RANDOM_SUFFIX_LENGTH)
    return upstream.prefix


def merged_repository_policy(
    partition: str, consumers: Optional[config.ConsumerSettings], own: Optional[str]
) -> Optional[str]:
    """The template's own repository policy plus the consumers' pull statements, as one document."""
    statements: list[Any] = []
    if consumers is not None:
        statements.extend(
            iam.cached_repository_policy(partition, consumers.account_ids, consumers.organization_id)["Statement"]
        )
    if own is not None:
        document = json.loads(own)
        extra = document.get("Statement")
        statements.extend(extra if isinstance(extra, list) else [extra])
    if not statements:
        return None
    return json.dumps({"Version": iam.VERSION, "Statement": statements})


def _sid(text: str) -> str:
    """A policy statement id (letters and digits only) from free text."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", text) if part)


class PullThroughCache(pulumi.ComponentResource):
    """Amazon ECR pull through caches for a whole registry: one UpstreamCache per upstream registry,
    an optional customer-managed KMS key, and optional scanning of the cached prefixes."""

    registry_url: pulumi.Output[str]
    """`<account>.dkr.ecr.<region>.amazonaws.com`: the private registry that serves the caches."""
    upstreams: pulumi.Output[dict[str, UpstreamOutput]]
    """Every upstream, keyed by its ECR prefix."""
    consumer_policy_arns: pulumi.Output[list[str]]
    """Every managed IAM policy a workload attaches to pull through every cache prefix (one, unless IAM's
    6,144-character quota forces a split)."""
    consumer_policy_arn: pulumi.Output[str]
    """The first of `consumer_policy_arns` (deprecated: attach every ARN of `consumer_policy_arns`)."""
    consumer_policy_documents: pulumi.Output[list[str]]
    """The consumer policies' documents (JSON), for workloads in other accounts to grant themselves."""
    consumer_policy_document: pulumi.Output[str]
    """The first of `consumer_policy_documents` (deprecated: use `consumer_policy_documents`)."""
    upstream_grants: pulumi.Output[dict[str, str]]
    """ECR upstreams: upstream registry host -> the registry policy (JSON) its owner applies to let this registry's
    roles pull (see `UpstreamGrant`)."""
    image_hosts: pulumi.Output[dict[str, str]]
    """Image-reference prefix -> cache URI (`docker.io` -> `<registry_url>/docker-hub`; an ECR upstream with an
    upstream prefix is keyed `<host>/<upstream prefix>`), for rewriting image references by prefix."""
    kms_key_arn: pulumi.Output[Optional[str]]
    """The customer-managed KMS key of cached repositories, when there is one."""

    def __init__(
        self,
        name: str,
        args: PullThroughCacheArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        settings: Optional[config.Settings] = None,
        incoming_grants: Any = None,
    ):
        """`args` are validated here as a stack config is, unless `settings` is given: the `config.Settings` a program
        has already parsed (`parse_settings`; see `from_settings`), handed down as they are, so each value is
        checked once. `incoming_grants`: other cache stacks' `upstream_grants` outputs for this registry's one
        policy (also `args["incoming_grants"]`). (`args` keeps its annotation: the plugin's schema is read from it.)"""
        if settings is not None:
            given_tags: Any = dict(settings.tags)
        else:
            settings, given_tags = _settings(name, args)
            incoming_grants = args.get("incoming_grants") if incoming_grants is None else incoming_grants
        super().__init__(
            TYPE,
            name,
            {
                "environment": settings.environment,
                "prefixes": [u.prefix for u in settings.upstreams],
            },
            opts,
        )
        child = pulumi.ResourceOptions(parent=self)
        ctx = aws_context(self)
        tags = merge_tags(given_tags, {"environment": settings.environment})

        kms_key_arn = self._kms_key(name, settings, tags, ctx, child)
        caches = self._caches(name, settings, tags, kms_key_arn, ctx, child)
        if settings.scanning is not None:
            self._scanning(name, settings.scanning, caches, child)
        prefixes = pulumi.Output.all(*[c.prefix for c in caches])
        if settings.consumers is not None or settings.registry_policy_statements or incoming_grants is not None:
            self._registry_policy(name, settings, prefixes, incoming_grants, ctx, child)

        documents, policies = self._consumer_policies(name, settings, caches, ctx, tags, child)

        self.registry_url = ctx.registry_url
        self.consumer_policy_arns = pulumi.Output.all(*[p.arn for p in policies])
        self.consumer_policy_arn = policies[0].arn
        self.consumer_policy_documents = pulumi.Output.all(*documents)
        self.consumer_policy_document = documents[0]
        self.kms_key_arn = pulumi.Output.from_input(kms_key_arn)
        # One Output.all over every cache's outputs, flat: each Output handed to `all` (or returned from an apply) is
        # walked again by the SDK, so nesting one `all` per cache walked every template three times.
        fields = (
            "kind",
            "upstream_url",
            "cache_uri",
            "credential_arn",
            "custom_role_arn",
            "upstream_prefix",
            "template",
        )
        self.upstreams = pulumi.Output.all(
            *[value for c in caches for value in (c.prefix, *(getattr(c, f) for f in fields))]
        ).apply(lambda flat: _upstream_map(flat, fields))
        self.upstream_grants = pulumi.Output.all(ctx.partition, self.upstreams).apply(
            lambda v: upstream_grants(v[0], settings.environment, v[1])
        )
        self.image_hosts = self.upstreams.apply(images.image_hosts)
        self.register_outputs(
            {
                "registryUrl": self.registry_url,
                "upstreams": self.upstreams,
                "consumerPolicyArns": self.consumer_policy_arns,
                "consumerPolicyArn": self.consumer_policy_arn,
                "consumerPolicyDocuments": self.consumer_policy_documents,
                "consumerPolicyDocument": self.consumer_policy_document,
                "upstreamGrants": self.upstream_grants,
                "imageHosts": self.image_hosts,
                "kmsKeyArn": self.kms_key_arn,
            }
        )

    def _caches(
        self,
        name: str,
        settings: config.Settings,
        tags: Any,
        kms_key_arn: Any,
        ctx: Any,
        child: pulumi.ResourceOptions,
    ) -> list[UpstreamCache]:
        """One UpstreamCache per upstream, each built from the plan of its validated settings."""
        return [
            UpstreamCache(
                f"{name}-{naming.slug(u.prefix)}",
                cast(UpstreamCacheArgs, {}),
                child,
                context=ctx,
                plan=plan_of(
                    u,
                    environment=settings.environment,
                    tags=tags,
                    iam=settings.iam,
                    recovery_window=settings.secret_recovery_window_days,
                    scan_frequency=settings.scanning.frequency if settings.scanning is not None else None,
                    template_extra=self._template_extra(u, kms_key_arn, settings.consumers, ctx),
                ),
            )
            for u in settings.upstreams
        ]

    @classmethod
    def from_settings(
        cls,
        name: str,
        settings: config.Settings,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        incoming_grants: Any = None,
    ) -> "PullThroughCache":
        """The registry of settings `config.parse_settings` has already validated (what `__main__.py` does)."""
        return cls(name, cast(PullThroughCacheArgs, {}), opts, settings=settings, incoming_grants=incoming_grants)

    @staticmethod
    def _template_extra(
        upstream: config.UpstreamSettings, kms_key_arn: Any, consumers: Optional[config.ConsumerSettings], ctx: Any
    ) -> dict[str, Any]:
        """The template inputs known only later: the registry's KMS key, and the template's own repository policy
        merged with the consumers' pull statements."""
        extra: dict[str, Any] = {}
        if upstream.template.encryption in ("KMS", "KMS_DSSE") and kms_key_arn is not None:
            extra["kms_key_arn"] = kms_key_arn
        if consumers is not None:
            own = upstream.template.repository_policy
            extra["repository_policy"] = ctx.partition.apply(lambda p: merged_repository_policy(p, consumers, own))
        return extra

    def _consumer_policies(
        self,
        name: str,
        settings: config.Settings,
        caches: list[UpstreamCache],
        ctx: Any,
        tags: Any,
        child: pulumi.ResourceOptions,
    ) -> tuple[list[pulumi.Output[str]], list[Any]]:
        """One managed policy per group of prefixes that fits IAM's quota; decided before any value is known."""
        bounds = {deployed_prefix_bound(u): u.template.tag_repositories for u in settings.upstreams}
        by_bound = {
            deployed_prefix_bound(u): (cache, u.template.tag_repositories)
            for u, cache in zip(settings.upstreams, caches, strict=True)
        }
        documents: list[pulumi.Output[str]] = []
        policies: list[aws.iam.Policy] = []
        for index, group in enumerate(iam.consumer_policy_groups(bounds)):
            members = [by_bound[b] for b in group]

            def consumer_document(v: list[Any], members: list[Any] = members) -> str:
                return json.dumps(
                    iam.consumer_policy(v[0], v[1], v[2], {p: t for p, (_, t) in zip(v[3:], members, strict=True)})
                )

            document = pulumi.Output.all(
                ctx.partition, ctx.region, ctx.account_id, *[c.prefix for c, _ in members]
            ).apply(consumer_document)
            suffix = "" if index == 0 else f"-{index + 1}"
            policies.append(
                aws.iam.Policy(
                    f"{name}-consumer{suffix}",
                    description=f"Pull images through the ECR pull through caches of {settings.environment}: first "
                    "pulls and steady-state pulls under the cache prefixes" + (f" (part {index + 1})" if index else ""),
                    path=settings.iam.path,
                    policy=document,
                    tags=tags,
                    opts=child,
                )
            )
            documents.append(document)
        return documents, policies

    def _registry_policy(
        self,
        name: str,
        settings: config.Settings,
        prefixes: pulumi.Output[list[str]],
        incoming: Any,
        ctx: Any,
        child: pulumi.ResourceOptions,
    ) -> None:
        """The registry's one policy (AWS keeps one per registry and region, and PutRegistryPolicy replaces it):
        other accounts may create and import cached repositories under the prefixes (and nowhere else), the stack's
        extra statements, and the grants other cache stacks make to this registry."""
        consumers = settings.consumers
        extra = settings.registry_policy_statements

        def document(v: list[Any]) -> str:
            partition, region, account, names, grants = v
            if not isinstance(grants, list):
                raise upstream_grant.GrantError(
                    f"PullThroughCache '{name}' incoming_grants: must be a list of cache stacks' upstream_grants "
                    f"outputs, not {type(grants).__name__}"
                )
            host = f"{account}.dkr.ecr.{region}.{catalog.partition_of_region(region)[1]}"  # type: ignore[index]
            own = iam.registry_policy(
                partition,
                region,
                account,
                names if consumers is not None else [],
                consumers.account_ids if consumers else (),
                consumers.organization_id if consumers else None,
                extra,
            )
            statements = upstream_grant.merge_statements(host, own["Statement"], list(grants or []))
            return iam.registry_policy_text({"Version": iam.VERSION, "Statement": statements})

        aws.ecr.RegistryPolicy(
            f"{name}-consumers",
            policy=pulumi.Output.all(
                ctx.partition, ctx.region, ctx.account_id, prefixes, pulumi.Output.from_input(incoming or [])
            ).apply(document),
            opts=child,
        )

    def _kms_key(self, name: str, settings: config.Settings, tags: Any, ctx: Any, child: pulumi.ResourceOptions) -> Any:
        if settings.kms.key_arn:
            return settings.kms.key_arn
        if not settings.kms.create_key:
            return None
        key = aws.kms.Key(
            f"{name}-kms",
            description=f"ECR pull through cache: cached repositories ({settings.environment})",
            policy=pulumi.Output.all(ctx.partition, ctx.account_id).apply(
                lambda v: json.dumps(iam.kms_key_policy(v[0], v[1]))
            ),
            enable_key_rotation=True,
            deletion_window_in_days=settings.kms.deletion_window_days,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-kms",
            name_prefix=f"alias/ecr-pull-through-cache-{settings.environment}-",
            target_key_id=key.key_id,
            opts=child,
        )
        return key.arn

    def _scanning(
        self, name: str, scanning: config.ScanningSettings, caches: list[UpstreamCache], child: pulumi.ResourceOptions
    ) -> None:
        # The narrowest valid filter per prefix (naming.scanning_filter: '__' and '--' become '*').
        filters: pulumi.Output[Any] = pulumi.Output.all(*[c.prefix for c in caches]).apply(
            lambda prefixes: [{"filter": naming.scanning_filter(p), "filter_type": "WILDCARD"} for p in prefixes]
        )
        aws.ecr.RegistryScanningConfiguration(
            f"{name}-scanning",
            scan_type=scanning.scan_type,
            rules=[
                aws.ecr.RegistryScanningConfigurationRuleArgs(
                    scan_frequency=scanning.frequency, repository_filters=filters
                )
            ],
            opts=child,
        )


def upstream_grants(partition: str, environment: str, upstreams: dict[str, Any]) -> dict[str, str]:
    """Upstream registry host -> registry policy (JSON) its owner applies so that this registry's roles may pull.

    ECR user guide, "Setting up permissions for cross-account ECR to ECR PTC": the upstream registry's owner
    grants the downstream registry through its registry or repository policies.
    """
    grants: dict[str, list[Any]] = {}
    for prefix, upstream in sorted(upstreams.items()):
        if upstream.get("kind") != "ecr" or not upstream.get("custom_role_arn"):
            continue
        host = str(upstream["upstream_url"])
        match = catalog.ECR_HOST.fullmatch(host)
        if match is None:
            continue
        grants.setdefault(host, []).append(
            iam.upstream_grant_statement(
                partition,
                match.group("region"),
                match.group("account"),
                upstream.get("upstream_prefix") or naming.ROOT,
                upstream["custom_role_arn"],
                sid=f"PullThroughCache{_sid(environment)}{_sid(prefix)}",
            )
        )
    return {host: json.dumps({"Version": iam.VERSION, "Statement": statements}) for host, statements in grants.items()}


def _upstream_map(flat: list[Any], fields: tuple[str, ...]) -> dict[str, UpstreamOutput]:
    """`upstreams` from the flat list of (prefix, *fields) per cache."""
    width = 1 + len(fields)
    return {
        flat[i]: cast(UpstreamOutput, dict(zip(fields, flat[i + 1 : i + width], strict=True)))
        for i in range(0, len(flat), width)
    }
