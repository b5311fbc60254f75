"""The packs and the component validation agree: same facts, same verdicts on shared cases.

The packs carry their own copy of the catalog (they are published alone); these tests fail when
the copies drift. Verdicts come from `parse_settings` on one side and from the packs, over the
Analyzer protocol, on the other.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from ecr_pull_through_cache import catalog, naming
from ecr_pull_through_cache.config import ConfigError, StackContext, parse_settings
from ptc.analyzer import PolicyPacks, pack_dirs
from ptc.stack_config import make_stack_config
from tests.conftest import ROOT
from tests.policy_support import ACCOUNT, REGION, RULE, SECRET, UNKNOWN, Spec, build, secret_arn

sys.path[:0] = [str(ROOT / "policies" / "security"), str(ROOT / "policies" / "conventions")]
import facts  # noqa: E402  (the security pack's own facts)
import permissions  # noqa: E402
import resources  # noqa: E402  (the conventions pack's helpers)
import support  # noqa: E402

CONTEXT = StackContext(account_id=ACCOUNT, region=REGION)


# --------------------------------------------------------------------------------------------
# Same facts
# --------------------------------------------------------------------------------------------


def test_hosts_auth_and_scopes_agree_with_the_catalog():
    fixed = {k: v.url for k, v in catalog.KINDS.items() if v.url is not None}
    assert facts.KIND_HOSTS == fixed
    assert facts.SECRET_CREDENTIALS == {k for k, v in catalog.KINDS.items() if v.auth is catalog.Auth.SECRET}
    assert facts.NO_CREDENTIALS == {k for k, v in catalog.KINDS.items() if v.auth is catalog.Auth.NONE}
    assert facts.ROLE_CREDENTIALS == {k for k, v in catalog.KINDS.items() if v.auth is catalog.Auth.ROLE}
    assert {k: set(v) for k, v in facts.ALLOWED_SCOPES.items()} == {
        k: set(v.allowed_scopes) for k, v in catalog.KINDS.items() if v.allowed_scopes
    }


def test_patterns_agree_with_the_components():
    """The packs match with `fullmatch` (no anchors); the components keep botocore's anchored spelling."""
    assert f"^{facts.CREDENTIAL_ARN.pattern}$" == naming.CREDENTIAL_ARN_PATTERN
    assert f"^{resources.PREFIX.pattern}$" == naming.PREFIX_PATTERN
    assert facts.SECRET_PREFIX == naming.SECRET_NAME_PREFIX == resources.SECRET_PREFIX
    assert tuple(facts.GITLAB_TOKEN_TYPES) == catalog.GITLAB_TOKEN_TYPES


def test_no_pack_carries_a_copy_of_another_packs_module():
    """What both packs need lives once, in policies/pack-support (issue 28: hardening.py was copied into each)."""
    modules: dict[str, str] = {}
    for path in sorted((ROOT / "policies").glob("*/*.py")):
        if path.parent.name in ("security", "conventions") and path.name != "__main__.py":
            text = path.read_text()
            copied = [name for name, other in modules.items() if other == text]
            assert not copied, f"{path} is a copy of {copied[0]}"
            modules[str(path.relative_to(ROOT))] = text


def test_each_pack_pins_the_support_package_at_the_packs_version():
    """Each pack installs alone (`pulumi preview --policy-pack`, `pulumi policy publish`): its requirements.txt names
    the shared package at the version the packs carry, which the release publishes with them."""
    import re

    version = re.search(
        r'^version = "([^"]+)"$', (ROOT / "policies" / "pack-support" / "pyproject.toml").read_text(), re.M
    )
    assert version
    for pack in ("security", "conventions"):
        requirements = (ROOT / "policies" / pack / "requirements.txt").read_text()
        assert f"ecr-ptc-policy-support=={version.group(1)}" in requirements.splitlines(), pack
        declared = re.search(r"^version:\s*(\S+)", (ROOT / "policies" / pack / "PulumiPolicy.yaml").read_text(), re.M)
        assert declared and declared.group(1) == version.group(1), pack


@pytest.mark.parametrize("kind", catalog.KIND_NAMES)
def test_every_catalog_url_is_recognised_and_allowed(kind):
    registry = {"azure-container-registry": "acmeprod", "ecr": f"210987654321.dkr.ecr.{REGION}.amazonaws.com"}
    url = catalog.upstream_url(kind, registry.get(kind), REGION)
    assert facts.kind_of_url(url) == kind
    from fnmatch import fnmatchcase

    assert any(fnmatchcase(url, pattern) for pattern in facts.DEFAULT_ALLOWED_HOSTS)


# --------------------------------------------------------------------------------------------
# Same verdicts
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def packs():
    config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": REGION, "environment": "dev"})
    with PolicyPacks(pack_dirs(ROOT), config, dry_run=True) as running:
        yield running


