"""The conventions pack. Only builds the PolicyPack: constructing it starts the analyzer server."""

from pulumi_policy import EnforcementLevel, PolicyPack

import prefixes
import tagging
import templates

PolicyPack(
    name="ecr-ptc-conventions",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        prefixes.POLICY,
        tagging.REQUIRED_TAGS_POLICY,
        tagging.ENVIRONMENT_POLICY,
        templates.COVERAGE_POLICY,
        templates.ROLE_POLICY,
    ],
)
