"""Stand-in for pulumi-aws: the resource types and functions this project's programs use, on the AWS API.

Every call goes through boto3 to the endpoint in AWS_ENDPOINT_URL (the Terraform provider under pulumi-aws reads
the same variable), which the tests point at `tests/standin/aws_server.py`: moto plus the ECR operations moto
lacks. So names, policy documents and quotas are refused by the API, as AWS would refuse them, not by this file.

What this file decides itself, as the real provider does before any call:
- Check: Terraform schema defaults and validations, `name` auto-naming (pulumi-aws provider/autonaming.go:
  `<resource name>-<7 hex>`, kept from the previous inputs), `tagsAll` = default tags merged with `tags`
  (pulumi-aws provider/tags.go, applyTags);
- Diff: `replace_on` lists each resource's ForceNew properties, from the Terraform provider's schema
  (hashicorp/terraform-provider-aws, the file named beside each class).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from importlib import metadata
from typing import Any

import boto3
import botocore.loaders
from botocore.exceptions import ClientError

from tests.standin.providers.protocol import Context, Failure, Provider, Resource, serve
from tests.standin.providers.values import UNKNOWN, integer, reveal

VERSION = json.loads(
    (metadata.distribution("pulumi-aws").locate_file("pulumi_aws/pulumi-plugin.json")).read_text()  # type: ignore[union-attr]
)["version"]


def region(ctx: Context, props: dict[str, Any] | None = None) -> str:
    chosen = (props or {}).get("region") or ctx.config.get("region") or os.environ.get("AWS_REGION")
    if not chosen:
        raise Failure("missing region: set aws:region (`pulumi config set aws:region us-east-2`) or AWS_REGION")
    return str(chosen)


def client(ctx: Context, service: str, props: dict[str, Any] | None = None) -> Any:
    key = f"{service}:{region(ctx, props)}"
    if key not in ctx.cache:
        ctx.cache[key] = boto3.client(service, region_name=region(ctx, props))
    return ctx.cache[key]


def call(what: str, action: Any, **kwargs: Any) -> Any:
    """One AWS call; an API error becomes the operation's error, worded as the Terraform provider words it."""
    try:
        return action(**{k: v for k, v in kwargs.items() if v is not None})
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise Failure(f"{what}: operation error: {error.get('Code')}: {error.get('Message')}") from None


def account(ctx: Context) -> str:
    if "account" not in ctx.cache:
        ctx.cache["account"] = client(ctx, "sts").get_caller_identity()["Account"]
    return str(ctx.cache["account"])


def partition(region_name: str) -> tuple[str, str]:
    """(partition, DNS suffix) of a region, from botocore's endpoint data."""
    data = botocore.loaders.create_loader().load_data("endpoints")
    for p in data["partitions"]:
        if region_name in p["regions"] or re.fullmatch(p["regionRegex"], region_name):
            return p["partition"], p["dnsSuffix"]
    return "aws", "amazonaws.com"


def tag_list(tags: dict[str, Any] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]] | None:
    return [{key: k, value: str(v)} for k, v in (tags or {}).items()] or None


def json_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value)


def missing(inputs: dict[str, Any], *names: str) -> list[tuple[str, str]]:
    return [(n, f'Missing required argument. The argument "{n}" is required.') for n in names if n not in inputs]


