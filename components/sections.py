"""The config's mappings besides the upstreams, as typed models: the repository creation template, the GitLab token
the stack creates, KMS, scanning, IAM placement and the consumers (docs/config.md).

Each field's type refuses with the project's message (see `model.py`); each model's `settle` checks the rules across
its fields and fills in the defaults that depend on them. The validation context carries what the stack knows
already: `stack` (where it deploys, a `StackContext`, or None inside a component) and the fields validated before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo

from . import catalog, iam, lifecycle, naming
from . import tags as tag_rules
from .model import (
    Choice,
    Flag,
    Loc,
    SchemaOf,
    Section,
    Text,
    TextList,
    Whole,
    Written,
    check,
    choice_fault,
    refuse,
    show,
    unknown_key_faults,
)

TAG_MUTABILITY = catalog.TAG_MUTABILITY
ENCRYPTION_TYPES = ("AES256", "KMS", "KMS_DSSE")
APPLIED_FOR = ("PULL_THROUGH_CACHE", "REPLICATION", "CREATE_ON_PUSH")
SCAN_FREQUENCIES = {"BASIC": ("SCAN_ON_PUSH",), "ENHANCED": ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")}
RESERVED_TAGS = tag_rules.PROJECT_TAGS
EXCLUSION_FILTER = re.compile(r"[0-9a-zA-Z._*-]{1,128}", re.ASCII)
MAX_EXCLUSION_FILTERS = 5
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}", re.ASCII)
KMS_KEY_ARN = re.compile(r"arn:aws[a-z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-z0-9-]+", re.ASCII)
ROLE_ARN = re.compile(r"arn:aws[a-z0-9-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}", re.ASCII)
POLICY_ARN = re.compile(r"arn:aws[a-z0-9-]*:iam::([0-9]{12}|aws):policy/[\w+=,.@/-]{1,512}", re.ASCII)
IAM_PATH = re.compile(r"(/[A-Za-z0-9.,+@=_-]+)*/", re.ASCII)
"""botocore's IAM `policyPathType`, stricter than the roles' `pathType`; one path serves both, so the stricter."""
DEFAULT_TOKEN_DAYS = 90
DEFAULT_ROTATE_BEFORE_DAYS = 14


# --------------------------------------------------------------------------------------------
# Field types of this config
# --------------------------------------------------------------------------------------------


def account_text(value: Any) -> Any:
    """A 12-digit integer as the account id it was written as; any other value unchanged.

    `pulumi config set --path` stores an account id without a leading zero as an integer
    (sdk/go/common/resource/config/object.go, coerce)."""
    if isinstance(value, int) and not isinstance(value, bool) and 10**11 <= value < 10**12:
        return str(value)
    return value


def _account_ids(value: Any) -> Any:
    return [account_text(v) for v in value] if isinstance(value, list) else value


def _account_faults(accounts: tuple[str, ...]) -> list[str]:
    return [f"'{a}' is not a 12-digit AWS account id" for a in accounts if not catalog.ACCOUNT_ID.fullmatch(a)]


ACCOUNT_ID = {
    "anyOf": [
        {"type": "string", "pattern": "^[0-9]{12}$"},
        {"type": "integer", "minimum": 10**11, "maximum": 10**12 - 1},
    ]
}
AccountIds = Annotated[
    TextList, check(_account_faults), BeforeValidator(_account_ids), Written.of(type="array", items=ACCOUNT_ID)
]
"""12-digit AWS account ids (a 12-digit integer is taken as its digits)."""


def _tags(value: Any) -> dict[str, str]:
    """Tags valid for every service the stack tags (see `components/tags.py`), named per key."""
    if not isinstance(value, Mapping):
        refuse(value, f"must be a mapping, not {show(value)}")
    faults: list[tuple[Loc, str]] = []
    result = {}
    for key, item in value.items():
        found = tag_rules.key_faults(key)
        if not found and key in RESERVED_TAGS:
            found = [f"is set by the project ({', '.join(RESERVED_TAGS)}); remove it"]
        if not found:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                found = [f"tag values must be text, not {show(item)}"]
            else:
                found = tag_rules.value_faults(str(item))
        faults.extend(((str(key),), f) for f in found)
        if not found:
            result[key] = str(item)
    problem = tag_rules.count_fault(value)
    if problem:
        faults.append(((), problem))
    if faults:
        refuse(value, *faults)
    return result


Tags = Annotated[
    dict[str, str],
    BeforeValidator(_tags),
    Written.of(type="object", additionalProperties={"type": ["string", "number"]}, maxProperties=tag_rules.MAX_TAGS),
]


def _pattern(pattern: re.Pattern[str], fault: str) -> Callable[[str], str | None]:
    return lambda value: None if pattern.fullmatch(value) else fault.format(value=value, shown=show(value))


RoleArn = Annotated[
    Text, check(_pattern(ROLE_ARN, "{shown} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"))
]
PolicyArn = Annotated[
    Text, check(_pattern(POLICY_ARN, "{shown} is not a managed policy ARN (arn:aws:iam::<account>:policy/<name>)"))
]
KmsKeyArn = Annotated[
    Text, check(_pattern(KMS_KEY_ARN, "'{value}' is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)"))
]
OrganizationId = Annotated[
    Text, check(_pattern(ORGANIZATION_ID, "'{value}' is not an AWS Organizations id (o-xxxxxxxxxx)"))
]


# --------------------------------------------------------------------------------------------
# The repository creation template
# --------------------------------------------------------------------------------------------


def _filter_faults(filters: tuple[str, ...]) -> list[str]:
    faults = []
    if len(filters) > MAX_EXCLUSION_FILTERS:
        faults.append(f"has {len(filters)} filters; ECR allows at most {MAX_EXCLUSION_FILTERS}")
    for flt in filters:
        if not EXCLUSION_FILTER.fullmatch(flt) or flt.count("*") > 2:
            faults.append(f"'{flt}' must be 1-128 letters, digits or '._-*' with at most two '*' wildcards")
    return faults


def _applied_for_faults(items: tuple[str, ...]) -> list[str]:
    faults = [f"'{item}' is not one of {', '.join(APPLIED_FOR)}" for item in items if item not in APPLIED_FOR]
    if "PULL_THROUGH_CACHE" not in items:
        faults.append("must include PULL_THROUGH_CACHE, or cached repositories get no template")
    return faults


def _lifecycle_text(value: Any) -> str:
    if isinstance(value, Mapping):
        value = lifecycle.canonical_json(value)
    if not isinstance(value, str):
        refuse(value, f"must be a JSON document (text or mapping), not {show(value)}")
    problems = lifecycle.lifecycle_policy_faults(value)
    if problems:
        refuse(value, *problems)
    return value


def _repository_policy(value: Any) -> str:
    """A policy given as JSON text or a mapping, as canonical JSON text ECR takes as a repository policy."""
    document = value
    if isinstance(value, str):
        try:
            document = json.loads(value)
        except json.JSONDecodeError as exc:
            refuse(value, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    if not isinstance(document, Mapping) or not isinstance(document.get("Statement"), (list, Mapping)):
        refuse(value, "must be a policy document: a JSON object with a 'Statement' list")
    text = lifecycle.canonical_json(document)
    limit = iam.REPOSITORY_POLICY_MAX
    if len(text) > limit:
        refuse(
            value,
            f"is {len(text)} characters; ECR allows at most {limit} (RepositoryPolicyText in botocore's ECR model)",
        )
    faults = iam.repository_policy_faults(document)
    if faults:
        refuse(value, *faults)
    return text


class TemplateSettings(Section):
    """The repository creation template (and so every cached repository) of one prefix.

    Settled, `lifecycle_policy` is the policy applied (given, or generated from the expiry days and image count)
    and `encryption` the one applied (KMS when the stack has a key, else AES256, unless given)."""

    image_tag_mutability: Annotated[str, Choice(*TAG_MUTABILITY)] = Field(
        "MUTABLE", description="Whether tags of cached images may be overwritten."
    )
    image_tag_mutability_exclusion_filters: Annotated[TextList, check(_filter_faults)] = Field(
        (),
        description=(
            "Tag filters exempt from the mutability setting; only with a *_WITH_EXCLUSION setting, 1 to 5 of them."
        ),
    )
    untagged_expiry_days: Annotated[int, Whole(1, 3650)] | None = Field(
        None, description="Days after which untagged images expire (the generated lifecycle policy; 14 when not given)."
    )
    max_image_count: Annotated[int, Whole(1, 10000)] | None = Field(
        None, description="Images kept per repository (the generated lifecycle policy; 200 when not given)."
    )
    lifecycle_policy: Annotated[str, BeforeValidator(_lifecycle_text), Written.of(type=["string", "object"])] | None = (
        Field(None, description="A lifecycle policy (JSON text or mapping) in place of the generated one.")
    )
    encryption: Annotated[str, Choice(*ENCRYPTION_TYPES)] | None = Field(
        None,
        description=(
            "Encryption of cached repositories (default KMS when the stack has a key, else AES256; KMS_DSSE only in "
            "the AWS GovCloud (US) regions)."
        ),
    )
    tag_repositories: Flag = Field(True, description="Whether cached repositories carry the stack's tags.")
    applied_for: Annotated[TextList, check(_applied_for_faults)] = Field(
        ("PULL_THROUGH_CACHE",),
        description="Where the template applies (must include PULL_THROUGH_CACHE; REPLICATION, CREATE_ON_PUSH).",
    )
    repository_policy: (
        Annotated[str, BeforeValidator(_repository_policy), Written.of(type=["string", "object"])] | None
    ) = Field(
        None,
        description=(
            "The template's own repository policy (canonical JSON); the registry adds its consumers' statements."
        ),
    )
    resource_tags: Tags = Field(
        default_factory=dict, description="Tags of cached repositories besides the stack's (with tag_repositories)."
    )
    custom_role_arn: RoleArn | None = Field(
        None,
        description=(
            "A role managed elsewhere that ECR assumes for this template, instead of the one the stack creates."
        ),
    )

    def settle(self, context: dict[str, Any], fault: Callable[[Loc, str], None]) -> TemplateSettings:
        mutability, filters = self.image_tag_mutability, self.image_tag_mutability_exclusion_filters
        with_exclusion = mutability.endswith("_WITH_EXCLUSION")
        if not self.failed("image_tag_mutability") and not self.failed("image_tag_mutability_exclusion_filters"):
            if filters and not with_exclusion:
                fault(
                    ("image_tag_mutability_exclusion_filters",),
                    f"only applies with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION, not {mutability}; "
                    "remove the filters or change image_tag_mutability",
                )
            if with_exclusion and not filters:
                fault(
                    ("image_tag_mutability_exclusion_filters",),
                    f"is required with {mutability}: list 1 to {MAX_EXCLUSION_FILTERS} tag filters such as 'latest'",
                )
        if self.given("lifecycle_policy") and (self.given("untagged_expiry_days") or self.given("max_image_count")):
            fault(
                ("lifecycle_policy",),
                "replaces the generated policy; drop untagged_expiry_days and max_image_count, or drop it",
            )
        policy = self.lifecycle_policy or lifecycle.default_lifecycle_policy(
            self.untagged_expiry_days or lifecycle.DEFAULT_UNTAGGED_EXPIRY_DAYS,
            self.max_image_count or lifecycle.DEFAULT_MAX_IMAGE_COUNT,
        )
        kms = context.get("kms_enabled", getattr(context.get("kms"), "enabled", False))
        return self.model_copy(
            update={
                "lifecycle_policy": policy,
                "encryption": self.encryption or ("KMS" if kms else "AES256"),
                "applied_for": tuple(dict.fromkeys(self.applied_for)),
            }
        )


TEMPLATE_KEYS = TemplateSettings.keys()


def _template_override(value: Any) -> dict[str, Any]:
    """An upstream's template: the keys of the stack's template it overrides (validated merged with it)."""
    if not isinstance(value, Mapping):
        refuse(value, f"must be a mapping, not {show(value)}")
    faults, _ = unknown_key_faults(value, TEMPLATE_KEYS)
    if faults:
        refuse(value, *faults)
    return dict(value)


TemplateOverride = Annotated[
    dict[str, Any],
    BeforeValidator(_template_override),
    SchemaOf(TemplateSettings, "Template override"),
]


# --------------------------------------------------------------------------------------------
# The GitLab token the stack creates
# --------------------------------------------------------------------------------------------

# GitLab's own rule for a namespace path segment (lib/gitlab/path_regex.rb: NAMESPACE_FORMAT_REGEX, i.e.
# PATH_REGEX_STR `[a-zA-Z0-9_.][a-zA-Z0-9_-.]*` ending in `[a-zA-Z0-9_-]`, or one `[a-zA-Z0-9_]`, and never ending
# in .git or .atom); a full path is at most 21 segments (20 ancestors) and 255 characters (Namespace::URL_MAX_LENGTH).
GITLAB_SEGMENT = re.compile(
    r"(?:[a-zA-Z0-9_.][a-zA-Z0-9_.-]*[a-zA-Z0-9_-]|[a-zA-Z0-9_])(?<!\.git)(?<!\.atom)", re.ASCII
)
GITLAB_MAX_DEPTH = 21
GITLAB_MAX_PATH = 255
GROUP_REQUIRED = "is required: the GitLab group's id or full path (acme/platform)"


def gitlab_group_fault(group: str) -> str | None:
    """Why `group` is neither a GitLab group id nor a full group path GitLab could hold, or None."""
    text = group.strip()
    if text.isascii() and text.isdigit():
        return None if int(text) > 0 else "is not a group id (ids start at 1)"
    segments = text.split("/")
    bad = [s for s in segments if not GITLAB_SEGMENT.fullmatch(s)]
    if bad or len(segments) > GITLAB_MAX_DEPTH or len(text) > GITLAB_MAX_PATH:
        shown = show(bad[0]) if bad else f"{len(segments)} levels, {len(text)} characters"
        return (
            f"is not a GitLab group id or full path ({shown}): a numeric id, or the path as in the group's URL "
            "(acme/platform), each part letters, digits, '_', '-' and '.', not starting with '-' nor ending in '.', "
            f"'.git' or '.atom', at most {GITLAB_MAX_DEPTH} levels and {GITLAB_MAX_PATH} characters"
        )
    return None


def _group(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        refuse(value, GROUP_REQUIRED)
    problem = gitlab_group_fault(value)
    if problem:
        refuse(value, problem)
    return value.strip()


def _projects(value: Any) -> str:
    if value == "internal":
        refuse(
            value,
            "is 'internal', but GitLab.com (the only GitLab this kind caches) has no internal projects; use "
            "'private' (the token gets the Reporter role) or 'public'",
        )
    if value not in catalog.GITLAB_PROJECT_VISIBILITIES:
        refuse(value, choice_fault(value, catalog.GITLAB_PROJECT_VISIBILITIES))
    return str(value)


class ManagedToken(Section):
    """A least-privilege GitLab token the stack creates: read_registry only, the least role that pulls from the
    group's projects (`access_level`), expiring and rotated."""

    group: Annotated[str, BeforeValidator(_group), Written.of(type=["string", "integer"])] = Field(
        description="The GitLab group's numeric id or full path (acme/platform)."
    )
    type: Annotated[str, Choice(*catalog.GITLAB_MANAGED_TOKENS)] = Field(
        "group-access-token", description="The kind of token the stack creates."
    )
    expires_in_days: Annotated[int, Whole(1, catalog.GITLAB_MAX_TOKEN_DAYS)] = Field(
        DEFAULT_TOKEN_DAYS, description="Days the token lives (GitLab allows at most 365)."
    )
    rotate_before_days: Annotated[int, Whole(1, catalog.GITLAB_MAX_TOKEN_DAYS)] | None = Field(
        None,
        description=(
            "Days before expiry that a new token replaces it (14, or one day less than the expiry if that is shorter)."
        ),
    )
    projects: Annotated[str, BeforeValidator(_projects)] = Field(
        "private", description="Visibility of the group's projects: private needs the Reporter role, public ones Guest."
    )

    @property
    def rotation_days(self) -> int:
        """Days before expiry that a new token replaces it (settled: never None)."""
        return self.rotate_before_days or min(DEFAULT_ROTATE_BEFORE_DAYS, max(1, self.expires_in_days - 1))

    @property
    def access_level(self) -> str:
        return catalog.gitlab_pull_role(self.projects)

    def settle(self, context: dict[str, Any], fault: Callable[[Loc, str], None]) -> ManagedToken:
        if not self.given("group"):
            fault(("group",), GROUP_REQUIRED)
        days, rotate = self.expires_in_days, self.rotation_days
        if rotate >= days and not self.failed("rotate_before_days"):
            fault(
                ("rotate_before_days",),
                f"is {rotate} days but the token lives {days}; the rotation window must be shorter than the expiry",
            )
        return self.model_copy(update={"rotate_before_days": rotate})


