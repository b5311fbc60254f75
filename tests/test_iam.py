"""Policy documents: statements per prefix, nothing on `*` but GetAuthorizationToken, partition-aware."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache import iam

PREFIXES = ["docker-hub", "github", "team/quay"]


def statements(document):
    return {s["Sid"]: s for s in document["Statement"]}


def test_consumer_policy_grants_first_pull_steady_state_and_tagging_once_per_prefix():
    tagged = {"docker-hub": True, "github": True, "team/quay": False}
    document = statements(iam.consumer_policy("aws", "us-east-2", "123456789012", tagged))
    arn = "arn:aws:ecr:us-east-2:123456789012:repository/{}/*".format
    with_tags = document["PullThroughCacheTagged"]
    assert with_tags["Action"] == sorted(
        [
            "ecr:BatchImportUpstreamImage",
            "ecr:CreateRepository",
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:TagResource",
        ]
    )
    assert with_tags["Resource"] == [arn("docker-hub"), arn("github")]
    without = document["PullThroughCache"]
    assert "ecr:TagResource" not in without["Action"] and "ecr:CreateRepository" in without["Action"]
    assert without["Resource"] == arn("team/quay")
    assert document["AuthenticateToRegistry"] == {
        "Sid": "AuthenticateToRegistry",
        "Effect": "Allow",
        "Action": "ecr:GetAuthorizationToken",
        "Resource": "*",
    }


PREFIX_30 = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=30, max_size=30)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(PREFIX_30, st.booleans(), min_size=50, max_size=50))
def test_fifty_thirty_character_prefixes_fit_one_managed_policy(prefixes):
    """IAM's 6,144-character managed-policy quota (white space not counted) holds the whole cache."""
    groups = iam.consumer_policy_groups(prefixes)
    assert len(groups) == 1
    for partition, region in (("aws", "us-east-2"), ("aws-us-gov", "us-gov-west-1"), ("aws-cn", "cn-northwest-1")):
        assert (
            iam.policy_size(iam.consumer_policy(partition, region, "123456789012", prefixes)) <= iam.MANAGED_POLICY_MAX
        )


@given(
    st.dictionaries(
        st.from_regex(r"[a-z0-9]{2,30}(/[a-z0-9]{2,40}){0,4}", fullmatch=True), st.booleans(), min_size=1, max_size=200
    )
)
def test_every_split_fits_the_quota_and_covers_every_prefix_once(prefixes):
    groups = iam.consumer_policy_groups(prefixes)
    assert sorted(p for g in groups for p in g) == sorted(prefixes)
    for group in groups:
        document = iam.consumer_policy(
            iam.WORST_PARTITION, iam.WORST_REGION, iam.WORST_ACCOUNT, {p: prefixes[p] for p in group}
        )
        assert iam.policy_size(document) <= iam.MANAGED_POLICY_MAX


def test_policy_size_does_not_count_white_space():
    assert iam.policy_size({"a": "b c"}) == len('{"a":"bc"}')


def test_template_role_grants_replication_and_tagging_only_when_used():
    def actions(**flags):
        return iam.template_role_policy("aws", "us-east-2", "123456789012", "hub", **flags)["Statement"][0]["Action"]

    assert actions(tags=False) == ["ecr:CreateRepository"]
    assert actions(tags=True) == ["ecr:CreateRepository", "ecr:TagResource"]
    assert "ecr:ReplicateImage" in actions(tags=False, replication=True)


