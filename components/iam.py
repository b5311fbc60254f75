"""IAM and KMS policy documents as pure functions of plain values.

Every document here is least privilege by construction: cache actions are scoped to
`repository/<prefix>/*`, no statement grants `ecr:*`, and `*` appears only as the resource of
`ecr:GetAuthorizationToken` (which has no resource-level permissions). The components wrap
these functions in `Output.apply`; the tests call them directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .naming import ROOT

MANAGED_POLICY_MAX = 6144
"""Customer managed policy size (IAM user guide, "IAM and AWS STS quotas"), white space not counted."""
INLINE_POLICIES_PER_ROLE_MAX = 10240
"""Inline policies of one role, all together (IAM user guide, "IAM and AWS STS quotas")."""
REGISTRY_POLICY_MAX = 10240
"""`RegistryPolicyText` max length in botocore's ECR model."""
REPOSITORY_POLICY_MAX = 10240


def repository_policy_faults(document: Any) -> list[str]:
    """What ECR refuses in a repository policy (a creation template's included): a statement with a Resource or
    NotResource element. The policy applies to the repository it is set on, and ECR answers "Invalid repository
    policy provided" to one that names resources (ECR user guide, "Private repository policies": statements name
    principals and actions only)."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    statements = statements if isinstance(statements, list) else [statements] if isinstance(statements, dict) else []
    faults = []
    for index, statement in enumerate(statements):
        if isinstance(statement, dict):
            for key in ("Resource", "NotResource"):
                if key in statement:
                    sid = statement.get("Sid")
                    name = f"statement '{sid}'" if isinstance(sid, str) and sid else f"statement {index}"
                    faults.append(
                        f'{name} has a {key} element, which ECR refuses in a repository policy ("Invalid '
                        'repository policy provided"); remove it: the policy applies to each cached repository'
                    )
    return faults


"""`RepositoryPolicyText` max length in botocore's ECR model (creation templates use it too)."""

VERSION = "2012-10-17"
PTC_SERVICE = "pullthroughcache.ecr.amazonaws.com"
ECR_SERVICE = "ecr.amazonaws.com"

FIRST_PULL_ACTIONS = ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
"""Needed by whoever pulls an image first: ECR creates the cached repository and imports the image."""
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
"""Needed for every pull of a cached image."""
AUTH_ACTION = "ecr:GetAuthorizationToken"
TAG_ACTION = "ecr:TagResource"
"""Needed by whoever pulls first when the creation template tags repositories; identity-based policies only."""

Document = dict[str, Any]


def repository_arn(partition: str, region: str, account: str, prefix: str) -> str:
    """ARN pattern of every repository under a cache prefix (`ROOT` means every repository)."""
    path = "*" if prefix == ROOT else f"{prefix}/*"
    return f"arn:{partition}:ecr:{region}:{account}:repository/{path}"


def policy_text_size(text: str) -> int:
    """Characters IAM counts against its policy quotas: the text without white space.

    IAM user guide, "IAM and AWS STS quotas": "IAM doesn't count white space when calculating the size of a
    policy against these limits".
    """
    return len(text) - sum(map(text.count, (" ", "\t", "\n", "\r", "\x0b", "\x0c")))  # counted in C, not per char


def policy_size(document: Document) -> int:
    """`policy_text_size` of a document as the components write it (compact JSON)."""
    return policy_text_size(json.dumps(document, separators=(",", ":")))


def _consumer_statements(partition: str, region: str, account: str, prefixes: Mapping[str, bool]) -> list[Document]:
    """Each prefix appears once: with `ecr:TagResource` where its template tags repositories, without elsewhere.

    First pulls need `ecr:CreateRepository` and `ecr:BatchImportUpstreamImage`, and `ecr:TagResource` when the
    creation template adds resource tags, which only an identity-based policy can grant (ECR user guide, "IAM
    permissions required to sync an upstream registry"); steady-state pulls need the three pull actions (ECR
    user guide, "Private repository policies"). One statement per tagging choice keeps the document small.
    """
    statements = []
    for tags, sid, actions in (
        (True, "PullThroughCacheTagged", [*FIRST_PULL_ACTIONS, *PULL_ACTIONS, TAG_ACTION]),
        (False, "PullThroughCache", [*FIRST_PULL_ACTIONS, *PULL_ACTIONS]),
    ):
        resources = sorted(repository_arn(partition, region, account, p) for p, t in prefixes.items() if t is tags)
        if resources:
            statements.append(
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": sorted(actions),
                    "Resource": resources[0] if len(resources) == 1 else resources,
                }
            )
    return statements


