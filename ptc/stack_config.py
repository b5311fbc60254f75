"""Read a stack's config as the Pulumi CLI hands it to a program, without decrypting anything.

`Pulumi.yaml` gives the project name and config defaults; `Pulumi.<stack>.yaml` (or any file
of that shape) gives the values. A `secure:` value stands for itself: its ciphertext becomes
the value and the key is marked secret, exactly as a program would see a decrypted secret,
so previews need no passphrase and never hold a real token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class StackConfigError(Exception):
    """A stack or project file cannot be read."""


@dataclass
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]
    """Full keys (`namespace:key`) to the strings the runtime holds (JSON for objects and lists)."""
    secret_keys: list[str] = field(default_factory=list)
    path: Path | None = None

    def get(self, key: str, default: Any = None) -> Any:
        """A value decoded from its runtime string (`aws:region`, `ecr-pull-through-cache:upstreams`)."""
        if key not in self.values:
            return default
        text = self.values[key]
        try:
            return json.loads(text)
        except ValueError:
            return text

    @property
    def region(self) -> str:
        return self.get("aws:region") or "us-east-1"


def load_project(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    try:
        project = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise StackConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(project, dict) or not project.get("name"):
        raise StackConfigError(f"{path} has no project name")
    return project


def stack_file(project_dir: Path, stack: str) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def stack_names(project_dir: Path) -> list[str]:
    """Every stack that has a `Pulumi.<stack>.yaml` in the project directory."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def load_stack_config(project_dir: Path, *, stack: str | None = None, config_file: Path | None = None,
                      ) -> StackConfig:
    """Config of `stack` (from `Pulumi.<stack>.yaml`) or of an explicit file, with project defaults applied."""
    project = load_project(project_dir)
    name = project["name"]
    if config_file is None:
        if stack is None:
            raise StackConfigError("give a stack name or a config file")
        config_file = stack_file(project_dir, stack)
        if not config_file.exists():
            known = ", ".join(stack_names(project_dir)) or "none"
            raise StackConfigError(f"stack '{stack}' has no {config_file.name} (stacks here: {known})")
    stack = stack or config_file.stem.removeprefix("Pulumi.")
    try:
        document = yaml.safe_load(config_file.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise StackConfigError(f"cannot read {config_file}: {exc}") from None
    if not isinstance(document, dict):
        raise StackConfigError(f"{config_file} must be a mapping with a 'config' key")
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise StackConfigError(f"{config_file}: 'config' must be a mapping")

    return make_stack_config(name, stack, raw, project.get("config"), path=config_file)


def make_stack_config(project: str, stack: str, config: dict[str, Any], declared: dict[str, Any] | None = None,
                      path: Path | None = None) -> StackConfig:
    """A `StackConfig` from a stack file's `config:` mapping (keys with or without the project namespace).

    `declared` is the project file's `config:` block, whose defaults apply to keys the stack omits.
    """
    values: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, declaration in (declared or {}).items():
        full = key if ":" in key else f"{project}:{key}"
        if isinstance(declaration, dict) and "default" in declaration:
            values[full] = _runtime_string(declaration["default"])
        elif not isinstance(declaration, dict):
            values[full] = _runtime_string(declaration)
    for key, value in config.items():
        full = key if ":" in key else f"{project}:{key}"
        plain, secret = _reveal_ciphertext(value)
        values[full] = _runtime_string(plain)
        if secret:
            secret_keys.append(full)
    return StackConfig(project=project, stack=stack, values=values, secret_keys=sorted(secret_keys), path=path)


def _reveal_ciphertext(value: Any) -> tuple[Any, bool]:
    """Replace every `{secure: ...}` by its ciphertext; report whether any was found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return str(value["secure"]), True
        items = {k: _reveal_ciphertext(v) for k, v in value.items()}
        return {k: v for k, (v, _) in items.items()}, any(s for _, s in items.values())
    if isinstance(value, list):
        items = [_reveal_ciphertext(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _runtime_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)
