"""`python -m ptc preview`, run as users run it: exit codes, human output, JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ptc.stack_config import stack_names
from tests.conftest import ROOT, run_ptc, stack_file, write_project

pytestmark = pytest.mark.e2e


def ptc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return run_ptc(*args, cwd=cwd)


def write_config(tmp_path: Path, config: dict, name: str = "Pulumi.ci.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"config": config}))
    return path


@pytest.mark.parametrize("stack", stack_names(ROOT))
def test_every_stack_in_the_repository_previews_clean(stack):
    result = ptc("preview", "--stack", stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Previewing stack {stack}" in result.stdout
    assert "0 mandatory" in result.stdout and "policies passed" in result.stdout


def test_human_output_shows_the_tree_outputs_and_summary_without_colour():
    result = ptc("preview", "--stack", "dev")
    out = result.stdout
    assert "+ pulumi:pulumi:Stack  ecr-pull-through-cache-dev" in out
    assert "+ ecr-pull-through-cache:index:UpstreamCache  dev-docker-hub   docker-hub <- registry-1.docker.io" in out
    assert "+ aws:ecr:PullThroughCacheRule  dev-docker-hub-rule" in out
    assert "registry_url: 123456789012.dkr.ecr.us-east-2.amazonaws.com" in out
    assert out.strip().splitlines()[-1].startswith("Resources: 45 to create; policy: 0 mandatory")
    document = json.loads(ptc("preview", "--stack", "dev", "--json").stdout)
    assert len(document["resources"]) == 45  # text and JSON count alike
    assert "\x1b[" not in out  # no colour when not a terminal
    assert result.stderr == ""


def test_json_output_shape():
    result = ptc("preview", "--stack", "dev", "--json")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    assert set(document) >= {"resources", "outputs", "violations"}
    types = {r["type"] for r in document["resources"]}
    assert "aws:ecr/pullThroughCacheRule:PullThroughCacheRule" in types
    rule = next(r for r in document["resources"] if r["name"] == "dev-docker-hub-rule")
    assert rule["properties"]["upstreamRegistryUrl"] == "registry-1.docker.io"
    assert rule["parent"].endswith("UpstreamCache::dev-docker-hub")
    version = next(r for r in document["resources"] if r["name"] == "dev-docker-hub-credentials")
    assert version["properties"]["secretString"] == "[secret]"
    assert document["outputs"]["registry_url"] == "123456789012.dkr.ecr.us-east-2.amazonaws.com"
    for violation in document["violations"]:
        assert set(violation) >= {"pack", "policy", "level", "urn", "message"}


def test_no_token_reaches_the_output():
    tokens = [v["secure"] for v in stack_file("dev")["ecr-pull-through-cache:credentials"].values()]
    for args in (("--stack", "dev"), ("--stack", "dev", "--json")):
        out = ptc("preview", *args).stdout
        assert not [t for t in tokens if t in out]


def test_a_policy_violation_exits_1(tmp_path):
    """A valid config that production policy refuses: prod without a KMS key."""
    config = dict(stack_file("dev"), **{"ecr-pull-through-cache:environment": "prod"})
    result = ptc("preview", "--config", str(write_config(tmp_path, config)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[mandatory] ecr-ptc-security › kms-in-production" in result.stdout
    assert "blocked by policy" in result.stdout
    document = json.loads(ptc("preview", "--config", str(write_config(tmp_path, config)), "--json").stdout)
    mandatory = [v for v in document["violations"] if v["level"] == "mandatory"]
    assert mandatory and all(v["policy"] == "kms-in-production" for v in mandatory)
    assert all(v["urn"].startswith("urn:pulumi:ci::ecr-pull-through-cache::") for v in mandatory)


def test_policy_config_is_applied_like_policy_pack_config(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"prefix-naming": {"prefixPattern": "^mirror-.+$"}}))
    result = ptc("preview", "--stack", "dev", "--policy-config", str(policy))
    assert result.returncode == 1
    assert "does not follow the organisation's prefix pattern '^mirror-.+$'" in result.stdout
    policy.write_text(json.dumps({"prefix-naming": {"prefixPattern": "^mirror-.+$", "enforcementLevel": "advisory"}}))
    assert ptc("preview", "--stack", "dev", "--policy-config", str(policy)).returncode == 0


@pytest.mark.parametrize(
    "policy, message",
    [
        ({"no-such-policy": "mandatory"}, "unknown policies: no-such-policy"),
        ({"required-tags": {"requiredTags": "team"}}, "policy config 'required-tags' at requiredTags"),
    ],
)
def test_an_invalid_policy_config_exits_2(tmp_path, policy, message):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy))
    result = ptc("preview", "--stack", "dev", "--policy-config", str(path))
    assert result.returncode == 2
    assert message in result.stdout


def test_a_broken_config_exits_2_naming_every_field(tmp_path):
    config = stack_file("dev")
    config["ecr-pull-through-cache:upstreams"][3].pop("username")
    config["ecr-pull-through-cache:upstreams"].append({"kind": "quay", "prefix": "quay-b", "token_scopes": ["read"]})
    result = ptc("preview", "--config", str(write_config(tmp_path, config)))
    assert result.returncode == 2, result.stdout
    assert "The stack config has 2 problems; nothing was created." in result.stdout
    assert "upstreams[3] (docker-hub) username: is required" in result.stdout
    assert "upstreams[7] (quay) token_scopes: is not allowed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    document = json.loads(ptc("preview", "--config", str(write_config(tmp_path, config)), "--json").stdout)
    assert "upstreams[3] (docker-hub) username" in document["error"] and document["resources"] == []


@pytest.mark.parametrize(
    "args, message",
    [
        (("--stack", "nope"), f"stack 'nope' has no Pulumi.nope.yaml (stacks here: {', '.join(stack_names(ROOT))})"),
        (
            ("--config", "/nonexistent/Pulumi.x.yaml"),
            "cannot read the config file /nonexistent/Pulumi.x.yaml: No such file",
        ),
    ],
)
def test_a_missing_stack_exits_2(args, message):
    result = ptc("preview", *args)
    assert result.returncode == 2
    assert message in result.stdout


def test_a_program_error_exits_2_without_a_traceback(tmp_path):
    program = "raise ValueError('the registry is on fire')\n"
    project = write_project(tmp_path / "project", "broken", program, "config: {}\n")
    (project / "policies").mkdir()
    result = ptc("preview", "--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 2
    assert "The program failed: ValueError: the registry is on fire" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_a_request_aws_would_refuse_exits_2_naming_resource_field_rule_and_fix(tmp_path):
    """Any program, even one that bypasses the components, has its create requests checked against AWS's model."""
    project = write_project(
        tmp_path / "project",
        "raw",
        "import pulumi_aws as aws\n"
        "aws.ecr.PullThroughCacheRule('hub', ecr_repository_prefix='a' * 31,"
        " upstream_registry_url='registry-1.docker.io')\n",
    )
    (project / "policies").mkdir()
    result = ptc("preview", "--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "AWS would refuse 1 request of this stack; nothing was created." in result.stdout
    assert (
        "aws:ecr/pullThroughCacheRule:PullThroughCacheRule 'hub': ecr:CreatePullThroughCacheRule "
        "ecrRepositoryPrefix: is 31 characters; AWS allows 2 to 30" in result.stdout
    )
    assert "shorten it to 30 characters" in result.stdout
    document = json.loads(ptc("preview", "--stack", "dev", "--project-dir", str(project), "--json").stdout)
    assert document["aws_findings"][0]["field"] == "ecrRepositoryPrefix"


def test_make_preview_is_the_dev_stack():
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/python -m ptc preview --stack dev" in makefile


def test_all_stacks_in_one_process():
    result = ptc("preview", "--all")
    assert result.returncode == 0, result.stdout
    assert [
        line.split()[2] for line in result.stdout.splitlines() if line.startswith("Previewing stack")
    ] == stack_names(ROOT)
    document = json.loads(ptc("preview", "--all", "--json").stdout)
    assert sorted(document["stacks"]) == stack_names(ROOT)
    assert all(set(s) >= {"resources", "outputs", "violations"} for s in document["stacks"].values())


def test_all_stacks_exit_with_the_worst_result(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((ROOT / name).read_text())
    (project / "components").symlink_to(ROOT / "components")
    (project / "policies").symlink_to(ROOT / "policies")
    (project / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())
    prod = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    prod["config"]["ecr-pull-through-cache:environment"] = "prod"  # production without KMS: refused
    (project / "Pulumi.prod.yaml").write_text(yaml.safe_dump(prod))
    result = ptc("preview", "--all", "--project-dir", str(project))
    assert result.returncode == 1
    assert "Previewing stack dev" in result.stdout and "Previewing stack prod" in result.stdout


def test_all_previews_every_readable_stack_and_reports_the_unreadable_one(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Pulumi.yaml", "__main__.py"):
        (project / name).write_text((ROOT / name).read_text())
    (project / "components").symlink_to(ROOT / "components")
    (project / "policies").symlink_to(ROOT / "policies")
    (project / "Pulumi.dev.yaml").write_text((ROOT / "Pulumi.dev.yaml").read_text())
    (project / "Pulumi.broken.yaml").write_bytes(b"config:\n  aws:region: \xff\n")
    result = ptc("preview", "--all", "--project-dir", str(project))
    assert result.returncode == 2
    assert "Previewing stack dev of project ecr-pull-through-cache" in result.stdout
    assert "Previewing stack broken of project ecr-pull-through-cache" in result.stdout
    assert "is not UTF-8 text (byte 22" in result.stdout and "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        (
            b"config:\n  ecr-pull-through-cache:secret_recovery_window_days: 3x\n",
            "declares it of type 'integer', but the stack sets it to str \"3x\"",
        ),
        (  # the CLI reads a key without a value as "" (loaders.go), so the program says what is wrong
            b"config:\n  ecr-pull-through-cache:environment:\n  ecr-pull-through-cache:upstreams: [{kind: k8s}]\n",
            "environment: is required",
        ),
        (b"config:\n  aws:region: [us-east-2]\n", 'aws:region: ["us-east-2"] is not an AWS region name'),
        (b"config:\n  aws:region: mars-north-1\n", 'aws:region: "mars-north-1" is not an AWS region name'),
        (b"config:\n  a: 1\n  a: 2\n", "the key 'a' appears twice"),
        (b"config:\n  ecr-pull-through-cache:tags: !!binary aGVsbG8=\n", "!!binary values have no place in config"),
        (
            b"config:\n  ecr-pull-through-cache:credentials:\n    docker-hub:\n      secure: ''\n",
            "secure holds no ciphertext",
        ),
        (
            b"config:\n  ecr-pull-through-cache:credentials:\n"
            b"    docker-hub: {secure: v1:abc}\n    github: ghp_plain1234\n",
            "credentials.github: is stored in plain text",
        ),
        (
            b"config:\n  aws:region: us-east-2\n  ecr-pull-through-cache:environment: dev\n"
            b"  ecr-pull-through-cache:upstreams: [{kind: quay}]\n"
            b"  ecr-pull-through-cache:credentials: {secure: ghp_plain1234}\n",
            "credentials: must be a list or a mapping (its value is not shown: it is secret)",
        ),
        (
            b"config:\n  x: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
            + b"".join(
                f"  y{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}, *{'a' if i == 0 else f'b{i - 1}'}, "
                f"*{'a' if i == 0 else f'b{i - 1}'}, *{'a' if i == 0 else f'b{i - 1}'}]\n".encode()
                for i in range(12)
            ),
            "expands to more than 100000 values",
        ),
    ],
)
def test_hostile_stack_files_exit_2_naming_the_fault(tmp_path, text, message):
    path = tmp_path / "Pulumi.ci.yaml"
    path.write_bytes(text)
    result = ptc("preview", "--config", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "ghp_plain1234" not in result.stdout + result.stderr


def test_the_project_is_found_from_a_subdirectory_or_given_with_c(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # as if installed: ptc importable from anywhere
    inside = subprocess.run(
        [sys.executable, "-m", "ptc", "preview", "--json"],
        cwd=ROOT / "components",
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert inside.returncode == 0 and json.loads(inside.stdout)["stack"] == "dev"
    given = subprocess.run(
        [sys.executable, "-m", "ptc", "preview", "-C", str(ROOT), "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert given.returncode == 0
    nowhere = subprocess.run(
        [sys.executable, "-m", "ptc", "preview"], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env
    )
    assert nowhere.returncode == 2 and "no Pulumi.yaml in" in nowhere.stderr and "pass -C DIR" in nowhere.stderr


def readme_stack_file() -> tuple[str, dict]:
    """The stack the README's "Deploying for real" steps create, as `pulumi config set` would write it."""
    import re
    import shlex

    text = (ROOT / "README.md").read_text()
    block = text.split("## Deploying for real", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    stack = re.search(r"pulumi stack init (\S+)", block).group(1)
    config: dict = {}
    for line in block.splitlines():
        words = shlex.split(line.split("  #", 1)[0])
        if words[:3] != ["pulumi", "config", "set"]:
            continue
        words = words[3:]
        secret, path = "--secret" in words, "--path" in words
        key, value = [w for w in words if not w.startswith("--")]
        value = {"secure": "v1:readme-placeholder"} if secret else value
        namespace, _, name = key.rpartition(":") if ":" in key else ("ecr-pull-through-cache", "", key)
        if not path:
            config[f"{namespace}:{name}"] = value
            continue
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", name)
        full = f"{namespace}:{parts[0]}"
        node, keys = config, [full, *parts[1:]]
        for here, following in zip(keys, keys[1:] + [None], strict=True):
            index = int(here[1:-1]) if here.startswith("[") else here
            if isinstance(node, list):
                while len(node) <= index:
                    node.append(None)
            if following is None:
                node[index] = value
                break
            empty = [] if following.startswith("[") else {}
            if isinstance(node, list):
                node[index] = node[index] if node[index] is not None else empty
            else:
                node.setdefault(index, empty)
            node = node[index]
    return stack, {"config": config}


def test_the_readmes_deploy_steps_start_a_new_stack_that_previews_clean(tmp_path):
    stack, document = readme_stack_file()
    # Previewed from its own file in a temporary directory: a committed stack of the same name changes nothing.
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(document))
    result = ptc("preview", "--config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Previewing stack {stack}" in result.stdout


def test_esc_imports_without_the_esc_cli_are_named_not_a_false_credentials_error(tmp_path):
    config = dict(stack_file("dev"))
    config.pop("ecr-pull-through-cache:credentials")
    path = tmp_path / "Pulumi.esc.yaml"
    path.write_text(yaml.safe_dump({"environment": ["acme/ptc-tokens"], "config": config}))
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # no esc CLI on PATH
    result = subprocess.run(
        [sys.executable, "-m", "ptc", "preview", "--config", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    note = json.loads(result.stdout)["notes"][0]
    assert "acme/ptc-tokens" in note and "credentials.docker-hub, credentials.github" in note
    assert "not checked offline" in note


def test_esc_values_are_merged_when_the_esc_cli_is_here(tmp_path):
    config = dict(stack_file("dev"))
    credentials = config.pop("ecr-pull-through-cache:credentials")
    fake = tmp_path / "bin" / "esc"
    fake.parent.mkdir()
    payload = json.dumps({"ecr-pull-through-cache:credentials": {k: v["secure"] for k, v in credentials.items()}})
    fake.write_text(f"#!/bin/sh\necho '{payload}'\n")
    fake.chmod(0o755)
    path = tmp_path / "Pulumi.esc.yaml"
    path.write_text(yaml.safe_dump({"environment": ["acme/ptc-tokens"], "config": config}))
    env = {**os.environ, "PATH": f"{fake.parent}:{os.path.dirname(sys.executable)}"}
    result = subprocess.run(
        [sys.executable, "-m", "ptc", "preview", "--config", str(path), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notes" not in json.loads(result.stdout)


def test_a_program_failure_that_quotes_a_secret_config_value_shows_it_redacted():
    from ptc.preview import describe_failure
    from ptc.stack_config import make_stack_config

    config = make_stack_config(
        "p", "dev", {"credentials": {"hub": {"secure": "v1:ZZsecret-ciphertext"}}, "environment": "dev"}
    )
    shown = describe_failure(ValueError("bad value v1:ZZsecret-ciphertext in credentials"), config)
    assert "ZZsecret" not in shown and "[secret]" in shown and "ValueError" in shown
    assert describe_failure(ValueError("dev is fine"), config).endswith("(set PTC_DEBUG=1 for the traceback)")