def one_of(inputs: dict[str, Any], name: str, allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    value = inputs.get(name)
    if value is None or value == UNKNOWN or value in allowed:
        return []
    return [(name, f"expected {name} to be one of {list(allowed)}, got {value}")]


def matches(inputs: dict[str, Any], name: str, pattern: str, low: int, high: int) -> list[tuple[str, str]]:
    value = inputs.get(name)
    if not isinstance(value, str) or value == UNKNOWN:
        return []
    if not low <= len(value) <= high:
        return [(name, f"expected length of {name} to be in the range ({low} - {high}), got {value}")]
    if not re.fullmatch(pattern, value):
        return [(name, f"invalid value for {name} (must match {pattern})")]
    return []


def json_document(inputs: dict[str, Any], name: str) -> list[tuple[str, str]]:
    value = reveal(inputs.get(name))
    if not isinstance(value, str) or value == UNKNOWN:
        return []
    try:
        json.loads(value)
    except ValueError as exc:
        return [(name, f'"{name}" contains an invalid JSON: {exc}')]
    return []


def unique_name(prefix: str) -> str:
    """Terraform's id.PrefixedUniqueId: the prefix, a UTC timestamp and a counter (26 characters after it)."""
    return (
        prefix
        + time.strftime("%Y%m%d%H%M%S", time.gmtime())
        + f"{int(time.time() * 100) % 100:02d}"
        + secrets.token_hex(4)
    )


def chosen_name(inputs: dict[str, Any]) -> str:
    return str(inputs.get("name") or unique_name(str(inputs.get("namePrefix") or "terraform-")))


# -- IAM --------------------------------------------------------------------------------------------------------


class Role(Resource):
    """internal/service/iam/role.go: name, name_prefix and path are ForceNew."""

    token = "aws:iam/role:Role"
    replace_on = frozenset({"name", "namePrefix", "path"})
    defaults = {"path": "/", "maxSessionDuration": 3600, "forceDetachPolicies": False}
    autoname = 64
    tags = True
    computed = ("arn", "uniqueId", "createDate", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "assumeRolePolicy") + json_document(inputs, "assumeRolePolicy")

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        iam = client(ctx, "iam")
        name = chosen_name(inputs)
        role = call(
            f"creating IAM Role ({name})",
            iam.create_role,
            RoleName=name,
            Path=inputs.get("path"),
            AssumeRolePolicyDocument=json_text(inputs["assumeRolePolicy"]),
            Description=inputs.get("description"),
            MaxSessionDuration=integer(inputs.get("maxSessionDuration")),
            PermissionsBoundary=inputs.get("permissionsBoundary"),
            Tags=tag_list(inputs.get("tagsAll")),
        )["Role"]
        return name, {
            "name": name,
            "arn": role["Arn"],
            "uniqueId": role["RoleId"],
            "createDate": role["CreateDate"].isoformat(),
        }

    def read(self, ctx: Context, id_: str, state: dict[str, Any]) -> dict[str, Any] | None:
        try:
            role = client(ctx, "iam").get_role(RoleName=id_)["Role"]
        except ClientError:
            return None
        return {**state, "arn": role["Arn"], "path": role["Path"]}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        iam = client(ctx, "iam")
        if olds.get("assumeRolePolicy") != news.get("assumeRolePolicy"):
            call(
                "updating IAM Role trust",
                iam.update_assume_role_policy,
                RoleName=id_,
                PolicyDocument=json_text(news["assumeRolePolicy"]),
            )
        if (olds.get("description"), olds.get("maxSessionDuration")) != (
            news.get("description"),
            news.get("maxSessionDuration"),
        ):
            call(
                "updating IAM Role",
                iam.update_role,
                RoleName=id_,
                Description=news.get("description") or "",
                MaxSessionDuration=integer(news.get("maxSessionDuration")),
            )
        if olds.get("permissionsBoundary") != news.get("permissionsBoundary"):
            if news.get("permissionsBoundary"):
                call(
                    "setting IAM Role boundary",
                    iam.put_role_permissions_boundary,
                    RoleName=id_,
                    PermissionsBoundary=news["permissionsBoundary"],
                )
            else:
                call("deleting IAM Role boundary", iam.delete_role_permissions_boundary, RoleName=id_)
        _retag(
            olds,
            news,
            lambda tags: iam.tag_role(RoleName=id_, Tags=tags),
            lambda keys: iam.untag_role(RoleName=id_, TagKeys=keys),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call(f"deleting IAM Role ({id_})", client(ctx, "iam").delete_role, RoleName=id_)


def _retag(olds: dict[str, Any], news: dict[str, Any], tag: Any, untag: Any) -> None:
    before, after = olds.get("tagsAll") or {}, news.get("tagsAll") or {}
    gone = [k for k in before if k not in after]
    changed = tag_list({k: v for k, v in after.items() if before.get(k) != v})
    if gone:
        call("untagging", untag, gone)
    if changed:
        call("tagging", tag, changed)


class RolePolicy(Resource):
    """internal/service/iam/role_policy.go: name, name_prefix and role are ForceNew."""

    token = "aws:iam/rolePolicy:RolePolicy"
    replace_on = frozenset({"name", "namePrefix", "role"})
    autoname = 128
    computed = ("id",)

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "role", "policy") + json_document(inputs, "policy")

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name, role = chosen_name(inputs), inputs["role"]
        call(
            f"putting IAM Role ({role}) Policy ({name})",
            client(ctx, "iam").put_role_policy,
            RoleName=role,
            PolicyName=name,
            PolicyDocument=json_text(inputs["policy"]),
        )
        return f"{role}:{name}", {"name": name}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        role, name = id_.split(":", 1)
        call(
            f"putting IAM Role ({role}) Policy ({name})",
            client(ctx, "iam").put_role_policy,
            RoleName=role,
            PolicyName=name,
            PolicyDocument=json_text(news["policy"]),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        role, name = id_.split(":", 1)
        call(f"deleting IAM Role Policy ({id_})", client(ctx, "iam").delete_role_policy, RoleName=role, PolicyName=name)


class Policy(Resource):
    """internal/service/iam/policy.go: name, name_prefix, path and description are ForceNew."""

    token = "aws:iam/policy:Policy"
    replace_on = frozenset({"name", "namePrefix", "path", "description"})
    defaults = {"path": "/"}
    autoname = 128
    tags = True
    computed = ("arn", "policyId", "attachmentCount", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "policy") + json_document(inputs, "policy")

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = chosen_name(inputs)
        policy = call(
            f"creating IAM Policy ({name})",
            client(ctx, "iam").create_policy,
            PolicyName=name,
            Path=inputs.get("path"),
            PolicyDocument=json_text(inputs["policy"]),
            Description=inputs.get("description"),
            Tags=tag_list(inputs.get("tagsAll")),
        )["Policy"]
        return policy["Arn"], {"name": name, "arn": policy["Arn"], "policyId": policy["PolicyId"], "attachmentCount": 0}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        iam = client(ctx, "iam")
        if olds.get("policy") != news.get("policy"):
            versions = iam.list_policy_versions(PolicyArn=id_)["Versions"]
            if len(versions) >= 5:  # IAM keeps five versions: the provider deletes the oldest non-default one
                oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
                call(
                    "deleting IAM Policy version",
                    iam.delete_policy_version,
                    PolicyArn=id_,
                    VersionId=oldest["VersionId"],
                )
            call(
                f"updating IAM Policy ({id_})",
                iam.create_policy_version,
                PolicyArn=id_,
                PolicyDocument=json_text(news["policy"]),
                SetAsDefault=True,
            )
        _retag(
            olds,
            news,
            lambda tags: iam.tag_policy(PolicyArn=id_, Tags=tags),
            lambda keys: iam.untag_policy(PolicyArn=id_, TagKeys=keys),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        iam = client(ctx, "iam")
        for version in iam.list_policy_versions(PolicyArn=id_)["Versions"]:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=id_, VersionId=version["VersionId"])
        call(f"deleting IAM Policy ({id_})", iam.delete_policy, PolicyArn=id_)


class RolePolicyAttachment(Resource):
    """internal/service/iam/role_policy_attachment.go: role and policy_arn are ForceNew."""

    token = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    replace_on = frozenset({"role", "policyArn"})

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "role", "policyArn")

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        call(
            "attaching IAM policy",
            client(ctx, "iam").attach_role_policy,
            RoleName=inputs["role"],
            PolicyArn=inputs["policyArn"],
        )
        return f"{inputs['role']}/{inputs['policyArn']}", {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call(
            "detaching IAM policy",
            client(ctx, "iam").detach_role_policy,
            RoleName=state["role"],
            PolicyArn=state["policyArn"],
        )


class RolePolicyAttachmentsExclusive(Resource):
    """internal/service/iam/role_policy_attachments_exclusive.go: role_name is ForceNew (RequiresReplace)."""

    token = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
    replace_on = frozenset({"roleName"})

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "roleName", "policyArns")

    def _sync(self, ctx: Context, role: str, wanted: list[str]) -> None:
        iam = client(ctx, "iam")
        attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
        for arn in sorted(attached - set(wanted)):
            call("detaching IAM policy", iam.detach_role_policy, RoleName=role, PolicyArn=arn)
        for arn in sorted(set(wanted) - attached):
            call(f"attaching IAM policy ({arn})", iam.attach_role_policy, RoleName=role, PolicyArn=arn)

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self._sync(ctx, inputs["roleName"], inputs.get("policyArns") or [])
        return inputs["roleName"], {}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        self._sync(ctx, id_, news.get("policyArns") or [])
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        """The Terraform resource leaves the attachments in place when it is destroyed."""


# -- KMS --------------------------------------------------------------------------------------------------------


class Key(Resource):
    """internal/service/kms/key.go: customer_master_key_spec, key_usage, custom_key_store_id and multi_region
    are ForceNew."""

    token = "aws:kms/key:Key"
    replace_on = frozenset({"customerMasterKeySpec", "keyUsage", "customKeyStoreId", "multiRegion"})
    defaults = {
        "keyUsage": "ENCRYPT_DECRYPT",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "isEnabled": True,
        "enableKeyRotation": False,
        "bypassPolicyLockoutSafetyCheck": False,
    }
    tags = True
    computed = ("arn", "keyId", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        window = inputs.get("deletionWindowInDays")
        faults = json_document(inputs, "policy")
        if window not in (None, UNKNOWN) and not 7 <= window <= 30:
            faults.append(
                ("deletionWindowInDays", f"expected deletion_window_in_days to be in the range (7 - 30), got {window}")
            )
        return faults

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kms = client(ctx, "kms")
        key = call(
            "creating KMS Key",
            kms.create_key,
            Description=inputs.get("description"),
            KeyUsage=inputs.get("keyUsage"),
            KeySpec=inputs.get("customerMasterKeySpec"),
            Policy=json_text(inputs.get("policy")),
            Tags=tag_list(inputs.get("tagsAll"), "TagKey", "TagValue"),
            BypassPolicyLockoutSafetyCheck=inputs.get("bypassPolicyLockoutSafetyCheck"),
        )["KeyMetadata"]
        if inputs.get("enableKeyRotation"):
            call("enabling KMS Key rotation", kms.enable_key_rotation, KeyId=key["KeyId"])
        policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        return key["KeyId"], {"arn": key["Arn"], "keyId": key["KeyId"], "policy": inputs.get("policy") or policy}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        kms = client(ctx, "kms")
        if news.get("policy") and olds.get("policy") != news.get("policy"):
            call(
                "updating KMS Key policy",
                kms.put_key_policy,
                KeyId=id_,
                PolicyName="default",
                Policy=json_text(news["policy"]),
            )
        if olds.get("enableKeyRotation") != news.get("enableKeyRotation"):
            action = kms.enable_key_rotation if news.get("enableKeyRotation") else kms.disable_key_rotation
            call("updating KMS Key rotation", action, KeyId=id_)
        if olds.get("description") != news.get("description"):
            call(
                "updating KMS Key description",
                kms.update_key_description,
                KeyId=id_,
                Description=news.get("description") or "",
            )
        _retag(
            olds,
            news,
            lambda tags: kms.tag_resource(KeyId=id_, Tags=[{"TagKey": t["Key"], "TagValue": t["Value"]} for t in tags]),
            lambda keys: kms.untag_resource(KeyId=id_, TagKeys=keys),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call(
            "scheduling KMS Key deletion",
            client(ctx, "kms").schedule_key_deletion,
            KeyId=id_,
            PendingWindowInDays=integer(state.get("deletionWindowInDays")) or 30,
        )


class Alias(Resource):
    """internal/service/kms/alias.go: name and name_prefix are ForceNew; target_key_id is updated in place."""

    token = "aws:kms/alias:Alias"
    replace_on = frozenset({"name", "namePrefix"})
    computed = ("arn", "targetKeyArn", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "targetKeyId") + matches(inputs, "name", r"alias/[a-zA-Z0-9/_-]+", 7, 256)

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = inputs.get("name") or unique_name(str(inputs.get("namePrefix") or "alias/"))
        kms = client(ctx, "kms")
        call(f"creating KMS Alias ({name})", kms.create_alias, AliasName=name, TargetKeyId=inputs["targetKeyId"])
        key = kms.describe_key(KeyId=inputs["targetKeyId"])["KeyMetadata"]
        arn = f"{key['Arn'].split(':key/')[0]}:{name}"
        return name, {"name": name, "arn": arn, "targetKeyArn": key["Arn"]}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        kms = client(ctx, "kms")
        call(f"updating KMS Alias ({id_})", kms.update_alias, AliasName=id_, TargetKeyId=news["targetKeyId"])
        return {"targetKeyArn": kms.describe_key(KeyId=news["targetKeyId"])["KeyMetadata"]["Arn"]}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call(f"deleting KMS Alias ({id_})", client(ctx, "kms").delete_alias, AliasName=id_)


# -- Secrets Manager --------------------------------------------------------------------------------------------


class Secret(Resource):
    """internal/service/secretsmanager/secret.go: name and name_prefix are ForceNew."""

    token = "aws:secretsmanager/secret:Secret"
    replace_on = frozenset({"name", "namePrefix"})
    defaults = {"recoveryWindowInDays": 30, "forceOverwriteReplicaSecret": False}
    autoname = 512
    tags = True
    computed = ("arn", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        window = inputs.get("recoveryWindowInDays")
        faults = json_document(inputs, "policy")
        if window not in (None, UNKNOWN) and window != 0 and not 7 <= window <= 30:
            faults.append(
                ("recoveryWindowInDays", f"expected recovery_window_in_days to be one of [0 7-30], got {window}")
            )
        return faults

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = chosen_name(inputs)
        sm = client(ctx, "secretsmanager")
        arn = call(
            f"creating Secrets Manager Secret ({name})",
            sm.create_secret,
            Name=name,
            Description=inputs.get("description"),
            KmsKeyId=inputs.get("kmsKeyId"),
            Tags=tag_list(inputs.get("tagsAll")),
        )["ARN"]
        if inputs.get("policy"):
            call(
                "putting Secrets Manager Secret policy",
                sm.put_resource_policy,
                SecretId=arn,
                ResourcePolicy=json_text(inputs["policy"]),
            )
        return arn, {"name": name, "arn": arn}

    def read(self, ctx: Context, id_: str, state: dict[str, Any]) -> dict[str, Any] | None:
        try:
            found = client(ctx, "secretsmanager").describe_secret(SecretId=id_)
        except ClientError:
            return None
        return None if found.get("DeletedDate") else state

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        sm = client(ctx, "secretsmanager")
        if (olds.get("description"), olds.get("kmsKeyId")) != (news.get("description"), news.get("kmsKeyId")):
            call(
                "updating Secrets Manager Secret",
                sm.update_secret,
                SecretId=id_,
                Description=news.get("description") or "",
                KmsKeyId=news.get("kmsKeyId"),
            )
        if olds.get("policy") != news.get("policy"):
            if news.get("policy"):
                call(
                    "putting Secrets Manager Secret policy",
                    sm.put_resource_policy,
                    SecretId=id_,
                    ResourcePolicy=json_text(news["policy"]),
                )
            else:
                call("deleting Secrets Manager Secret policy", sm.delete_resource_policy, SecretId=id_)
        _retag(
            olds,
            news,
            lambda tags: sm.tag_resource(SecretId=id_, Tags=tags),
            lambda keys: sm.untag_resource(SecretId=id_, TagKeys=keys),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        window = integer(state.get("recoveryWindowInDays"))
        call(
            f"deleting Secrets Manager Secret ({id_})",
            client(ctx, "secretsmanager").delete_secret,
            SecretId=id_,
            **({"ForceDeleteWithoutRecovery": True} if window == 0 else {"RecoveryWindowInDays": window or 30}),
        )


class SecretVersion(Resource):
    """internal/service/secretsmanager/secret_version.go: secret_id, secret_string and secret_binary are ForceNew
    (secret_string_wo is write-only: never in state)."""

    token = "aws:secretsmanager/secretVersion:SecretVersion"
    replace_on = frozenset({"secretId", "secretString", "secretBinary", "secretStringWoVersion"})
    computed = ("arn", "versionId", "versionStages", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        given = [k for k in ("secretString", "secretBinary", "secretStringWo") if k in inputs]
        faults = missing(inputs, "secretId")
        if len(given) != 1:
            faults.append(("secretString", "exactly one of secret_string, secret_binary, secret_string_wo is required"))
        return faults

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        text = reveal(inputs.get("secretString") or inputs.get("secretStringWo"))
        answer = call(
            "putting Secrets Manager Secret value",
            client(ctx, "secretsmanager").put_secret_value,
            SecretId=inputs["secretId"],
            SecretString=text,
            VersionStages=inputs.get("versionStages"),
        )
        outputs = {
            "arn": answer["ARN"],
            "versionId": answer["VersionId"],
            "versionStages": answer.get("VersionStages") or ["AWSCURRENT"],
        }
        if "secretStringWo" in inputs:
            outputs["secretStringWo"] = None  # write-only: the provider never keeps it
            outputs["hasSecretStringWo"] = True
        return f"{answer['ARN']}|{answer['VersionId']}", outputs

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        arn, version = id_.split("|", 1)
        sm = client(ctx, "secretsmanager")
        try:
            found = sm.describe_secret(SecretId=arn)
        except ClientError:
            return
        stages = (found.get("VersionIdsToStages") or {}).get(version, [])
        if found.get("DeletedDate") or stages == ["AWSCURRENT"]:
            return  # the current version cannot lose its stage; the secret's deletion takes it
        for stage in stages:
            if stage != "AWSCURRENT":
                sm.update_secret_version_stage(SecretId=arn, VersionStage=stage, RemoveFromVersionId=version)


# -- ECR --------------------------------------------------------------------------------------------------------

ECR_PREFIX = r"((?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*/?|ROOT)"


class PullThroughCacheRule(Resource):
    """internal/service/ecr/pull_through_cache_rule.go: ecr_repository_prefix, upstream_registry_url and
    upstream_repository_prefix are ForceNew; credential_arn and custom_role_arn are updated in place."""

    token = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
    replace_on = frozenset({"ecrRepositoryPrefix", "upstreamRegistryUrl", "upstreamRepositoryPrefix"})
    computed = ("registryId", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return (
            missing(inputs, "ecrRepositoryPrefix", "upstreamRegistryUrl")
            + matches(inputs, "ecrRepositoryPrefix", ECR_PREFIX, 2, 30)
            + matches(inputs, "upstreamRepositoryPrefix", ECR_PREFIX, 2, 30)
        )

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        prefix = inputs["ecrRepositoryPrefix"]
        rule = call(
            f"creating ECR Pull Through Cache Rule ({prefix})",
            client(ctx, "ecr", inputs).create_pull_through_cache_rule,
            ecrRepositoryPrefix=prefix,
            upstreamRegistryUrl=inputs["upstreamRegistryUrl"],
            credentialArn=inputs.get("credentialArn"),
            customRoleArn=inputs.get("customRoleArn"),
            upstreamRepositoryPrefix=inputs.get("upstreamRepositoryPrefix"),
        )
        return prefix, {"registryId": rule["registryId"], "region": region(ctx, inputs)}

    def read(self, ctx: Context, id_: str, state: dict[str, Any]) -> dict[str, Any] | None:
        try:
            rules = client(ctx, "ecr", state).describe_pull_through_cache_rules(ecrRepositoryPrefixes=[id_])
        except ClientError:
            return None
        rule = rules["pullThroughCacheRules"][0]
        return {**state, **{k: rule[k] for k in ("credentialArn", "customRoleArn") if k in rule}}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        call(
            f"updating ECR Pull Through Cache Rule ({id_})",
            client(ctx, "ecr", news).update_pull_through_cache_rule,
            ecrRepositoryPrefix=id_,
            credentialArn=news.get("credentialArn"),
            customRoleArn=news.get("customRoleArn"),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call(
            f"deleting ECR Pull Through Cache Rule ({id_})",
            client(ctx, "ecr", state).delete_pull_through_cache_rule,
            ecrRepositoryPrefix=id_,
            registryId=state.get("registryId"),
        )


class RepositoryCreationTemplate(Resource):
    """internal/service/ecr/repository_creation_template.go: prefix is ForceNew; image_tag_mutability defaults to
    MUTABLE and encryption_configuration.encryption_type to AES256."""

    token = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
    replace_on = frozenset({"prefix"})
    defaults = {"imageTagMutability": "MUTABLE"}
    computed = ("registryId", "id")
    MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        faults = missing(inputs, "prefix", "appliedFors") + one_of(inputs, "imageTagMutability", self.MUTABILITY)
        faults += matches(
            inputs, "prefix", r".*(?:ROOT|(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*).*", 2, 256
        )
        faults += json_document(inputs, "lifecyclePolicy") + json_document(inputs, "repositoryPolicy")
        for i, f in enumerate(inputs.get("imageTagMutabilityExclusionFilters") or []):
            if isinstance(f, dict):
                faults += matches(f, "filter", r"[a-zA-Z0-9._*-]+", 1, 128)
                faults += [
                    (f"imageTagMutabilityExclusionFilters[{i}].{p}", r)
                    for p, r in one_of(f, "filterType", ("WILDCARD",))
                ]
        if len(inputs.get("imageTagMutabilityExclusionFilters") or []) > 5:
            faults.append(("imageTagMutabilityExclusionFilters", "attribute supports 5 item maximum"))
        return faults

    @staticmethod
    def request(inputs: dict[str, Any]) -> dict[str, Any]:
        encryption = (inputs.get("encryptionConfigurations") or [None])[0]
        return {
            "prefix": inputs["prefix"],
            "description": inputs.get("description"),
            "appliedFor": inputs.get("appliedFors"),
            "customRoleArn": inputs.get("customRoleArn"),
            "imageTagMutability": inputs.get("imageTagMutability"),
            "imageTagMutabilityExclusionFilters": inputs.get("imageTagMutabilityExclusionFilters") or None,
            "lifecyclePolicy": json_text(inputs.get("lifecyclePolicy")),
            "repositoryPolicy": json_text(inputs.get("repositoryPolicy")),
            "resourceTags": tag_list(inputs.get("resourceTags")),
            "encryptionConfiguration": None
            if not encryption
            else {
                "encryptionType": encryption.get("encryptionType") or "AES256",
                **({"kmsKey": encryption["kmsKey"]} if encryption.get("kmsKey") else {}),
            },
        }

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        answer = call(
            f"creating ECR Repository Creation Template ({inputs['prefix']})",
            client(ctx, "ecr", inputs).create_repository_creation_template,
            **self.request(inputs),
        )
        return inputs["prefix"], {"registryId": answer["registryId"], "region": region(ctx, inputs)}

    def read(self, ctx: Context, id_: str, state: dict[str, Any]) -> dict[str, Any] | None:
        try:
            client(ctx, "ecr", state).describe_repository_creation_templates(prefixes=[id_])
        except ClientError:
            return None
        return state

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        call(
            f"updating ECR Repository Creation Template ({id_})",
            client(ctx, "ecr", news).update_repository_creation_template,
            **self.request(news),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call(
            f"deleting ECR Repository Creation Template ({id_})",
            client(ctx, "ecr", state).delete_repository_creation_template,
            prefix=id_,
        )


class RegistryPolicy(Resource):
    """internal/service/ecr/registry_policy.go: policy is updated in place (PutRegistryPolicy replaces it)."""

    token = "aws:ecr/registryPolicy:RegistryPolicy"
    computed = ("registryId", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "policy") + json_document(inputs, "policy")

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        answer = call(
            "putting ECR Registry Policy",
            client(ctx, "ecr", inputs).put_registry_policy,
            policyText=json_text(inputs["policy"]),
        )
        return answer["registryId"], {"registryId": answer["registryId"], "region": region(ctx, inputs)}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        call(
            "putting ECR Registry Policy",
            client(ctx, "ecr", news).put_registry_policy,
            policyText=json_text(news["policy"]),
        )
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call("deleting ECR Registry Policy", client(ctx, "ecr", state).delete_registry_policy)


class RegistryScanningConfiguration(Resource):
    """internal/service/ecr/registry_scanning_configuration.go: scan_type and rules are updated in place."""

    token = "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration"
    computed = ("registryId", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "scanType") + one_of(inputs, "scanType", ("BASIC", "ENHANCED"))

    def _put(self, ctx: Context, inputs: dict[str, Any]) -> str:
        rules = [
            {"scanFrequency": r["scanFrequency"], "repositoryFilters": r.get("repositoryFilters") or []}
            for r in inputs.get("rules") or []
        ]
        call(
            "putting ECR Registry Scanning Configuration",
            client(ctx, "ecr", inputs).put_registry_scanning_configuration,
            scanType=inputs["scanType"],
            rules=rules,
        )
        return account(ctx)

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        registry = self._put(ctx, inputs)
        return registry, {"registryId": registry, "region": region(ctx, inputs)}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        self._put(ctx, news)
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        self._put(ctx, {"scanType": "BASIC", "region": state.get("region")})


# -- ECS --------------------------------------------------------------------------------------------------------


class TaskDefinition(Resource):
    """internal/service/ecs/task_definition.go: every argument but tags, skip_destroy and track_latest is
    ForceNew (a task definition revision is immutable)."""

    token = "aws:ecs/taskDefinition:TaskDefinition"
    replace_on = frozenset(
        {
            "containerDefinitions",
            "family",
            "cpu",
            "memory",
            "networkMode",
            "requiresCompatibilities",
            "executionRoleArn",
            "taskRoleArn",
            "volumes",
            "runtimePlatform",
            "ephemeralStorage",
        }
    )
    tags = True
    computed = ("arn", "arnWithoutRevision", "revision", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return missing(inputs, "family", "containerDefinitions") + json_document(inputs, "containerDefinitions")

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        task = call(
            f"creating ECS Task Definition ({inputs['family']})",
            client(ctx, "ecs").register_task_definition,
            family=inputs["family"],
            containerDefinitions=json.loads(reveal(inputs["containerDefinitions"])),
            cpu=inputs.get("cpu"),
            memory=inputs.get("memory"),
            networkMode=inputs.get("networkMode"),
            requiresCompatibilities=inputs.get("requiresCompatibilities"),
            executionRoleArn=inputs.get("executionRoleArn"),
            taskRoleArn=inputs.get("taskRoleArn"),
            tags=tag_list(inputs.get("tagsAll"), "key", "value"),
        )["taskDefinition"]
        arn = task["taskDefinitionArn"]
        return inputs["family"], {"arn": arn, "arnWithoutRevision": arn.rsplit(":", 1)[0], "revision": task["revision"]}

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        return {}  # only tags can change in place; the stand-in keeps them in state

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        call(
            "deregistering ECS Task Definition",
            client(ctx, "ecs").deregister_task_definition,
            taskDefinition=state["arn"],
        )


# -- functions --------------------------------------------------------------------------------------------------


def get_caller_identity(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    found = client(ctx, "sts").get_caller_identity()
    return {"accountId": found["Account"], "arn": found["Arn"], "userId": found["UserId"], "id": found["Account"]}


def get_partition(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    name, suffix = partition(region(ctx))
    reverse = ".".join(reversed(suffix.split(".")))
    return {"partition": name, "dnsSuffix": suffix, "reverseDnsPrefix": reverse, "id": name}


def get_region(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("region") or args.get("name") or region(ctx)
    _, suffix = partition(name)
    return {"region": name, "name": name, "endpoint": f"ec2.{name}.{suffix}", "description": name, "id": name}


def get_secret(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    wanted = args.get("arn") or args.get("name")
    found = call(
        f"reading Secrets Manager Secret ({wanted})", client(ctx, "secretsmanager").describe_secret, SecretId=wanted
    )
    policy = client(ctx, "secretsmanager").get_resource_policy(SecretId=found["ARN"]).get("ResourcePolicy") or ""
    return {
        "arn": found["ARN"],
        "id": found["ARN"],
        "name": found["Name"],
        "description": found.get("Description") or "",
        "kmsKeyId": found.get("KmsKeyId") or "",
        "policy": policy,
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags") or []},
        "createdDate": found["CreatedDate"].isoformat() if found.get("CreatedDate") else "",
        "lastChangedDate": found["LastChangedDate"].isoformat() if found.get("LastChangedDate") else "",
    }


def check_config(news: dict[str, Any]) -> list[tuple[str, str]]:
    if not news.get("region") and not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        return [("region", "Missing region information: set `pulumi config set aws:region us-west-2` or AWS_REGION")]
    return []


def default_tags(ctx: Context) -> dict[str, str]:
    return dict((ctx.config.get("defaultTags") or {}).get("tags") or {})


def provider() -> Provider:
    return Provider(
        "aws",
        VERSION,
        [
            Role(),
            RolePolicy(),
            Policy(),
            RolePolicyAttachment(),
            RolePolicyAttachmentsExclusive(),
            Key(),
            Alias(),
            Secret(),
            SecretVersion(),
            PullThroughCacheRule(),
            RepositoryCreationTemplate(),
            RegistryPolicy(),
            RegistryScanningConfiguration(),
            TaskDefinition(),
        ],
        invokes={
            "aws:index/getCallerIdentity:getCallerIdentity": get_caller_identity,
            "aws:index/getPartition:getPartition": get_partition,
            "aws:index/getRegion:getRegion": get_region,
            "aws:secretsmanager/getSecret:getSecret": get_secret,
        },
        check_config=check_config,
        default_tags=default_tags,
    )


if __name__ == "__main__":
    serve(provider())
