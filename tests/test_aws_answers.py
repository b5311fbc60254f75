"""AWS answers that cannot be used end in a named "could not check", within the deadline (issue 31, items 7, 9).

The endpoint is tests/fault_server.py: STS answers, every ECR call gets an injected answer (throttling, 5xx, a
truncated body, not JSON, or JSON of any shape). Concurrency and SIGTERM run against moto.server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptc.aws import Aws
from ptc.reconcile import Reconciler
from ptc.verify import FAIL, PASS, SKIP, UNCHECKED, WARN, Verifier
from tests.aws_support import ACCOUNT, CREDENTIALS, REGION, moto_server, outputs, upstream
from tests.conftest import ROOT, run_ptc
from tests.fault_server import Answer, Gate, fault_server, gated_proxy

DOCUMENT = outputs({"quay": upstream("quay", "quay.io", "quay"), "ghcr": upstream("github", "ghcr.io", "ghcr")})
RULES = {
    "registryId": ACCOUNT,
    "pullThroughCacheRules": [
        {"ecrRepositoryPrefix": "quay", "upstreamRegistryUrl": "quay.io", "registryId": ACCOUNT},
        {"ecrRepositoryPrefix": "ghcr", "upstreamRegistryUrl": "ghcr.io", "registryId": ACCOUNT},
    ],
}
TEMPLATES = {
    "registryId": ACCOUNT,
    "repositoryCreationTemplates": [
        {"prefix": "quay", "imageTagMutability": "MUTABLE", "resourceTags": [{"Key": "team", "Value": "platform"}]},
        {"prefix": "ghcr", "imageTagMutability": "MUTABLE"},
    ],
}
GOOD = {"DescribePullThroughCacheRules": RULES, "DescribeRepositoryCreationTemplates": TEMPLATES}


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def ptc(*args: str) -> subprocess.CompletedProcess[str]:
    return run_ptc(*args, env=CREDENTIALS)


def write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(document))
    return str(path)


# --------------------------------------------------------------------------------------------
# Any answer of any shape: a named result per upstream, never an exception
# --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@st.composite
def answers(draw):
    """A good answer with one value replaced anywhere in it, or any JSON document at all."""
    operation = draw(st.sampled_from(sorted(GOOD)))
    if draw(st.integers(0, 4)) == 0:
        return operation, draw(json_values)
    document = json.loads(json.dumps(GOOD[operation]))
    node: Any = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        if isinstance(node[key], (dict, list)) and node[key] and draw(st.booleans()):
            node = node[key]
            continue
        node[key] = draw(json_values)
        return operation, document


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(answers())
def test_an_answer_of_any_shape_is_a_named_result(answer):
    operation, body = answer

    def fault(name: str, _request: dict) -> Answer:
        if name == operation:
            return Answer(body=body)
        return Answer(body=GOOD.get(name, {"isValid": True}))

    with fault_server(fault) as (endpoint, _):
        checks = Verifier(Aws(REGION, endpoint), DOCUMENT, account=ACCOUNT, region=REGION).run()
    assert checks and all(c.status in (PASS, FAIL, WARN, SKIP, UNCHECKED) for c in checks)
    for check in checks:
        if check.status == UNCHECKED:
            assert "could not check" in check.detail


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        (Answer(raw=b"{not json"), "could not check"),
        (Answer(raw=json.dumps(RULES).encode()[:40]), "could not check"),
        (Answer(body={"pullThroughCacheRules": "quay"}), "unexpected shape"),
        (Answer(body={"pullThroughCacheRules": [1, 2]}), "unexpected shape"),
    ],
    ids=["not-json", "cut-short", "a-string-for-a-list", "numbers-for-rules"],
)
def test_a_broken_registry_answer_is_could_not_check_exit_3(tmp_path, answer, named):
    with fault_server(lambda name, _: answer if name == "DescribePullThroughCacheRules" else Answer(body={})) as (
        endpoint,
        _,
    ):
        result = ptc("verify", "--outputs", write(tmp_path, DOCUMENT), "--endpoint-url", endpoint)
    assert result.returncode == 3, result.stdout + result.stderr
    assert named in result.stdout and "Traceback" not in result.stdout + result.stderr
    assert "unexpectedly" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("answer", [Answer.throttled(), Answer.unavailable(), Answer(raw=b"{}", truncate=True)])
def test_sustained_throttling_5xx_or_cut_bodies_end_at_the_deadline(tmp_path, answer):
    """Every call fails, retried by botocore's standard mode; the deadline ends the verb, each upstream named."""
    with fault_server(lambda *_: answer) as (endpoint, calls):
        result = ptc("verify", "--outputs", write(tmp_path, DOCUMENT), "--endpoint-url", endpoint, "--deadline", "2")
    assert calls, "the verb never asked ECR"
    assert result.returncode == 3, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "could not check" in out or "deadline of 2 s passed" in out
    assert "Traceback" not in out and "unexpectedly" not in out


