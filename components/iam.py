"""IAM and KMS policy documents as pure functions of plain values.

Every document here is least privilege by construction: cache actions are scoped to
`repository/<prefix>/*`, no statement grants `ecr:*`, and `*` appears only as the resource of
`ecr:GetAuthorizationToken` (which has no resource-level permissions). The components wrap
these functions in `Output.apply`; the tests call them directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .naming import ROOT

VERSION = "2012-10-17"
PTC_SERVICE = "pullthroughcache.ecr.amazonaws.com"
ECR_SERVICE = "ecr.amazonaws.com"

FIRST_PULL_ACTIONS = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
"""Needed by whoever pulls an image first: ECR creates the cached repository and imports the image."""
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
"""Needed for every pull of a cached image."""
AUTH_ACTION = "ecr:GetAuthorizationToken"

Document = dict[str, Any]


def repository_arn(partition: str, region: str, account: str, prefix: str) -> str:
    """ARN pattern of every repository under a cache prefix (`ROOT` means every repository)."""
    path = "*" if prefix == ROOT else f"{prefix}/*"
    return f"arn:{partition}:ecr:{region}:{account}:repository/{path}"


def service_linked_role_arn(partition: str, account: str) -> str:
    """The role ECR uses to read upstream credentials from Secrets Manager."""
    return (
        f"arn:{partition}:iam::{account}:role/aws-service-role/{PTC_SERVICE}/AWSServiceRoleForECRPullThroughCache"
    )


def consumer_policy(partition: str, region: str, account: str, prefixes: Iterable[str]) -> Document:
    """Lets a workload pull through every cache prefix: first pull and steady state, nothing else."""
    resources = sorted(repository_arn(partition, region, account, p) for p in prefixes)
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "FirstPullCreatesCachedRepository",
                "Effect": "Allow",
                "Action": FIRST_PULL_ACTIONS,
                "Resource": resources,
            },
            {"Sid": "PullCachedImages", "Effect": "Allow", "Action": PULL_ACTIONS, "Resource": resources},
            {"Sid": "AuthenticateToRegistry", "Effect": "Allow", "Action": AUTH_ACTION, "Resource": "*"},
        ],
    }


def template_role_trust() -> Document:
    """Trust policy of a repository creation template's role, as AWS documents it."""
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ECR_SERVICE}, "Action": "sts:AssumeRole"},
        ],
    }


def template_role_policy(partition: str, region: str, account: str, prefix: str) -> Document:
    """What ECR needs to create (and tag) a repository under one prefix for a creation template."""
    return {
        "Version": VERSION,
        "Statement": [{
            "Sid": "CreateCachedRepositories",
            "Effect": "Allow",
            "Action": ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
            "Resource": repository_arn(partition, region, account, prefix),
        }],
    }


def template_kms_policy(region: str, kms_key_arn: str | None, dns_suffix: str = "amazonaws.com") -> Document:
    """What ECR needs to encrypt the repositories it creates: the given key, or ECR's AWS managed key."""
    statement: dict[str, Any] = {
        "Sid": "EncryptCachedRepositories",
        "Effect": "Allow",
        "Action": ["kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"],
        "Resource": kms_key_arn or "*",
    }
    if not kms_key_arn:
        # The AWS managed key for ECR, reachable only through ECR in this region.
        statement["Condition"] = {"StringEquals": {"kms:ViaService": f"ecr.{region}.{dns_suffix}"}}
    return {"Version": VERSION, "Statement": [statement]}


def upstream_role_trust(account: str) -> Document:
    """Trust policy of the role an ECR-to-ECR rule uses; only this account's pull through cache may assume it."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": PTC_SERVICE},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            }
        ],
    }


def upstream_role_policy(partition: str, region: str, account: str, prefix: str,
                         upstream_account: str, upstream_region: str, upstream_prefix: str) -> Document:
    """Pull from the upstream registry's repositories and import into this registry's cache prefix."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "PullFromUpstreamRegistry",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:GetImageCopyStatus"],
                "Resource": repository_arn(partition, upstream_region, upstream_account, upstream_prefix),
            },
            {
                "Sid": "ImportIntoCache",
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchImportUpstreamImage",
                    "ecr:CompleteLayerUpload",
                    "ecr:InitiateLayerUpload",
                    "ecr:PutImage",
                    "ecr:UploadLayerPart",
                ],
                "Resource": repository_arn(partition, region, account, prefix),
            },
            {"Sid": "AuthenticateToRegistries", "Effect": "Allow", "Action": AUTH_ACTION, "Resource": "*"},
        ],
    }


def kms_key_policy(partition: str, region: str, account: str, dns_suffix: str = "amazonaws.com") -> Document:
    """Key policy for the customer-managed key of secrets and cached repositories.

    The account administers the key through IAM; ECR's pull-through-cache service-linked role may
    decrypt only through Secrets Manager in this region. The role is matched by `aws:PrincipalArn`
    rather than named as principal, so the key can be created before the role exists (ECR creates
    it with the first rule).
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AccountAdministersKeyThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "PullThroughCacheReadsSecrets",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"secretsmanager.{region}.{dns_suffix}",
                    },
                    "ArnEquals": {"aws:PrincipalArn": service_linked_role_arn(partition, account)},
                },
            },
        ],
    }


def _grants(partition: str, sid: str, actions: list[str], account_ids: Iterable[str],
            organization_id: str | None, resources: list[str] | None = None) -> list[dict[str, Any]]:
    """One statement for the listed accounts and one for every account of the organization."""
    statements = []
    accounts = sorted(set(account_ids))
    if accounts:
        roots = [f"arn:{partition}:iam::{a}:root" for a in accounts]
        statements.append({"Sid": f"{sid}Accounts", "Effect": "Allow",
                           "Principal": {"AWS": roots[0] if len(roots) == 1 else roots}, "Action": actions})
    if organization_id:
        statements.append({"Sid": f"{sid}Organization", "Effect": "Allow", "Principal": {"AWS": "*"},
                           "Action": actions,
                           "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}}})
    if resources is not None:
        for statement in statements:
            statement["Resource"] = resources
    return statements


def registry_policy(partition: str, region: str, account: str, prefixes: Iterable[str],
                    account_ids: Iterable[str], organization_id: str | None) -> Document:
    """Registry policy of a central cache account: other accounts may create and import cached repositories
    under the cache prefixes, and nowhere else."""
    resources = sorted(repository_arn(partition, region, account, p) for p in prefixes)
    return {"Version": VERSION, "Statement": _grants(partition, "FirstPullThroughCache", FIRST_PULL_ACTIONS,
                                                     account_ids, organization_id, resources)}


def cached_repository_policy(partition: str, account_ids: Iterable[str], organization_id: str | None) -> Document:
    """Repository policy that creation templates put on cached repositories, so the same principals can pull."""
    return {"Version": VERSION, "Statement": _grants(partition, "PullCachedImages", PULL_ACTIONS, account_ids,
                                                     organization_id)}
