"""Every resource the program registers, as the AWS API call that creates it, checked the way AWS checks it.

A green mock run proves only what our model of AWS knows, so this module asks AWS's own model: each
registration becomes the request the provider sends (`CreatePullThroughCacheRule`,
`CreateRepositoryCreationTemplate`, `CreateSecret`, `CreateRole`, `PutRolePolicy`, `CreatePolicy`,
`CreateKey`, `CreateAlias`, `PutRegistryPolicy`, `PutRegistryScanningConfiguration`, ...), validated
against botocore's service model (required members, enums, lengths, list sizes, ranges, patterns), then
against the quotas and rules AWS documents outside the model. Values known only after apply are skipped,
never guessed; names Pulumi generates are checked at the longest length they can take.

`ptc preview` runs this as a phase of its own; a finding there is an error (exit 2). A finding names the
resource, the field, AWS's rule and the fix, and never shows a secret or sensitive value.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from ecr_pull_through_cache import catalog, iam
from ecr_pull_through_cache import tags as tag_rules

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's sentinel for a value known only after apply (`pulumi.runtime.rpc.UNKNOWN`)."""
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"

AUTONAME_SUFFIX = 7
"""pulumi-aws auto-names a resource `<resource name>-<7 random characters>`."""
NAME_PREFIX_SUFFIX = 26
"""`name_prefix` appends a 26-character unique id (the AWS provider's `id.PrefixedUniqueId`)."""

# AWS's limits, one definition each (their sources are cited where they are defined): tags per resource,
# managed-policy and inline-policies-per-role sizes, the GovCloud regions of KMS_DSSE, IAM's size count.
MAX_TAGS = tag_rules.MAX_TAGS
MANAGED_POLICY_MAX = iam.MANAGED_POLICY_MAX
INLINE_POLICIES_PER_ROLE_MAX = iam.INLINE_POLICIES_PER_ROLE_MAX
ROLE_TRUST_POLICY_MAX = 2048
"""Role trust policy length, the default quota (same page; adjustable to 4,096 on request)."""
RULES_PER_REGISTRY = 50
"""Pull through cache rules per registry per region (ECR service quotas, not adjustable)."""
GOVCLOUD_REGIONS = catalog.GOVCLOUD_REGIONS
DEFAULT_SECRET_KEYS = ("alias/aws/secretsmanager",)


class Resource(Protocol):
    """What the checks read of a registration (`ptc.mock_engine.Registration` has it)."""

    urn: str
    type: str
    name: str

    @property
    def properties(self) -> dict[str, Any]: ...

    @property
    def property_dependencies(self) -> dict[str, list[str]]: ...


@dataclass(frozen=True)
class Finding:
    """One request AWS would refuse."""

    resource: str
    """`<type token> '<name>'`."""
    operation: str
    """The AWS API call, `ecr:CreatePullThroughCacheRule`."""
    field: str
    """The request member (`ecrRepositoryPrefix`, `Tags[3].Key`), or the property for a quota."""
    rule: str
    """AWS's rule, with its source."""
    fix: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.operation} {self.field}: {self.rule}; {self.fix}"

    def to_json(self) -> dict[str, str]:
        return {
            "resource": self.resource,
            "operation": self.operation,
            "field": self.field,
            "rule": self.rule,
            "fix": self.fix,
        }


@dataclass
class Call:
    """One AWS request a resource turns into."""

    service: str
    operation: str
    params: dict[str, Any]
    secret_fields: set[str] = field(default_factory=set)
    """Request members whose values are Pulumi secrets: never shown."""


# --------------------------------------------------------------------------------------------
# Reading the engine's wire format
# --------------------------------------------------------------------------------------------


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN_VALUE = _Unknown()


