"""Who a resource policy lets in: ECR registry, repository and template policies, role trust policies, secret
policies, KMS key policies and grants, in `aws` and `aws-native` types.

An Allow statement must name who: AWS accounts or IAM principals (from `allowedAccounts` when it is configured), AWS
services, or `"*"` only under a condition that limits it to an organization (`aws:PrincipalOrgID`,
`aws:PrincipalOrgPaths`) or to accounts (`aws:PrincipalAccount`, `aws:PrincipalArn`, `kms:CallerAccount`), read with
IAM's condition semantics (conditions.py). In a trust policy a `Federated` principal (OIDC) must be held to its
subjects by a `<provider>:sub` condition that names no stranger; a SAML provider of the account is the account's own.
`NotPrincipal` with Allow lets in everyone but a list. `Deny` statements only ever take access away and are never
flagged. What a statement grants is read from IAM's action tables (actions.py), `NotAction` and wildcards included.
"""

import re
from fnmatch import fnmatchcase

from ptc_policy_support.hardening import declare
from pulumi_policy import ReportViolation, ResourceValidationArgs

from actions import allowed as allowed_actions
from actions import summary
from conditions import ACCOUNT_ARN, ACCOUNT_ID, MATCHING, loose_operator, narrowed
from facts import TEMPLATE, account_list
from support import Unknowns, get, known_indexed, known_items, label, policy_document, shown


class Document:
    """Where a resource keeps a policy document, what it is called in messages, and whose actions it governs."""

    def __init__(self, noun: str, key: str, service: str, trust: bool = False) -> None:
        self.noun, self.key, self.service, self.trust = noun, key, service, trust


