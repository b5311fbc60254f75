"""PullThroughCache and the whole program: outputs contract, KMS, scanning, the repo's stacks."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pulumi
import pytest

from ecr_pull_through_cache.config import ConfigError
from ecr_pull_through_cache.registry import PullThroughCache
from ptc.mock_engine import run_program
from tests.conftest import BASE_CONFIG, ROOT, TOKENS, config_with, run_component, run_stack, stack_config, stack_file

SCANNING = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
KEY = "aws:kms/key:Key"
SECRET = "aws:secretsmanager/secret:Secret"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
COMPONENT = "ecr-pull-through-cache:index:PullThroughCache"
UPSTREAM = "ecr-pull-through-cache:index:UpstreamCache"


def test_outputs_contract_of_the_program():
    result = run_stack(BASE_CONFIG)
    assert result.error is None, result.error
    outputs = result.plain_outputs
    assert outputs["registry_url"] == "123456789012.dkr.ecr.us-east-2.amazonaws.com"
    assert set(outputs["upstreams"]) == {"ecr-public", "docker-hub"}
    hub = outputs["upstreams"]["docker-hub"]
    assert hub["kind"] == "docker-hub" and hub["upstream_url"] == "registry-1.docker.io"
    assert hub["cache_uri"] == "123456789012.dkr.ecr.us-east-2.amazonaws.com/docker-hub"
    assert hub["credential_arn"].startswith(
        "arn:aws:secretsmanager:us-east-2:123456789012:secret:ecr-pullthroughcache/"
    )
    assert hub["upstream_prefix"] is None
    template = hub["template"]
    assert template["image_tag_mutability"] == "MUTABLE"
    assert json.loads(template["lifecycle_policy"])["rules"][0]["selection"]["tagStatus"] == "untagged"
    assert template["resource_tags"]["environment"] == "test"
    assert outputs["upstreams"]["ecr-public"]["credential_arn"] is None
    assert TOKENS["docker-hub"] not in json.dumps(result.outputs)


def test_children_named_from_the_environment_and_parented():
    result = run_stack(BASE_CONFIG)
    registry = result.by_type(COMPONENT)[0]
    assert registry.name == "test"
    upstreams = result.by_type(UPSTREAM)
    assert sorted(u.name for u in upstreams) == ["test-docker-hub", "test-ecr-public"]
    assert all(u.parent == registry.urn for u in upstreams)


def test_kms_key_is_created_and_used_for_secrets_and_templates():
    result = run_stack(config_with(kms={"create_key": True}))
    key = result.get(KEY, "test-kms")
    policy = json.loads(key.inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["AccountAdministersKeyThroughIam"]
    assert key.inputs["enableKeyRotation"] is True
    # ECR's pull through cache cannot decrypt a secret under a customer-managed key: secrets keep the default.
    assert "kmsKeyId" not in result.by_type(SECRET)[0].inputs
    for template in result.by_type(TEMPLATE):
        assert template.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key.state["arn"]}]
    assert result.plain_outputs["upstreams"]["docker-hub"]["template"]["encryption_type"] == "KMS"


def test_an_existing_kms_key_is_used_without_creating_one():
    arn = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    result = run_stack(config_with(kms={"key_arn": arn}))
    assert result.by_type(KEY) == []
    assert "kmsKeyId" not in result.by_type(SECRET)[0].inputs
    for template in result.by_type(TEMPLATE):
        assert template.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": arn}]


def test_scanning_covers_exactly_the_cached_prefixes():
    config = config_with(scanning={"scan_type": "ENHANCED", "frequency": "CONTINUOUS_SCAN"})
    config["upstreams"].append(
        {
            "kind": "gitlab-container-registry",
            "random_suffix": True,
            "username": "bot",
            "token_scopes": ["read_registry"],
        }
    )
    config["credentials"]["gitlab"] = {"secure": TOKENS["gitlab"]}
    result = run_stack(config)
    scanning = result.by_type(SCANNING)[0].inputs
    assert scanning["scanType"] == "ENHANCED"
    rule = scanning["rules"][0]
    assert rule["scanFrequency"] == "CONTINUOUS_SCAN"
    filters = sorted(f["filter"] for f in rule["repositoryFilters"])
    gitlab = [p for p in result.plain_outputs["upstreams"] if p.startswith("gitlab-")][0]
    assert filters == sorted(["ecr-public/*", "docker-hub/*", f"{gitlab}/*"])
    assert all(u["template"]["scan_on_push"] for u in result.plain_outputs["upstreams"].values())


def test_no_scanning_configuration_unless_asked():
    assert run_stack(BASE_CONFIG).by_type(SCANNING) == []


def test_component_arguments_get_the_same_validation_as_the_config():
    def build():
        PullThroughCache(
            "bad",
            {
                "environment": "test",
                "upstreams": [
                    {"kind": "quay"},
                    {"kind": "quay"},
                    {"kind": "docker-hub", "username": "x", "access_token": "t", "token_scopes": ["admin"]},
                ],
                "template": {"kms_key_arn": "arn:aws:kms:us-east-2:123456789012:key/x"},
            },
        )

    result = run_component(build)
    assert isinstance(result.error, ConfigError)
    text = str(result.error)
    assert "template kms_key_arn: is set by the registry" in text
    assert "upstreams[1] (quay) prefix: 'quay' is already used by upstreams[0]" in text
    assert "upstreams[2] (docker-hub) token_scopes: 'admin' is beyond least privilege" in text
    assert result.resources == []


def test_component_takes_tokens_inside_upstreams_and_tags_as_outputs():
    def build():
        cache = PullThroughCache(
            "plug",
            {
                "environment": "test",
                "tags": pulumi.Output.from_input({"team": "platform"}),
                "upstreams": [
                    {
                        "kind": "docker-hub",
                        "username": "bot",
                        "access_token": pulumi.Output.secret("tok-123"),
                        "token_scopes": ["repo:read"],
                    }
                ],
            },
        )
        pulumi.export("upstreams", cache.upstreams)

    result = run_component(build)
    assert result.error is None, result.error
    assert result.by_type(SECRET)[0].inputs["tags"]["team"] == "platform"
    assert "tok-123" not in json.dumps(result.outputs)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("preview", [True, False])
def test_the_repository_stacks_run_clean(stack, preview):
    result = run_program(ROOT, stack_config(stack_file(stack), stack), preview=preview)
    assert result.error is None, result.error
    assert not [level for level, _ in result.logs if level in ("error", "warning")], result.logs
    tokens = [v["secure"] for v in stack_file(stack)["ecr-pull-through-cache:credentials"].values()]
    for reg in result.resources:
        for key, value in reg.properties.items():
            if key not in reg.secret_paths:
                assert not any(t in json.dumps(value) for t in tokens), (reg.type, reg.name, key)


def test_dev_stack_covers_several_kinds_and_an_existing_secret(dev_up):
    upstreams = dev_up.plain_outputs["upstreams"]
    kinds = {u["kind"] for u in upstreams.values()}
    assert {
        "ecr-public",
        "k8s",
        "quay",
        "docker-hub",
        "github-container-registry",
        "gitlab-container-registry",
        "chainguard",
    } <= kinds
    chainguard = upstreams["chainguard"]
    assert "ecr-pullthroughcache/shared/chainguard" in chainguard["credential_arn"]
    assert not [s for s in dev_up.by_type(SECRET) if "chainguard" in s.name]


def test_prod_stack_is_production_shaped(prod_up):
    assert prod_up.by_type(KEY)
    for upstream in prod_up.plain_outputs["upstreams"].values():
        assert upstream["template"]["image_tag_mutability"] == "IMMUTABLE"
        assert upstream["template"]["encryption_type"] == "KMS"
        assert upstream["template"]["kms_key_arn"] == prod_up.by_type(KEY)[0].state["arn"]
    for secret in prod_up.by_type(SECRET):
        assert "kmsKeyId" not in secret.inputs


def test_consumer_policy_output_covers_every_prefix():
    result = run_stack(BASE_CONFIG)
    outputs = result.plain_outputs
    policy = result.get("aws:iam/policy:Policy", "test-consumer")
    assert outputs["consumer_policy_arn"] == policy.state["arn"]
    document = json.loads(outputs["consumer_policy_document"])
    assert document == json.loads(policy.inputs["policy"])
    assert outputs["consumer_policy_arns"] == [policy.state["arn"]]
    assert [json.loads(d) for d in outputs["consumer_policy_documents"]] == [document]
    resources = document["Statement"][0]["Resource"]
    assert resources == [
        "arn:aws:ecr:us-east-2:123456789012:repository/docker-hub/*",
        "arn:aws:ecr:us-east-2:123456789012:repository/ecr-public/*",
    ]
    assert "ecr:TagResource" in document["Statement"][0]["Action"]  # the templates tag repositories
    assert outputs["image_hosts"]["docker.io"] == outputs["upstreams"]["docker-hub"]["cache_uri"]
    assert result.by_type("aws:ecr/registryPolicy:RegistryPolicy") == []


def test_org_wide_access_adds_a_registry_policy_and_repository_policies():
    result = run_stack(config_with(consumers={"organization_id": "o-abcdefghij"}))
    policy = json.loads(result.get("aws:ecr/registryPolicy:RegistryPolicy", "test-consumers").inputs["policy"])
    statement = policy["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    assert sorted(statement["Resource"]) == [
        "arn:aws:ecr:us-east-2:123456789012:repository/docker-hub/*",
        "arn:aws:ecr:us-east-2:123456789012:repository/ecr-public/*",
    ]
    for template in result.by_type(TEMPLATE):
        repository = json.loads(template.inputs["repositoryPolicy"])
        assert repository["Statement"][0]["Action"] == [
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
        ]
    template = result.plain_outputs["upstreams"]["docker-hub"]["template"]
    assert json.loads(template["repository_policy"])["Statement"][0]["Sid"] == "PullCachedImagesOrganization"


RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"


def test_rules_and_templates_are_replaced_delete_first():
    """AWS allows one rule and one template per prefix: a replacement created first would collide with itself."""
    result = run_stack(BASE_CONFIG)
    for registration in result.by_type(RULE) + result.by_type(TEMPLATE):
        assert registration.request.deleteBeforeReplace is True, registration.name
    assert result.by_type(SECRET)[0].request.deleteBeforeReplace is False  # name_prefix: replacements never collide


def test_iam_path_and_permissions_boundary_reach_every_role_and_policy():
    boundary = "arn:aws:iam::123456789012:policy/platform-boundary"
    config = config_with(
        iam={"path": "/platform/ptc/", "permissions_boundary": boundary},
        upstreams=[
            *BASE_CONFIG["upstreams"],
            {"kind": "ecr", "prefix": "golden", "registry": "210987654321.dkr.ecr.eu-west-1.amazonaws.com"},
        ],
    )
    result = run_stack(config)
    roles = result.by_type(ROLE)
    assert len(roles) == 4  # three templates, one upstream
    assert all(r.inputs["path"] == "/platform/ptc/" and r.inputs["permissionsBoundary"] == boundary for r in roles)
    assert all(p.inputs["path"] == "/platform/ptc/" for p in result.by_type(POLICY))


def test_a_user_supplied_template_role_replaces_the_created_one():
    role = "arn:aws:iam::123456789012:role/ecr-templates"
    result = run_stack(config_with(template={"custom_role_arn": role}))
    assert result.by_type(ROLE) == [] and result.by_type(ROLE_POLICY) == []
    assert {t.inputs["customRoleArn"] for t in result.by_type(TEMPLATE)} == {role}


def test_template_tags_are_merged_over_the_stack_tags_and_replication_is_granted_only_when_used():
    config = config_with(template={"resource_tags": {"mirror": "yes"}, "applied_for": ["PULL_THROUGH_CACHE"]})
    config["upstreams"][1]["template"] = {"applied_for": ["PULL_THROUGH_CACHE", "REPLICATION"]}
    result = run_stack(config)
    hub = result.get(TEMPLATE, "test-docker-hub-template")
    assert hub.inputs["resourceTags"]["mirror"] == "yes" and hub.inputs["resourceTags"]["team"] == "platform"
    actions = {p.name: json.loads(p.inputs["policy"])["Statement"][0]["Action"] for p in result.by_type(ROLE_POLICY)}
    assert "ecr:ReplicateImage" in actions["test-docker-hub-template"]
    assert "ecr:ReplicateImage" not in actions["test-ecr-public-template"]


def test_extra_registry_statements_and_template_repository_policies_are_merged():
    extra = {
        "Sid": "Replication",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
        "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
        "Resource": "arn:aws:ecr:us-east-2:123456789012:repository/*",
    }
    readers = {
        "Statement": [
            {
                "Sid": "Readers",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::555555555555:root"},
                "Action": "ecr:BatchGetImage",
            }
        ]
    }
    only_extra = run_stack(config_with(registry_policy_statements=[extra]))
    policy = json.loads(only_extra.get(REGISTRY_POLICY, "test-consumers").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["Replication"]

    result = run_stack(
        config_with(
            registry_policy_statements=[extra],
            consumers={"organization_id": "o-abcdefghij"},
            template={"repository_policy": readers},
        )
    )
    policy = json.loads(result.get(REGISTRY_POLICY, "test-consumers").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["FirstPullThroughCacheOrganization", "Replication"]
    repository = json.loads(result.get(TEMPLATE, "test-docker-hub-template").inputs["repositoryPolicy"])
    assert [s["Sid"] for s in repository["Statement"]] == ["PullCachedImagesOrganization", "Readers"]


def test_scan_on_push_reports_what_registry_scanning_does():
    without = run_stack(BASE_CONFIG).plain_outputs["upstreams"]["docker-hub"]["template"]
    assert without["scan_on_push"] is False and without["scan_frequency"] is None
    scanned = run_stack(config_with(scanning={"scan_type": "ENHANCED", "frequency": "CONTINUOUS_SCAN"}))
    template = scanned.plain_outputs["upstreams"]["docker-hub"]["template"]
    assert template["scan_on_push"] is True and template["scan_frequency"] == "CONTINUOUS_SCAN"


def test_upstream_grants_name_the_role_for_the_upstream_registrys_owner(prod_up):
    grants = prod_up.plain_outputs["upstream_grants"]
    golden = prod_up.plain_outputs["upstreams"]["golden"]
    assert list(grants) == ["210987654321.dkr.ecr.eu-west-1.amazonaws.com"]
    statement = json.loads(grants["210987654321.dkr.ecr.eu-west-1.amazonaws.com"])["Statement"][0]
    assert statement["Principal"] == {"AWS": golden["custom_role_arn"]}
    assert statement["Resource"] == "arn:aws:ecr:eu-west-1:210987654321:repository/release/*"
    assert run_stack(BASE_CONFIG).plain_outputs["upstream_grants"] == {}


GITLAB_TOKEN = "gitlab:index/groupAccessToken:GroupAccessToken"
DEPLOY_TOKEN = "gitlab:index/groupDeployToken:GroupDeployToken"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def with_gitlab_token(**token):
    return config_with(
        upstreams=[
            *BASE_CONFIG["upstreams"],
            {"kind": "gitlab-container-registry", "token": {"group": "acme/platform", **token}},
        ]
    )


def test_the_stack_creates_a_least_privilege_group_access_token_and_keeps_it_secret():
    result = run_stack(with_gitlab_token(expires_in_days=60, rotate_before_days=7))
    assert result.error is None, result.error
    token = result.get(GITLAB_TOKEN, "test-gitlab-gitlab-token")
    # Reporter: GitLab lets no Guest pull from a private project (catalog.gitlab_pull_role).
    assert token.inputs["accessLevel"] == "reporter" and token.inputs["scopes"] == ["read_registry"]
    assert token.inputs["rotationConfiguration"] == {"expirationDays": 60, "rotateBeforeDays": 7}
    assert token.inputs["group"] == "acme/platform"
    assert "token" in token.request.additionalSecretOutputs  # the provider keeps the value secret in state
    from importlib.metadata import version

    assert token.request.version == version("pulumi-gitlab")  # the pinned provider plugin, as the SDK class pins it
    value = token.state["token"]
    version = result.get(SECRET_VERSION, "test-gitlab-credentials")
    assert version.secret_paths == ["secretString"]
    assert json.loads(version.inputs["secretString"]) == {"username": "ecr-pull-through-cache", "accessToken": value}
    assert version.property_dependencies["secretString"] == [token.urn]
    for registration in result.resources:
        if registration is not version and registration is not token:
            assert value not in json.dumps(registration.properties)
    assert value not in json.dumps(result.outputs)
    secret = result.get(SECRET, "test-gitlab-secret")
    assert secret.inputs["tags"]["ptc:token-type"] == "group-access-token"
    assert secret.inputs["tags"]["ptc:token-scopes"] == "read_registry"
    assert secret.inputs["tags"]["ptc:token-expires-in-days"] == "60"


def test_a_group_deploy_token_for_tiers_without_group_access_tokens():
    result = run_stack(with_gitlab_token(type="group-deploy-token"))
    token = result.get(DEPLOY_TOKEN, "test-gitlab-gitlab-token")
    assert token.inputs["scopes"] == ["read_registry"] and token.inputs["expiresAt"]
    version = json.loads(result.get(SECRET_VERSION, "test-gitlab-credentials").inputs["secretString"])
    assert version["username"] == token.inputs["username"]  # a deploy token logs in with its own username


def test_the_token_of_public_projects_is_a_guest_and_internal_projects_are_refused():
    token = run_stack(with_gitlab_token(projects="public")).get(GITLAB_TOKEN, "test-gitlab-gitlab-token")
    assert token.inputs["accessLevel"] == "guest"
    refused = run_stack(with_gitlab_token(projects="internal"))
    assert "GitLab.com (the only GitLab this kind caches) has no internal projects" in str(refused.error)
    wrong = run_stack(with_gitlab_token(projects="secret"))
    assert "token.projects: 'secret' is not one of private, public" in str(wrong.error)


def test_a_deploy_token_expiry_is_stable_between_runs_and_moves_each_period():
    import datetime

    from ecr_pull_through_cache.upstream_cache import deploy_token_expiry

    day = datetime.date(2026, 12, 2)
    dates = {deploy_token_expiry(90, 14, day + datetime.timedelta(days=n)) for n in range(0, 200)}
    assert 2 <= len(dates) <= 4  # one date per 76-day window
    for n in range(200):
        today = day + datetime.timedelta(days=n)
        text = deploy_token_expiry(90, 14, today)
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T00:00:00Z", text)  # RFC3339, as the provider takes it
        expiry = datetime.date.fromisoformat(text[:10])
        assert 14 <= (expiry - today).days <= 90  # never inside the last 14 days, never beyond the lifetime


@pytest.mark.parametrize(
    "token, extra, message",
    [
        ({"group": "acme"}, {"credentials_key": "gitlab"}, "this upstream creates its own token (token:)"),
        ({"group": "acme"}, {"existing_secret": "ecr-pullthroughcache/shared/gitlab"}, "and token: are both set"),
        ({"group": "acme", "expires_in_days": 400}, {}, "token.expires_in_days: must be a whole number from 1 to 365"),
        ({"group": "acme", "expires_in_days": 30, "rotate_before_days": 30}, {}, "must be shorter than the expiry"),
        ({"type": "group-access-token"}, {}, "token.group: is required"),
        ({"group": "acme", "type": "personal-access-token"}, {}, "token.type: 'personal-access-token' is not one of"),
    ],
)
def test_token_blocks_are_refused_naming_the_field(token, extra, message):
    upstream = {"kind": "gitlab-container-registry", "token": token}
    config = config_with(upstreams=[*BASE_CONFIG["upstreams"], upstream])
    if extra.get("credentials_key"):
        config["credentials"]["gitlab"] = {"secure": "glpat-x"}
    if extra.get("existing_secret"):
        upstream["existing_secret"] = extra["existing_secret"]
        upstream["token_scopes"] = ["read_registry"]
    result = run_stack(config)
    assert isinstance(result.error, ConfigError)
    assert message in str(result.error), str(result.error)
    assert result.resources == []


def test_scanning_covers_a_prefix_with_double_separators():
    """AWS takes the prefix `docker--hub`; the scanning rule covers it with the narrowest filter ECR accepts."""
    config = copy.deepcopy(BASE_CONFIG)
    config["upstreams"][1]["prefix"] = "docker--hub"
    config["credentials"] = {"docker--hub": config["credentials"]["docker-hub"]}
    config["scanning"] = {"scan_type": "BASIC"}
    result = run_stack(config)
    assert result.error is None, result.error
    (scanning,) = [
        r for r in result.resources if r.type == "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
    ]
    filters = [f["filter"] for f in scanning.inputs["rules"][0]["repositoryFilters"]]
    assert "docker*hub/*" in filters and "ecr-public/*" in filters


@pytest.mark.parametrize(
    "region, partition, suffix",
    [("cn-north-1", "aws-cn", "amazonaws.com.cn"), ("us-gov-west-1", "aws-us-gov", "amazonaws.com")],
)
def test_a_stack_in_another_partition_previews_with_its_own_hosts_and_arns(region, partition, suffix):
    """ptc's fake cloud answers getPartition for the stack's region from botocore's partition data, as AWS does:
    the registry host, the consumer policy's ARNs and an ECR upstream of the same partition follow."""
    config = copy.deepcopy(BASE_CONFIG)
    config["aws:region"] = region
    config["upstreams"].append({"kind": "ecr", "prefix": "golden", "registry": "210987654321"})
    result = run_stack(config, preview=False)
    assert result.error is None, result.error
    assert result.outputs["registry_url"] == f"123456789012.dkr.ecr.{region}.{suffix}"
    document = json.loads(result.outputs["consumer_policy_document"])
    resources = [
        r for s in document["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
    ]
    assert all(r == "*" or r.startswith(f"arn:{partition}:ecr:{region}:") for r in resources), resources
    assert result.outputs["upstreams"]["golden"]["upstream_url"] == f"210987654321.dkr.ecr.{region}.{suffix}"


GOLDEN = "210987654321.dkr.ecr.us-east-2.amazonaws.com"


def grant_outputs(*roles: str, host: str = GOLDEN) -> dict[str, Any]:
    """A cache stack's outputs with `upstream_grants` for `host`, one statement per role."""
    statements = [
        {
            "Sid": f"PullThroughCache{index}",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Action": [
                "ecr:BatchGetImage",
                "ecr:BatchImportUpstreamImage",
                "ecr:GetDownloadUrlForLayer",
                "ecr:GetImageCopyStatus",
            ],
            "Resource": f"arn:aws:ecr:us-east-2:210987654321:repository/team{index}/*",
        }
        for index, role in enumerate(roles)
    ]
    return {
        "registry_url": "123456789012.dkr.ecr.us-east-2.amazonaws.com",
        "upstreams": {},
        "upstream_grants": {host: json.dumps({"Version": "2012-10-17", "Statement": statements})},
    }


