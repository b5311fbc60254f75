"""The Pulumi CLI's own rules for a project file and for the config values a stack gives it, read from its Go
source (sdk/go/common/workspace: loaders.go, project.go; sdk/go/common/resource/config: object.go), so `ptc`
refuses exactly what the CLI refuses and hands the program exactly the text the CLI would.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

PROJECT_SCHEMA = Path(__file__).with_name("pulumi-project.schema.json")
"""The Pulumi CLI's schema of Pulumi.yaml, copied unchanged from sdk/go/common/workspace/project.json of the CLI
version the tests build (tests check the copy against the Go module)."""


def project_faults(project: Any) -> list[str]:
    """Why the Pulumi CLI would refuse this Pulumi.yaml (project.go, ValidateProject): the name first, then the
    schema, each fault at its JSON pointer (`#/config`) as the CLI names it. Values are never shown."""
    if not isinstance(project, dict):
        return [f"#: expected object, but got {_json_type(project)}"]
    if "name" not in project:
        from ecr_pull_through_cache.model import did_you_mean

        closest = did_you_mean("name", [str(k) for k in project])
        return ["project is missing a 'name' attribute" + (f"; found '{closest}' instead" if closest else "")]
    if not isinstance(project["name"], str) or not project["name"]:
        return ["project is missing a non-empty string 'name' attribute"]
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(PROJECT_SCHEMA.read_text(encoding="utf-8")))
    faults = _config_declaration_faults(project)
    pending = list(validator.iter_errors(project))
    while pending:  # each branch's own faults where a oneOf fails, as the CLI lists them
        error = pending.pop()
        if error.context:
            pending.extend(error.context)
            continue
        pointer = "#/" + "/".join(str(p) for p in error.absolute_path)
        faults.append(f"{pointer}: {_schema_fault(error)}")
    return sorted(set(faults))


def _schema_fault(error: Any) -> str:
    expected = error.validator_value
    if error.validator == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"expected {' or '.join(kinds)}, but got {_json_type(error.instance)}"
    if error.validator == "enum":
        return f"must be one of {', '.join(json.dumps(v) for v in expected)}"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in error.schema.get("properties", {}))
        return f"{', '.join(repr(k) for k in unknown)} not allowed; the allowed attributes are {', '.join(allowed)}"
    if error.validator == "required":
        return str(error.message)
    if error.validator == "minLength":
        return "must not be empty"
    return f"does not match the schema's {error.validator} rule"


def _json_type(value: Any) -> str:
    for name, kinds in (("null", type(None)), ("boolean", bool), ("integer", int), ("number", float)):
        if isinstance(value, kinds):
            return name
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


INT64 = range(-(2**63), 2**63)
_ATOI = re.compile(r"[+-]?[0-9]+", re.ASCII)


def go_json(value: Any) -> str:
    """`value` as Go's encoding/json writes it, which is how the CLI stores a stack's non-text config values
    (object.go, MarshalString): map keys sorted, no spaces, a float in Go's shortest form (`30.0` is `30`)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        pairs = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{json.dumps(k)}:{go_json(v)}" for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return json.dumps(str(value))


def _go_float(number: float) -> str:
    """encoding/json's floatEncoder: `strconv.AppendFloat(f, 'f', -1, 64)`, or 'e' below 1e-6 and from 1e21 with
    `e-07` shortened to `e-7` (Python's repr has the same shortest round-trip digits); then read back as the CLI
    reads it."""
    if not math.isfinite(number):
        return "null"  # Go refuses to store it; the config type check then refuses it too
    size = abs(number)
    if size != 0 and (size < 1e-6 or size >= 1e21):
        text = repr(number)
        return re.sub(r"e-0([0-9])$", r"e-\1", text)
    text = format(Decimal(repr(number)), "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    # object.go, unmarshalObject: the number is read back as a json.Number, an int64 where it can be (`-0` is 0).
    return str(int(text)) if re.fullmatch(r"-?[0-9]+", text) and int(text) in INT64 else text


_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]*", re.ASCII)


