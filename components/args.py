"""Input and output types of the components.

Pulumi infers the plugin's schema from these annotations and docstrings (see
`components/__main__.py`), so this module keeps real annotation objects (no
`from __future__ import annotations`) and documents every field.

Fields that decide which resources exist (kind, prefix, which secret) are plain values, so
they can be validated before anything is created; values that only flow into resource
properties (tokens, tags, ARNs, policies) are `pulumi.Input`s.
"""

from enum import Enum
from typing import NotRequired, Optional, Required, TypedDict

import pulumi

from .catalog import UpstreamRegistry

__all__ = [
    "AppliedFor",
    "ConsumerArgs",
    "EncryptionType",
    "GitLabTokenArgs",
    "IamArgs",
    "ImageTagMutability",
    "KmsArgs",
    "PullThroughCacheArgs",
    "ScanFrequency",
    "ScanType",
    "ScanningArgs",
    "TemplateArgs",
    "TemplateOutput",
    "UpstreamArgs",
    "UpstreamCacheArgs",
    "UpstreamOutput",
    "UpstreamRegistry",
]


class ImageTagMutability(str, Enum):
    """Tag mutability of cached repositories."""

    MUTABLE = "MUTABLE"
    """Tags may move to new images (what upstream tags like `latest` do)."""
    IMMUTABLE = "IMMUTABLE"
    """A tag, once cached, never changes."""
    IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
    """Immutable except for tags matching the exclusion filters."""
    MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"
    """Mutable except for tags matching the exclusion filters."""


class EncryptionType(str, Enum):
    """Encryption of cached repositories."""

    AES256 = "AES256"
    """Amazon S3-managed keys."""
    KMS = "KMS"
    """AWS KMS: the stack's customer-managed key when there is one, otherwise ECR's AWS managed key."""
    KMS_DSSE = "KMS_DSSE"
    """Dual-layer server-side encryption with AWS KMS."""


class AppliedFor(str, Enum):
    """Which repository creations a template applies to."""

    PULL_THROUGH_CACHE = "PULL_THROUGH_CACHE"
    """Repositories created by a pull through cache rule (always included)."""
    REPLICATION = "REPLICATION"
    """Repositories created by replication."""
    CREATE_ON_PUSH = "CREATE_ON_PUSH"
    """Repositories created by a push to a name that does not exist yet."""


class ScanType(str, Enum):
    """Registry scanning type."""

    BASIC = "BASIC"
    """Amazon ECR basic scanning."""
    ENHANCED = "ENHANCED"
    """Amazon Inspector enhanced scanning."""


class ScanFrequency(str, Enum):
    """When cached images are scanned."""

    SCAN_ON_PUSH = "SCAN_ON_PUSH"
    """When an image is cached."""
    CONTINUOUS_SCAN = "CONTINUOUS_SCAN"
    """Continuously (enhanced scanning only)."""


class TemplateArgs(TypedDict, total=False):
    """Settings of the repository creation template, and so of every repository the cache creates."""

    image_tag_mutability: ImageTagMutability
    """Tag mutability of cached repositories. Default MUTABLE."""
    image_tag_mutability_exclusion_filters: list[str]
    """Tag filters (wildcards allowed) excluded from the mutability setting; only with *_WITH_EXCLUSION."""
    untagged_expiry_days: int
    """The generated lifecycle policy expires untagged images this many days after caching. Default 14."""
    max_image_count: int
    """The generated lifecycle policy keeps at most this many images per repository. Default 200."""
    lifecycle_policy: str
    """A complete lifecycle policy (JSON text) that replaces the generated one."""
    encryption: EncryptionType
    """Encryption of cached repositories. Default KMS when a KMS key is given, otherwise AES256."""
    kms_key_arn: pulumi.Input[str]
    """The customer-managed KMS key for KMS encryption; omitted means ECR's AWS managed key."""
    tag_repositories: bool
    """Tag cached repositories with the stack's tags (needs the template's IAM role). Default true."""
    applied_for: list[AppliedFor]
    """Repository creations the template applies to. Default [PULL_THROUGH_CACHE]."""
    repository_policy: pulumi.Input[str]
    """A repository policy (JSON text) for cached repositories; the registry adds its consumers' statements."""
    resource_tags: dict[str, str]
    """Tags of cached repositories in addition to the stack's tags (with tag_repositories)."""
    custom_role_arn: str
    """A role managed elsewhere (trusting ecr.amazonaws.com) for ECR to create repositories with; the stack then
    creates none for this template."""