def _plain(value: Any, secret: list[bool]) -> Any:
    """Wire values as plain Python: secrets unwrapped (and remembered), unknowns as `UNKNOWN_VALUE`."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            secret.append(True)
            return _plain(value.get("value"), secret)
        if SIG_KEY in value:
            return UNKNOWN_VALUE if "value" not in value else _plain(value.get("value"), secret)
        return {k: _plain(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, secret) for v in value]
    if value == UNKNOWN:
        return UNKNOWN_VALUE
    return value


class Props:
    """The inputs of one resource, with which top-level properties are secret."""

    def __init__(self, raw: Mapping[str, Any]):
        self.values: dict[str, Any] = {}
        self.secret: set[str] = set()
        for key, value in raw.items():
            flags: list[bool] = []
            self.values[key] = _plain(value, flags)
            if flags:
                self.secret.add(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def known(value: Any) -> bool:
    if value is UNKNOWN_VALUE:
        return False
    if isinstance(value, dict):
        return all(known(v) for v in value.values())
    if isinstance(value, list):
        return all(known(v) for v in value)
    return True


def _drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None and v != [] and v != {}}


def _tags(value: Any, key: str = "Key", val: str = "Value") -> Any:
    if value is UNKNOWN_VALUE:
        return UNKNOWN_VALUE
    if not isinstance(value, Mapping) or not value:
        return None
    return [{key: k, val: v} for k, v in value.items()]


def _physical_name(props: Props, name: str, *, prefix_key: str | None = "namePrefix") -> Any:
    """The name AWS receives: given, from a prefix (at its longest), or Pulumi's auto-name."""
    given = props.get("name")
    if given is not None:
        return given
    if prefix_key and props.get(prefix_key) is not None:
        prefix = props.get(prefix_key)
        return UNKNOWN_VALUE if prefix is UNKNOWN_VALUE else f"{prefix}{'x' * NAME_PREFIX_SUFFIX}"
    return f"{name}-{'x' * AUTONAME_SUFFIX}"


# --------------------------------------------------------------------------------------------
# Resource -> AWS request
# --------------------------------------------------------------------------------------------


def _secret(p: Props, name: str) -> list[Call]:
    return [
        Call(
            "secretsmanager",
            "CreateSecret",
            _drop_none(
                {
                    "Name": _physical_name(p, name),
                    "Description": p.get("description"),
                    "KmsKeyId": p.get("kmsKeyId"),
                    "Tags": _tags(p.get("tags")),
                }
            ),
            secret_fields=p.secret,
        )
    ]


def _secret_version(p: Props, name: str) -> list[Call]:
    return [
        Call(
            "secretsmanager",
            "PutSecretValue",
            _drop_none(
                {
                    "SecretId": p.get("secretId"),
                    "SecretString": p.get("secretString"),
                }
            ),
            secret_fields={"SecretString", *(k[0].upper() + k[1:] for k in p.secret)},
        )
    ]


def _role(p: Props, name: str) -> list[Call]:
    return [
        Call(
            "iam",
            "CreateRole",
            _drop_none(
                {
                    "RoleName": _physical_name(p, name),
                    "Path": p.get("path"),
                    "AssumeRolePolicyDocument": p.get("assumeRolePolicy"),
                    "Description": p.get("description"),
                    "PermissionsBoundary": p.get("permissionsBoundary"),
                    "MaxSessionDuration": p.get("maxSessionDuration"),
                    "Tags": _tags(p.get("tags")),
                }
            ),
        )
    ]


def _role_policy(p: Props, name: str) -> list[Call]:
    return [
        Call(
            "iam",
            "PutRolePolicy",
            _drop_none(
                {
                    "RoleName": p.get("role"),
                    "PolicyName": _physical_name(p, name),
                    "PolicyDocument": p.get("policy"),
                }
            ),
        )
    ]


def _policy(p: Props, name: str) -> list[Call]:
    return [
        Call(
            "iam",
            "CreatePolicy",
            _drop_none(
                {
                    "PolicyName": _physical_name(p, name),
                    "Path": p.get("path"),
                    "PolicyDocument": p.get("policy"),
                    "Description": p.get("description"),
                    "Tags": _tags(p.get("tags")),
                }
            ),
        )
    ]


def _key(p: Props, name: str) -> list[Call]:
    calls = [
        Call(
            "kms",
            "CreateKey",
            _drop_none(
                {
                    "Policy": p.get("policy"),
                    "Description": p.get("description"),
                    "KeyUsage": p.get("keyUsage"),
                    "KeySpec": p.get("customerMasterKeySpec"),
                    "Tags": _tags(p.get("tags"), "TagKey", "TagValue"),
                }
            ),
        )
    ]
    window = p.get("deletionWindowInDays")
    if window is not None:
        calls.append(Call("kms", "ScheduleKeyDeletion", {"KeyId": UNKNOWN_VALUE, "PendingWindowInDays": window}))
    return calls


def _alias(p: Props, name: str) -> list[Call]:
    return [
        Call(
            "kms",
            "CreateAlias",
            _drop_none({"AliasName": _physical_name(p, name), "TargetKeyId": p.get("targetKeyId")}),
        )
    ]