def test_a_cache_stack_that_is_also_an_upstream_owns_the_one_registry_policy_with_the_grants():
    """The golden account runs a cache too (consumers): its one registry policy carries the consumers' statements
    and the grants other cache stacks make to it, instead of an UpstreamGrant that would overwrite it."""
    config = copy.deepcopy(BASE_CONFIG)
    config["consumers"] = {"account_ids": ["333333333333"]}
    config["upstream_grant_stacks"] = ["acme/ecr-pull-through-cache/prod"]
    stack = stack_config(config)
    references = {"acme/ecr-pull-through-cache/prod": grant_outputs("arn:aws:iam::123456789012:role/prod-golden")}
    from ptc.mock_engine import run_program

    result = run_program(ROOT, stack, preview=False, account_id="210987654321", stack_references=references)
    assert result.error is None, result.error
    (policy,) = [r for r in result.resources if r.type == "aws:ecr/registryPolicy:RegistryPolicy"]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    principals = json.dumps([s["Principal"] for s in statements])
    assert "333333333333" in principals and "role/prod-golden" in principals
    assert " " not in policy.inputs["policy"]  # stored as ECR counts it: every character


def test_grants_beyond_the_registry_policy_quota_are_refused_with_what_to_do():
    from ecr_pull_through_cache import upstream_grant

    roles = [
        f"arn:aws:iam::{100000000000 + i}:role/ecr-pull-through-cache-prod-golden-upstream-{i:04d}" for i in range(40)
    ]
    with pytest.raises(upstream_grant.GrantError) as err:
        upstream_grant.merged_policy(grant_outputs(*roles)["upstream_grants"], GOLDEN, [])
    message = str(err.value)
    assert "characters with its 40 statements; ECR allows 10240" in message
    assert "repository policies" in message  # the way out
    fits = upstream_grant.merged_policy(grant_outputs(*roles[:20])["upstream_grants"], GOLDEN, [])
    assert len(fits) <= 10240


