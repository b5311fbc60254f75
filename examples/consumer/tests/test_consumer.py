"""The consumer example under the mock engine, with the cache stack's outputs mocked."""

from __future__ import annotations

import json
from pathlib import Path

from ecr_pull_through_cache.images import NotCached
from ptc.mock_engine import run_program
from ptc.stack_config import load_stack_config, make_stack_config

EXAMPLE = Path(__file__).resolve().parents[1]
REGISTRY = "123456789012.dkr.ecr.us-east-2.amazonaws.com"
CACHE_OUTPUTS = {
    "registry_url": REGISTRY,
    "consumer_policy_arn": "arn:aws:iam::123456789012:policy/dev-consumer-1a2b3c4",
    "consumer_policy_arns": ["arn:aws:iam::123456789012:policy/dev-consumer-1a2b3c4"],
    "upstreams": {
        "docker-hub": {
            "kind": "docker-hub",
            "upstream_url": "registry-1.docker.io",
            "cache_uri": f"{REGISTRY}/docker-hub",
            "upstream_prefix": None,
        },
        "github": {
            "kind": "github-container-registry",
            "upstream_url": "ghcr.io",
            "cache_uri": f"{REGISTRY}/github",
            "upstream_prefix": None,
        },
    },
}
REFERENCES = {"acme/ecr-pull-through-cache/dev": CACHE_OUTPUTS}


def run(config=None):
    stack = load_stack_config(EXAMPLE, stack="dev")
    if config is not None:
        stack = make_stack_config(
            stack.project, "dev", {**config, "aws:region": "us-east-2", "cacheStack": "acme/ecr-pull-through-cache/dev"}
        )
    return run_program(EXAMPLE, stack, preview=False, stack_references=REFERENCES)


def test_the_workload_pulls_through_the_cache():
    result = run()
    assert result.error is None, result.error
    attachment = result.get(
        "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive", "workload-pulls-through-cache"
    )
    assert attachment.inputs["policyArns"][:-1] == CACHE_OUTPUTS["consumer_policy_arns"]
    containers = json.loads(
        result.get("aws:ecs/taskDefinition:TaskDefinition", "workload").inputs["containerDefinitions"]
    )
    assert [c["image"] for c in containers] == [
        f"{REGISTRY}/docker-hub/library/nginx:1.27",
        f"{REGISTRY}/github/acme/api:2.4.0",
    ]
    assert result.plain_outputs["images"] == [c["image"] for c in containers]


def test_an_image_no_rule_caches_stops_the_deployment():
    result = run({"images": ["quay.io/prometheus/prometheus:v3.0.0"]})
    assert isinstance(result.error, ValueError)  # NotCached, as the SDK reports it for the resource
    message = str(result.error)
    assert "While processing resource: 'workload'" in message
    assert "'quay.io/prometheus/prometheus:v3.0.0' is on quay.io, which no pull through cache rule" in message
    assert result.by_type("aws:ecs/taskDefinition:TaskDefinition") == []  # nothing runs a wrong image


def test_rewrite_errors_are_not_cached_errors():
    assert issubclass(NotCached, ValueError)
