"""Parse and validate a whole stack config into typed settings, before any resource exists.

`parse_settings` takes the plain config values (the caller reads `pulumi.Config`; this module
never does) and either returns `Settings` or raises `ConfigError` listing every fault at once.
Each fault names where it is (the upstream's index and kind), the field, and the fix.

The per-upstream checks (`upstream_faults`) are shared with the components, so a program that
uses `UpstreamCache` directly, or through the plugin, gets the same refusals.
"""

from __future__ import annotations

import difflib
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pulumi.errors import RunError

from . import catalog, iam, lifecycle, naming
from . import tags as tag_rules

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
"""Every config key of the project namespace (docs/DESIGN.md section 5 and the project's own)."""

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

UPSTREAM_KEYS = (
    "kind",
    "prefix",
    "random_suffix",
    "username",
    "token_scopes",
    "token_type",
    "existing_secret",
    "registry",
    "upstream_prefix",
    "template",
    "token",
)
TOKEN_KEYS = ("group", "type", "expires_in_days", "rotate_before_days", "projects")
DEFAULT_TOKEN_DAYS = 90
DEFAULT_ROTATE_BEFORE_DAYS = 14
TEMPLATE_KEYS = (
    "image_tag_mutability",
    "image_tag_mutability_exclusion_filters",
    "untagged_expiry_days",
    "max_image_count",
    "lifecycle_policy",
    "encryption",
    "tag_repositories",
    "applied_for",
    "repository_policy",
    "resource_tags",
    "custom_role_arn",
)
TAG_MUTABILITY = catalog.TAG_MUTABILITY
ENCRYPTION_TYPES = ("AES256", "KMS", "KMS_DSSE")
APPLIED_FOR = ("PULL_THROUGH_CACHE", "REPLICATION", "CREATE_ON_PUSH")
SCAN_FREQUENCIES = {"BASIC": ("SCAN_ON_PUSH",), "ENHANCED": ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")}
RESERVED_TAGS = tag_rules.PROJECT_TAGS
EXCLUSION_FILTER = re.compile(r"[0-9a-zA-Z._*-]{1,128}", re.ASCII)
MAX_EXCLUSION_FILTERS = 5
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}", re.ASCII)
KMS_KEY_ARN = re.compile(r"arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-z0-9-]+", re.ASCII)
ROLE_ARN = re.compile(r"arn:aws[a-z0-9-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
POLICY_ARN = re.compile(r"arn:aws[a-z0-9-]*:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]{1,512}", re.ASCII)
IAM_PATH = re.compile(r"(/[A-Za-z0-9.,+@=_-]+)*/", re.ASCII)
"""botocore's IAM `policyPathType`, stricter than the roles' `pathType`; one path serves both, so the stricter."""
"""`ScanningRepositoryFilterValue` in botocore's ECR model (1-255 characters)."""
FINE_GRAINED_GITHUB_TOKEN = "github_pat_"


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

    def __init__(self, faults: list[Fault]):
        self.faults = faults
        plural = "problem" if len(faults) == 1 else "problems"
        lines = "\n".join(f"  - {f}" for f in faults)
        super().__init__(f"The stack config has {len(faults)} {plural}; nothing was created.\n{lines}")


class SecretValue:
    """A token read from config; never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('[secret]')"

    __str__ = __repr__


def upstream_label(index: int, kind: Any) -> str:
    return f"upstreams[{index}] ({kind})" if isinstance(kind, str) and kind else f"upstreams[{index}]"


# --------------------------------------------------------------------------------------------
# Typed settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateSettings:
    """Settings of the repository creation template (and so of every cached repository) for one prefix."""

    image_tag_mutability: str = "MUTABLE"
    image_tag_mutability_exclusion_filters: tuple[str, ...] = ()
    lifecycle_policy: str = field(default_factory=lifecycle.default_lifecycle_policy)
    encryption: str = "AES256"
    tag_repositories: bool = True
    applied_for: tuple[str, ...] = ("PULL_THROUGH_CACHE",)
    repository_policy: str | None = None
    """The template's own repository policy (canonical JSON); the registry adds its consumers' statements."""
    resource_tags: dict[str, str] = field(default_factory=dict)
    """Tags of cached repositories besides the stack's (with tag_repositories)."""
    custom_role_arn: str | None = None
    """A role managed elsewhere that ECR assumes for this template, instead of the one the stack creates."""


@dataclass(frozen=True)
class ManagedToken:
    """A least-privilege GitLab token the stack creates: read_registry only, the least role that pulls from the
    group's projects (`access_level`), expiring and rotated."""

    group: str
    type: str = "group-access-token"
    expires_in_days: int = DEFAULT_TOKEN_DAYS
    rotate_before_days: int = DEFAULT_ROTATE_BEFORE_DAYS
    projects: str = "private"

    @property
    def access_level(self) -> str:
        return catalog.gitlab_pull_role(self.projects)


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
class KmsSettings:
    create_key: bool = False
    key_arn: str | None = None
    deletion_window_days: int = 30

    @property
    def enabled(self) -> bool:
        return self.create_key or self.key_arn is not None


@dataclass(frozen=True)
class ScanningSettings:
    scan_type: str = "BASIC"
    frequency: str = "SCAN_ON_PUSH"


@dataclass(frozen=True)
class IamSettings:
    """Where the roles and policies the stack creates live, and the boundary its roles carry."""

    path: str = "/"
    permissions_boundary: str | None = None


@dataclass(frozen=True)
class ConsumerSettings:
    account_ids: tuple[str, ...] = ()
    organization_id: str | None = None


@dataclass(frozen=True)
class Settings:
    environment: str
    upstreams: tuple[UpstreamSettings, ...]
    tags: dict[str, str] = field(default_factory=dict)
    kms: KmsSettings = field(default_factory=KmsSettings)
    scanning: ScanningSettings | None = None
    consumers: ConsumerSettings | None = None
    secret_recovery_window_days: int = 30
    iam: IamSettings = field(default_factory=IamSettings)
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
# Small typed readers: each returns the value or None and records a fault.
# --------------------------------------------------------------------------------------------


def did_you_mean(word: Any, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely misspells: equal once case, `-` and `_` are ignored (`dockerhub`, `Docker_Hub`
    for `docker-hub`), else difflib's closest at its default cutoff (`usename` for `username`)."""
    if not isinstance(word, str) or not word:
        return None
    choices = list(choices)

    def squash(text: str) -> str:
        return text.lower().replace("-", "").replace("_", "")

    for choice in choices:
        if squash(choice) == squash(word):
            return choice
    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None


class _Collector:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.misspelt: set[tuple[str, str]] = set()
        """(where, field) that a mistyped key of the same mapping most likely means: "is required" for it is noise."""

    def add(self, where: str, field_: str, message: str) -> None:
        if message.startswith("is required") and (where, field_) in self.misspelt:
            return
        self.faults.append(Fault(where, field_, message))

    def string(self, where: str, field_: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.add(where, field_, f"must be a non-empty string, not {_show(value)}")
            return None
        return value

    def boolean(self, where: str, field_: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return bool(value == "true")
        self.add(where, field_, f"must be true or false, not {_show(value)}")
        return default

    def integer(self, where: str, field_: str, value: Any, default: int, low: int, high: int) -> int:
        if value is None:
            return default
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip(), re.ASCII):
            value = int(value)  # ASCII digits only: "²".isdigit() is true, int("²") is not
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.add(where, field_, f"must be a whole number from {low} to {high}, not {_show(value)}")
            return default
        return value

    def choice(self, where: str, field_: str, value: Any, choices: Iterable[str], default: str) -> str:
        if value is None:
            return default
        choices = tuple(choices)
        if value not in choices:
            meant = did_you_mean(value, choices)
            hint = f"; did you mean '{meant}'?" if meant else ""
            self.add(where, field_, f"{_show(value)} is not one of {', '.join(choices)}{hint}")
            return default
        return str(value)

    def account_ids(self, where: str, field_: str, value: Any) -> list[str] | None:
        """12-digit account ids; `pulumi config set --path` stores one without a leading zero as an integer
        (sdk/go/common/resource/config/object.go, coerce), so a 12-digit integer is taken as its digits."""
        if isinstance(value, list):
            value = [account_text(v) for v in value]
        return self.string_list(where, field_, value)

    def string_list(self, where: str, field_: str, value: Any) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.add(where, field_, f"must be a list of non-empty strings, not {_show(value)}")
            return None
        return value

    def mapping(self, where: str, field_: str, value: Any, known: Iterable[str] | None = None) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.add(where, field_, f"must be a mapping, not {_show(value)}")
            return None
        if known is not None:
            known = tuple(known)
            for key in value:
                if key not in known:
                    meant = did_you_mean(key, (k for k in known if k not in value))
                    if meant is not None:
                        self.misspelt.add((where, f"{field_}.{meant}" if field_ else meant))
                    hint = f"did you mean '{meant}'? (keys: " if meant else "use one of "
                    self.add(
                        where,
                        f"{field_}.{key}" if field_ else str(key),
                        f"is not a known key; {hint}{', '.join(known)}{')' if meant else ''}",
                    )
        return dict(value)


def account_text(value: Any) -> Any:
    """A 12-digit integer as the account id it was written as; any other value unchanged."""
    if isinstance(value, int) and not isinstance(value, bool) and 10**11 <= value < 10**12:
        return str(value)
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# Template settings
# --------------------------------------------------------------------------------------------


def _exclusion_filter_faults(c: _Collector, where: str, field_: str, mutability: str, filters: list[str]) -> None:
    """Tag filters only with a *_WITH_EXCLUSION setting, and then 1 to 5 of ECR's shape."""
    with_exclusion = mutability.endswith("_WITH_EXCLUSION")
    if filters and not with_exclusion:
        c.add(
            where,
            field_,
            f"only applies with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not {mutability}; "
            "remove the filters or change image_tag_mutability",
        )
    if with_exclusion and not filters:
        c.add(
            where,
            field_,
            f"is required with {mutability}: list 1 to {MAX_EXCLUSION_FILTERS} tag filters such as 'latest'",
        )
    if len(filters) > MAX_EXCLUSION_FILTERS:
        c.add(where, field_, f"has {len(filters)} filters; ECR allows at most {MAX_EXCLUSION_FILTERS}")
    for flt in filters:
        if not EXCLUSION_FILTER.fullmatch(flt) or flt.count("*") > 2:
            c.add(where, field_, f"'{flt}' must be 1-128 letters, digits or '._-*' with at most two '*' wildcards")


def _lifecycle_policy(c: _Collector, where: str, f: str, raw: Mapping[str, Any]) -> str:
    """The generated lifecycle policy (expiry days, image count), or the one given in its place."""
    days = c.integer(
        where,
        f"{f}untagged_expiry_days",
        raw.get("untagged_expiry_days"),
        lifecycle.DEFAULT_UNTAGGED_EXPIRY_DAYS,
        1,
        3650,
    )
    count = c.integer(
        where, f"{f}max_image_count", raw.get("max_image_count"), lifecycle.DEFAULT_MAX_IMAGE_COUNT, 1, 10000
    )
    policy = lifecycle.default_lifecycle_policy(days, count)
    custom = raw.get("lifecycle_policy")
    if custom is None:
        return policy
    if raw.get("untagged_expiry_days") is not None or raw.get("max_image_count") is not None:
        c.add(
            where,
            f"{f}lifecycle_policy",
            "replaces the generated policy; drop untagged_expiry_days and max_image_count, or drop it",
        )
    if isinstance(custom, Mapping):
        custom = lifecycle.canonical_json(custom)
    if not isinstance(custom, str):
        c.add(where, f"{f}lifecycle_policy", f"must be a JSON document (text or mapping), not {_show(custom)}")
        return policy
    problems = lifecycle.lifecycle_policy_faults(custom)
    for problem in problems:
        c.add(where, f"{f}lifecycle_policy", problem)
    return policy if problems else custom


def _template_faults(
    c: _Collector, where: str, raw: Mapping[str, Any], kms_enabled: bool, field_prefix: str = "template."
) -> TemplateSettings:
    f = field_prefix
    mutability = c.choice(where, f"{f}image_tag_mutability", raw.get("image_tag_mutability"), TAG_MUTABILITY, "MUTABLE")
    filters = (
        c.string_list(
            where, f"{f}image_tag_mutability_exclusion_filters", raw.get("image_tag_mutability_exclusion_filters")
        )
        or []
    )
    _exclusion_filter_faults(c, where, f"{f}image_tag_mutability_exclusion_filters", mutability, filters)

    policy = _lifecycle_policy(c, where, f, raw)

    encryption = c.choice(
        where, f"{f}encryption", raw.get("encryption"), ENCRYPTION_TYPES, "KMS" if kms_enabled else "AES256"
    )
    tag_repositories = c.boolean(where, f"{f}tag_repositories", raw.get("tag_repositories"), True)
    applied_for = c.string_list(where, f"{f}applied_for", raw.get("applied_for")) or ["PULL_THROUGH_CACHE"]
    for item in applied_for:
        if item not in APPLIED_FOR:
            c.add(where, f"{f}applied_for", f"'{item}' is not one of {', '.join(APPLIED_FOR)}")
    if "PULL_THROUGH_CACHE" not in applied_for:
        c.add(where, f"{f}applied_for", "must include PULL_THROUGH_CACHE, or cached repositories get no template")
    repository_policy = _policy_document(
        c,
        where,
        f"{f}repository_policy",
        raw.get("repository_policy"),
        iam.REPOSITORY_POLICY_MAX,
        "RepositoryPolicyText",
    )
    if repository_policy is not None:
        for fault in iam.repository_policy_faults(json.loads(repository_policy)):
            c.add(where, f"{f}repository_policy", fault)
    resource_tags = _tags(c, raw.get("resource_tags"), where, f"{f}resource_tags")
    role = c.string(where, f"{f}custom_role_arn", raw.get("custom_role_arn"))
    if role is not None and not ROLE_ARN.fullmatch(role):
        c.add(
            where, f"{f}custom_role_arn", f"{_show(role)} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
        )
        role = None
    return TemplateSettings(
        image_tag_mutability=mutability,
        image_tag_mutability_exclusion_filters=tuple(filters),
        lifecycle_policy=policy,
        encryption=encryption,
        tag_repositories=tag_repositories,
        applied_for=tuple(dict.fromkeys(applied_for)),
        repository_policy=repository_policy,
        resource_tags=resource_tags,
        custom_role_arn=role,
    )


# --------------------------------------------------------------------------------------------
# One upstream
# --------------------------------------------------------------------------------------------


def upstream_faults(
    entry: Mapping[str, Any],
    where_prefix: str,
    *,
    has_token: bool,
    token: Any = None,
    context: StackContext | None = None,
    random_suffix_default: bool = False,
) -> tuple[list[Fault], dict[str, Any]]:
    """Check one upstream entry (config keys of docs/DESIGN.md section 5, without the template).

    `where_prefix` names the entry in messages (`upstreams[2]`); the kind is appended. Returns
    the faults and the normalized values (`kind`, `prefix`, `upstream_url`, ...). The account and
    region checks need `context`; without one (a component given Outputs), they are skipped and
    an ECR registry must be given as a full host.
    """
    c = _Collector()
    kind = entry.get("kind")
    if isinstance(kind, Enum):
        kind = kind.value
    if kind is not None and not isinstance(kind, str):
        c.add(
            where_prefix,
            "kind",
            f"must be one upstream kind as text ({', '.join(catalog.KIND_NAMES)}), not {_show(kind)}",
        )
        return c.faults, {}
    where = f"{where_prefix} ({kind})" if isinstance(kind, str) and kind else where_prefix
    c.mapping(where, "", entry, UPSTREAM_KEYS)
    values: dict[str, Any] = {}
    spec = _known_kind(c, where, kind)
    if spec is None:
        return c.faults, values
    values["kind"] = kind
    _prefix_values(c, where, entry, spec, random_suffix_default, values)
    _registry_values(c, where, entry, spec, context, values)
    _upstream_prefix_values(c, where, entry, spec.kind, context, values)

    # a GitLab token the stack creates
    managed = _managed_token(c, where, entry.get("token"), spec.kind)
    if managed is None and entry.get("token") is not None and spec.kind == "gitlab-container-registry":
        # The stack is meant to create the token: the block's own faults say what to fix, and the faults of the
        # other path (username, credentials, token_scopes) would only bury them.
        return c.faults, values
    credentials_key = f"credentials.{values['prefix']}" if values["prefix"] else "credentials"
    if managed is not None:
        _managed_token_values(c, where, entry, managed, credentials_key, has_token, values)
        return c.faults, values
    _credential_values(c, where, entry, spec, credentials_key, has_token, token, context, values)
    return c.faults, values


def _known_kind(c: _Collector, where: str, kind: str | None) -> catalog.Kind | None:
    """The kind's facts, or None with a fault: missing, or not a kind ("did you mean")."""
    if kind is None:
        c.add(where, "kind", f"is required: one of {', '.join(catalog.KIND_NAMES)}")
        return None
    if kind not in catalog.KINDS:
        meant = did_you_mean(kind, catalog.KIND_NAMES)
        hint = f"did you mean '{meant}'? (kinds: " if meant else "use one of "
        c.add(
            where,
            "kind",
            f"{_show(kind)} is not a supported upstream; {hint}{', '.join(catalog.KIND_NAMES)}{')' if meant else ''}",
        )
        return None
    return catalog.KINDS[kind]


def _prefix_values(
    c: _Collector,
    where: str,
    entry: Mapping[str, Any],
    spec: catalog.Kind,
    random_suffix_default: bool,
    values: dict[str, Any],
) -> None:
    random_suffix = c.boolean(where, "random_suffix", entry.get("random_suffix"), random_suffix_default)
    prefix = c.string(where, "prefix", entry.get("prefix"))
    if prefix is None and entry.get("prefix") is None:
        if spec.default_prefix is None:
            c.add(where, "prefix", "is required for kind 'ecr' (there is no default); for example 'upstream-ecr'")
        prefix = spec.default_prefix
    if prefix is not None:
        prefix = naming.normalize_prefix(prefix)
        reserve = naming.RANDOM_SUFFIX_LENGTH + 1 if random_suffix else 0
        for problem in naming.prefix_faults(prefix, reserve=reserve):
            c.add(where, "prefix", problem)
    values["prefix"] = prefix
    values["random_suffix"] = random_suffix


def _registry_values(
    c: _Collector,
    where: str,
    entry: Mapping[str, Any],
    spec: catalog.Kind,
    context: StackContext | None,
    values: dict[str, Any],
) -> None:
    """The upstream URL: the kind's own, or built from `registry` (Azure, ECR)."""
    kind = spec.kind
    registry = c.string(where, "registry", account_text(entry.get("registry")))
    values["registry"] = registry
    if not spec.needs_registry:
        if entry.get("registry") is not None:
            c.add(
                where,
                "registry",
                f"only applies to kinds azure-container-registry and ecr; '{kind}' always uses {spec.url}; remove it",
            )
        values["upstream_url"] = spec.url
        return
    if registry is None:
        if entry.get("registry") is None:
            example = (
                "acmeprod (for acmeprod.azurecr.io)"
                if kind == "azure-container-registry"
                else "123456789012.dkr.ecr.eu-west-1.amazonaws.com or a 12-digit account id"
            )
            c.add(where, "registry", f"is required for kind '{kind}': for example {example}")
        return
    if kind == "ecr" and context is None and catalog.ACCOUNT_ID.fullmatch(registry):
        c.add(
            where,
            "registry",
            f"'{registry}' is an account id; give the full registry host '{registry}.dkr.ecr.<region>.amazonaws.com'",
        )
        return
    try:
        values["upstream_url"] = catalog.upstream_url(
            kind,
            registry,
            context.region if context else "",
            context.dns_suffix if context else "amazonaws.com",
        )
    except ValueError as exc:
        c.add(where, "registry", str(exc))


def _upstream_prefix_values(
    c: _Collector,
    where: str,
    entry: Mapping[str, Any],
    kind: str,
    context: StackContext | None,
    values: dict[str, Any],
) -> None:
    """ECR only: the upstream repository prefix mirrored (ROOT by default), and the upstream's own rules."""
    upstream_prefix = c.string(where, "upstream_prefix", entry.get("upstream_prefix"))
    if kind == "ecr":
        upstream_prefix = naming.normalize_prefix(upstream_prefix) if upstream_prefix else naming.ROOT
        for problem in naming.prefix_faults(upstream_prefix, allow_root=True):
            c.add(where, "upstream_prefix", problem)
        values["upstream_prefix"] = upstream_prefix
    elif entry.get("upstream_prefix") is not None:
        c.add(where, "upstream_prefix", f"only applies to kind 'ecr', not '{kind}'; remove it")
    if kind == "ecr" and context is not None and values.get("upstream_url"):
        for problem in _ecr_upstream_faults(values["upstream_url"], context):
            c.add(where, "registry", problem)


def _managed_token_values(
    c: _Collector,
    where: str,
    entry: Mapping[str, Any],
    managed: ManagedToken,
    credentials_key: str,
    has_token: bool,
    values: dict[str, Any],
) -> None:
    """A token the stack creates leaves no room for a token, secret, username or scopes of the config's own."""
    if has_token:
        c.add(where, credentials_key, "is set but this upstream creates its own token (token:); remove one of them")
    if entry.get("existing_secret") is not None:
        c.add(
            where,
            "existing_secret",
            "and token: are both set; the stack either creates the token or reads an existing secret: remove one",
        )
    for field_ in ("username", "token_type"):
        if entry.get(field_) is not None:
            c.add(where, field_, "is set by the token: block; remove it")
    scopes_given = entry.get("token_scopes")
    if scopes_given is not None and scopes_given != ["read_registry"]:
        c.add(where, "token_scopes", "is read_registry for a token the stack creates; remove it")
    values.update(
        managed_token=managed,
        token_type=managed.type,
        token_scopes=("read_registry",),
        username=None,
        existing_secret=None,
    )


def _credential_values(
    c: _Collector,
    where: str,
    entry: Mapping[str, Any],
    spec: catalog.Kind,
    credentials_key: str,
    has_token: bool,
    token: Any,
    context: StackContext | None,
    values: dict[str, Any],
) -> None:
    """The credentials of the config: a token in `credentials` with its username and declared scopes, or an
    existing secret; none at all for kinds that take none."""
    existing = c.string(where, "existing_secret", entry.get("existing_secret"))
    username = c.string(where, "username", entry.get("username"))
    scopes = c.string_list(where, "token_scopes", entry.get("token_scopes"))
    if spec.needs_secret:
        if existing is not None:
            _existing_secret_values(c, where, existing, username, credentials_key, has_token, context)
        else:
            _token_values(c, where, entry, spec, username, scopes, credentials_key, has_token, token)
        if scopes is not None:
            if not scopes:
                c.add(where, "token_scopes", f"must not be empty; allowed: {', '.join(sorted(spec.allowed_scopes))}")
            for scope in catalog.scopes_beyond_least_privilege(spec.kind, scopes):
                c.add(where, "token_scopes", f"'{scope}' is beyond least privilege for {spec.title}: {spec.token_help}")
    else:
        _no_credentials(c, where, entry, spec.kind, credentials_key, has_token)
    token_type = _token_type(c, where, entry, spec.kind)
    values.update(username=username, token_scopes=tuple(scopes or ()), existing_secret=existing, token_type=token_type)


def _existing_secret_values(
    c: _Collector,
    where: str,
    existing: str,
    username: str | None,
    credentials_key: str,
    has_token: bool,
    context: StackContext | None,
) -> None:
    for problem in _existing_secret_faults(existing, context):
        c.add(where, "existing_secret", problem)
    if has_token:
        c.add(
            where,
            credentials_key,
            "is set but this upstream uses existing_secret; remove the token from config so it lives in one place",
        )
    if username is not None:
        c.add(where, "username", "is set but this upstream uses existing_secret, which holds the username; remove it")


def _token_values(
    c: _Collector,
    where: str,
    entry: Mapping[str, Any],
    spec: catalog.Kind,
    username: str | None,
    scopes: list[str] | None,
    credentials_key: str,
    has_token: bool,
    token: Any,
) -> None:
    if username is None and entry.get("username") is None:
        c.add(where, "username", f"is required for {spec.title} (the account or token name that owns the access token)")
    if not has_token:
        c.add(
            where,
            credentials_key,
            f"is required: run `pulumi config set --secret --path '{credentials_key}' <token>` ({spec.token_help})",
        )
    elif (
        isinstance(token, str)
        and spec.kind == "github-container-registry"
        and token.startswith(FINE_GRAINED_GITHUB_TOKEN)
    ):
        c.add(where, credentials_key, f"is a fine-grained GitHub token, which GHCR does not accept; {spec.token_help}")
    if scopes is None and entry.get("token_scopes") is None:
        c.add(
            where,
            "token_scopes",
            f"is required: declare the token's scopes so policies can check least privilege "
            f"(allowed: {', '.join(sorted(spec.allowed_scopes))})",
        )


def _no_credentials(
    c: _Collector, where: str, entry: Mapping[str, Any], kind: str, credentials_key: str, has_token: bool
) -> None:
    reason = (
        "ECR refuses credentials for Quay"
        if kind == "quay"
        else "it authenticates with an IAM role"
        if kind == "ecr"
        else "it needs no credentials"
    )
    for key, present in (
        ("username", entry.get("username") is not None),
        ("token_scopes", entry.get("token_scopes") is not None),
        ("existing_secret", entry.get("existing_secret") is not None),
        (credentials_key, has_token),
    ):
        if present:
            c.add(where, key, f"is not allowed for kind '{kind}' because {reason}; remove it")


def _token_type(c: _Collector, where: str, entry: Mapping[str, Any], kind: str) -> str | None:
    token_type = c.string(where, "token_type", entry.get("token_type"))
    if token_type is None:
        return None
    if kind != "gitlab-container-registry":
        c.add(where, "token_type", f"only applies to kind gitlab-container-registry, not '{kind}'; remove it")
    elif token_type not in catalog.GITLAB_TOKEN_TYPES:
        c.add(
            where,
            "token_type",
            f"{_show(token_type)} is not a GitLab token type; use one of {', '.join(catalog.GITLAB_TOKEN_TYPES)}",
        )
        return None
    return token_type


# GitLab's own rule for a namespace path segment (lib/gitlab/path_regex.rb: NAMESPACE_FORMAT_REGEX, i.e.
# PATH_REGEX_STR `[a-zA-Z0-9_.][a-zA-Z0-9_-.]*` ending in `[a-zA-Z0-9_-]`, or one `[a-zA-Z0-9_]`, and never ending
# in .git or .atom); a full path is at most 21 segments (20 ancestors) and 255 characters (Namespace::URL_MAX_LENGTH).
GITLAB_SEGMENT = re.compile(
    r"(?:[a-zA-Z0-9_.][a-zA-Z0-9_.-]*[a-zA-Z0-9_-]|[a-zA-Z0-9_])(?<!\.git)(?<!\.atom)", re.ASCII
)
GITLAB_MAX_DEPTH = 21
GITLAB_MAX_PATH = 255


def gitlab_group_fault(group: str) -> str | None:
    """Why `group` is neither a GitLab group id nor a full group path GitLab could hold, or None."""
    text = group.strip()
    if text.isascii() and text.isdigit():
        return None if int(text) > 0 else "is not a group id (ids start at 1)"
    segments = text.split("/")
    bad = [s for s in segments if not GITLAB_SEGMENT.fullmatch(s)]
    if bad or len(segments) > GITLAB_MAX_DEPTH or len(text) > GITLAB_MAX_PATH:
        shown = _show(bad[0]) if bad else f"{len(segments)} levels, {len(text)} characters"
        return (
            f"is not a GitLab group id or full path ({shown}): a numeric id, or the path as in the group's URL "
            "(acme/platform), each part letters, digits, '_', '-' and '.', not starting with '-' nor ending in '.', "
            f"'.git' or '.atom', at most {GITLAB_MAX_DEPTH} levels and {GITLAB_MAX_PATH} characters"
        )
    return None


def _managed_token(c: _Collector, where: str, raw: Any, kind: str) -> ManagedToken | None:
    if raw is None:
        return None
    if kind != "gitlab-container-registry":
        c.add(where, "token", f"only applies to kind gitlab-container-registry, not '{kind}'; remove it")
        return None
    block = c.mapping(where, "token", raw, TOKEN_KEYS)
    if block is None:
        return None
    group = block.get("group")
    if isinstance(group, int) and not isinstance(group, bool):
        group = str(group)
    if not isinstance(group, str) or not group.strip():
        c.add(where, "token.group", "is required: the GitLab group's id or full path (acme/platform)")
        return None
    problem = gitlab_group_fault(group)
    if problem:
        c.add(where, "token.group", problem)
        return None
    token_type = c.choice(where, "token.type", block.get("type"), catalog.GITLAB_MANAGED_TOKENS, "group-access-token")
    days = c.integer(
        where,
        "token.expires_in_days",
        block.get("expires_in_days"),
        DEFAULT_TOKEN_DAYS,
        1,
        catalog.GITLAB_MAX_TOKEN_DAYS,
    )
    rotate = c.integer(
        where,
        "token.rotate_before_days",
        block.get("rotate_before_days"),
        min(DEFAULT_ROTATE_BEFORE_DAYS, max(1, days - 1)),
        1,
        catalog.GITLAB_MAX_TOKEN_DAYS,
    )
    if rotate >= days:
        c.add(
            where,
            "token.rotate_before_days",
            f"is {rotate} days but the token lives {days}; the rotation window must be shorter than the expiry",
        )
    projects = block.get("projects", "private")
    if projects == "internal":
        c.add(
            where,
            "token.projects",
            "is 'internal', but GitLab.com (the only GitLab this kind caches) has no internal projects; use "
            "'private' (the token gets the Reporter role) or 'public'",
        )
        projects = "private"
    else:
        projects = c.choice(where, "token.projects", projects, catalog.GITLAB_PROJECT_VISIBILITIES, "private")
    return ManagedToken(
        group=group.strip(), type=token_type, expires_in_days=days, rotate_before_days=rotate, projects=projects
    )


def _ecr_upstream_faults(host: str, context: StackContext) -> list[str]:
    """An ECR upstream is another registry of the stack's own partition."""
    match = catalog.ECR_HOST.fullmatch(host)
    if match is None:
        return []
    region = match.group("region")
    partition = catalog.partition_of_region(region)
    faults = []
    if partition is not None and partition[0] != context.partition:
        faults.append(
            f"'{host}' is in partition {partition[0]} but the stack deploys to {context.partition}; IAM "
            "roles cannot reach across partitions, so mirror from a registry of the same partition"
        )
    if match.group("account") == context.account_id and region == context.region:
        faults.append(
            f"'{host}' is this stack's own registry; a pull through cache rule must read from another "
            "registry (another account or region)"
        )
    return faults


def _existing_secret_faults(existing: str, context: StackContext | None) -> list[str]:
    arn = naming.parse_arn(existing)
    if existing.startswith("arn:"):
        if arn is None or arn.service != "secretsmanager" or not arn.resource.startswith("secret:"):
            return [f"'{existing}' is not a Secrets Manager secret ARN"]
        faults = []
        if not naming.is_credential_arn(existing):
            faults.append(
                f"'{existing}' is not a secret under '{naming.SECRET_NAME_PREFIX}'; ECR only reads "
                f"secrets whose name starts with '{naming.SECRET_NAME_PREFIX}'"
            )
        if context is not None:
            if arn.region != context.region:
                faults.append(
                    f"is in region {arn.region} but the stack deploys to {context.region}; ECR only "
                    "reads a secret in the rule's own region: copy it there"
                )
            if arn.account != context.account_id:
                faults.append(
                    f"is in account {arn.account} but the stack deploys to {context.account_id}; ECR only "
                    "reads a secret in the rule's own account: copy it there"
                )
        return faults
    if not existing.startswith(naming.SECRET_NAME_PREFIX):
        return [
            f"'{existing}' must start with '{naming.SECRET_NAME_PREFIX}' (ECR only reads those secrets); "
            "rename the secret"
        ]
    if not naming.SECRET_NAME_CHARS.fullmatch(existing):
        return [f"'{existing}' may only use letters, digits and /_+=.@-"]
    return []


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
            shown = "its value is not shown: it is secret" if hidden else f"not {_show(text)}"
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
    project = Path(project_dir)
    directory = project
    try:
        import yaml

        document = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8"))
        configured = document.get("stackConfigDir") if isinstance(document, dict) else None
        if isinstance(configured, str) and configured:
            directory = project / configured
    except (OSError, ValueError, yaml.YAMLError):
        pass
    return directory / f"Pulumi.{stack}.yaml"


GITLAB_COM_HOSTS = frozenset({"gitlab.com", "www.gitlab.com"})
"""Where a token for registry.gitlab.com is made (the only GitLab ECR's gitlab upstream caches from)."""


def read_stack_file(path: Any) -> Any:
    """The stack file's document, read as the Pulumi CLI and `ptc` read it (`yaml12`: YAML 1.2, merge keys, bounded),
    or None when there is none to read (the CLI has read and checked it before the program runs)."""
    from .yaml12 import YamlError, load_file

    try:
        return load_file(path)
    except YamlError:
        return None


SECRET_MAP_KEYS = ("credentials",)
"""The keys that hold secrets (upstream tokens): every other key is plain config, and a secret there is refused."""


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
            if set(value) == {"secure"}:
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
    return [str(k) for k, v in value.items() if not (isinstance(v, Mapping) and set(v) == {"secure"})]


def region_faults(region: Any) -> list[Fault]:
    if not isinstance(region, str) or catalog.partition_of_region(region) is None:
        return [
            Fault(
                "aws:region",
                "",
                f"{_show(region)} is not an AWS region name such as us-east-2 (set it with "
                "`pulumi config set aws:region us-east-2`)",
            )
        ]
    return []


# --------------------------------------------------------------------------------------------
# The whole stack
# --------------------------------------------------------------------------------------------


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
) -> Settings:
    """Validate the stack config (keys without the project namespace) into `Settings`.

    Raises `ConfigError` with every fault found. `credentials_are_secret` tells whether the
    `credentials` key was stored with `--secret`; a plain token is refused. `context` is where
    the stack deploys; without it (inside a component) account and region checks are skipped.
    `present_keys` are the keys the stack sets in the project's namespace: a mistyped one is
    refused rather than ignored. `plain_credentials` are `credentials` entries the stack file holds in plain
    text, `misplaced_secrets` the paths or keys that hold a secret outside `credentials`
    (`secrets_outside_credentials`), `gitlab_base_url` the GitLab provider's `gitlab:baseUrl` (a stack-made token
    must come from GitLab.com), and `faults` those found while reading the config.
    """
    c = _Collector()
    c.faults.extend(faults)
    _where_secrets_and_keys_are(c, context, misplaced_secrets, plain_credentials, present_keys)
    raw = {key: None if key in OPTIONAL_OBJECT_KEYS and value in ({}, []) else value for key, value in raw.items()}
    for problem in naming.environment_faults(raw.get("environment")):
        c.add("environment", "", problem)
    environment = raw["environment"] if isinstance(raw.get("environment"), str) else ""

    tags = _tags(c, raw.get("tags"))
    iam_settings = _iam(c, raw.get("iam"))
    registry_statements = _registry_statements(c, raw.get("registry_policy_statements"))
    grant_stacks = _grant_stacks(c, raw.get("upstream_grant_stacks"))
    kms = _kms(c, raw.get("kms"), context)
    scanning = _scanning(c, raw.get("scanning"))
    consumers = _consumers(c, raw.get("consumers"))
    recovery = c.integer("secret_recovery_window_days", "", raw.get("secret_recovery_window_days"), 30, 7, 30)
    random_default = c.boolean("random_prefix_suffix", "", raw.get("random_prefix_suffix"), False)
    credentials = _credentials(c, raw.get("credentials"), credentials_are_secret)

    template_raw = c.mapping("template", "", raw.get("template"), TEMPLATE_KEYS) or {}
    default_faults, default_template = template_settings(template_raw, "template", kms.enabled, field_prefix="")
    c.faults.extend(default_faults)
    templates = _Templates(template_raw, default_template, {(f.field, f.message) for f in default_faults}, kms.enabled)

    seen_prefixes: dict[str, int] = {}
    seen_slugs: dict[str, int] = {}
    upstreams: list[UpstreamSettings] = []
    for index, entry in enumerate(_upstream_entries(c, raw.get("upstreams"))):
        upstream = _upstream_settings(
            c, index, entry, credentials, context, random_default, templates, (seen_prefixes, seen_slugs)
        )
        if upstream is not None:
            upstreams.append(upstream)

    _registry_wide_faults(c, default_template, upstreams, tags, scanning, context)
    _unused_credentials(c, credentials, seen_prefixes)
    _gitlab_host_faults(c, gitlab_base_url, upstreams)

    if c.faults:
        raise ConfigError(c.faults)
    return Settings(
        environment=environment,
        upstreams=tuple(upstreams),
        tags=tags,
        kms=kms,
        scanning=scanning,
        consumers=consumers,
        secret_recovery_window_days=recovery,
        iam=iam_settings,
        registry_policy_statements=registry_statements,
        upstream_grant_stacks=tuple(dict.fromkeys(grant_stacks)),
    )


def _where_secrets_and_keys_are(
    c: _Collector,
    context: StackContext | None,
    misplaced_secrets: Iterable[str],
    plain_credentials: Iterable[str],
    present_keys: Iterable[str],
) -> None:
    """Secrets outside `credentials`, tokens in plain text, the region, and keys the project does not have."""
    for path in misplaced_secrets:
        c.add(
            path,
            "",
            "is a secret (secure:), but only credentials holds secrets here: a secret elsewhere would reach plain "
            f"tags, names or outputs. Set it in plain text (`pulumi config set --path '{path}' <value>`), or put "
            "a token under credentials.<prefix>",
        )
    if context is not None:
        c.faults.extend(region_faults(context.region))
    for key in plain_credentials:
        c.add(
            f"credentials.{key}",
            "",
            f"is stored in plain text; set it with `pulumi config set --secret --path 'credentials.{key}' <token>` "
            "(its value is not shown)",
        )
    for key in present_keys:
        if key not in CONFIG_KEYS:
            meant = did_you_mean(key, CONFIG_KEYS)
            hint = f"did you mean '{meant}'?" if meant else f"the settings are {', '.join(CONFIG_KEYS)}"
            c.add(key, "", f"is not a setting of this project and would be ignored; {hint}")


def _grant_stacks(c: _Collector, raw: Any) -> list[str]:
    grant_stacks = c.string_list("upstream_grant_stacks", "", raw) or []
    for stack in grant_stacks:
        if not STACK_NAME.fullmatch(stack):
            c.add(
                "upstream_grant_stacks",
                "",
                f"{_show(stack)} is not a fully qualified stack name (<organization>/<project>/<stack>), as "
                "pulumi.StackReference takes it",
            )
    return grant_stacks


def _credentials(c: _Collector, raw: Any, credentials_are_secret: bool) -> dict[str, Any]:
    credentials = c.mapping("credentials", "", raw) or {}
    if credentials and not credentials_are_secret:
        c.add(
            "credentials",
            "",
            "holds tokens in plain text; set each with "
            "`pulumi config set --secret --path 'credentials.<prefix>' <token>`",
        )
    for name, value in credentials.items():
        if value is None or value == "" or (not isinstance(value, str) and not _is_output(value)):
            c.add("credentials", str(name), "must be a non-empty token string")
    return credentials


def _upstream_entries(c: _Collector, upstreams_raw: Any) -> list[Any]:
    if upstreams_raw is None or upstreams_raw == []:
        c.add("upstreams", "", "is required: list at least one upstream registry, for example [{kind: ecr-public}]")
        return []
    if not isinstance(upstreams_raw, list):
        c.add("upstreams", "", f"must be a list of upstream registries, not {_show(upstreams_raw)}")
        return []
    if len(upstreams_raw) > MAX_RULES:
        c.add(
            "upstreams",
            "",
            f"has {len(upstreams_raw)} entries; ECR allows {MAX_RULES} pull through cache rules "
            "per registry and region (not adjustable): split them across regions or accounts",
        )
    return upstreams_raw


@dataclass(frozen=True)
class _Templates:
    """The stack's template settings, from which each upstream's override starts."""

    raw: dict[str, Any]
    default: TemplateSettings
    reported: set[tuple[str, str]]
    """(field, message) of the faults the default template already drew: an override repeats none of them."""
    kms_enabled: bool


def _upstream_settings(
    c: _Collector,
    index: int,
    entry: Any,
    credentials: Mapping[str, Any],
    context: StackContext | None,
    random_default: bool,
    templates: _Templates,
    seen: tuple[dict[str, int], dict[str, int]],
) -> UpstreamSettings | None:
    """One upstream of the list, with its token and its template; None when it cannot be one (its faults added)."""
    if not isinstance(entry, Mapping):
        c.add(upstream_label(index, None), "", f"must be a mapping with at least 'kind', not {_show(entry)}")
        return None
    token_key = credentials_key(entry)
    token = credentials.get(token_key) if token_key else None
    faults, values = upstream_faults(
        entry,
        f"upstreams[{index}]",
        has_token=token is not None,
        token=token,
        context=context,
        random_suffix_default=random_default,
    )
    c.faults.extend(faults)
    if "kind" not in values:
        return None
    where = upstream_label(index, values["kind"])
    prefix = values.get("prefix")
    if prefix:
        _check_unique(c, where, index, prefix, *seen)
    override = c.mapping(where, "template", entry.get("template"), TEMPLATE_KEYS)
    template = templates.default
    if override:
        override_faults, template = template_settings({**templates.raw, **override}, where, templates.kms_enabled)
        c.faults.extend(
            f for f in override_faults if (f.field.removeprefix("template."), f.message) not in templates.reported
        )
    if "upstream_url" not in values or prefix is None:
        return None
    return UpstreamSettings(
        index=index,
        kind=values["kind"],
        prefix=prefix,
        random_suffix=values["random_suffix"],
        upstream_url=values["upstream_url"],
        template=template,
        username=values.get("username"),
        token=SecretValue(token) if token is not None and not values.get("existing_secret") else None,
        token_scopes=values.get("token_scopes", ()),
        existing_secret=values.get("existing_secret"),
        registry=values.get("registry"),
        upstream_prefix=values.get("upstream_prefix"),
        token_type=values.get("token_type"),
        managed_token=values.get("managed_token"),
    )


def _unused_credentials(c: _Collector, credentials: Mapping[str, Any], seen_prefixes: Mapping[str, int]) -> None:
    for key in credentials:
        if key not in seen_prefixes:
            known = ", ".join(sorted(seen_prefixes)) or "none"
            c.add(
                "credentials",
                str(key),
                f"matches no upstream prefix ({known}); key each token by its upstream's prefix",
            )


def _gitlab_host_faults(c: _Collector, gitlab_base_url: str | None, upstreams: list[UpstreamSettings]) -> None:
    """A token the stack makes must come from GitLab.com, the only GitLab ECR's gitlab upstream pulls from."""
    if not gitlab_base_url or not any(u.managed_token is not None for u in upstreams):
        return
    host = urllib.parse.urlsplit(gitlab_base_url if "//" in gitlab_base_url else f"//{gitlab_base_url}").hostname
    if host not in GITLAB_COM_HOSTS:
        c.add(
            "gitlab:baseUrl",
            "",
            f"points the GitLab provider at {host or _show(gitlab_base_url)}, but ECR's gitlab-container-registry "
            "upstream pulls only from registry.gitlab.com, so a token made there pulls nothing through the "
            "cache; remove gitlab:baseUrl (the provider's default is gitlab.com)",
        )


def _registry_wide_faults(
    c: _Collector,
    default: TemplateSettings,
    upstreams: list[UpstreamSettings],
    tags: dict[str, str],
    scanning: ScanningSettings | None,
    context: StackContext | None,
) -> None:
    """Rules that need the whole registry: the region, the scanning filters, the tags every template adds up to."""
    for template, where, field_ in [
        (default, "template", ""),
        *[(u.template, u.label, "template.") for u in upstreams if u.template != default],
    ]:
        if template.encryption == "KMS_DSSE" and context is not None and context.region not in catalog.GOVCLOUD_REGIONS:
            govcloud = ", ".join(sorted(catalog.GOVCLOUD_REGIONS))
            c.add(
                where,
                f"{field_}encryption",
                f"KMS_DSSE exists only in the AWS GovCloud (US) regions ({govcloud}), not in {context.region}; use KMS",
            )
        if template.tag_repositories:
            added = len(tag_rules.TEMPLATE_PROJECT_TAGS)
            merged = {**tags, **template.resource_tags}
            if len(merged) + added > tag_rules.MAX_TAGS:
                c.add(
                    where,
                    f"{field_}resource_tags",
                    f"with the stack's tags makes {len(merged)} repository tags; the project adds {added} and AWS "
                    f"allows {tag_rules.MAX_TAGS} per repository: drop some",
                )


def credentials_key(entry: Mapping[str, Any]) -> str | None:
    """The `credentials` key of an upstream entry: its prefix (without any random suffix)."""
    prefix = entry.get("prefix")
    if prefix is None:
        kind = entry.get("kind")
        kind = kind.value if isinstance(kind, Enum) else kind
        spec = catalog.KINDS.get(kind) if isinstance(kind, str) else None
        prefix = spec.default_prefix if spec else None
    return naming.normalize_prefix(prefix) if isinstance(prefix, str) and prefix else None


def template_settings(
    raw: Mapping[str, Any],
    where: str,
    kms_enabled: bool,
    field_prefix: str = "template.",
) -> tuple[list[Fault], TemplateSettings]:
    """Validate template settings (config keys of `TEMPLATE_KEYS`) into `TemplateSettings`."""
    c = _Collector()
    settings = _template_faults(c, where, raw, kms_enabled, field_prefix)
    return c.faults, settings


def _is_output(value: Any) -> bool:
    return type(value).__name__ == "Output"


def _check_unique(
    c: _Collector, where: str, index: int, prefix: str, seen_prefixes: dict[str, int], seen_slugs: dict[str, int]
) -> None:
    for other, other_index in seen_prefixes.items():
        if other == prefix:
            c.add(
                where,
                "prefix",
                f"'{prefix}' is already used by upstreams[{other_index}]; each upstream needs its own prefix",
            )
            return
        if naming.prefixes_overlap(other, prefix):
            c.add(
                where,
                "prefix",
                f"'{prefix}' overlaps '{other}' of upstreams[{other_index}]; one prefix may not contain another",
            )
            return
    slug = naming.slug(prefix)
    if slug in seen_slugs:
        c.add(
            where,
            "prefix",
            f"'{prefix}' gives the same resource names as upstreams[{seen_slugs[slug]}] "
            f"('{slug}'); choose a prefix that differs in more than '/' versus '-'",
        )
    seen_prefixes[prefix] = index
    seen_slugs[slug] = index


def _tags(c: _Collector, raw: Any, where: str = "tags", field_: str = "") -> dict[str, str]:
    """Tags valid for every service the stack tags (see `components/tags.py`), named per key."""
    tags = c.mapping(where, field_, raw) or {}
    result = {}
    for key, value in tags.items():
        name = f"{field_}.{key}" if field_ else str(key)
        faults = tag_rules.key_faults(key)
        if not faults and key in RESERVED_TAGS:
            faults = [f"is set by the project ({', '.join(RESERVED_TAGS)}); remove it"]
        if not faults:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                faults = [f"tag values must be text, not {_show(value)}"]
            else:
                faults = tag_rules.value_faults(str(value))
        for fault in faults:
            c.add(where, name, fault)
        if not faults:
            result[key] = str(value)
    problem = tag_rules.count_fault(tags)
    if problem:
        c.add(where, field_, problem)
    return result


def _policy_document(c: _Collector, where: str, field_: str, raw: Any, limit: int, shape: str) -> str | None:
    """A policy given as JSON text or a mapping: canonical JSON text, or None with a fault recorded."""
    if raw is None:
        return None
    document = raw
    if isinstance(raw, str):
        try:
            document = json.loads(raw)
        except json.JSONDecodeError as exc:
            c.add(where, field_, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
            return None
    if not isinstance(document, Mapping) or not isinstance(document.get("Statement"), (list, Mapping)):
        c.add(where, field_, "must be a policy document: a JSON object with a 'Statement' list")
        return None
    text = lifecycle.canonical_json(document)
    if len(text) > limit:
        c.add(where, field_, f"is {len(text)} characters; ECR allows at most {limit} ({shape} in botocore's ECR model)")
        return None
    return text


def _iam(c: _Collector, raw: Any, where: str = "iam") -> IamSettings:
    settings = c.mapping(where, "", raw, ("path", "permissions_boundary")) or {}
    path = c.string(where, "path", settings.get("path")) or "/"
    if not IAM_PATH.fullmatch(path) or len(path) > 512:
        c.add(
            where,
            "path",
            f"{_show(path)} must start and end with '/' with letters, digits and .,+@=_- between "
            "(IAM's policyPathType), "
            "for example '/platform/ptc/'",
        )
    boundary = c.string(where, "permissions_boundary", settings.get("permissions_boundary"))
    if boundary is not None and not POLICY_ARN.fullmatch(boundary):
        c.add(
            where,
            "permissions_boundary",
            f"{_show(boundary)} is not a managed policy ARN (arn:aws:iam::<account>:policy/<name>)",
        )
    return IamSettings(path=path, permissions_boundary=boundary)


def iam_settings(raw: Any, where: str = "iam") -> tuple[list[Fault], IamSettings]:
    """Validate IAM placement settings (`path`, `permissions_boundary`)."""
    c = _Collector()
    settings = _iam(c, raw, where)
    return c.faults, settings


def _registry_statements(c: _Collector, raw: Any) -> tuple[dict[str, Any], ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            c.add("registry_policy_statements", "", f"is not valid JSON ({exc.msg})")
            return ()
    if not isinstance(raw, list) or not all(isinstance(s, Mapping) for s in raw):
        c.add(
            "registry_policy_statements",
            "",
            "must be a list of policy statements (mappings with Effect, Principal, Action and Resource)",
        )
        return ()
    statements = []
    for index, statement in enumerate(raw):
        missing = [k for k in ("Effect", "Action") if k not in statement]
        if missing or statement.get("Effect") not in ("Allow", "Deny") or "Principal" not in statement:
            c.add(
                "registry_policy_statements",
                f"[{index}]",
                "needs Effect (Allow or Deny), Principal and Action, as a registry policy statement does",
            )
            continue
        if str(statement.get("Sid", "")).startswith("FirstPullThroughCache"):
            c.add(
                "registry_policy_statements",
                f"[{index}]",
                "uses a Sid the project reserves for its consumer statements (FirstPullThroughCache...); rename it",
            )
            continue
        statements.append(dict(statement))
    return tuple(statements)


def _kms(c: _Collector, raw: Any, context: StackContext | None) -> KmsSettings:
    kms = c.mapping("kms", "", raw, ("create_key", "key_arn", "deletion_window_days")) or {}
    create = c.boolean("kms", "create_key", kms.get("create_key"), False)
    key_arn = c.string("kms", "key_arn", kms.get("key_arn"))
    window = c.integer("kms", "deletion_window_days", kms.get("deletion_window_days"), 30, 7, 30)
    if create and key_arn:
        c.add("kms", "key_arn", "and create_key are both set; use one key: create it, or name an existing one")
    if key_arn:
        arn = naming.parse_arn(key_arn)
        if not KMS_KEY_ARN.fullmatch(key_arn) or arn is None:
            c.add("kms", "key_arn", f"'{key_arn}' is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)")
        elif context is not None and arn.region != context.region:
            c.add(
                "kms",
                "key_arn",
                f"is in region {arn.region} but the stack deploys to {context.region}; "
                "secrets and repositories need a key in their own region",
            )
    return KmsSettings(create_key=create, key_arn=key_arn, deletion_window_days=window)


def _scanning(c: _Collector, raw: Any) -> ScanningSettings | None:
    scanning = c.mapping("scanning", "", raw, ("scan_type", "frequency"))
    if scanning is None:
        return None
    scan_type = c.choice("scanning", "scan_type", scanning.get("scan_type"), SCAN_FREQUENCIES, "BASIC")
    frequency = c.choice(
        "scanning", "frequency", scanning.get("frequency"), SCAN_FREQUENCIES[scan_type], "SCAN_ON_PUSH"
    )
    return ScanningSettings(scan_type=scan_type, frequency=frequency)


def _consumers(c: _Collector, raw: Any) -> ConsumerSettings | None:
    consumers = c.mapping("consumers", "", raw, ("account_ids", "organization_id"))
    if consumers is None:
        return None
    accounts = c.account_ids("consumers", "account_ids", consumers.get("account_ids")) or []
    for account in accounts:
        if not catalog.ACCOUNT_ID.fullmatch(account):
            c.add("consumers", "account_ids", f"'{account}' is not a 12-digit AWS account id")
    org = c.string("consumers", "organization_id", consumers.get("organization_id"))
    if org is not None and not ORGANIZATION_ID.fullmatch(org):
        c.add("consumers", "organization_id", f"'{org}' is not an AWS Organizations id (o-xxxxxxxxxx)")
    if not accounts and org is None:
        c.add(
            "consumers",
            "",
            "needs account_ids, organization_id, or both; remove the key to keep the cache private to this account",
        )
    return ConsumerSettings(account_ids=tuple(dict.fromkeys(accounts)), organization_id=org)