def consumer_policy(
    partition: str,
    region: str,
    account: str,
    prefixes: Mapping[str, bool] | Iterable[str],
) -> Document:
    """Lets a workload pull through the given cache prefixes: first pull and steady state, nothing else.

    `prefixes` maps each prefix to whether its template tags repositories (a plain list means they all do).
    """
    tagged = prefixes if isinstance(prefixes, Mapping) else dict.fromkeys(prefixes, True)
    return {
        "Version": VERSION,
        "Statement": [
            *_consumer_statements(partition, region, account, tagged),
            {"Sid": "AuthenticateToRegistry", "Effect": "Allow", "Action": AUTH_ACTION, "Resource": "*"},
        ],
    }


# The longest partition, region and account spellings, so that a split decided before the account and
# region are known still holds once they are (`aws-us-gov`, `ap-southeast-5`-style names, 12 digits).
WORST_PARTITION = "aws-iso-b-x"
WORST_REGION = "ap-southeast-5x-1"
WORST_ACCOUNT = "0" * 12


def consumer_policy_groups(prefixes: Mapping[str, bool], limit: int = MANAGED_POLICY_MAX) -> list[list[str]]:
    """Split the prefixes into groups whose consumer policy each fits IAM's managed-policy quota.

    Decided from the prefixes alone (with the longest partition, region and account names), so the number of
    policies is known when the program declares them. Prefixes are the deployed ones, or the configured ones
    padded to the random suffix's length.
    """
    groups: list[list[str]] = [[]]
    for prefix in sorted(prefixes):
        candidate = [*groups[-1], prefix]
        document = consumer_policy(WORST_PARTITION, WORST_REGION, WORST_ACCOUNT, {p: prefixes[p] for p in candidate})
        if policy_size(document) > limit and groups[-1]:
            groups.append([prefix])
        else:
            groups[-1] = candidate
    return groups


def template_role_trust() -> Document:
    """Trust policy of a repository creation template's role, as AWS documents it."""
    return {
        "Version": VERSION,
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ECR_SERVICE}, "Action": "sts:AssumeRole"},
        ],
    }


def template_role_policy(
    partition: str, region: str, account: str, prefix: str, *, tags: bool = True, replication: bool = False
) -> Document:
    """What ECR needs to create a repository under one prefix for a creation template.

    ECR user guide, "Repository creation templates" (custom role): `ecr:CreateRepository`, plus
    `ecr:TagResource` when the template tags repositories and `ecr:ReplicateImage` only for templates
    applied for REPLICATION.
    """
    actions = ["ecr:CreateRepository"]
    if tags:
        actions.append(TAG_ACTION)
    if replication:
        actions.append("ecr:ReplicateImage")
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "CreateCachedRepositories",
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": repository_arn(partition, region, account, prefix),
            }
        ],
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


def upstream_role_trust() -> Document:
    """Trust policy of the role an ECR-to-ECR rule uses, as the ECR user guide documents it ("Setting up
    permissions for cross-account ECR to ECR PTC", trust policy): the pull through cache service principal,
    with no condition. AWS documents no `aws:SourceAccount`/`aws:SourceArn` sent by this service, and a
    condition on a key the service does not send would deny every assume-role."""
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": PTC_SERVICE}, "Action": "sts:AssumeRole"}],
    }


UPSTREAM_PULL_ACTIONS = [
    "ecr:BatchGetImage",
    "ecr:BatchImportUpstreamImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetImageCopyStatus",
]
"""Checked against the upstream registry's repositories (ECR user guide, cross-account ECR to ECR PTC)."""
CACHE_IMPORT_ACTIONS = [
    "ecr:BatchImportUpstreamImage",
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
]
"""Checked against this registry's cached repositories."""
UPSTREAM_GRANT_ACTIONS = [
    "ecr:BatchGetImage",
    "ecr:BatchImportUpstreamImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetImageCopyStatus",
]
"""What the upstream registry's owner grants the downstream role: the four actions of AWS's own statement (ECR user
guide, pull-through-cache-private, "Creating a resource policy in the upstream Amazon ECR registry"), the same as
the role's own `UPSTREAM_PULL_ACTIONS`. A registry policy holds the pull
actions only under the V2 registry policy scope, AWS's default (ECR user guide, "Private registry
permissions"); under V1 the owner grants them in repository policies instead."""


