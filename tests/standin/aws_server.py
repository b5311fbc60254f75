"""moto's server plus the ECR operations moto 5 does not serve, in one process on 127.0.0.1.

moto serves IAM, STS, KMS, Secrets Manager, ECS and ECR's repositories and scanning, and refuses malformed
policy documents and names much as AWS does. It has no pull through cache rules and no repository creation
templates, and holds registry policies to the V1 scope AWS replaced by V2 as the default: this server answers
those operations itself (and the registry policy scope setting), checking each request against
botocore's ECR model (the API's own constraints: required members, lengths, patterns, enums) and the behaviour
AWS documents (one rule per prefix, 50 rules per registry, credentials for the upstreams that need them, the
secret in the rule's own account and region). Everything else goes to moto unchanged.

    python -m tests.standin.aws_server [--port N]     prints `port N` once it listens

Every registry policy document is checked with moto's own IAM policy validator, as moto checks it.
`ValidatePullThroughCacheRule` checks what this server can see (the secret exists, is readable and holds
`username` and `accessToken`); it cannot reach the upstream registry, so it never reports an upstream's answer.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.loaders
import botocore.model
from botocore.exceptions import ClientError
from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

ECR_TARGET = "AmazonEC2ContainerRegistry_V20150921."
RULES_PER_REGISTRY = 50  # ECR service quotas: pull through cache rules per registry (not adjustable)

# Upstream registries ECR's pull through cache supports (ECR user guide, "Sync an upstream registry", and the
# UpstreamRegistry enum of botocore's model), whether each must have credentials, and how its URL looks.
UPSTREAMS: list[tuple[str, str, str]] = [
    ("ecr-public", r"public\.ecr\.aws", "none"),
    ("k8s", r"registry\.k8s\.io", "none"),
    ("quay", r"quay\.io", "none"),
    ("docker-hub", r"registry-1\.docker\.io", "secret"),
    ("github-container-registry", r"ghcr\.io", "secret"),
    ("azure-container-registry", r"[a-z0-9]+\.azurecr\.io", "secret"),
    ("gitlab-container-registry", r"registry\.gitlab\.com", "secret"),
    ("chainguard", r"cgr\.dev", "secret"),
    ("ecr", r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?", "role"),
]


class ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _model() -> botocore.model.ServiceModel:
    return botocore.model.ServiceModel(botocore.loaders.create_loader().load_service_model("ecr", "service-2"))


def check_shape(shape: botocore.model.Shape, value: Any, where: str) -> list[str]:
    """What botocore's model refuses in `value`: required members, lengths, patterns, enums, ranges."""
    faults: list[str] = []
    meta = shape.metadata
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        members = shape.members
        for name in shape.required_members:
            if name not in value:
                faults.append(f"{where}.{name}: is required")
        for name, item in value.items():
            if name not in members:
                faults.append(f"{where}.{name}: is not a member of {shape.name}")
            else:
                faults += check_shape(members[name], item, f"{where}.{name}")
    elif shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        if "min" in meta and len(value) < meta["min"] or "max" in meta and len(value) > meta["max"]:
            faults.append(f"{where}: {len(value)} items, allowed {meta.get('min', 0)}-{meta.get('max', 'any')}")
        for i, item in enumerate(value):
            faults += check_shape(shape.member, item, f"{where}[{i}]")
    elif shape.type_name == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        if "min" in meta and len(value) < meta["min"] or "max" in meta and len(value) > meta["max"]:
            faults.append(f"{where}: length {len(value)}, allowed {meta.get('min', 0)}-{meta.get('max', 'any')}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            faults.append(f"{where}: does not match {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            faults.append(f"{where}: {value!r} is not one of {', '.join(shape.enum)}")
    elif shape.type_name in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{where}: expected an integer"]
        if "min" in meta and value < meta["min"] or "max" in meta and value > meta["max"]:
            faults.append(f"{where}: {value} is outside {meta.get('min')}-{meta.get('max')}")
    elif shape.type_name == "boolean" and not isinstance(value, bool):
        faults.append(f"{where}: expected a boolean")
    return faults


class Ecr:
    """Pull through cache rules and repository creation templates, per account and region."""

    OPERATIONS = (
        "PutRegistryPolicy",
        "GetRegistryPolicy",
        "DeleteRegistryPolicy",
        "PutAccountSetting",
        "GetAccountSetting",
        "CreatePullThroughCacheRule",
        "DescribePullThroughCacheRules",
        "UpdatePullThroughCacheRule",
        "DeletePullThroughCacheRule",
        "ValidatePullThroughCacheRule",
        "CreateRepositoryCreationTemplate",
        "DescribeRepositoryCreationTemplates",
        "UpdateRepositoryCreationTemplate",
        "DeleteRepositoryCreationTemplate",
    )

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.model = _model()
        self.lock = threading.Lock()
        self.rules: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.templates: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.registry_policies: dict[tuple[str, str], str] = {}
        self.settings: dict[tuple[str, str, str], str] = {}
        self._accounts: dict[str, str] = {}
        self._caller = ""

    def handle(self, operation: str, body: dict[str, Any], access_key: str, region: str) -> dict[str, Any]:
        shape = self.model.operation_model(operation).input_shape
        faults = check_shape(shape, body, "input") if shape is not None else []
        if faults:
            raise ApiError("InvalidParameterException", "; ".join(faults))
        method = getattr(self, re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower())
        account = self.account(access_key)
        with self.lock:
            self._caller = access_key
            return method(body, account, region)  # type: ignore[no-any-return]

    # -- helpers ----------------------------------------------------------------------------------------------

    def account(self, access_key: str) -> str:
        """The account moto attributes the caller's access key to (an assumed role's keys belong to its account)."""
        if access_key not in self._accounts:
            sts = boto3.client(
                "sts",
                region_name="us-east-1",
                endpoint_url=self.endpoint,
                aws_access_key_id=access_key or "unsigned",
                aws_secret_access_key="unchecked",  # moto does not verify signatures
            )
            self._accounts[access_key] = sts.get_caller_identity()["Account"]
        return self._accounts[access_key]

    def _secret(self, arn: str, region: str) -> dict[str, Any]:
        client = boto3.client(
            "secretsmanager",
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=self._caller or "unsigned",
            aws_secret_access_key="unchecked",
        )
        try:
            return client.get_secret_value(SecretId=arn)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                raise ApiError("SecretNotFoundException", f"The specified secret {arn} does not exist") from None
            raise ApiError("UnableToAccessSecretException", f"Unable to access the secret {arn}: {code}") from None

    @staticmethod
    def _registry(body: dict[str, Any], account: str) -> str:
        return str(body.get("registryId") or account)

    # -- registry policy and its scope -------------------------------------------------------------------------
    # moto 5 checks registry policies against the V1 scope only, without BatchImportUpstreamImage. AWS: "V2 is the
    # expanded registry policy scope that includes all ECR permissions ... The V2 version is the default registry
    # policy scope"; V1 enforces ReplicateImage, BatchImportUpstreamImage and CreateRepository (ECR user guide,
    # "Private registry permissions in Amazon ECR", registry-permissions-create.html).

    V1_ACTIONS = frozenset({"ecr:ReplicateImage", "ecr:BatchImportUpstreamImage", "ecr:CreateRepository"})

    def put_account_setting(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        allowed = {"REGISTRY_POLICY_SCOPE": ("V1", "V2"), "BASIC_SCAN_TYPE_VERSION": ("AWS_NATIVE", "CLAIR")}
        if body["value"] not in allowed.get(body["name"], ()):
            raise ApiError("InvalidParameterException", f"Invalid value {body['value']!r} for {body['name']!r}")
        self.settings[(account, region, body["name"])] = body["value"]
        return {"name": body["name"], "value": body["value"]}

    def get_account_setting(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        defaults = {"REGISTRY_POLICY_SCOPE": "V2", "BASIC_SCAN_TYPE_VERSION": "AWS_NATIVE"}
        if body["name"] not in defaults:
            raise ApiError("InvalidParameterException", f"Invalid account setting {body['name']!r}")
        return {
            "name": body["name"],
            "value": self.settings.get((account, region, body["name"]), defaults[body["name"]]),
        }

    def put_registry_policy(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        from moto.iam.policy_validation import IAMPolicyDocumentValidator

        text = body["policyText"]
        invalid = ApiError(
            "InvalidParameterException",
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid registry policy provided'",
        )
        try:
            IAMPolicyDocumentValidator(text).validate()
            statements = json.loads(text)["Statement"]
        except Exception:
            raise invalid from None
        scope = self.get_account_setting({"name": "REGISTRY_POLICY_SCOPE"}, account, region)["value"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action") or []
            actions = [actions] if isinstance(actions, str) else actions
            if any(not str(a).startswith("ecr:") for a in actions):
                raise invalid
            if scope == "V1" and set(actions) - self.V1_ACTIONS:
                raise invalid
        self.registry_policies[(account, region)] = text
        return {"registryId": account, "policyText": text}

    def get_registry_policy(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        if (account, region) not in self.registry_policies:
            raise ApiError(
                "RegistryPolicyNotFoundException", f"Registry policy does not exist in the registry {account}"
            )
        return {"registryId": account, "policyText": self.registry_policies[(account, region)]}

    def delete_registry_policy(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        answer = self.get_registry_policy(body, account, region)
        del self.registry_policies[(account, region)]
        return answer

    # -- pull through cache rules -----------------------------------------------------------------------------

    def create_pull_through_cache_rule(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        registry = self._registry(body, account)
        rules = self.rules.setdefault((registry, region), {})
        prefix = body["ecrRepositoryPrefix"].rstrip("/") or body["ecrRepositoryPrefix"]
        if prefix in rules:
            raise ApiError(
                "PullThroughCacheRuleAlreadyExistsException",
                f"A pull through cache rule with prefix '{prefix}' already exists in registry '{registry}'",
            )
        if len(rules) >= RULES_PER_REGISTRY:
            raise ApiError("LimitExceededException", f"The registry already has {RULES_PER_REGISTRY} rules")
        url = body["upstreamRegistryUrl"]
        kind = next((k for k, pattern, _ in UPSTREAMS if re.fullmatch(pattern, url)), None)
        if kind is None:
            raise ApiError("UnsupportedUpstreamRegistryException", f"Upstream registry URL '{url}' is not supported")
        auth = next(a for k, _, a in UPSTREAMS if k == kind)
        credential = body.get("credentialArn")
        if auth == "secret" and not credential:
            raise ApiError("InvalidParameterException", f"A credentialArn is required for upstream '{url}'")
        if auth != "secret" and credential:
            raise ApiError("InvalidParameterException", f"Upstream '{url}' does not take credentials")
        if auth == "role" and not body.get("customRoleArn"):
            raise ApiError("InvalidParameterException", f"A customRoleArn is required for upstream '{url}'")
        if auth != "role" and body.get("upstreamRepositoryPrefix"):
            raise ApiError("InvalidParameterException", "upstreamRepositoryPrefix applies to ECR upstreams only")
        if credential:
            parts = credential.split(":")
            if parts[3] != region or parts[4] != registry:
                raise ApiError(
                    "InvalidParameterException",
                    "The secret must be in the same account and Region as the pull through cache rule",
                )
            self._secret(credential, region)
        rule = {
            "ecrRepositoryPrefix": prefix,
            "upstreamRegistryUrl": url,
            "createdAt": datetime.now(UTC).timestamp(),
            "registryId": registry,
            "upstreamRegistry": kind,
        }
        for key in ("credentialArn", "customRoleArn"):
            if body.get(key):
                rule[key] = body[key]
        if kind == "ecr":
            rule["upstreamRepositoryPrefix"] = body.get("upstreamRepositoryPrefix") or "ROOT"
        rules[prefix] = rule
        return {k: v for k, v in rule.items() if k != "upstreamRegistry"}

    def _rule(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        registry = self._registry(body, account)
        prefix = body["ecrRepositoryPrefix"].rstrip("/") or body["ecrRepositoryPrefix"]
        found = self.rules.get((registry, region), {}).get(prefix)
        if found is None:
            raise ApiError(
                "PullThroughCacheRuleNotFoundException",
                f"The pull through cache rule with prefix '{prefix}' does not exist in registry '{registry}'",
            )
        return found

    def describe_pull_through_cache_rules(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        rules = self.rules.get((self._registry(body, account), region), {})
        wanted = body.get("ecrRepositoryPrefixes")
        if wanted:
            found = [self._rule({**body, "ecrRepositoryPrefix": p}, account, region) for p in wanted]
        else:
            found = list(rules.values())
        return {"pullThroughCacheRules": [dict(r, updatedAt=r.get("updatedAt", r["createdAt"])) for r in found]}

    def update_pull_through_cache_rule(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        rule = self._rule(body, account, region)
        if body.get("credentialArn"):
            self._secret(body["credentialArn"], region)
        for key in ("credentialArn", "customRoleArn"):
            if body.get(key):
                rule[key] = body[key]
        rule["updatedAt"] = datetime.now(UTC).timestamp()
        return {k: rule[k] for k in ("ecrRepositoryPrefix", "registryId", "updatedAt") if k in rule} | {
            k: rule[k] for k in ("credentialArn", "customRoleArn", "upstreamRepositoryPrefix") if k in rule
        }

    def delete_pull_through_cache_rule(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        rule = self._rule(body, account, region)
        del self.rules[(rule["registryId"], region)][rule["ecrRepositoryPrefix"]]
        return {k: v for k, v in rule.items() if k != "upstreamRegistry"}

    def validate_pull_through_cache_rule(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        rule = self._rule(body, account, region)
        answer = {k: v for k, v in rule.items() if k not in ("upstreamRegistry", "createdAt", "updatedAt")}
        failure = ""
        if rule.get("credentialArn"):
            try:
                value = self._secret(rule["credentialArn"], region).get("SecretString") or ""
                parsed = json.loads(value)
                if not isinstance(parsed, dict) or not {"username", "accessToken"} <= set(parsed):
                    failure = "The secret does not hold JSON with username and accessToken"
            except ApiError as exc:
                failure = str(exc)
            except ValueError:
                failure = "The secret does not hold JSON with username and accessToken"
        return {**answer, "isValid": not failure, "failure": failure}

    # -- repository creation templates ------------------------------------------------------------------------

    def create_repository_creation_template(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        templates = self.templates.setdefault((account, region), {})
        prefix = body["prefix"]
        if prefix in templates:
            raise ApiError("TemplateAlreadyExistsException", f"A template with prefix '{prefix}' already exists")
        self._template_rules(body)
        now = datetime.now(UTC).timestamp()
        template = {
            "imageTagMutability": "MUTABLE",
            "encryptionConfiguration": {"encryptionType": "AES256"},
            **{k: v for k, v in body.items() if k != "registryId"},
            "createdAt": now,
            "updatedAt": now,
        }
        templates[prefix] = template
        return {"registryId": account, "repositoryCreationTemplate": template}

    @staticmethod
    def _template_rules(body: dict[str, Any]) -> None:
        for key, limit in (("lifecyclePolicy", 30720), ("repositoryPolicy", 10240)):
            if key in body:
                try:
                    document = json.loads(body[key])
                except ValueError:
                    raise ApiError("InvalidParameterException", f"{key} is not valid JSON") from None
                statements = document.get("Statement", []) if key == "repositoryPolicy" else []
                for statement in statements if isinstance(statements, list) else [statements]:
                    if isinstance(statement, dict) and ({"Resource", "NotResource"} & set(statement)):
                        raise ApiError(
                            "InvalidParameterException",
                            "Invalid parameter at 'RepositoryPolicy' failed to satisfy constraint: "
                            "'Invalid repository policy provided'",
                        )
                if len(body[key]) > limit:
                    raise ApiError("InvalidParameterException", f"{key} is longer than {limit} characters")
        filters = body.get("imageTagMutabilityExclusionFilters")
        mutability = body.get("imageTagMutability", "MUTABLE")
        if filters and not mutability.endswith("_WITH_EXCLUSION"):
            raise ApiError("InvalidParameterException", "exclusion filters need a *_WITH_EXCLUSION mutability")
        if mutability.endswith("_WITH_EXCLUSION") and not filters:
            raise ApiError("InvalidParameterException", f"{mutability} needs at least one exclusion filter")

    def _template(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        found = self.templates.get((account, region), {}).get(body["prefix"])
        if found is None:
            raise ApiError("TemplateNotFoundException", f"The template with prefix '{body['prefix']}' does not exist")
        return found

    def describe_repository_creation_templates(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        wanted = body.get("prefixes")
        templates = self.templates.get((account, region), {})
        if wanted:
            found = [self._template({"prefix": p}, account, region) for p in wanted]
        else:
            found = list(templates.values())
        return {"registryId": account, "repositoryCreationTemplates": found}

    def update_repository_creation_template(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        template = self._template(body, account, region)
        merged = {**template, **{k: v for k, v in body.items() if k != "registryId"}}
        self._template_rules(merged)
        template.update(merged, updatedAt=datetime.now(UTC).timestamp())
        return {"registryId": account, "repositoryCreationTemplate": template}

    def delete_repository_creation_template(self, body: dict[str, Any], account: str, region: str) -> dict[str, Any]:
        template = self._template(body, account, region)
        del self.templates[(account, region)][body["prefix"]]
        return {"registryId": account, "repositoryCreationTemplate": template}


def _credential_scope(environ: dict[str, Any]) -> tuple[str, str]:
    """(access key, region) from a SigV4 Authorization header."""
    found = re.search(r"Credential=([^/]+)/[0-9]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    return (found.group(1), found.group(2)) if found else ("", "us-east-1")


def application(endpoint: str) -> Any:
    moto = DomainDispatcherApplication(create_backend_app)
    ecr = Ecr(endpoint)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target[len(ECR_TARGET) :] if target.startswith(ECR_TARGET) else ""
        if operation not in Ecr.OPERATIONS:
            return moto(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        key, region = _credential_scope(environ)
        try:
            body = json.loads(raw or b"{}")
            answer, status = ecr.handle(operation, body, key, region), "200 OK"
        except ApiError as exc:
            answer, status = {"__type": exc.code, "message": str(exc)}, "400 Bad Request"
        except ValueError:
            answer, status = {"__type": "SerializationException", "message": "body is not JSON"}, "400 Bad Request"
        data = json.dumps(answer).encode()
        start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))])
        return [data]

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    holder: dict[str, Any] = {}

    def deferred(environ: dict[str, Any], start_response: Any) -> Any:
        return holder["app"](environ, start_response)

    server = make_server("127.0.0.1", args.port, deferred, threaded=True)
    holder["app"] = application(f"http://127.0.0.1:{server.server_port}")
    print(f"port {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
