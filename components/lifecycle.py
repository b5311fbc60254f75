"""Lifecycle policies for cached repositories: the secure default and checks of a custom one."""

from __future__ import annotations

import json
from typing import Any

LIFECYCLE_POLICY_MAX_LENGTH = 30720
"""`LifecyclePolicyTextForRepositoryCreationTemplate` in botocore's ECR model."""
REPOSITORY_LIFECYCLE_POLICY_MIN_LENGTH = 100
"""`PutLifecyclePolicy` refuses shorter texts, and `ptc reconcile` applies the template's policy with it."""

DEFAULT_UNTAGGED_EXPIRY_DAYS = 14
DEFAULT_MAX_IMAGE_COUNT = 200


def default_lifecycle_policy(untagged_expiry_days: int = DEFAULT_UNTAGGED_EXPIRY_DAYS,
                             max_image_count: int = DEFAULT_MAX_IMAGE_COUNT) -> str:
    """Expire untagged images after N days and keep at most M images per cached repository."""
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images {untagged_expiry_days} days after they were cached",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_expiry_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep at most {max_image_count} images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": max_image_count},
                "action": {"type": "expire"},
            },
        ]
    }
    return canonical_json(policy)


def canonical_json(document: Any) -> str:
    """One spelling per document, so that equal policies compare equal as text."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def lifecycle_policy_faults(text: str) -> list[str]:
    """What is wrong with a lifecycle policy document; empty when ECR would take it."""
    if len(text) > LIFECYCLE_POLICY_MAX_LENGTH:
        return [f"is {len(text)} characters; ECR allows at most {LIFECYCLE_POLICY_MAX_LENGTH}"]
    if len(text) < REPOSITORY_LIFECYCLE_POLICY_MIN_LENGTH:
        return [f"is {len(text)} characters; ECR needs at least {REPOSITORY_LIFECYCLE_POLICY_MIN_LENGTH}"]
    try:
        document = json.loads(text)
    except ValueError as exc:
        return [f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"]
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list) or not rules:
        return ["must be a JSON object with a non-empty 'rules' list"]
    faults = []
    priorities = [r.get("rulePriority") for r in rules if isinstance(r, dict)]
    if len(priorities) != len(rules) or not all(isinstance(p, int) and p > 0 for p in priorities):
        faults.append("every rule needs a positive integer 'rulePriority'")
    elif len(set(priorities)) != len(priorities):
        faults.append("rule priorities must be unique")
    return faults
