"""The lasting guard: every resource as the AWS request that creates it, checked by botocore's model and quotas.

The committed stacks, an all-kinds stack and a generated worst case (50 upstreams, 30-character prefixes,
maximal tags) must draw no finding; one crafted request per rule class must draw its finding; and a
property test holds the class shut: whatever the config validation accepts, AWS's model accepts too.
"""

from __future__ import annotations

import copy
import json
import string
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache import config as config_module
from ptc import aws_api
from ptc.mock_engine import FAKE_ACCOUNT_ID, SECRET_SIG, SIG_KEY, run_program
from tests.conftest import BASE_CONFIG, ROOT, TOKENS, run_stack, stack_config, stack_file

REGION = "us-east-2"


def findings_of(config: dict[str, Any], *, preview: bool = False, stack: str = "test") -> list[aws_api.Finding]:
    result = run_program(ROOT, stack_config(config, stack), preview=preview)
    assert result.error is None, result.error
    return aws_api.check(result.resources, account=FAKE_ACCOUNT_ID, region=config["aws:region"])


# --------------------------------------------------------------------------------------------
# Stacks that must pass
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_committed_stacks_make_only_requests_aws_accepts(stack, preview):
    result = run_program(ROOT, stack_config(stack_file(stack), stack), preview=preview)
    assert result.error is None
    assert aws_api.check(result.resources, account=FAKE_ACCOUNT_ID, region=stack_config(stack_file(stack)).region) == []
    assert {r.type for r in result.resources if r.custom} <= set(aws_api.REQUESTS) | aws_api.NO_REQUEST


ALL_KINDS: dict[str, Any] = {
    "aws:region": REGION,
    "environment": "stage",
    "tags": {"team": "platform", "cost center": "cc-1234", "owner": "plattform@beispiel.de"},
    "iam": {"path": "/platform/ptc/", "permissions_boundary": "arn:aws:iam::123456789012:policy/boundary"},
    "kms": {"create_key": True},
    "scanning": {"scan_type": "ENHANCED", "frequency": "CONTINUOUS_SCAN"},
    "consumers": {"account_ids": ["210987654321", "333333333333"], "organization_id": "o-abcdefghij"},
    "registry_policy_statements": [
        {
            "Sid": "ReplicationFromBuildAccount",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::444444444444:root"},
            "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
            "Resource": "arn:aws:ecr:us-east-2:123456789012:repository/*",
        }
    ],
    "template": {
        "image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
        "image_tag_mutability_exclusion_filters": ["latest", "nightly-*"],
        "applied_for": ["PULL_THROUGH_CACHE", "REPLICATION"],
    },
    "upstreams": [
        {"kind": "ecr-public"},
        {"kind": "k8s"},
        {"kind": "quay", "template": {"tag_repositories": False, "encryption": "AES256"}},
        {
            "kind": "docker-hub",
            "username": "acme-bot",
            "token_scopes": ["repo:public_read"],
            "template": {"resource_tags": {"mirror-of": "docker.io"}},
        },
        {
            "kind": "github-container-registry",
            "username": "acme-bot",
            "token_scopes": ["read:packages"],
            "random_suffix": True,
        },
        {
            "kind": "azure-container-registry",
            "registry": "acmeprod",
            "username": "ptc-token",
            "token_scopes": ["content/read", "metadata/read"],
        },
        {"kind": "gitlab-container-registry", "username": "ptc-bot", "token_scopes": ["read_registry"]},
        {
            "kind": "chainguard",
            "existing_secret": "ecr-pullthroughcache/shared/chainguard",
            "token_scopes": ["registry.pull"],
        },
        {
            "kind": "ecr",
            "prefix": "golden",
            "registry": "210987654321.dkr.ecr.eu-west-1.amazonaws.com",
            "upstream_prefix": "release",
            "template": {
                "repository_policy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ReleaseReaders",
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::555555555555:root"},
                            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                        }
                    ],
                }
            },
        },
    ],
    "credentials": {
        p: {"secure": TOKENS[k]}
        for p, k in (("docker-hub", "docker-hub"), ("github", "github"), ("azure", "azure"), ("gitlab", "gitlab"))
    },
}


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_an_all_kinds_stack_with_every_feature_is_accepted(preview):
    assert findings_of(ALL_KINDS, preview=preview) == []


