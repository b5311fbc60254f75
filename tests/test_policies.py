"""The policy packs over the Analyzer protocol, started as the Pulumi CLI starts them.

One happy path (the baseline stack draws nothing) and one mutation per case, in the awsguard
style; then configuration through `Configure`, unknown values during preview, and every resource
the repository's dev and prod stacks produce.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache import iam
from ptc.analyzer import PolicyConfigError, PolicyPacks, pack_dirs
from ptc.mock_engine import run_program
from ptc.stack_config import make_stack_config
from tests.conftest import ROOT, stack_config, stack_file
from tests.policy_support import (
    ACCOUNT,
    POLICY,
    REGION,
    REGISTRY_POLICY,
    ROLE,
    ROLE_POLICY,
    RULE,
    SECRET,
    TEMPLATE,
    UNKNOWN,
    Spec,
    baseline,
    build,
    secret_arn,
    spec,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def packs():
    config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": REGION, "environment": "dev"})
    with PolicyPacks(pack_dirs(ROOT), config, dry_run=True) as running:
        yield running


def analyze(
    packs: PolicyPacks, specs: list[Spec], *, outputs: bool = False, config: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    return packs.run(build(specs), policy_config=config, outputs=outputs).violations


def mutated(change: Callable[[list[Spec]], Any]) -> list[Spec]:
    specs = baseline()
    change(specs)
    return specs


TYPES_BY_NAME = {"dev-docker-hub-template": TEMPLATE}
"""Names shared by several resources (role, role policy, template): the one the cases mean."""


def props(specs: list[Spec], name: str) -> dict[str, Any]:
    return spec(specs, name, TYPES_BY_NAME.get(name)).props


def set_tag(name: str, key: str, value: str | None, field: str = "tags"):
    def change(specs):
        tags = props(specs, name)[field]
        tags.pop(key) if value is None else tags.__setitem__(key, value)

    return change


def set_policy(name: str, statement: dict[str, Any], resource_type: str = POLICY, key: str = "policy"):
    def change(specs):
        specs.append(
            Spec(
                resource_type,
                name,
                {key: json.dumps({"Version": "2012-10-17", "Statement": [statement]}), "tags": {"environment": "dev"}},
            )
        )

    return change


def add_rule(name: str, url: str, **extra: Any):
    def change(specs):
        specs.append(
            Spec(RULE, name, {"ecrRepositoryPrefix": name.removeprefix("dev-"), "upstreamRegistryUrl": url, **extra})
        )
        specs.append(
            Spec(TEMPLATE, f"{name}-template", {**props(specs, HUB_TEMPLATE), "prefix": name.removeprefix("dev-")})
        )

    return change


def all_of(*changes):
    def change(specs):
        for c in changes:
            c(specs)

    return change


HUB_SECRET, HUB_RULE, HUB_TEMPLATE = "dev-docker-hub-secret", "dev-docker-hub-rule", "dev-docker-hub-template"
OTHER_REGION_ARN = secret_arn("ecr-pullthroughcache/dev/hub", region="eu-west-1")
OTHER_ACCOUNT_ARN = secret_arn("ecr-pullthroughcache/dev/hub", account="999999999999")

ADVISORY = {"environment-in-names", "secret-of-own-environment", "gitlab-token-type", "gitlab-personal-access-token"}
ANYONE = {"AWS": "*"}
ORG = {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
CREATE = ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"]
HUB_ARN = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/docker-hub/*"


def registry_policy(*statements: dict[str, Any]):
    def change(specs):
        specs.append(
            Spec(
                REGISTRY_POLICY,
                "dev-consumers",
                {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})},
            )
        )

    return change


def template_policy(*statements: dict[str, Any]):
    return lambda s: props(s, HUB_TEMPLATE).update(
        repositoryPolicy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    )


def gitlab_secret(token_type: str | None):
    changes = [
        set_tag(HUB_SECRET, "ptc:upstream", "gitlab-container-registry"),
        set_tag(HUB_SECRET, "ptc:token-scopes", "read_registry"),
        lambda s: props(s, HUB_RULE).update(upstreamRegistryUrl="registry.gitlab.com"),
        lambda s: spec(s, "dev-docker-hub", UPSTREAM_TYPE).props.update(kind="gitlab-container-registry"),
    ]
    if token_type:
        changes.append(set_tag(HUB_SECRET, "ptc:token-type", token_type))
    return all_of(*changes)


GROUP_TOKEN = "gitlab:index/groupAccessToken:GroupAccessToken"
PERSONAL_TOKEN = "gitlab:index/personalAccessToken:PersonalAccessToken"
PROJECT_TOKEN = "gitlab:index/projectAccessToken:ProjectAccessToken"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
GOOD_TOKEN = {
    "group": "acme",
    "scopes": ["read_registry"],
    "accessLevel": "reporter",
    "rotationConfiguration": {"expirationDays": 90, "rotateBeforeDays": 14},
}


def token_feeding_secret(
    type_: str = GROUP_TOKEN, *, value_key: str = "secretString", secret_id: str | None = None, **props: Any
):
    """A GitLab token resource whose value flows into the hub secret's version, as the components write it; or into
    `value_key` (secretStringWo), or into an existing secret named by `secret_id` rather than the stack's."""

    def change(specs):
        values = {k: v for k, v in {**GOOD_TOKEN, **props}.items() if v is not None}
        if type_ not in (GROUP_TOKEN, PROJECT_TOKEN):
            values.pop("accessLevel", None)
        specs.append(Spec(type_, "dev-docker-hub-gitlab-token", values, parent="dev-docker-hub"))
        dependencies = {value_key: ["dev-docker-hub-gitlab-token"]}
        if secret_id is None:
            dependencies["secretId"] = [HUB_SECRET]
        specs.append(
            Spec(
                SECRET_VERSION,
                "dev-docker-hub-credentials",
                {"secretId": secret_id or UNKNOWN, value_key: UNKNOWN},
                parent="dev-docker-hub",
                property_dependencies=dependencies,
            )
        )

    return change


def token_through(*types: str):
    """A GitLab group access token whose value reaches the secret version through intermediate resources."""

    def change(specs):
        token_feeding_secret(scopes=["api"])(specs)
        version = spec(specs, "dev-docker-hub-credentials")
        previous = "dev-docker-hub-gitlab-token"
        for index, type_ in enumerate(types):
            specs.append(
                Spec(type_, f"dev-step-{index}", {"value": UNKNOWN}, property_dependencies={"value": [previous]})
            )
            previous = f"dev-step-{index}"
        version.property_dependencies["secretString"] = [previous]

    return change


def native_secret_with_token(**props: Any):
    """An aws-native Secret (CloudFormation's AWS::SecretsManager::Secret) holding a GitLab token in its own
    secretString."""

    def change(specs):
        specs.append(Spec(GROUP_TOKEN, "dev-native-token", {**GOOD_TOKEN, **props}))
        specs.append(
            Spec(
                "aws-native:secretsmanager:Secret",
                "dev-native-secret",
                {"name": "ecr-pullthroughcache/dev/gitlab", "secretString": UNKNOWN},
                property_dependencies={"secretString": ["dev-native-token"]},
            )
        )

    return change


def policy_resource(type_: str, name: str, key: str, *statements: dict[str, Any], as_object: bool = False, **extra):
    """A resource holding a policy document under `key`: JSON text (pulumi-aws) or an object (aws-native)."""
    document = {"Version": "2012-10-17", "Statement": list(statements)}

    def change(specs):
        specs.append(Spec(type_, name, {key: document if as_object else json.dumps(document), **extra}))

    return change


def replication(*filters: dict[str, Any], account: str = "999988887777", type_: str = ""):
    """A replication configuration with one rule to `account`, filtered by `filters` (none: every repository)."""
    rule: dict[str, Any] = {"destinations": [{"region": "eu-west-1", "registryId": account}]}
    if filters:
        rule["repositoryFilters"] = list(filters)
    kind = type_ or "aws:ecr/replicationConfiguration:ReplicationConfiguration"
    return lambda s: s.append(Spec(kind, "dev-replication", {"replicationConfiguration": {"rules": [rule]}}))


def trust(*statements: dict[str, Any]):
    return policy_resource(ROLE, "dev-extra-role", "assumeRolePolicy", *statements, tags={"environment": "dev"})


GITHUB = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ASSUME_WEB = "sts:AssumeRoleWithWebIdentity"


