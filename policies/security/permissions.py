"""Cache permissions are scoped to their prefixes: no `ecr:*`, no create/import on `*`."""

import json
import re
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

from ptc_policy_support.hardening import declare
from pulumi_policy import ReportViolation, ResourceValidationArgs

from facts import CACHE_ACTIONS, CACHE_REPOSITORY_ARN, TEMPLATE, account_list
from support import Unknowns, as_list, get, has, known_indexed, label, policy_document, shown

POLICY_PROPERTIES = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
    "aws:ecr/registryPolicy:RegistryPolicy": "policy",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "policy",
    TEMPLATE: "repositoryPolicy",
    # aws-native: CloudFormation's resources, properties in camelCase (AWS::IAM::ManagedPolicy PolicyDocument, ...)
    "aws-native:iam:Policy": "policyDocument",
    "aws-native:iam:ManagedPolicy": "policyDocument",
    "aws-native:iam:RolePolicy": "policyDocument",
    "aws-native:iam:UserPolicy": "policyDocument",
    "aws-native:iam:GroupPolicy": "policyDocument",
    "aws-native:ecr:RegistryPolicy": "policyText",
    "aws-native:ecr:Repository": "repositoryPolicyText",
    "aws-native:ecr:RepositoryCreationTemplate": "repositoryPolicy",
}
INLINE_POLICIES = {
    "aws:iam/role:Role": ("inlinePolicies", "name", "policy"),
    "aws-native:iam:Role": ("policies", "policyName", "policyDocument"),
    "aws-native:iam:User": ("policies", "policyName", "policyDocument"),
    "aws-native:iam:Group": ("policies", "policyName", "policyDocument"),
}
"""Resources that hold their inline policies as a list: (list property, name key, document key)."""
REPOSITORY_SCOPED = {
    "aws:ecr/repositoryPolicy:RepositoryPolicy",
    TEMPLATE,
    "aws-native:ecr:Repository",
    "aws-native:ecr:RepositoryCreationTemplate",
}
"""Resource-based policies of one repository: statements have no Resource of their own."""
REGISTRY_POLICIES = {"aws:ecr/registryPolicy:RegistryPolicy", "aws-native:ecr:RegistryPolicy"}
REPLICATION_ACTIONS = {"ecr:createrepository", "ecr:replicateimage"}
"""What a registry policy grants a source registry for cross-account replication: AWS's own example grants
ecr:CreateRepository and ecr:ReplicateImage on arn:aws:ecr:<region>:<destination account>:repository/* (ECR user
guide, "Private registry policy examples": replication), since replicated repositories keep their source names.
Judged as replication, not as cache access: who may replicate is cache-principals-allowed's question."""


UNSEEN_ACTIONS = ("ecr:QqqxJ", "ecr:Vw")
"""Two made-up ECR action names with no letter in common: a pattern that matches both matches every ECR action,
present and future (`ecr:*`, `ecr:**`, `ecr:?*`, `e*:*`, `*`), as IAM matches actions (case-insensitive, `*` and
`?` wildcards: IAM User Guide, "IAM JSON policy elements: Action")."""


def every_ecr_action(pattern: str) -> bool:
    return all(fnmatchcase(unseen.lower(), pattern.lower()) for unseen in UNSEEN_ACTIONS)


MANAGED_POLICIES = Path(__file__).with_name("aws_managed_policies.json")
"""AWS managed policies' statements that reach ECR or Secrets Manager, by policy name: moto's copy of AWS's documents
(refreshed from iam:GetPolicyVersion by its maintainers), kept to what this policy judges by
tools/aws_managed_policies.py, which tests/test_aws_managed_policies.py holds to moto's data."""
MANAGED_ARN = re.compile(r"arn:aws[a-z-]*:iam::aws:policy/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]+)", re.ASCII)
ATTACHMENTS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/role:Role": "managedPolicyArns",
    "aws:iam/user:User": "managedPolicyArns",
    "aws:iam/group:Group": "managedPolicyArns",
    "aws-native:iam:Role": "managedPolicyArns",
    "aws-native:iam:User": "managedPolicyArns",
    "aws-native:iam:Group": "managedPolicyArns",
}


@cache
def managed_policies() -> dict[str, list[dict]]:
    return json.loads(MANAGED_POLICIES.read_text(encoding="utf-8"))