def _rule(p: Props, name: str) -> list[Call]:
    return [
        Call(
            "ecr",
            "CreatePullThroughCacheRule",
            _drop_none(
                {
                    "ecrRepositoryPrefix": p.get("ecrRepositoryPrefix"),
                    "upstreamRegistryUrl": p.get("upstreamRegistryUrl"),
                    "credentialArn": p.get("credentialArn"),
                    "customRoleArn": p.get("customRoleArn"),
                    "upstreamRepositoryPrefix": p.get("upstreamRepositoryPrefix"),
                }
            ),
        )
    ]


def _template(p: Props, name: str) -> list[Call]:
    encryption = p.get("encryptionConfigurations")
    first = encryption[0] if isinstance(encryption, list) and encryption else None
    filters = p.get("imageTagMutabilityExclusionFilters")
    return [
        Call(
            "ecr",
            "CreateRepositoryCreationTemplate",
            _drop_none(
                {
                    "prefix": p.get("prefix"),
                    "description": p.get("description"),
                    "encryptionConfiguration": _drop_none(
                        {"encryptionType": first.get("encryptionType"), "kmsKey": first.get("kmsKey")}
                    )
                    if isinstance(first, dict)
                    else first,
                    "resourceTags": _tags(p.get("resourceTags")),
                    "imageTagMutability": p.get("imageTagMutability"),
                    "imageTagMutabilityExclusionFilters": [
                        _drop_none({"filterType": f.get("filterType"), "filter": f.get("filter")})
                        if isinstance(f, dict)
                        else f
                        for f in filters
                    ]
                    if isinstance(filters, list)
                    else filters,
                    "repositoryPolicy": p.get("repositoryPolicy"),
                    "lifecyclePolicy": p.get("lifecyclePolicy"),
                    "appliedFor": p.get("appliedFors"),
                    "customRoleArn": p.get("customRoleArn"),
                }
            ),
        )
    ]


def _scanning(p: Props, name: str) -> list[Call]:
    rules = p.get("rules")
    if isinstance(rules, list):
        rules = [
            _drop_none(
                {
                    "scanFrequency": r.get("scanFrequency"),
                    "repositoryFilters": [
                        _drop_none({"filter": f.get("filter"), "filterType": f.get("filterType")})
                        if isinstance(f, dict)
                        else f
                        for f in r.get("repositoryFilters") or []
                    ]
                    if isinstance(r.get("repositoryFilters"), list)
                    else r.get("repositoryFilters"),
                }
            )
            if isinstance(r, dict)
            else r
            for r in rules
        ]
    return [
        Call("ecr", "PutRegistryScanningConfiguration", _drop_none({"scanType": p.get("scanType"), "rules": rules}))
    ]


def _registry_policy(p: Props, name: str) -> list[Call]:
    return [Call("ecr", "PutRegistryPolicy", _drop_none({"policyText": p.get("policy")}))]


SECRET = "aws:secretsmanager/secret:Secret"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"

REQUESTS: dict[str, Callable[[Props, str], list[Call]]] = {
    SECRET: _secret,
    "aws:secretsmanager/secretVersion:SecretVersion": _secret_version,
    ROLE: _role,
    ROLE_POLICY: _role_policy,
    POLICY: _policy,
    "aws:kms/key:Key": _key,
    "aws:kms/alias:Alias": _alias,
    RULE: _rule,
    TEMPLATE: _template,
    "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration": _scanning,
    "aws:ecr/registryPolicy:RegistryPolicy": _registry_policy,
}
"""Every AWS resource type the components register. A type missing here is reported, not passed over."""
NO_REQUEST = frozenset(
    {
        "random:index/randomId:RandomId",
        "pulumi:providers:aws",
        "pulumi:providers:random",
        "gitlab:index/groupAccessToken:GroupAccessToken",
        "gitlab:index/groupDeployToken:GroupDeployToken",
    }
)
"""Resources that are no AWS request (GitLab's tokens: their inputs are checked against pulumi-gitlab's documented
formats by `gitlab_findings`, their privilege by the security pack)."""


