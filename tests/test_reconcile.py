"""`ptc reconcile` on moto: drift found and fixed, idempotent, nothing else moved, failures per repository."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ecr_pull_through_cache.lifecycle import default_lifecycle_policy
from ptc.aws import Aws
from ptc.reconcile import Reconciler, canonical
from tests.aws_support import CREDENTIALS, REGION, moto_server, outputs, upstream
from tests.conftest import ROOT

OUTPUTS = outputs(
    {
        "docker-hub": upstream("docker-hub", "registry-1.docker.io", "docker-hub"),
        "quay": upstream(
            "quay",
            "quay.io",
            "quay",
            image_tag_mutability="MUTABLE",
            image_tag_mutability_exclusion_filters=[],
            scan_on_push=False,
            repository_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "Org",
                            "Effect": "Allow",
                            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                            "Action": ["ecr:BatchGetImage"],
                        }
                    ],
                }
            ),
        ),
    }
)
HUB = OUTPUTS["upstreams"]["docker-hub"]["template"]


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)


def conform(ecr, name: str, settings: dict) -> None:
    """Make a repository match a template, as if ECR had created it from the template."""
    kwargs = {"repositoryName": name, "imageTagMutability": settings["image_tag_mutability"]}
    if settings["image_tag_mutability_exclusion_filters"]:
        kwargs["imageTagMutabilityExclusionFilters"] = [
            {"filterType": "WILDCARD", "filter": f} for f in settings["image_tag_mutability_exclusion_filters"]
        ]
    ecr.put_image_tag_mutability(**kwargs)
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=settings["lifecycle_policy"])
    arn = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": k, "Value": v} for k, v in settings["resource_tags"].items()])
    if settings.get("repository_policy"):
        ecr.set_repository_policy(repositoryName=name, policyText=settings["repository_policy"])


def snapshot(ecr, name: str) -> dict:
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    try:
        lifecycle = ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        lifecycle = None
    tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
    return {
        "mutability": repo["imageTagMutability"],
        "filters": repo.get("imageTagMutabilityExclusionFilters"),
        "scan": repo["imageScanningConfiguration"],
        "lifecycle": lifecycle,
        "tags": tags,
    }


def test_each_kind_of_drift_is_found_then_fixed_once():
    with mock_aws():
        aws = Aws(REGION)
        ecr = aws.client("ecr")
        for name in ("docker-hub/library/nginx", "docker-hub/bitnami/redis", "quay/prometheus/node-exporter"):
            ecr.create_repository(repositoryName=name)
        conform(ecr, "docker-hub/bitnami/redis", HUB)
        conform(ecr, "quay/prometheus/node-exporter", OUTPUTS["upstreams"]["quay"]["template"])
        redis = ecr.describe_repositories(repositoryNames=["docker-hub/bitnami/redis"])["repositories"][0]
        arn = redis["repositoryArn"]
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "data"}, {"Key": "extra", "Value": "kept"}])
        ecr.put_lifecycle_policy(
            repositoryName="quay/prometheus/node-exporter", lifecyclePolicyText=default_lifecycle_policy(30, 50)
        )

        report = Reconciler(aws, OUTPUTS).run()
        found = {(c.repository, c.setting): c for c in report.changes}
        assert set(found) == {
            ("docker-hub/library/nginx", "image_tag_mutability"),
            ("docker-hub/library/nginx", "lifecycle_policy"),
            ("docker-hub/library/nginx", "tags"),
            ("docker-hub/bitnami/redis", "tags"),
            ("quay/prometheus/node-exporter", "lifecycle_policy"),
        }
        assert found[("docker-hub/bitnami/redis", "tags")].before == {"team": "data"}
        assert found[("docker-hub/bitnami/redis", "tags")].after == {"team": "platform"}
        assert found[("docker-hub/library/nginx", "image_tag_mutability")].after == {
            "mutability": "IMMUTABLE_WITH_EXCLUSION",
            "exclusion_filters": ["latest"],
        }
        assert report.repositories == 3 and report.errors == []
        assert not any(c.applied for c in report.changes)
        assert snapshot(ecr, "docker-hub/library/nginx")["lifecycle"] is None  # a dry run writes nothing

        applied = Reconciler(aws, OUTPUTS, apply=True).run()
        assert len(applied.changes) == 5 and all(c.applied for c in applied.changes)
        # Registry scanning governs: the deprecated per-repository scan setting is never written.
        assert snapshot(ecr, "docker-hub/library/nginx")["scan"] == {"scanOnPush": False}
        assert Reconciler(aws, OUTPUTS, apply=True).run().changes == []
        fixed = snapshot(ecr, "docker-hub/bitnami/redis")
        assert {"Key": "extra", "Value": "kept"} in fixed["tags"]  # tags the template does not name stay
        assert canonical(snapshot(ecr, "quay/prometheus/node-exporter")["lifecycle"]) == canonical(
            OUTPUTS["upstreams"]["quay"]["template"]["lifecycle_policy"]
        )


def test_repository_policy_drift_for_org_wide_access():
    with mock_aws():
        aws = Aws(REGION)
        ecr = aws.client("ecr")
        ecr.create_repository(repositoryName="quay/app")
        settings = dict(OUTPUTS["upstreams"]["quay"]["template"], repository_policy=None)
        conform(ecr, "quay/app", settings)
        changes = Reconciler(aws, OUTPUTS, apply=True).run().changes
        assert [c.setting for c in changes] == ["repository_policy"] and changes[0].before is None
        policy = json.loads(ecr.get_repository_policy(repositoryName="quay/app")["policyText"])
        assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}


def test_only_repositories_under_the_prefixes_are_touched():
    with mock_aws():
        aws = Aws(REGION)
        ecr = aws.client("ecr")
        for name in ("docker-hub-mirror/app", "team/docker-hub/app", "dockerhub/app", "quayx/app", "docker-hub/app"):
            ecr.create_repository(repositoryName=name)
        before = {
            n: snapshot(ecr, n) for n in ("docker-hub-mirror/app", "team/docker-hub/app", "dockerhub/app", "quayx/app")
        }
        report = Reconciler(aws, OUTPUTS, apply=True).run()
        assert report.repositories == 1 and report.skipped == 4
        assert {c.repository for c in report.changes} == {"docker-hub/app"}
        assert {n: snapshot(ecr, n) for n in before} == before


def test_every_page_of_repositories_is_read():
    aws = Aws(REGION)
    ecr = aws.client("ecr")
    repo = {
        "repositoryArn": "arn:aws:ecr:us-east-2:123456789012:repository/quay/a",
        "repositoryName": "quay/a",
        "imageTagMutability": "MUTABLE",
        "imageScanningConfiguration": {"scanOnPush": False},
    }
    template = OUTPUTS["upstreams"]["quay"]["template"]
    with Stubber(ecr) as stub:
        stub.add_response(
            "describe_repositories", {"repositories": [repo], "nextToken": "page-2"}, {"maxResults": 1000}
        )
        second = dict(repo, repositoryName="quay/b", repositoryArn=repo["repositoryArn"][:-1] + "b")
        stub.add_response(
            "describe_repositories", {"repositories": [second]}, {"maxResults": 1000, "nextToken": "page-2"}
        )
        for name in ("quay/a", "quay/b"):
            stub.add_response(
                "get_lifecycle_policy", {"lifecyclePolicyText": template["lifecycle_policy"]}, {"repositoryName": name}
            )
            stub.add_response(
                "list_tags_for_resource",
                {"tags": [{"Key": k, "Value": v} for k, v in template["resource_tags"].items()]},
            )
            stub.add_response(
                "get_repository_policy", {"policyText": template["repository_policy"]}, {"repositoryName": name}
            )
        report = Reconciler(aws, OUTPUTS, workers=1).run()
        stub.assert_no_pending_responses()
    assert report.repositories == 2 and report.changes == [] and report.errors == []


def test_a_failing_repository_is_reported_and_the_others_are_fixed():
    with mock_aws():
        aws = Aws(REGION)
        ecr = aws.client("ecr")
        for name in ("docker-hub/a", "docker-hub/b", "docker-hub/c"):
            ecr.create_repository(repositoryName=name)

        def deny_b(params, **_):
            if params.get("repositoryName") == "docker-hub/b":
                from botocore.exceptions import ClientError

                raise ClientError(
                    {"Error": {"Code": "AccessDeniedException", "Message": "not for b"}}, "PutLifecyclePolicy"
                )

        ecr.meta.events.register("provide-client-params.ecr.PutLifecyclePolicy", deny_b)
        report = Reconciler(aws, OUTPUTS, apply=True).run()
        assert report.errors == [{"repository": "docker-hub/b", "error": "AccessDeniedException: not for b"}]
        assert snapshot(ecr, "docker-hub/a")["lifecycle"] and snapshot(ecr, "docker-hub/c")["lifecycle"]
        assert snapshot(ecr, "docker-hub/b")["lifecycle"] is None


# --------------------------------------------------------------------------------------------
# End to end: the CLI against moto.server
# --------------------------------------------------------------------------------------------


def fresh_drift(settings: dict) -> list[str]:
    """What a repository ECR created with its defaults differs in from a template."""
    drift = ["lifecycle_policy", "tags"]
    if (settings["image_tag_mutability"], settings["image_tag_mutability_exclusion_filters"]) != ("MUTABLE", []):
        drift.append("image_tag_mutability")
    if settings.get("repository_policy"):
        drift.append("repository_policy")
    return drift


def ptc(*args: str, endpoint: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ptc", "reconcile", *args, "--endpoint-url", endpoint],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **CREDENTIALS},
    )


@pytest.mark.e2e
def test_hundreds_of_repositories_converge_on_moto_server(tmp_path: Path):
    import boto3

    rng = random.Random(7)
    with moto_server() as endpoint:
        ecr = boto3.client("ecr", region_name=REGION, endpoint_url=endpoint)
        cached = [f"{p}/team{i % 9}/image{i}" for i, p in enumerate(["docker-hub", "quay"] * 150)]
        unrelated = [f"apps/service{i}" for i in range(40)] + [f"docker-hub-old/app{i}" for i in range(10)]
        # Each repository's history is drawn first, in order (the same registry every run), then made on the
        # server from 8 threads: one call at a time, setting up took two thirds of this test.
        plans = []
        drift_expected = 0
        for name in cached:
            settings = OUTPUTS["upstreams"][name.split("/")[0]]["template"]
            templated = rng.random() < 0.6  # created by the current template, else before it existed
            drifted = templated and rng.random() < 0.3
            drift_expected += (1 if drifted else 0) if templated else len(fresh_drift(settings))
            plans.append((name, settings, templated, drifted))

        def make(plan: tuple[str, dict, bool, bool]) -> None:
            name, settings, templated, drifted = plan
            ecr.create_repository(repositoryName=name)
            if templated:
                conform(ecr, name, settings)
            if drifted:
                ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=default_lifecycle_policy(3, 9))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(make, plans + [(name, {}, False, False) for name in unrelated]))
            untouched = dict(zip(unrelated, pool.map(lambda n: snapshot(ecr, n), unrelated), strict=True))
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(OUTPUTS))

        dry = ptc("--outputs", str(path), "--json", endpoint=endpoint)
        assert dry.returncode == 0, dry.stderr
        report = json.loads(dry.stdout)
        assert report["repositories"] == len(cached)
        assert len(report["changes"]) == drift_expected
        assert report["errors"] == [] and report["skipped"] == len(unrelated)
        assert set(report["changes"][0]) >= {"repository", "setting", "before", "after"}

        applied = ptc("--outputs", str(path), "--json", "--apply", endpoint=endpoint)
        assert applied.returncode == 0, applied.stderr
        assert len(json.loads(applied.stdout)["changes"]) == drift_expected

        again = json.loads(ptc("--outputs", str(path), "--json", "--apply", endpoint=endpoint).stdout)
        assert again["changes"] == [] and again["errors"] == []
        calls = again["calls"]
        assert set(calls) <= {
            "GetCallerIdentity",
            "DescribeRepositories",
            "GetLifecyclePolicy",
            "ListTagsForResource",
            "GetRepositoryPolicy",
        }  # a converged registry draws reads only
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert dict(zip(unrelated, pool.map(lambda n: snapshot(ecr, n), unrelated), strict=True)) == untouched

        human = ptc("--outputs", str(path), "--fail-on-drift", endpoint=endpoint)
        assert human.returncode == 0
        assert "0 changes in 0 repositories" in human.stdout


def test_human_output_with_a_progress_bar_on_a_terminal(tmp_path):
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from ptc import reconcile as reconcile_module

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    with mock_aws():
        ecr = Aws(REGION).client("ecr")
        ecr.create_repository(repositoryName="docker-hub/library/nginx")
        ecr.create_repository(repositoryName="apps/web")
        args = SimpleNamespace(
            outputs=str(path), apply=False, json=False, fail_on_drift=True, workers=2, region=None, endpoint_url=None
        )
        buffer = io.StringIO()
        code = reconcile_module.run(args, Console(file=buffer, force_terminal=True, width=160, highlight=False))
        raw = buffer.getvalue()
        assert "Reconciling (dry run)" in raw  # the progress bar, on a terminal only
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
        assert code == 1  # --fail-on-drift
        assert (
            "Cached repositories under 2 prefixes in 123456789012/us-east-2: 1 (1 other repository left alone)" in text
        )
        assert "docker-hub/library/nginx" in text  # the summary's example
        assert "IMMUTABLE_WITH_EXCLUSION (latest)" not in text  # values only with --details
        assert "3 changes in 1 repositories to fix (dry run; --apply writes them)" in text
        buffer = io.StringIO()
        args.details = True
        reconcile_module.run(args, Console(file=buffer, force_terminal=True, width=160, highlight=False))
        assert "IMMUTABLE_WITH_EXCLUSION (latest)" in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue())
        from ptc.cli import main

        assert main(["reconcile", "--outputs", str(path), "--region", "eu-west-1"]) == 2  # another registry's outputs


def test_the_summary_has_one_row_per_prefix_and_setting_however_many_repositories():
    from ptc.reconcile import Change, Desired, summarize

    desired = [Desired.from_outputs(p, u) for p, u in OUTPUTS["upstreams"].items()]
    changes = [
        Change(f"docker-hub/team/image{i}", setting, None, None)
        for i in range(400)
        for setting in ("tags", "lifecycle_policy", "image_tag_mutability", "tags2")
    ]
    groups = summarize(changes, desired)
    assert len(groups) == 4 and sum(len(v) for v in groups.values()) == 1600
    assert {prefix for prefix, _ in groups} == {"docker-hub"}


def test_human_output_shows_an_aws_error_as_written(tmp_path, monkeypatch):
    """What AWS answered reaches the terminal as written, brackets and colons included: never read as rich markup
    (a `[/x]` raised MarkupError and lost the whole report) or emoji codes."""
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from ptc import reconcile as reconcile_module

    said = "AccessDeniedException: not authorized on [/x] [secret] :warning:"
    real_run = reconcile_module.Reconciler.run

    def run_with_an_error(self, *args, **kwargs):
        report = real_run(self, *args, **kwargs)
        report.errors.append({"repository": "docker-hub/library/nginx", "error": said})
        return report

    monkeypatch.setattr(reconcile_module.Reconciler, "run", run_with_an_error)
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    with mock_aws():
        Aws(REGION).client("ecr").create_repository(repositoryName="docker-hub/library/nginx")
        args = SimpleNamespace(
            outputs=str(path), apply=False, json=False, fail_on_drift=False, workers=2, region=None, endpoint_url=None
        )
        buffer = io.StringIO()
        reconcile_module.run(args, Console(file=buffer, width=300, color_system=None))
    assert f"error: docker-hub/library/nginx: {said}" in buffer.getvalue()
