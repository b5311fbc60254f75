"""The nine upstream registries Amazon ECR pull through cache supports, as data.

Facts only (docs/DESIGN.md section 3): the upstream URL, the default ECR prefix, how ECR
authenticates to the upstream, and which token scopes count as least privilege.
Everything here is plain Python so that the config parser, the components, the CLI and
the tests share one source of truth.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum


class UpstreamRegistry(str, Enum):
    """The upstream registry kinds, spelled as the ECR API's `upstreamRegistry` enum."""

    ECR_PUBLIC = "ecr-public"
    """Amazon ECR Public (public.ecr.aws), no credentials."""
    K8S = "k8s"
    """The Kubernetes registry (registry.k8s.io), no credentials."""
    QUAY = "quay"
    """Quay (quay.io), no credentials: ECR refuses credentials for Quay."""
    DOCKER_HUB = "docker-hub"
    """Docker Hub (registry-1.docker.io), with a read-only personal access token."""
    GITHUB_CONTAINER_REGISTRY = "github-container-registry"
    """GitHub Container Registry (ghcr.io), with a classic PAT scoped to read:packages."""
    AZURE_CONTAINER_REGISTRY = "azure-container-registry"
    """An Azure Container Registry (<registry>.azurecr.io), with a read-only repository-scoped token."""
    GITLAB_CONTAINER_REGISTRY = "gitlab-container-registry"
    """GitLab.com's registry (registry.gitlab.com), with a token scoped to read_registry only."""
    CHAINGUARD = "chainguard"
    """Chainguard (cgr.dev), with a pull token."""
    ECR = "ecr"
    """Another private Amazon ECR registry, reached through an IAM role."""


class Auth(str, Enum):
    """How ECR authenticates to an upstream."""

    NONE = "none"
    SECRET = "secret"
    ROLE = "role"


@dataclass(frozen=True)
class Kind:
    """One upstream kind and the facts the project relies on."""

    kind: str
    title: str
    auth: Auth
    default_prefix: str | None
    url: str | None
    """The fixed upstream URL, or None where it is derived from `registry` (Azure, ECR)."""
    allowed_scopes: frozenset[str]
    """Token scopes that count as least privilege; every declared scope must be in this set."""
    image_hosts: tuple[str, ...]
    """Hosts that image references use for this upstream (besides the URL itself)."""
    token_help: str
    """How to create a least-privilege token, quoted in error messages."""

    @property
    def needs_secret(self) -> bool:
        return self.auth is Auth.SECRET

    @property
    def needs_registry(self) -> bool:
        return self.url is None


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind(
            kind="ecr-public",
            title="Amazon ECR Public",
            auth=Auth.NONE,
            default_prefix="ecr-public",
            url="public.ecr.aws",
            allowed_scopes=frozenset(),
            image_hosts=("public.ecr.aws",),
            token_help="ECR Public needs no credentials.",
        ),
        Kind(
            kind="k8s",
            title="Kubernetes",
            auth=Auth.NONE,
            default_prefix="kubernetes",
            url="registry.k8s.io",
            allowed_scopes=frozenset(),
            image_hosts=("registry.k8s.io",),
            token_help="registry.k8s.io needs no credentials.",
        ),
        Kind(
            kind="quay",
            title="Quay",
            auth=Auth.NONE,
            default_prefix="quay",
            url="quay.io",
            allowed_scopes=frozenset(),
            image_hosts=("quay.io",),
            token_help="ECR refuses credentials for Quay; remove them.",
        ),
        Kind(
            kind="docker-hub",
            title="Docker Hub",
            auth=Auth.SECRET,
            default_prefix="docker-hub",
            url="registry-1.docker.io",
            allowed_scopes=frozenset({"repo:public_read", "repo:read"}),
            image_hosts=("docker.io", "index.docker.io", "registry-1.docker.io"),
            token_help="create a Docker Hub personal access token with access "
            "'Public Repo Read-only' (repo:public_read) or 'Read-only' (repo:read)",
        ),
        Kind(
            kind="github-container-registry",
            title="GitHub Container Registry",
            auth=Auth.SECRET,
            default_prefix="github",
            url="ghcr.io",
            allowed_scopes=frozenset({"read:packages"}),
            image_hosts=("ghcr.io",),
            token_help="create a classic GitHub personal access token with only the read:packages scope "
            "(GHCR does not accept fine-grained tokens)",
        ),
        Kind(
            kind="azure-container-registry",
            title="Azure Container Registry",
            auth=Auth.SECRET,
            default_prefix="azure",
            url=None,
            allowed_scopes=frozenset({"content/read", "metadata/read"}),
            image_hosts=(),
            token_help="create an ACR token with a scope map granting only content/read and metadata/read; "
            "the username is the token name",
        ),
        Kind(
            kind="gitlab-container-registry",
            title="GitLab Container Registry",
            auth=Auth.SECRET,
            default_prefix="gitlab",
            url="registry.gitlab.com",
            allowed_scopes=frozenset({"read_registry"}),
            image_hosts=("registry.gitlab.com",),
            token_help="create a group access token with the Reporter role and only the read_registry scope "
            "(Guest pulls nothing from private projects)",
        ),
        Kind(
            kind="chainguard",
            title="Chainguard",
            auth=Auth.SECRET,
            default_prefix="chainguard",
            url="cgr.dev",
            allowed_scopes=frozenset({"registry.pull"}),
            image_hosts=("cgr.dev",),
            token_help="create a Chainguard pull token (chainctl auth configure-docker --pull-token); "
            "its role grants registry.pull",
        ),
        Kind(
            kind="ecr",
            title="Amazon ECR (private)",
            auth=Auth.ROLE,
            default_prefix=None,
            url=None,
            allowed_scopes=frozenset(),
            image_hosts=(),
            token_help="ECR upstreams authenticate with an IAM role, not a token.",
        ),
    )
}

