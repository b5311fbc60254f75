"""The CI definitions users run: valid YAML, the right gates, and in step with the repository's stacks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ptc.stack_config import stack_names
from tests.conftest import ROOT

PULUMI_VERSION = re.search(r"github.com/pulumi/pulumi/pkg/v3 v(\S+)", (ROOT / "tools" / "go.mod").read_text())[1]

WORKFLOWS = ROOT / ".github" / "workflows"


def load(path):
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps_text(job) -> str:
    return "\n".join(
        str(step.get("run", "")) + str(step.get("uses", "")) + str(step.get("with", ""))
        for step in job.get("steps", [])
    )


def test_every_workflow_is_valid_yaml_with_jobs():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"pull-request.yml", "deploy.yml", "deploy-stack.yml", "release.yml"}
    for path in files:
        document = load(path)
        assert document["on"] and document["jobs"], path
        for name, job in document["jobs"].items():
            assert "runs-on" in job or "uses" in job, f"{path.name}:{name}"


def stacks_step(job) -> str:
    step = next(s for s in job["steps"] if s.get("id") == "list")
    return step["run"]


def test_pull_requests_run_tests_and_the_offline_gate_for_every_stack():
    jobs = load(WORKFLOWS / "pull-request.yml")["jobs"]
    assert "make test" in steps_text(jobs["test"])
    assert "python3 tools/stacks.py github" in stacks_step(jobs["stacks"])
    offline = jobs["offline-preview"]
    assert offline["needs"] == "stacks"
    assert offline["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert "python -m ptc preview --stack ${{ matrix.stack }}" in steps_text(offline)
    assert "secrets" not in str(offline) and "id-token" not in str(offline)


def test_the_live_preview_never_runs_for_forks_and_uses_the_packs():
    workflow = load(WORKFLOWS / "pull-request.yml")
    live = workflow["jobs"]["live-preview"]
    assert live["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert workflow["permissions"] == {"contents": "read"}
    action = next(s for s in live["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview"
    assert action["with"]["policyPacks"].split() == ["policies/security", "policies/conventions"]
    assert live["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert "stacks" in live["needs"]


def test_deploys_run_pulumi_up_per_environment_production_last():
    workflow = load(WORKFLOWS / "deploy.yml")
    jobs = workflow["jobs"]
    # A manual run (workflow_dispatch) deploys only from the default branch; every other job needs this one.
    assert jobs["stacks"]["if"] == "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    assert "workflow_dispatch" in workflow["on"]
    assert jobs["early"]["needs"] == "stacks" and jobs["production"]["needs"] == ["stacks", "early"]
    assert "needs.stacks.result == 'success'" in jobs["production"]["if"]
    for name, output in (("early", "early"), ("production", "production")):
        job = jobs[name]
        assert job["strategy"]["matrix"]["stack"] == f"${{{{ fromJSON(needs.stacks.outputs.{output}) }}}}"
        assert job["uses"] == "./.github/workflows/deploy-stack.yml" and job["with"]["stack"] == "${{ matrix.stack }}"
    up = load(WORKFLOWS / "deploy-stack.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    text = steps_text(up)
    assert text.index("ptc preview") < text.index("pulumi/actions@")
    action = next(s for s in up["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert action["with"]["command"] == "up"
    assert action["with"]["pulumi-version"] == PULUMI_VERSION
    assert "pulumi stack output --json" in text
    assert text.index("pulumi stack output --json") < text.index("ptc verify --outputs outputs.json")


def make_project(root: Path, names, config_dir: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    project = "name: scratch\nruntime: python\n" + (f"stackConfigDir: {config_dir}\n" if config_dir else "")
    (root / "Pulumi.yaml").write_text(project)
    where = root / config_dir if config_dir else root
    where.mkdir(parents=True, exist_ok=True)
    for name in names:
        (where / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    return root


def run_step(script: str, cwd: Path) -> dict[str, str]:
    """Run a workflow step's `run:` as the runner does (bash, $GITHUB_OUTPUT a file) and read what it wrote."""
    output = cwd / "github-output"
    output.write_text("")
    subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output)},
        check=True,
    )
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