class GitLabTokenArgs(TypedDict, total=False):
    """A least-privilege GitLab token the stack creates for a GitLab upstream."""

    group: Required[str]
    """The GitLab group's id or full path (`acme/platform`)."""
    type: str
    """group-access-token (read_registry, the least role that pulls, rotated by the provider) or group-deploy-token
    (read_registry, expiring, replaced on schedule; for tiers without group access tokens). Default
    group-access-token."""
    projects: str
    """What the group's projects are: `private` (default; the token gets the Reporter role, as GitLab lets no Guest
    pull from a private project) or `public` (every project and its registry public; Guest is enough)."""
    expires_in_days: int
    """Days the token lives (1-365, GitLab's maximum). Default 90."""
    rotate_before_days: int
    """Days before expiry that `pulumi up` replaces the token. Default 14."""


class UpstreamArgs(TypedDict, total=False):
    """One upstream registry of a `PullThroughCache`."""

    kind: Required[UpstreamRegistry]
    """Which upstream registry this is."""
    prefix: str
    """ECR repository prefix of the cache (2-30 characters). Defaults per kind; required for kind ecr."""
    random_suffix: bool
    """Append a stable random suffix to the prefix (`gitlab-ef1b`), like the ECR console does."""
    registry: str
    """Azure: the registry name (`acmeprod`). ECR: the registry host (`<account>.dkr.ecr.<region>.amazonaws.com`)."""
    upstream_prefix: str
    """ECR only: the upstream repository prefix to mirror. Default ROOT (every repository)."""
    username: pulumi.Input[str]
    """Username of the upstream credential (kinds that authenticate with a secret)."""
    access_token: pulumi.Input[str]
    """The upstream access token. Always stored as a secret; give it as a Pulumi secret."""
    token_scopes: list[str]
    """The token's scopes, declared so that policies can check least privilege."""
    token_type: str
    """GitLab only: the token's type (group-access-token, group-deploy-token, project-access-token,
    project-deploy-token, personal-access-token), tagged on the secret for policies to check."""
    existing_secret: str
    """Name or ARN of a Secrets Manager secret (under `ecr-pullthroughcache/`) managed elsewhere."""
    token: GitLabTokenArgs
    """GitLab only: create the token (instead of `access_token`): read_registry only, the least role that pulls,
    expiring."""
    template: TemplateArgs
    """Overrides of the registry's template settings for this upstream."""


class IamArgs(TypedDict, total=False):
    """Where the IAM roles and policies the stack creates live (organisations with SCPs require both)."""

    path: str
    """IAM path of every role and policy (`/platform/ptc/`). Default `/`."""
    permissions_boundary: str
    """ARN of a managed policy set as the permissions boundary of every role."""


class UpstreamCacheArgs(TypedDict, total=False):
    """Arguments of one `UpstreamCache`: an upstream plus what the registry would otherwise provide."""

    upstream: Required[UpstreamArgs]
    """The upstream registry to cache."""
    environment: Required[str]
    """Environment name (`dev`, `prod`); carried by resource names and tags."""
    tags: pulumi.Input[dict[str, pulumi.Input[str]]]
    """Tags added to every taggable resource."""
    iam: IamArgs
    """IAM path and permissions boundary of the roles the component creates."""
    secret_recovery_window_days: int
    """Days Secrets Manager keeps a deleted secret recoverable (7-30). Default 30."""
    scan_frequency: str
    """How registry scanning covers this prefix (SCAN_ON_PUSH or CONTINUOUS_SCAN); omitted when the stack does
    not manage registry scanning (recorded in `template`)."""


class KmsArgs(TypedDict, total=False):
    """A customer-managed KMS key for cached repositories (creation templates).

    Credentials secrets never use it: ECR's pull through cache reads them only under the default
    `aws/secretsmanager` key."""

    create_key: bool
    """Create one key for this registry's cached repositories."""
    key_arn: str
    """Use this existing key instead; each template's role is granted it through IAM."""
    deletion_window_days: int
    """Waiting period before a created key is deleted (7-30). Default 30."""