def attached_managed(args: ResourceValidationArgs) -> list[tuple[str, list[dict]]]:
    """The AWS managed policies a resource attaches by ARN, with their statements that reach ECR or Secrets Manager
    (none for a policy that reaches neither, or one newer than the pack's copy)."""
    key = ATTACHMENTS.get(args.resource_type)
    if key is None:
        return []
    found = []
    for arn in as_list(get(args.props, key)):
        match = MANAGED_ARN.fullmatch(arn) if isinstance(arn, str) else None
        statements = managed_policies().get(match.group("name")) if match else None
        if statements:
            found.append((match.group("name"), statements))
    return found


def documents(args: ResourceValidationArgs) -> list[tuple[str, object]]:
    if args.resource_type in INLINE_POLICIES:
        where, name, document = INLINE_POLICIES[args.resource_type]
        return [
            (f"inline policy '{shown(get(p, name))}'", get(p, document))
            for p in as_list(get(args.props, where))
            if hasattr(p, "keys")
        ]
    key = POLICY_PROPERTIES.get(args.resource_type)
    return [(key, get(args.props, key))] if key else []


UPSTREAM_READ_ACTIONS = {
    "ecr:batchgetimage",
    "ecr:getdownloadurlforlayer",
    "ecr:batchimportupstreamimage",
    "ecr:getimagecopystatus",
    "ecr:batchchecklayeravailability",
}
"""What the role of an ECR-to-ECR cache does in the upstream registry: AWS's role policy for a private upstream
allows ecr:BatchImportUpstreamImage with the pull actions on the upstream's repositories, `repository/*` when the
whole registry is mirrored (ECR user guide, pull-through-cache-private: upstream_repository_prefix ROOT). It pulls
and imports from there; it creates nothing and pushes nothing."""
UPSTREAM_PULL = {"ecr:batchgetimage", "ecr:getdownloadurlforlayer", "ecr:batchimportupstreamimage"}
"""AWS's shape pulls and imports together: an import alone on a whole registry is not it."""
REGISTRY_REPOSITORIES = re.compile(r"arn:aws[a-z0-9-]*:ecr:[a-z0-9-]+:(\d{12}):repository/\*", re.ASCII)


def is_upstream_read(actions: list[str], resources: list[object], own_accounts: list[str]) -> bool:
    """A pull from a whole upstream registry: the upstream-read actions, pull and import among them, on exactly one
    registry's `repository/*` (not `*`), and, where the pack knows the stack's accounts (rule-secret-location's
    accountIds), not the stack's own registry."""
    named = {a.lower() for a in actions}
    if not UPSTREAM_PULL <= named <= UPSTREAM_READ_ACTIONS:
        return False
    matches = [REGISTRY_REPOSITORIES.fullmatch(r) if isinstance(r, str) else None for r in resources]
    return bool(matches) and all(m is not None and m.group(1) not in own_accounts for m in matches)


def is_replication(actions: list[str]) -> bool:
    """Only the replication actions, ecr:ReplicateImage among them (no wildcard reaches the import)."""
    named = {a.lower() for a in actions}
    return "ecr:replicateimage" in named and named <= REPLICATION_ACTIONS


SECRET_READS = ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue")
UNSEEN_ENVIRONMENT_SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:ecr-pullthroughcache/qqqxj/vw-AbCdEf"
"""The credentials secret of an environment no one named (any partition's region and account would do): a Resource
that matches it reads every environment's upstream tokens."""


def secret_read_fault(statement, actions: list[str]) -> str | None:
    """Identity policies that read every environment's upstream tokens. No one needs them: ECR reads a rule's secret
    through its service-linked role, AWSServiceRoleForECRPullThroughCache (ECR User Guide, "Using service-linked
    roles for Amazon ECR"), not through a policy of the stack."""
    not_actions = get(statement, "NotAction")
    if not_actions is not None:  # everything but a list
        excluded = [a for a in as_list(not_actions) if isinstance(a, str)]
        reads = [r for r in SECRET_READS if not any(fnmatchcase(r.lower(), a.lower()) for a in excluded)]
    else:
        reads = [r for r in SECRET_READS if any(fnmatchcase(r.lower(), a.lower()) for a in actions)]
    if not reads:
        return None
    if get(statement, "NotResource") is not None:
        wide = ["everything but a list (NotResource)"]
    else:
        wide = [
            r
            for r in as_list(get(statement, "Resource"))
            if isinstance(r, str) and fnmatchcase(UNSEEN_ENVIRONMENT_SECRET.lower(), r.lower())
        ]
    if not wide:
        return None
    return (
        f"grants {', '.join(reads)} on {', '.join(map(shown, wide))}, which reads the upstream tokens of every "
        "environment (ecr-pullthroughcache/*); ECR reads them through its service-linked role, so grant it to no "
        "one, or scope it to one environment's ecr-pullthroughcache/<env>/... secrets"
    )