@pytest.mark.parametrize("config_dir", [None, "stacks"])
def test_a_new_stack_needs_no_pipeline_edit(tmp_path, config_dir):
    """`pulumi stack init staging` adds a stack file; both pipelines pick it up, production still goes last."""
    project = make_project(tmp_path, ["dev", "prod", "staging", "prod-eu"], config_dir)
    shutil.copytree(ROOT / "tools", project / "tools", ignore=shutil.ignore_patterns("*.go", "go.*", "bin"))
    assert stack_names(project) == ["dev", "prod", "prod-eu", "staging"]
    step = stacks_step(load(WORKFLOWS / "pull-request.yml")["jobs"]["stacks"])
    outputs = run_step(step, project)
    assert json.loads(outputs["stacks"]) == stack_names(project)
    outputs = run_step(stacks_step(load(WORKFLOWS / "deploy.yml")["jobs"]["stacks"]), project)
    assert json.loads(outputs["early"]) == ["dev", "staging"]
    assert json.loads(outputs["production"]) == ["prod", "prod-eu"]

    listed = subprocess.run(
        [sys.executable, "tools/stacks.py", "list"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.split()
    assert listed == stack_names(project)
    child = yaml.safe_load(
        subprocess.run(
            [sys.executable, "tools/stacks.py", "gitlab-deploy"],
            cwd=project,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert child["include"] == [{"local": ".gitlab/pulumi.yml"}]
    assert {k for k in child if k.startswith("deploy-")} == {f"deploy-{s}" for s in stack_names(project)}
    for stack in ("prod", "prod-eu"):
        assert child[f"deploy-{stack}"]["needs"] == ["deploy-dev", "deploy-staging"]
        assert child[f"deploy-{stack}"]["when"] == "manual"
    assert child["deploy-staging"] == {
        "extends": ".deploy",
        "variables": {"STACK": "staging"},
        "environment": "staging",
    }


def test_the_gitlab_child_pipeline_is_valid_against_gitlabs_schema(tmp_path):
    """The generated deploy pipeline, checked as `make lint-ci` checks the committed files."""
    child = tmp_path / "deploy-pipeline.yml"
    child.write_text(
        subprocess.run(
            [sys.executable, "tools/stacks.py", "gitlab-deploy"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )
    check = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.gitlab-ci", str(child)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_discovery_follows_ptcs_rule(tmp_path):
    """tools/stacks.py (stdlib only, run before anything is installed) finds the stacks ptc finds."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ci_stacks", ROOT / "tools" / "stacks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for index, (names, config_dir) in enumerate(
        [([], None), (["dev"], None), (["a.b", "prod_x", "production"], "cfg"), (["qa"], "deep/er")]
    ):
        project = make_project(tmp_path / str(index), names, config_dir)
        assert module.stacks(project) == stack_names(project) == sorted(names)
    assert [module.is_production(s) for s in ("prod", "production", "prod-eu", "Prod_x", "products", "dev-prod")] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    assert module.main(["nope"]) == 2


def test_gitlab_has_the_same_gates():
    pipeline = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    shared = yaml.safe_load((ROOT / ".gitlab" / "pulumi.yml").read_text())
    assert pipeline["include"] == [{"local": ".gitlab/pulumi.yml"}]
    assert pipeline["stages"] == ["test", "preview", "deploy"]
    assert "make test" in pipeline["test"]["script"]
    offline = " ".join(pipeline["offline-preview"]["script"])
    assert "$(python3 tools/stacks.py list)" in offline and "ptc preview --stack" in offline
    assert "CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID" in pipeline["live-preview"]["rules"][0]["if"]
    live = " ".join(pipeline["live-preview"]["script"])
    assert "$(python3 tools/stacks.py list)" in live
    for script in (live, " ".join(shared[".deploy"]["script"])):
        assert "--policy-pack policies/security --policy-pack policies/conventions" in script
    assert "ptc verify --outputs outputs.json" in " ".join(shared[".deploy"]["script"])
    assert f"--version {PULUMI_VERSION}" in " ".join(shared[".pulumi"]["before_script"])
    # Deploys only from the default branch, through the generated child pipeline.
    for job in ("deploy-pipeline", "deploy"):
        assert pipeline[job]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert pipeline["deploy"]["trigger"]["include"] == [{"artifact": "deploy-pipeline.yml", "job": "deploy-pipeline"}]
    assert pipeline["deploy"]["trigger"]["strategy"] == "depend"


def test_gitlab_caches_pip_where_pip_writes():
    shared = yaml.safe_load((ROOT / ".gitlab" / "pulumi.yml").read_text())
    assert shared["variables"]["PIP_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/pip"
    assert shared["default"]["cache"]["paths"] == [".cache/pip"]
    assert set(shared["default"]["cache"]["key"]["files"]) == {"requirements.txt", "requirements-dev.txt"}


def test_the_pulumi_cli_is_pinned_at_the_version_the_tests_build():
    assert f"pulumi/pkg/v3 v{PULUMI_VERSION}" in (ROOT / "tools" / "go.mod").read_text()
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("pulumi/actions@"):
                    assert step["with"]["pulumi-version"] == PULUMI_VERSION, f"{path.name}:{name}"


def test_every_action_is_pinned_by_commit_sha_with_its_release_beside_it():
    """A tag can be moved to other code; a commit cannot. The comment keeps the pin readable and updatable."""
    import re

    pinned = re.compile(r"^\s*(?:- )?uses: (?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # v\d+\.\d+\.\d+$")
    seen = 0
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "uses:" not in line or "uses: ./" in line:
                continue
            seen += 1
            assert pinned.match(line), f"{path.name}:{number}: {line.strip()} is not pinned by SHA with # vX.Y.Z"
    assert seen


def test_python_setup_caches_pip_on_the_requirements():
    for path in sorted((ROOT / ".github" / "workflows").glob("*.yml")):
        for name, job in (yaml.safe_load(path.read_text())["jobs"]).items():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("actions/setup-python@"):
                    assert step["with"]["cache"] == "pip", f"{path.name}:{name}"


def test_gitlab_never_runs_a_branch_and_a_merge_request_pipeline_for_one_change():
    rules = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())["workflow"]["rules"]
    assert rules[0] == {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}
    assert rules[1] == {"if": "$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS", "when": "never"}