TOKEN_KEYS = ManagedToken.keys()


# --------------------------------------------------------------------------------------------
# KMS, scanning, IAM placement, consumers
# --------------------------------------------------------------------------------------------


class KmsSettings(Section):
    """The key that encrypts the credentials secrets and (by default) the cached repositories."""

    create_key: Flag = Field(False, description="Create a key for the stack.")
    key_arn: KmsKeyArn | None = Field(
        None, description="An existing key of the stack's region, instead of one created."
    )
    deletion_window_days: Annotated[int, Whole(7, 30)] = Field(
        30, description="Days before a created key is deleted once the stack drops it."
    )

    @property
    def enabled(self) -> bool:
        return self.create_key or self.key_arn is not None

    def settle(self, context: dict[str, Any], fault: Callable[[Loc, str], None]) -> KmsSettings:
        if self.create_key and self.key_arn:
            fault(("key_arn",), "and create_key are both set; use one key: create it, or name an existing one")
        stack = context.get("stack")
        arn = naming.parse_arn(self.key_arn) if self.key_arn else None
        if arn is not None and stack is not None and arn.region != stack.region:
            fault(
                ("key_arn",),
                f"is in region {arn.region} but the stack deploys to {stack.region}; "
                "secrets and repositories need a key in their own region",
            )
        return self


