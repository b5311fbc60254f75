"""Shared helpers: build stack configs and run the program or a component under the mock engine."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, settings

from ptc.mock_engine import RunResult, run_program
from ptc.stack_config import StackConfig, load_project, make_stack_config

# The suite runs on every core (pytest-xdist) beside the packs and servers it starts: time limits on drawing
# examples would fail a test for the machine's load, not for what it tests. How many examples run is unchanged.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "ecr-pull-through-cache"
TOKENS = {
    "docker-hub": "dckr_pat_test-token-docker-hub",
    "github": "ghp_testtokengithub0000000000000000000",
    "gitlab": "glpat-test-token-gitlab",
    "azure": "azure-test-token",
    "chainguard": "chainguard-test-token",
}

BASE_CONFIG: dict[str, Any] = {
    "aws:region": "us-east-2",
    "environment": "test",
    "tags": {"team": "platform"},
    "upstreams": [
        {"kind": "ecr-public"},
        {"kind": "docker-hub", "username": "acme-bot", "token_scopes": ["repo:public_read"]},
    ],
    "credentials": {"docker-hub": {"secure": TOKENS["docker-hub"]}},
}


def stack_config(config: dict[str, Any], stack: str = "test") -> StackConfig:
    return make_stack_config(PROJECT, stack, config, load_project(ROOT).get("config"))


def run_stack(config: dict[str, Any], *, preview: bool = False) -> RunResult:
    return run_program(ROOT, stack_config(config), preview=preview)


def run_component(build: Callable[[], Any], *, preview: bool = False, region: str = "us-east-2") -> RunResult:
    """Run `build` (which declares components) as the whole program."""
    return run_program(ROOT, stack_config({"aws:region": region}), preview=preview, program=build)


def config_with(**changes: Any) -> dict[str, Any]:
    """A copy of the base config with top-level keys replaced (None removes a key)."""
    config = copy.deepcopy(BASE_CONFIG)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def stack_file(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"]


@pytest.fixture(scope="session")
def dev_up() -> RunResult:
    result = run_program(ROOT, stack_config(stack_file("dev"), "dev"), preview=False)
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="session")
def prod_up() -> RunResult:
    result = run_program(ROOT, stack_config(stack_file("prod"), "prod"), preview=False)
    assert result.error is None, result.error
    return result


def write_project(root: Path, name: str, program: str, config: str = "config:\n  aws:region: us-east-2\n") -> Path:
    """A Pulumi project of its own in `root`: Pulumi.yaml, the dev stack's file and `__main__.py`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    (root / "Pulumi.dev.yaml").write_text(config)
    (root / "__main__.py").write_text(program)
    return root


def run_ptc(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m ptc ...` as a user runs it (a process of its own), with extra environment if given."""
    # The stack ptc picks without --stack follows PULUMI_STACK and the workspace's selection (PULUMI_HOME): the
    # developer's own must not steer the tests.
    isolated = {k: v for k, v in os.environ.items() if k != "PULUMI_STACK"}
    isolated["PULUMI_HOME"] = str(ROOT / ".pytest_cache" / "no-pulumi-home")
    return subprocess.run(
        [sys.executable, "-m", "ptc", *args],
        cwd=cwd,
        env={**isolated, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