def worst_case() -> dict[str, Any]:
    """50 upstreams (ECR's quota) with 30-character prefixes, and as many maximal tags as AWS allows."""
    kinds = ["ecr-public", "k8s", "quay", "docker-hub"]  # prefixes ecrx00-mmm..., k8sx01-mmm..., ...
    upstreams, credentials = [], {}
    for index in range(50):
        kind = kinds[index % len(kinds)]
        prefix = f"{kind[:3]}x{index:02d}-" + "m" * 23
        assert len(prefix) == 30
        entry: dict[str, Any] = {"kind": kind, "prefix": prefix}
        if kind == "docker-hub":
            entry.update(username="u" * 60, token_scopes=["repo:public_read", "repo:read"])
            credentials[prefix] = {"secure": "dckr_pat_" + "x" * 200}
        upstreams.append(entry)
    room = 50 - len(config_module.RESERVED_TAGS)
    tags = {f"{i:02d}" + "k" * 126: "v" * 256 for i in range(room)}
    return {
        "aws:region": "ap-southeast-2",
        "environment": "e" * 16,
        "tags": tags,
        "upstreams": upstreams,
        "credentials": credentials,
        "consumers": {"organization_id": "o-" + "a" * 32},
        "scanning": {"scan_type": "ENHANCED", "frequency": "SCAN_ON_PUSH"},
    }


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_the_worst_case_stack_is_accepted(preview):
    assert findings_of(worst_case(), preview=preview) == []


# --------------------------------------------------------------------------------------------
# One crafted request per rule class
# --------------------------------------------------------------------------------------------


@dataclass
class Fake:
    type: str
    name: str
    properties: dict[str, Any]
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    parent_type: str = ""

    @property
    def urn(self) -> str:
        chain = f"{self.parent_type}${self.type}" if self.parent_type else self.type
        return f"urn:pulumi:test::p::{chain}::{self.name}"


def secret(value: Any) -> dict[str, Any]:
    return {SIG_KEY: SECRET_SIG, "value": value}


def rule(prefix: str = "docker-hub", **extra: Any) -> Fake:
    return Fake(
        aws_api.RULE, "t-rule", {"ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": "registry-1.docker.io", **extra}
    )


def template(**extra: Any) -> Fake:
    return Fake(
        aws_api.TEMPLATE, "t-template", {"prefix": "docker-hub", "appliedFors": ["PULL_THROUGH_CACHE"], **extra}
    )


def big_policy(statements: int) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"S{i}",
                    "Effect": "Allow",
                    "Action": "ecr:BatchGetImage",
                    "Resource": f"arn:aws:ecr:us-east-2:123456789012:repository/prefix-{i:04d}/*",
                }
                for i in range(statements)
            ],
        }
    )


