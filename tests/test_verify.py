"""`ptc verify`: Secrets Manager on moto, the rule and template APIs (which moto lacks) through a Stubber,
and a local HTTP server playing GitLab and GitHub for the live token scopes."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from rich.console import Console

from ecr_pull_through_cache.lifecycle import default_lifecycle_policy
from ptc import verify as verify_module
from ptc.aws import Aws
from ptc.token_scopes import ScopeLookupError, github_token, gitlab_token
from ptc.verify import Verifier
from tests.aws_support import ACCOUNT, CREDENTIALS, REGION, outputs, upstream

TOKEN = "glpat-live-token-never-printed"
HUB_TOKEN = "dckr_pat_never_printed"


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def rule(prefix: str, up: dict[str, Any]) -> dict[str, Any]:
    found = {"ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": up["upstream_url"], "registryId": ACCOUNT}
    for key, name in (("credential_arn", "credentialArn"), ("custom_role_arn", "customRoleArn")):
        if up.get(key):
            found[name] = up[key]
    if up["kind"] == "ecr":
        found["upstreamRepositoryPrefix"] = up.get("upstream_prefix") or "ROOT"
    return found


def template(prefix: str, up: dict[str, Any]) -> dict[str, Any]:
    t = up["template"]
    found = {
        "prefix": prefix,
        "imageTagMutability": t["image_tag_mutability"],
        "lifecyclePolicy": t["lifecycle_policy"],
        "encryptionConfiguration": {"encryptionType": t["encryption_type"]},
        "resourceTags": [{"Key": k, "Value": v} for k, v in t["resource_tags"].items()],
        "appliedFor": t["applied_for"],
    }
    if t["image_tag_mutability_exclusion_filters"]:
        found["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": f} for f in t["image_tag_mutability_exclusion_filters"]
        ]
    return found


class Registry:
    """A moto account with secrets, plus the stubbed ECR answers a deployed stack would give."""

    def __init__(self):
        self.aws = Aws(REGION)
        self.secrets = self.aws.client("secretsmanager")
        self.upstreams: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.validation: dict[str, dict[str, Any]] = {}

    def secret(self, name: str, value: Any, scopes: str | None, region: str = REGION) -> str:
        client = self.secrets if region == REGION else Aws(region).client("secretsmanager")
        tags = [{"Key": "ptc:token-scopes", "Value": scopes}] if scopes else []
        text = value if isinstance(value, str) else json.dumps(value)
        return client.create_secret(Name=name, SecretString=text, Tags=tags)["ARN"]

    def add(self, prefix: str, up: dict[str, Any]) -> None:
        self.upstreams[prefix] = up
        self.rules[prefix] = rule(prefix, up)
        self.templates[prefix] = template(prefix, up)
        if up.get("credential_arn") or up.get("custom_role_arn"):
            self.validation[prefix] = {"isValid": True}

    def stub(self) -> Stubber:
        """The ECR answers of one verify run, in the order it asks."""
        stub = Stubber(self.aws.client("ecr"))
        stub.add_response("describe_pull_through_cache_rules", {"pullThroughCacheRules": list(self.rules.values())})
        stub.add_response(
            "describe_repository_creation_templates", {"repositoryCreationTemplates": list(self.templates.values())}
        )
        for prefix in sorted(self.upstreams):
            if prefix in self.validation and prefix in self.rules:
                stub.add_response(
                    "validate_pull_through_cache_rule",
                    {"ecrRepositoryPrefix": prefix, **self.validation[prefix]},
                    {"ecrRepositoryPrefix": prefix},
                )
        return stub

    def verify(self, **options: Any) -> dict[tuple[str, str], tuple[str, str]]:
        verifier = Verifier(self.aws, outputs(self.upstreams), account=ACCOUNT, region=REGION, **options)
        with self.stub() as stub:
            checks = verifier.run()
            stub.assert_no_pending_responses()
        return {(c.upstream, c.check): (c.status, c.detail) for c in checks}


@pytest.fixture
def registry():
    with mock_aws():
        r = Registry()
        arn = r.secret(
            "ecr-pullthroughcache/dev/docker-hub-x1", {"username": "bot", "accessToken": HUB_TOKEN}, "repo:public_read"
        )
        r.add("docker-hub", upstream("docker-hub", "registry-1.docker.io", "docker-hub", arn))
        r.add("quay", upstream("quay", "quay.io", "quay"))
        r.add(
            "golden",
            upstream(
                "ecr",
                "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
                "golden",
                custom_role_arn=f"arn:aws:iam::{ACCOUNT}:role/dev-golden-upstream",
                upstream_prefix="release",
            ),
        )
        yield r


def statuses(results) -> dict[tuple[str, str], str]:
    return {k: v[0] for k, v in results.items()}


def test_a_healthy_registry_passes_every_check(registry):
    results = registry.verify()
    assert statuses(results) == {
        ("docker-hub", "rule"): "pass",
        ("docker-hub", "validation"): "pass",
        ("docker-hub", "secret"): "pass",
        ("docker-hub", "scopes"): "pass",
        ("docker-hub", "token-age"): "pass",
        ("docker-hub", "credentials"): "pass",
        ("docker-hub", "template"): "pass",
        ("golden", "rule"): "pass",
        ("golden", "validation"): "pass",
        ("golden", "template"): "pass",
        ("quay", "rule"): "pass",
        ("quay", "template"): "pass",
    }
    assert results[("docker-hub", "secret")][1] == f"ecr-pullthroughcache/dev/docker-hub-x1 in {ACCOUNT}/{REGION}"


def test_missing_or_different_rules(registry):
    del registry.rules["quay"]
    registry.rules["docker-hub"]["upstreamRegistryUrl"] = "index.docker.io"
    results = registry.verify()
    assert results[("quay", "rule")] == ("fail", "no pull through cache rule with this prefix: run `pulumi up`")
    assert results[("docker-hub", "rule")][0] == "fail"
    assert "upstreamRegistryUrl is 'index.docker.io', not 'registry-1.docker.io'" in results[("docker-hub", "rule")][1]


def test_validation_failure_is_reported_verbatim(registry):
    failure = "Unable to retrieve credentials from the secret: AccessDeniedException when calling GetSecretValue"
    registry.validation["docker-hub"] = {"isValid": False, "failure": failure}
    assert registry.verify()[("docker-hub", "validation")] == ("fail", f"ECR cannot use the rule: {failure}")


def test_a_secret_scheduled_for_deletion(registry):
    registry.secrets.delete_secret(SecretId=registry.upstreams["docker-hub"]["credential_arn"], RecoveryWindowInDays=7)
    status, detail = registry.verify()[("docker-hub", "secret")]
    assert status == "fail" and "is scheduled for deletion" in detail and "restore-secret" in detail


def test_a_secret_outside_the_prefix_and_one_in_another_region(registry):
    outside = registry.secret("dockerhub/creds", {"username": "u", "accessToken": "t"}, "repo:read")
    registry.add("hub2", upstream("docker-hub", "registry-1.docker.io", "hub2", outside))
    elsewhere = registry.secret(
        "ecr-pullthroughcache/hub3", {"username": "u", "accessToken": "t"}, "repo:read", region="eu-west-1"
    )
    registry.add("hub3", upstream("docker-hub", "registry-1.docker.io", "hub3", elsewhere))
    results = registry.verify()
    status, detail = results[("hub2", "secret")]
    assert status == "fail" and "outside 'ecr-pullthroughcache/'" in detail
    assert results[("hub3", "secret")][0] == "fail"  # not found from the rule's region: ECR could not read it either


@pytest.mark.parametrize(
    "scopes, status, detail",
    [
        ("repo:public_read repo:write", "fail", "declared scopes beyond least privilege: repo:write"),
        (None, "fail", "declares no ptc:token-scopes tag"),
        ("repo:read", "pass", "declared repo:read"),
    ],
)
def test_declared_scopes(registry, scopes, status, detail):
    arn = registry.secret("ecr-pullthroughcache/dev/hub2", {"username": "u", "accessToken": "t"}, scopes)
    registry.add("hub2", upstream("docker-hub", "registry-1.docker.io", "hub2", arn))
    found, text = registry.verify()[("hub2", "scopes")]
    assert found == status and detail in text


@pytest.mark.parametrize(
    "value, detail",
    [
        ("not json", "the secret is not JSON"),
        ({"username": "bot"}, "the secret has no accessToken"),
        ({"user": "bot", "token": "t"}, "the secret has no username or accessToken"),
    ],
)
def test_credentials_that_ecr_cannot_use(registry, value, detail):
    arn = registry.secret("ecr-pullthroughcache/dev/hub2", value, "repo:read")
    registry.add("hub2", upstream("docker-hub", "registry-1.docker.io", "hub2", arn))
    status, text = registry.verify()[("hub2", "credentials")]
    assert status == "fail" and detail in text


def test_token_age_against_the_rotation_limit(registry):
    later = datetime.now(UTC) + timedelta(days=120)
    assert registry.verify(now=later)[("docker-hub", "token-age")] == (
        "fail",
        "the token is 120 days old, over the 90-day rotation limit: rotate it",
    )
    assert registry.verify(now=later, max_token_age_days=180)[("docker-hub", "token-age")][0] == "pass"
    assert registry.verify(now=later, max_token_age_days=125)[("docker-hub", "token-age")] == (
        "warn",
        "the token is 120 days old: rotate it within 5 days",
    )


def test_reading_the_secret_may_be_denied_without_failing(registry):
    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetSecretValue")

    registry.secrets.meta.events.register("before-call.secrets-manager.GetSecretValue", deny)
    status, detail = registry.verify()[("docker-hub", "credentials")]
    assert status == "skip" and "ECR reads it with its own role" in detail


def test_template_drift_and_absence(registry):
    registry.templates["docker-hub"]["imageTagMutability"] = "MUTABLE"
    registry.templates["docker-hub"]["lifecyclePolicy"] = default_lifecycle_policy(1, 1)
    del registry.templates["quay"]
    results = registry.verify()
    assert results[("docker-hub", "template")] == (
        "fail",
        "differs from the stack in image_tag_mutability, lifecycle_policy: run `pulumi up`",
    )
    assert results[("quay", "template")][0] == "fail"


# --------------------------------------------------------------------------------------------
# Live token scopes against a local server playing GitLab and GitHub
# --------------------------------------------------------------------------------------------


class Upstreams(BaseHTTPRequestHandler):
    gitlab: dict[str, dict[str, Any]] = {}
    github: dict[str, str] = {}

    def do_GET(self):  # noqa: N802
        if self.path == "/api/v4/personal_access_tokens/self":
            token = self.headers.get("PRIVATE-TOKEN")
            body = self.gitlab.get(token)
            self._answer(200 if body else 401, body or {"message": "401 Unauthorized"})
        elif self.path == "/":
            token = (self.headers.get("Authorization") or "").removeprefix("token ")
            if token not in self.github:
                self._answer(401, {"message": "Bad credentials"})
            else:
                self._answer(200, {}, {"X-OAuth-Scopes": self.github[token]} if self.github[token] is not None else {})
        else:
            self._answer(404, {})

    def _answer(self, status, body, headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def upstream_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstreams)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Upstreams.gitlab = {
        TOKEN: {"scopes": ["read_registry"], "active": True},
        "glpat-too-much": {"scopes": ["read_registry", "api"], "active": True},
        "glpat-revoked": {"scopes": ["read_registry"], "active": False, "revoked": True},
    }
    Upstreams.github = {
        "ghp_ok": "read:packages",
        "ghp_wide": "read:packages, repo, delete_repo",
        "github_pat_fine": None,
    }
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_scope_lookups(upstream_api):
    assert gitlab_token(TOKEN, upstream_api).scopes == ("read_registry",)
    assert not gitlab_token("glpat-revoked", upstream_api).active
    assert github_token("ghp_wide", upstream_api).scopes == ("read:packages", "repo", "delete_repo")
    with pytest.raises(ScopeLookupError, match="fine-grained token"):
        github_token("github_pat_fine", upstream_api)
    with pytest.raises(ScopeLookupError, match="answered 401"):
        gitlab_token("glpat-unknown", upstream_api)
    with pytest.raises(ScopeLookupError, match="cannot reach"):
        gitlab_token(TOKEN, "http://127.0.0.1:9")


@pytest.mark.parametrize(
    "kind, token, scopes, status, detail",
    [
        ("gitlab-container-registry", TOKEN, "read_registry", "pass", "the upstream reports read_registry"),
        ("gitlab-container-registry", "glpat-too-much", "read_registry", "fail", "really has api beyond"),
        ("gitlab-container-registry", "glpat-revoked", "read_registry", "fail", "inactive or revoked"),
        ("github-container-registry", "ghp_ok", "read:packages", "pass", "reports read:packages"),
        ("github-container-registry", "ghp_wide", "read:packages", "fail", "really has delete_repo, repo beyond"),
        ("github-container-registry", "github_pat_fine", "read:packages", "fail", "GHCR does not accept"),
    ],
)
def test_live_scopes_against_the_declared_ones(registry, upstream_api, kind, token, scopes, status, detail):
    url = {"gitlab-container-registry": "registry.gitlab.com", "github-container-registry": "ghcr.io"}[kind]
    arn = registry.secret("ecr-pullthroughcache/dev/live", {"username": "bot", "accessToken": token}, scopes)
    registry.add("live", upstream(kind, url, "live", arn))
    results = registry.verify(check_token_scopes=True, gitlab_api=upstream_api, github_api=upstream_api)
    assert results[("live", "live-scopes")][0] == status
    assert detail in results[("live", "live-scopes")][1]


def test_the_verb_prints_one_line_per_check_and_never_a_token(registry, upstream_api, monkeypatch, tmp_path):
    arn = registry.secret("ecr-pullthroughcache/dev/gitlab", {"username": "bot", "accessToken": TOKEN}, "read_registry")
    registry.add("gitlab", upstream("gitlab-container-registry", "registry.gitlab.com", "gitlab", arn))
    registry.validation["gitlab"] = {"isValid": False, "failure": "Invalid credentials for the upstream registry"}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs(registry.upstreams)))

    monkeypatch.setattr(verify_module, "Aws", lambda region, endpoint, **_: registry.aws)
    args = SimpleNamespace(
        outputs=str(path),
        region=None,
        endpoint_url=None,
        json=False,
        max_token_age_days=90,
        check_token_scopes=True,
        gitlab_api_url=upstream_api,
        github_api_url=upstream_api,
    )

    buffer = io.StringIO()
    with registry.stub():
        code = verify_module.run(args, Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert code == 1
    lines = text.strip().splitlines()
    assert (
        "FAIL  gitlab      validation   ECR cannot use the rule: Invalid credentials for the upstream registry" in lines
    )
    assert lines[-1].startswith(f"{len(lines) - 1} checks: ")

    args.json = True
    with registry.stub():
        code, printed = _capture_json(args, Console(file=io.StringIO()))
    document = json.loads(printed)
    assert code == 1 and document["summary"]["fail"] == 1
    assert {"upstream", "check", "status", "detail"} == set(document["checks"][0])
    for shown in (text, printed):
        assert TOKEN not in shown and HUB_TOKEN not in shown


def _capture_json(args, console):
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = verify_module.run(args, console)
    return code, out.getvalue()


@pytest.mark.parametrize(
    "age, status, words",
    [
        (10, "pass", "expires in 80 days"),
        (80, "warn", "inside its 14-day rotation window"),
        (95, "fail", "expired 5 days ago"),
    ],
)
def test_a_stack_made_token_reports_its_expiry_and_warns_in_the_rotation_window(age, status, words):
    from datetime import UTC, datetime, timedelta

    from ptc.verify import Verifier

    verifier = Verifier.__new__(Verifier)
    verifier.checks, verifier.now = [], datetime(2026, 12, 2, tzinfo=UTC)
    verifier.check_expiry(
        "gitlab",
        {"ptc:token-expires-in-days": "90", "ptc:token-rotate-before-days": "14"},
        verifier.now - timedelta(days=age),
    )
    [check] = verifier.checks
    assert (check.check, check.status) == ("token-expiry", status) and words in check.detail
