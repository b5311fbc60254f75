"""Hand-written resources for the policy packs, and a baseline stack that draws no violation."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import resource_pb2

from ecr_pull_through_cache import iam, lifecycle
from ptc.mock_engine import Registration

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PROJECT = "ecr-pull-through-cache"
ACCOUNT = "123456789012"
REGION = "us-east-2"

SECRET = "aws:secretsmanager/secret:Secret"
RULE = "aws:ecr/pullThroughCacheRule:PullThroughCacheRule"
TEMPLATE = "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
REGISTRY_POLICY = "aws:ecr/registryPolicy:RegistryPolicy"
UPSTREAM = "ecr-pull-through-cache:index:UpstreamCache"
REGISTRY = "ecr-pull-through-cache:index:PullThroughCache"


@dataclass
class Spec:
    """One resource: its inputs (what Analyze sees) and, after an update, its outputs."""

    type: str
    name: str
    props: dict[str, Any]
    parent: str | None = None
    """The `name` of the parent resource in the same stack."""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Property -> names of resources it comes from."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """Extra properties known only after apply."""
    custom: bool = True


def build(specs: list[Spec], stack: str = "dev") -> list[Registration]:
    """Registrations as the engine would record them for `specs`."""
    urns: dict[str, str] = {}
    types = {s.name: s.type for s in specs}

    def urn_of(spec: Spec) -> str:
        chain, parent = [spec.type], spec.parent
        while parent is not None:
            chain.insert(0, types[parent])
            parent = next(s.parent for s in specs if s.name == parent)
        return f"urn:pulumi:{stack}::{PROJECT}::{'$'.join(chain)}::{spec.name}"

    for spec in specs:
        urns[spec.name] = urn_of(spec)
    registrations = []
    for spec in specs:
        request = resource_pb2.RegisterResourceRequest(
            type=spec.type,
            name=spec.name,
            custom=spec.custom,
            parent=urns[spec.parent] if spec.parent else "",
            dependencies=sorted({urns[n] for deps in spec.property_dependencies.values() for n in deps}),
        )
        request.object.CopyFrom(_struct(spec.props))
        for key, names in spec.property_dependencies.items():
            request.propertyDependencies[key].CopyFrom(
                resource_pb2.RegisterResourceRequest.PropertyDependencies(urns=[urns[n] for n in names])
            )
        state = {**copy.deepcopy(spec.props), **copy.deepcopy(spec.outputs)}
        registrations.append(
            Registration(
                urn=urn_of(spec),  # its own: a role and a template may share a name, never a URN
                type=spec.type,
                name=spec.name,
                custom=spec.custom,
                parent=request.parent,
                request=request,
                state=state,
            )
        )
    return registrations


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(props)))
    return struct


def secret_arn(name: str, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"


def baseline(env: str = "dev") -> list[Spec]:
    """A Docker Hub cache written by hand, the way the components write it: no violation at all."""
    secret_name = f"ecr-pullthroughcache/{env}/docker-hub-20261126000000000000000001"
    tags = {"environment": env, "team": "platform"}
    return [
        Spec(REGISTRY, env, {"environment": env, "prefixes": ["docker-hub"]}, custom=False),
        Spec(
            UPSTREAM,
            f"{env}-docker-hub",
            {"kind": "docker-hub", "prefix": "docker-hub", "environment": env},
            parent=env,
            custom=False,
        ),
        Spec(
            SECRET,
            f"{env}-docker-hub-secret",
            {
                "namePrefix": f"ecr-pullthroughcache/{env}/docker-hub-",
                "tags": {**tags, "ptc:upstream": "docker-hub", "ptc:token-scopes": "repo:public_read"},
            },
            parent=f"{env}-docker-hub",
            outputs={"name": secret_name, "arn": secret_arn(secret_name)},
        ),
        Spec(
            ROLE,
            f"{env}-docker-hub-template",
            {
                "assumeRolePolicy": json.dumps(iam.template_role_trust()),
                "tags": tags,
            },
            parent=f"{env}-docker-hub",
            outputs={"arn": f"arn:aws:iam::{ACCOUNT}:role/{env}-docker-hub-template-1"},
        ),
        Spec(
            ROLE_POLICY,
            f"{env}-docker-hub-template",
            {
                "role": UNKNOWN,
                "policy": json.dumps(iam.template_role_policy("aws", REGION, ACCOUNT, "docker-hub")),
            },
            parent=f"{env}-docker-hub",
            property_dependencies={"role": [f"{env}-docker-hub-template"]},
        ),
        Spec(
            TEMPLATE,
            f"{env}-docker-hub-template",
            {
                "prefix": "docker-hub",
                "appliedFors": ["PULL_THROUGH_CACHE"],
                "lifecyclePolicy": lifecycle.default_lifecycle_policy(),
                "imageTagMutability": "MUTABLE",
                "encryptionConfigurations": [{"encryptionType": "AES256"}],
                "resourceTags": tags,
                "customRoleArn": UNKNOWN,
            },
            parent=f"{env}-docker-hub",
            property_dependencies={"customRoleArn": [f"{env}-docker-hub-template"]},
            outputs={
                "customRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{env}-docker-hub-template-1",
                "registryId": ACCOUNT,
            },
        ),
        Spec(
            RULE,
            f"{env}-docker-hub-rule",
            {
                "ecrRepositoryPrefix": "docker-hub",
                "upstreamRegistryUrl": "registry-1.docker.io",
                "credentialArn": UNKNOWN,
            },
            parent=f"{env}-docker-hub",
            property_dependencies={"credentialArn": [f"{env}-docker-hub-secret"]},
            outputs={"credentialArn": secret_arn(secret_name), "registryId": ACCOUNT},
        ),
        Spec(
            POLICY,
            f"{env}-consumer",
            {
                "policy": json.dumps(iam.consumer_policy("aws", REGION, ACCOUNT, ["docker-hub"])),
                "tags": tags,
            },
            parent=env,
        ),
    ]


def spec(specs: list[Spec], name: str, type_: str | None = None) -> Spec:
    """The resource named `name` (names repeat across types, so give the type when they do)."""
    found = [s for s in specs if s.name == name and type_ in (None, s.type)]
    if len(found) != 1:
        raise LookupError(f"{len(found)} resources named {name!r} of type {type_ or 'any'}")
    return found[0]