CASES = [
    ("prefix over 30 characters", [rule("a" * 31)], "ecrRepositoryPrefix", "is 31 characters"),
    ("prefix outside ECR's pattern", [rule("Docker_Hub")], "ecrRepositoryPrefix", "does not match"),
    (
        "credential ARN outside ecr-pullthroughcache/",
        [rule(credentialArn=("arn:aws:secretsmanager:us-east-2:123456789012:secret:dockerhub-credentials-AbCdEf"))],
        "credentialArn",
        "does not match",
    ),
    ("unknown tag mutability", [template(imageTagMutability="FROZEN")], "imageTagMutability", "is not one of"),
    (
        "six exclusion filters",
        [
            template(
                imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": f"t{i}"} for i in range(6)]
            )
        ],
        "imageTagMutabilityExclusionFilters",
        "has 6 entries",
    ),
    (
        "KMS_DSSE outside GovCloud",
        [template(encryptionConfigurations=[{"encryptionType": "KMS_DSSE"}])],
        "encryptionConfiguration.encryptionType",
        "only in the AWS GovCloud",
    ),
    ("lifecycle policy over 30,720", [template(lifecyclePolicy="x" * 30721)], "lifecyclePolicy", "is 30721 characters"),
    (
        "credentials secret under a customer-managed key",
        [
            Fake(
                aws_api.SECRET,
                "t-secret",
                {
                    "namePrefix": "ecr-pullthroughcache/dev/hub-",
                    "kmsKeyId": "arn:aws:kms:us-east-2:123456789012:key/abc",
                },
            )
        ],
        "KmsKeyId",
        "no KMS permission",
    ),
    (
        "51 tags",
        [Fake(aws_api.ROLE, "t-role", {"assumeRolePolicy": "{}", "tags": {f"k{i}": "v" for i in range(51)}})],
        "Tags",
        "has 51",
    ),
    (
        "a tag value AWS refuses",
        [Fake(aws_api.ROLE, "t-role", {"assumeRolePolicy": "{}", "tags": {"k": "a#b"}})],
        "Tags[0].Value",
        "does not match",
    ),
    (
        "an aws: tag",
        [Fake(aws_api.POLICY, "t-policy", {"policy": "{}", "tags": {"aws:team": "x"}})],
        "Tags[0]",
        "reserved by AWS",
    ),
    (
        "an auto-named role over 64 characters",
        [Fake(aws_api.ROLE, "r" * 57, {"assumeRolePolicy": "{}"})],
        "RoleName",
        "is 65 characters",
    ),
    (
        "a policy path roles accept but policies do not",
        [Fake(aws_api.POLICY, "t-policy", {"policy": "{}", "path": "/a~b/"})],
        "Path",
        "does not match",
    ),
    (
        "managed policy over 6,144",
        [Fake(aws_api.POLICY, "t-policy", {"policy": big_policy(70)})],
        "PolicyDocument",
        "6144 per managed policy",
    ),
    (
        "inline policies over 10,240 per role",
        [
            Fake(
                aws_api.ROLE_POLICY,
                f"t-inline-{i}",
                {"role": "r", "policy": big_policy(40)},
                {"role": ["urn:pulumi:test::p::aws:iam/role:Role::t-role"]},
            )
            for i in range(2)
        ],
        "PolicyDocument",
        "10240 per role",
    ),
    (
        "registry policy over 10,240",
        [Fake("aws:ecr/registryPolicy:RegistryPolicy", "t-registry", {"policy": big_policy(120)})],
        "policyText",
        "AWS allows 0 to 10240",
    ),
    (
        "scanning filter with '--'",
        [
            Fake(
                "aws:ecr/registryScanningConfiguration:RegistryScanningConfiguration",
                "t-scan",
                {
                    "scanType": "BASIC",
                    "rules": [
                        {
                            "scanFrequency": "SCAN_ON_PUSH",
                            "repositoryFilters": [{"filter": "a--b/*", "filterType": "WILDCARD"}],
                        }
                    ],
                },
            )
        ],
        "rules[0].repositoryFilters[0].filter",
        "does not match",
    ),
    (
        "key deletion window out of range",
        [Fake("aws:kms/key:Key", "t-kms", {"deletionWindowInDays": 400})],
        "PendingWindowInDays",
        "1 to 365",
    ),
    (
        "the stack's own registry as upstream",
        [rule("golden", upstreamRegistryUrl=f"{FAKE_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com")],
        "upstreamRegistryUrl",
        "own registry",
    ),
    (
        "51 rules",
        [
            Fake(aws_api.RULE, f"r{i}", {"ecrRepositoryPrefix": f"p{i:02d}", "upstreamRegistryUrl": "quay.io"})
            for i in range(51)
        ],
        "ecrRepositoryPrefix",
        "51 rules",
    ),
    (
        "a type with no request model inside a component",
        [Fake("aws:s3/bucket:Bucket", "t-bucket", {}, parent_type="ecr-pull-through-cache:index:UpstreamCache")],
        "",
        "no AWS request model",
    ),
]


