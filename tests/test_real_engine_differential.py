"""`ptc preview` against the real `pulumi preview`, on generated stacks: same resources, same mandatory verdicts.

`ptc preview` is the offline gate for users without credentials; it runs the program under the SDK's mock engine
and the packs over the analyzer protocol. The real CLI (tests/real_engine.py) is the judge: for each generated
stack both must declare the same resources (type, name, parent), reach the same mandatory policy violations
(pack, policy, resource) and agree on whether the preview passes. Where they differ, ptc is wrong.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.real_engine import assert_agree, available, engine, project_copy, ptc_preview, real_preview

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.real_engine,
    pytest.mark.skipif(available() is not None, reason=str(available())),
]

PROJECT = "ecr-pull-through-cache"
TOKENLESS = [{"kind": "ecr-public"}, {"kind": "k8s"}, {"kind": "quay"}]
WITH_TOKENS = [
    {"kind": "docker-hub", "username": "acme-bot", "token_scopes": ["repo:public_read"]},
    {"kind": "github-container-registry", "username": "acme-bot", "token_scopes": ["read:packages"]},
    {
        "kind": "azure-container-registry",
        "registry": "acmeprod",
        "username": "ecr-pull-through-cache",
        "token_scopes": ["content/read", "metadata/read"],
    },
    {"kind": "chainguard", "username": "acme-bot", "token_scopes": ["registry.pull"]},
    {"kind": "gitlab-container-registry", "username": "acme-bot", "token_scopes": ["read_registry"]},
]
OTHERS = [
    {
        "kind": "chainguard",
        "existing_secret": "ecr-pullthroughcache/shared/chainguard",
        "token_scopes": ["registry.pull"],
    },
    {
        "kind": "gitlab-container-registry",
        "token": {"group": "acme/platform", "type": "group-access-token", "expires_in_days": 90},
    },
    {"kind": "ecr", "prefix": "golden", "registry": "210987654321"},  # an account id: a registry of the stack's region
    {
        "kind": "ecr",
        "prefix": "release",
        "registry": "210987654321.dkr.ecr.us-east-2.amazonaws.com",
        "upstream_prefix": "release",
    },
]


@st.composite
def stacks(draw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A stack file's config (no credentials) and the tokens to set with `pulumi config set --secret`."""
    pool = TOKENLESS + WITH_TOKENS + OTHERS
    chosen = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=5, unique=True))
    upstreams, tokens, kinds = [], {}, set()
    for index in chosen:
        entry = copy.deepcopy(pool[index])
        if entry["kind"] in kinds:  # one upstream per kind keeps the default prefixes apart
            continue
        kinds.add(entry["kind"])
        if draw(st.booleans()) and entry["kind"] != "ecr":
            entry["random_suffix"] = True
        upstreams.append(entry)
        if "username" in entry:
            from ecr_pull_through_cache import catalog

            prefix = catalog.get_kind(entry["kind"]).default_prefix
            tokens[prefix] = f"EXAMPLE-{entry['kind']}-not-a-token"
    config: dict[str, Any] = {
        # Other partitions too: hosts, ARNs and the same-partition rule of ECR upstreams follow the region.
        "aws:region": draw(st.sampled_from(["us-east-2", "eu-west-1", "cn-north-1", "us-gov-west-1"])),
        f"{PROJECT}:environment": draw(st.sampled_from(["dev", "qa-eu", "prod", "production"])),
        f"{PROJECT}:upstreams": upstreams,
    }
    kms = draw(st.sampled_from([None, {"create_key": True}]))
    optional = {
        "kms": kms,
        "tags": draw(st.sampled_from([None, {"team": "platform", "cost-center": "cc-1"}])),
        "scanning": draw(
            st.sampled_from([None, {"scan_type": "BASIC"}, {"scan_type": "ENHANCED", "frequency": "CONTINUOUS_SCAN"}])
        ),
        "consumers": draw(
            st.sampled_from([None, {"account_ids": ["210987654321"]}, {"organization_id": "o-abcd1234ef"}])
        ),
        "template": draw(
            st.sampled_from(
                [
                    None,
                    {"image_tag_mutability": "IMMUTABLE"},
                    {
                        "image_tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
                        "image_tag_mutability_exclusion_filters": ["latest"],
                    },
                    {"tag_repositories": False, "untagged_expiry_days": 3},
                ]
            )
        ),
        "iam": draw(st.sampled_from([None, {"path": "/platform/ptc/"}])),
    }
    for key, value in optional.items():
        if value is not None:
            config[f"{PROJECT}:{key}"] = value
    return config, tokens


def test_ptc_preview_agrees_with_the_real_engine(tmp_path):
    counter = itertools.count()
    with engine(tmp_path, PULUMI_DEBUG_COMMANDS="true") as (workspace, aws):
        project = project_copy(tmp_path / "project")
        seeded: set[tuple[str, str]] = set()

        # Each example is two previews (seconds): no shrinking, and the same examples on every run.
        @settings(
            max_examples=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
        )
        @given(stacks())
        def agree(generated: tuple[dict[str, Any], dict[str, str]]) -> None:
            config, tokens = generated
            stack = f"gen{next(counter)}"
            (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
            workspace.run("stack", "init", stack, cwd=project)
            for prefix, token in tokens.items():
                workspace.run(
                    "config", "set", "--stack", stack, "--secret", "--path", f"credentials.{prefix}", token, cwd=project
                )
            region = config["aws:region"]
            if (region, "chainguard") not in seeded and any(
                "existing_secret" in u for u in config[f"{PROJECT}:upstreams"]
            ):
                aws.seed_existing_secrets(project / f"Pulumi.{stack}.yaml")
                seeded.add((region, "chainguard"))
            real, offline = real_preview(workspace, project, stack), ptc_preview(project, stack)
            assert_agree(offline, real, (project / f"Pulumi.{stack}.yaml").read_text())

        agree()