def requests(resource: Resource) -> list[Call]:
    """The AWS requests that create `resource` (empty for components and resources with no AWS call)."""
    build = REQUESTS.get(resource.type)
    if build is None:
        return []
    props = Props(resource.properties)
    calls = build(props, resource.name)
    secrets = [json.dumps(props.values[k], default=repr) for k in props.secret if known(props.values[k])]
    for call in calls:  # a request member that carries any secret input is never shown
        for member, value in call.params.items():
            text = json.dumps(value, default=repr)
            if any(s.strip('"') and s.strip('"') in text for s in secrets):
                call.secret_fields.add(member)
    return calls


# --------------------------------------------------------------------------------------------
# botocore's model
# --------------------------------------------------------------------------------------------


@cache
def _model(service: str) -> dict[str, Any]:
    """botocore's model of `service`, read straight from its data file (the model `botocore.session` loads, at a
    tenth of the cost) once per process.

    There is no cache on disk: an earlier one under ~/.cache kept the shapes of each operation, and saved about
    20 ms of a preview that takes 700 ms (3 %, below the 10 % a layer must buy; benchmarks/RESULTS.md), while
    asking to be verified against the model it copied. botocore's file is the authority, read every time.
    """
    import gzip
    import os

    import botocore

    root = os.path.join(os.path.dirname(botocore.__file__), "data", service)
    api_version = max(os.listdir(root))
    with gzip.open(os.path.join(root, api_version, "service-2.json.gz")) as handle:
        document: dict[str, Any] = json.load(handle)
    return document


@cache
def _service(service: str) -> Any:
    """botocore's own model classes (`botocore.model.ServiceModel`) over the service's data file: shapes, members,
    constraints and sensitivity as botocore reads them, with no session to build."""
    from botocore.model import ServiceModel

    return ServiceModel(_model(service), service_name=service)


@cache
def _input_shape(service: str, operation: str) -> Any:
    """The input shape of `operation` (a `botocore.model.StructureShape`)."""
    return _service(service).operation_model(operation).input_shape


@cache
def _pattern(pattern: str) -> Any:
    """botocore's `pattern` compiled by `regex`, which reads the Java-style classes AWS's models use (`\\p{L}`,
    POSIX classes) that Python's `re` refuses. An earlier matcher used `re` wherever it agreed with `regex`, to save
    the ~20 ms import: 1 % of the 50-upstream preview in an interleaved A/B, so removed (benchmarks/LAYERS.md)."""
    import regex

    return regex.compile(pattern)


def _shown(value: Any, secret: bool) -> str:
    if secret:
        return "(a secret value)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _range(low: int | None, high: int | None) -> str:
    return f"{low or 0} to {high}" if high is not None else f"at least {low}"


def _check(shape: Any, value: Any, path: str, secret: bool, out: list[tuple[str, str, str]]) -> None:
    """Append (field, rule, fix) for each constraint of `shape` that `value` breaks; unknown values pass."""
    if value is UNKNOWN_VALUE or value is None:
        return
    meta = shape.metadata
    secret = secret or bool(meta.get("sensitive"))
    kind = shape.type_name
    where = f"{shape.name} in botocore's model"
    if kind == "structure":
        if not isinstance(value, Mapping):
            out.append((path, f"must be an object ({where})", "give an object"))
            return
        for member in shape.required_members:
            if member not in value:
                out.append((f"{path}.{member}".lstrip("."), f"is required ({where})", f"set {member}"))
        for member, sub in shape.members.items():
            if member in value:
                _check(sub, value[member], f"{path}.{member}".lstrip("."), secret, out)
        return
    if kind == "list":
        if not isinstance(value, list):
            out.append((path, f"must be a list ({where})", "give a list"))
            return
        low, high = meta.get("min"), meta.get("max")
        if low is not None and len(value) < low or high is not None and len(value) > high:
            fix = f"keep it to {high}" if high is not None and len(value) > high else f"give at least {low}"
            out.append((path, f"has {len(value)} entries; AWS allows {_range(low, high)} ({where})", fix))
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}[{index}]", secret, out)
        return
    if kind == "string":
        if not isinstance(value, str):
            out.append((path, f"must be text, not {type(value).__name__} ({where})", "give text"))
            return
        low, high = meta.get("min"), meta.get("max")
        if low is not None and len(value) < low or high is not None and len(value) > high:
            fix = (
                f"shorten it to {high} characters"
                if high is not None and len(value) > high
                else f"give at least {low} characters"
            )
            out.append((path, f"is {len(value)} characters; AWS allows {_range(low, high)} ({where})", fix))
        enum = meta.get("enum") or getattr(shape, "enum", None)
        if enum and value not in enum:
            out.append(
                (
                    path,
                    f"{_shown(value, secret)} is not one of {', '.join(enum)} ({where})",
                    f"use one of {', '.join(enum)}",
                )
            )
        pattern = meta.get("pattern")
        if pattern and _pattern(pattern).fullmatch(value) is None:
            out.append(
                (path, f"{_shown(value, secret)} does not match {pattern} ({where})", "change it to match the pattern")
            )
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append((path, f"must be a number ({where})", "give a whole number"))
            return
        low, high = meta.get("min"), meta.get("max")
        if low is not None and value < low or high is not None and value > high:
            out.append((path, f"is {value}; AWS allows {low} to {high} ({where})", f"use {low} to {high}"))


