"""The conventions pack. Only builds the PolicyPack: constructing it starts the analyzer server."""

from ptc_policy_support.hardening import check_settings
from pulumi_policy import EnforcementLevel, PolicyPack

import prefixes
import tagging
import templates

POLICIES = [
    prefixes.POLICY,
    prefixes.UNIQUE_POLICY,
    tagging.REQUIRED_TAGS_POLICY,
    tagging.ENVIRONMENT_POLICY,
    tagging.ENVIRONMENT_TAG_POLICY,
    templates.COVERAGE_POLICY,
    templates.ROLE_POLICY,
]
CONFIG_CHECKS = {"prefix-naming": prefixes.check_config}

check_settings(POLICIES, CONFIG_CHECKS)
PolicyPack(name="ecr-ptc-conventions", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