KIND_NAMES: tuple[str, ...] = tuple(KINDS)

GITLAB_MANAGED_TOKENS = ("group-access-token", "group-deploy-token")
"""Token types the stack can create itself (the `token:` block of a GitLab upstream)."""
GITLAB_MAX_TOKEN_DAYS = 365
"""GitLab's maximum lifetime of an access token (GitLab docs, "Group access tokens": tokens expire at most 365
days after creation by default since GitLab 16.0)."""
GITLAB_PROJECT_VISIBILITIES = ("private", "public")
"""What the projects a GitLab cache pulls from are: `token.projects`. GitLab.com has no internal projects."""


def gitlab_pull_role(projects: str) -> str:
    """The least GitLab role that pulls images from the group's projects.

    GitLab docs, "Roles and permissions" (user/permissions), project container registry: "The Guest role does not
    have viewing or pulling permissions in private projects", and a registry visible to "Only Project Members" is
    visible to "members with at least the Reporter role" (user/packages/container_registry, "Container registry
    visibility permissions"). So Reporter, the default; Guest only where every project and its registry are public.
    AWS's pull through cache guide says Guest; GitLab's own rules decide what GitLab lets a token pull.
    """
    return "guest" if projects == "public" else "reporter"


GITLAB_ACCESS_TOKEN_USERNAME = "ecr-pull-through-cache"
"""Group access tokens authenticate with "any non-blank value as a username" and the token as the password
(GitLab docs, "Group access tokens"); a group deploy token authenticates with its own username (GitLab docs,
"Deploy tokens")."""

GITLAB_TOKEN_TYPES = (
    "group-access-token",
    "group-deploy-token",
    "project-access-token",
    "project-deploy-token",
    "personal-access-token",
)
"""GitLab's token types (GitLab docs, "Token overview"). Least privilege for a pull through cache is a group
access token with only read_registry and the least role that pulls (`gitlab_pull_role`: Reporter for private
projects); a group deploy token with read_registry where group access tokens are not offered."""

AZURE_REGISTRY_NAME = re.compile(r"[a-zA-Z0-9]{5,50}", re.ASCII)
AZURE_HOST = re.compile(r"(?P<name>[a-zA-Z0-9]{5,50})\.azurecr\.io", re.ASCII)
ECR_HOST_TEMPLATE = r"(?P<account>\d{{12}})\.dkr\.ecr\.(?P<region>[a-z]{{2,4}}(-[a-z]+)+-\d+)\.(?P<suffix>{suffixes})"
ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)
# ImageTagMutability in botocore's ecr service-2.json; exclusion filters go only with the *_WITH_EXCLUSION pair.
TAG_MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")


def get_kind(kind: str | UpstreamRegistry) -> Kind:
    """The catalog entry for `kind`; raises KeyError for an unknown kind."""
    return KINDS[kind.value if isinstance(kind, UpstreamRegistry) else kind]


def azure_host(registry: str) -> str:
    """`acmeprod` or `acmeprod.azurecr.io` -> `acmeprod.azurecr.io` (lower case, as Azure serves it)."""
    match = AZURE_HOST.fullmatch(registry)
    name = match.group("name") if match else registry
    if not AZURE_REGISTRY_NAME.fullmatch(name):
        raise ValueError(
            f"'{registry}' is not an Azure Container Registry name: use 5-50 letters and digits, "
            "for example 'acmeprod' or 'acmeprod.azurecr.io'"
        )
    return f"{name.lower()}.azurecr.io"