def stack_name(given: str, project: str) -> str:
    """The stack `--stack` names, as the CLI reads a stack reference: `<stack>`, `<org>/<stack>` or
    `<org>/<project>/<stack>` (the project must be this one: backend.CurrentProjectContradictsWorkspace), the name
    held to tokens/stack_name.go's ParseStackName. Raises ValueError with the CLI's words."""
    parts = given.split("/")
    if len(parts) > 3:
        raise ValueError(
            f"could not parse stack reference '{given}': use <stack>, <org>/<stack> or <org>/<project>/<stack>"
        )
    if len(parts) == 3 and parts[1] != project:
        raise ValueError(f"project name '{project}' and stack reference project name '{parts[1]}' must be the same")
    name = parts[-1]
    if not name:
        raise ValueError("a stack name may not be empty")
    if len(name) > 100:
        raise ValueError("a stack name cannot exceed 100 characters")
    start = _STACK_NAME.match(name)
    valid = start.end() if start else 0  # the longest valid start
    if valid != len(name):
        raise ValueError(
            "a stack name may only contain alphanumeric, hyphens, underscores, or periods: "
            f"invalid character {name[valid]!r} at position {valid}"
        )
    return name


def full_key(project: str, key: str) -> str:
    """A config key as the CLI reads it (config/key.go, ParseKey, once loaders.go has put a bare key in the project's
    namespace): `<namespace>:<name>`, the old `<namespace>:config:<name>` as `<namespace>:<name>`. Any other shape
    is returned as it is, for `key_fault` to refuse."""
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"
    if len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]:
        return f"{parts[0]}:{parts[2]}"
    return key


def key_fault(key: str) -> str | None:
    """Why the CLI cannot read `key` as a config key, or None."""
    parts = key.split(":")
    if len(parts) <= 2 or (len(parts) == 3 and parts[1] == "config" and parts[0] and parts[2]):
        return None
    return (
        f"could not parse {key} as a configuration key (configuration keys should be of the form "
        "`<namespace>:<name>`), as the Pulumi CLI says"
    )


def stored_content(value: Any) -> Any:
    """What the CLI type-checks of a stack's value (pkg/workspace/config.go, validateStackConfigValue): a scalar as
    the text it stores, an object or list as itself. A key without a value is the empty text, for now
    (loaders.go: "This is currently treated as an empty string")."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return go_json(value)
    return value


def value_fits(kind: str, items: Any, content: Any) -> bool:
    """project.go, ValidateConfigValue: whether `content` is of the declared config type."""
    if kind == "string":
        return isinstance(content, str)
    if kind == "integer":
        if isinstance(content, bool):
            return False
        if isinstance(content, int) or (isinstance(content, float) and content == math.trunc(content)):
            return True
        return isinstance(content, str) and bool(_ATOI.fullmatch(content)) and int(content) in INT64
    if kind == "boolean":
        return content in ("true", "false") or isinstance(content, bool)
    if kind == "object":
        return isinstance(content, dict)
    if not isinstance(content, list) or not isinstance(items, dict) or not isinstance(items.get("type"), str):
        return False
    return all(value_fits(items["type"], items.get("items"), item) for item in content)


def type_name(kind: str, items: Any) -> str:
    """project.go, InferFullTypeName: `array<string>` for typed arrays."""
    if isinstance(items, dict) and isinstance(items.get("type"), str):
        return f"array<{type_name(items['type'], items.get('items'))}>"
    return kind


def _config_declaration_faults(project: dict[str, Any]) -> list[str]:
    """project.go, Project.Validate: what each `config:` declaration may hold, after the shorthand `key: value` is
    read as a default (the project's keys) or a value (another namespace's), as RewriteShorthandConfigValues does."""
    config = project.get("config")
    if not isinstance(config, dict):
        return []
    name = project["name"]
    faults = []
    for key, declaration in config.items():
        if not isinstance(declaration, dict):
            if isinstance(declaration, (str, int, bool, list)) and not isinstance(declaration, float):
                continue  # shorthand: a default or a value
            declaration = {}
        typed = declaration.get("type")
        items = declaration.get("items")
        default, value = declaration.get("default"), declaration.get("value")
        if default is not None and value is not None:
            faults.append(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        elif ":" not in key or key.startswith(f"{name}:"):
            if typed == "array" and items is None:
                faults.append(
                    f"The configuration key '{key}' declares an array but does not specify the underlying type via "
                    "the 'items' attribute"
                )
            elif isinstance(typed, str) and default is not None and not value_fits(typed, items, default):
                faults.append(
                    f"The default value specified for configuration key '{key}' is not of the expected type "
                    f"'{type_name(typed, items)}'"
                )
        elif typed is not None:
            faults.append(f"Configuration key '{key}' is not namespaced by the project and should not define a type")
        elif default is not None:
            faults.append(
                f"Configuration key '{key}' is not namespaced by the project and should not define a default value. "
                "Did you mean to use the 'value' attribute instead of 'default'?"
            )
        elif value is None:
            faults.append(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")
    return faults
