import pytest

from ecr_pull_through_cache import catalog
from tests.botocore_model import shape


def test_the_kinds_are_exactly_the_api_enum():
    assert sorted(catalog.KINDS) == sorted(shape("UpstreamRegistry")["enum"])
    assert sorted(k.value for k in catalog.UpstreamRegistry) == sorted(catalog.KINDS)


@pytest.mark.parametrize(
    "kind, url, prefix",
    [
        ("ecr-public", "public.ecr.aws", "ecr-public"),
        ("k8s", "registry.k8s.io", "kubernetes"),
        ("quay", "quay.io", "quay"),
        ("docker-hub", "registry-1.docker.io", "docker-hub"),
        ("github-container-registry", "ghcr.io", "github"),
        ("gitlab-container-registry", "registry.gitlab.com", "gitlab"),
        ("chainguard", "cgr.dev", "chainguard"),
    ],
)
def test_fixed_urls_and_default_prefixes(kind, url, prefix):
    assert catalog.upstream_url(kind) == url
    assert catalog.KINDS[kind].default_prefix == prefix


@pytest.mark.parametrize(
    "kind, auth",
    [
        ("ecr-public", "none"),
        ("k8s", "none"),
        ("quay", "none"),
        ("docker-hub", "secret"),
        ("github-container-registry", "secret"),
        ("azure-container-registry", "secret"),
        ("gitlab-container-registry", "secret"),
        ("chainguard", "secret"),
        ("ecr", "role"),
    ],
)
def test_how_each_kind_authenticates(kind, auth):
    assert catalog.KINDS[kind].auth.value == auth


def test_least_privilege_scopes():
    assert catalog.KINDS["gitlab-container-registry"].allowed_scopes == {"read_registry"}
    assert catalog.KINDS["github-container-registry"].allowed_scopes == {"read:packages"}
    assert catalog.KINDS["docker-hub"].allowed_scopes == {"repo:public_read", "repo:read"}
    assert catalog.KINDS["azure-container-registry"].allowed_scopes == {"content/read", "metadata/read"}
    assert catalog.KINDS["chainguard"].allowed_scopes == {"registry.pull"}
    assert catalog.scopes_beyond_least_privilege("gitlab-container-registry", ["read_registry", "api"]) == ["api"]


def test_azure_url_from_the_registry_name():
    assert catalog.upstream_url("azure-container-registry", "acmeprod") == "acmeprod.azurecr.io"
    assert catalog.upstream_url("azure-container-registry", "AcmeProd.azurecr.io") == "acmeprod.azurecr.io"
    with pytest.raises(ValueError, match="Azure Container Registry name"):
        catalog.upstream_url("azure-container-registry", "acme-prod")


def test_ecr_url_from_the_host_or_the_account():
    host = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"
    assert catalog.upstream_url("ecr", host, "us-east-2") == host
    assert catalog.upstream_url("ecr", "210987654321", "us-east-2") == "210987654321.dkr.ecr.us-east-2.amazonaws.com"
    assert catalog.upstream_url("ecr", "210987654321", "cn-north-1", "amazonaws.com.cn").endswith(".amazonaws.com.cn")
    with pytest.raises(ValueError, match="not an ECR registry"):
        catalog.upstream_url("ecr", "registry.example.com", "us-east-2")
    with pytest.raises(ValueError, match="needs 'registry'"):
        catalog.upstream_url("ecr")
