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


ARCHIVE = {
    "rulePriority": 1,
    "description": "Archive images not pulled for 90 days, then expire them 180 days later",
    "selection": {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 90},
    "action": {"type": "transition", "targetStorageClass": "archive"},
}
EXPIRE_ARCHIVED = {
    "rulePriority": 2,
    "description": "Expire archived images",
    "selection": {
        "tagStatus": "any",
        "storageClass": "archive",
        "countType": "sinceImageTransitioned",
        "countUnit": "days",
        "countNumber": 180,
    },
    "action": {"type": "expire"},
}


def test_archive_rules_as_pulumi_aws_documents_them():
    """transition needs targetStorageClass archive; sinceImageTransitioned needs selection.storageClass archive
    (pulumi-aws ecr LifecyclePolicyAction and LifecyclePolicyRuleSelection)."""
    assert lifecycle.lifecycle_policy_faults(json.dumps({"rules": [ARCHIVE, EXPIRE_ARCHIVED]})) == []
    no_target = dict(ARCHIVE, action={"type": "transition"})
    assert 'rule 1: action type transition needs action.targetStorageClass "archive"' in (
        lifecycle.lifecycle_policy_faults(json.dumps({"rules": [no_target, EXPIRE_ARCHIVED]}))
    )
    no_class = dict(
        EXPIRE_ARCHIVED, selection={k: v for k, v in EXPIRE_ARCHIVED["selection"].items() if k != "storageClass"}
    )
    assert 'rule 2: countType sinceImageTransitioned needs selection.storageClass "archive"' in (
        lifecycle.lifecycle_policy_faults(json.dumps({"rules": [ARCHIVE, no_class]}))
    )
    archived_pull = dict(ARCHIVE, selection=dict(ARCHIVE["selection"], storageClass="archive"))
    assert 'rule 1: countType sinceImagePulled takes selection.storageClass "standard" or none' in (
        lifecycle.lifecycle_policy_faults(json.dumps({"rules": [archived_pull, EXPIRE_ARCHIVED]}))
    )
    expire_to_archive = dict(EXPIRE_ARCHIVED, action={"type": "expire", "targetStorageClass": "archive"})
    assert "rule 2: action type expire takes no targetStorageClass" in (
        lifecycle.lifecycle_policy_faults(json.dumps({"rules": [ARCHIVE, expire_to_archive]}))
    )
