"""The CI definitions users run: valid YAML, the right gates, and in step with the repository's stacks."""

from __future__ import annotations

import yaml

from ptc.stack_config import stack_names
from tests.conftest import ROOT

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
    assert {f.name for f in files} == {"pull-request.yml", "deploy.yml", "deploy-stack.yml"}
    for path in files:
        document = load(path)
        assert document["on"] and document["jobs"], path
        for name, job in document["jobs"].items():
            assert "runs-on" in job or "uses" in job, f"{path.name}:{name}"


def test_pull_requests_run_tests_and_the_offline_gate_for_every_stack():
    jobs = load(WORKFLOWS / "pull-request.yml")["jobs"]
    assert "make test" in steps_text(jobs["test"])
    offline = jobs["offline-preview"]
    assert sorted(offline["strategy"]["matrix"]["stack"]) == stack_names(ROOT)
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
    assert sorted(live["strategy"]["matrix"]["stack"]) == stack_names(ROOT)


def test_deploys_run_pulumi_up_per_environment_dev_before_prod():
    jobs = load(WORKFLOWS / "deploy.yml")["jobs"]
    assert sorted(jobs) == stack_names(ROOT)
    assert jobs["prod"]["needs"] == "dev"
    for stack, job in jobs.items():
        assert job["uses"] == "./.github/workflows/deploy-stack.yml" and job["with"]["stack"] == stack
    up = load(WORKFLOWS / "deploy-stack.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.stack }}"
    text = steps_text(up)
    assert text.index("ptc preview") < text.index("pulumi/actions@")
    action = next(s for s in up["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert action["with"]["command"] == "up"
    assert "pulumi stack output --json" in text
    assert text.index("pulumi stack output --json") < text.index("ptc verify --outputs outputs.json")


def test_gitlab_has_the_same_gates():
    pipeline = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    assert pipeline["stages"] == ["test", "preview", "deploy"]
    assert "make test" in pipeline["test"]["script"]
    stacks = pipeline[".stacks"]["parallel"]["matrix"][0]["STACK"]
    assert sorted(stacks) == stack_names(ROOT)
    assert any("ptc preview --stack" in line for line in pipeline["offline-preview"]["script"])
    assert "CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_PROJECT_ID" in pipeline["live-preview"]["rules"][0]["if"]
    for job in ("live-preview", ".deploy"):
        script = " ".join(pipeline[job]["script"])
        assert "--policy-pack policies/security --policy-pack policies/conventions" in script
    assert "ptc verify --outputs outputs.json" in " ".join(pipeline[".deploy"]["script"])
    assert pipeline["deploy-prod"]["needs"] == ["deploy-dev"]
    assert pipeline["deploy-prod"]["rules"][0]["when"] == "manual"
    for job in ("deploy-dev", "deploy-prod"):
        assert pipeline[job]["extends"] == ".deploy"


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
