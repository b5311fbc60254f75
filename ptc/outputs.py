"""The cache stack's outputs, as `pulumi stack output --json` prints them (docs/DESIGN.md section 6)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from typing import Any

from ecr_pull_through_cache.catalog import TAG_MUTABILITY

REGISTRY_URL = re.compile(r"(?P<account>[0-9]{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?", re.ASCII)
MAX_BYTES = 16 * 1024 * 1024

CAMEL: dict[str, str] = {
    "registryUrl": "registry_url",
    "consumerPolicyArn": "consumer_policy_arn",
    "consumerPolicyArns": "consumer_policy_arns",
    "consumerPolicyDocument": "consumer_policy_document",
    "consumerPolicyDocuments": "consumer_policy_documents",
    "upstreamGrants": "upstream_grants",
    "imageHosts": "image_hosts",
    "kmsKeyArn": "kms_key_arn",
    "upstreamUrl": "upstream_url",
    "cacheUri": "cache_uri",
    "credentialArn": "credential_arn",
    "customRoleArn": "custom_role_arn",
    "upstreamPrefix": "upstream_prefix",
    "imageTagMutability": "image_tag_mutability",
    "imageTagMutabilityExclusionFilters": "image_tag_mutability_exclusion_filters",
    "lifecyclePolicy": "lifecycle_policy",
    "encryptionType": "encryption_type",
    "resourceTags": "resource_tags",
    "appliedFor": "applied_for",
    "scanOnPush": "scan_on_push",
    "scanFrequency": "scan_frequency",
    "repositoryPolicy": "repository_policy",
}
"""A program in TypeScript (or any language but Python) exports the schema's camelCase names."""

TEMPLATE_FIELDS: dict[str, tuple[type, ...]] = {
    "image_tag_mutability": (str,),
    "image_tag_mutability_exclusion_filters": (list,),
    "lifecycle_policy": (str, type(None)),
    "encryption_type": (str,),
    "kms_key_arn": (str, type(None)),
    "resource_tags": (dict,),
    "applied_for": (list,),
    "scan_on_push": (bool,),
    "scan_frequency": (str, type(None)),
    "repository_policy": (str, type(None)),
}
UPSTREAM_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "upstream_url": (str,),
    "cache_uri": (str,),
    "credential_arn": (str, type(None)),
    "custom_role_arn": (str, type(None)),
    "upstream_prefix": (str, type(None)),
    "template": (dict, type(None)),
}
REQUIRED_UPSTREAM = ("kind", "upstream_url", "cache_uri")


def read_stdin(limit: int) -> bytes:
    """Standard input, refused past `limit` bytes (read at most one more)."""
    from ecr_pull_through_cache.files import FileRefused

    data = sys.stdin.buffer.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(f"standard input is over the {limit // 1024} KiB it may be")
    return data


class OutputsError(Exception):
    """The stack outputs cannot be read, or are not this project's."""


