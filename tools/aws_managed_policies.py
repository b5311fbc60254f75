"""The AWS managed policies the security pack judges when a role, user or group attaches one by ARN.

    .venv/bin/python tools/aws_managed_policies.py   # rewrites policies/security/aws_managed_policies.json

The documents come from moto (`moto.iam.aws_managed_policies`, pinned in requirements-dev.txt), whose maintainers
refresh them from a real account's `iam:ListPolicies` / `iam:GetPolicyVersion` (moto's `make
aws_managed_policies`, scripts/update_managed_policies.py). The pack keeps only what its policies can judge: the
Allow statements that can reach an ECR or Secrets Manager action (cache-permissions-scoped asks about nothing
else). Of another service's actions in such a statement one is kept, so that a statement stays "more than ECR's
pull" (permissions.is_upstream_read); every verdict is the same as on the whole document
(tests/test_aws_managed_policies.py holds the file to moto's data and the verdicts to the whole documents).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parent.parent / "policies" / "security" / "aws_managed_policies.json"
SERVICES = ("ecr", "secretsmanager")
"""The services whose actions the security pack judges in identity policies."""


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def reaches(action: str) -> bool:
    """An action pattern that can match an action of one of SERVICES (IAM matches case-insensitively, `*`/`?`)."""
    service = action.split(":", 1)[0].lower()
    return any(fnmatchcase(name, service) for name in SERVICES)


def kept(statement: dict[str, Any]) -> dict[str, Any] | None:
    if statement.get("Effect") != "Allow":
        return None
    if "NotAction" in statement:  # everything but a list: every service's actions
        return statement
    actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
    reaching = [a for a in actions if reaches(a)]
    if not reaching:
        return None
    return {**statement, "Action": reaching + [a for a in actions if not reaches(a)][:1]}


def derive(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Policy name -> its kept statements, for the policies that have any."""
    derived = {}
    for name, policy in data.items():
        statements = [s for s in map(kept, as_list(policy["Document"].get("Statement", []))) if s is not None]
        if statements:
            derived[name] = statements
    return derived


def moto_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def render(derived: dict[str, list[dict[str, Any]]]) -> str:
    return json.dumps(derived, indent=1, sort_keys=True) + "\n"


def main() -> None:
    TARGET.write_text(render(derive(moto_data())), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
