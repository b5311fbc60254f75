"""What keeps a policy pack standing on hostile input: no exception reaches the engine, bad config is reported;
and `declare`, the one way the packs declare a policy (guarded, with its level and its settings' schema).

- `guarded(validate)`: a policy that meets a property of a shape it does not expect (a number where a string
  belongs, `"Statement": [null, 1]`, ...) reports a violation naming the resource instead of raising: an
  exception would reach the Pulumi engine and abort `pulumi preview` for every stack. Values unknown during
  preview still propagate, so the SDK reports them as "can't run during preview".
- Policy config: the Pulumi CLI validates each policy's settings against the schema the policy declares before
  it configures the pack (gojsonschema; pkg/resource/analyzer/config.go, ReconcilePolicyPackConfig and
  validatePolicyConfig), and `ptc` does the same with `jsonschema`. A declared schema cannot refuse a setting it
  does not name (the CLI sends `properties` and `required` only), nor say what Python itself decides (a regular
  expression Go accepts and Python does not). `check_settings` lets each policy say so itself: on its first
  call it reports, once, a violation naming the setting and the fix, and checks nothing until the config is
  fixed. Nothing of the SDK is patched.
- Unknown values exist only in a preview: the CLI starts a pack with `PULUMI_DRY_RUN` (sdk/go/common/resource/plugin/
  analyzer_plugin.go, `maybeAppendEnv("PULUMI_DRY_RUN", ...)`) and the SDK's proxies take any string equal to a
  sentinel for "unknown". During `pulumi up` nothing is unknown, so `guarded` hands the policy plain values: a
  property that happens to equal the sentinel is judged as the string it is, never deferred.
"""

import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import pulumi.runtime
from pulumi_policy import EnforcementLevel, PolicyConfigSchema, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UnknownValueError, _DictProxy, _ListProxy

from .reading import label


def guarded(validate: Callable[..., Any], policy_name: str, *, stack: bool = False) -> Callable[..., Any]:
    """`validate`, but invalid config or an unexpected exception becomes a violation of the resource (or the
    stack)."""

    @functools.wraps(validate)
    def wrapper(args: Any, report: Callable[..., Any]) -> Any:
        try:
            if _config_refused(args, report, policy_name):
                return None
            if not pulumi.runtime.is_dry_run():
                _settle(args, stack)
            return validate(args, report)
        except UnknownValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - the engine must never see it
            what = "the stack" if stack else f"the resource {label(args.resource_type, args.name)}"
            report(
                f"The policy {policy_name} could not check {what}: a property has a shape it cannot read "
                f"({type(exc).__name__}). Fix the property to the provider's documented type; until then the "
                "check counts as failed."
            )
            return None

    return wrapper


def _plain(value: Any) -> Any:
    """A value read through the SDK's unknown-checking proxies, as plain dicts and lists."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _settle(args: Any, stack: bool) -> None:
    """Outside a preview: every resource's properties (and its provider's) as plain values, nothing unknown."""
    resources = list(args.resources) if stack else [args]
    for resource in resources:
        resource.props = _plain(resource.props)
        provider = getattr(resource, "provider", None)
        if provider is not None and getattr(provider, "props", None) is not None:
            provider.props = _plain(provider.props)


# --------------------------------------------------------------------------------------------
# Policy config, checked by each policy on its first call
# --------------------------------------------------------------------------------------------

_SETTINGS: dict[str, tuple[frozenset[str], Callable[[Mapping[str, Any]], list[str]] | None]] = {}
"""Per policy name: the settings its schema declares, and its own check of what a schema cannot say."""
_REPORTED: set[str] = set()


def check_settings(policies: list[Any], checks: Mapping[str, Callable[[Mapping[str, Any]], list[str]]]) -> None:
    """Record each policy's declared settings and check (call before constructing the PolicyPack)."""
    for policy in policies:
        schema = policy.config_schema
        known = frozenset(schema.properties or {}) if schema is not None else frozenset()
        _SETTINGS[policy.name] = (known, checks.get(policy.name))


def settings_faults(policy_name: str, settings: Mapping[str, Any]) -> list[str]:
    """Settings the policy does not declare, then (if none) what its own check finds."""
    known, check = _SETTINGS.get(policy_name, (frozenset(), None))
    faults = [
        f"{key}: is not a setting of this policy (settings: {', '.join(sorted(known)) or 'none'})"
        for key in sorted(set(settings) - known - {"enforcementLevel"})
    ]
    if not faults and check is not None:
        faults = check(settings)
    return [f"policy config '{policy_name}'.{fault}" for fault in faults]


def _config_refused(args: Any, report: Callable[..., Any], policy_name: str) -> bool:
    """Whether the policy's config is invalid; reported once per pack process, on the policy's first call."""
    faults = settings_faults(policy_name, args.get_config() or {})
    if faults and policy_name not in _REPORTED:
        _REPORTED.add(policy_name)
        report(
            "invalid policy config: "
            + "; ".join(faults)
            + ". Fix the policy config file (--policy-pack-config); until then this policy checks nothing and "
            "counts as failed."
        )
    return bool(faults)


def regex_fault(setting: str, pattern: Any) -> list[str]:
    """A setting that must be a regular expression Python (and so the pack) can compile."""
    if pattern is None:
        return []
    try:
        re.compile(pattern)
    except (re.error, TypeError) as exc:
        return [f"{setting}: {json.dumps(pattern)} is not a valid regular expression ({exc})"]
    return []


def declare(
    name: str,
    description: str,
    validate: Callable[..., Any],
    *,
    stack: bool = False,
    advisory: bool = False,
    settings: dict[str, Any] | None = None,
) -> Any:
    """One policy of a pack, as every policy of these packs is declared: its check `guarded`, a resource policy or
    (`stack`) a stack policy, mandatory unless `advisory` (the pack's level), its `settings` the JSON Schema
    properties of its config (`PolicyConfigSchema`)."""
    kind = StackValidationPolicy if stack else ResourceValidationPolicy
    return kind(
        name=name,
        description=description,
        validate=guarded(validate, name, stack=stack),
        enforcement_level=EnforcementLevel.ADVISORY if advisory else None,
        config_schema=PolicyConfigSchema(properties=settings) if settings else None,
    )