def load_outputs(path: str | None, stack: str | None = None) -> dict[str, Any]:
    """Outputs from a file (`-` for stdin), or from the Pulumi CLI for a stack."""
    if path is not None:
        from ecr_pull_through_cache.files import FileRefused, decode_text, read_limited

        try:
            data = read_stdin(MAX_BYTES) if path == "-" else read_limited(path, MAX_BYTES, "the stack outputs")
            text = decode_text(data, path, "the stack outputs")
        except FileRefused as exc:
            raise OutputsError(f"{exc} (the output of `pulumi stack output --json`)") from None
        try:
            outputs = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise OutputsError(
                f"the stack outputs {path} are not JSON ({getattr(exc, 'msg', type(exc).__name__)}); "
                "give the output of `pulumi stack output --json`"
            ) from None
    else:
        pulumi = shutil.which("pulumi")
        if pulumi is None:
            raise OutputsError(
                "--stack needs the Pulumi CLI on PATH to read the stack's outputs; or pass "
                "--outputs FILE with the output of `pulumi stack output --json`"
            )
        result = subprocess.run(
            [pulumi, "stack", "output", "--json", "--stack", str(stack)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise OutputsError(f"`pulumi stack output --json --stack {stack}` failed: {result.stderr.strip()}")
        try:
            outputs = json.loads(result.stdout)
        except ValueError:
            raise OutputsError("`pulumi stack output --json` printed something that is not JSON") from None
    return validate_outputs(outputs)


def _snake(value: Any, depth: int = 0) -> Any:
    """camelCase contract names to the Python program's snake_case, leaving user data (tags, prefixes) alone."""
    if isinstance(value, dict) and depth < 4:
        return {
            CAMEL.get(k, k): (_snake(v, depth + 1) if k not in ("resourceTags", "resource_tags") else v)
            for k, v in value.items()
        }
    return value


def _template_faults(where: str, template: dict[str, Any]) -> list[str]:
    """The faults of one upstream's `template` output: field types, and the pairs ECR stores as given."""
    faults: list[str] = []
    for key, types in TEMPLATE_FIELDS.items():
        if key in template and template[key] is not None and not isinstance(template[key], types):
            faults.append(
                f"{where}.template.{key}: must be "
                f"{' or '.join(t.__name__ for t in types if t is not type(None))}, not "
                f"{type(template[key]).__name__}"
            )
    for key in ("image_tag_mutability_exclusion_filters", "applied_for"):
        if isinstance(template.get(key), list) and not all(isinstance(v, str) for v in template[key]):
            faults.append(f"{where}.template.{key}: must be a list of text")
    mutability = template.get("image_tag_mutability")
    if isinstance(mutability, str) and mutability not in TAG_MUTABILITY:
        faults.append(
            f"{where}.template.image_tag_mutability: {mutability!r} is not one of {', '.join(TAG_MUTABILITY)}"
        )
    filters = template.get("image_tag_mutability_exclusion_filters")
    if isinstance(mutability, str) and isinstance(filters, list):
        # The same rule the config holds (components/config.py): ECR takes exclusion filters only with a
        # *_WITH_EXCLUSION setting, and stores the pair it is given, so a reconcile of any other pair
        # would write on every run and never converge.
        if bool(filters) != mutability.endswith("_WITH_EXCLUSION"):
            faults.append(
                f"{where}.template.image_tag_mutability_exclusion_filters: "
                + ("only apply with a *_WITH_EXCLUSION setting, not " if filters else "are required with ")
                + mutability
            )
    if isinstance(template.get("resource_tags"), dict) and not all(
        isinstance(v, str) for v in template["resource_tags"].values()
    ):
        faults.append(f"{where}.template.resource_tags: values must be text")
    return faults


def validate_outputs(raw: Any) -> dict[str, Any]:
    """The outputs contract (docs/DESIGN.md section 6), checked once for every verb, each fault naming its key."""
    if not isinstance(raw, dict):
        raise OutputsError("the stack outputs must be a JSON object (`pulumi stack output --json`)")
    outputs: dict[str, Any] = {CAMEL[k] if k in CAMEL else str(k): v for k, v in raw.items()}
    upstreams = outputs.get("upstreams")
    if not isinstance(upstreams, dict):
        raise OutputsError(
            "the stack outputs have no `upstreams` map: is this an ecr-pull-through-cache stack that has been deployed?"
        )
    faults = []
    registry = outputs.get("registry_url")
    if not isinstance(registry, str) or not REGISTRY_URL.fullmatch(registry):
        faults.append(f"registry_url: {json.dumps(registry)[:80]} is not an ECR registry host")
    normalized = {}
    for prefix, entry in upstreams.items():
        where = f"upstreams.{prefix}"
        entry = _snake(entry)
        if not isinstance(entry, dict):
            faults.append(
                f"{where}: must be an object with kind, upstream_url and cache_uri, not {type(entry).__name__}"
            )
            continue
        for key in REQUIRED_UPSTREAM:
            if entry.get(key) in (None, ""):
                faults.append(f"{where}.{key}: is missing")
        for key, types in UPSTREAM_FIELDS.items():
            if key in entry and entry[key] is not None and not isinstance(entry[key], types):
                faults.append(
                    f"{where}.{key}: must be {' or '.join(t.__name__ for t in types if t is not type(None))}"
                    f", not {type(entry[key]).__name__}"
                )
        template = entry.get("template")
        if isinstance(template, dict):
            faults.extend(_template_faults(where, template))
        cache_uri = entry.get("cache_uri")
        if isinstance(cache_uri, str) and isinstance(registry, str) and cache_uri != f"{registry}/{prefix}":
            faults.append(f"{where}.cache_uri: {cache_uri!r} is not {registry}/{prefix}")
        normalized[prefix] = entry
    if faults:
        shown = "\n".join(f"  - {f}" for f in faults[:20]) + (
            f"\n  ... and {len(faults) - 20} more" if len(faults) > 20 else ""
        )
        raise OutputsError(f"the stack outputs break the outputs contract in {len(faults)} place(s):\n{shown}")
    outputs["upstreams"] = normalized
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
    match = REGISTRY_URL.fullmatch(str(outputs.get("registry_url", "")))
    if not match:
        raise OutputsError(f"the stack outputs' registry_url {outputs.get('registry_url')!r} is not an ECR registry")
    return match["account"], match["region"]