class ScanningArgs(TypedDict, total=False):
    """Registry scanning for the cached prefixes (replaces the registry's scanning configuration)."""

    scan_type: ScanType
    """BASIC or ENHANCED. Default BASIC."""
    frequency: ScanFrequency
    """SCAN_ON_PUSH, or CONTINUOUS_SCAN with ENHANCED. Default SCAN_ON_PUSH."""


class ConsumerArgs(TypedDict, total=False):
    """Other accounts that may pull through this registry's cache (the central cache account pattern)."""

    account_ids: list[str]
    """AWS account ids whose principals may pull through the cache."""
    organization_id: str
    """An AWS Organizations id (`o-...`) whose accounts may pull through the cache."""


class PullThroughCacheArgs(TypedDict, total=False):
    """Arguments of a `PullThroughCache`: the whole registry's caches."""

    environment: Required[str]
    """Environment name (`dev`, `prod`); carried by resource names and tags."""
    upstreams: Required[list[UpstreamArgs]]
    """The upstream registries to cache (1-50, ECR's per-region quota)."""
    tags: pulumi.Input[dict[str, pulumi.Input[str]]]
    """Tags added to every taggable resource."""
    template: TemplateArgs
    """Template settings of every upstream (each upstream may override them)."""
    kms: KmsArgs
    """Customer-managed KMS key for secrets and, by default, cached repositories."""
    scanning: ScanningArgs
    """Registry scanning of cached images."""
    consumers: ConsumerArgs
    """Accounts or an organization that may pull through the cache."""
    secret_recovery_window_days: int
    """Days Secrets Manager keeps a deleted secret recoverable (7-30). Default 30."""
    random_prefix_suffix: bool
    """Default of every upstream's `random_suffix`."""
    iam: IamArgs
    """IAM path and permissions boundary of every role and policy the stack creates."""
    registry_policy_statements: str
    """JSON text: a list of extra registry policy statements (replication, other principals) merged into the one
    registry policy this stack owns."""
    incoming_grants: pulumi.Input[list[pulumi.Input[dict[str, str]]]]
    """Other cache stacks' `upstream_grants` outputs (read them with StackReferences): the grants for this registry
    are merged into its one registry policy, as `UpstreamGrant` would apply them. An account whose cache stack owns
    the registry policy takes its grants here; an `UpstreamGrant` beside it would overwrite that policy."""


class TemplateOutput(TypedDict):
    """The creation-template settings of one prefix, as `ptc reconcile` enforces them."""

    image_tag_mutability: str
    """Tag mutability of cached repositories."""
    image_tag_mutability_exclusion_filters: list[str]
    """Tag filters excluded from the mutability setting."""
    lifecycle_policy: str
    """The lifecycle policy (JSON text)."""
    encryption_type: str
    """AES256, KMS or KMS_DSSE."""
    kms_key_arn: NotRequired[Optional[str]]
    """The KMS key of KMS encryption (absent for ECR's AWS managed key)."""
    resource_tags: dict[str, str]
    """Tags of cached repositories."""
    applied_for: list[str]
    """Repository creations the template applies to."""
    scan_on_push: bool
    """Whether registry scanning of this stack scans cached images when they are cached."""
    scan_frequency: NotRequired[Optional[str]]
    """The registry scanning frequency covering this prefix (SCAN_ON_PUSH, CONTINUOUS_SCAN), or None when the stack
    does not manage registry scanning."""
    repository_policy: NotRequired[Optional[str]]
    """The repository policy of cached repositories (JSON text), if any."""


class UpstreamOutput(TypedDict):
    """One upstream as other stacks read it (the `upstreams` stack output, keyed by prefix)."""

    kind: str
    """The upstream kind."""
    upstream_url: str
    """The upstream registry URL."""
    cache_uri: str
    """`<registry_url>/<prefix>`: where images of this upstream are pulled from."""
    credential_arn: NotRequired[Optional[str]]
    """ARN of the credentials secret, for upstreams that authenticate with one."""
    custom_role_arn: NotRequired[Optional[str]]
    """ARN of the role an ECR upstream is reached through."""
    upstream_prefix: NotRequired[Optional[str]]
    """ECR upstreams: the upstream repository prefix mirrored."""
    template: TemplateOutput
    """The creation-template settings of the prefix."""
