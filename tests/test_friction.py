"""What a new user trips on first (issue 32): each case as they would meet it, through `ptc preview` or the program.

Every case here once failed: five faults for one missing field, a stray `secure:` hiding every label, a plain token
hiding the other faults, no "did you mean" for kinds, the dev stack picked over the one `pulumi stack select` chose.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache.config import did_you_mean, secrets_outside_credentials
from ptc.mock_engine import run_program
from ptc.stack_config import load_stack_config, selected_stack
from tests.conftest import ROOT, run_ptc

DEV = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
UPSTREAMS = "ecr-pull-through-cache:upstreams"
CREDENTIALS = "ecr-pull-through-cache:credentials"


def faults_of(tmp_path: Path, mutate) -> list[str]:
    """The program's faults for the dev stack changed by `mutate`, read from a file as ptc reads it."""
    document = copy.deepcopy(DEV)
    mutate(document["config"])
    path = tmp_path / "Pulumi.friction.yaml"
    path.write_text(yaml.safe_dump(document))
    config = load_stack_config(ROOT, config_file=path)
    result = run_program(ROOT, config, preview=True)
    assert result.error is not None, "the stack previewed clean"
    faults = getattr(result.error, "faults", None)
    assert faults is not None, result.error
    return [str(f) for f in faults]


def upstream(config, kind: str) -> dict:
    return next(u for u in config[UPSTREAMS] if u["kind"] == kind)


def test_a_gitlab_token_block_without_group_is_one_fault(tmp_path):
    faults = faults_of(tmp_path, lambda c: upstream(c, "gitlab-container-registry")["token"].pop("group"))
    assert faults == [
        "upstreams[5] (gitlab-container-registry) token.group: is required: the GitLab group's id or full path "
        "(acme/platform)"
    ]


@pytest.mark.parametrize(
    "mutate, path",
    [
        (lambda c: upstream(c, "docker-hub").update(username={"secure": "v1:abc:def"}), "upstreams[3].username"),
        (lambda c: c["ecr-pull-through-cache:tags"].update(team={"secure": "v1:abc:def"}), "tags.team"),
    ],
    ids=["username", "tag"],
)
def test_a_secret_outside_credentials_is_refused_with_its_path(tmp_path, mutate, path):
    faults = faults_of(tmp_path, mutate)
    assert len(faults) == 1 and faults[0].startswith(f"{path}: is a secret (secure:), but only credentials holds")
    assert f"pulumi config set --path '{path}' <value>" in faults[0]


def test_a_misplaced_secret_does_not_hide_the_preview_behind_secret_labels(tmp_path):
    document = copy.deepcopy(DEV)
    upstream(document["config"], "docker-hub")["username"] = {"secure": "v1:abc:def"}
    path = tmp_path / "Pulumi.friction.yaml"
    path.write_text(yaml.safe_dump(document))
    run = run_ptc("preview", "--config", str(path))
    assert run.returncode == 2
    assert "upstreams[3].username: is a secret" in run.stdout
    assert "upstreams: (known after apply)" not in run.stdout and "[secret]" not in run.stdout


def test_a_plain_token_and_typos_come_in_one_round(tmp_path):
    def mutate(c):
        c[CREDENTIALS]["github"] = "ghp_plaintexttoken123"
        upstream(c, "quay")["prefx"] = "q"
        upstream(c, "ecr-public")["kind"] = "dockerhub"

    faults = faults_of(tmp_path, mutate)
    assert len(faults) == 3, faults
    assert faults[0].startswith("credentials.github: is stored in plain text")
    assert "did you mean 'docker-hub'?" in faults[1] and "did you mean 'prefix'?" in faults[2]
    assert not any("ghp_plaintexttoken123" in f for f in faults)


