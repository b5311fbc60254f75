import json

from hypothesis import given
from hypothesis import strategies as st

from ecr_pull_through_cache import lifecycle
from tests.botocore_model import shape


@given(st.integers(1, 3650), st.integers(1, 10000))
def test_generated_policies_are_valid_and_within_ecr_limits(days, count):
    text = lifecycle.default_lifecycle_policy(days, count)
    assert lifecycle.lifecycle_policy_faults(text) == []
    assert len(text) <= shape("LifecyclePolicyTextForRepositoryCreationTemplate")["max"]
    rules = json.loads(text)["rules"]
    assert rules[0]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": days,
    }
    assert rules[1]["selection"]["countNumber"] == count


def test_limits_match_the_model():
    assert lifecycle.LIFECYCLE_POLICY_MAX_LENGTH == shape("LifecyclePolicyTextForRepositoryCreationTemplate")["max"]
    assert lifecycle.REPOSITORY_LIFECYCLE_POLICY_MIN_LENGTH == shape("LifecyclePolicyText")["min"]


def test_faults_of_custom_policies():
    rule = {
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"},
        "description": "x" * 60,
    }
    assert "rule priorities must be unique" in lifecycle.lifecycle_policy_faults(
        json.dumps({"rules": [dict(rule, rulePriority=1), dict(rule, rulePriority=1)]})
    )
    assert "rule 1: rulePriority must be a whole number of at least 1" in lifecycle.lifecycle_policy_faults(
        json.dumps({"rules": [rule, rule]})
    )
    assert "at most 30720" in lifecycle.lifecycle_policy_faults("x" * 30721)[0]
    assert "at least 100" in lifecycle.lifecycle_policy_faults('{"rules": []}')[0]


def test_canonical_json_is_one_spelling_per_document():
    assert lifecycle.canonical_json({"b": 1, "a": [1, 2]}) == lifecycle.canonical_json({"a": [1, 2], "b": 1})
