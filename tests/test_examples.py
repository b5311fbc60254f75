"""The examples as their READMEs run them: the offline preview commands, against outputs that are up to date."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests import example_outputs
from tests.conftest import ROOT

EXAMPLES = ("consumer", "upstream-grant")


def readme_commands(example: str) -> list[list[str]]:
    """The `ptc` lines of the README's "Preview it offline" section, as a shell would split them."""
    text = (ROOT / "examples" / example / "README.md").read_text()
    section = text.split("## Preview it offline", 1)[1].split("\n## ", 1)[0]
    commands = [
        shlex.split(line)
        for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
        for line in block.splitlines()
        if line.startswith("ptc ")
    ]
    assert commands, f"examples/{example}/README.md shows no ptc command"
    return commands


@pytest.mark.parametrize("path", sorted(example_outputs.FILES), ids=lambda p: p.parent.name)
def test_the_cache_outputs_the_examples_read_are_up_to_date(path: Path):
    stack = example_outputs.FILES[path]
    assert path.read_text() == example_outputs.outputs_text(stack), (
        f"{path.relative_to(ROOT)} is not what the {stack} stack outputs: "
        "run `.venv/bin/python -m tests.example_outputs`"
    )


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_example_previews_with_its_readmes_commands(example):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "PTC_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for command in readme_commands(example):
        run = subprocess.run(
            [*command, "--json"], cwd=ROOT / "examples" / example, env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stdout + run.stderr
        report = json.loads(run.stdout)
        assert report["packs"] and not [v for v in report["violations"] if v["level"] == "mandatory"]
        outputs = report["outputs"]
        if example == "consumer":
            assert outputs["images"] == [
                "123456789012.dkr.ecr.us-east-2.amazonaws.com/docker-hub/library/nginx:1.27",
                "123456789012.dkr.ecr.us-east-2.amazonaws.com/github/acme/api:2.4.0",
            ]
        else:
            policy = json.loads(outputs["registry_policy"])
            assert [s["Sid"] for s in policy["Statement"]] == [
                "ReplicateToDisasterRecovery",
                "PullThroughCacheProdGolden",
            ]
            # The preview ran as the account aws:allowedAccountIds names: the grant is scoped to its registry.
            assert policy["Statement"][1]["Resource"] == "arn:aws:ecr:eu-west-1:210987654321:repository/release/*"


def test_a_stack_with_one_allowed_account_previews_as_that_account(tmp_path):
    from ptc.stack_config import make_stack_config

    def account(values):
        return make_stack_config("p", "dev", values).account

    assert account({"aws:allowedAccountIds": ["210987654321"]}) == "210987654321"
    for values in (
        {},
        {"aws:allowedAccountIds": ["210987654321", "123456789012"]},
        {"aws:allowedAccountIds": ["2109876543210"]},
        {"aws:allowedAccountIds": ["２１０９８７６５４３２１"]},
        {"aws:allowedAccountIds": [210987654321]},
        {"aws:allowedAccountIds": "210987654321"},
    ):
        assert account(values) is None, values