def github_trust(condition: dict[str, Any]):
    """A role GitHub Actions' OIDC identities may assume under `condition`."""
    return trust({"Effect": "Allow", "Principal": {"Federated": GITHUB}, "Action": ASSUME_WEB, "Condition": condition})


SECRET_ARN = "arn:aws:secretsmanager:us-east-2:123456789012:secret:ecr-pullthroughcache/dev/hub-AbCdEf"


# (case, change, outputs mode, policy config, policy, resource named in the message, message fragment)
CASES = [
    # --- security: GitLab token resources feeding a credentials secret
    (
        "a GitLab token with the api scope",
        token_feeding_secret(scopes=["read_registry", "api"]),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "give it exactly read_registry",
    ),
    (
        "a GitLab token at the provider's default access level",
        token_feeding_secret(accessLevel=None),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "the provider's default maintainer",
    ),
    (
        "a GitLab token as maintainer",
        token_feeding_secret(accessLevel="maintainer"),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "access level maintainer",
    ),
    (
        "a GitLab token as developer, one role above what pulls",
        token_feeding_secret(accessLevel="developer"),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "access level developer, more than a pull needs",
    ),
    (
        "a GitLab token with the minimal role, which pulls nothing",
        token_feeding_secret(accessLevel="minimal"),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "which cannot pull images at all",
    ),
    (
        "a GitLab token that never expires",
        token_feeding_secret(rotationConfiguration=None),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "neither expires nor rotates",
    ),
    (
        "a GitLab personal access token feeding the secret",
        token_feeding_secret(PERSONAL_TOKEN),
        False,
        None,
        "gitlab-personal-access-token",
        "dev-docker-hub-gitlab-token",
        "acts as a person",
    ),
    (
        "a GitLab project deploy token with write_registry",
        token_feeding_secret(
            "gitlab:index/projectDeployToken:ProjectDeployToken",
            scopes=["read_registry", "write_registry"],
            rotationConfiguration=None,
            expiresAt="2027-03-01T00:00:00Z",
        ),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "give it exactly read_registry",
    ),
    (
        "a GitLab group service account token with api",
        token_feeding_secret(
            "gitlab:index/groupServiceAccountAccessToken:GroupServiceAccountAccessToken", scopes=["api"]
        ),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "group service account access token",
    ),
    (
        "a GitLab project service account token that never expires",
        token_feeding_secret(
            "gitlab:index/projectServiceAccountAccessToken:ProjectServiceAccountAccessToken", rotationConfiguration=None
        ),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "neither expires nor rotates",
    ),
    (
        "a GitLab user impersonation token with api and sudo",
        token_feeding_secret(
            "gitlab:index/userImpersonationToken:UserImpersonationToken",
            scopes=["api", "sudo"],
            rotationConfiguration=None,
            expiresAt="2027-03-01",
        ),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "api, sudo",
    ),
    (
        "a GitLab user impersonation token feeding the secret",
        token_feeding_secret(
            "gitlab:index/userImpersonationToken:UserImpersonationToken",
            rotationConfiguration=None,
            expiresAt="2027-03-01",
        ),
        False,
        None,
        "gitlab-personal-access-token",
        "dev-docker-hub-gitlab-token",
        "acts as a person",
    ),
    (
        "a GitLab cluster agent token feeding the secret",
        token_feeding_secret("gitlab:index/clusterAgentToken:ClusterAgentToken"),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "cannot pull images",
    ),
    (
        "a GitLab token with api written through secretStringWo",
        token_feeding_secret(value_key="secretStringWo", scopes=["api"]),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "give it exactly read_registry",
    ),
    (
        "a GitLab token with api written into an existing secret by ARN",
        token_feeding_secret(secret_id=secret_arn("ecr-pullthroughcache/dev/gitlab"), scopes=["api"]),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "give it exactly read_registry",
    ),
    (
        "a GitLab token with api written into an existing secret by name",
        token_feeding_secret(secret_id="ecr-pullthroughcache/dev/gitlab", scopes=["api"]),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "give it exactly read_registry",
    ),
    (
        "a GitLab token with api reaching the secret through another resource",
        token_through("random:index/randomId:RandomId", "pulumi:providers:command"),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "give it exactly read_registry",
    ),
    (
        "a GitLab token with api held by an aws-native secret",
        native_secret_with_token(scopes=["read_registry", "api"]),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-native-token",
        "give it exactly read_registry",
    ),
    (
        "a GitLab token whose known api sits beside an unknown scope",
        token_feeding_secret(scopes=["api", UNKNOWN]),
        False,
        None,
        "gitlab-token-least-privilege",
        "dev-docker-hub-gitlab-token",
        "give it exactly read_registry",
    ),
    (
        "a second registry policy for the same registry",
        lambda s: (
            registry_policy(
                {"Effect": "Allow", "Principal": {"AWS": "210987654321"}, "Action": CREATE, "Resource": HUB_ARN}
            )(s),
            s.append(
                Spec(
                    REGISTRY_POLICY,
                    "dev-upstream-registry-policy",
                    {"policy": json.dumps({"Version": "2012-10-17", "Statement": []})},
                )
            ),
        ),
        False,
        {"cache-principals-allowed": {"allowedAccounts": ["210987654321"]}},
        "one-registry-policy",
        "dev-upstream-registry-policy",
        "ECR keeps one policy per registry and PutRegistryPolicy replaces it",
    ),
    # --- security: who is let in (registry, repository and template policies)
    (
        "registry policy lets anyone create and import",
        registry_policy({"Effect": "Allow", "Principal": ANYONE, "Action": CREATE, "Resource": HUB_ARN}),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "lets in every AWS principal",
    ),
    (
        "registry policy with Principal '*' as a string",
        registry_policy(
            {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchImportUpstreamImage", "Resource": HUB_ARN}
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "allows ecr:BatchImportUpstreamImage",
    ),
    (
        "org condition with a wildcard organization",
        registry_policy(
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": CREATE,
                "Resource": HUB_ARN,
                "Condition": {"StringLike": {"aws:PrincipalOrgID": "*"}},
            }
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "aws:PrincipalOrgID",
    ),
    (
        "org condition that is true when the key is absent (StringEqualsIfExists)",
        registry_policy(
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": CREATE,
                "Resource": HUB_ARN,
                "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": ["o-abcdefghij"]}},
            }
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "its StringEqualsIfExists condition is true for principals the key does not describe",
    ),
    (
        "org condition that is true when the key is absent (ForAllValues:StringEquals)",
        registry_policy(
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": CREATE,
                "Resource": HUB_ARN,
                "Condition": {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ["o-abcdefghij"]}},
            }
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "its ForAllValues:StringEquals condition is true for principals the key does not describe",
    ),
    (
        "org condition that is true when the key is absent (StringNotEquals)",
        registry_policy(
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": CREATE,
                "Resource": HUB_ARN,
                "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": ["o-abcdefghij"]}},
            }
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "its StringNotEquals condition is true for principals the key does not describe",
    ),
    (
        "template repository policy lets anyone push (cache poisoning)",
        template_policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:Put*", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"],
            }
        ),
        False,
        None,
        "cache-principals-allowed",
        HUB_TEMPLATE,
        "allows ecr:PutRegistryPolicy, ecr:CompleteLayerUpload, ecr:InitiateLayerUpload and 9 more",
    ),
    (
        "a role anyone may assume",
        trust({"Effect": "Allow", "Principal": ANYONE, "Action": "sts:AssumeRole"}),
        False,
        None,
        "cache-principals-allowed",
        "dev-extra-role",
        "trust policy of aws:iam:Role 'dev-extra-role': statement 0 allows sts:AssumeRole and lets in every AWS",
    ),
    (
        "a role an account outside allowedAccounts may assume",
        trust({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}),
        False,
        {"cache-principals-allowed": {"allowedAccounts": [ACCOUNT]}},
        "cache-principals-allowed",
        "dev-extra-role",
        "lets in account 999988887777, which is not in allowedAccounts",
    ),
    (
        "an aws-native role anyone may assume",
        policy_resource(
            "aws-native:iam:Role",
            "dev-native-role",
            "assumeRolePolicyDocument",
            {"Effect": "Allow", "Principal": ANYONE, "Action": "sts:*"},
            as_object=True,
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-native-role",
        "lets in every AWS principal",
    ),
    (
        "a role any GitHub repository may assume (no sub condition)",
        github_trust({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}),
        False,
        None,
        "cache-principals-allowed",
        "dev-extra-role",
        "no StringEquals or StringLike condition on token.actions.githubusercontent.com:sub",
    ),
    (
        "a role any GitHub repository may assume (sub repo:*)",
        github_trust({"StringLike": {"token.actions.githubusercontent.com:sub": "repo:*"}}),
        False,
        None,
        "cache-principals-allowed",
        "dev-extra-role",
        "matches any subject",
    ),
    (
        "a credentials secret's own policy lets anyone read it",
        lambda s: props(s, HUB_SECRET).update(
            policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": ANYONE,
                            "Action": "secretsmanager:GetSecretValue",
                            "Resource": "*",
                        }
                    ],
                }
            )
        ),
        False,
        None,
        "cache-principals-allowed",
        HUB_SECRET,
        "allows secretsmanager:GetSecretValue and lets in every AWS principal",
    ),
    (
        "a secret policy lets another account replace the token",
        policy_resource(
            "aws:secretsmanager/secretPolicy:SecretPolicy",
            "dev-secret-policy",
            "policy",
            {"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "secretsmanager:Put*", "Resource": "*"},
            secretArn=SECRET_ARN,
        ),
        False,
        {"cache-principals-allowed": {"allowedAccounts": [ACCOUNT]}},
        "cache-principals-allowed",
        "dev-secret-policy",
        "allows secretsmanager:PutResourcePolicy, secretsmanager:PutSecretValue and lets in account 999988887777",
    ),
    (
        "an aws-native secret resource policy lets anyone in",
        policy_resource(
            "aws-native:secretsmanager:ResourcePolicy",
            "dev-native-secret-policy",
            "resourcePolicy",
            {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*"},
            as_object=True,
            secretId=SECRET_ARN,
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-native-secret-policy",
        "lets in every AWS principal",
    ),
    (
        "a KMS key policy lets anyone decrypt",
        policy_resource(
            "aws:kms/key:Key",
            "dev-cache-key",
            "policy",
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            },
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-cache-key",
        "key policy of aws:kms:Key 'dev-cache-key': statement 0 allows kms:Decrypt",
    ),
    (
        "a KMS key policy through an IfExists caller-account condition",
        policy_resource(
            "aws:kms/keyPolicy:KeyPolicy",
            "dev-cache-key-policy",
            "policy",
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringEqualsIfExists": {"kms:CallerAccount": ACCOUNT}},
            },
            keyId="1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-cache-key-policy",
        "its StringEqualsIfExists condition",
    ),
    (
        "a KMS grant to an account outside allowedAccounts",
        lambda s: s.append(
            Spec(
                "aws:kms/grant:Grant",
                "dev-cache-grant",
                {
                    "keyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
                    "granteePrincipal": "arn:aws:iam::999988887777:role/reader",
                    "operations": ["Decrypt"],
                },
            )
        ),
        False,
        {"cache-principals-allowed": {"allowedAccounts": [ACCOUNT]}},
        "cache-principals-allowed",
        "dev-cache-grant",
        "as its granteePrincipal and lets in account 999988887777",
    ),
    (
        "an aws-native registry policy object: a known * beside an unknown principal",
        policy_resource(
            "aws-native:ecr:RegistryPolicy",
            "dev-native-registry-policy",
            "policyText",
            {"Effect": "Allow", "Principal": {"AWS": [UNKNOWN, "*"]}, "Action": CREATE, "Resource": HUB_ARN},
            as_object=True,
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-native-registry-policy",
        "lets in every AWS principal",
    ),
    (
        "a registry policy object: a known * beside an unknown principal and an unknown statement",
        lambda s: s.append(
            Spec(
                REGISTRY_POLICY,
                "dev-consumers",
                {
                    "policy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            UNKNOWN,
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": [UNKNOWN, "*"]},
                                "Action": CREATE,
                                "Resource": HUB_ARN,
                            },
                        ],
                    }
                },
            )
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "statement 1 allows ecr:BatchImportUpstreamImage, ecr:CreateRepository and lets in every AWS principal",
    ),
    (
        "a registry policy granting everything but deletes (NotAction) to anyone",
        registry_policy({"Effect": "Allow", "Principal": ANYONE, "NotAction": "ecr:Delete*", "Resource": HUB_ARN}),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "allows ecr:PutRegistryPolicy, ecr:SetRepositoryPolicy",
    ),
    (
        "replication copies a cache prefix to a foreign account",
        replication({"filter": "docker-hub", "filterType": "PREFIX_MATCH"}),
        False,
        {"cache-replication-in-bounds": {"accountIds": [ACCOUNT]}},
        "cache-replication-in-bounds",
        "dev-replication",
        "copies the cached repositories under docker-hub to account 999988887777",
    ),
    (
        "replication of every repository (no filter) to a foreign account, aws-native",
        replication(type_="aws-native:ecr:ReplicationConfiguration"),
        False,
        {"cache-replication-in-bounds": {"accountIds": [ACCOUNT]}},
        "cache-replication-in-bounds",
        "dev-replication",
        "to account 999988887777, which is neither the stack's",
    ),
    (
        "a policy reading every environment's upstream tokens",
        set_policy(
            "dev-token-reader",
            {
                "Effect": "Allow",
                "Action": "secretsmanager:Get*",
                "Resource": "arn:aws:secretsmanager:*:*:secret:ecr-pullthroughcache/*",
            },
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-token-reader",
        "reads the upstream tokens of every environment",
    ),
    (
        "an aws-native role reading every secret",
        lambda s: s.append(
            Spec(
                "aws-native:iam:Role",
                "dev-native-reader",
                {
                    "assumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ec2.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    },
                    "policies": [
                        {
                            "policyName": "read",
                            "policyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
                                ],
                            },
                        }
                    ],
                },
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-native-reader",
        "inline policy 'read' of aws-native:iam:Role 'dev-native-reader': statement 0 grants "
        "secretsmanager:GetSecretValue on *",
    ),
    (
        "a dev template that tags its repositories environment=prod",
        set_tag(HUB_TEMPLATE, "environment", "prod", "resourceTags"),
        False,
        None,
        "environment-tag-matches",
        HUB_TEMPLATE,
        "is tagged environment=\"prod\" in its resourceTags, but it belongs to the 'dev' environment",
    ),
    (
        "a dev secret tagged environment=prod",
        set_tag(HUB_SECRET, "environment", "prod"),
        False,
        None,
        "environment-tag-matches",
        HUB_SECRET,
        "tag it environment=dev",
    ),
    (
        "an aws-native rule for Docker Hub without credentials",
        lambda s: s.append(
            Spec(
                "aws-native:ecr:PullThroughCacheRule",
                "dev-native-hub",
                {"ecrRepositoryPrefix": "docker-hub", "upstreamRegistryUrl": "registry-1.docker.io"},
            )
        ),
        False,
        None,
        "rule-credentials",
        "dev-native-hub",
        "needs credentials, but has no credentialArn",
    ),
    (
        "an aws-native rule caching an unknown registry",
        lambda s: s.append(
            Spec(
                "aws-native:ecr:PullThroughCacheRule",
                "dev-native-mirror",
                {"ecrRepositoryPrefix": "mirror", "upstreamRegistryUrl": "mirror.example.com"},
            )
        ),
        False,
        None,
        "upstream-allowlist",
        "dev-native-mirror",
        "which is not an allowed upstream",
    ),
    (
        "an aws-native rule reading a secret outside ecr-pullthroughcache/",
        lambda s: s.append(
            Spec(
                "aws-native:ecr:PullThroughCacheRule",
                "dev-native-hub",
                {
                    "ecrRepositoryPrefix": "docker-hub",
                    "upstreamRegistryUrl": "registry-1.docker.io",
                    "credentialArn": secret_arn("ci/docker-hub"),
                },
            )
        ),
        False,
        None,
        "rule-secret-location",
        "dev-native-hub",
        "which is not a secret under 'ecr-pullthroughcache/'",
    ),
    (
        "registry policy lets anyone replicate into the registry",
        registry_policy({"Effect": "Allow", "Principal": ANYONE, "Action": "ecr:ReplicateImage", "Resource": HUB_ARN}),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "allows ecr:ReplicateImage",
    ),
    (
        "template repository policy lets anyone pull",
        template_policy(
            {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}
        ),
        False,
        None,
        "cache-principals-allowed",
        HUB_TEMPLATE,
        "allows ecr:BatchGetImage, ecr:GetDownloadUrlForLayer",
    ),
    (
        "repository policy lets anyone import",
        lambda s: s.append(
            Spec(
                "aws:ecr/repositoryPolicy:RepositoryPolicy",
                "dev-open",
                {
                    "repository": "docker-hub/library/nginx",
                    "policy": json.dumps({"Statement": [{"Effect": "Allow", "Principal": ANYONE, "Action": "ecr:*"}]}),
                },
            )
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-open",
        "lets in every AWS principal",
    ),
    (
        "NotPrincipal with Allow",
        registry_policy(
            {
                "Effect": "Allow",
                "NotPrincipal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": CREATE,
                "Resource": HUB_ARN,
            }
        ),
        False,
        None,
        "cache-principals-allowed",
        "dev-consumers",
        "NotPrincipal",
    ),
    (
        "an account outside allowedAccounts",
        registry_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": CREATE,
                "Resource": HUB_ARN,
            }
        ),
        False,
        {"cache-principals-allowed": {"allowedAccounts": ["210987654321"]}},
        "cache-principals-allowed",
        "dev-consumers",
        "account 999999999999, which is not in allowedAccounts",
    ),
    (
        "federated principals",
        template_policy(
            {
                "Effect": "Allow",
                "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                "Action": "ecr:BatchGetImage",
            }
        ),
        False,
        None,
        "cache-principals-allowed",
        HUB_TEMPLATE,
        "lets in Federated principals",
    ),
    # --- security: partial unknowns, names for ARNs, other environments' secrets, literal ARNs
    (
        "a secret outside the prefix while the region is unknown",
        lambda s: props(s, HUB_RULE).update(credentialArn=secret_arn("dockerhub"), region=UNKNOWN),
        False,
        None,
        "rule-secret-location",
        HUB_RULE,
        "not a secret under 'ecr-pullthroughcache/'",
    ),
    (
        "a secret name where the ARN belongs",
        lambda s: props(s, HUB_RULE).update(credentialArn="ecr-pullthroughcache/dev/docker-hub"),
        False,
        None,
        "rule-secret-location",
        HUB_RULE,
        "gives the secret name 'ecr-pullthroughcache/dev/docker-hub'",
    ),
    (
        "accountIds in preview with the registry id unknown",
        lambda s: props(s, HUB_RULE).update(credentialArn=OTHER_ACCOUNT_ARN, registryId=UNKNOWN),
        False,
        {"rule-secret-location": {"accountIds": [ACCOUNT]}},
        "rule-secret-location",
        HUB_RULE,
        "reads credentials from account 999999999999",
    ),
    (
        "a dev rule reading the prod secret",
        lambda s: props(s, HUB_RULE).update(credentialArn=secret_arn("ecr-pullthroughcache/prod/docker-hub")),
        False,
        None,
        "secret-of-own-environment",
        HUB_RULE,
        "reads the prod environment's secret",
    ),
    (
        "a literal ARN to a declared secret of another kind",
        all_of(
            set_tag(HUB_SECRET, "ptc:upstream", "github-container-registry"),
            set_tag(HUB_SECRET, "ptc:token-scopes", "read:packages"),
            lambda s: (
                props(s, HUB_RULE).update(
                    credentialArn=secret_arn("ecr-pullthroughcache/dev/docker-hub-20261126000000000000000001")
                ),
                spec(s, HUB_RULE).property_dependencies.clear(),
            ),
        ),
        False,
        None,
        "upstream-matches-kind",
        HUB_RULE,
        "is tagged ptc:upstream=github-container-registry",
    ),
    # --- security: GitLab token types (advisory by default)
    (
        "a GitLab token of undeclared type",
        gitlab_secret(None),
        False,
        None,
        "gitlab-token-type",
        HUB_SECRET,
        "does not declare its type",
    ),
    (
        "a GitLab personal access token",
        gitlab_secret("personal-access-token"),
        False,
        None,
        "gitlab-token-type",
        HUB_SECRET,
        "personal access token, which acts as a person",
    ),
    # --- conventions: duplicate and nested prefixes
    (
        "two rules with one prefix",
        add_rule("dev-docker-hub", "quay.io"),
        False,
        None,
        "rule-prefixes-unique",
        "dev-docker-hub-rule",
        "both use the prefix 'docker-hub'",
    ),
    (
        "a prefix nested in another",
        add_rule("dev-docker-hub/mirror", "quay.io"),
        False,
        None,
        "rule-prefixes-unique",
        "dev-docker-hub/mirror",
        "nest one prefix in the other",
    ),
    # --- security: least-privilege tokens
    (
        "scope beyond read-only",
        set_tag(HUB_SECRET, "ptc:token-scopes", "repo:public_read repo:write"),
        False,
        None,
        "token-scopes-least-privilege",
        HUB_SECRET,
        "scopes beyond least privilege: repo:write",
    ),
    (
        "gitlab api scope",
        all_of(
            set_tag(HUB_SECRET, "ptc:upstream", "gitlab-container-registry"),
            set_tag(HUB_SECRET, "ptc:token-scopes", "read_registry api"),
        ),
        False,
        None,
        "token-scopes-least-privilege",
        HUB_SECRET,
        "Reporter role and only read_registry",
    ),
    (
        "no scopes declared",
        set_tag(HUB_SECRET, "ptc:token-scopes", None),
        False,
        None,
        "token-scopes-least-privilege",
        HUB_SECRET,
        "declares no token scopes",
    ),
    (
        "credentials without a kind",
        set_tag(HUB_SECRET, "ptc:upstream", None),
        False,
        None,
        "token-scopes-least-privilege",
        HUB_SECRET,
        "has no 'ptc:upstream' tag",
    ),
    (
        "narrower scopes by config",
        lambda s: None,
        False,
        {"token-scopes-least-privilege": {"allowedScopes": {"docker-hub": ["repo:read"]}}},
        "token-scopes-least-privilege",
        HUB_SECRET,
        "Allowed: repo:read",
    ),
    # --- security: rules and their secrets
    (
        "token upstream without a secret",
        lambda s: props(s, HUB_RULE).pop("credentialArn"),
        False,
        None,
        "rule-credentials",
        HUB_RULE,
        "needs credentials, but has no credentialArn",
    ),
    (
        "credentials for quay",
        add_rule("dev-quay", "quay.io", credentialArn=secret_arn("ecr-pullthroughcache/q")),
        False,
        None,
        "rule-credentials",
        "dev-quay",
        "ECR refuses credentials for Quay",
    ),
    (
        "ecr upstream without a role",
        add_rule("dev-golden", f"210987654321.dkr.ecr.{REGION}.amazonaws.com"),
        False,
        None,
        "rule-credentials",
        "dev-golden",
        "has no customRoleArn",
    ),
    (
        "secret outside the prefix",
        lambda s: props(s, HUB_RULE).update(credentialArn=secret_arn("dockerhub/creds")),
        False,
        None,
        "rule-secret-location",
        HUB_RULE,
        "not a secret under 'ecr-pullthroughcache/'",
    ),
    (
        "secret in another region",
        lambda s: props(s, HUB_RULE).update(credentialArn=OTHER_REGION_ARN),
        False,
        None,
        "rule-secret-location",
        HUB_RULE,
        "deploys to us-east-2 but its secret",
    ),
    (
        "secret in another account",
        lambda s: spec(s, HUB_RULE).outputs.update(credentialArn=OTHER_ACCOUNT_ARN),
        True,
        None,
        "rule-secret-location",
        HUB_RULE,
        "reads credentials from account 999999999999",
    ),
    (
        "secret in another account, known in preview",
        lambda s: props(s, HUB_RULE).update(credentialArn=OTHER_ACCOUNT_ARN),
        False,
        {"rule-secret-location": {"accountIds": [ACCOUNT]}},
        "rule-secret-location",
        HUB_RULE,
        "reads credentials from account 999999999999",
    ),
    (
        "unknown ARN from a badly named secret",
        lambda s: props(s, HUB_SECRET).update(namePrefix="dockerhub/"),
        False,
        {"token-scopes-least-privilege": "disabled"},
        "rule-secret-location",
        HUB_RULE,
        "named 'dockerhub/'",
    ),
    # --- security: upstreams
    (
        "unknown upstream",
        add_rule("dev-harbor", "harbor.example.com"),
        False,
        None,
        "upstream-allowlist",
        "dev-harbor",
        "not an allowed upstream",
    ),
    (
        "upstream outside the configured allowlist",
        add_rule("dev-quay", "quay.io"),
        False,
        {"upstream-allowlist": {"allowedHosts": ["registry-1.docker.io", "*.azurecr.io"]}},
        "upstream-allowlist",
        "dev-quay",
        "'quay.io', which is not an allowed upstream",
    ),
    (
        "component kind disagrees",
        lambda s: props(s, "dev-docker-hub").update(kind="quay"),
        False,
        None,
        "upstream-matches-kind",
        HUB_RULE,
        "declared as kind quay",
    ),
    (
        "secret kind disagrees",
        all_of(
            set_tag(HUB_SECRET, "ptc:upstream", "github-container-registry"),
            set_tag(HUB_SECRET, "ptc:token-scopes", "read:packages"),
        ),
        False,
        None,
        "upstream-matches-kind",
        HUB_RULE,
        "tagged ptc:upstream=github-container-registry",
    ),
    # --- security: permissions
    (
        "create anywhere",
        set_policy("dev-wide", {"Effect": "Allow", "Action": ["ecr:CreateRepository"], "Resource": "*"}),
        False,
        None,
        "cache-permissions-scoped",
        "dev-wide",
        "grants ecr:CreateRepository on *",
    ),
    (
        "import on every repository",
        set_policy(
            "dev-wide",
            {
                "Effect": "Allow",
                "Action": "ecr:BatchImportUpstreamImage",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
            },
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-wide",
        "repository/*",
    ),
    (
        "ecr:*",
        set_policy(
            "dev-admin",
            {
                "Effect": "Allow",
                "Action": "ecr:*",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/docker-hub/*",
            },
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-admin",
        "grants ecr:*",
    ),
    (
        "ecr:** is every ECR action as ecr:* is",
        set_policy(
            "dev-admin",
            {
                "Effect": "Allow",
                "Action": "ecr:**",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/docker-hub/*",
            },
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-admin",
        "grants ecr:**, every ECR action",
    ),
    (
        "AWS managed full access attached to a role",
        lambda s: s.append(
            Spec(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "dev-admin-attachment",
                {"role": "ci", "policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"},
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-admin-attachment",
        "attaches the AWS managed policy AmazonEC2ContainerRegistryFullAccess",
    ),
    (
        "AWS managed full access in a role's managedPolicyArns",
        lambda s: s.append(
            Spec(
                "aws:iam/role:Role",
                "dev-ci-role",
                {
                    "assumeRolePolicy": json.dumps({"Statement": []}),
                    "managedPolicyArns": ["arn:aws-us-gov:iam::aws:policy/AdministratorAccess"],
                },
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-ci-role",
        "attaches the AWS managed policy AdministratorAccess",
    ),
    (
        "AWS managed pull-only policy attached: its import runs on every repository",
        lambda s: s.append(
            Spec(
                "aws:iam/role:Role",
                "dev-ci-role",
                {
                    "assumeRolePolicy": json.dumps({"Statement": []}),
                    "managedPolicyArns": ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"],
                },
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-ci-role",
        "AmazonEC2ContainerRegistryPullOnly: a statement grants ecr:BatchImportUpstreamImage on *",
    ),
    (
        "AWS managed PowerUserAccess attached: everything but IAM",
        lambda s: s.append(
            Spec(
                "aws:iam/userPolicyAttachment:UserPolicyAttachment",
                "dev-ops-attachment",
                {"user": "ops", "policyArn": "arn:aws:iam::aws:policy/PowerUserAccess"},
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-ops-attachment",
        "PowerUserAccess: a statement allows everything but a list of actions (NotAction)",
    ),
    (
        "AWS managed SecretsManagerReadWrite attached: every environment's upstream tokens",
        lambda s: s.append(
            Spec(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "dev-secrets-attachment",
                {"role": "ci", "policyArn": "arn:aws:iam::aws:policy/SecretsManagerReadWrite"},
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-secrets-attachment",
        "reads the upstream tokens of every environment",
    ),
    (
        "wildcard action covering import",
        set_policy("dev-batch", {"Effect": "Allow", "Action": "ecr:Batch*", "Resource": "*"}),
        False,
        None,
        "cache-permissions-scoped",
        "dev-batch",
        "grants ecr:BatchImportUpstreamImage on *",
    ),
    (
        "registry policy with NotResource",
        set_policy(
            "dev-registry",
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "ecr:CreateRepository", "NotResource": "x"},
            REGISTRY_POLICY,
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-registry",
        "NotResource",
    ),
    (
        "an upstream pull from a whole registry that also creates repositories",
        set_policy(
            "dev-golden-upstream",
            {
                **{
                    "Sid": "PullFromUpstreamRegistry",
                    "Effect": "Allow",
                    "Action": [
                        "ecr:BatchGetImage",
                        "ecr:BatchImportUpstreamImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:GetImageCopyStatus",
                    ],
                    "Resource": "arn:aws:ecr:eu-west-1:210987654321:repository/*",
                },
                "Action": ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
            },
            ROLE_POLICY,
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-golden-upstream",
        "grants ecr:BatchImportUpstreamImage, ecr:CreateRepository on arn",
    ),
    (
        "an upstream pull from the stack's own registry, where the pack knows the stack's account",
        set_policy(
            "dev-golden-upstream",
            {
                **{
                    "Sid": "PullFromUpstreamRegistry",
                    "Effect": "Allow",
                    "Action": [
                        "ecr:BatchGetImage",
                        "ecr:BatchImportUpstreamImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:GetImageCopyStatus",
                    ],
                    "Resource": "arn:aws:ecr:eu-west-1:210987654321:repository/*",
                },
                "Resource": "arn:aws:ecr:us-east-2:123456789012:repository/*",
            },
            ROLE_POLICY,
        ),
        False,
        {"cache-permissions-scoped": {"accountIds": ["123456789012"]}},
        "cache-permissions-scoped",
        "dev-golden-upstream",
        "grants ecr:BatchImportUpstreamImage on arn:aws:ecr:us-east-2:123456789012:repository/*",
    ),
    (
        "replication statement that also imports",
        set_policy(
            "dev-registry",
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:BatchImportUpstreamImage"],
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
            },
            REGISTRY_POLICY,
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-registry",
        "grants ecr:BatchImportUpstreamImage, ecr:CreateRepository on arn",
    ),
    (
        "role inline policy",
        lambda s: s.append(
            Spec(
                ROLE,
                "dev-ci",
                {
                    "assumeRolePolicy": "{}",
                    "inlinePolicies": [
                        {
                            "name": "push",
                            "policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
                        }
                    ],
                },
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        "dev-ci",
        "inline policy 'push'",
    ),
    (
        "a template repository policy that names a resource, which ECR refuses",
        lambda s: props(s, HUB_TEMPLATE).update(
            repositoryPolicy=json.dumps(
                {
                    "Statement": [
                        {
                            "Sid": "Pull",
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                            "Action": "ecr:BatchGetImage",
                            "Resource": "*",
                        }
                    ]
                }
            )
        ),
        False,
        None,
        "cache-permissions-scoped",
        HUB_TEMPLATE,
        "statement 'Pull' has a Resource element, which ECR refuses in a repository policy",
    ),
    (
        "template repository policy",
        lambda s: props(s, HUB_TEMPLATE).update(
            repositoryPolicy=json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]})
        ),
        False,
        None,
        "cache-permissions-scoped",
        HUB_TEMPLATE,
        "grants ecr:*",
    ),
    # --- security: credentials on the default key (every environment), customer-managed keys in production
    (
        "secret under a customer-managed key",
        lambda s: props(s, HUB_SECRET).update(
            kmsKeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ),
        False,
        None,
        "credentials-default-key",
        HUB_SECRET,
        "has no KMS permission",
    ),
    (
        "secret under a key alias of its own",
        lambda s: props(s, HUB_SECRET).update(kmsKeyId="alias/ptc"),
        False,
        None,
        "credentials-default-key",
        HUB_SECRET,
        "Remove kmsKeyId",
    ),
    (
        "AES256 where KMS is required",
        lambda s: None,
        False,
        {"kms-in-production": {"environments": ["dev"]}},
        "kms-in-production",
        HUB_TEMPLATE,
        "with AES256 in the dev environment",
    ),
    (
        "KMS on the AWS managed key where a CMK is required",
        lambda s: props(s, HUB_TEMPLATE).update(encryptionConfigurations=[{"encryptionType": "KMS"}]),
        False,
        {"kms-in-production": {"environments": ["dev"]}},
        "kms-in-production",
        HUB_TEMPLATE,
        "AWS managed aws/ecr key",
    ),
    # --- conventions: prefixes
    (
        "prefix pattern",
        lambda s: (
            props(s, HUB_RULE).update(ecrRepositoryPrefix="Docker_Hub"),
            props(s, HUB_TEMPLATE).update(prefix="Docker_Hub"),
        ),
        False,
        None,
        "prefix-naming",
        HUB_RULE,
        "'Docker_Hub', which ECR rejects",
    ),
    (
        "prefix too long",
        lambda s: (
            props(s, HUB_RULE).update(ecrRepositoryPrefix="a" * 31),
            props(s, HUB_TEMPLATE).update(prefix="a" * 31),
        ),
        False,
        None,
        "prefix-naming",
        HUB_RULE,
        "2-30 lower-case",
    ),
    (
        "ROOT for a non-ECR upstream",
        lambda s: (props(s, HUB_RULE).update(ecrRepositoryPrefix="ROOT"), props(s, HUB_TEMPLATE).update(prefix="ROOT")),
        False,
        None,
        "prefix-naming",
        HUB_RULE,
        "only ECR upstreams may use",
    ),
    (
        "organisation prefix pattern",
        lambda s: None,
        False,
        {"prefix-naming": {"prefixPattern": "^mirror/.+$"}},
        "prefix-naming",
        HUB_RULE,
        "organisation's prefix pattern '^mirror/.+$'",
    ),
    # --- conventions: tags and names
    (
        "missing environment tag",
        lambda s: spec(s, "dev-docker-hub-template", ROLE).props["tags"].pop("environment"),
        False,
        {"environment-in-names": "disabled"},
        "required-tags",
        "dev-docker-hub-template",
        "needs the tag(s) environment",
    ),
    (
        "required tags by config",
        lambda s: None,
        False,
        {"required-tags": {"requiredTags": ["cost-center"]}},
        "required-tags",
        "dev-consumer",
        "needs the tag(s) cost-center",
    ),
    (
        "untagged cached repositories",
        lambda s: props(s, HUB_TEMPLATE).pop("resourceTags"),
        False,
        None,
        "required-tags",
        HUB_TEMPLATE,
        "must tag the repositories it creates with environment",
    ),
    (
        "secret name without the environment",
        lambda s: props(s, HUB_SECRET).update(namePrefix="ecr-pullthroughcache/docker-hub-"),
        False,
        None,
        "environment-in-names",
        HUB_SECRET,
        "without its environment 'dev'",
    ),
    (
        "resource name without the environment",
        lambda s: s.append(
            Spec(
                SECRET,
                "hub-secret",
                {
                    "name": "ecr-pullthroughcache/dev/hub",
                    "tags": {"environment": "dev", "ptc:upstream": "docker-hub", "ptc:token-scopes": "repo:read"},
                },
            )
        ),
        False,
        None,
        "environment-in-names",
        "hub-secret",
        "name it 'dev-...'",
    ),
    (
        "environment outside the allowed set",
        lambda s: None,
        False,
        {"environment-in-names": {"environments": ["staging", "prod"]}},
        "environment-in-names",
        HUB_SECRET,
        "'dev', which is not one of staging, prod",
    ),
    # --- conventions: templates
    (
        "rule without a template",
        lambda s: s.remove(spec(s, HUB_TEMPLATE, TEMPLATE)),
        False,
        None,
        "template-coverage",
        HUB_RULE,
        "has no repository creation template",
    ),
    (
        "template not for pull through cache",
        lambda s: props(s, HUB_TEMPLATE).update(appliedFors=["REPLICATION"]),
        False,
        None,
        "template-coverage",
        HUB_TEMPLATE,
        "does not apply to PULL_THROUGH_CACHE",
    ),
    (
        "template without a lifecycle policy",
        lambda s: props(s, HUB_TEMPLATE).pop("lifecyclePolicy"),
        False,
        None,
        "template-coverage",
        HUB_TEMPLATE,
        "has no lifecycle policy",
    ),
    (
        "tags without a custom role",
        lambda s: props(s, HUB_TEMPLATE).pop("customRoleArn"),
        False,
        None,
        "template-custom-role",
        HUB_TEMPLATE,
        "sets resource tags but has no customRoleArn",
    ),
    (
        "KMS without a custom role",
        lambda s: (
            props(s, HUB_TEMPLATE).pop("customRoleArn"),
            props(s, HUB_TEMPLATE).pop("resourceTags"),
            props(s, HUB_TEMPLATE).update(encryptionConfigurations=[{"encryptionType": "KMS"}]),
        ),
        False,
        {"required-tags": {"requiredRepositoryTags": []}},
        "template-custom-role",
        HUB_TEMPLATE,
        "sets KMS encryption but has no customRoleArn",
    ),
]


def test_the_baseline_draws_no_violation(packs):
    assert analyze(packs, baseline()) == []
    assert analyze(packs, baseline(), outputs=True) == []


@pytest.mark.parametrize("case, change, outputs, config, policy, resource, message", CASES, ids=[c[0] for c in CASES])
def test_each_mutation_is_caught_by_its_policy(packs, case, change, outputs, config, policy, resource, message):
    violations = analyze(packs, mutated(change), outputs=outputs, config=config)
    hits = [v for v in violations if v["policy"] == policy and message in v["message"]]
    assert hits, json.dumps(violations, indent=1)
    named = [v for v in hits if f"'{resource}'" in v["message"]]
    assert named, [v["message"] for v in hits]
    expected = "advisory" if policy in ADVISORY else "mandatory"
    assert named[0]["level"] == expected


MUTATIONS = [c for c in CASES if not c[2] and c[3] is None]
"""The mutation cases that need no policy config and no outputs: they can be applied together to one stack."""


def verdicts(violations: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted((v["policy"], v["level"], v["urn"], v["message"]) for v in violations)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_verdicts_do_not_depend_on_resource_order(packs, data):
    """The same resources in another order draw the same violations, word for word (issue 30): stack policies walk
    `args.resources`, and a message naming several resources must not name them in the engine's order."""
    chosen = data.draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4, unique_by=lambda c: c[0]))
    specs = baseline()
    try:
        for case in chosen:
            case[1](specs)
    except LookupError:  # a case looked up a resource another case wrote again under the same name
        assume(False)
    assume(len({(s.type, s.name) for s in specs}) == len(specs))  # two cases wrote one resource: not one stack
    shuffled = data.draw(st.permutations(specs))
    assert verdicts(analyze(packs, specs)) == verdicts(analyze(packs, list(shuffled)))


def test_messages_are_sentences_that_name_the_fix(packs):
    violations = analyze(packs, mutated(lambda s: props(s, HUB_RULE).pop("credentialArn")))
    message = violations[0]["message"]
    assert message.startswith("The pull through cache rule aws:ecr:PullThroughCacheRule 'dev-docker-hub-rule'")
    assert message.endswith(".") and "reference it" in message


def test_enforcement_levels_and_config_through_configure(packs):
    bad = mutated(set_tag(HUB_SECRET, "ptc:token-scopes", "repo:write"))
    assert {v["level"] for v in analyze(packs, bad)} == {"mandatory"}
    advisory = analyze(packs, bad, config={"token-scopes-least-privilege": "advisory"})
    assert [v["level"] for v in advisory] == ["advisory"]
    assert analyze(packs, bad, config={"token-scopes-least-privilege": {"enforcementLevel": "disabled"}}) == []
    assert analyze(packs, bad, config={"all": "disabled"}) == []
    everything_advisory = analyze(packs, bad, config={"all": "advisory"})
    assert everything_advisory and {v["level"] for v in everything_advisory} == {"advisory"}
    # Each run configures afresh: the defaults are back.
    assert {v["level"] for v in analyze(packs, bad)} == {"mandatory"}


@pytest.mark.parametrize(
    "config, message",
    [
        ({"no-such-policy": "advisory"}, "unknown policies: no-such-policy"),
        ({"all": "loud"}, "'all' must be one of"),
        ({"upstream-allowlist": {"allowedHosts": "quay.io"}}, "'upstream-allowlist' at allowedHosts"),
        ({"prefix-naming": {"prefixPatern": "x"}}, "Additional properties are not allowed"),
        ({"required-tags": {"enforcementLevel": "sometimes"}}, "enforcementLevel must be one of"),
    ],
)
def test_bad_policy_config_is_refused_with_the_field_named(packs, config, message):
    with pytest.raises(PolicyConfigError, match=message):
        analyze(packs, baseline(), config=config)


def test_analyzer_info_describes_every_policy(packs):
    infos = {info.name: info for info in packs.infos}
    assert set(infos) == {"ecr-ptc-security", "ecr-ptc-conventions"}
    assert set(infos["ecr-ptc-security"].policies) == {
        "token-scopes-least-privilege",
        "rule-credentials",
        "rule-secret-location",
        "upstream-allowlist",
        "upstream-matches-kind",
        "cache-permissions-scoped",
        "credentials-default-key",
        "kms-in-production",
        "gitlab-token-type",
        "secret-of-own-environment",
        "cache-principals-allowed",
        "gitlab-token-least-privilege",
        "gitlab-personal-access-token",
        "one-registry-policy",
        "cache-replication-in-bounds",
    }
    assert set(infos["ecr-ptc-conventions"].policies) == {
        "prefix-naming",
        "rule-prefixes-unique",
        "required-tags",
        "environment-in-names",
        "template-coverage",
        "template-custom-role",
        "environment-tag-matches",
    }
    for info in infos.values():
        for name, policy in info.policies.items():
            assert policy["description"].endswith("."), name
    assert infos["ecr-ptc-security"].policies["rule-secret-location"]["type"] == "stack"
    assert "allowedHosts" in infos["ecr-ptc-security"].policies["upstream-allowlist"]["config_schema"]["properties"]


def test_unknown_values_are_never_passed_over_silently(packs):
    specs = mutated(
        lambda s: (
            props(s, "dev-consumer").update(policy=UNKNOWN),
            props(s, HUB_RULE).update(upstreamRegistryUrl=UNKNOWN),
        )
    )
    violations = analyze(packs, specs)
    notes = {v["policy"]: v for v in violations if "during preview" in v["message"]}
    assert {"cache-permissions-scoped", "upstream-allowlist"} <= set(notes)
    assert "aws:iam:Policy 'dev-consumer' .policy" in notes["cache-permissions-scoped"]["message"]
    assert all(v["level"] == "advisory" for v in notes.values())


def test_the_unknown_sentinel_counts_only_during_preview():
    """During `pulumi up` (PULUMI_DRY_RUN=false) nothing is unknown: a property that equals the SDK's sentinel is
    judged as the string it is, never deferred (issue 30, unknowns)."""
    change = all_of(
        token_feeding_secret(scopes=[UNKNOWN]),
        lambda s: s.append(Spec(REGISTRY_POLICY, "dev-consumers", {"policy": UNKNOWN})),
    )
    for dry_run in (True, False):
        config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": REGION, "environment": "dev"})
        with PolicyPacks(pack_dirs(ROOT), config, dry_run=dry_run) as running:
            violations = running.run(build(mutated(change))).violations
        mandatory = {v["policy"]: v["message"] for v in violations if v["level"] == "mandatory"}
        if dry_run:
            assert "gitlab-token-least-privilege" not in mandatory and "cache-principals-allowed" not in mandatory
            assert any("during preview" in v["message"] for v in violations), violations
        else:
            assert (
                f"with the scopes {UNKNOWN}; give it exactly read_registry" in mandatory["gitlab-token-least-privilege"]
            )
            assert "is not a JSON policy document" in mandatory["cache-principals-allowed"]
            assert not any("during preview" in v["message"] for v in violations), violations


@pytest.mark.parametrize("env", ["dev-eu", "prod-us-east-2"])
def test_environment_names_may_hold_hyphens_and_production_is_a_pattern(env):
    """`dev-eu` is one environment, not `dev` and `eu` (every name carried it and was flagged); `prod-us-east-2` is
    production under the default `prod*` (an exact {prod, production} skipped it). Issue 30, environments."""
    config = make_stack_config("ecr-pull-through-cache", env, {"aws:region": REGION, "environment": env})
    with PolicyPacks(pack_dirs(ROOT), config, dry_run=True) as running:
        violations = running.run(build(baseline(env), stack=env), policy_config={"all": "mandatory"}).violations
    policies = {v["policy"] for v in violations}
    if env.startswith("prod"):
        assert policies == {"kms-in-production"}, json.dumps(violations, indent=1)
    else:
        assert violations == [], json.dumps(violations, indent=1)


def test_one_unknown_does_not_hide_other_findings(packs):
    def change(specs):
        props(specs, "dev-consumer").update(policy=UNKNOWN)
        set_policy("dev-wide", {"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*"})(specs)

    violations = analyze(packs, mutated(change))
    assert any(v["policy"] == "cache-permissions-scoped" and v["level"] == "mandatory" for v in violations)


def test_prefixes_known_only_after_apply_are_matched_through_their_source(packs):
    def random_prefix(specs):
        specs.append(
            Spec(
                "random:index/randomId:RandomId",
                "dev-docker-hub-prefix-suffix",
                {"byteLength": 2},
                parent="dev-docker-hub",
            )
        )
        for name, key in ((HUB_RULE, "ecrRepositoryPrefix"), (HUB_TEMPLATE, "prefix")):
            props(specs, name)[key] = UNKNOWN
            spec(specs, name, TYPES_BY_NAME.get(name)).property_dependencies[key] = ["dev-docker-hub-prefix-suffix"]

    covered = analyze(packs, mutated(random_prefix))
    assert not [v for v in covered if v["policy"] == "template-coverage"], covered

    def unrelated(specs):
        random_prefix(specs)
        spec(specs, HUB_TEMPLATE, TEMPLATE).property_dependencies["prefix"] = ["dev-consumer"]

    violations = [v for v in analyze(packs, mutated(unrelated)) if v["policy"] == "template-coverage"]
    assert violations and violations[0]["level"] == "advisory" and "during preview" in violations[0]["message"]


def test_component_written_resources_of_other_stacks_are_also_checked(packs):
    """A rule written by hand, outside any component, is held to the same rules."""
    specs = [Spec(RULE, "hand-written", {"ecrRepositoryPrefix": "hub", "upstreamRegistryUrl": "registry-1.docker.io"})]
    policies = {v["policy"] for v in analyze(packs, specs)}
    assert {"rule-credentials", "template-coverage"} <= policies


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_repository_stacks_draw_no_mandatory_violation(stack):
    config = stack_config(stack_file(stack), stack)
    for preview in (True, False):
        result = run_program(ROOT, config, preview=preview)
        assert result.error is None
        with PolicyPacks(pack_dirs(ROOT), config, dry_run=preview) as running:
            violations = running.run(result.resources, outputs=not preview).violations
        assert not [v for v in violations if v["level"] == "mandatory"], violations
        if not preview:
            assert violations == [], violations  # everything is known after apply: no notes either
        else:
            assert all("during preview" in v["message"] for v in violations), violations


def test_pack_directories():
    assert [p.name for p in pack_dirs(ROOT)] == ["conventions", "security"]
    for pack in pack_dirs(ROOT):
        assert (pack / "requirements.txt").read_text().count("pulumi-policy==") == 1
        assert "version:" in (pack / "PulumiPolicy.yaml").read_text()
        for module in pack.glob("*.py"):
            if module.name != "__main__.py":
                assert "PolicyPack(" not in module.read_text(), module
            imports = [line for line in module.read_text().splitlines() if line.startswith(("import ", "from "))]
            own = re.compile(r"^(from|import) (components|ecr_pull_through_cache|ptc)(\.| |$)")
            assert not [line for line in imports if own.match(line)], module


def test_the_consumer_policy_document_passes(packs):
    document = iam.consumer_policy("aws", REGION, ACCOUNT, ["docker-hub", "team/quay"])
    specs = [Spec(POLICY, "dev-consumer", {"policy": json.dumps(document), "tags": {"environment": "dev"}})]
    assert analyze(packs, specs) == []


def test_the_packs_run_from_any_directory(tmp_path: Path):
    """Packs resolve their own modules: the CLI may start them from elsewhere."""
    config = make_stack_config("p", "s", {"aws:region": REGION})
    with PolicyPacks(pack_dirs(ROOT), config, dry_run=True) as running:
        assert len(running.infos) == 2


# --------------------------------------------------------------------------------------------
# No false alarms
# --------------------------------------------------------------------------------------------

NO_ALARM = [
    (
        "anyone in the organization",
        registry_policy(
            {"Effect": "Allow", "Principal": ANYONE, "Action": CREATE, "Resource": HUB_ARN, "Condition": ORG}
        ),
        None,
    ),
    (
        "anyone, as long as it is one named account (aws:PrincipalAccount)",
        registry_policy(
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": CREATE,
                "Resource": HUB_ARN,
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
            }
        ),
        None,
    ),
    (
        "anyone under an organization path",
        template_policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:BatchGetImage",
                "Condition": {
                    "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-abcdefghij/r-ab12/ou-ab12-11111111/*"]}
                },
            }
        ),
        None,
    ),
    (
        "AWS managed read-only ECR access attached (pulls, no import, no create)",
        lambda s: s.append(
            Spec(
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                "dev-reader-attachment",
                {"role": "ci", "policyArn": "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"},
            )
        ),
        None,
    ),
    (
        "AWS's role policy for an ECR upstream mirrored whole (ROOT): import and pull on its repository/*",
        set_policy(
            "dev-golden-upstream",
            {
                "Sid": "PullFromUpstreamRegistry",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchGetImage",
                    "ecr:BatchImportUpstreamImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:GetImageCopyStatus",
                ],
                "Resource": "arn:aws:ecr:eu-west-1:210987654321:repository/*",
            },
            ROLE_POLICY,
        ),
        {"cache-permissions-scoped": {"accountIds": ["123456789012"]}},
    ),
    (
        "AWS's cross-account replication statement in the registry policy",
        registry_policy(
            {
                "Sid": "ReplicateFromSource",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
            }
        ),
        None,
    ),
    (
        "a Deny for everyone",
        registry_policy({"Effect": "Deny", "Principal": "*", "Action": CREATE, "Resource": HUB_ARN}),
        None,
    ),
    (
        "named accounts and roles",
        registry_policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": ["210987654321", "arn:aws:iam::333333333333:role/ci"]},
                "Action": CREATE,
                "Resource": HUB_ARN,
            }
        ),
        {"cache-principals-allowed": {"allowedAccounts": ["210987654321", "333333333333"]}},
    ),
    (
        "a service principal pulling",
        template_policy(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "ecr:BatchGetImage"}
        ),
        None,
    ),
    (
        "a template on a parent namespace",
        lambda s: (
            props(s, HUB_RULE).update(ecrRepositoryPrefix="docker-hub/team"),
            props(s, POLICY_SPEC).update(
                policy=json.dumps(iam.consumer_policy("aws", REGION, ACCOUNT, ["docker-hub/team"]))
            ),
            spec(s, "dev-docker-hub", UPSTREAM_TYPE).props.update(prefix="docker-hub/team"),
        ),
        None,
    ),
    (
        "no required tags",
        lambda s: props(s, HUB_TEMPLATE).pop("resourceTags"),
        {"required-tags": {"requiredTags": [], "requiredRepositoryTags": []}, "template-custom-role": "disabled"},
    ),
    ("a GitLab group access token", gitlab_secret("group-access-token"), None),
    ("a least-privilege GitLab token resource feeding the secret", token_feeding_secret(), None),
    ("a Guest GitLab token for public projects", token_feeding_secret(accessLevel="guest"), None),
    (
        "a GitLab project deploy token with read_registry and an expiry",
        token_feeding_secret(
            "gitlab:index/projectDeployToken:ProjectDeployToken", rotationConfiguration=None, expiresAt="2027-03-01"
        ),
        None,
    ),
    (
        "a GitLab group service account token with read_registry that rotates",
        token_feeding_secret("gitlab:index/groupServiceAccountAccessToken:GroupServiceAccountAccessToken"),
        None,
    ),
    (
        "a GitLab token with api feeding a secret outside the cache",
        token_feeding_secret(secret_id="ci/gitlab-api", scopes=["api"]),
        None,
    ),
    (
        "the cache's own roles: a service principal and a named account",
        all_of(
            trust(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "pullthroughcache.ecr.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ),
            policy_resource(
                ROLE,
                "dev-admin-role",
                "assumeRolePolicy",
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
                tags={"environment": "dev"},
            ),
        ),
        {"cache-principals-allowed": {"allowedAccounts": [ACCOUNT]}},
    ),
    (
        "a role one GitHub repository's main branch may assume",
        github_trust(
            {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": "repo:acme/platform:ref:refs/heads/main",
                }
            }
        ),
        None,
    ),
    (
        "AWS's own key policy shape: the account root, and * held to the account through ECR",
        policy_resource(
            "aws:kms/key:Key",
            "dev-cache-key",
            "policy",
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": ANYONE,
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": f"ecr.{REGION}.amazonaws.com"}
                },
            },
        ),
        {"cache-principals-allowed": {"allowedAccounts": [ACCOUNT]}},
    ),
    (
        "a KMS grant to ECR's service principal",
        lambda s: s.append(
            Spec(
                "aws:kms/grant:Grant",
                "dev-cache-grant",
                {"keyId": "k", "granteePrincipal": "ecr.amazonaws.com", "operations": ["Decrypt"]},
            )
        ),
        {"cache-principals-allowed": {"allowedAccounts": [ACCOUNT]}},
    ),
    (
        "replication of other repositories to a foreign account, and of the cache to the stack's own",
        all_of(
            replication({"filter": "apps/", "filterType": "PREFIX_MATCH"}),
            lambda s: s.append(
                Spec(
                    "aws-native:ecr:ReplicationConfiguration",
                    "dev-replication-home",
                    {
                        "replicationConfiguration": {
                            "rules": [{"destinations": [{"region": "eu-west-1", "registryId": ACCOUNT}]}]
                        }
                    },
                )
            ),
        ),
        {"cache-replication-in-bounds": {"accountIds": [ACCOUNT]}},
    ),
    (
        "a policy reading one environment's upstream tokens",
        set_policy(
            "dev-token-reader",
            {
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:*:*:secret:ecr-pullthroughcache/dev/*",
            },
        ),
        None,
    ),
    (
        "a GitLab deploy token with an expiry",
        token_feeding_secret(
            "gitlab:index/groupDeployToken:GroupDeployToken",
            accessLevel=None,
            rotationConfiguration=None,
            expiresAt="2027-03-01",
        ),
        None,
    ),
]
POLICY_SPEC = "dev-consumer"
UPSTREAM_TYPE = "ecr-pull-through-cache:index:UpstreamCache"


@pytest.mark.parametrize("case, change, config", NO_ALARM, ids=[c[0] for c in NO_ALARM])
def test_what_is_right_draws_no_violation(packs, case, change, config):
    violations = analyze(packs, mutated(change), config=config)
    assert violations == [], json.dumps(violations, indent=1)


# --------------------------------------------------------------------------------------------
# Under the Pulumi CLI: what the declared schemas cannot refuse, the policies report themselves
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pack, policy, properties, message",
    [
        ("conventions", "prefix-naming", {"prefixPattern": r"^x\z"}, r'prefixPattern: "^x\\z" is not a valid'),
        ("conventions", "prefix-naming", {"prefixPatern": "^x$"}, "prefixPatern: is not a setting of this policy"),
        (
            "security",
            "token-scopes-least-privilege",
            {"allowedScopes": {"harbor": ["pull"]}},
            "allowedScopes: harbor is not an upstream kind",
        ),
        ("security", "upstream-allowlist", {"allowedHosts": [" "]}, "would refuse every upstream"),
    ],
)
def test_each_pack_reports_config_its_schema_cannot_refuse_once(pack, policy, properties, message):
    """The CLI validates settings against the declared schema (gojsonschema) but cannot refuse an undeclared one,
    and Go's regexp accepts what Python's re refuses (`\\z`): the policy reports it, once, and checks nothing
    more. The packs patch nothing of the SDK's to do so."""
    from ptc.analyzer import EngineServer, PackProcess

    engine = EngineServer()
    config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": REGION, "environment": "dev"})
    process = PackProcess(ROOT / "policies" / pack, config, dry_run=True, engine_address=engine.address)
    try:
        process.connect()
        process.configure({policy: {"level": "mandatory", "properties": properties}})
        process.configure_stack()
        found = [v for resource in build(baseline()) for v in process.analyze(resource) if v["policy"] == policy]
    finally:
        process.close()
        engine.stop()
    assert len(found) == 1, found
    assert message in found[0]["message"] and "invalid policy config" in found[0]["message"]


def test_config_a_schema_can_refuse_is_refused_before_any_pack_runs(packs):
    """What the declared schemas say, ptc refuses as the CLI does (gojsonschema there, jsonschema here)."""
    for config, message in [
        ({"prefix-naming": {"prefixPattern": "(unclosed"}}, "is not a 'regex'"),
        ({"upstream-allowlist": {"allowedHosts": []}}, "should be non-empty"),
        ({"token-scopes-least-privilege": {"allowedScopes": {"harbor": ["pull"]}}}, "'harbor' is not one of"),
        ({"rule-secret-location": {"accountIds": ["12345"]}}, "does not match"),
    ]:
        with pytest.raises(PolicyConfigError, match=re.escape(message)):
            analyze(packs, baseline(), config=config)