def model_findings(resource: Resource, call: Call) -> list[Finding]:
    shape = _input_shape(call.service, call.operation)
    found: list[tuple[str, str, str]] = []
    for member in shape.required_members:
        if member not in call.params:
            found.append(
                (member, f"is required ({call.operation} in botocore's {call.service} model)", f"set {member}")
            )
    for member, sub in shape.members.items():
        if member in call.params:
            _check(sub, call.params[member], member, member in call.secret_fields, found)
    return [Finding(label(resource), f"{call.service}:{call.operation}", f, rule, fix) for f, rule, fix in found]


# --------------------------------------------------------------------------------------------
# Rules outside the model
# --------------------------------------------------------------------------------------------


policy_size = iam.policy_text_size


def label(resource: Resource) -> str:
    return f"{resource.type} '{resource.name}'"


def _tag_findings(what: str, op: str, params: dict[str, Any]) -> list[Finding]:
    """At most 50 tags, none under AWS's reserved `aws:` prefix (IAM's `Tags` and ECR templates' `resourceTags`)."""
    found = []
    for key in ("Tags", "resourceTags"):
        tags = params.get(key)
        if isinstance(tags, list) and len(tags) > MAX_TAGS:
            found.append(
                Finding(
                    what,
                    op,
                    key,
                    f"has {len(tags)} tags; AWS allows {MAX_TAGS} per resource",
                    f"keep the stack's tags (plus the project's own) to {MAX_TAGS}",
                )
            )
        if isinstance(tags, list):
            for index, tag in enumerate(tags):
                name = tag.get("Key", tag.get("TagKey")) if isinstance(tag, dict) else None
                if isinstance(name, str) and name.lower().startswith("aws:"):
                    found.append(
                        Finding(
                            what,
                            op,
                            f"{key}[{index}]",
                            "tag keys starting with 'aws:' are reserved by "
                            'AWS (IAM user guide, "Tagging IAM resources")',
                            "rename the tag",
                        )
                    )
    return found


def _quota_findings(resource: Resource, call: Call, region: str | None) -> list[Finding]:
    found = []
    what = label(resource)
    op = f"{call.service}:{call.operation}"
    text = call.params.get("repositoryPolicy")
    if call.operation == "CreateRepositoryCreationTemplate" and isinstance(text, str):
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        for fault in iam.repository_policy_faults(document):
            rule, _, fix = fault.partition("; ")
            found.append(Finding(what, op, "repositoryPolicy", rule, fix))
    found.extend(_tag_findings(what, op, call.params))
    document = call.params.get("PolicyDocument")
    if call.operation == "CreatePolicy" and isinstance(document, str) and policy_size(document) > MANAGED_POLICY_MAX:
        found.append(
            Finding(
                what,
                op,
                "PolicyDocument",
                f"is {policy_size(document)} characters without white space; "
                f"IAM allows {MANAGED_POLICY_MAX} per managed policy (IAM and AWS STS quotas)",
                "split the statements across several managed policies",
            )
        )
    trust = call.params.get("AssumeRolePolicyDocument")
    if isinstance(trust, str) and policy_size(trust) > ROLE_TRUST_POLICY_MAX:
        found.append(
            Finding(
                what,
                op,
                "AssumeRolePolicyDocument",
                f"is {policy_size(trust)} characters; IAM allows "
                f"{ROLE_TRUST_POLICY_MAX} per role trust policy by default (IAM and AWS STS quotas)",
                "trust fewer principals",
            )
        )
    if call.operation == "CreateRepositoryCreationTemplate":
        encryption = call.params.get("encryptionConfiguration")
        if (
            isinstance(encryption, dict)
            and encryption.get("encryptionType") == "KMS_DSSE"
            and region
            and region not in GOVCLOUD_REGIONS
        ):
            found.append(
                Finding(
                    what,
                    op,
                    "encryptionConfiguration.encryptionType",
                    f"KMS_DSSE exists only in the AWS GovCloud (US) regions, not in {region} (ECR user "
                    'guide, "Encryption at rest")',
                    "use KMS",
                )
            )
    if call.operation == "CreateSecret" and str(call.params.get("Name", "")).startswith("ecr-pullthroughcache/"):
        kms_key = call.params.get("KmsKeyId")
        if (
            isinstance(kms_key, str)
            and kms_key
            and kms_key not in DEFAULT_SECRET_KEYS
            and not kms_key.endswith(":alias/aws/secretsmanager")
        ):
            found.append(
                Finding(
                    what,
                    op,
                    "KmsKeyId",
                    "ECR reads credentials secrets through "
                    "AWSServiceRoleForECRPullThroughCache, which has no KMS permission, so the secret "
                    "must use the default aws/secretsmanager key (ECR user guide, storing upstream "
                    "credentials)",
                    "remove the KMS key from the secret",
                )
            )
    return found


