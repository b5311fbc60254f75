"""Parse and validate a whole stack config into typed settings, before any resource exists.

The config is one typed model (pydantic v2): `StackConfig` here, its mappings in `sections.py` and its upstreams
(a discriminated union on `kind`) in `upstream_config.py`, built on `model.py`. `parse_settings` takes the plain
config values (the caller reads `pulumi.Config`; this module never does), validates them once against that model,
and either returns `Settings` or raises `ConfigError` listing every fault at once. Each fault names where it is (the
upstream's index and kind), the field, and the fix. A component given plain arguments validates them with the same
models (`upstream_faults`, `template_settings`, `iam_settings`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pulumi.errors import RunError
from pydantic import BeforeValidator, Field

from . import catalog, naming
from . import tags as tag_rules
from .model import (
    Choice,
    Flag,
    Loc,
    SecretValue,
    Section,
    TextList,
    Whole,
    Written,
    check,
    did_you_mean,
    field_path,
    refuse,
    show,
    validate,
)
from .sections import (
    APPLIED_FOR,
    ENCRYPTION_TYPES,
    IAM_PATH,
    KMS_KEY_ARN,
    ORGANIZATION_ID,
    POLICY_ARN,
    RESERVED_TAGS,
    ROLE_ARN,
    SCAN_FREQUENCIES,
    TAG_MUTABILITY,
    TEMPLATE_KEYS,
    TOKEN_KEYS,
    ConsumerSettings,
    IamSettings,
    KmsSettings,
    ManagedToken,
    ScanningSettings,
    Tags,
    TemplateSettings,
    account_text,
    gitlab_group_fault,
)
from .upstream_config import UPSTREAM_KEYS, Upstream, UpstreamEntry, credentials_key
from .yaml12 import is_secure_value

__all__ = [
    "SecretValue",
    "APPLIED_FOR",
    "ENCRYPTION_TYPES",
    "IAM_PATH",
    "KMS_KEY_ARN",
    "ORGANIZATION_ID",
    "POLICY_ARN",
    "RESERVED_TAGS",
    "ROLE_ARN",
    "SCAN_FREQUENCIES",
    "TAG_MUTABILITY",
    "TEMPLATE_KEYS",
    "TOKEN_KEYS",
    "UPSTREAM_KEYS",
    "ConsumerSettings",
    "IamSettings",
    "KmsSettings",
    "ManagedToken",
    "ScanningSettings",
    "TemplateSettings",
    "account_text",
    "credentials_key",
    "did_you_mean",
    "gitlab_group_fault",
]

CONFIG_KEYS = (
    "environment",
    "tags",
    "upstreams",
    "credentials",
    "template",
    "kms",
    "scanning",
    "consumers",
    "secret_recovery_window_days",
    "random_prefix_suffix",
    "iam",
    "registry_policy_statements",
    "upstream_grant_stacks",
)
"""Every config key of the project namespace (docs/config.md), as `Pulumi.yaml` declares them."""

SCALAR_KEYS = ("environment", "secret_recovery_window_days", "random_prefix_suffix")
"""Keys whose values are scalars; every other key holds a list or a mapping (JSON in the runtime's config)."""

OPTIONAL_OBJECT_KEYS = (
    "tags",
    "credentials",
    "template",
    "kms",
    "scanning",
    "consumers",
    "iam",
    "registry_policy_statements",
    "upstream_grant_stacks",
)
"""Keys `Pulumi.yaml` declares with an empty default (`{}` or `[]`), read as absent.

The Pulumi CLI treats every key a project declares without a default as required and refuses the stack before the
program starts (pkg/workspace/config.go, mergeConfig: "Stack '<name>' is missing configuration values"). So the
optional keys carry an empty default, which the CLI merges into the stack's config; an empty value therefore means
"not set", whether the stack wrote it or the default did.
"""

STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", re.ASCII)
"""A fully qualified stack name, `<organization>/<project>/<stack>`."""

MAX_RULES = 50
"""Pull through cache rules per registry per region (not adjustable)."""

GITLAB_COM_HOSTS = frozenset({"gitlab.com", "www.gitlab.com"})
"""Where a token for registry.gitlab.com is made (the only GitLab ECR's gitlab upstream caches from)."""

SECRET_MAP_KEYS = ("credentials",)
"""The keys that hold secrets (upstream tokens): every other key is plain config, and a secret there is refused."""


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """One problem in the stack config."""

    where: str
    """The upstream (`upstreams[2] (gitlab-container-registry)`) or the top-level key."""
    field: str
    """The field inside `where`, empty when the fault is about `where` itself."""
    message: str
    """What is wrong and how to fix it, as a sentence."""

    def __str__(self) -> str:
        location = f"{self.where} {self.field}".strip() if self.field else self.where
        return f"{location}: {self.message}"


class ConfigError(RunError):
    """The stack config is invalid; `faults` lists every problem found.

    A `pulumi.RunError`, so the Pulumi CLI reports the message without a Python traceback.
    """

    def __init__(self, faults: list[Fault], component: str | None = None):
        self.faults = faults
        plural = "problem" if len(faults) == 1 else "problems"
        lines = "\n".join(f"  - {f}" for f in faults)
        subject = f"The arguments of {component} have" if component else "The stack config has"
        super().__init__(f"{subject} {len(faults)} {plural}; nothing was created.\n{lines}")


def upstream_label(index: int, kind: Any) -> str:
    kind = getattr(kind, "value", kind)
    return f"upstreams[{index}] ({kind})" if isinstance(kind, str) and kind else f"upstreams[{index}]"


# --------------------------------------------------------------------------------------------
# Settled settings: what the components are handed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpstreamSettings:
    index: int
    kind: str
    prefix: str
    """The configured prefix; with `random_suffix` the deployed prefix is `<prefix>-<4 hex>`."""
    random_suffix: bool
    upstream_url: str
    template: TemplateSettings
    username: str | None = None
    token: SecretValue | None = None
    token_scopes: tuple[str, ...] = ()
    existing_secret: str | None = None
    registry: str | None = None
    upstream_prefix: str | None = None
    token_type: str | None = None
    managed_token: ManagedToken | None = None
    """A GitLab token the stack creates (the `token:` block) instead of one from `credentials`."""

    @property
    def label(self) -> str:
        return upstream_label(self.index, self.kind)


@dataclass(frozen=True)
class Settings:
    environment: str
    upstreams: tuple[UpstreamSettings, ...]
    tags: dict[str, str] = field(default_factory=dict)
    kms: KmsSettings = field(default_factory=KmsSettings.default)
    scanning: ScanningSettings | None = None
    consumers: ConsumerSettings | None = None
    secret_recovery_window_days: int = 30
    iam: IamSettings = field(default_factory=IamSettings.default)
    registry_policy_statements: tuple[dict[str, Any], ...] = ()
    upstream_grant_stacks: tuple[str, ...] = ()
    """Cache stacks (`org/project/stack`) whose `upstream_grants` for this registry its one registry policy carries."""


@dataclass(frozen=True)
class StackContext:
    """Where the stack deploys; known before any resource exists (from the provider's invokes)."""

    account_id: str
    region: str
    partition: str = "aws"
    dns_suffix: str = "amazonaws.com"


# --------------------------------------------------------------------------------------------
# The whole stack
# --------------------------------------------------------------------------------------------


def _environment(value: Any) -> str:
    problems = naming.environment_faults(value)
    if problems:
        refuse(value, *problems)
    return str(value)


def _registry_statements(value: Any) -> tuple[dict[str, Any], ...]:
    """Statements the registry policy carries besides the project's own (`registry_policy_statements`)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            refuse(value, f"is not valid JSON ({exc.msg})")
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, Mapping) for s in value):
        refuse(value, "must be a list of policy statements (mappings with Effect, Principal, Action and Resource)")
    faults: list[tuple[Loc, str]] = []
    for index, statement in enumerate(value):
        if any(k not in statement for k in ("Effect", "Action", "Principal")) or statement["Effect"] not in (
            "Allow",
            "Deny",
        ):
            faults.append(
                ((index,), "needs Effect (Allow or Deny), Principal and Action, as a registry policy statement does")
            )
        elif str(statement.get("Sid", "")).startswith("FirstPullThroughCache"):
            faults.append(
                (
                    (index,),
                    "uses a Sid the project reserves for its consumer statements (FirstPullThroughCache...); rename it",
                )
            )
    if faults:
        refuse(value, *faults)
    return tuple(dict(s) for s in value)


RegistryStatements = Annotated[
    tuple[dict[str, Any], ...],
    BeforeValidator(_registry_statements),
    Written.of(anyOf=[{"type": "array", "items": {"type": "object"}}, {"type": "string"}]),
]


def _stack_name_faults(stacks: tuple[str, ...]) -> list[str]:
    return [
        f"{show(stack)} is not a fully qualified stack name (<organization>/<project>/<stack>), as "
        "pulumi.StackReference takes it"
        for stack in stacks
        if not STACK_NAME.fullmatch(stack)
    ]


RecoveryWindow = Annotated[int, Whole(7, 30)]
"""Days Secrets Manager keeps a deleted secret recoverable (its API's 7 to 30)."""
ScanFrequency = Annotated[str, Choice(*SCAN_FREQUENCIES["ENHANCED"])]


def _credentials(value: Any) -> dict[str, Any]:
    """The upstreams' tokens keyed by prefix, each text kept as a `SecretValue` (each checked by `StackConfig.settle`,
    so one bad entry does not hide the others from their upstreams). Whatever the value, it is never shown."""
    if not isinstance(value, Mapping):
        refuse(value, "must be a mapping of upstream prefix to token (its value is not shown: it is secret)")
    return {key: secret_of(token) for key, token in value.items()}


def secret_of(token: Any) -> Any:
    """A token as the model keeps it: text as a `SecretValue`, anything else (an Output, a fault) as it is."""
    return SecretValue(token) if isinstance(token, str) and token else token


def _is_token(value: Any) -> bool:
    """Text, or an Output from a program that builds its own config."""
    return isinstance(value, SecretValue) or _is_output(value)


def _is_output(value: Any) -> bool:
    return type(value).__name__ == "Output"


class StackConfig(Section):
    """The project's config keys (`Pulumi.yaml`, namespace `ecr-pull-through-cache`). Fields validate in this order,
    each seeing those before it (the upstreams see the credentials, the stack's random suffix and KMS)."""

    itemwise = {"upstreams": "upstream registries"}
    closed = False

    environment: Annotated[str, BeforeValidator(_environment)] = Field(
        description="Short environment name (lower-case letters, digits, '-'; at most 16), used in names and tags."
    )
    tags: Tags = Field(default_factory=dict, description="Tags on every resource, beside the project's own.")
    iam: IamSettings = Field(
        default_factory=IamSettings.default,
        description="Where the roles and policies the stack creates live, and their permissions boundary.",
    )
    registry_policy_statements: RegistryStatements = Field(
        (),
        description=(
            "Extra registry policy statements (replication, other principals), merged into the one registry policy."
        ),
    )
    upstream_grant_stacks: Annotated[TextList, check(_stack_name_faults)] = Field(
        (), description="Cache stacks (`org/project/stack`) whose upstream_grants this registry's policy carries."
    )
    kms: KmsSettings = Field(
        default_factory=KmsSettings.default,
        description=(
            "A customer-managed key for cached repositories (never for credentials secrets: ECR reads those only under "
            "aws/secretsmanager)."
        ),
    )
    scanning: ScanningSettings | None = Field(
        None, description="Image scanning of the cached prefixes (replaces the registry's scanning configuration)."
    )
    consumers: ConsumerSettings | None = Field(
        None,
        description="Accounts or the organization that may pull through the cache (registry and repository policies).",
    )
    secret_recovery_window_days: RecoveryWindow = Field(
        30, description="Days Secrets Manager keeps a deleted credentials secret recoverable."
    )
    random_prefix_suffix: Flag = Field(False, description="The default of every upstream's random_suffix.")
    credentials: Annotated[dict[str, Any], BeforeValidator(_credentials)] = Field(
        default_factory=dict,
        description=(
            "Upstream tokens keyed by prefix; set each with `pulumi config set --secret --path credentials.<prefix>`."
        ),
    )
    template: TemplateSettings | None = Field(
        None,
        description=(
            "The repository creation template of every upstream (each may override keys in its own `template`)."
        ),
    )
    upstreams: tuple[UpstreamEntry, ...] = Field(
        description="The upstream registries, 1 to 50 (ECR's pull through cache rules per registry and region)."
    )

    _settled: tuple[UpstreamSettings, ...] = ()

    def settle(self, context: dict[str, Any], fault: Callable[[Loc, str], None]) -> StackConfig:
        if not self.given("environment"):
            fault(("environment",), naming.environment_faults(None, arguments=bool(context.get("arguments")))[0])
        for name, token in self.credentials.items():
            if not _is_token(token):
                fault(("credentials", str(name)), "must be a non-empty token string")
        if self.credentials and not context.get("credentials_are_secret", True):
            fault(
                ("credentials",),
                "holds tokens in plain text; set each with "
                "`pulumi config set --secret --path 'credentials.<prefix>' <token>`",
            )
        if not self.failed("upstreams") and not self.items_of("upstreams"):
            fault(("upstreams",), "is required: list at least one upstream registry, for example [{kind: ecr-public}]")
        elif isinstance(self.raw("upstreams"), list) and len(self.raw("upstreams")) > MAX_RULES:
            fault(
                ("upstreams",),
                f"has {len(self.raw('upstreams'))} entries; ECR allows {MAX_RULES} pull through cache rules "
                "per registry and region (not adjustable): split them across regions or accounts",
            )
        default: TemplateSettings = self.template or validate(TemplateSettings, {}, context)[0]
        settled = tuple(self._upstreams(default, context, fault))
        _registry_wide_faults(default, settled, self.tags, context.get("stack"), fault)
        entries = self.raw("upstreams")
        _unused_credentials(self.credentials, entries if isinstance(entries, list) else (), fault)
        _gitlab_host_faults(context.get("gitlab_base_url"), settled, fault)
        result = self.model_copy(update={"template": default})
        result._settled = settled
        return result

    def _upstreams(
        self, default: TemplateSettings, context: dict[str, Any], fault: Callable[[Loc, str], None]
    ) -> Iterable[UpstreamSettings]:
        """Each upstream with its template (the stack's, overridden by its own) and its token, prefixes unique."""
        seen: tuple[dict[str, int], dict[str, int]] = ({}, {})
        template_raw = self.raw("template") if isinstance(self.raw("template"), Mapping) else {}
        reported = {(field_path(loc), message) for loc, message in self.faults_of("template")}
        valid = dict(self.items_of("upstreams"))
        entries = self.raw("upstreams") if isinstance(self.raw("upstreams"), list) else []
        for index, entry in enumerate(entries):
            upstream = valid.get(index)
            if upstream is not None and upstream.prefix:
                _check_unique(index, upstream.prefix, *seen, fault)
            # An upstream's template is checked merged with the stack's, whatever else the entry lacks; its unknown
            # keys are the entry's faults, and the stack's template's faults are not repeated.
            override = entry.get("template") if isinstance(entry, Mapping) else None
            template: TemplateSettings | None = default
            if isinstance(override, Mapping) and override:
                merged = {**template_raw, **{k: v for k, v in override.items() if k in TEMPLATE_KEYS}}
                template, found = validate(TemplateSettings, merged, context)
                for loc, message in found:
                    if (field_path(loc), message) not in reported:
                        fault(("upstreams", index, "template", *loc), message)
            if upstream is None or template is None or upstream.upstream_url is None or upstream.prefix is None:
                continue
            token = self.credentials.get(upstream.prefix)
            yield UpstreamSettings(
                index=index,
                kind=upstream.kind,
                prefix=upstream.prefix,
                random_suffix=bool(upstream.random_suffix),
                upstream_url=upstream.upstream_url,
                template=template,
                username=upstream.username,
                token=_as_secret(token) if token is not None and not upstream.existing_secret else None,
                token_scopes=tuple(upstream.token_scopes or ()),
                existing_secret=upstream.existing_secret,
                registry=upstream.registry,
                upstream_prefix=upstream.upstream_prefix,
                token_type=upstream.token_type,
                managed_token=upstream.token if isinstance(upstream.token, ManagedToken) else None,
            )


def _as_secret(token: Any) -> SecretValue:
    return token if isinstance(token, SecretValue) else SecretValue(token)


def _check_unique(
    index: int,
    prefix: str,
    seen_prefixes: dict[str, int],
    seen_slugs: dict[str, int],
    fault: Callable[[Loc, str], None],
) -> None:
    where = ("upstreams", index, "prefix")
    for other, other_index in seen_prefixes.items():
        if other == prefix:
            fault(where, f"'{prefix}' is already used by upstreams[{other_index}]; each upstream needs its own prefix")
            return
        if naming.prefixes_overlap(other, prefix):
            fault(
                where, f"'{prefix}' overlaps '{other}' of upstreams[{other_index}]; one prefix may not contain another"
            )
            return
    slug = naming.slug(prefix)
    if slug in seen_slugs:
        fault(
            where,
            f"'{prefix}' gives the same resource names as upstreams[{seen_slugs[slug]}] "
            f"('{slug}'); choose a prefix that differs in more than '/' versus '-'",
        )
    seen_prefixes[prefix] = index
    seen_slugs[slug] = index


def _unused_credentials(
    credentials: Mapping[str, Any], entries: Iterable[Any], fault: Callable[[Loc, str], None]
) -> None:
    prefixes = {credentials_key(e) for e in entries if isinstance(e, Mapping)} - {None}
    for key in credentials:
        if key not in prefixes:
            known = ", ".join(sorted(p for p in prefixes if p)) or "none"
            fault(
                ("credentials", str(key)),
                f"matches no upstream prefix ({known}); key each token by its upstream's prefix",
            )


def _gitlab_host_faults(
    gitlab_base_url: str | None, upstreams: Iterable[UpstreamSettings], fault: Callable[[Loc, str], None]
) -> None:
    """A token the stack makes must come from GitLab.com, the only GitLab ECR's gitlab upstream pulls from."""
    if not gitlab_base_url or not any(u.managed_token is not None for u in upstreams):
        return
    host = urllib.parse.urlsplit(gitlab_base_url if "//" in gitlab_base_url else f"//{gitlab_base_url}").hostname
    if host not in GITLAB_COM_HOSTS:
        fault(
            ("gitlab:baseUrl",),
            f"points the GitLab provider at {host or show(gitlab_base_url)}, but ECR's gitlab-container-registry "
            "upstream pulls only from registry.gitlab.com, so a token made there pulls nothing through the "
            "cache; remove gitlab:baseUrl (the provider's default is gitlab.com)",
        )


def _registry_wide_faults(
    default: TemplateSettings,
    upstreams: tuple[UpstreamSettings, ...],
    tags: dict[str, str],
    stack: StackContext | None,
    fault: Callable[[Loc, str], None],
) -> None:
    """Rules that need the whole registry: the region's encryption types, the tags every template adds up to."""
    templates: list[tuple[TemplateSettings, Loc]] = [(default, ("template",))]
    templates += [(u.template, ("upstreams", u.index, "template")) for u in upstreams if u.template != default]
    for template, where in templates:
        if template.encryption == "KMS_DSSE" and stack is not None and stack.region not in catalog.GOVCLOUD_REGIONS:
            govcloud = ", ".join(sorted(catalog.GOVCLOUD_REGIONS))
            fault(
                (*where, "encryption"),
                f"KMS_DSSE exists only in the AWS GovCloud (US) regions ({govcloud}), not in {stack.region}; use KMS",
            )
        if template.tag_repositories:
            added = len(tag_rules.TEMPLATE_PROJECT_TAGS)
            merged = {**tags, **template.resource_tags}
            if len(merged) + added > tag_rules.MAX_TAGS:
                fault(
                    (*where, "resource_tags"),
                    f"with the stack's tags makes {len(merged)} repository tags; the project adds {added} and AWS "
                    f"allows {tag_rules.MAX_TAGS} per repository: drop some",
                )


# --------------------------------------------------------------------------------------------
# Reading the runtime's config
# --------------------------------------------------------------------------------------------


def read_config(lookup: Any, is_secret: Any) -> tuple[dict[str, Any], list[Fault]]:
    """The project's keys from the runtime's config strings (`lookup(key) -> str | None`).

    Not `pulumi.Config.get_object`: its type error echoes the value, a token included. A value that should be
    a list or a mapping and is not JSON is a fault that never shows the value of a secret key.
    """
    raw: dict[str, Any] = {}
    faults: list[Fault] = []
    for key in CONFIG_KEYS:
        text = lookup(key)
        if text is None:
            raw[key] = None
            continue
        if key == "environment":
            raw[key] = text
            continue
        try:
            raw[key] = json.loads(text)
        except ValueError:
            if key in SCALAR_KEYS:
                raw[key] = text
                continue
            # A plain-text token under credentials is a token all the same: never shown.
            hidden = is_secret(key) or key in SECRET_MAP_KEYS
            shown = "its value is not shown: it is secret" if hidden else f"not {show(text)}"
            faults.append(Fault(key, "", f"must be a list or a mapping ({shown})"))
            raw[key] = None
    return raw, faults


def stack_file_path(stack: str, project_dir: Any = ".") -> Any:
    """The stack's file: `ECR_PTC_STACK_FILE` when `ptc preview` runs the program on a file from elsewhere
    (`--config FILE`), else `Pulumi.<stack>.yaml` in the project's `stackConfigDir` (Pulumi.yaml), as the CLI reads
    it (pkg/workspace/project.go, DetectProjectStackPath)."""
    import os
    from pathlib import Path

    given = os.environ.get("ECR_PTC_STACK_FILE")
    if given:
        return Path(given)
    from .yaml12 import stack_dir

    return stack_dir(Path(project_dir)) / f"Pulumi.{stack}.yaml"


def read_stack_file(path: Any) -> Any:
    """The stack file's document, read as the Pulumi CLI and `ptc` read it (`yaml12`: yaml.v3's scalars, merge keys,
    bounded), or None when there is none to read (the CLI has read and checked it before the program runs)."""
    from .yaml12 import YamlError, load_file

    try:
        return load_file(path)
    except YamlError:
        return None


def secrets_outside_credentials(stack_config: Any, project: str) -> list[str]:
    """Paths (`upstreams[3].username`, `tags.team`) of the project's keys in a stack file's `config:` mapping that
    hold a `secure:` value outside `credentials`.

    The runtime marks such a key wholly secret, so its plain parts would flow into outputs and previews as secrets
    (every label hidden), or the secret itself into a plain AWS tag or description. Only `credentials` holds tokens.
    """
    if not isinstance(stack_config, Mapping):
        return []
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            if is_secure_value(value):
                found.append(path)
                return
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    for key, value in stack_config.items():
        name = str(key)
        if ":" in name:
            namespace, name = name.split(":", 1)
            if namespace != project:
                continue  # gitlab:token, aws:secretKey: provider settings are the providers' to keep secret
        if name not in SECRET_MAP_KEYS:
            walk(value, name)
    return found


def plain_secret_leaves(stack_config: Any, project: str) -> list[str]:
    """`credentials` entries of a stack file's `config:` mapping that are not `secure:` values.

    The runtime marks the whole `credentials` key secret as soon as one entry is, so a token written in plain
    text next to secure ones is only visible in the stack file itself.
    """
    if not isinstance(stack_config, Mapping):
        return []
    value = stack_config.get(f"{project}:credentials", stack_config.get("credentials"))
    if not isinstance(value, Mapping):
        return []
    return [str(k) for k, v in value.items() if not is_secure_value(v)]


def region_faults(region: Any) -> list[Fault]:
    if not isinstance(region, str) or catalog.partition_of_region(region) is None:
        return [
            Fault(
                "aws:region",
                "",
                f"{show(region)} is not an AWS region name such as us-east-2 (set it with "
                "`pulumi config set aws:region us-east-2`)",
            )
        ]
    return []


def _named(errors: Iterable[tuple[Loc, str]], entries: Any) -> list[Fault]:
    """Faults at locations of the stack config, named as the messages name them: `upstreams[2] (docker-hub)` and
    the field inside the upstream, else the top-level key and the field inside it."""
    faults = []
    for loc, message in errors:
        if loc[:1] == ("upstreams",) and len(loc) > 1 and isinstance(loc[1], int):
            entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
            kind = entry.get("kind") if isinstance(entry, Mapping) else None
            faults.append(Fault(upstream_label(loc[1], kind), field_path(loc[2:]), message))
        else:
            faults.append(Fault(str(loc[0]) if loc else "", field_path(loc[1:]), message))
    return faults


def parse_settings(
    raw: Mapping[str, Any],
    context: StackContext | None,
    *,
    credentials_are_secret: bool = True,
    present_keys: Iterable[str] = (),
    plain_credentials: Iterable[str] = (),
    misplaced_secrets: Iterable[str] = (),
    gitlab_base_url: str | None = None,
    faults: Iterable[Fault] = (),
    arguments: bool = False,
) -> Settings:
    """Validate the stack config (keys without the project namespace) into `Settings`, once, against `StackConfig`.

    Raises `ConfigError` with every fault found. `credentials_are_secret` tells whether the
    `credentials` key was stored with `--secret`; a plain token is refused. `context` is where
    the stack deploys; without it (inside a component) account and region checks are skipped.
    `present_keys` are the keys the stack sets in the project's namespace: a mistyped one is
    refused rather than ignored. `plain_credentials` are `credentials` entries the stack file holds in plain
    text, `misplaced_secrets` the paths or keys that hold a secret outside `credentials`
    (`secrets_outside_credentials`), `gitlab_base_url` the GitLab provider's `gitlab:baseUrl` (a stack-made token
    must come from GitLab.com), and `faults` those found while reading the config.
    """
    found = [*faults, *_where_secrets_and_keys_are(context, misplaced_secrets, plain_credentials, present_keys)]
    raw = {key: None if key in OPTIONAL_OBJECT_KEYS and value in ({}, []) else value for key, value in raw.items()}
    config, errors = validate(
        StackConfig,
        raw,
        {
            "stack": context,
            "credentials_are_secret": credentials_are_secret,
            "gitlab_base_url": gitlab_base_url,
            "arguments": arguments,  # a component's arguments, not a stack's config: said so in the fixes
        },
    )
    found += _named(errors, raw.get("upstreams"))
    if found or config is None:
        raise ConfigError(found)
    return Settings(
        environment=config.environment,
        upstreams=config._settled,
        tags=config.tags,
        kms=config.kms,
        scanning=config.scanning,
        consumers=config.consumers,
        secret_recovery_window_days=config.secret_recovery_window_days,
        iam=config.iam,
        registry_policy_statements=config.registry_policy_statements,
        upstream_grant_stacks=tuple(dict.fromkeys(config.upstream_grant_stacks)),
    )


def _where_secrets_and_keys_are(
    context: StackContext | None,
    misplaced_secrets: Iterable[str],
    plain_credentials: Iterable[str],
    present_keys: Iterable[str],
) -> list[Fault]:
    """Secrets outside `credentials`, tokens in plain text, the region, and keys the project does not have."""
    faults = [
        Fault(
            path,
            "",
            "is a secret (secure:), but only credentials holds secrets here: a secret elsewhere would reach plain "
            f"tags, names or outputs. Set it in plain text (`pulumi config set --path '{path}' <value>`), or put "
            "a token under credentials.<prefix>",
        )
        for path in misplaced_secrets
    ]
    if context is not None:
        faults.extend(region_faults(context.region))
    faults.extend(
        Fault(
            f"credentials.{key}",
            "",
            f"is stored in plain text; set it with `pulumi config set --secret --path 'credentials.{key}' <token>` "
            "(its value is not shown)",
        )
        for key in plain_credentials
    )
    for key in present_keys:
        if key not in CONFIG_KEYS:
            meant = did_you_mean(key, CONFIG_KEYS)
            hint = f"did you mean '{meant}'?" if meant else f"the settings are {', '.join(CONFIG_KEYS)}"
            faults.append(Fault(key, "", f"is not a setting of this project and would be ignored; {hint}"))
    return faults


# --------------------------------------------------------------------------------------------
# A component's own arguments, validated by the same models
# --------------------------------------------------------------------------------------------


def component_args(args: Any, where: str) -> dict[str, Any]:
    """A component's arguments as a dict (a dict, or the component's Args TypedDict; None as no arguments), or a
    `ConfigError` that names the component: never a Python error from inside it."""
    if args is None:
        return {}
    if not isinstance(args, Mapping):
        raise ConfigError(
            [Fault(where, "", f"takes a mapping of its documented arguments, not {type(args).__name__}")], where
        )
    return dict(args)


def mapping_arg(args: Mapping[str, Any], key: str, where: str, faults: list[Fault]) -> dict[str, Any]:
    """`args[key]` where it must be a mapping (absent: empty); anything else is a fault, read as empty."""
    value = args.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        faults.append(Fault(where, key, f"must be a mapping, not {type(value).__name__}"))
        return {}
    return dict(value)


def tag_args(tags: Any, where: str, faults: list[Fault]) -> Any:
    """Tags given to a component, checked as the config's `tags` are wherever they are known: every key, and every
    value but an Output (passed on as given, as `pulumi.Input[str]` allows). An Output of the whole map passes."""
    if tags is None or _is_output(tags):
        return tags
    if not isinstance(tags, Mapping):
        faults.append(Fault(where, "tags", f"must be a mapping of tag key to value, not {type(tags).__name__}"))
        return None
    later = {key: value for key, value in tags.items() if _is_output(value)}
    checked, found = validate(Tags, {key: "" if key in later else value for key, value in tags.items()})
    faults.extend(Fault(where, f"tags {field_path(loc)}".strip(), message) for loc, message in found)
    return None if checked is None else {**checked, **later}


def upstream_faults(
    entry: Mapping[str, Any],
    where_prefix: str,
    *,
    token: Any = None,
    context: StackContext | None = None,
    random_suffix_default: bool = False,
) -> tuple[list[Fault], Upstream | None]:
    """Check one upstream entry (the config keys of an upstream, without the template) and its token.

    `where_prefix` names the entry in messages (`UpstreamCache 'hub'`); the kind is appended. Returns the faults
    and the settled upstream (None when it has faults). Without `context` (a component given Outputs), the account
    and region checks are skipped and an ECR registry must be given as a full host.
    """
    key = credentials_key(entry)
    upstream, errors = validate(
        UpstreamEntry,
        entry,
        {
            "stack": context,
            "credentials": {key: secret_of(token)} if key and token is not None else {},
            "random_prefix_suffix": random_suffix_default,
            "arguments": True,
        },
    )
    kind = getattr(entry.get("kind"), "value", entry.get("kind"))
    where = f"{where_prefix} ({kind})" if isinstance(kind, str) and kind else where_prefix
    return [Fault(where, field_path(loc), message) for loc, message in errors], upstream


def template_settings(
    raw: Mapping[str, Any],
    where: str,
    kms_enabled: bool,
    field_prefix: str = "template.",
) -> tuple[list[Fault], TemplateSettings]:
    """Validate template settings (config keys of `TEMPLATE_KEYS`) into `TemplateSettings` (defaults when faulty)."""
    template, errors = validate(TemplateSettings, raw, {"kms_enabled": kms_enabled})
    faults = [Fault(where, f"{field_prefix}{field_path(loc)}".rstrip("."), message) for loc, message in errors]
    return faults, template if template is not None else validate(TemplateSettings, {}, {"kms_enabled": kms_enabled})[0]


def iam_settings(raw: Any, where: str = "iam") -> tuple[list[Fault], IamSettings]:
    """Validate IAM placement settings (`path`, `permissions_boundary`)."""
    settings, errors = validate(IamSettings, raw if raw is not None else {})
    return [Fault(where, field_path(loc), message) for loc, message in errors], settings or IamSettings.default()


def registry_statements(raw: Any) -> tuple[list[str], tuple[dict[str, Any], ...]]:
    """Validate extra registry policy statements: the faults (each naming its `[index]`) and the statements."""
    statements, errors = validate(RegistryStatements, raw)
    return [f"{field_path(loc)}: {m}" if loc else m for loc, m in errors], statements or ()