def test_a_stack_reference_without_outputs_says_how_to_give_them():
    config = copy.deepcopy(BASE_CONFIG)
    config["upstream_grant_stacks"] = ["acme/ecr-pull-through-cache/prod"]
    result = run_stack(config)
    assert "--stack-outputs acme/ecr-pull-through-cache/prod=outputs.json" in str(result.error)


def test_upstream_grant_stacks_must_be_fully_qualified_stack_names():
    config = copy.deepcopy(BASE_CONFIG)
    config["upstream_grant_stacks"] = ["prod"]
    assert "is not a fully qualified stack name" in str(run_stack(config).error)


def test_each_config_value_is_validated_once_on_its_way_to_its_resources(monkeypatch):
    """Issue 28: the program parses the stack config once and hands the typed settings down; the components build
    from them without validating again (before, each of the dev stack's upstreams went through `upstream_faults`
    three times: the config, the registry's dict args, the upstream's dict args). Counted at the models: each
    upstream settles once, the stack's template (or its default) once and each upstream's own template once."""
    from collections import Counter

    from ecr_pull_through_cache import config, sections, upstream_config

    calls: Counter[str] = Counter()

    def count(owner: Any, name: str, label: str) -> None:
        def counted(*args: Any, _original: Any = getattr(owner, name), **kwargs: Any) -> Any:
            calls[label] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    for name in ("parse_settings", "upstream_faults", "template_settings", "iam_settings"):
        count(config, name, name)
    count(upstream_config.Upstream, "settle", "upstream")
    count(sections.TemplateSettings, "settle", "template")
    dev = stack_file("dev")
    result = run_program(ROOT, stack_config(dev, "dev"), preview=True)
    assert result.error is None, result.error
    upstreams = dev["ecr-pull-through-cache:upstreams"]
    overrides = sum(1 for u in upstreams if u.get("template"))
    assert calls == {"parse_settings": 1, "upstream": len(upstreams), "template": 1 + overrides}
