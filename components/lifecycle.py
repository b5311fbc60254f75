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


def default_lifecycle_policy(
    untagged_expiry_days: int = DEFAULT_UNTAGGED_EXPIRY_DAYS, max_image_count: int = DEFAULT_MAX_IMAGE_COUNT
) -> str:
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


TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")
ACTION_TYPES = ("expire", "transition")
MAX_WILDCARDS = 4


def _rule_faults(rule: Any, index: int) -> list[str]:
    """One rule against ECR's lifecycle policy properties (ECR user guide, "Lifecycle policy properties")."""
    where = f"rule {index + 1}"
    if not isinstance(rule, dict):
        return [f"{where} must be an object with rulePriority, selection and action"]
    faults = []
    priority = rule.get("rulePriority")
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        faults.append(f"{where}: rulePriority must be a whole number of at least 1")
    if "description" in rule and not isinstance(rule["description"], str):
        faults.append(f"{where}: description must be text")
    selection = rule.get("selection")
    if not isinstance(selection, dict):
        faults.append(f"{where}: selection is required (tagStatus, countType, countNumber)")
    else:
        status = selection.get("tagStatus")
        if status not in TAG_STATUSES:
            faults.append(f"{where}: selection.tagStatus must be one of {', '.join(TAG_STATUSES)}")
        lists = [k for k in ("tagPrefixList", "tagPatternList") if k in selection]
        if status == "tagged" and len(lists) != 1:
            faults.append(f"{where}: tagStatus tagged needs exactly one of tagPrefixList and tagPatternList")
        if status in ("untagged", "any") and lists:
            faults.append(f"{where}: tagStatus {status} must omit {' and '.join(lists)}")
        for key in lists:
            values = selection[key]
            if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
                faults.append(f"{where}: selection.{key} must be a non-empty list of text")
            elif key == "tagPatternList" and any(v.count("*") > MAX_WILDCARDS for v in values):
                faults.append(f"{where}: each tagPatternList entry may hold at most {MAX_WILDCARDS} '*' wildcards")
        count_type = selection.get("countType")
        if count_type not in COUNT_TYPES:
            faults.append(f"{where}: selection.countType must be one of {', '.join(COUNT_TYPES)}")
        elif count_type == "imageCountMoreThan" and "countUnit" in selection:
            faults.append(f"{where}: countType imageCountMoreThan takes no countUnit")
        elif count_type != "imageCountMoreThan" and selection.get("countUnit") != "days":
            faults.append(f'{where}: countType {count_type} needs countUnit "days"')
        number = selection.get("countNumber")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            faults.append(f"{where}: selection.countNumber must be a whole number of at least 1")
        # Archive storage (pulumi-aws ecr LifecyclePolicyRuleSelection.storage_class): "Required when 'countType' is
        # 'sinceImageTransitioned' (must be 'archive'). For 'imageCountMoreThan', 'sinceImagePushed', and
        # 'sinceImagePulled', the only supported value is 'standard'."
        storage = selection.get("storageClass")
        if count_type == "sinceImageTransitioned" and storage != "archive":
            faults.append(f'{where}: countType sinceImageTransitioned needs selection.storageClass "archive"')
        elif count_type in COUNT_TYPES and count_type != "sinceImageTransitioned" and storage not in (None, "standard"):
            faults.append(f'{where}: countType {count_type} takes selection.storageClass "standard" or none')
    action = rule.get("action")
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        faults.append(f"{where}: action.type must be one of {', '.join(ACTION_TYPES)}")
    elif action["type"] == "transition" and action.get("targetStorageClass") != "archive":
        # pulumi-aws ecr LifecyclePolicyAction.target_storage_class: "Required when 'type' is 'transition'.
        # 'archive' is the only supported value."
        faults.append(f'{where}: action type transition needs action.targetStorageClass "archive"')
    elif action["type"] == "expire" and "targetStorageClass" in action:
        faults.append(f"{where}: action type expire takes no targetStorageClass")
    return faults


def lifecycle_policy_faults(text: str) -> list[str]:
    """What is wrong with a lifecycle policy document; empty when ECR would take it."""
    if len(text) > LIFECYCLE_POLICY_MAX_LENGTH:
        return [f"is {len(text)} characters; ECR allows at most {LIFECYCLE_POLICY_MAX_LENGTH}"]
    if len(text) < REPOSITORY_LIFECYCLE_POLICY_MIN_LENGTH:
        return [f"is {len(text)} characters; ECR needs at least {REPOSITORY_LIFECYCLE_POLICY_MIN_LENGTH}"]
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [f"is not valid JSON ({getattr(exc, 'msg', type(exc).__name__)})"]
    rules = document.get("rules") if isinstance(document, dict) else None
    if not isinstance(rules, list) or not rules:
        return ["must be a JSON object with a non-empty 'rules' list"]
    faults = [f for index, rule in enumerate(rules) for f in _rule_faults(rule, index)]
    priorities = [r.get("rulePriority") for r in rules if isinstance(r, dict)]
    valid = [p for p in priorities if isinstance(p, int) and not isinstance(p, bool)]
    if len(set(valid)) != len(valid):
        faults.append("rule priorities must be unique")
    anys: list[int] = [
        r["rulePriority"]
        for r in rules
        if isinstance(r, dict)
        and isinstance(r.get("selection"), dict)
        and r["selection"].get("tagStatus") == "any"
        and isinstance(r.get("rulePriority"), int)
    ]
    if anys and valid and max(anys) < max(valid):
        faults.append("a rule with tagStatus any must have the highest rulePriority (ECR evaluates it last)")
    return faults
