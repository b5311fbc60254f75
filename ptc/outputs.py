"""The cache stack's outputs, as `pulumi stack output --json` prints them (DESIGN.md section 6)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REGISTRY_URL = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")


class OutputsError(Exception):
    """The stack outputs cannot be read, or are not this project's."""


def load_outputs(path: str | None, stack: str | None = None) -> dict[str, Any]:
    """Outputs from a file (`-` for stdin), or from the Pulumi CLI for a stack."""
    if path is not None:
        try:
            outputs = json.loads(sys.stdin.read() if path == "-" else Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise OutputsError(f"cannot read the stack outputs {path}: {exc}") from None
    else:
        pulumi = shutil.which("pulumi")
        if pulumi is None:
            raise OutputsError("--stack needs the Pulumi CLI on PATH to read the stack's outputs; or pass "
                               "--outputs FILE with the output of `pulumi stack output --json`")
        result = subprocess.run([pulumi, "stack", "output", "--json", "--stack", str(stack)], capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise OutputsError(f"`pulumi stack output --json --stack {stack}` failed: {result.stderr.strip()}")
        outputs = json.loads(result.stdout)
    if not isinstance(outputs, dict) or not isinstance(outputs.get("upstreams"), dict):
        raise OutputsError("the stack outputs have no `upstreams` map: is this an ecr-pull-through-cache stack "
                           "that has been deployed?")
    return outputs


def registry_outputs(path: str | None, region: str | None) -> tuple[dict[str, Any], str, str]:
    """Outputs, account and region for a verb that talks to the registry; `--region`, if given, must agree."""
    outputs = load_outputs(path)
    account, registry_region = registry_of(outputs)
    if region and region != registry_region:
        raise OutputsError(f"the outputs describe a registry in {registry_region}, not {region}")
    return outputs, account, registry_region


def registry_of(outputs: dict[str, Any]) -> tuple[str, str]:
    """(account, region) of the registry the outputs describe."""
    match = REGISTRY_URL.match(str(outputs.get("registry_url", "")))
    if not match:
        raise OutputsError(f"the stack outputs' registry_url {outputs.get('registry_url')!r} is not an ECR registry")
    return match["account"], match["region"]
