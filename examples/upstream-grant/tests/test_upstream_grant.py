"""The upstream-grant example under the mock engine, with a cache stack's outputs mocked."""

from __future__ import annotations

import json
from pathlib import Path

from ptc.mock_engine import run_program
from ptc.stack_config import load_stack_config

EXAMPLE = Path(__file__).resolve().parents[1]
UPSTREAM = "210987654321"
ROLE = "arn:aws:iam::123456789012:role/prod-golden-upstream-1a2b3c4"


def grant(**changes) -> dict:
    statement = {
        "Sid": "PullThroughCacheProdGolden",
        "Effect": "Allow",
        "Principal": {"AWS": ROLE},
        "Action": ["ecr:BatchGetImage", "ecr:BatchImportUpstreamImage", "ecr:GetDownloadUrlForLayer"],
        "Resource": f"arn:aws:ecr:eu-west-1:{UPSTREAM}:repository/release/*",
        **changes,
    }
    return {
        "upstream_grants": {
            f"{UPSTREAM}.dkr.ecr.eu-west-1.amazonaws.com": json.dumps(
                {"Version": "2012-10-17", "Statement": [statement]}
            )
        }
    }


def run(outputs: dict):
    stack = load_stack_config(EXAMPLE, stack="dev")
    return run_program(
        EXAMPLE,
        stack,
        preview=False,
        account_id=UPSTREAM,
        stack_references={"acme/ecr-pull-through-cache/prod": outputs},
    )


def test_the_grant_is_merged_with_the_registrys_own_statements():
    result = run(grant())
    assert result.error is None, result.error
    policy = json.loads(
        result.get("aws:ecr/registryPolicy:RegistryPolicy", "upstream-registry-policy").inputs["policy"]
    )
    assert [s["Sid"] for s in policy["Statement"]] == ["ReplicateToDisasterRecovery", "PullThroughCacheProdGolden"]
    assert policy["Statement"][1]["Principal"] == {"AWS": ROLE}


def test_a_grant_beyond_pulling_or_outside_this_registry_is_not_applied():
    for changes, message in (
        ({"Action": ["ecr:*"]}, "beyond what a pull through cache needs"),
        ({"Principal": {"AWS": "*"}}, "must name IAM roles"),
        ({"Resource": "arn:aws:ecr:eu-west-1:999999999999:repository/*"}, "scoped to this registry's repositories"),
    ):
        result = run(grant(**changes))
        assert result.error is not None and message in str(result.error), result.error
        assert (
            result.by_type("aws:ecr/registryPolicy:RegistryPolicy") == []
            or "policy" not in result.by_type("aws:ecr/registryPolicy:RegistryPolicy")[0].inputs
        )


def test_the_cache_stack_and_this_stack_agree_end_to_end():
    """The prod cache stack's real upstream_grants output, applied by the upstream account's stack."""
    from tests.conftest import ROOT, stack_config, stack_file

    cache = run_program(ROOT, stack_config(stack_file("prod"), "prod"), preview=False)
    assert cache.error is None
    outputs = cache.plain_outputs
    assert list(outputs["upstream_grants"]) == [f"{UPSTREAM}.dkr.ecr.eu-west-1.amazonaws.com"]
    result = run({"upstream_grants": outputs["upstream_grants"]})
    assert result.error is None, result.error
    policy = json.loads(
        result.get("aws:ecr/registryPolicy:RegistryPolicy", "upstream-registry-policy").inputs["policy"]
    )
    golden = outputs["upstreams"]["golden"]["custom_role_arn"]
    assert policy["Statement"][1]["Principal"] == {"AWS": golden}
    assert policy["Statement"][1]["Resource"] == f"arn:aws:ecr:eu-west-1:{UPSTREAM}:repository/release/*"