def test_a_users_own_resource_of_an_unmodelled_type_is_listed_not_refused():
    """A program that uses the components beside its own resources (a workload, a bucket) previews: only a type one
    of our components emits must be modelled."""
    own = Fake("aws:s3/bucket:Bucket", "logs", {})
    nested = Fake("aws:ecs/taskDefinition:TaskDefinition", "t", {}, parent_type="acme:index:Workload")
    assert aws_api.check([own, nested], account=FAKE_ACCOUNT_ID, region=REGION) == []
    assert aws_api.unmodelled([own, nested, rule()]) == [
        "aws:ecs/taskDefinition:TaskDefinition",
        "aws:s3/bucket:Bucket",
    ]
    assert aws_api.from_component("urn:pulumi:s::p::acme:index:X$ecr-pull-through-cache:index:UpstreamCache$aws:x:Y::n")
    assert not aws_api.from_component("urn:pulumi:s::p::ecr-pull-through-cache:index:UpstreamCache::n")
    assert not aws_api.from_component("not a urn")


@pytest.mark.parametrize("case, resources, field_, message", CASES, ids=[c[0] for c in CASES])
def test_each_rule_draws_its_finding(case, resources, field_, message):
    findings = aws_api.check(resources, account=FAKE_ACCOUNT_ID, region=REGION)
    hits = [f for f in findings if f.field == field_ and message in f.rule]
    assert hits, [str(f) for f in findings]
    assert all(f.fix for f in findings)


def test_a_secret_never_appears_in_a_finding():
    token = "glpat-" + "Zq7" * 23000  # over SecretString's 65,536
    version = Fake(
        "aws:secretsmanager/secretVersion:SecretVersion",
        "t-credentials",
        {"secretId": "x", "secretString": secret(json.dumps({"username": "u", "accessToken": token}))},
    )
    odd = Fake(aws_api.ROLE, "t-role", {"assumeRolePolicy": "{}", "description": secret("caf\u00e9 \u2603")})
    findings = aws_api.check([version, odd])
    assert [f.field for f in findings] == ["SecretString", "Description"]
    text = " ".join(str(f) for f in findings)
    assert "Zq7" not in text and "\u2603" not in text and "(a secret value)" in text


def test_unknown_values_are_skipped_not_guessed():
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert aws_api.check([rule(unknown, credentialArn=unknown), template(prefix=unknown)]) == []


def test_template_tags_over_the_quota_are_refused_at_config_time(tmp_path):
    """Templates add three tags of their own: 40 template tags and the stack's ten, each within its own quota, make
    53 on every cached repository, refused up front."""
    import subprocess
    import sys

    import yaml

    config = copy.deepcopy(stack_file("dev"))
    config["ecr-pull-through-cache:tags"] = {f"s{i}": "v" for i in range(10)}
    config["ecr-pull-through-cache:upstreams"][3]["template"] = {"resource_tags": {f"t{i:02d}": "v" for i in range(40)}}
    path = tmp_path / "Pulumi.ci.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    result = subprocess.run(
        [sys.executable, "-m", "ptc", "preview", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "resource_tags: with the stack's tags makes 50 repository tags" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# The class: what config validation accepts, AWS accepts
# --------------------------------------------------------------------------------------------

SEGMENT = st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True)
SEPARATOR = st.sampled_from([".", "_", "__", "-", "--", "/"])
PREFIX = st.builds(lambda a, s, b: f"{a}{s}{b}", SEGMENT, SEPARATOR, SEGMENT).filter(lambda p: 2 <= len(p) <= 30)
TAG_TEXT = st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "Zs", "P", "S"]), max_size=40)
TAG_KEY = st.text(alphabet=string.ascii_letters + string.digits + " _.:/=+-@", min_size=1, max_size=128)