def ecr_host(account_id: str, region: str, dns_suffix: str = "amazonaws.com") -> str:
    """The private registry host of `account_id` in `region`."""
    host = f"{account_id}.dkr.ecr.{region}.{dns_suffix}"
    if not ECR_HOST.fullmatch(host):
        raise ValueError(f"'{account_id}' in '{region}' does not make an ECR registry host ({host})")
    return host


def parse_ecr_registry(registry: str, default_region: str, dns_suffix: str = "amazonaws.com") -> str:
    """An ECR upstream given as a full host or as a 12-digit account id (same region as the stack)."""
    if ACCOUNT_ID.fullmatch(registry):
        return ecr_host(registry, default_region, dns_suffix)
    if ECR_HOST.fullmatch(registry):
        return registry
    raise ValueError(
        f"'{registry}' is not an ECR registry: use '<account>.dkr.ecr.<region>.amazonaws.com' "
        "or a 12-digit account id (same region as the stack)"
    )


def upstream_url(
    kind: str | UpstreamRegistry, registry: str | None = None, region: str = "", dns_suffix: str = "amazonaws.com"
) -> str:
    """The `upstreamRegistryUrl` for a kind; Azure and ECR derive it from `registry`."""
    entry = get_kind(kind)
    if entry.url is not None:
        return entry.url
    if not registry:
        raise ValueError(f"kind '{entry.kind}' needs 'registry' to build its upstream URL")
    if entry.kind == "azure-container-registry":
        return azure_host(registry)
    return parse_ecr_registry(registry, region, dns_suffix)


def scopes_beyond_least_privilege(kind: str | UpstreamRegistry, scopes: list[str] | tuple[str, ...]) -> list[str]:
    """Declared scopes that are not in the kind's least-privilege set, in the order given."""
    allowed = get_kind(kind).allowed_scopes
    return [s for s in scopes if s not in allowed]


# Partitions by region name (the AWS SDKs' partitions.json: each partition's `regionRegex`), and the DNS
# suffix its ECR hosts use. An ECR upstream must be in the stack's own partition: IAM roles and
# principals never cross partitions (IAM user guide, "AWS partitions": "you can't delegate access
# between accounts in different partitions").
@functools.cache
def partitions() -> tuple[tuple[str, frozenset[str], re.Pattern[str], str], ...]:
    """(partition, known regions, region pattern, DNS suffix) of every AWS partition, from botocore's own partition
    data (`botocore/data/partitions.json`, what botocore's endpoint rules resolve with), read as the 7 KB file it is
    rather than through botocore's loader (a tenth of a second of every preview)."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:  # pragma: no cover - botocore is a dependency
        raise ImportError("botocore is required")
    data = json.loads((Path(spec.origin).parent / "data" / "partitions.json").read_text(encoding="utf-8"))
    return tuple(
        (p["id"], frozenset(p.get("regions", {})), re.compile(p["regionRegex"], re.ASCII), p["outputs"]["dnsSuffix"])
        for p in data["partitions"]
    )


ECR_HOST = re.compile(
    ECR_HOST_TEMPLATE.format(suffixes="|".join(sorted({re.escape(p[3]) for p in partitions()}, key=len, reverse=True))),
    re.ASCII,
)
"""An ECR registry host in any partition's DNS suffix (botocore's partition data). Match with `fullmatch`: `$` would
admit a trailing newline, and `re.ASCII` keeps `\\d` to 0-9."""

GOVCLOUD_REGIONS = frozenset({"us-gov-east-1", "us-gov-west-1"})
"""KMS_DSSE (dual-layer server-side encryption) exists only here: ECR user guide, "Encryption at rest":
"Dual-layer server-side encryption with AWS KMS (DSSE-KMS) is only available in the AWS GovCloud (US)
Regions"."""


def partition_of_region(region: str) -> tuple[str, str] | None:
    """(partition, DNS suffix) of a region name, or None for a name no partition claims: a region botocore lists by
    name first, then the partition whose region pattern matches (as botocore resolves an unknown region)."""
    if not isinstance(region, str) or "-global" in region:
        return None
    for name, regions, _, suffix in partitions():
        if region in regions:
            return name, suffix
    for name, _, pattern, suffix in partitions():
        if pattern.fullmatch(region):
            return name, suffix
    return None
