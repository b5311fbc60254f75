"""The security pack. Only builds the PolicyPack: constructing it starts the analyzer server."""

from ptc_policy_support.hardening import check_settings
from pulumi_policy import EnforcementLevel, PolicyPack

import credentials
import encryption
import gitlab_tokens
import permissions
import principals
import registry_policy
import replication
import scopes
import upstreams

POLICIES = [
    scopes.POLICY,
    scopes.GITLAB_TOKEN_POLICY,
    gitlab_tokens.LEAST_PRIVILEGE_POLICY,
    gitlab_tokens.PERSONAL_POLICY,
    credentials.RULE_POLICY,
    credentials.STACK_POLICY,
    credentials.ENVIRONMENT_POLICY,
    upstreams.ALLOWLIST_POLICY,
    upstreams.KIND_POLICY,
    permissions.POLICY,
    registry_policy.POLICY,
    principals.POLICY,
    replication.POLICY,
    encryption.SECRET_KEY_POLICY,
    encryption.POLICY,
]
CONFIG_CHECKS = {
    "token-scopes-least-privilege": scopes.check_scopes_config,
    "upstream-allowlist": upstreams.check_config,
}

check_settings(POLICIES, CONFIG_CHECKS)
PolicyPack(name="ecr-ptc-security", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