def upstream_role_policy(
    partition: str,
    region: str,
    account: str,
    prefix: str,
    upstream_account: str,
    upstream_region: str,
    upstream_prefix: str,
) -> Document:
    """AWS's documented role policy for ECR-to-ECR caching, scoped: its actions on `Resource: "*"` split into the
    upstream repositories (pull and `BatchImportUpstreamImage`, which the upstream side checks) and this
    registry's cache prefix (import and push of the layers); `GetAuthorizationToken` stays on `*`."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "PullFromUpstreamRegistry",
                "Effect": "Allow",
                "Action": UPSTREAM_PULL_ACTIONS,
                "Resource": repository_arn(partition, upstream_region, upstream_account, upstream_prefix),
            },
            {
                "Sid": "ImportIntoCache",
                "Effect": "Allow",
                "Action": CACHE_IMPORT_ACTIONS,
                "Resource": repository_arn(partition, region, account, prefix),
            },
            {"Sid": "AuthenticateToRegistries", "Effect": "Allow", "Action": AUTH_ACTION, "Resource": "*"},
        ],
    }


def upstream_grant_statement(
    partition: str, upstream_region: str, upstream_account: str, upstream_prefix: str, role_arn: str, sid: str
) -> Document:
    """The registry-policy statement the upstream registry's owner applies so this registry's role may pull."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": UPSTREAM_GRANT_ACTIONS,
        "Resource": repository_arn(partition, upstream_region, upstream_account, upstream_prefix),
    }


def kms_key_policy(partition: str, account: str) -> Document:
    """Key policy for the customer-managed key of cached repositories (creation templates).

    The account administers the key through IAM, so each template's role is granted the key by its own
    IAM policy. Credentials secrets never use this key: ECR's pull-through-cache service-linked role has no KMS
    permission, so a secret must stay on the default `aws/secretsmanager` key (ECR user guide, "Storing your
    upstream repository credentials in an AWS Secrets Manager secret").
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
        ],
    }


def _grants(
    partition: str,
    sid: str,
    actions: list[str],
    account_ids: Iterable[str],
    organization_id: str | None,
    resources: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One statement for the listed accounts and one for every account of the organization."""
    statements = []
    accounts = sorted(set(account_ids))
    if accounts:
        roots = [f"arn:{partition}:iam::{a}:root" for a in accounts]
        statements.append(
            {
                "Sid": f"{sid}Accounts",
                "Effect": "Allow",
                "Principal": {"AWS": roots[0] if len(roots) == 1 else roots},
                "Action": actions,
            }
        )
    if organization_id:
        statements.append(
            {
                "Sid": f"{sid}Organization",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": actions,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": organization_id}},
            }
        )
    if resources is not None:
        for statement in statements:
            statement["Resource"] = resources
    return statements


def registry_policy(
    partition: str,
    region: str,
    account: str,
    prefixes: Iterable[str],
    account_ids: Iterable[str],
    organization_id: str | None,
    extra_statements: Iterable[Document] = (),
) -> Document:
    """The one registry policy of this registry: other accounts may create and import cached repositories under
    the cache prefixes (and nowhere else), plus the stack's own extra statements (replication, other principals).

    AWS keeps one registry policy per registry and region (`PutRegistryPolicy` replaces it), so every statement the
    registry needs is merged here rather than written by several resources.
    """
    resources = sorted(repository_arn(partition, region, account, p) for p in prefixes)
    statements = (
        _grants(partition, "FirstPullThroughCache", FIRST_PULL_ACTIONS, account_ids, organization_id, resources)
        if resources
        else []
    )
    return {"Version": VERSION, "Statement": [*statements, *extra_statements]}


class PolicyTooLarge(ValueError):
    """A merged policy over its quota: the message says by how much and what to do."""


def registry_policy_text(document: Document) -> str:
    """The registry policy as ECR stores it, without spaces (RegistryPolicyText counts every character), refused
    past its 10,240 characters with what to do instead."""
    text = json.dumps(document, separators=(",", ":"))
    if len(text) > REGISTRY_POLICY_MAX:
        statements = document.get("Statement") or []
        raise PolicyTooLarge(
            f"the registry policy would be {len(text)} characters with its {len(statements)} statements; ECR allows "
            f"{REGISTRY_POLICY_MAX} (RegistryPolicyText in botocore's model). Grant the caches that do not fit in the "
            "upstream repositories' own repository policies instead (ECR user guide, pull-through-cache-private: "
            "the owner grants through its registry or repository policies), mirror one upstream prefix per cache "
            "stack rather than many, or move some upstream repositories to another registry"
        )
    return text


def cached_repository_policy(partition: str, account_ids: Iterable[str], organization_id: str | None) -> Document:
    """Repository policy that creation templates put on cached repositories, so the same principals can pull."""
    return {
        "Version": VERSION,
        "Statement": _grants(partition, "PullCachedImages", PULL_ACTIONS, account_ids, organization_id),
    }