def test_did_you_mean_for_kinds_keys_settings_and_choices(tmp_path):
    def mutate(c):
        docker = upstream(c, "docker-hub")
        docker["usename"] = docker.pop("username")
        github = upstream(c, "github-container-registry")
        github["token_scope"] = github.pop("token_scopes")
        upstream(c, "k8s")["kind"] = "K8S"
        upstream(c, "gitlab-container-registry")["token"]["type"] = "group_access_token"
        c["ecr-pull-through-cache:tag"] = {"a": "b"}

    faults = faults_of(tmp_path, mutate)
    text = "\n".join(faults)
    for wrong, meant in (
        (" usename: ", "username"),
        (" token_scope: ", "token_scopes"),
        ("'K8S' is not", "k8s"),
        ("'group_access_token' is not", "group-access-token"),
        ("tag: ", "tags"),
    ):
        line = next(f for f in faults if wrong in f)
        assert f"did you mean '{meant}'?" in line, line
    # The field a typo means is not also reported missing.
    assert "username: is required" not in text and "token_scopes: is required" not in text


@pytest.mark.parametrize(
    "word, meant",
    [
        ("dockerhub", "docker-hub"),
        ("Docker_Hub", "docker-hub"),
        ("quay", "quay"),
        ("nothing-like-it", None),
        ("", None),
    ],
)
def test_did_you_mean_prefers_a_spelling_that_differs_only_in_case_and_separators(word, meant):
    kinds = ["ecr-public", "k8s", "quay", "docker-hub", "github-container-registry"]
    assert did_you_mean(word, kinds) == meant


def test_a_gitlab_base_url_elsewhere_is_refused_for_a_stack_made_token(tmp_path):
    faults = faults_of(tmp_path, lambda c: c.update({"gitlab:baseUrl": "https://gitlab.example.com/api/v4/"}))
    assert len(faults) == 1 and faults[0].startswith("gitlab:baseUrl: points the GitLab provider at gitlab.example.com")
    for fine in ("https://gitlab.com/api/v4/", "gitlab.com"):
        document = copy.deepcopy(DEV)
        document["config"]["gitlab:baseUrl"] = fine
        path = tmp_path / "Pulumi.fine.yaml"
        path.write_text(yaml.safe_dump(document))
        assert run_program(ROOT, load_stack_config(ROOT, config_file=path), preview=True).error is None


def test_the_docs_do_not_send_users_to_gitlab_base_url():
    for page in ("README.md", "docs/config.md"):
        assert "for self-managed GitLab: gitlab:baseUrl" not in (ROOT / page).read_text()
    assert "config refuses a `gitlab:baseUrl`" in (ROOT / "docs/config.md").read_text()


@pytest.mark.parametrize(
    "env, note",
    [
        ({}, "previewed in us-east-1 (ptc's default: no aws:region, AWS_REGION or AWS_DEFAULT_REGION)"),
        ({"AWS_REGION": "eu-central-1"}, "previewed in eu-central-1 (from AWS_REGION)"),
        ({"AWS_DEFAULT_REGION": "ap-south-1"}, "previewed in ap-south-1 (from AWS_DEFAULT_REGION)"),
    ],
)
def test_a_stack_without_a_region_says_which_region_it_previews(tmp_path, monkeypatch, env, note):
    document = copy.deepcopy(DEV)
    document["config"].pop("aws:region")
    path = tmp_path / "Pulumi.noregion.yaml"
    path.write_text(yaml.safe_dump(document))
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    run = run_ptc("preview", "--config", str(path), "--json", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert any(note in n for n in report["notes"]), report["notes"]
    region = note.split("previewed in ")[1].split(" ")[0]
    assert report["outputs"]["registry_url"] == f"123456789012.dkr.ecr.{region}.amazonaws.com"


def workspace_file(home: Path, project: Path) -> Path:
    digest = hashlib.sha1(str((project / "Pulumi.yaml").resolve()).encode()).hexdigest()
    return home / "workspaces" / f"ecr-pull-through-cache-{digest}-workspace.json"


def test_ptc_picks_the_stack_the_pulumi_cli_would(tmp_path):
    home = tmp_path / "home"
    env = {"PULUMI_HOME": str(home), "PULUMI_BACKEND_URL": "file:///state"}
    run = run_ptc("preview", "--json", env=env)
    assert json.loads(run.stdout)["stack"] == "dev" and "Stack " not in run.stderr  # nothing selected: dev

    settings_file = workspace_file(home, ROOT)
    settings_file.parent.mkdir(parents=True)
    settings_file.write_text(json.dumps({"stacks": {"file:///state": "acme/ecr-pull-through-cache/prod"}}))
    run = run_ptc("preview", "--json", env=env)
    assert json.loads(run.stdout)["stack"] == "prod"
    assert "Stack prod: the workspace's selected stack (pulumi stack select)" in run.stderr

    run = run_ptc("preview", "--json", env={**env, "PULUMI_STACK": "dev"})
    assert json.loads(run.stdout)["stack"] == "dev" and "Stack dev: PULUMI_STACK" in run.stderr
    run = run_ptc("preview", "--json", "--stack", "dev", env=env)
    assert json.loads(run.stdout)["stack"] == "dev" and "Stack " not in run.stderr


@pytest.mark.parametrize(
    "settings_text, backend, expected",
    [
        ('{"stack": "prod"}', "file:///x", "prod"),  # older workspace files: one selection for every backend
        ('{"stacks": {"file:///x": "o/p/prod"}, "stack": "dev"}', "file:///x", "prod"),
        ('{"stacks": {"file:///y": "o/p/prod"}, "stack": "qa"}', "file:///x", "qa"),
        ('{"stacks": {"file:///y": "o/p/prod"}}', "file:///x", None),
        ("not json", "file:///x", None),
        ("[]", "file:///x", None),
    ],
)
def test_the_workspace_selection_is_read_as_the_cli_reads_it(tmp_path, monkeypatch, settings_text, backend, expected):
    home = tmp_path / "home"
    monkeypatch.setenv("PULUMI_HOME", str(home))
    monkeypatch.setenv("PULUMI_BACKEND_URL", backend)
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    path = workspace_file(home, ROOT)
    path.parent.mkdir(parents=True)
    path.write_text(settings_text)
    found = selected_stack(ROOT)
    assert (found[0] if found else None) == expected


LEAVES = st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.none())
KEYS = st.text(alphabet="abcxyz_-", min_size=1, max_size=6)