@st.composite
def configs(draw) -> dict[str, Any]:
    kinds = draw(
        st.lists(st.sampled_from(["ecr-public", "k8s", "quay", "docker-hub", "chainguard"]), min_size=1, max_size=5)
    )
    prefixes = draw(st.lists(PREFIX, min_size=len(kinds), max_size=len(kinds), unique=True))
    upstreams, credentials = [], {}
    for kind, prefix in zip(kinds, prefixes, strict=True):
        entry: dict[str, Any] = {"kind": kind, "prefix": prefix}
        if kind == "docker-hub":
            entry.update(username="bot", token_scopes=["repo:read"])
            credentials[prefix] = {"secure": "dckr_pat_x"}
        if kind == "chainguard":
            entry.update(
                existing_secret=f"ecr-pullthroughcache/shared/{prefix.replace('/', '-')}",
                token_scopes=["registry.pull"],
            )
        entry["random_suffix"] = draw(st.booleans())
        upstreams.append(entry)
    config: dict[str, Any] = {
        "aws:region": draw(st.sampled_from(["us-east-2", "eu-central-1", "us-gov-west-1", "cn-north-1"])),
        "environment": draw(st.from_regex(r"[a-z0-9-]{1,16}", fullmatch=True)),
        "tags": draw(st.dictionaries(TAG_KEY, TAG_TEXT, max_size=6)),
        "upstreams": upstreams,
        "template": {
            "encryption": draw(st.sampled_from(["AES256", "KMS", "KMS_DSSE"])),
            "tag_repositories": draw(st.booleans()),
        },
        "iam": {"path": draw(st.sampled_from(["/", "/platform/", "/a.b/c_d/", "/x~y/", "/bad path/"]))},
    }
    if credentials:
        config["credentials"] = credentials
    if draw(st.booleans()):
        config["scanning"] = {"scan_type": "BASIC"}
    if draw(st.booleans()):
        config["kms"] = {"create_key": True}
    return config


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs())
def test_whatever_the_config_accepts_aws_accepts(config):
    result = run_program(ROOT, stack_config(config), preview=False)
    if isinstance(result.error, config_module.ConfigError):
        return  # refused up front, with a message: fine
    assert result.error is None, result.error
    assert aws_api.check(result.resources, account=FAKE_ACCOUNT_ID, region=config["aws:region"]) == []


