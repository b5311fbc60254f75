"""`ptc verify`: after `pulumi up`, check that every cache really works, against the live registry.

Per upstream in the stack outputs: the rule exists as deployed; ECR can authenticate
(`ValidatePullThroughCacheRule`, failure reported verbatim); the secret exists, is not scheduled
for deletion, sits under `ecr-pullthroughcache/` in the rule's account and region, declares token
scopes within least privilege, holds `username` and `accessToken` (when this identity may read
it), and is younger than the rotation limit; the creation template matches the stack. With
`--check-token-scopes`, GitLab and GitHub are asked what the token can really do. No token is
ever printed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ecr_pull_through_cache import catalog, naming

from . import token_scopes
from .aws import SHAPE_ERRORS, Aws, could_not_check, error_code, error_message, unanswered
from .reconcile import canonical
from .stack_config import remember_secret

PASS, FAIL, WARN, SKIP, UNCHECKED = "pass", "fail", "warn", "skip", "unchecked"
"""UNCHECKED: AWS could not be asked or gave no usable answer (deadline, network, throttling or 5xx past the
retries, an answer of the wrong shape); nothing is known about the resource, so it is neither pass nor fail."""
DEFAULT_MAX_TOKEN_AGE_DAYS = 90
ROTATION_NOTICE_DAYS = 14
"""Warn this many days before a token reaches the rotation limit."""


@dataclass
class Check:
    upstream: str
    check: str
    status: str
    detail: str


class Verifier:
    def __init__(
        self,
        aws: Aws,
        outputs: dict[str, Any],
        *,
        account: str,
        region: str,
        max_token_age_days: int = DEFAULT_MAX_TOKEN_AGE_DAYS,
        check_token_scopes: bool = False,
        gitlab_api: str = token_scopes.GITLAB_API,
        github_api: str = token_scopes.GITHUB_API,
        now: datetime | None = None,
    ):
        self.aws = aws
        self.ecr = aws.client("ecr")
        self.secrets = aws.client("secretsmanager")
        self.upstreams = outputs["upstreams"]
        self.account, self.region = account, region
        self.max_age = max_token_age_days
        self.check_token_scopes = check_token_scopes
        self.apis = {"gitlab-container-registry": gitlab_api, "github-container-registry": github_api}
        self.now = now or datetime.now(UTC)
        self.checks: list[Check] = []

    def add(self, upstream: str, check: str, status: str, detail: str) -> None:
        self.checks.append(Check(upstream, check, status, detail))

    def failed(self, upstream: str, check: str, doing: str, exc: Exception) -> None:
        """A failed call: AWS's answer is a finding (FAIL); no usable answer is UNCHECKED, named as such."""
        if unanswered(exc):
            self.add(upstream, check, UNCHECKED, f"{doing}: {could_not_check(exc)}")
        else:
            self.add(upstream, check, FAIL, f"{doing}: {error_message(exc)}")

    def _all(self, operation: str, key: str) -> list[dict[str, Any]]:
        paginator = self.ecr.get_paginator(operation)
        items = [item for page in paginator.paginate() for item in page[key]]
        if not all(isinstance(item, dict) for item in items):
            raise TypeError(key)
        return items

    def run(self) -> list[Check]:
        try:
            rules = {
                r["ecrRepositoryPrefix"]: r
                for r in self._all("describe_pull_through_cache_rules", "pullThroughCacheRules")
            }
            templates = {
                t["prefix"]: t
                for t in self._all("describe_repository_creation_templates", "repositoryCreationTemplates")
            }
        except (ClientError, BotoCoreError, *SHAPE_ERRORS) as exc:
            self.failed("*", "registry", "cannot read the registry's rules and templates", exc)
            return self.checks
        for prefix, upstream in sorted(self.upstreams.items()):
            if self.aws.past_deadline:
                self.add(prefix, "*", UNCHECKED, f"not checked: the deadline of {self.aws.deadline_seconds:g} s passed")
                continue
            try:
                self.check_upstream(prefix, upstream, rules, templates)
            except SHAPE_ERRORS as exc:  # an answer of the wrong shape: this upstream could not be checked
                self.add(prefix, "answer", UNCHECKED, could_not_check(exc))
        return self.checks

    def check_upstream(
        self, prefix: str, upstream: dict[str, Any], rules: dict[str, Any], templates: dict[str, Any]
    ) -> None:
        rule = rules.get(prefix)
        self.check_rule(prefix, upstream, rule)
        if rule is not None and (upstream.get("credential_arn") or upstream.get("custom_role_arn")):
            self.check_validation(prefix)
        token: str | None = None
        declared: list[str] = []
        if upstream.get("credential_arn"):
            token, declared = self.check_secret(prefix, upstream)
        if self.check_token_scopes and upstream["kind"] in token_scopes.LOOKUPS:
            self.check_live_scopes(prefix, upstream["kind"], token, declared)
        self.check_template(prefix, upstream, templates.get(prefix))

    # ---- the rule --------------------------------------------------------------------------

    def check_rule(self, prefix: str, upstream: dict[str, Any], rule: dict[str, Any] | None) -> None:
        if rule is None:
            self.add(prefix, "rule", FAIL, "no pull through cache rule with this prefix: run `pulumi up`")
            return
        expected = {
            "upstreamRegistryUrl": upstream.get("upstream_url"),
            "credentialArn": upstream.get("credential_arn"),
            "customRoleArn": upstream.get("custom_role_arn"),
        }
        if upstream["kind"] == "ecr":
            expected["upstreamRepositoryPrefix"] = upstream.get("upstream_prefix") or naming.ROOT
        wrong = [f"{k} is {rule.get(k)!r}, not {v!r}" for k, v in expected.items() if rule.get(k) != v]
        if wrong:
            self.add(prefix, "rule", FAIL, "differs from the stack: " + "; ".join(wrong))
        else:
            self.add(prefix, "rule", PASS, f"caches {upstream.get('upstream_url')}")

    def check_validation(self, prefix: str) -> None:
        try:
            answer = self.ecr.validate_pull_through_cache_rule(ecrRepositoryPrefix=prefix)
        except (ClientError, BotoCoreError) as exc:
            self.failed(prefix, "validation", "ValidatePullThroughCacheRule failed", exc)
            return
        if answer.get("isValid"):
            self.add(prefix, "validation", PASS, "ECR reached the upstream and authenticated")
        else:
            reason = answer.get("failure") or "no reason given"
            self.add(prefix, "validation", FAIL, f"ECR cannot use the rule: {reason}")

    # ---- the secret ------------------------------------------------------------------------

    def check_secret(self, prefix: str, upstream: dict[str, Any]) -> tuple[str | None, list[str]]:
        """Returns the token when this identity may read it (else None) and the declared scopes,
        for the live scope check."""
        arn = upstream["credential_arn"]
        try:
            secret = self.secrets.describe_secret(SecretId=arn)
        except (ClientError, BotoCoreError) as exc:
            self.failed(prefix, "secret", f"cannot describe {arn}", exc)
            return None, []
        faults = []
        if secret.get("DeletedDate"):
            faults.append(
                f"is scheduled for deletion on {secret['DeletedDate']:%Y-%m-%d}: restore it "
                "(aws secretsmanager restore-secret)"
            )
        if not secret["Name"].startswith(naming.SECRET_NAME_PREFIX):
            faults.append(f"is named {secret['Name']!r}, outside {naming.SECRET_NAME_PREFIX!r}")
        parsed = naming.parse_arn(secret["ARN"])
        if parsed and (parsed.region, parsed.account) != (self.region, self.account):
            faults.append(f"is in {parsed.account}/{parsed.region}, not the rule's {self.account}/{self.region}")
        if faults:
            self.add(prefix, "secret", FAIL, "the secret " + "; ".join(faults))
        else:
            self.add(prefix, "secret", PASS, f"{secret['Name']} in {self.account}/{self.region}")

        tags = {t["Key"]: t["Value"] for t in secret.get("Tags", [])}
        declared = tags.get("ptc:token-scopes", "").split()
        allowed = catalog.get_kind(upstream["kind"]).allowed_scopes
        excess = [s for s in declared if s not in allowed]
        if not declared:
            self.add(prefix, "scopes", FAIL, "the secret declares no ptc:token-scopes tag")
        elif excess:
            self.add(
                prefix,
                "scopes",
                FAIL,
                f"declared scopes beyond least privilege: {', '.join(excess)} (allowed: {', '.join(sorted(allowed))})",
            )
        else:
            self.add(prefix, "scopes", PASS, f"declared {' '.join(declared)}")

        changed = secret.get("LastChangedDate") or secret.get("CreatedDate")
        if changed is not None:
            age = (self.now - changed.astimezone(UTC)).days
            if age > self.max_age:
                self.add(
                    prefix,
                    "token-age",
                    FAIL,
                    f"the token is {age} days old, over the {self.max_age}-day rotation limit: rotate it",
                )
            elif age > self.max_age - ROTATION_NOTICE_DAYS:
                self.add(
                    prefix,
                    "token-age",
                    WARN,
                    f"the token is {age} days old: rotate it within {self.max_age - age} days",
                )
            else:
                self.add(prefix, "token-age", PASS, f"{age} days old (limit {self.max_age})")
        if changed is not None:
            self.check_expiry(prefix, tags, changed)
        return self._read_credentials(prefix, arn), declared

    def check_expiry(self, prefix: str, tags: dict[str, str], changed: datetime) -> None:
        """A token the stack made: its expiry from the secret's tags (the version changes when it rotates)."""
        try:
            lifetime = int(tags["ptc:token-expires-in-days"])
            window = int(tags.get("ptc:token-rotate-before-days", "0"))
        except (KeyError, ValueError):
            return
        left = lifetime - (self.now - changed.astimezone(UTC)).days
        if left <= 0:
            self.add(prefix, "token-expiry", FAIL, f"the token expired {-left} days ago: run `pulumi up` to rotate it")
        elif left <= window:
            self.add(
                prefix,
                "token-expiry",
                WARN,
                f"the token expires in {left} days, inside its {window}-day "
                "rotation window: run `pulumi up` to rotate it",
            )
        else:
            self.add(prefix, "token-expiry", PASS, f"expires in {left} days; rotated {window} days before")

    def _read_credentials(self, prefix: str, arn: str) -> str | None:
        try:
            value = self.secrets.get_secret_value(SecretId=arn)
        except (ClientError, BotoCoreError) as exc:
            if error_code(exc) in ("AccessDeniedException", "DecryptionFailure"):
                self.add(
                    prefix,
                    "credentials",
                    SKIP,
                    f"not allowed to read the secret here ({error_code(exc)}); ECR reads it with its own role",
                )
            else:
                self.failed(prefix, "credentials", "cannot read the secret", exc)
            return None
        secret_string = value.get("SecretString") or ""
        remember_secret(secret_string)  # from here on, a debug traceback quoting it shows it redacted
        try:
            document = json.loads(secret_string)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            self.add(
                prefix, "credentials", FAIL, 'the secret is not JSON; ECR expects {"username": ..., "accessToken": ...}'
            )
            return None
        missing = [k for k in ("username", "accessToken") if not isinstance(document.get(k), str) or not document[k]]
        if missing:
            self.add(
                prefix,
                "credentials",
                FAIL,
                f'the secret has no {" or ".join(missing)}; ECR expects {{"username": ..., "accessToken": ...}}',
            )
            return None
        self.add(prefix, "credentials", PASS, "JSON with username and accessToken")
        token: str = document["accessToken"]
        remember_secret(token)
        return token

    def check_live_scopes(self, prefix: str, kind: str, token: str | None, declared_scopes: list[str]) -> None:
        if token is None:
            self.add(prefix, "live-scopes", SKIP, "the token could not be read here")
            return
        try:
            info = token_scopes.LOOKUPS[kind](token, self.apis[kind])
        except token_scopes.ScopeLookupError as exc:
            self.add(prefix, "live-scopes", FAIL, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - any other failure may quote the token: report its type only
            self.add(prefix, "live-scopes", FAIL, f"the lookup failed ({type(exc).__name__}); the token is not shown")
            return
        allowed = catalog.get_kind(kind).allowed_scopes
        declared = set(declared_scopes)
        excess = sorted(set(info.scopes) - (declared & allowed))
        if not info.active:
            self.add(prefix, "live-scopes", FAIL, "the upstream reports the token inactive or revoked")
        elif excess:
            self.add(
                prefix,
                "live-scopes",
                FAIL,
                f"the token really has {', '.join(excess)} beyond its declared "
                f"scopes ({', '.join(sorted(declared)) or 'none'}): reissue it",
            )
        else:
            self.add(prefix, "live-scopes", PASS, f"the upstream reports {', '.join(info.scopes)}")

    # ---- the template ----------------------------------------------------------------------

    def check_template(self, prefix: str, upstream: dict[str, Any], template: dict[str, Any] | None) -> None:
        if template is None:
            self.add(
                prefix,
                "template",
                FAIL,
                "no repository creation template for this prefix: cached repositories get ECR's defaults",
            )
            return
        want = upstream.get("template") or {}
        have = {
            "image_tag_mutability": template.get("imageTagMutability", "MUTABLE"),
            "image_tag_mutability_exclusion_filters": sorted(
                f["filter"] for f in template.get("imageTagMutabilityExclusionFilters") or []
            ),
            "lifecycle_policy": canonical(template.get("lifecyclePolicy")),
            "encryption_type": (template.get("encryptionConfiguration") or {}).get("encryptionType", "AES256"),
            "kms_key_arn": (template.get("encryptionConfiguration") or {}).get("kmsKey") or None,
            "resource_tags": {t["Key"]: t["Value"] for t in template.get("resourceTags") or []},
            "applied_for": sorted(template.get("appliedFor") or []),
            "repository_policy": canonical(template.get("repositoryPolicy")),
        }
        expected = {
            "image_tag_mutability": want.get("image_tag_mutability", "MUTABLE"),
            "image_tag_mutability_exclusion_filters": sorted(want.get("image_tag_mutability_exclusion_filters") or []),
            "lifecycle_policy": canonical(want.get("lifecycle_policy")),
            "encryption_type": want.get("encryption_type", "AES256"),
            "kms_key_arn": want.get("kms_key_arn") or None,
            "resource_tags": dict(want.get("resource_tags") or {}),
            "applied_for": sorted(want.get("applied_for") or ["PULL_THROUGH_CACHE"]),
            "repository_policy": canonical(want.get("repository_policy")),
        }
        wrong = [k for k in expected if have[k] != expected[k]]
        if wrong:
            self.add(prefix, "template", FAIL, f"differs from the stack in {', '.join(wrong)}: run `pulumi up`")
        else:
            self.add(
                prefix,
                "template",
                PASS,
                f"{expected['image_tag_mutability']}, {expected['encryption_type']}, lifecycle policy as deployed",
            )


# --------------------------------------------------------------------------------------------
# The verb
# --------------------------------------------------------------------------------------------

STYLE = {PASS: "green", FAIL: "bold red", WARN: "yellow", SKIP: "dim", UNCHECKED: "magenta"}


def run(args: Any, console: Any) -> int:
    from rich.text import Text

    from .aws import DEFAULT_DEADLINE, confirm_identity
    from .exits import EXIT_FAILED, EXIT_OK, EXIT_UNCHECKED
    from .outputs import registry_outputs

    outputs, account, region = registry_outputs(args.outputs, args.region)
    aws = Aws(region, args.endpoint_url, deadline=getattr(args, "deadline", DEFAULT_DEADLINE))
    confirm_identity(aws, account, region, getattr(args, "account", None))
    verifier = Verifier(
        aws,
        outputs,
        account=account,
        region=region,
        max_token_age_days=args.max_token_age_days,
        check_token_scopes=args.check_token_scopes,
        gitlab_api=args.gitlab_api_url,
        github_api=args.github_api_url,
    )
    checks = verifier.run()
    counts = {status: sum(c.status == status for c in checks) for status in (PASS, FAIL, WARN, SKIP, UNCHECKED)}
    if args.json:
        print(json.dumps({"checks": [asdict(c) for c in checks], "summary": counts}, indent=2))
    else:
        width = max((len(c.upstream) for c in checks), default=8)
        for check in checks:
            line = Text(f"{check.status.upper():<5}", style=STYLE[check.status])
            line.append(f" {check.upstream:<{width}}  {check.check:<12} {check.detail}")
            console.print(line, soft_wrap=True)
        console.print(
            f"{len(checks)} checks: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[WARN]} warnings, "
            f"{counts[SKIP]} skipped" + (f", {counts[UNCHECKED]} not checked" if counts[UNCHECKED] else "")
        )
    if any(c.upstream == "*" and c.status in (FAIL, UNCHECKED) for c in checks):
        return EXIT_UNCHECKED  # the registry itself could not be read
    if counts[FAIL]:
        return EXIT_FAILED
    return EXIT_UNCHECKED if counts[UNCHECKED] else EXIT_OK