def _frequency(value: Any, info: ValidationInfo) -> str:
    """A scan frequency the scan type validated before it offers (BASIC scans on push only)."""
    allowed = SCAN_FREQUENCIES.get((info.context or {}).get("scan_type", "BASIC"), SCAN_FREQUENCIES["BASIC"])
    if value not in allowed:
        refuse(value, choice_fault(value, allowed))
    return str(value)


class ScanningSettings(Section):
    """The registry's image scanning."""

    scan_type: Annotated[str, Choice(*SCAN_FREQUENCIES)] = Field(
        "BASIC", description="BASIC, or ENHANCED (Amazon Inspector)."
    )
    frequency: Annotated[
        str, BeforeValidator(_frequency), Field(json_schema_extra={"enum": list(SCAN_FREQUENCIES["ENHANCED"])})
    ] = Field("SCAN_ON_PUSH", description="SCAN_ON_PUSH, or CONTINUOUS_SCAN with ENHANCED.")


def _iam_path_fault(path: str) -> str | None:
    if IAM_PATH.fullmatch(path) and len(path) <= 512:
        return None
    return (
        f"{show(path)} must start and end with '/' with letters, digits and .,+@=_- between (IAM's policyPathType), "
        "for example '/platform/ptc/'"
    )


class IamSettings(Section):
    """Where the roles and policies the stack creates live, and the boundary its roles carry."""

    path: Annotated[Text, check(_iam_path_fault)] = Field(
        "/", description="The IAM path of every role and policy, such as /platform/ptc/."
    )
    permissions_boundary: PolicyArn | None = Field(
        None, description="A managed policy ARN set as the permissions boundary of every role."
    )


class ConsumerSettings(Section):
    """Other accounts (or the organization) whose pulls may create cached repositories."""

    account_ids: AccountIds = Field((), description="12-digit account ids whose principals may pull through the cache.")
    organization_id: OrganizationId | None = Field(
        None, description="An AWS Organizations id (o-...) whose accounts may pull through the cache."
    )

    def settle(self, context: dict[str, Any], fault: Callable[[Loc, str], None]) -> ConsumerSettings:
        if not self.account_ids and self.organization_id is None and not self.failed("account_ids"):
            fault(
                (),
                "needs account_ids, organization_id, or both; remove the key to keep the cache private to this account",
            )
        return self.model_copy(update={"account_ids": tuple(dict.fromkeys(self.account_ids))})
