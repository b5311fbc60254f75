"""Stack configs with N upstreams, spread over every kind, for the scaling benchmarks."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

KINDS = [
    {"kind": "ecr-public"},
    {"kind": "k8s"},
    {"kind": "quay"},
    {"kind": "docker-hub", "username": "bot", "token_scopes": ["repo:public_read"]},
    {"kind": "github-container-registry", "username": "bot", "token_scopes": ["read:packages"]},
    {"kind": "gitlab-container-registry", "username": "bot", "token_scopes": ["read_registry"]},
    {"kind": "chainguard", "username": "bot", "token_scopes": ["registry.pull"]},
    {
        "kind": "azure-container-registry",
        "registry": "acmeprod",
        "username": "tok",
        "token_scopes": ["content/read", "metadata/read"],
    },
    {"kind": "ecr", "registry": "210987654321.dkr.ecr.us-east-2.amazonaws.com", "upstream_prefix": "release"},
]


def config(upstreams: int) -> dict:
    entries, credentials = [], {}
    for index in range(upstreams):
        entry = copy.deepcopy(KINDS[index % len(KINDS)])  # no shared objects: safe_dump would write aliases
        entry["prefix"] = f"{entry['kind'].split('-')[0]}-{index:02d}"
        if "username" in entry:
            credentials[entry["prefix"]] = {"secure": f"v1:bench:{index}"}
        entries.append(entry)
    document = {
        "aws:region": "us-east-2",
        "ecr-pull-through-cache:environment": "bench",
        "ecr-pull-through-cache:tags": {"team": "platform"},
        "ecr-pull-through-cache:upstreams": entries,
    }
    if credentials:
        document["ecr-pull-through-cache:credentials"] = credentials
    return {"config": document}


def write(directory: Path, upstreams: int) -> Path:
    path = directory / f"Pulumi.bench-{upstreams}.yaml"
    path.write_text(yaml.safe_dump(config(upstreams)))
    return path
