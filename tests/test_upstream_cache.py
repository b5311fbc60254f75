"""UpstreamCache under the mock engine: the right children for every kind, secrets kept secret."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from ecr_pull_through_cache.config import ConfigError
from ecr_pull_through_cache.upstream_cache import UpstreamCache
from ptc.mock_engine import RunResult
from tests.conftest import TOKENS, run_component

RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
SECRET = "aws:secretsmanager/secret:Secret"
VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
COMPONENT = "ecr-pull-through-cache:index:UpstreamCache"

UPSTREAMS: dict[str, dict[str, Any]] = {
    "ecr-public": {"kind": "ecr-public"},
    "k8s": {"kind": "k8s"},
    "quay": {"kind": "quay"},
    "docker-hub": {
        "kind": "docker-hub",
        "username": "bot",
        "access_token": TOKENS["docker-hub"],
        "token_scopes": ["repo:public_read"],
    },
    "github-container-registry": {
        "kind": "github-container-registry",
        "username": "bot",
        "access_token": TOKENS["github"],
        "token_scopes": ["read:packages"],
    },
    "azure-container-registry": {
        "kind": "azure-container-registry",
        "registry": "acmeprod",
        "username": "tok",
        "access_token": TOKENS["azure"],
        "token_scopes": ["content/read", "metadata/read"],
    },
    "gitlab-container-registry": {
        "kind": "gitlab-container-registry",
        "username": "bot",
        "access_token": TOKENS["gitlab"],
        "token_scopes": ["read_registry"],
    },
    "chainguard": {
        "kind": "chainguard",
        "username": "identity",
        "access_token": TOKENS["chainguard"],
        "token_scopes": ["registry.pull"],
    },
    "ecr": {
        "kind": "ecr",
        "prefix": "golden",
        "registry": "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
        "upstream_prefix": "release",
    },
}
EXPECTED_URL = {
    "ecr-public": "public.ecr.aws",
    "k8s": "registry.k8s.io",
    "quay": "quay.io",
    "docker-hub": "registry-1.docker.io",
    "github-container-registry": "ghcr.io",
    "azure-container-registry": "acmeprod.azurecr.io",
    "gitlab-container-registry": "registry.gitlab.com",
    "chainguard": "cgr.dev",
    "ecr": "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
}
SECRET_KINDS = {
    "docker-hub",
    "github-container-registry",
    "azure-container-registry",
    "gitlab-container-registry",
    "chainguard",
}


def cache(upstream: dict[str, Any], *, name: str = "t", preview: bool = False, **extra: Any) -> RunResult:
    def build():
        c = UpstreamCache(name, {"upstream": upstream, "environment": "test", "tags": {"team": "platform"}, **extra})
        pulumi.export(
            "cache",
            {
                "prefix": c.prefix,
                "cache_uri": c.cache_uri,
                "credential_arn": c.credential_arn,
                "custom_role_arn": c.custom_role_arn,
                "template": c.template,
                "kind": c.kind,
                "upstream_url": c.upstream_url,
                "upstream_prefix": c.upstream_prefix,
            },
        )

    result = run_component(build, preview=preview)
    if result.error is not None and not isinstance(result.error, ConfigError):
        raise result.error
    return result


@pytest.mark.parametrize("kind", sorted(UPSTREAMS))
def test_each_kind_gets_its_rule_secret_template_and_roles(kind):
    result = cache(UPSTREAMS[kind])
    assert result.error is None, result.error
    rule = result.by_type(RULE)[0].inputs
    assert rule["upstreamRegistryUrl"] == EXPECTED_URL[kind]
    secrets = result.by_type(SECRET)
    if kind in SECRET_KINDS:
        assert len(secrets) == 1 and len(result.by_type(VERSION)) == 1
        assert rule["credentialArn"] == secrets[0].state["arn"]
        tags = secrets[0].inputs["tags"]
        assert tags["ptc:upstream"] == kind
        assert tags["ptc:token-scopes"] == " ".join(UPSTREAMS[kind]["token_scopes"])
        assert tags["environment"] == "test" and tags["team"] == "platform"
        assert secrets[0].inputs["namePrefix"].startswith("ecr-pullthroughcache/test/")
    else:
        assert secrets == [] and "credentialArn" not in rule
    role_names = sorted(r.name for r in result.by_type(ROLE))
    if kind == "ecr":
        assert rule["customRoleArn"] == result.get(ROLE, "t-upstream").state["arn"]
        assert rule["upstreamRepositoryPrefix"] == "release"
        assert role_names == ["t-template", "t-upstream"]
    else:
        assert "customRoleArn" not in rule and "upstreamRepositoryPrefix" not in rule
        assert role_names == ["t-template"]
    template = result.by_type(TEMPLATE)[0].inputs
    assert template["prefix"] == rule["ecrRepositoryPrefix"]
    assert template["appliedFors"] == ["PULL_THROUGH_CACHE"]
    assert json.loads(template["lifecyclePolicy"])["rules"]
    outputs = result.plain_outputs["cache"]
    assert outputs["cache_uri"] == f"123456789012.dkr.ecr.us-east-2.amazonaws.com/{rule['ecrRepositoryPrefix']}"
    assert outputs["upstream_url"] == EXPECTED_URL[kind] and outputs["kind"] == kind


@pytest.mark.parametrize("kind", sorted(SECRET_KINDS))
def test_tokens_appear_only_as_secrets(kind):
    result = cache(UPSTREAMS[kind])
    token = UPSTREAMS[kind]["access_token"]
    version = result.by_type(VERSION)[0]
    assert version.secret_paths == ["secretString"]
    assert json.loads(version.inputs["secretString"]) == {"username": UPSTREAMS[kind]["username"], "accessToken": token}
    for reg in result.resources:
        exposed = {k: v for k, v in reg.properties.items() if not (reg is version and k == "secretString")}
        assert token not in json.dumps(exposed), f"{reg.type} {reg.name} holds the token in plain text"
        state = {k: v for k, v in reg.state.items() if not (reg is version and k == "secretString")}
        assert token not in json.dumps(state, default=str)
    assert token not in json.dumps(result.outputs)


def test_a_plain_string_token_is_still_stored_as_a_secret():
    """The component makes the token secret even when a caller passes a plain string."""
    upstream = dict(UPSTREAMS["docker-hub"], access_token="plain-token")
    result = cache(upstream)
    assert result.by_type(VERSION)[0].secret_paths == ["secretString"]


def test_children_are_parented_to_the_component_and_named_from_it():
    result = cache(UPSTREAMS["ecr"], name="acme-golden")
    component = result.by_type(COMPONENT)[0]
    children = [r for r in result.resources if r is not component]
    assert children
    for child in children:
        assert child.parent == component.urn, child.urn
        assert child.name.startswith("acme-golden-"), child.name
        assert "ecr-pull-through-cache:index:UpstreamCache$" in child.urn


def test_the_rule_waits_for_its_template_and_credentials():
    result = cache(UPSTREAMS["docker-hub"])
    rule = result.by_type(RULE)[0]
    assert result.by_type(TEMPLATE)[0].urn in rule.dependencies
    assert result.by_type(VERSION)[0].urn in rule.dependencies
    template = result.by_type(TEMPLATE)[0]
    assert result.get(ROLE_POLICY, "t-template").urn in template.dependencies


def test_existing_secret_by_name_is_looked_up_and_nothing_is_created():
    result = cache(
        {
            "kind": "gitlab-container-registry",
            "existing_secret": "ecr-pullthroughcache/shared/gitlab",
            "token_scopes": ["read_registry"],
        }
    )
    assert result.by_type(SECRET) == [] and result.by_type(VERSION) == []
    arn = result.by_type(RULE)[0].inputs["credentialArn"]
    assert arn.startswith("arn:aws:secretsmanager:us-east-2:123456789012:secret:ecr-pullthroughcache/shared/gitlab-")


def test_existing_secret_by_arn_is_used_as_given():
    arn = "arn:aws:secretsmanager:us-east-2:123456789012:secret:ecr-pullthroughcache/hub-AbCdEf"
    result = cache({"kind": "docker-hub", "existing_secret": arn, "token_scopes": ["repo:read"]})
    assert result.by_type(SECRET) == []
    assert result.by_type(RULE)[0].inputs["credentialArn"] == arn
    assert result.plain_outputs["cache"]["credential_arn"] == arn


def test_random_suffix_is_stable_and_used_everywhere():
    upstream = dict(UPSTREAMS["gitlab-container-registry"], random_suffix=True)
    result = cache(upstream)
    suffix = result.get("random:index/randomId:RandomId", "t-prefix-suffix")
    assert suffix.inputs["byteLength"] == 2 and suffix.inputs["keepers"] == {"prefix": "gitlab"}
    prefix = result.by_type(RULE)[0].inputs["ecrRepositoryPrefix"]
    assert prefix == f"gitlab-{suffix.state['hex']}" and len(prefix) == len("gitlab-ef1b")
    assert result.by_type(TEMPLATE)[0].inputs["prefix"] == prefix
    assert result.plain_outputs["cache"]["cache_uri"].endswith("/" + prefix)
    # In a preview the suffix is not known yet, like the console shows before creation.
    preview = cache(upstream, preview=True)
    assert preview.by_type(RULE)[0].inputs["ecrRepositoryPrefix"] == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def test_template_role_exists_exactly_when_tags_or_kms_need_it():
    plain = dict(UPSTREAMS["quay"], template={"tag_repositories": False})
    result = cache(plain)
    assert result.by_type(ROLE) == []
    assert "customRoleArn" not in result.by_type(TEMPLATE)[0].inputs
    assert "resourceTags" not in result.by_type(TEMPLATE)[0].inputs

    kms_only = dict(UPSTREAMS["quay"], template={"tag_repositories": False, "encryption": "KMS"})
    result = cache(kms_only)
    role = result.get(ROLE, "t-template")
    assert json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "ecr.amazonaws.com"}
    assert result.by_type(TEMPLATE)[0].inputs["customRoleArn"] == role.state["arn"]
    kms = json.loads(result.get(ROLE_POLICY, "t-template-kms").inputs["policy"])["Statement"]
    assert kms[0]["Condition"] == {"StringEquals": {"kms:ViaService": "ecr.us-east-2.amazonaws.com"}}
    assert result.get(ROLE_POLICY, "t-template-kms").urn in result.by_type(TEMPLATE)[0].dependencies

    tags_only = UPSTREAMS["quay"]
    result = cache(tags_only)
    template = result.by_type(TEMPLATE)[0].inputs
    assert template["resourceTags"]["ptc:prefix"] == "quay"
    policy = json.loads(result.get(ROLE_POLICY, "t-template").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["CreateCachedRepositories"]
    assert not [p for p in result.by_type(ROLE_POLICY) if p.name == "t-template-kms"]
    assert policy["Statement"][0]["Resource"] == "arn:aws:ecr:us-east-2:123456789012:repository/quay/*"


def test_customer_managed_key_for_the_template_never_the_secret():
    key = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    upstream = dict(UPSTREAMS["docker-hub"], template={"encryption": "KMS", "kms_key_arn": key})
    result = cache(upstream)
    assert "kmsKeyId" not in result.by_type(SECRET)[0].inputs
    template = result.by_type(TEMPLATE)[0].inputs
    assert template["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key}]
    policy = json.loads(result.get(ROLE_POLICY, "t-template-kms").inputs["policy"])
    assert [s["Resource"] for s in policy["Statement"]] == [key]
    assert result.plain_outputs["cache"]["template"]["kms_key_arn"] == key


def test_ecr_upstream_role_is_trusted_as_aws_documents_it():
    result = cache(UPSTREAMS["ecr"])
    trust = json.loads(result.get(ROLE, "t-upstream").inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pullthroughcache.ecr.amazonaws.com"}
    assert "Condition" not in trust  # AWS documents no confused-deputy key sent by this service
    policy = json.loads(result.get(ROLE_POLICY, "t-upstream").inputs["policy"])
    resources = {s["Sid"]: s["Resource"] for s in policy["Statement"]}
    assert resources["PullFromUpstreamRegistry"] == "arn:aws:ecr:eu-west-1:210987654321:repository/release/*"
    assert resources["ImportIntoCache"] == "arn:aws:ecr:us-east-2:123456789012:repository/golden/*"


@pytest.mark.parametrize(
    "upstream, message",
    [
        (
            {"kind": "gitlab-container-registry", "username": "bot", "access_token": "t", "token_scopes": ["api"]},
            "UpstreamCache 'bad' (gitlab-container-registry) token_scopes: 'api' is beyond least privilege",
        ),
        (
            {"kind": "quay", "access_token": "t"},
            "UpstreamCache 'bad' (quay) access_token: is not allowed for kind 'quay' because ECR refuses credentials",
        ),
        (
            {"kind": "ecr", "prefix": "golden", "registry": "210987654321"},
            "UpstreamCache 'bad' (ecr) registry: '210987654321' is an account id; give the full registry host",
        ),
        (
            {
                "kind": "docker-hub",
                "username": "bot",
                "token_scopes": ["repo:read"],
                "template": {"image_tag_mutability": "FROZEN"},
            },
            "UpstreamCache 'bad' (docker-hub) access_token: is required: give the upstream's token as access_token",
        ),
    ],
)
def test_invalid_arguments_are_refused_before_anything_is_registered(upstream, message):
    result = cache(upstream, name="bad")
    assert isinstance(result.error, ConfigError)
    assert message in str(result.error)
    assert result.resources == []