def config_accepts(upstream: dict[str, Any], token: str | None = "tok") -> bool:
    credentials = {}
    key = upstream.get("prefix") or catalog.KINDS[upstream["kind"]].default_prefix
    if token is not None:
        credentials[key] = token
    raw = {"environment": "dev", "upstreams": [upstream], "credentials": credentials or None}
    try:
        parse_settings(raw, CONTEXT)
    except ConfigError:
        return False
    return True


def pack_accepts(packs, specs: list[Spec], policy: str) -> bool:
    violations = packs.run(build(specs)).violations
    return not [v for v in violations if v["policy"] == policy and v["level"] == "mandatory"]


SCOPE_CASES = [
    ("docker-hub", ["repo:public_read"]),
    ("docker-hub", ["repo:read"]),
    ("docker-hub", ["repo:write"]),
    ("docker-hub", ["repo:admin", "repo:read"]),
    ("github-container-registry", ["read:packages"]),
    ("github-container-registry", ["read:packages", "repo"]),
    ("azure-container-registry", ["content/read", "metadata/read"]),
    ("azure-container-registry", ["content/write"]),
    ("gitlab-container-registry", ["read_registry"]),
    ("gitlab-container-registry", ["read_registry", "api"]),
    ("gitlab-container-registry", ["write_registry"]),
    ("chainguard", ["registry.pull"]),
    ("chainguard", ["registry.push"]),
]


@pytest.mark.parametrize("kind, scopes", SCOPE_CASES)
def test_token_scopes_same_verdict(packs, kind, scopes):
    upstream = {"kind": kind, "username": "bot", "token_scopes": scopes}
    if kind == "azure-container-registry":
        upstream["registry"] = "acmeprod"
    secret = Spec(
        SECRET,
        "dev-x-secret",
        {
            "namePrefix": "ecr-pullthroughcache/dev/x-",
            "tags": {"environment": "dev", "ptc:upstream": kind, "ptc:token-scopes": " ".join(scopes)},
        },
    )
    assert config_accepts(upstream) == pack_accepts(packs, [secret], "token-scopes-least-privilege")


PREFIX_CASES = [
    "docker-hub",
    "mirror/quay",
    "team__x",
    "a.b-c",
    "ab",
    "a",
    "Docker",
    "x-",
    "a" * 30,
    "a" * 31,
    "-x",
    "a//b",
    "ROOT",
]


@pytest.mark.parametrize("prefix", PREFIX_CASES)
def test_prefixes_same_verdict(packs, prefix):
    rule = Spec(RULE, "dev-x-rule", {"ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": "public.ecr.aws"})
    assert config_accepts({"kind": "ecr-public", "prefix": prefix}, token=None) == pack_accepts(
        packs, [rule], "prefix-naming"
    )


CREDENTIAL_CASES = [
    (
        "quay with a token",
        {"kind": "quay"},
        "tok",
        {"upstreamRegistryUrl": "quay.io", "credentialArn": secret_arn("ecr-pullthroughcache/quay")},
    ),
    (
        "ecr-public with a token",
        {"kind": "ecr-public"},
        "tok",
        {"upstreamRegistryUrl": "public.ecr.aws", "credentialArn": secret_arn("ecr-pullthroughcache/x")},
    ),
    (
        "docker hub without a token",
        {"kind": "docker-hub", "username": "bot", "token_scopes": ["repo:read"]},
        None,
        {"upstreamRegistryUrl": "registry-1.docker.io"},
    ),
    (
        "docker hub with a token",
        {"kind": "docker-hub", "username": "bot", "token_scopes": ["repo:read"]},
        "tok",
        {"upstreamRegistryUrl": "registry-1.docker.io", "credentialArn": UNKNOWN},
    ),
    (
        "existing secret outside the prefix",
        {"kind": "docker-hub", "existing_secret": secret_arn("dockerhub/creds"), "token_scopes": ["repo:read"]},
        None,
        {"upstreamRegistryUrl": "registry-1.docker.io", "credentialArn": secret_arn("dockerhub/creds")},
    ),
    (
        "existing secret in another region",
        {
            "kind": "docker-hub",
            "token_scopes": ["repo:read"],
            "existing_secret": secret_arn("ecr-pullthroughcache/x", "eu-west-1"),
        },
        None,
        {
            "upstreamRegistryUrl": "registry-1.docker.io",
            "credentialArn": secret_arn("ecr-pullthroughcache/x", "eu-west-1"),
        },
    ),
    (
        "existing secret in place",
        {"kind": "docker-hub", "token_scopes": ["repo:read"], "existing_secret": secret_arn("ecr-pullthroughcache/x")},
        None,
        {"upstreamRegistryUrl": "registry-1.docker.io", "credentialArn": secret_arn("ecr-pullthroughcache/x")},
    ),
]