def test_the_deadline_stops_each_upstream_by_name(tmp_path):
    """Rules and templates answer, then every further call is throttled until the deadline passes."""
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ecr-pullthroughcache/p{{}}-AbCdEf"
    many = outputs({f"p{i}": upstream("github", "ghcr.io", f"p{i}", arn.format(i)) for i in range(3)})
    rules = [
        {"ecrRepositoryPrefix": f"p{i}", "upstreamRegistryUrl": "ghcr.io", "credentialArn": arn.format(i)}
        for i in range(3)
    ]
    answered = {
        "DescribePullThroughCacheRules": {"pullThroughCacheRules": rules},
        "DescribeRepositoryCreationTemplates": {"repositoryCreationTemplates": []},
    }

    def fault_many(name: str, _request: dict) -> Answer:
        return Answer(body=answered[name]) if name in answered else Answer.throttled()

    with fault_server(fault_many) as (endpoint, calls):
        result = ptc(
            "verify", "--outputs", write(tmp_path, many), "--endpoint-url", endpoint, "--deadline", "1", "--json"
        )
    # 1: the templates missing from this registry are findings; what could not be asked is unchecked, by name.
    assert result.returncode == 1, result.stdout + result.stderr
    checks = json.loads(result.stdout)["checks"]
    assert {c["check"] for c in checks if c["status"] == FAIL} == {"template"}
    assert {c["upstream"] for c in checks if c["status"] == UNCHECKED} == {"p0", "p1", "p2"}
    assert "ValidatePullThroughCacheRule" in calls


# --------------------------------------------------------------------------------------------
# reconcile: answers, deadline, two at once, SIGTERM
# --------------------------------------------------------------------------------------------


def test_reconcile_refuses_a_listing_of_the_wrong_shape_before_any_write(tmp_path):
    def fault(name: str, _request: dict) -> Answer:
        if name == "DescribeRepositories":
            return Answer(body={"repositories": [{"repositoryName": 7}]})
        raise AssertionError(f"{name} after a broken listing")

    with fault_server(fault) as (endpoint, calls):
        result = ptc("reconcile", "--apply", "--outputs", write(tmp_path, DOCUMENT), "--endpoint-url", endpoint)
    assert calls == ["DescribeRepositories"]
    assert result.returncode == 3 and "unexpected shape" in result.stdout, result.stdout + result.stderr


def test_reconcile_stops_at_the_deadline_and_counts_what_it_did_not_check(tmp_path):
    repositories = [
        {
            "repositoryName": f"quay/image{i}",
            "repositoryArn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/quay/image{i}",
        }
        for i in range(20)
    ]

    def fault(name: str, _request: dict) -> Answer:
        if name == "DescribeRepositories":
            return Answer(body={"repositories": repositories})
        return Answer.throttled()

    with fault_server(fault) as (endpoint, _):
        result = ptc(
            "reconcile",
            "--apply",
            "--json",
            "--workers",
            "2",
            "--deadline",
            "1",
            "--outputs",
            write(tmp_path, DOCUMENT),
            "--endpoint-url",
            endpoint,
        )
    assert result.returncode == 3, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["deadline_passed"] and report["applied"] == 0
    assert report["not_checked"] + len(report["errors"]) == 20