def _stack_findings(
    resources: list[Resource], calls: dict[str, list[Call]], account: str | None, region: str | None
) -> list[Finding]:
    """Rules over several resources: inline policies per role, rules per registry, a rule's own registry."""
    found = []
    by_urn = {r.urn: r for r in resources}
    inline: dict[str, list[tuple[Resource, str]]] = defaultdict(list)
    rules = []
    for resource in resources:
        for call in calls.get(resource.urn, []):
            if call.operation == "PutRolePolicy" and isinstance(call.params.get("PolicyDocument"), str):
                roles = resource.property_dependencies.get("role") or [str(call.params.get("RoleName"))]
                for role in roles:
                    inline[role].append((resource, call.params["PolicyDocument"]))
            if call.operation == "CreatePullThroughCacheRule":
                rules.append((resource, call))
    for role, documents in inline.items():
        size = sum(policy_size(d) for _, d in documents)
        if size > INLINE_POLICIES_PER_ROLE_MAX:
            owner = by_urn.get(role)
            found.append(
                Finding(
                    label(owner) if owner else f"role {role}",
                    "iam:PutRolePolicy",
                    "PolicyDocument",
                    f"the role's {len(documents)} inline policies are {size} characters together; IAM "
                    f"allows {INLINE_POLICIES_PER_ROLE_MAX} per role (IAM and AWS STS quotas)",
                    "move statements to a managed policy",
                )
            )
    if len(rules) > RULES_PER_REGISTRY:
        found.append(
            Finding(
                label(rules[-1][0]),
                "ecr:CreatePullThroughCacheRule",
                "ecrRepositoryPrefix",
                f"the stack creates {len(rules)} rules; ECR allows {RULES_PER_REGISTRY} per registry and "
                "region (not adjustable)",
                "split the upstreams across regions or accounts",
            )
        )
    if account and region:
        own = f"{account}.dkr.ecr.{region}."
        for resource, call in rules:
            url = call.params.get("upstreamRegistryUrl")
            if isinstance(url, str) and url.startswith(own):
                found.append(
                    Finding(
                        label(resource),
                        "ecr:CreatePullThroughCacheRule",
                        "upstreamRegistryUrl",
                        f"{url} is this stack's own registry",
                        "mirror another account's or region's",
                    )
                )
    return found


GITLAB_MODULES = {
    "gitlab:index/groupAccessToken:GroupAccessToken": "group_access_token",
    "gitlab:index/groupDeployToken:GroupDeployToken": "group_deploy_token",
    "gitlab:index/projectAccessToken:ProjectAccessToken": "project_access_token",
    "gitlab:index/projectDeployToken:ProjectDeployToken": "project_deploy_token",
}
"""GitLab resources whose inputs the provider's Check holds to documented formats."""
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)


