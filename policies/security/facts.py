"""Facts about ECR pull through cache upstreams that the security policies enforce.

A policy pack must stand alone (it is published on its own), so it keeps its own copy of the
facts in `components/catalog.py`; `tests/test_policy_agreement.py` proves the two agree.
"""

import re

KIND_HOSTS = {
    "ecr-public": "public.ecr.aws",
    "k8s": "registry.k8s.io",
    "quay": "quay.io",
    "docker-hub": "registry-1.docker.io",
    "github-container-registry": "ghcr.io",
    "gitlab-container-registry": "registry.gitlab.com",
    "chainguard": "cgr.dev",
}
AZURE_HOST = re.compile(r"[a-z0-9]{5,50}\.azurecr\.io", re.ASCII)
ECR_HOST = re.compile(r"\d{12}\.dkr\.ecr\.[a-z]{2}(-[a-z]+)+-\d\.amazonaws\.com(\.cn)?", re.ASCII)

NO_CREDENTIALS = frozenset({"ecr-public", "k8s", "quay"})
ROLE_CREDENTIALS = frozenset({"ecr"})
SECRET_CREDENTIALS = frozenset(
    {
        "docker-hub",
        "github-container-registry",
        "azure-container-registry",
        "gitlab-container-registry",
        "chainguard",
    }
)

ALLOWED_SCOPES = {
    "docker-hub": ["repo:public_read", "repo:read"],
    "github-container-registry": ["read:packages"],
    "azure-container-registry": ["content/read", "metadata/read"],
    "gitlab-container-registry": ["read_registry"],
    "chainguard": ["registry.pull"],
}
TOKEN_HELP = {
    "docker-hub": "use a personal access token with 'Public Repo Read-only' or 'Read-only' access",
    "github-container-registry": "use a classic personal access token with only read:packages",
    "azure-container-registry": "use a repository-scoped token whose scope map grants only content/read "
    "and metadata/read",
    "gitlab-container-registry": "use a group access token with the Reporter role and only read_registry",
    "chainguard": "use a Chainguard pull token (registry.pull)",
}

DEFAULT_ALLOWED_HOSTS = [
    *KIND_HOSTS.values(),
    "*.azurecr.io",
    "*.dkr.ecr.*.amazonaws.com",
    "*.dkr.ecr.*.amazonaws.com.cn",
]

SECRET_PREFIX = "ecr-pullthroughcache/"
CREDENTIAL_ARN = re.compile(
    r"arn:aws(-\w+)*:secretsmanager:[a-zA-Z0-9-:]+:secret:ecr\-pullthroughcache\/[a-zA-Z0-9\/_+=.@-]+", re.ASCII
)
ARN = re.compile(
    r"arn:(?P<partition>aws[a-z0-9-]*):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>\d{12}|):(?P<resource>.+)",
    re.ASCII,
)
CACHE_REPOSITORY_ARN = re.compile(
    r"arn:aws[a-z0-9-]*:ecr:[a-z0-9-]+:\d{12}:repository/"
    r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*/\*",
    re.ASCII,
)
"""Patterns here are matched with `fullmatch` and ASCII classes: `$` alone admits a trailing newline."""
CACHE_ACTIONS = ("ecr:BatchImportUpstreamImage", "ecr:CreateRepository")

TAG_UPSTREAM = "ptc:upstream"
TAG_SCOPES = "ptc:token-scopes"
TAG_TOKEN_TYPE = "ptc:token-type"
GITLAB_TOKEN_TYPES = (
    "group-access-token",
    "group-deploy-token",
    "project-access-token",
    "project-deploy-token",
    "personal-access-token",
)
"""GitLab token types (GitLab docs, "Token overview"); least privilege is a group access token with the Reporter
role and only read_registry, or a group deploy token with read_registry where group access tokens are not
offered."""

SECRET = "aws:secretsmanager/secret:Secret"
SECRETS = (SECRET, "aws-native:secretsmanager:Secret")
RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
RULES = (RULE, "aws-native:ecr:PullThroughCacheRule")
"""A rule in pulumi-aws or aws-native (CloudFormation's AWS::ECR::PullThroughCacheRule): the same camelCase inputs,
`upstreamRegistryUrl`, `ecrRepositoryPrefix`, `credentialArn`, `customRoleArn`."""
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
UPSTREAM_COMPONENT = "ecr-pull-through-cache:index:UpstreamCache"


def kind_of_url(url: str) -> str | None:
    """The upstream kind an `upstreamRegistryUrl` belongs to, or None for an unknown host."""
    for kind, host in KIND_HOSTS.items():
        if url == host:
            return kind
    if AZURE_HOST.fullmatch(url):
        return "azure-container-registry"
    if ECR_HOST.fullmatch(url):
        return "ecr"
    return None


def account_list(description: str) -> dict:
    """A policy setting that lists 12-digit AWS account ids (the JSON Schema the CLI and ptc validate it with)."""
    return {"type": "array", "items": {"type": "string", "pattern": "^[0-9]{12}$"}, "description": description}


def name_list(description: str) -> dict:
    """A policy setting that lists names (or shell patterns) as text."""
    return {"type": "array", "items": {"type": "string"}, "description": description}