def statement_faults(
    statement, repository_scoped: bool, registry_policy: bool = False, own_accounts: list[str] | None = None
) -> list[str]:
    if not hasattr(statement, "keys"):
        return ["is not an object; write the statement as one or remove it"]
    faults = []
    if repository_scoped:
        # ECR refuses a repository policy whose statements name resources ("Invalid repository policy provided"):
        # the policy applies to the repository it is set on (ECR user guide, "Private repository policies").
        faults += [
            f"has a {key} element, which ECR refuses in a repository policy; remove it"
            for key in ("Resource", "NotResource")
            if has(statement, key)
        ]
    if get(statement, "Effect") != "Allow":
        return faults
    if get(statement, "NotAction") is not None:
        faults.append("allows everything but a list of actions (NotAction); list the actions it grants instead")
    actions = [a for a in as_list(get(statement, "Action")) if isinstance(a, str)]
    if any(every_ecr_action(a) for a in actions):
        faults.append(
            f"grants {', '.join(a for a in actions if every_ecr_action(a))}, every ECR action; grant the ECR "
            "actions it needs by name"
        )
    if not repository_scoped and not registry_policy:
        read = secret_read_fault(statement, actions)
        if read:
            faults.append(read)
    if registry_policy and is_replication(actions):
        return faults
    if not repository_scoped and is_upstream_read(actions, as_list(get(statement, "Resource")), own_accounts or []):
        return faults
    granted = [c for c in CACHE_ACTIONS if any(fnmatchcase(c.lower(), a.lower()) for a in actions)]
    if granted and get(statement, "NotResource") is not None:
        faults.append(
            f"grants {', '.join(granted)} on everything but a list (NotResource); scope it to repository/<prefix>/*"
        )
    resources = as_list(get(statement, "Resource"))
    if granted and not (repository_scoped and not resources):
        loose = [r for r in resources if not (isinstance(r, str) and CACHE_REPOSITORY_ARN.fullmatch(r))]
        if loose or not resources:
            faults.append(
                f"grants {', '.join(granted)} on {', '.join(map(str, loose)) or 'no resource'}; scope it "
                "to arn:<partition>:ecr:<region>:<account>:repository/<prefix>/* for each cache prefix"
            )
    return faults


def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    what = label(args.resource_type, args.name)
    own_accounts = [str(a) for a in args.get_config().get("accountIds") or []]
    unknowns = Unknowns()
    with unknowns.guard(what):
        for policy, statements in attached_managed(args):
            for statement in statements:
                sid = statement.get("Sid")
                name = f"its statement '{sid}'" if sid else "a statement"
                for fault in statement_faults(statement, False, False, own_accounts):
                    report(
                        f"{what} attaches the AWS managed policy {policy}: {name} {fault}. An AWS managed policy "
                        "cannot be changed: attach a policy of your own that does so instead."
                    )
    with unknowns.guard(what):
        for where, text in documents(args):
            if text is None:
                continue
            with unknowns.guard(what):
                document = policy_document(text)
                if document is None:
                    report(
                        f"The {where} of {what} is not a JSON policy document, so its cache permissions cannot "
                        "be checked."
                    )
                    continue
                for index, statement in known_indexed(get(document, "Statement"), unknowns, what):
                    with unknowns.guard(what):  # one unknown statement defers only itself
                        sid = get(statement, "Sid") if hasattr(statement, "keys") else None
                        name = f"statement '{sid}'" if isinstance(sid, str) and sid else f"statement {index}"
                        faults = statement_faults(
                            statement,
                            args.resource_type in REPOSITORY_SCOPED,
                            args.resource_type in REGISTRY_POLICIES,
                            own_accounts,
                        )
                        for fault in faults:
                            report(f"The {where} of {what}: {name} {fault}.")
    unknowns.finish()


POLICY = declare(
    "cache-permissions-scoped",
    "IAM, registry and repository policies (aws and aws-native) never grant ecr:*, never read every "
    "environment's upstream tokens (secretsmanager:GetSecretValue on ecr-pullthroughcache/*), and grant "
    "ecr:CreateRepository or "
    "ecr:BatchImportUpstreamImage only on repository/<prefix>/* (a registry policy's replication grant, "
    "ecr:CreateRepository with ecr:ReplicateImage, may name repository/*, and so may an ECR-to-ECR role's pull "
    "from a whole upstream registry: ecr:BatchImportUpstreamImage with the pull actions, nothing else).",
    validate,
    settings={
        "accountIds": account_list(
            "The accounts this stack deploys to: a pull from a whole registry's repository/* is "
            "then accepted only from another account's registry."
        ),
    },
)