@st.composite
def configs(draw):
    """A stack file's config with `secure:` values planted at random paths; returns it and the planted paths."""
    planted: list[str] = []

    def value(path: str, depth: int):
        choice = draw(st.integers(0, 3 if depth < 3 else 1))
        if choice == 0:
            return draw(LEAVES)
        if choice == 1:
            planted.append(path)
            return {"secure": "v1:x:y"}
        if choice == 2:
            return {k: value(f"{path}.{k}", depth + 1) for k in draw(st.lists(KEYS, max_size=3, unique=True))}
        return [value(f"{path}[{i}]", depth + 1) for i in range(draw(st.integers(0, 3)))]

    config = {}
    for key in draw(st.lists(KEYS, max_size=4, unique=True)):
        namespace = draw(st.sampled_from(["", "ecr-pull-through-cache:", "gitlab:"]))
        before = len(planted)
        config[f"{namespace}{key}"] = value(key, 0)
        if namespace == "gitlab:" or key == "credentials":
            del planted[before:]  # provider settings and credentials are where secrets belong
    return config, planted


@settings(max_examples=300, deadline=None)
@given(configs())
def test_every_secret_outside_credentials_is_found_and_nothing_else(case):
    config, planted = case
    assert sorted(secrets_outside_credentials(config, "ecr-pull-through-cache")) == sorted(planted)


@pytest.mark.parametrize("json_output", [False, True])
def test_a_reader_that_goes_away_ends_ptc_with_the_shells_pipe_code_not_a_failure(json_output):
    """`ptc preview | head`: the reader closes the pipe. rich would exit 1 (a "policy failed" to CI) and a bare
    print would end in "failed unexpectedly"; ptc says the report was cut short and exits 141, as the shell reports
    a process ended by SIGPIPE. The pipe's read end is closed before ptc starts, so its first write fails."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if k != "PULUMI_STACK"}
    env["PULUMI_HOME"] = str(ROOT / ".pytest_cache" / "no-pulumi-home")
    args = [sys.executable, "-m", "ptc", "preview", "--stack", "dev", *(["--json"] if json_output else [])]
    try:
        result = subprocess.run(
            args, cwd=ROOT, env=env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr[-2000:]
    assert result.stderr.strip().endswith("the output was closed before the report was written in full")
    assert "Traceback" not in result.stderr and "unexpectedly" not in result.stderr
