"""The typed config model is the one source: its JSON Schema and docs/config.md's reference are made from it, and
`Pulumi.yaml`'s declarations, the plugin's argument types and the committed stacks agree with it."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from ecr_pull_through_cache import args as plugin_args
from ecr_pull_through_cache.config import ConfigError, StackConfig, parse_settings
from ecr_pull_through_cache.model import Section
from ecr_pull_through_cache.sections import (
    ConsumerSettings,
    IamSettings,
    KmsSettings,
    ManagedToken,
    ScanningSettings,
    TemplateSettings,
)
from ecr_pull_through_cache.upstream_config import KIND_MODELS, Upstream
from tests.test_config_leaves import CONTEXTS, mutations

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "ecr-pull-through-cache"
MODELS: tuple[type[Section], ...] = (
    StackConfig,
    Upstream,
    ManagedToken,
    TemplateSettings,
    KmsSettings,
    ScanningSettings,
    IamSettings,
    ConsumerSettings,
)


def load_tool() -> Any:
    spec = importlib.util.spec_from_file_location("config_docs", ROOT / "tools" / "config_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_schema_and_the_reference_tables_are_made_from_the_model():
    assert load_tool().main(["--check"]) == 0, "run .venv/bin/python tools/config_docs.py"


def test_the_committed_schema_is_a_valid_json_schema():
    schema = json.loads((ROOT / "docs" / "config.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_described(model: type[Section]):
    undescribed = [name for name, info in model.model_fields.items() if not info.description]
    assert not undescribed, f"{model.__name__}: give these fields a docstring: {undescribed}"


def project_declarations() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"))["config"]


def test_pulumi_yaml_declares_exactly_the_models_keys_with_their_types_and_defaults():
    declared = project_declarations()
    schema = StackConfig.model_json_schema()
    assert set(declared) == set(StackConfig.model_fields)
    # The CLI requires every key declared without a default (pkg/workspace/config.go, mergeConfig).
    assert {key for key, d in declared.items() if "default" not in d} == set(schema["required"])
    for key, declaration in declared.items():
        prop = schema["properties"][key]
        shapes = {
            kind
            for p in prop.get("anyOf", [prop])
            for kind in ([p["type"]] if isinstance(p.get("type"), str) else p.get("type", ["object"]))
        } - {"null"}
        # The model also takes the text the runtime hands a program (`"30"`, `"true"`), and a policy as JSON text.
        if "type" in declaration:  # the CLI checks these types itself
            assert declaration["type"] in shapes, key
            assert declaration.get("default") == prop.get("default"), key
        elif "default" in declaration:  # an empty mapping or list, read as unset
            assert declaration["default"] in ({}, []), key
            assert ("object" if declaration["default"] == {} else "array") in shapes, key


def stack_documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted([*ROOT.glob("Pulumi.*.yaml"), *ROOT.glob("examples/*/Pulumi.*.yaml")]):
        config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
        own = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith(f"{PROJECT}:")}
        if own:
            found.append((str(path.relative_to(ROOT)), own))
    return found


@pytest.mark.parametrize("name, config", stack_documents(), ids=[n for n, _ in stack_documents()])
def test_every_committed_stack_is_valid_by_the_published_schema(name: str, config: dict[str, Any]):
    """The schema an editor checks a stack file with accepts every stack the project ships."""
    schema = json.loads((ROOT / "docs" / "config.schema.json").read_text(encoding="utf-8"))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def typed_dict_keys(typed_dict: Any) -> set[str]:
    return set(typed_dict.__required_keys__) | set(typed_dict.__optional_keys__)


# The plugin's arguments (components/args.py, which the plugin's schema is read from) differ from the config on
# purpose only here: a component takes its token and its key as Inputs, and its grants as an Input.
PLUGIN_ONLY = {
    "UpstreamArgs": {"access_token"},
    "TemplateArgs": {"kms_key_arn"},
    "PullThroughCacheArgs": {"incoming_grants"},
}
CONFIG_ONLY = {"PullThroughCacheArgs": {"credentials", "upstream_grant_stacks"}}


@pytest.mark.parametrize(
    "typed_dict, model",
    [
        (plugin_args.PullThroughCacheArgs, StackConfig),
        (plugin_args.UpstreamArgs, Upstream),
        (plugin_args.GitLabTokenArgs, ManagedToken),
        (plugin_args.TemplateArgs, TemplateSettings),
        (plugin_args.KmsArgs, KmsSettings),
        (plugin_args.ScanningArgs, ScanningSettings),
        (plugin_args.IamArgs, IamSettings),
        (plugin_args.ConsumerArgs, ConsumerSettings),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_the_plugins_argument_types_have_the_models_fields(typed_dict: Any, model: type[Section]):
    name = typed_dict.__name__
    assert typed_dict_keys(typed_dict) - PLUGIN_ONLY.get(name, set()) == set(model.keys()) - CONFIG_ONLY.get(
        name, set()
    )


def choices(prop: dict[str, Any]) -> list[str]:
    """The enum of a property (optional keys are `anyOf` the value and null)."""
    return next(variant["enum"] for variant in prop.get("anyOf", [prop]) if "enum" in variant)


def test_the_plugins_enums_have_the_models_choices():
    schema = StackConfig.model_json_schema()["$defs"]
    template, scanning = schema["TemplateSettings"]["properties"], schema["ScanningSettings"]["properties"]
    pairs = [
        (plugin_args.ImageTagMutability, choices(template["image_tag_mutability"])),
        (plugin_args.EncryptionType, choices(template["encryption"])),
        (plugin_args.ScanType, choices(scanning["scan_type"])),
        (plugin_args.ScanFrequency, choices(scanning["frequency"])),
        (plugin_args.UpstreamRegistry, list(KIND_MODELS)),
    ]
    for enum, values in pairs:
        assert {member.value for member in enum} == set(values), enum.__name__
    assert {member.value for member in plugin_args.AppliedFor} == {
        "PULL_THROUGH_CACHE",
        "REPLICATION",
        "CREATE_ON_PUSH",
    }


SCHEMA_VALIDATOR = jsonschema.Draft202012Validator(json.loads((ROOT / "docs" / "config.schema.json").read_text()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_whatever_the_model_accepts_the_published_schema_accepts(case):
    """An editor that checks a stack file with the schema never flags a config the program takes (the other way
    round the model is stricter: prefixes, ARNs and the rules of each kind are beyond a schema)."""
    stack, raw = case
    try:
        parse_settings(copy.deepcopy(raw), CONTEXTS[stack], present_keys=[k for k in raw if raw[k] is not None])
    except ConfigError:
        return
    given_keys = {k: v for k, v in raw.items() if v is not None}
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in SCHEMA_VALIDATOR.iter_errors(given_keys)]
    assert not errors, errors