@pytest.mark.e2e
def test_the_worst_case_previews_clean_through_every_phase(tmp_path):
    """`ptc preview` on the worst case: program, AWS phase and both policy packs, exit 0."""
    import subprocess
    import sys

    import yaml

    config = {k if k.startswith("aws:") else f"ecr-pull-through-cache:{k}": v for k, v in worst_case().items()}
    path = tmp_path / "Pulumi.worst.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    result = subprocess.run(
        [sys.executable, "-m", "ptc", "preview", "--config", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    document = json.loads(result.stdout)
    assert "aws_findings" not in document and not document["violations"]
    assert sum(r["type"] == aws_api.RULE for r in document["resources"]) == 50


def _model_patterns() -> list[str]:
    import gzip
    import os

    import botocore

    found: set[str] = set()
    for service in ("ecr", "iam", "secretsmanager", "kms"):
        root = os.path.join(os.path.dirname(botocore.__file__), "data", service)
        with gzip.open(os.path.join(root, max(os.listdir(root)), "service-2.json.gz")) as handle:
            shapes = json.load(handle)["shapes"]
        found.update(s["pattern"] for s in shapes.values() if "pattern" in s)
    return sorted(found)


MODEL_PATTERNS = _model_patterns()


def test_every_model_pattern_of_the_checked_services_compiles() -> None:
    """A pattern `regex` cannot read would end a preview with a traceback rather than a finding."""
    assert len(MODEL_PATTERNS) > 50
    for pattern in MODEL_PATTERNS:
        aws_api._pattern(pattern)


def test_a_tag_value_is_checked_against_its_unicode_categories() -> None:
    """IAM's tag pattern `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*` read as AWS reads it: letters of any script pass, a
    control character does not (Python's `re` cannot read `\\p{L}` at all)."""
    pattern = aws_api._pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
    assert pattern.fullmatch("Équipe ストア 42") is not None
    assert pattern.fullmatch("team\x07") is None


def test_the_model_is_read_from_botocore_and_nothing_is_kept_on_disk(tmp_path, monkeypatch) -> None:
    """botocore's data file is the authority: no copy of it under the user's cache folder to go stale."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    aws_api._input_shape.cache_clear()
    shape = aws_api._input_shape("ecr", "CreatePullThroughCacheRule")
    assert "ecrRepositoryPrefix" in shape.required_members
    assert list(tmp_path.iterdir()) == []
    aws_api._input_shape.cache_clear()


# --------------------------------------------------------------------------------------------
# GitLab token inputs, held to pulumi-gitlab's documented formats (read from the installed SDK)
# --------------------------------------------------------------------------------------------

DEPLOY_TOKEN = "gitlab:index/groupDeployToken:GroupDeployToken"
ACCESS_TOKEN = "gitlab:index/groupAccessToken:GroupAccessToken"


@pytest.mark.parametrize(
    "type_, props, field_, fragment",
    [
        (DEPLOY_TOKEN, {"expiresAt": "2027-01-04"}, "expiresAt", "not a time in RFC3339 format"),
        (DEPLOY_TOKEN, {"scopes": ["read_registry", "api"]}, "scopes", "'api' is not one of read_repository"),
        (ACCESS_TOKEN, {"expiresAt": "2027-01-04T00:00:00Z"}, "expiresAt", "not a date in YYYY-MM-DD format"),
        (ACCESS_TOKEN, {"accessLevel": "admin"}, "accessLevel", "'admin' is not one of no one, minimal, guest"),
    ],
)
def test_gitlab_inputs_the_provider_refuses_are_found(type_, props, field_, fragment):
    (finding,) = aws_api.check([Fake(type_, "t-token", {"group": "acme", "name": "n", **props})])
    assert finding.field == field_ and fragment in finding.rule


@pytest.mark.parametrize(
    "type_, props",
    [
        (DEPLOY_TOKEN, {"expiresAt": "2027-01-04T00:00:00Z", "scopes": ["read_registry"]}),
        (ACCESS_TOKEN, {"expiresAt": "2027-01-04", "accessLevel": "reporter", "scopes": ["read_registry"]}),
        (DEPLOY_TOKEN, {"expiresAt": aws_api.UNKNOWN}),  # known only after apply: not guessed
    ],
)
def test_gitlab_inputs_in_the_documented_formats_pass(type_, props):
    assert aws_api.check([Fake(type_, "t-token", {"group": "acme", "name": "n", **props})]) == []


@pytest.mark.parametrize("token_type", ["group-access-token", "group-deploy-token"])
def test_the_gitlab_tokens_the_components_make_pass_the_providers_formats(token_type):
    config = copy.deepcopy(BASE_CONFIG)
    config["upstreams"].append(
        {"kind": "gitlab-container-registry", "token": {"group": "acme/platform", "type": token_type}}
    )
    result = run_stack(config)
    assert result.error is None, result.error
    tokens = [r for r in result.resources if r.type in aws_api.GITLAB_MODULES]
    assert tokens and aws_api.check(tokens) == []


def test_a_template_repository_policy_that_names_resources_is_refused():
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "*"}]}
    (finding,) = aws_api.check([template(repositoryPolicy=json.dumps(policy))])
    assert finding.field == "repositoryPolicy" and "ECR refuses in a repository policy" in finding.rule
    del policy["Statement"][0]["Resource"]
    assert aws_api.check([template(repositoryPolicy=json.dumps(policy))]) == []
