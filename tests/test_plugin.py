"""The components as a plugin, over the ResourceProvider protocol, started as the language host starts it.

GetSchema needs nothing else; Construct calls back into a ResourceMonitor (tests/plugin_support.py)
and must register the same children, parents and secrets as the in-process Python path.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import provider_pb2

from ecr_pull_through_cache import __version__
from ecr_pull_through_cache.registry import PullThroughCache
from ecr_pull_through_cache.upstream_cache import UpstreamCache
from ptc.mock_engine import SECRET_SIG, SIG_KEY
from tests.conftest import ROOT, TOKENS, run_component
from tests.plugin_support import EngineServer, Plugin

pytestmark = pytest.mark.e2e

PROJECT, STACK = "consumer", "dev"
PACKAGE = "ecr-pull-through-cache"
OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"


@pytest.fixture(scope="module")
def engine():
    server = EngineServer(PROJECT, STACK)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plugin(engine):
    running = Plugin(ROOT / "components", engine.address)
    yield running
    running.close()


@pytest.fixture(scope="module")
def schema(plugin) -> dict[str, Any]:
    return json.loads(plugin.provider.GetSchema(provider_pb2.GetSchemaRequest(version=0)).schema)


def secret(value: str) -> dict:
    """A secret as the engine sends it to a provider that accepts output values (this one does)."""
    return {SIG_KEY: OUTPUT_VALUE_SIG, "value": value, "secret": True}


def top_level_secret(value: str) -> dict:
    """A secret in the plain wire format, as a top-level input may arrive."""
    return {SIG_KEY: SECRET_SIG, "value": value}


def construct(plugin: Plugin, engine: EngineServer, type_: str, name: str, inputs: dict) -> Any:
    engine.reset()
    struct = struct_pb2.Struct()
    struct.update(inputs)
    return plugin.provider.Construct(
        provider_pb2.ConstructRequest(
            project=PROJECT,
            stack=STACK,
            organization="organization",
            dryRun=False,
            monitorEndpoint=engine.address,
            type=f"{PACKAGE}:index:{type_}",
            name=name,
            parent=STACK_URN,
            inputs=struct,
            accepts_output_values=True,
        ),
        timeout=120,
    )


def shape(registrations) -> set[tuple[str, str, str]]:
    """(type, name, parent's name) of every registration."""
    names = {r.urn: r.name for r in registrations}
    return {(r.type, r.name, names.get(r.parent, "<root>")) for r in registrations}


# --------------------------------------------------------------------------------------------
# GetSchema
# --------------------------------------------------------------------------------------------


def test_schema_has_every_component_with_typed_described_properties(schema):
    assert schema["name"] == PACKAGE and schema["version"] == __version__
    resources = schema["resources"]
    assert set(resources) == {
        f"{PACKAGE}:index:UpstreamCache",
        f"{PACKAGE}:index:PullThroughCache",
        f"{PACKAGE}:index:UpstreamGrant",
    }
    for token, resource in resources.items():
        assert resource["isComponent"] is True
        assert resource["description"]
        for kind in ("inputProperties", "properties"):
            for name, prop in resource[kind].items():
                assert prop.get("description"), f"{token}.{name} ({kind}) has no description"
                assert "type" in prop or "$ref" in prop, f"{token}.{name}"
    for token, type_ in schema["types"].items():
        for name, prop in type_.get("properties", {}).items():
            assert prop.get("description"), f"{token}.{name} has no description"


def test_schema_required_inputs_outputs_and_enums(schema):
    upstream_cache = schema["resources"][f"{PACKAGE}:index:UpstreamCache"]
    assert sorted(upstream_cache["requiredInputs"]) == ["environment", "upstream"]
    assert {"cacheUri", "kind", "prefix", "upstreamUrl", "template"} <= set(upstream_cache["required"])
    assert "credentialArn" not in upstream_cache["required"]
    registry = schema["resources"][f"{PACKAGE}:index:PullThroughCache"]
    assert sorted(registry["requiredInputs"]) == ["environment", "upstreams"]
    assert {
        "registryUrl",
        "upstreams",
        "consumerPolicyArn",
        "consumerPolicyArns",
        "consumerPolicyDocument",
        "consumerPolicyDocuments",
        "upstreamGrants",
        "imageHosts",
    } <= set(registry["required"])
    grant = schema["resources"][f"{PACKAGE}:index:UpstreamGrant"]
    assert sorted(grant["requiredInputs"]) == ["grants", "registry"]
    assert (
        registry["properties"]["upstreams"]["additionalProperties"]["$ref"] == f"#/types/{PACKAGE}:index:UpstreamOutput"
    )
    kinds = schema["types"][f"{PACKAGE}:index:UpstreamRegistry"]
    assert sorted(e["value"] for e in kinds["enum"]) == sorted(
        [
            "ecr-public",
            "k8s",
            "quay",
            "docker-hub",
            "github-container-registry",
            "azure-container-registry",
            "gitlab-container-registry",
            "chainguard",
            "ecr",
        ]
    )
    upstream = schema["types"][f"{PACKAGE}:index:UpstreamArgs"]
    assert upstream["required"] == ["kind"]
    assert upstream["properties"]["kind"]["$ref"] == f"#/types/{PACKAGE}:index:UpstreamRegistry"
    assert upstream["properties"]["accessToken"]["secret"] is True
    assert upstream["properties"]["prefix"]["plain"] is True  # decides resources: validated before any exists


# --------------------------------------------------------------------------------------------
# Construct
# --------------------------------------------------------------------------------------------

HUB = {"kind": "docker-hub", "username": "bot", "tokenScopes": ["repo:public_read"]}
KEY = "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BOUNDARY = "arn:aws:iam::123456789012:policy/platform-boundary"


def test_construct_upstream_cache_like_the_python_path(plugin, engine):
    response = construct(
        plugin,
        engine,
        "UpstreamCache",
        "plug-hub",
        {
            "upstream": {**HUB, "accessToken": secret(TOKENS["docker-hub"])},
            "environment": "dev",
            "tags": {"team": "platform"},
            "iam": {"path": "/platform/", "permissionsBoundary": BOUNDARY},
        },
    )
    registrations = engine.registrations

    in_process = run_component(
        lambda: UpstreamCache(
            "plug-hub",
            {
                "upstream": {
                    "kind": "docker-hub",
                    "username": "bot",
                    "token_scopes": ["repo:public_read"],
                    "access_token": TOKENS["docker-hub"],
                },
                "environment": "dev",
                "tags": {"team": "platform"},
                "iam": {"path": "/platform/", "permissions_boundary": BOUNDARY},
            },
        )
    )
    assert shape(registrations) == shape(in_process.resources)

    component = next(r for r in registrations if r.type == f"{PACKAGE}:index:UpstreamCache")
    assert response.urn == component.urn
    for child in registrations:
        if child is not component:
            assert child.parent == component.urn
    version = next(r for r in registrations if r.type == "aws:secretsmanager/secretVersion:SecretVersion")
    assert version.secret_paths == ["secretString"]
    secret_resource = next(r for r in registrations if r.type == "aws:secretsmanager/secret:Secret")
    assert secret_resource.secret_paths == [] and "kmsKeyId" not in secret_resource.inputs
    role = next(r for r in registrations if r.type == "aws:iam/role:Role")
    assert role.inputs["path"] == "/platform/" and role.inputs["permissionsBoundary"] == BOUNDARY
    assert json.loads(version.inputs["secretString"])["accessToken"] == TOKENS["docker-hub"]
    for registration in registrations:
        if registration is not version:
            assert TOKENS["docker-hub"] not in json.dumps(registration.properties)

    state = json_format.MessageToDict(response.state)
    assert state["cacheUri"] == "123456789012.dkr.ecr.us-east-2.amazonaws.com/docker-hub"
    assert state["credentialArn"].startswith("arn:aws:secretsmanager:us-east-2:123456789012:secret:")
    assert state["template"]["imageTagMutability"] == "MUTABLE"  # nested outputs in schema names
    assert TOKENS["docker-hub"] not in json.dumps(state)


def test_construct_pull_through_cache_like_the_python_path(plugin, engine):
    upstreams = [
        {"kind": "ecr-public"},
        {**HUB, "accessToken": secret(TOKENS["docker-hub"])},
        {
            "kind": "gitlab-container-registry",
            "username": "bot",
            "tokenScopes": ["read_registry"],
            "accessToken": secret(TOKENS["gitlab"]),
            "template": {"imageTagMutability": "IMMUTABLE"},
        },
    ]
    response = construct(
        plugin,
        engine,
        "PullThroughCache",
        "dev",
        {
            "environment": "dev",
            "upstreams": upstreams,
            "kms": {"createKey": True},
            "consumers": {"organizationId": "o-abcdefghij"},
        },
    )
    in_process = run_component(
        lambda: PullThroughCache(
            "dev",
            {
                "environment": "dev",
                "upstreams": [
                    {"kind": "ecr-public"},
                    {
                        "kind": "docker-hub",
                        "username": "bot",
                        "token_scopes": ["repo:public_read"],
                        "access_token": TOKENS["docker-hub"],
                    },
                    {
                        "kind": "gitlab-container-registry",
                        "username": "bot",
                        "token_scopes": ["read_registry"],
                        "access_token": TOKENS["gitlab"],
                        "template": {"image_tag_mutability": "IMMUTABLE"},
                    },
                ],
                "kms": {"create_key": True},
                "consumers": {"organization_id": "o-abcdefghij"},
            },
        )
    )
    assert in_process.error is None
    assert shape(engine.registrations) == shape(in_process.resources)
    versions = [r for r in engine.registrations if r.type == "aws:secretsmanager/secretVersion:SecretVersion"]
    assert len(versions) == 2 and all(v.secret_paths == ["secretString"] for v in versions)

    state = json_format.MessageToDict(response.state)
    gitlab = state["upstreams"]["gitlab"]
    assert gitlab["cacheUri"].endswith("/gitlab") and gitlab["kind"] == "gitlab-container-registry"
    assert gitlab["template"]["imageTagMutability"] == "IMMUTABLE"  # map values in schema names, nested too
    assert gitlab["template"]["encryptionType"] == "KMS"
    assert state["consumerPolicyArn"].startswith("arn:aws:iam::123456789012:policy/dev-consumer")
    assert state["imageHosts"]["docker.io"].endswith("/docker-hub")
    assert TOKENS["gitlab"] not in json.dumps(state) and TOKENS["docker-hub"] not in json.dumps(state)


def test_construct_refuses_bad_arguments_before_creating_anything(plugin, engine):
    with pytest.raises(grpc.RpcError) as error:
        construct(
            plugin,
            engine,
            "UpstreamCache",
            "bad",
            {"upstream": {"kind": "quay", "accessToken": secret("t")}, "environment": "dev"},
        )
    assert "UpstreamCache 'bad' (quay) access_token: is not allowed for kind 'quay'" in error.value.details()
    # Invalid inputs, said as such: no "Unexpected <class 'Exception'>" and no Python traceback for the engine to show.
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("The arguments of UpstreamCache 'bad' have 1 problem")
    assert 'File "' not in error.value.details()
    assert engine.registrations == []
    with pytest.raises(grpc.RpcError) as error:
        construct(plugin, engine, "UpstreamCache", "bad", {"upstream": {"kind": "harbor"}, "environment": "dev"})
    reasons = input_errors(error.value)  # the SDK checks enums against the schema first
    assert reasons == {"upstream.kind": reasons["upstream.kind"]} and "harbor" in reasons["upstream.kind"]
    assert engine.registrations == []


def input_errors(error: grpc.RpcError) -> dict[str, str]:
    """Property path -> reason, from an INVALID_ARGUMENT status's details."""
    from google.rpc import status_pb2
    from pulumi.runtime.proto import errors_pb2 as proto

    found = {}
    for key, value in error.trailing_metadata():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                message = proto.InputPropertiesError()
                detail.Unpack(message)
                found.update({e.property_path: e.reason for e in message.errors})
    return found


def test_plugin_files():
    plugin = yaml.safe_load((ROOT / "components" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    requirements = (ROOT / "components" / "requirements.txt").read_text()
    for package in ("pulumi==", "pulumi-aws==", "pulumi-random=="):
        assert package in requirements
    assert 'version = { attr = "ecr_pull_through_cache.__version__" }' in (ROOT / "pyproject.toml").read_text()


def test_the_plugin_requirements_cover_every_import_of_the_library():
    """The plugin runs in its own virtualenv made from components/requirements.txt: every third-party module the
    library imports (at the top or inside a function) must come from a distribution listed there. CI once failed
    because catalog reads botocore's partition data and the plugin's requirements did not name botocore."""
    import ast
    import importlib.metadata
    import re
    import sys

    listed = set()
    for line in (ROOT / "components" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            listed.add(re.split(r"[=<>!~ \[]", line, maxsplit=1)[0].lower().replace("_", "-"))
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for path in sorted((ROOT / "components").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                names = []
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("ecr_pull_through_cache", "__future__"):
                    continue
                dists = {d.lower().replace("_", "-") for d in providers.get(top, [top])}
                if not dists & listed:
                    missing.setdefault(top, []).append(path.name)
    # The importlib lookup of botocore's data file counts as an import of botocore.
    if 'find_spec("botocore")' in (ROOT / "components" / "catalog.py").read_text() and "botocore" not in listed:
        missing.setdefault("botocore", []).append("catalog.py")
    assert not missing, f"add to components/requirements.txt: {missing}"


def test_the_typescript_example_uses_the_schema_it_would_get(schema):
    """The example cannot run here (no Pulumi CLI); it must at least match the inferred schema."""
    import re

    example = ROOT / "examples" / "typescript"
    project = yaml.safe_load((example / "Pulumi.yaml").read_text())
    assert project["runtime"] == "nodejs" and project["packages"][PACKAGE] == "../../components"
    package = json.loads((example / "package.json").read_text())
    assert package["dependencies"][f"@pulumi/{PACKAGE}"] == f"file:sdks/{PACKAGE}"
    source = (example / "index.ts").read_text()
    registry = schema["resources"][f"{PACKAGE}:index:PullThroughCache"]
    types = schema["types"]
    known = (
        set(registry["inputProperties"])
        | set(types[f"{PACKAGE}:index:UpstreamArgs"]["properties"])
        | set(types[f"{PACKAGE}:index:TemplateArgs"]["properties"])
        | {"team"}
    )
    used = set(re.findall(r"^\s*(?:\{\s*)?(\w+):", source, re.MULTILINE))
    assert used <= known, used - known
    for output in re.findall(r"cache\.(\w+)", source):
        assert output in registry["properties"], output
    assert "cacheUri" in types[f"{PACKAGE}:index:UpstreamOutput"]["properties"]
    kinds = {e["value"] for e in types[f"{PACKAGE}:index:UpstreamRegistry"]["enum"]}
    assert set(re.findall(r'kind: "([\w-]+)"', source)) <= kinds