@pytest.mark.parametrize("case, upstream, token, rule", CREDENTIAL_CASES, ids=[c[0] for c in CREDENTIAL_CASES])
def test_credentials_same_verdict(packs, case, upstream, token, rule):
    specs = [Spec(RULE, "dev-hub-rule", {"ecrRepositoryPrefix": "hub", **rule})]
    violations = packs.run(build(specs), policy_config={"rule-secret-location": {"accountIds": [ACCOUNT]}}).violations
    pack_ok = not [
        v
        for v in violations
        if v["policy"] in ("rule-credentials", "rule-secret-location") and v["level"] == "mandatory"
    ]
    assert config_accepts({**upstream, "prefix": "hub"}, token) == pack_ok


# --------------------------------------------------------------------------------------------
# Rule functions in-process (fast)
# --------------------------------------------------------------------------------------------


def resource_args(resource_type: str, props: dict[str, Any], name: str = "r") -> ResourceValidationArgs:
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    urn = f"urn:pulumi:s::p::{resource_type}::{name}"
    return ResourceValidationArgs(resource_type, unknown_checking_proxy(props), urn, name, options, None, {})


@pytest.mark.parametrize(
    "statement, faults",
    [
        (
            {
                "Effect": "Allow",
                "Action": "ecr:CreateRepository",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/docker-hub/*",
            },
            0,
        ),
        ({"Effect": "Allow", "Action": "ecr:CreateRepository", "Resource": "*"}, 1),
        (
            {
                "Effect": "Allow",
                "Action": "ecr:CreateRepository",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*",
            },
            1,
        ),
        (
            {
                "Effect": "Allow",
                "Action": "ecr:CreateRepository",
                "Resource": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/doc*/*",
            },
            1,
        ),
        ({"Effect": "Allow", "Action": ["ecr:BatchGetImage", "ecr:GetAuthorizationToken"], "Resource": "*"}, 0),
        ({"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}, 0),
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, 3),  # every ECR action, create on *, every token
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, 2),  # NotAction, every environment's tokens
        ({"Effect": "Allow", "Action": "ECR:createrepository", "Resource": "*"}, 1),
    ],
)
def test_statement_faults(statement, faults):
    proxied = unknown_checking_proxy({"s": statement})["s"]
    assert len(permissions.statement_faults(proxied, repository_scoped=False)) == faults


def test_repository_policies_need_no_resource_of_their_own():
    statement = unknown_checking_proxy(
        {"s": {"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchImportUpstreamImage"}}
    )["s"]
    assert permissions.statement_faults(statement, repository_scoped=True) == []
    assert permissions.statement_faults(statement, repository_scoped=False)


def test_unknowns_collects_and_defers():
    unknowns = support.Unknowns()
    props = unknown_checking_proxy({"a": UNKNOWN, "b": "x"})
    with unknowns.guard("r1"):
        props["a"]
    with unknowns.guard("r2"):
        assert props["b"] == "x"
    with pytest.raises(support.DeferredChecks) as deferred:
        unknowns.finish()
    assert deferred.value.message == "1 check(s) need values known only after apply: r1 .a"


def test_policy_documents_are_read_from_text_and_objects():
    document = {"Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
    reports: list[str] = []
    permissions.validate(
        resource_args("aws:iam/policy:Policy", {"policy": json.dumps(document)}), lambda m, u=None: reports.append(m)
    )
    permissions.validate(
        resource_args("aws:iam/rolePolicy:RolePolicy", {"policy": "not json"}), lambda m, u=None: reports.append(m)
    )
    assert "statement 0 grants ecr:*" in reports[0]
    assert "grants ecr:BatchImportUpstreamImage, ecr:CreateRepository on *" in reports[1]
    assert "not a JSON policy document" in reports[2] and len(reports) == 3


def test_in_scope_covers_hand_written_ptc_resources_only():
    assert resources.in_scope(
        SECRET,
        "urn:x::y::aws:secretsmanager/secret:Secret::s",
        unknown_checking_proxy({"name": "ecr-pullthroughcache/dev/hub"}),
    )
    assert not resources.in_scope(
        SECRET, "urn:x::y::aws:secretsmanager/secret:Secret::s", unknown_checking_proxy({"name": "app/db-password"})
    )
    trust = json.dumps({"Statement": [{"Principal": {"Service": "pullthroughcache.ecr.amazonaws.com"}}]})
    assert resources.in_scope(
        "aws:iam/role:Role", "urn:x::y::aws:iam/role:Role::r", unknown_checking_proxy({"assumeRolePolicy": trust})
    )
    assert not resources.in_scope(
        "aws:iam/role:Role", "urn:x::y::aws:iam/role:Role::r", unknown_checking_proxy({"assumeRolePolicy": "{}"})
    )
