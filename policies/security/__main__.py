"""The security pack. Only builds the PolicyPack: constructing it starts the analyzer server."""

from pulumi_policy import EnforcementLevel, PolicyPack

import credentials
import encryption
import permissions
import scopes
import upstreams

PolicyPack(
    name="ecr-ptc-security",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        scopes.POLICY,
        credentials.RULE_POLICY,
        credentials.STACK_POLICY,
        upstreams.ALLOWLIST_POLICY,
        upstreams.KIND_POLICY,
        permissions.POLICY,
        encryption.SECRET_KEY_POLICY,
        encryption.POLICY,
    ],
)
