"""Who a registry, repository or creation-template policy lets in to the cache.

A resource-based ECR policy that allows cache actions (creating and importing cached repositories, pulling
their images) must name who: AWS accounts or IAM principals (from `allowedAccounts` when it is configured),
AWS services, or `"*"` only under an `aws:PrincipalOrgID` / `aws:PrincipalOrgPaths` condition that names an
organization (IAM user guide, "AWS global condition context keys": with those keys a policy "can only be
accessed by principals in the organization"). `NotPrincipal` with Allow lets in everyone but a list. `Deny`
statements only ever take access away and are never flagged.
"""

import re
from fnmatch import fnmatchcase

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from conditions import loose_operator, narrowed
from facts import TEMPLATE
from hardening import guarded
from support import Unknowns, as_list, get, label, policy_document, shown

POLICY_PROPERTIES = {
    "aws:ecr/registryPolicy:RegistryPolicy": ("registry policy", "policy"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": ("repository policy", "policy"),
    TEMPLATE: ("repository policy of the repositories it creates", "repositoryPolicy"),
}
LET_IN_ACTIONS = (
    "ecr:BatchImportUpstreamImage",
    "ecr:CreateRepository",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
)
"""First pulls (create, import) and every pull: what a stranger must not get on a cache."""
POISON_ACTIONS = (
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:BatchDeleteImage",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
    "ecr:DeleteRepository",
    "ecr:PutImageTagMutability",
    "ecr:PutLifecyclePolicy",
    "ecr:ReplicateImage",
)
"""Pushes, deletes and policy changes (operations of botocore's ECR model), and `ecr:ReplicateImage`, the registry
permission by which another account writes images into this registry ("Granting registry permissions for cross
account replication", ECR User Guide): a stranger with any of them can replace what the cache serves."""
ACCOUNT_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::(?P<account>[0-9]{12}):.+", re.ASCII)
ACCOUNT_ID = re.compile(r"[0-9]{12}", re.ASCII)


def granted(statement) -> list[str]:
    actions = [a for a in as_list(get(statement, "Action")) if isinstance(a, str)]
    if get(statement, "NotAction") is not None:
        return list(LET_IN_ACTIONS)  # everything but a list: assume the cache actions are in it
    return [
        a
        for a in LET_IN_ACTIONS + POISON_ACTIONS
        if any(fnmatchcase(a.lower(), pattern.lower()) for pattern in actions)
    ]


def principal_faults(statement, allowed_accounts: set[str] | None) -> list[str]:
    if get(statement, "NotPrincipal") is not None:
        return ["lets in everyone but a list (NotPrincipal with Allow); name the principals instead"]
    principal = get(statement, "Principal")
    if principal is None:
        return ["names no Principal; name the accounts or roles it lets in"]
    entries: list[tuple[str, object]] = []
    if isinstance(principal, str):
        entries.append(("AWS", principal))
    elif hasattr(principal, "items"):
        for kind, values in principal.items():
            entries.extend((str(kind), v) for v in as_list(values))
    else:
        return [f"has a Principal of an unreadable shape ({type(principal).__name__}); name accounts or roles"]
    faults = []
    for kind, value in entries:
        if kind == "Service":
            continue
        if kind != "AWS":
            faults.append(f"lets in {kind} principals ({shown(value)}); name AWS accounts or roles")
            continue
        if value == "*":
            condition = get(statement, "Condition")
            limit = narrowed(condition)
            if limit.organization:
                continue
            if limit.accounts is not None:
                outside = sorted(limit.accounts - allowed_accounts) if allowed_accounts is not None else []
                if outside:
                    allowed = ", ".join(sorted(allowed_accounts or ())) or "none"
                    faults.append(
                        f"lets in account {', '.join(outside)} (through its aws:PrincipalAccount or aws:PrincipalArn "
                        f"condition), which is not in allowedAccounts ({allowed}); remove it or add it to the "
                        "policy's allowedAccounts"
                    )
                continue
            loose = loose_operator(condition)
            if loose is not None:
                faults.append(
                    f'lets in every AWS principal ("*"): its {loose} condition is true for principals the key does '
                    "not describe (IfExists and ForAllValues are true when the key is absent, as it is for a principal "
                    "outside any organization; a negation lets in all but those named); use StringEquals (or "
                    "ForAnyValue:StringLike for aws:PrincipalOrgPaths) with your organization or accounts"
                )
                continue
            faults.append(
                'lets in every AWS principal ("*"); name the accounts or roles, or keep "*" with an '
                "aws:PrincipalOrgID (or aws:PrincipalOrgPaths) condition naming your organization, or an "
                "aws:PrincipalAccount condition naming your accounts"
            )
            continue
        account = None
        if isinstance(value, str) and ACCOUNT_ID.fullmatch(value):
            account = value
        elif isinstance(value, str) and (match := ACCOUNT_ARN.fullmatch(value)):
            account = match.group("account")
        if account is None:
            faults.append(
                f"lets in '{shown(value)}', which is not an AWS account or IAM principal ARN; name accounts or roles"
            )
        elif allowed_accounts is not None and account not in allowed_accounts:
            faults.append(
                f"lets in account {account}, which is not in allowedAccounts "
                f"({', '.join(sorted(allowed_accounts)) or 'none'}); remove it or add it to the policy's "
                "allowedAccounts"
            )
    return faults


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    where = POLICY_PROPERTIES.get(args.resource_type)
    if where is None:
        return
    what = label(args.resource_type, args.name)
    noun, key = where
    configured = args.get_config().get("allowedAccounts")
    allowed = set(configured) if configured is not None else None
    unknowns = Unknowns()
    with unknowns.guard(what):
        text = get(args.props, key)
        if text is None:
            return
        document = policy_document(text)
        if document is None:
            report(
                f"The {noun} of {what} is not a JSON policy document, so who it lets in cannot be checked; "
                "give it valid policy JSON."
            )
            return
        for index, statement in enumerate(as_list(get(document, "Statement"))):
            if not hasattr(statement, "get"):
                report(f"The {noun} of {what}: statement {index} is not an object; remove it or write a statement.")
                continue
            if get(statement, "Effect") != "Allow":
                continue
            actions = granted(statement)
            if not actions:
                continue
            sid = get(statement, "Sid")
            name = f"statement '{sid}'" if isinstance(sid, str) and sid else f"statement {index}"
            for fault in principal_faults(statement, allowed):
                report(f"The {noun} of {what}: {name} allows {', '.join(actions)} and {fault}.")
    unknowns.finish()


POLICY = ResourceValidationPolicy(
    name="cache-principals-allowed",
    description="Registry, repository and creation-template policies let in to the cache only named accounts or "
    'roles (from allowedAccounts when set), AWS services, or "*" limited to an organization.',
    validate=guarded(validate, "cache-principals-allowed"),
    config_schema=PolicyConfigSchema(
        properties={
            "allowedAccounts": {
                "type": "array",
                "items": {"type": "string", "pattern": "^[0-9]{12}$"},
                "description": "AWS accounts whose principals ECR policies may let in to the cache. Default: any named "
                'account ("*" still needs an organization condition).',
            },
        }
    ),
)
