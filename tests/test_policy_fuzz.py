"""Never crash: thousands of generated and mutated resources through both packs over the Analyzer protocol.

A policy that raises aborts `pulumi preview` for every stack. Whatever the input (nulls, numbers or lists
where strings belong, malformed policy JSON, `"Statement": [null, 1]`, missing properties, unknown values
anywhere), each pack answers with violations or nothing, in preview and in update mode.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ptc.analyzer import PolicyPacks, pack_dirs
from ptc.stack_config import make_stack_config
from tests.conftest import ROOT
from tests.policy_support import (
    POLICY,
    REGISTRY,
    REGISTRY_POLICY,
    ROLE,
    ROLE_POLICY,
    RULE,
    SECRET,
    TEMPLATE,
    UNKNOWN,
    UPSTREAM,
    Spec,
    baseline,
    build,
)

pytestmark = pytest.mark.e2e

REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
KEYS = {
    SECRET: ["name", "namePrefix", "tags", "kmsKeyId", "region"],
    RULE: [
        "ecrRepositoryPrefix",
        "upstreamRegistryUrl",
        "credentialArn",
        "customRoleArn",
        "registryId",
        "region",
        "upstreamRepositoryPrefix",
    ],
    TEMPLATE: [
        "prefix",
        "appliedFors",
        "lifecyclePolicy",
        "encryptionConfigurations",
        "resourceTags",
        "customRoleArn",
        "repositoryPolicy",
        "imageTagMutability",
    ],
    ROLE: ["assumeRolePolicy", "tags", "inlinePolicies", "name"],
    ROLE_POLICY: ["role", "policy"],
    POLICY: ["policy", "tags"],
    REGISTRY_POLICY: ["policy"],
    REPOSITORY_POLICY: ["policy", "repository"],
    UPSTREAM: ["kind", "prefix", "environment"],
    "aws:s3/bucket:Bucket": ["bucket", "tags"],
    "gitlab:index/groupAccessToken:GroupAccessToken": ["accessLevel", "scopes", "expiresAt", "rotationConfiguration"],
    "gitlab:index/personalAccessToken:PersonalAccessToken": ["scopes", "expiresAt"],
    "gitlab:index/groupDeployToken:GroupDeployToken": ["scopes", "expiresAt"],
    "gitlab:index/projectDeployToken:ProjectDeployToken": ["scopes", "expiresAt"],
    "gitlab:index/userImpersonationToken:UserImpersonationToken": ["scopes", "expiresAt"],
    "gitlab:index/clusterAgentToken:ClusterAgentToken": ["name"],
    "aws:secretsmanager/secretVersion:SecretVersion": ["secretId", "secretString", "secretStringWo"],
    "aws:secretsmanager/secretPolicy:SecretPolicy": ["secretArn", "policy"],
    "aws:kms/key:Key": ["policy", "tags"],
    "aws:kms/keyPolicy:KeyPolicy": ["keyId", "policy"],
    "aws:kms/grant:Grant": ["keyId", "granteePrincipal", "retiringPrincipal", "operations"],
    "aws:ecr/replicationConfiguration:ReplicationConfiguration": ["replicationConfiguration", "registryId"],
    "aws-native:ecr:ReplicationConfiguration": ["replicationConfiguration"],
    "aws-native:ecr:RegistryPolicy": ["policyText"],
    "aws-native:ecr:PullThroughCacheRule": ["ecrRepositoryPrefix", "upstreamRegistryUrl", "credentialArn"],
    "aws-native:iam:Role": ["assumeRolePolicyDocument", "policies", "managedPolicyArns"],
    "aws-native:secretsmanager:Secret": ["name", "secretString", "tags"],
    "aws-native:secretsmanager:ResourcePolicy": ["secretId", "resourcePolicy"],
    "aws-native:kms:Key": ["keyPolicy"],
}

scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just(UNKNOWN),
    st.sampled_from(
        [
            "ecr-pullthroughcache/prod/x",
            "registry.gitlab.com",
            "quay.io",
            "ROOT",
            "docker-hub",
            "arn:aws:secretsmanager:us-east-2:123456789012:secret:ecr-pullthroughcache/dev/x-AbCdEf",
            "arn:aws:ecr:us-east-2:123456789012:repository/*",
            "*",
            "ecr:*",
            "KMS",
            "o-abcdefghij",
            "read_registry",
            "guest",
        ]
    ),
)
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "Effect",
                    "Action",
                    "Principal",
                    "Resource",
                    "Condition",
                    "Sid",
                    "NotAction",
                    "NotPrincipal",
                    "NotResource",
                    "AWS",
                    "Service",
                    "StringEquals",
                    "aws:PrincipalOrgID",
                    "environment",
                    "ptc:upstream",
                    "ptc:token-scopes",
                    "ptc:token-type",
                    "encryptionType",
                    "kmsKey",
                    "rules",
                    "name",
                    "policy",
                    "Federated",
                    "kms:CallerAccount",
                    "destinations",
                    "registryId",
                    "repositoryFilters",
                    "filter",
                    "policyName",
                    "policyDocument",
                    "key",
                    "value",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)
statement = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {
            "Effect": st.sampled_from(["Allow", "Deny", None, 1]),
            "Action": st.one_of(
                st.sampled_from(["ecr:*", "*", "ecr:CreateRepository", "ecr:BatchGetImage"]),
                st.lists(json_value, max_size=3),
            ),
            "Principal": st.one_of(
                st.just("*"),
                st.just({"AWS": "*"}),
                st.just({"Federated": "arn:aws:iam::123456789012:oidc-provider/x"}),
                json_value,
            ),
            "Resource": json_value,
            "Condition": json_value,
        }
    ),
)
policy_text = st.one_of(
    st.text(max_size=30),
    st.just('{"Statement": [null, 1]}'),
    st.just("{not json"),
    st.lists(statement, max_size=4).map(lambda s: json.dumps({"Version": "2012-10-17", "Statement": s})),
    statement.map(lambda s: json.dumps({"Statement": s})),
    json_value.map(json.dumps),
)
value = st.one_of(json_value, policy_text)


@st.composite
def hostile_specs(draw) -> list[Spec]:
    specs = baseline() if draw(st.booleans()) else []
    for spec in list(specs):  # mutate the well-formed stack
        if draw(st.integers(0, 3)) == 0:
            for key in draw(st.lists(st.sampled_from(KEYS.get(spec.type, ["x"])), max_size=2)):
                if draw(st.booleans()):
                    spec.props[key] = draw(value)
                else:
                    spec.props.pop(key, None)
    for index in range(draw(st.integers(1, 25))):
        type_ = draw(st.sampled_from(sorted(KEYS)))
        props = {key: draw(value) for key in draw(st.lists(st.sampled_from(KEYS[type_]), max_size=6, unique=True))}
        props = {k: v for k, v in props.items() if v is not None or draw(st.booleans())}
        names = [s.name for s in specs if s.custom]
        deps = {}
        if names and draw(st.booleans()):
            deps = {
                draw(st.sampled_from(KEYS[type_])): draw(
                    st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)
                )
            }
        specs.append(
            Spec(type_, f"fuzz-{index}", props, property_dependencies=deps, custom=type_ not in (UPSTREAM, REGISTRY))
        )
    return specs


def _json_safe(specs: list[Spec]) -> list[Spec]:
    for spec in specs:
        spec.props = json.loads(json.dumps(spec.props, default=str))
    return specs


@pytest.fixture(scope="module", params=[True, False], ids=["preview", "update"])
def packs(request):
    config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": "us-east-2", "environment": "dev"})
    with PolicyPacks(pack_dirs(ROOT), config, dry_run=request.param) as running:
        running.dry_run = request.param
        yield running


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples in every run; the explicit ones are what earlier runs found
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(specs=hostile_specs())
# Found by an earlier random run: a list where the ptc:upstream tag's text belongs was quoted as a Python repr.
@example(
    specs=[
        Spec(
            type=SECRET,
            name="dev-secret",
            props={"name": "ecr-pullthroughcache/dev/x", "tags": {"ptc:upstream": ["docker-hub"]}},
        )
    ]
)
def test_no_input_crashes_a_pack(packs, specs):
    resources = build(_json_safe(specs))
    run = packs.run(resources, outputs=not packs.dry_run)  # a policy exception would surface here as an RpcError
    for violation in run.violations:
        assert violation["message"] and violation["level"] in ("mandatory", "advisory"), violation
        # a message quotes what the stack holds, never a Python repr (`<..._ListProxy object at 0x7f...>`)
        assert " object at 0x" not in violation["message"], violation


def test_a_policy_that_meets_an_unreadable_shape_reports_it(packs):
    specs = baseline()
    specs.append(Spec(REGISTRY_POLICY, "dev-weird", {"policy": json.dumps({"Statement": [None, 1, "x"]})}))
    specs.append(
        Spec(
            TEMPLATE,
            "dev-weird-template",
            {"prefix": 42, "encryptionConfigurations": [None, 7], "resourceTags": ["not", "a", "map"]},
        )
    )
    run = packs.run(build(specs), outputs=not packs.dry_run)
    messages = [v["message"] for v in run.violations]
    assert any("'dev-weird'" in m for m in messages), messages
    assert any("'dev-weird-template'" in m for m in messages), messages


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(specs=hostile_specs())
# Found on CI (the draw depends on the hash seed): a mapping property of another shape made every secret policy fall
# back to "could not check" (`key in list(1)`); now such a property simply has no keys.
@example(
    specs=[
        Spec(type=SECRET, name="fuzz-0", props={"region": "", "name": "", "namePrefix": "", "tags": 1}),
        Spec(type=SECRET, name="dev-s", props={"name": "ecr-pullthroughcache/dev/x", "tags": "ptc:upstream"}),
    ]
)
def test_every_shape_is_handled_by_the_policy_itself(packs, specs):
    """The guard is a net, not the handler: on these inputs no policy falls back to "could not check"."""
    run = packs.run(build(_json_safe(specs)), outputs=not packs.dry_run)
    fallbacks = [v["message"] for v in run.violations if "could not check" in v["message"]]
    assert fallbacks == []
