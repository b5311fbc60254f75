"""Whether this Python can run ptc at all, asked before anything imports a dependency (standard library only).

`python -m ptc` in a clone with the system Python, or a virtualenv without the project installed, would otherwise
end in an ImportError traceback from wherever the first import happens to be.
"""

from __future__ import annotations

import sys
from importlib.util import find_spec

MODULES = (
    ("ecr_pull_through_cache", "ecr-pull-through-cache"),
    ("pulumi", "pulumi"),
    ("pulumi_aws", "pulumi-aws"),
    ("pulumi_policy", "pulumi-policy"),
    ("boto3", "boto3"),
    ("botocore", "botocore"),
    ("yaml", "PyYAML"),
    ("rich", "rich"),
    ("jsonschema", "jsonschema"),
    ("pydantic", "pydantic"),
    ("regex", "regex"),
    ("policy_sentry", "policy_sentry"),  # the packs', when ptc runs a pack with this interpreter
    ("ptc_policy_support", "ecr-ptc-policy-support"),
)
"""(import name, distribution) of what every verb may import: pyproject.toml's dependencies and the package."""


def missing() -> list[str]:
    """The distributions this Python lacks, in the order above."""
    absent = []
    for module, distribution in MODULES:
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or shadowing module counts as absent
            found = False
        if not found:
            absent.append(distribution)
    return absent


def refusal(absent: list[str]) -> str:
    return (
        f"ptc cannot start: this Python ({sys.executable}) lacks {', '.join(absent)}.\n"
        "In a clone of ecr-pull-through-cache, run `make install` and then `.venv/bin/ptc` "
        "(or `.venv/bin/python -m ptc`).\n"
        "Elsewhere, install the tool: `pipx install ecr-pull-through-cache`, then run `ptc`."
    )