def _template_outputs() -> dict[str, Any]:
    return outputs(
        {
            "quay": upstream(
                "quay",
                "quay.io",
                "quay",
                image_tag_mutability="IMMUTABLE",
                image_tag_mutability_exclusion_filters=[],
                lifecycle_policy=None,
            )
        }
    )


def _state(endpoint: str) -> dict[str, tuple[str, dict[str, str]]]:
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=endpoint)
    state = {}
    for page in ecr.get_paginator("describe_repositories").paginate():
        for repo in page["repositories"]:
            tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
            state[repo["repositoryName"]] = (repo["imageTagMutability"], {t["Key"]: t["Value"] for t in tags})
    return state


def _start_reconcile(path: str, endpoint: str) -> subprocess.Popen[str]:
    """`ptc reconcile --apply --json` as a user starts it, two workers."""
    return subprocess.Popen(
        [sys.executable, "-m", "ptc", "reconcile", "--apply", "--json", "--outputs", path]
        + ["--endpoint-url", endpoint, "--workers", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **CREDENTIALS},
    )


@pytest.mark.slow
def test_two_reconciles_at_once_converge_and_each_reports_what_it_wrote(tmp_path):
    path = write(tmp_path, _template_outputs())
    with moto_server() as endpoint:
        ecr = boto3.client("ecr", region_name=REGION, endpoint_url=endpoint)
        for i in range(30):
            ecr.create_repository(repositoryName=f"quay/image{i}")
        first, second = _start_reconcile(path, endpoint), _start_reconcile(path, endpoint)
        reports = []
        for process in (first, second):
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, out + err
            reports.append(json.loads(out))
        state = _state(endpoint)
        rerun = Reconciler(Aws(REGION, endpoint), _template_outputs(), apply=False).run()
    assert all(
        mutability == "IMMUTABLE" and tags == {"environment": "dev", "team": "platform"}
        for mutability, tags in state.values()
    )
    assert rerun.changes == [] and rerun.errors == []
    for report in reports:
        assert report["errors"] == [] and all(c["applied"] for c in report["changes"])
    # Between them, every repository's drift was written at least once.
    written = {c["repository"] for report in reports for c in report["changes"]}
    assert written == set(state)


@pytest.mark.slow
def test_sigterm_during_apply_leaves_each_repository_done_or_untouched(tmp_path):
    path = write(tmp_path, _template_outputs())
    gate = Gate(after="PutImageTagMutability")  # a first write: the stop comes between two writes
    with moto_server() as moto, gated_proxy(moto, gate) as endpoint:
        ecr = boto3.client("ecr", region_name=REGION, endpoint_url=moto)
        for i in range(20):
            ecr.create_repository(repositoryName=f"quay/image{i:02d}")
        before = _state(moto)
        process = _start_reconcile(path, endpoint)
        # The events: a repository's first write answered (the calls after it are held), then ptc saying it
        # stops; only then are the held calls let through, so the stop lands mid-run on any machine.
        while not gate.reached.wait(0.1):
            assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        seen = []
        for line in process.stderr:
            seen.append(line)
            if line.startswith("stopping:"):
                break
        gate.open.set()
        out, err = process.communicate(timeout=300)
        err = "".join(seen) + err
        after = _state(moto)
    assert process.returncode == 130, out + err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["interrupted"]
    by_repository: dict[str, list[bool]] = {}
    for change in report["changes"]:
        by_repository.setdefault(change["repository"], []).append(change["applied"])
    done = {name for name, applied in by_repository.items() if all(applied)}
    assert all(all(a) or not any(a) for a in by_repository.values()), "a repository was left half reconciled"
    for name, state in after.items():
        if name in done:
            assert state == ("IMMUTABLE", {"environment": "dev", "team": "platform"}), name
        else:
            assert state == before[name], name
    assert done and report["not_checked"] > 0
    assert len(done) + report["not_checked"] + len(by_repository.keys() - done) == 20
