"""What a statement's Action or NotAction lets a principal do, from IAM's own action tables.

The tables are policy_sentry's IAM database (AWS's Service Authorization Reference, "Actions defined by ...", with
each action's access level: Read, List, Write, Permissions management, Tagging), pinned in requirements.txt. A
pattern is matched as IAM matches actions: case-insensitive, `*` and `?` wildcards (IAM User Guide, "IAM JSON policy
elements: Action"); `NotAction` with Allow grants every action of the service but those it matches ("IAM JSON
policy elements: NotAction"). No action list is written by hand here.
"""

import functools
from fnmatch import fnmatchcase

from policy_sentry.querying.actions import get_actions_for_service, get_actions_with_access_level

LEVELS = ("Permissions management", "Write", "Read", "List", "Tagging")


@functools.cache
def service_actions(service: str) -> tuple[str, ...]:
    """Every action of an AWS service (`ecr`, `sts`, `secretsmanager`, `kms`), as `service:Action`."""
    return tuple(sorted(get_actions_for_service(service)))


@functools.cache
def level_of(action: str) -> str:
    service = action.split(":", 1)[0]
    for level in LEVELS:
        if action in get_actions_with_access_level(service, level):
            return level
    return "Unknown"


def matched(patterns: list[str], service: str) -> list[str]:
    """The service's actions that any of `patterns` matches."""
    lowered = [p.lower() for p in patterns if isinstance(p, str)]
    return [a for a in service_actions(service) if any(fnmatchcase(a.lower(), p) for p in lowered)]


def allowed(actions: list[str] | None, not_actions: list[str] | None, service: str) -> list[str]:
    """The service's actions a statement with this Action (or NotAction) grants."""
    if not_actions is not None:
        excluded = set(matched(not_actions, service))
        return [a for a in service_actions(service) if a not in excluded]
    return matched(actions or [], service)


def summary(actions: list[str], limit: int = 4) -> str:
    """`ecr:BatchGetImage, ecr:PutImage` or, for many, the most powerful few (permissions management, then writes)
    and a count by access level."""
    rank = {level: index for index, level in enumerate((*LEVELS, "Unknown"))}
    ordered = sorted(actions, key=lambda a: (rank[level_of(a)], a))
    if len(ordered) <= limit:
        return ", ".join(ordered)
    levels: dict[str, int] = {}
    for action in ordered:
        levels[level_of(action)] = levels.get(level_of(action), 0) + 1
    counted = ", ".join(f"{count} {level}" for level, count in levels.items())
    return f"{', '.join(ordered[: limit - 1])} and {len(ordered) - limit + 1} more ({len(ordered)} actions: {counted})"