def test_upstream_role_follows_aws_documented_cross_account_policy_and_trust():
    document = statements(
        iam.upstream_role_policy("aws", "us-east-2", "123456789012", "golden", "210987654321", "eu-west-1", "release")
    )
    upstream = document["PullFromUpstreamRegistry"]
    # The upstream side checks BatchImportUpstreamImage against the upstream repositories.
    assert "ecr:BatchImportUpstreamImage" in upstream["Action"]
    assert upstream["Resource"] == "arn:aws:ecr:eu-west-1:210987654321:repository/release/*"
    assert document["ImportIntoCache"]["Resource"] == "arn:aws:ecr:us-east-2:123456789012:repository/golden/*"
    documented = {
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetAuthorizationToken",
        "ecr:BatchImportUpstreamImage",
        "ecr:BatchGetImage",
        "ecr:GetImageCopyStatus",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
    }
    granted = {a for s in document.values() for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert granted == documented
    trust = iam.upstream_role_trust()["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "pullthroughcache.ecr.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]


def test_upstream_grant_names_the_role_on_the_upstream_prefix():
    statement = iam.upstream_grant_statement(
        "aws",
        "eu-west-1",
        "210987654321",
        "release",
        "arn:aws:iam::123456789012:role/golden",
        "PullThroughCacheProdGolden",
    )
    assert statement["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/golden"}
    assert statement["Resource"] == "arn:aws:ecr:eu-west-1:210987654321:repository/release/*"
    # AWS's statement allows four actions; the role pulls with the same four (UPSTREAM_PULL_ACTIONS).
    assert (
        sorted(statement["Action"])
        == sorted(iam.UPSTREAM_PULL_ACTIONS)
        == [
            "ecr:BatchGetImage",
            "ecr:BatchImportUpstreamImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:GetImageCopyStatus",
        ]
    )


@given(
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    st.lists(st.from_regex(r"[a-z0-9]{2,8}(/[a-z0-9]{2,8})?", fullmatch=True), min_size=1, max_size=10, unique=True),
)
def test_no_wildcard_actions_and_star_only_for_the_token(partition, prefixes):
    for document in (
        iam.consumer_policy(partition, "us-east-2", "123456789012", prefixes),
        iam.registry_policy(partition, "us-east-2", "123456789012", prefixes, ["210987654321"], "o-abcdefghij"),
        iam.template_role_policy(partition, "us-east-2", "123456789012", prefixes[0], replication=True),
        iam.upstream_role_policy(
            partition, "us-east-2", "123456789012", prefixes[0], "210987654321", "eu-west-1", "ROOT"
        ),
    ):
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a.endswith("*")]
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            if "*" in resources:
                assert actions == ["ecr:GetAuthorizationToken"]
            if statement.get("Sid") == "PullFromUpstreamRegistry":
                continue  # the upstream registry's repositories (checked by its owner's grant)
            if {"ecr:CreateRepository", "ecr:BatchImportUpstreamImage"} & set(actions):
                assert all(
                    r.startswith(f"arn:{partition}:ecr:us-east-2:123456789012:repository/")
                    and r.endswith("/*")
                    and r != f"arn:{partition}:ecr:us-east-2:123456789012:repository/*"
                    for r in resources
                )


def test_registry_policy_for_accounts_and_an_organization():
    document = statements(
        iam.registry_policy(
            "aws", "us-east-2", "123456789012", ["docker-hub"], ["210987654321", "333333333333"], "o-abcdefghij"
        )
    )
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


def test_kms_key_policy_has_no_secrets_statement():
    """The key serves cached repositories only: credentials secrets stay on aws/secretsmanager."""
    document = iam.kms_key_policy("aws-cn", "123456789012")
    assert [s["Sid"] for s in document["Statement"]] == ["AccountAdministersKeyThroughIam"]
    assert document["Statement"][0]["Principal"] == {"AWS": "arn:aws-cn:iam::123456789012:root"}


def test_registry_policy_merges_extra_statements():
    extra = {
        "Sid": "Replication",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
        "Action": ["ecr:ReplicateImage"],
        "Resource": "arn:aws:ecr:us-east-2:123456789012:repository/*",
    }
    document = iam.registry_policy("aws", "us-east-2", "123456789012", ["hub"], ["333333333333"], None, [extra])
    assert [s["Sid"] for s in document["Statement"]] == ["FirstPullThroughCacheAccounts", "Replication"]


def test_upstream_grant_accepts_awss_own_statement_for_the_upstream_registry():
    """AWS's documented upstream-registry statement (four actions, the downstream role, this registry's
    repositories) is applied as it is, not refused."""
    from ecr_pull_through_cache.upstream_grant import grant_faults

    aws_statement = {
        "Sid": "AllowPullThroughCacheFromDownstream",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:role/ecr-ptc-upstream"},
        "Action": [
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchImportUpstreamImage",
            "ecr:GetImageCopyStatus",
        ],
        "Resource": "arn:aws:ecr:eu-west-1:210987654321:repository/*",
    }
    assert grant_faults(aws_statement, "210987654321", "eu-west-1") == []
    pushing = {**aws_statement, "Action": [*aws_statement["Action"], "ecr:PutImage"]}
    assert "grants ecr:PutImage" in grant_faults(pushing, "210987654321", "eu-west-1")[0]
