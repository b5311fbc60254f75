"""What keeps a policy pack standing on hostile input: no exception reaches the engine, bad config is refused.

Each pack carries its own copy of this file (a pack is published alone); a test keeps the copies identical.

- `guarded(validate)`: a policy that meets a property of a shape it does not expect (a number where a string
  belongs, `"Statement": [null, 1]`, ...) reports a violation naming the resource instead of raising: an
  exception would reach the Pulumi engine and abort `pulumi preview` for every stack. Values unknown during
  preview still propagate, so the SDK reports them as "can't run during preview".
- `check_config_on_configure(policies, checks)`: the SDK stores whatever `Configure` sends. This refuses, up
  front and with the setting named, a setting no policy declares (`additionalProperties: false`), a value of
  the wrong type, and what a schema cannot say (an invalid regular expression, an unknown upstream kind),
  answering `INVALID_ARGUMENT` so `pulumi preview` stops with the message.
"""

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from pulumi_policy.proxy import UnknownValueError


def _label(resource_type: str, name: str) -> str:
    parts = resource_type.split(":")
    shown = f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}" if len(parts) == 3 else resource_type
    return f"{shown} '{name}'"


def guarded(validate: Callable[..., Any], policy_name: str, *, stack: bool = False) -> Callable[..., Any]:
    """`validate`, but an unexpected exception becomes a violation of the resource (or the stack)."""

    @functools.wraps(validate)
    def wrapper(args: Any, report: Callable[..., Any]) -> Any:
        try:
            return validate(args, report)
        except UnknownValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - the engine must never see it
            what = "the stack" if stack else f"the resource {_label(args.resource_type, args.name)}"
            report(
                f"The policy {policy_name} could not check {what}: a property has a shape it cannot read "
                f"({type(exc).__name__}). Fix the property to the provider's documented type; until then the "
                "check counts as failed."
            )
            return None

    return wrapper


# --------------------------------------------------------------------------------------------
# Policy config, checked when the pack is configured
# --------------------------------------------------------------------------------------------

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer(),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, Mapping),
}


def schema_faults(value: Any, schema: Mapping[str, Any], where: str) -> list[str]:
    """JSON-schema faults for the subset the packs use: type, items, pattern, enum, properties,
    additionalProperties."""
    expected = schema.get("type")
    if expected and not TYPES[expected](value):
        return [f"{where}: must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, not {json.dumps(value)}"]
    faults = []
    if "enum" in schema and value not in schema["enum"]:
        faults.append(f"{where}: {json.dumps(value)} is not one of {', '.join(map(str, schema['enum']))}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        faults.append(f"{where}: {json.dumps(value)} does not match {schema['pattern']}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            faults.extend(schema_faults(item, schema["items"], f"{where}[{index}]"))
    if isinstance(value, Mapping):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                faults.extend(schema_faults(item, properties[key], f"{where}.{key}"))
            elif extra is False:
                known = ", ".join(sorted(properties)) or "none"
                faults.append(f"{where}.{key}: is not a setting of this policy (settings: {known})")
            elif isinstance(extra, Mapping):
                faults.extend(schema_faults(item, extra, f"{where}.{key}"))
    return faults


def config_faults(
    policies: list[Any],
    config: Mapping[str, Mapping[str, Any]],
    checks: Mapping[str, Callable[[Mapping[str, Any]], list[str]]],
) -> list[str]:
    """Every fault in a pack's policy config: unknown policies and settings, types, and the policies' own checks."""
    by_name = {p.name: p for p in policies}
    faults = []
    for name, settings in config.items():
        policy = by_name.get(name)
        if policy is None:
            faults.append(
                f"policy config '{name}': this pack has no such policy (policies: {', '.join(sorted(by_name))})"
            )
            continue
        settings = dict(settings or {})
        level = settings.pop("enforcementLevel", None)
        if level is not None and level not in LEVELS:
            faults.append(f"policy config '{name}'.enforcementLevel: must be one of {', '.join(LEVELS)}")
        schema = policy.config_schema
        properties = dict(schema.properties) if schema is not None else {}
        faults.extend(
            schema_faults(
                settings,
                {"type": "object", "properties": properties, "additionalProperties": False},
                f"policy config '{name}'",
            )
        )
        if not faults and name in checks:
            faults.extend(f"policy config '{name}'.{fault}" for fault in checks[name](settings))
    return faults


def check_config_on_configure(
    policies: list[Any], checks: Mapping[str, Callable[[Mapping[str, Any]], list[str]]]
) -> None:
    """Make the SDK's `Configure` refuse invalid policy config (call before constructing the PolicyPack)."""
    import grpc
    from google.protobuf import json_format
    from pulumi_policy import policy as sdk

    servicer = sdk._PolicyAnalyzerServicer  # noqa: SLF001 - the SDK has no hook for config validation
    original = servicer.Configure
    if getattr(original, "_ptc_checked", False):
        return

    def configure(self: Any, request: Any, context: Any) -> Any:
        config = {}
        for name in request.policyConfig:
            settings = json_format.MessageToDict(request.policyConfig[name].properties)
            config[name] = settings
        faults = config_faults(policies, config, checks)
        if faults:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid policy config: " + "; ".join(faults))
        return original(self, request, context)

    configure._ptc_checked = True  # type: ignore[attr-defined]
    servicer.Configure = configure


def regex_fault(setting: str, pattern: Any) -> list[str]:
    """A setting that must be a regular expression Python (and so the pack) can compile."""
    if pattern is None:
        return []
    try:
        re.compile(pattern)
    except (re.error, TypeError) as exc:
        return [f"{setting}: {json.dumps(pattern)} is not a valid regular expression ({exc})"]
    return []