CREATED_REPOSITORIES = "repository policy of the repositories it creates"
DOCUMENTS = {
    "aws:ecr/registryPolicy:RegistryPolicy": Document("registry policy", "policy", "ecr"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": Document("repository policy", "policy", "ecr"),
    TEMPLATE: Document(CREATED_REPOSITORIES, "repositoryPolicy", "ecr"),
    "aws:iam/role:Role": Document("trust policy", "assumeRolePolicy", "sts", trust=True),
    "aws:secretsmanager/secret:Secret": Document("resource policy", "policy", "secretsmanager"),
    "aws:secretsmanager/secretPolicy:SecretPolicy": Document("resource policy", "policy", "secretsmanager"),
    "aws:kms/key:Key": Document("key policy", "policy", "kms"),
    "aws:kms/keyPolicy:KeyPolicy": Document("key policy", "policy", "kms"),
    # aws-native: CloudFormation's resources, properties in camelCase (AWS::ECR::RegistryPolicy PolicyText, ...)
    "aws-native:ecr:RegistryPolicy": Document("registry policy", "policyText", "ecr"),
    "aws-native:ecr:Repository": Document("repository policy", "repositoryPolicyText", "ecr"),
    "aws-native:ecr:RepositoryCreationTemplate": Document(CREATED_REPOSITORIES, "repositoryPolicy", "ecr"),
    "aws-native:iam:Role": Document("trust policy", "assumeRolePolicyDocument", "sts", trust=True),
    "aws-native:secretsmanager:ResourcePolicy": Document("resource policy", "resourcePolicy", "secretsmanager"),
    "aws-native:kms:Key": Document("key policy", "keyPolicy", "kms"),
}
"""Every resource-based policy of the services a cache lives on: ECR (who pulls, pushes, replicates), STS (who
becomes the cache's roles), Secrets Manager (who reads or replaces upstream tokens) and KMS (who decrypts)."""
GRANT = "aws:kms/grant:Grant"
GRANT_PRINCIPALS = ("granteePrincipal", "retiringPrincipal")
SAML_PROVIDER = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:saml-provider/.+", re.ASCII)
STRANGE_SUBJECTS = ("repo:qqqxj/vw:ref:refs/heads/main", "system:serviceaccount:qqqxj:vw", "qqqxj")
"""Made-up OIDC subjects (a GitHub repository, a Kubernetes service account, a bare id): a `sub` condition any of
them passes lets in subjects no one named."""


def granted(statement, service: str, unknowns: Unknowns | None = None, what: str = "") -> list[str]:
    """The service's actions the statement allows (each unknown action deferred on its own)."""
    unknowns = unknowns or Unknowns()
    actions = [a for a in known_items(get(statement, "Action"), unknowns, what) if isinstance(a, str)]
    not_actions = get(statement, "NotAction")
    if not_actions is not None:
        return allowed_actions(
            None, [a for a in known_items(not_actions, unknowns, what) if isinstance(a, str)], service
        )
    return allowed_actions(actions, None, service)


def principal_entries(statement, unknowns: Unknowns, what: str) -> list[tuple[str, object]] | str:
    """(kind, value) for each known principal of the statement, each unknown one deferred on its own; or a fault."""
    principal = get(statement, "Principal")
    if principal is None:
        return "names no Principal; name the accounts or roles it lets in"
    if isinstance(principal, str):
        return [("AWS", principal)]
    if not hasattr(principal, "items"):
        return f"has a Principal of an unreadable shape ({type(principal).__name__}); name accounts or roles"
    entries: list[tuple[str, object]] = []
    for kind in list(principal.keys()):
        with unknowns.guard(what):
            entries.extend((str(kind), v) for v in known_items(principal[kind], unknowns, what))
    return entries


def principal_faults(
    statement, allowed_accounts: set[str] | None, unknowns: Unknowns | None = None, what: str = "", trust: bool = False
) -> list[str]:
    if get(statement, "NotPrincipal") is not None:
        return ["lets in everyone but a list (NotPrincipal with Allow); name the principals instead"]
    entries = principal_entries(statement, unknowns or Unknowns(), what)
    if isinstance(entries, str):
        return [entries]
    faults = []
    for kind, value in entries:
        if kind == "Service":
            continue
        if kind == "Federated" and trust:
            fault = federated_fault(value, get(statement, "Condition"))
            if fault:
                faults.append(fault)
            continue
        if kind != "AWS":
            faults.append(f"lets in {kind} principals ({shown(value)}); name AWS accounts or roles")
            continue
        if value == "*":
            fault = star_fault(get(statement, "Condition"), allowed_accounts)
            if fault:
                faults.append(fault)
            continue
        fault = account_fault(value, allowed_accounts)
        if fault:
            faults.append(fault)
    return faults


def federated_fault(value, condition) -> str | None:
    """Why a federated principal of a trust policy lets in strangers: an OIDC provider whose `sub` is not held to
    named subjects (GitHub's "Configuring OpenID Connect in Amazon Web Services": "a condition that ... limits the
    subject (sub) ... otherwise any repository could assume the role"). A SAML provider ARN is the account's own."""
    if not isinstance(value, str):
        return f"lets in the federated principal {shown(value)}; name an OIDC or SAML provider of the account"
    if SAML_PROVIDER.fullmatch(value):
        return None
    provider = value.split(":oidc-provider/", 1)[-1].lower()
    subjects = []
    if hasattr(condition, "items"):
        for operator, keys in condition.items():
            base = operator.lower().removeprefix("foranyvalue:") if isinstance(operator, str) else ""
            if base not in MATCHING or not hasattr(keys, "items"):
                continue  # IfExists, ForAllValues and negations hold no one back (conditions.py)
            for key, values in keys.items():
                if isinstance(key, str) and key.lower() == f"{provider}:sub":
                    subjects.append([v for v in known_items(values, Unknowns(), "") if isinstance(v, str)])
    if not subjects:
        return (
            f"lets in every identity of {shown(value)}: no StringEquals or StringLike condition on {provider}:sub; "
            "name the subjects (for GitHub, repo:<org>/<repo>:ref:refs/heads/<branch>)"
        )
    if all(any(fnmatchcase(s, v) for v in values for s in STRANGE_SUBJECTS) for values in subjects):
        loose = ", ".join(v for values in subjects for v in values if any(fnmatchcase(s, v) for s in STRANGE_SUBJECTS))
        return (
            f"lets in identities of {shown(value)} no one named: its {provider}:sub condition ({shown(loose)}) "
            "matches any subject; name the repositories, branches or service accounts"
        )
    return None


def star_fault(condition, allowed_accounts: set[str] | None) -> str | None:
    """Why `"*"` under `condition` lets in strangers, or None when the condition narrows it enough."""
    limit = narrowed(condition)
    if limit.organization:
        return None
    if limit.accounts is not None:
        outside = sorted(limit.accounts - allowed_accounts) if allowed_accounts is not None else []
        if outside:
            allowed = ", ".join(sorted(allowed_accounts or ())) or "none"
            return (
                f"lets in account {', '.join(outside)} (through its aws:PrincipalAccount, aws:PrincipalArn or "
                f"kms:CallerAccount condition), which is not in allowedAccounts ({allowed}); remove it or add it to "
                "the policy's allowedAccounts"
            )
        return None
    loose = loose_operator(condition)
    if loose is not None:
        return (
            f'lets in every AWS principal ("*"): its {loose} condition is true for principals the key does '
            "not describe (IfExists and ForAllValues are true when the key is absent, as it is for a principal "
            "outside any organization; a negation lets in all but those named); use StringEquals (or "
            "ForAnyValue:StringLike for aws:PrincipalOrgPaths) with your organization or accounts"
        )
    return (
        'lets in every AWS principal ("*"); name the accounts or roles, or keep "*" with an '
        "aws:PrincipalOrgID (or aws:PrincipalOrgPaths) condition naming your organization, or an "
        "aws:PrincipalAccount condition naming your accounts"
    )


def account_fault(value, allowed_accounts: set[str] | None) -> str | None:
    """Why a named AWS principal may not come in: not an account or principal ARN, or outside allowedAccounts."""
    account = None
    if isinstance(value, str) and ACCOUNT_ID.fullmatch(value):
        account = value
    elif isinstance(value, str) and (match := ACCOUNT_ARN.fullmatch(value)):
        account = match.group("account")
    if account is None:
        return f"lets in '{shown(value)}', which is not an AWS account or IAM principal ARN; name accounts or roles"
    if allowed_accounts is not None and account not in allowed_accounts:
        return (
            f"lets in account {account}, which is not in allowedAccounts "
            f"({', '.join(sorted(allowed_accounts)) or 'none'}); remove it or add it to the policy's allowedAccounts"
        )
    return None


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    what = label(args.resource_type, args.name)
    configured = args.get_config().get("allowedAccounts")
    allowed = set(configured) if configured is not None else None
    if args.resource_type == GRANT:
        check_grant(args, what, allowed, report)
        return
    document_kind = DOCUMENTS.get(args.resource_type)
    if document_kind is None:
        return
    noun = document_kind.noun
    unknowns = Unknowns()
    with unknowns.guard(what):
        text = get(args.props, document_kind.key)
        if text is None:
            return
        document = policy_document(text)
        if document is None:
            report(
                f"The {noun} of {what} is not a JSON policy document, so who it lets in cannot be checked; "
                "give it valid policy JSON."
            )
            return
        for index, statement in known_indexed(get(document, "Statement"), unknowns, what):
            with unknowns.guard(what):  # one unknown statement or principal defers only itself
                check_statement(statement, index, document_kind, what, allowed, report, unknowns)
    unknowns.finish()


def check_grant(args: ResourceValidationArgs, what: str, allowed: set[str] | None, report: ReportViolation) -> None:
    """A KMS grant gives its grantee the grant's operations on the key: an account outside allowedAccounts may not
    be it (AWS KMS Developer Guide, "Grants in AWS KMS": a grantee principal in another account)."""
    unknowns = Unknowns()
    for key in GRANT_PRINCIPALS:
        with unknowns.guard(what):
            value = get(args.props, key)
            if value is None or (isinstance(value, str) and value.endswith(".amazonaws.com")):
                continue  # none, or an AWS service principal
            fault = account_fault(value, allowed)
            if fault:
                report(f"The KMS grant {what} names {shown(value)} as its {key} and {fault}.")
    unknowns.finish()


def check_statement(statement, index, document_kind: Document, what, allowed, report, unknowns: Unknowns) -> None:
    noun = document_kind.noun
    if not hasattr(statement, "get"):
        report(f"The {noun} of {what}: statement {index} is not an object; remove it or write a statement.")
        return
    if get(statement, "Effect") != "Allow":
        return
    actions = granted(statement, document_kind.service, unknowns, what)
    if not actions:
        return
    sid = get(statement, "Sid")
    name = f"statement '{sid}'" if isinstance(sid, str) and sid else f"statement {index}"
    for fault in principal_faults(statement, allowed, unknowns, what, trust=document_kind.trust):
        report(f"The {noun} of {what}: {name} allows {summary(actions)} and {fault}.")


POLICY = declare(
    "cache-principals-allowed",
    "Resource policies (ECR registry, repository and creation-template policies, role trust policies, "
    "secret policies, KMS key policies and grants; aws and aws-native) let in only named accounts or roles (from "
    'allowedAccounts when set), AWS services, OIDC identities held to named subjects, or "*" limited to an '
    "organization or accounts.",
    validate,
    settings={
        "allowedAccounts": account_list(
            "AWS accounts whose principals resource policies may let in (to the cache, its roles, "
            'secrets and keys). Default: any named account ("*" still needs an organization condition).'
        ),
    },
)