@cache
def gitlab_formats(module: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Each input of a pulumi-gitlab resource with a documented format, read from the installed SDK's own
    docstrings (`:param ... scopes: ... Valid values are: ...`, `YYYY-MM-DD format`, `RFC3339 format`): property
    (camelCase) -> ("enum", values) | ("date", ()) | ("rfc3339", ()). The file is read, not imported: importing
    `pulumi_gitlab` loads its ~300 modules."""
    import importlib.util

    spec = importlib.util.find_spec("pulumi_gitlab")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / f"{module}.py"
    if not path.is_file():
        return {}
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, text in re.findall(r":param [^\]]*\]+ (\w+): (.*)", path.read_text(encoding="utf-8")):
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        if camel in found:
            continue  # the args class comes first; the state class repeats it
        if "Valid values are:" in text:
            values = re.findall(r"`([^`]+)`", text.split("Valid values are:", 1)[1].split(". ", 1)[0])
            found[camel] = ("enum", tuple(values))
        elif "YYYY-MM-DD" in text:
            found[camel] = ("date", ())
        elif "RFC3339" in text and "created" not in name:
            found[camel] = ("rfc3339", ())
    return found


def gitlab_findings(resource: Resource) -> list[Finding]:
    """What pulumi-gitlab's Check refuses of a token resource's inputs (values not known yet are skipped)."""
    found = []
    props = Props(resource.properties)  # unknowns and secrets as every other check reads them
    for prop, (rule, values) in gitlab_formats(GITLAB_MODULES[resource.type]).items():
        value = props.get(prop)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, str) or not known(item):
                continue
            if rule == "enum" and item not in values:
                problem, fix = f"{item!r} is not one of {', '.join(values)}", "use one of the documented values"
            elif rule == "date" and not _DATE.fullmatch(item):
                problem, fix = f"{item!r} is not a date in YYYY-MM-DD format", "write the date as 2027-01-04"
            elif rule == "rfc3339" and not _RFC3339.fullmatch(item):
                problem, fix = f"{item!r} is not a time in RFC3339 format", "write the time as 2027-01-04T00:00:00Z"
            else:
                continue
            found.append(
                Finding(
                    label(resource),
                    f"gitlab:{resource.type.rsplit(':', 1)[1]}",
                    prop,
                    f"{problem} (pulumi-gitlab's documented format)",
                    fix,
                )
            )
    return found


COMPONENT_TYPE_PREFIX = "ecr-pull-through-cache:"


def from_component(urn: str) -> bool:
    """Whether a resource is a child (at any depth) of one of this project's components: a URN's type part holds
    the parent types, `$`-separated (Pulumi's "Resource URNs": `urn:pulumi:stack::project::parent$type::name`)."""
    parts = urn.split("::")
    return len(parts) >= 4 and any(t.startswith(COMPONENT_TYPE_PREFIX) for t in parts[2].split("$")[:-1])


def unmodelled(resources: Iterable[Resource]) -> list[str]:
    """The AWS types among `resources` whose requests are not modelled here, so not checked offline (sorted)."""
    return sorted(
        {r.type for r in resources if r.type.startswith("aws:") and r.type not in REQUESTS and r.type not in NO_REQUEST}
    )


def check(resources: Iterable[Resource], *, account: str | None = None, region: str | None = None) -> list[Finding]:
    """Every request AWS would refuse among the resources' create calls, and every quota they would break."""
    resources = list(resources)
    findings: list[Finding] = []
    calls: dict[str, list[Call]] = {}
    for resource in resources:
        if resource.type in GITLAB_MODULES:
            findings.extend(gitlab_findings(resource))
            continue
        if resource.type not in REQUESTS:
            # A gap in the model is ours to close when one of this project's components emits the type; a user's own
            # resources beside them are not refused for it (`unmodelled` lists them, and the preview says so).
            if resource.type.startswith("aws:") and resource.type not in NO_REQUEST and from_component(resource.urn):
                findings.append(
                    Finding(
                        label(resource),
                        "?",
                        "",
                        "this type has no AWS request model here",
                        "add it to ptc.aws_api.REQUESTS before the components emit it",
                    )
                )
            continue
        calls[resource.urn] = requests(resource)
        for call in calls[resource.urn]:
            findings.extend(model_findings(resource, call))
            findings.extend(_quota_findings(resource, call, region))
    findings.extend(_stack_findings(resources, calls, account, region))
    return findings


def describe(findings: list[Finding]) -> str:
    plural = "request" if len(findings) == 1 else "requests"
    lines = "\n".join(f"  - {f}" for f in findings)
    return f"AWS would refuse {len(findings)} {plural} of this stack; nothing was created.\n{lines}"


def as_json(findings: list[Finding]) -> str:
    return json.dumps([f.to_json() for f in findings])
