"""Policy documents: statements per prefix, nothing on `*` but GetAuthorizationToken, partition-aware."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from components import iam

PREFIXES = ["docker-hub", "github", "team/quay"]


def statements(document):
    return {s["Sid"]: s for s in document["Statement"]}


def test_consumer_policy_splits_first_pull_and_steady_state_per_prefix():
    document = statements(iam.consumer_policy("aws", "us-east-2", "123456789012", PREFIXES))
    expected = sorted(f"arn:aws:ecr:us-east-2:123456789012:repository/{p}/*" for p in PREFIXES)
    first = document["FirstPullCreatesCachedRepository"]
    assert first["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert first["Resource"] == expected
    steady = document["PullCachedImages"]
    assert steady["Action"] == ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert steady["Resource"] == expected
    assert document["AuthenticateToRegistry"] == {"Sid": "AuthenticateToRegistry", "Effect": "Allow",
                                                  "Action": "ecr:GetAuthorizationToken", "Resource": "*"}


@given(st.sampled_from(["aws", "aws-cn", "aws-us-gov"]), st.lists(
    st.from_regex(r"[a-z0-9]{2,8}(/[a-z0-9]{2,8})?", fullmatch=True), min_size=1, max_size=10, unique=True))
def test_no_wildcard_actions_and_star_only_for_the_token(partition, prefixes):
    for document in (iam.consumer_policy(partition, "us-east-2", "123456789012", prefixes),
                     iam.registry_policy(partition, "us-east-2", "123456789012", prefixes, ["210987654321"],
                                         "o-abcdefghij"),
                     iam.template_role_policy(partition, "us-east-2", "123456789012", prefixes[0]),
                     iam.upstream_role_policy(partition, "us-east-2", "123456789012", prefixes[0],
                                              "210987654321", "eu-west-1", "ROOT")):
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a.endswith("*")]
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            if "*" in resources:
                assert actions == ["ecr:GetAuthorizationToken"]
            if {"ecr:CreateRepository", "ecr:BatchImportUpstreamImage"} & set(actions):
                assert all(r.startswith(f"arn:{partition}:ecr:us-east-2:123456789012:repository/") and
                           r.endswith("/*") and r != f"arn:{partition}:ecr:us-east-2:123456789012:repository/*"
                           for r in resources)


def test_registry_policy_for_accounts_and_an_organization():
    document = statements(iam.registry_policy("aws", "us-east-2", "123456789012", ["docker-hub"],
                                              ["210987654321", "333333333333"], "o-abcdefghij"))
    accounts = document["FirstPullThroughCacheAccounts"]
    assert accounts["Principal"] == {"AWS": ["arn:aws:iam::210987654321:root", "arn:aws:iam::333333333333:root"]}
    assert accounts["Resource"] == ["arn:aws:ecr:us-east-2:123456789012:repository/docker-hub/*"]
    organization = document["FirstPullThroughCacheOrganization"]
    assert organization["Principal"] == {"AWS": "*"}
    assert organization["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    only_org = iam.registry_policy("aws", "us-east-2", "123456789012", ["x1"], [], "o-abcdefghij")
    assert [s["Sid"] for s in only_org["Statement"]] == ["FirstPullThroughCacheOrganization"]


def test_cached_repository_policy_lets_the_same_principals_pull():
    document = statements(iam.cached_repository_policy("aws", ["210987654321"], None))
    assert list(document) == ["PullCachedImagesAccounts"]
    assert document["PullCachedImagesAccounts"]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert "Resource" not in document["PullCachedImagesAccounts"]  # a repository policy: the repository itself


def test_kms_key_policy_lets_only_the_service_linked_role_decrypt_through_secrets_manager():
    document = statements(iam.kms_key_policy("aws-cn", "cn-north-1", "123456789012", "amazonaws.com.cn"))
    decrypt = document["PullThroughCacheReadsSecrets"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"]["StringEquals"] == {"kms:CallerAccount": "123456789012",
                                                    "kms:ViaService": "secretsmanager.cn-north-1.amazonaws.com.cn"}
    assert decrypt["Condition"]["ArnEquals"]["aws:PrincipalArn"] == (
        "arn:aws-cn:iam::123456789012:role/aws-service-role/pullthroughcache.ecr.amazonaws.com/"
        "AWSServiceRoleForECRPullThroughCache")
