"""Stand-in for pulumi-gitlab: the group access token and group deploy token this project creates.

No GitLab server runs here, so tokens are made up in this process (`glpat-...`), and Create fails without the
provider credential (`gitlab:token` or GITLAB_TOKEN), as the real provider's first API call would. Check holds
the inputs to pulumi-gitlab 10.x's documented formats (the SDK's docstrings: scopes and access levels by name,
`expires_at` as YYYY-MM-DD for access tokens and RFC3339 for deploy tokens), and Diff replaces on the properties
gitlabhq/terraform-provider-gitlab marks RequiresReplace (resource_gitlab_group_access_token.go,
resource_gitlab_group_deploy_token.go).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from tests.standin.providers.protocol import Context, Failure, Provider, Resource, serve
from tests.standin.providers.values import UNKNOWN, secret

VERSION = json.loads(
    metadata.distribution("pulumi-gitlab").locate_file("pulumi_gitlab/pulumi-plugin.json").read_text()  # type: ignore[union-attr]
)["version"]

ACCESS_TOKEN_SCOPES = (
    "api",
    "read_api",
    "read_registry",
    "write_registry",
    "read_virtual_registry",
    "write_virtual_registry",
    "read_repository",
    "write_repository",
    "create_runner",
    "manage_runner",
    "ai_features",
    "k8s_proxy",
    "read_observability",
    "write_observability",
    "self_rotate",
)
DEPLOY_TOKEN_SCOPES = (
    "read_repository",
    "read_registry",
    "write_registry",
    "read_virtual_registry",
    "write_virtual_registry",
    "read_package_registry",
    "write_package_registry",
)
ACCESS_LEVELS = (
    "no one",
    "minimal",
    "guest",
    "planner",
    "reporter",
    "security_manager",
    "developer",
    "maintainer",
    "owner",
)
DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
RFC3339 = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"


def _scopes(inputs: dict[str, Any], allowed: tuple[str, ...]) -> list[tuple[str, str]]:
    scopes = inputs.get("scopes")
    if scopes is None:
        return [("scopes", 'Missing required argument. The argument "scopes" is required.')]
    if scopes == UNKNOWN:
        return []
    return [
        ("scopes", f"scope {s!r} is not one of {list(allowed)}") for s in scopes if s != UNKNOWN and s not in allowed
    ]


def _format(inputs: dict[str, Any], name: str, pattern: str, shape: str) -> list[tuple[str, str]]:
    value = inputs.get(name)
    if isinstance(value, str) and value != UNKNOWN and not re.fullmatch(pattern, value):
        return [(name, f"{name} must be {shape}, got {value!r}")]
    return []


def _credential(ctx: Context) -> None:
    if not (ctx.config.get("token") or os.environ.get("GITLAB_TOKEN")):
        raise Failure("GitLab API error: 401 Unauthorized (no provider token: set gitlab:token or GITLAB_TOKEN)")


class GroupAccessToken(Resource):
    token = "gitlab:index/groupAccessToken:GroupAccessToken"
    replace_on = frozenset({"group", "name", "scopes", "accessLevel", "expiresAt", "description"})
    defaults = {"accessLevel": "maintainer"}
    computed = ("token", "active", "revoked", "createdAt", "userId", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        faults = [
            (n, f'Missing required argument. The argument "{n}" is required.')
            for n in ("group", "name")
            if n not in inputs
        ]
        faults += _scopes(inputs, ACCESS_TOKEN_SCOPES)
        level = inputs.get("accessLevel")
        if level not in (None, UNKNOWN) and level not in ACCESS_LEVELS:
            faults.append(("accessLevel", f"access_level {level!r} is not one of {list(ACCESS_LEVELS)}"))
        faults += _format(inputs, "expiresAt", DATE, "a date in YYYY-MM-DD format")
        if "expiresAt" not in inputs and "rotationConfiguration" not in inputs:
            faults.append(("expiresAt", "one of expires_at or rotation_configuration must be set"))
        return faults

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _credential(ctx)
        token_id = secrets.randbelow(10**6)
        return f"{inputs['group']}:{token_id}", {
            "token": secret("glpat-" + secrets.token_urlsafe(15)),
            "active": True,
            "revoked": False,
            "createdAt": datetime.now(UTC).isoformat(),
            "userId": secrets.randbelow(10**6),
        }

    def update(self, ctx: Context, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        _credential(ctx)
        return {}

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        _credential(ctx)


class GroupDeployToken(Resource):
    token = "gitlab:index/groupDeployToken:GroupDeployToken"
    replace_on = frozenset({"group", "name", "scopes", "expiresAt", "username"})
    computed = ("token", "deployTokenId", "expired", "revoked", "id")

    def validate(self, ctx: Context, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        faults = [
            (n, f'Missing required argument. The argument "{n}" is required.')
            for n in ("group", "name")
            if n not in inputs
        ]
        faults += _scopes(inputs, DEPLOY_TOKEN_SCOPES)
        faults += _format(inputs, "expiresAt", RFC3339, "a time in RFC3339 format (2027-01-04T00:00:00Z)")
        return faults

    def create(self, ctx: Context, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        _credential(ctx)
        token_id = secrets.randbelow(10**6)
        return f"{inputs['group']}:{token_id}", {
            "token": secret("gldt-" + secrets.token_urlsafe(15)),
            "username": inputs.get("username") or f"gitlab+deploy-token-{token_id}",
            "deployTokenId": token_id,
            "expired": False,
            "revoked": False,
        }

    def delete(self, ctx: Context, id_: str, state: dict[str, Any]) -> None:
        _credential(ctx)


if __name__ == "__main__":
    serve(Provider("gitlab", VERSION, [GroupAccessToken(), GroupDeployToken()]))
