"""Safe operations: the right account, no leaked token, a clean stop, clear refusals with documented exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import boto3
import pytest
from moto import mock_aws

from ptc.aws import Aws, CouldNotCheck, InvalidInput, confirm_identity
from ptc.cli import main
from ptc.reconcile import Reconciler
from ptc.verify import Verifier
from tests.aws_support import CREDENTIALS, REGION, outputs, upstream
from tests.conftest import ROOT

OTHER_ACCOUNT = "210987654321"


@pytest.fixture(autouse=True)
def credentials(monkeypatch):
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def write_outputs(tmp_path, document) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(document))
    return str(path)


def other_accounts_outputs() -> dict:
    registry = f"{OTHER_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
    document = outputs({"quay": dict(upstream("quay", "quay.io", "quay"), cache_uri=f"{registry}/quay")})
    document["registry_url"] = registry
    return document


# --------------------------------------------------------------------------------------------
# 1. Who is calling
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", [["reconcile", "--apply"], ["verify"]])
def test_another_accounts_outputs_are_refused_before_any_write(tmp_path, capsys, verb):
    path = write_outputs(tmp_path, other_accounts_outputs())
    with mock_aws():
        ecr = boto3.client("ecr", region_name=REGION)
        ecr.create_repository(repositoryName="quay/prometheus")
        assert main([*verb, "--outputs", path]) == 2
        err = capsys.readouterr().err
        assert (
            f"describe the registry of account {OTHER_ACCOUNT}, but these credentials are account 123456789012's" in err
            and "--account 123456789012" in err
        )
        repo = ecr.describe_repositories()["repositories"][0]
        assert repo["imageTagMutability"] == "MUTABLE"  # nothing was written
        # Named explicitly, the caller's own registry is acted on.
        assert main(["reconcile", "--outputs", path, "--account", "123456789012"]) in (0, 1)


def test_the_identity_check_reports_no_credentials_as_could_not_check(monkeypatch):
    for key in CREDENTIALS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(CouldNotCheck, match="no AWS credentials"):
        confirm_identity(Aws(REGION), "123456789012", REGION)


# --------------------------------------------------------------------------------------------
# 2. No token in a traceback, a log or an error
# --------------------------------------------------------------------------------------------


def test_a_token_with_a_trailing_newline_fails_the_check_without_showing_it():
    token = "glpat-SecretValue1234567890"
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(
            Name="ecr-pullthroughcache/dev/gitlab",
            SecretString=json.dumps({"username": "bot", "accessToken": token + "\n"}),
            Tags=[{"Key": "ptc:token-scopes", "Value": "read_registry"}],
        )["ARN"]
        document = outputs({"gitlab": upstream("gitlab-container-registry", "registry.gitlab.com", "gitlab", arn)})
        verifier = Verifier(Aws(REGION), document, account="123456789012", region=REGION, check_token_scopes=True)
        verifier.check_secret("gitlab", document["upstreams"]["gitlab"])
        token_read = verifier._read_credentials("gitlab", arn)
        verifier.check_live_scopes("gitlab", "gitlab-container-registry", token_read, ["read_registry"])
    live = [c for c in verifier.checks if c.check == "live-scopes"]
    assert live[0].status == "fail" and "trailing whitespace" in live[0].detail
    assert token not in json.dumps([c.__dict__ for c in verifier.checks])


def test_an_unexpected_failure_prints_no_traceback_and_no_message(tmp_path, monkeypatch, capsys):
    import ptc.image

    def explode(args):
        raise RuntimeError("glpat-SecretValue1234567890 leaked into an exception")

    monkeypatch.setattr(ptc.image, "run", explode)
    assert main(["image", "nginx", "--outputs", write_outputs(tmp_path, outputs({}))]) == 3
    err = capsys.readouterr().err
    assert "RuntimeError" in err and "glpat" not in err and "Traceback" not in err


def test_a_debug_traceback_shows_no_token_that_verify_read(tmp_path, monkeypatch, capsys):
    """PTC_DEBUG=1 prints the traceback of an unexpected failure; a token ptc read from Secrets Manager (no stack
    config knows it) is redacted there, raw or as JSON quotes it."""
    import ptc.verify

    token = "glpat-DebugSecretValue12345"
    monkeypatch.setenv("PTC_DEBUG", "1")

    def verify_one_token(args, console):  # moto has no DescribePullThroughCacheRules: the secret's read alone
        verifier = Verifier(Aws(REGION), document, account="123456789012", region=REGION, check_token_scopes=True)
        token_read = verifier._read_credentials("gitlab", arn)
        # a bug anywhere after the read, whose message quotes the token
        raise RuntimeError(f"GitLab refused {token_read} in {json.dumps({'accessToken': token_read})}")

    monkeypatch.setattr(ptc.verify, "run", verify_one_token)
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name=REGION)
        arn = secrets.create_secret(
            Name="ecr-pullthroughcache/dev/gitlab",
            SecretString=json.dumps({"username": "bot", "accessToken": token}),
            Tags=[{"Key": "ptc:token-scopes", "Value": "read_registry"}],
        )["ARN"]
        document = outputs({"gitlab": upstream("gitlab-container-registry", "registry.gitlab.com", "gitlab", arn)})
        code = main(["verify", "--outputs", write_outputs(tmp_path, document), "--check-token-scopes"])
    err = capsys.readouterr().err
    assert code == 3
    assert "Traceback" in err and "GitLab refused [secret] in" in err, err  # the debug printer ran
    assert token not in err


FAILING_PROGRAM = """
import json

import pulumi

password = pulumi.Config().get("password")
raise ValueError(f"cannot use {password} in {json.dumps(json.dumps({'password': password}))}")
"""


@pytest.mark.e2e
def test_a_debug_traceback_of_a_failing_program_shows_no_secret_config_value(tmp_path):
    """PTC_DEBUG=1 shows the program's traceback; a secret config value it quotes (raw, or JSON in JSON as
    PULUMI_CONFIG holds it) is redacted, and nothing else on either stream carries it."""
    from tests.conftest import run_ptc, write_project

    root = write_project(
        tmp_path / "project",
        "failing",
        FAILING_PROGRAM,
        "config:\n  aws:region: us-east-2\n  failing:password:\n    secure: hunter2-debug-secret\n",
    )
    result = run_ptc("preview", "-C", str(root), "--stack", "dev", "--json", env={"PTC_DEBUG": "1"})
    assert result.returncode == 2, result.stdout + result.stderr
    shown = result.stdout + result.stderr
    assert "Traceback" in shown and "ValueError: cannot use" in shown  # the debug traceback is there
    assert "hunter2-debug-secret" not in shown


# --------------------------------------------------------------------------------------------
# 4. Ctrl-C
# --------------------------------------------------------------------------------------------


def test_the_first_ctrl_c_stops_submitting_and_reports_what_was_applied():
    document = outputs({"quay": upstream("quay", "quay.io", "quay")})
    with mock_aws():
        ecr = boto3.client("ecr", region_name=REGION)
        for index in range(40):
            ecr.create_repository(repositoryName=f"quay/image{index}")
        reconciler = Reconciler(Aws(REGION), document, apply=True, workers=2)
        one = reconciler.reconcile_one

        def slow(repo, desired):  # a real registry answers slower than in-process moto: keep work queued
            time.sleep(0.05)
            return one(repo, desired)

        reconciler.reconcile_one = slow
        seen = []

        def progress(step):
            if step < 0:
                seen.append(step)
                if len(seen) == 3:
                    raise KeyboardInterrupt

        import signal

        before = signal.getsignal(signal.SIGINT)
        try:
            report = reconciler.run(progress)
        finally:
            signal.signal(signal.SIGINT, before)
        assert report.interrupted and report.not_checked > 0
        assert report.not_checked + len({c.repository for c in report.changes}) <= 40
        assert report.applied <= len(report.changes)
        assert reconciler.stop.is_set()
        # A rerun converges.
        rerun = Reconciler(Aws(REGION), document, apply=True).run()
        assert not rerun.interrupted and rerun.errors == []
        assert Reconciler(Aws(REGION), document, apply=True).run().changes == []


def test_the_second_ctrl_c_aborts_at_once():
    script = (
        "import os, signal, time\n"
        "from ptc.reconcile import _abort_on_second_interrupt\n"
        "_abort_on_second_interrupt()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "time.sleep(30)\n"
    )
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 130 and "aborted" in result.stderr
    assert time.perf_counter() - start < 20


def test_a_repository_deleted_during_the_run_is_gone_not_an_error():
    document = outputs({"quay": upstream("quay", "quay.io", "quay")})
    with mock_aws():
        ecr = boto3.client("ecr", region_name=REGION)
        ecr.create_repository(repositoryName="quay/short-lived")
        reconciler = Reconciler(Aws(REGION), document, apply=True)
        repositories = reconciler.repositories()
        ecr.delete_repository(repositoryName="quay/short-lived")
        reconciler.repositories = lambda: repositories
        report = reconciler.run()
    assert report.gone == ["quay/short-lived"] and report.errors == []


# --------------------------------------------------------------------------------------------
# 12. Arguments and the environment
# --------------------------------------------------------------------------------------------


def ptc(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ptc", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **CREDENTIALS, **(env or {})},
    )


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["reconcile", "--workers", "0"], {}, "--workers: '0' is not a whole number of at least 1"),
        (["verify", "--max-token-age-days", "-5"], {}, "--max-token-age-days: '-5' is not a whole number"),
        (["verify", "--endpoint-url", "ftp://127.0.0.1"], {}, "is not an http(s) URL"),
        (["verify"], {"AWS_PROFILE": "no-such-profile"}, "set AWS_PROFILE to a profile"),
    ],
)
def test_bad_arguments_and_environment_exit_2_with_the_fault_named(tmp_path, args, env, message):
    path = write_outputs(tmp_path, outputs({"quay": upstream("quay", "quay.io", "quay")}))
    result = ptc(*args, "--outputs", path, env=env)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.e2e
def test_a_dead_endpoint_is_could_not_check_within_bounded_time(tmp_path):
    from tests.aws_support import free_port

    path = write_outputs(tmp_path, outputs({"quay": upstream("quay", "quay.io", "quay")}))
    start = time.perf_counter()
    result = ptc("verify", "--outputs", path, "--endpoint-url", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not check" in result.stderr and "Traceback" not in result.stderr
    assert time.perf_counter() - start < 30


def test_invalid_input_is_not_could_not_check():
    with pytest.raises(InvalidInput):
        Aws(REGION, endpoint_url="not a url")


# --------------------------------------------------------------------------------------------
# 11. The outputs contract, validated on load
# --------------------------------------------------------------------------------------------

GOOD = outputs({"quay": upstream("quay", "quay.io", "quay")})


def broken(change):
    document = json.loads(json.dumps(GOOD))
    change(document)
    return document


@pytest.mark.parametrize(
    "document, message",
    [
        (broken(lambda d: d["upstreams"].update(quay="x")), "upstreams.quay: must be an object"),
        (broken(lambda d: d["upstreams"]["quay"].pop("cache_uri")), "upstreams.quay.cache_uri: is missing"),
        (broken(lambda d: d["upstreams"]["quay"].update(cache_uri=None)), "upstreams.quay.cache_uri: is missing"),
        (
            broken(lambda d: d["upstreams"]["quay"]["template"].update(applied_for="PULL_THROUGH_CACHE")),
            "upstreams.quay.template.applied_for: must be list",
        ),
        (
            broken(lambda d: d["upstreams"]["quay"]["template"].update(image_tag_mutability="IMMUTABLE")),
            "upstreams.quay.template.image_tag_mutability_exclusion_filters: only apply with a *_WITH_EXCLUSION",
        ),
        (
            broken(lambda d: d["upstreams"]["quay"]["template"].update(image_tag_mutability_exclusion_filters=[])),
            "image_tag_mutability_exclusion_filters: are required with IMMUTABLE_WITH_EXCLUSION",
        ),
        (
            broken(lambda d: d["upstreams"]["quay"]["template"].update(image_tag_mutability="immutable")),
            "upstreams.quay.template.image_tag_mutability: 'immutable' is not one of MUTABLE",
        ),
        (broken(lambda d: d.update(registry_url=None)), "registry_url: null is not an ECR registry host"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_malformed_outputs_are_refused_naming_the_key(tmp_path, capsys, document, message):
    for verb in (["image", "nginx"], ["reconcile"], ["verify"]):
        assert main([*verb, "--outputs", write_outputs(tmp_path, document)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and "None/library" not in err


def test_camel_case_outputs_of_a_typescript_stack_are_read(tmp_path, capsys):
    quay = GOOD["upstreams"]["quay"]
    camel = {
        "registryUrl": GOOD["registry_url"],
        "upstreams": {
            "quay": {
                "kind": "quay",
                "upstreamUrl": quay["upstream_url"],
                "cacheUri": quay["cache_uri"],
                "credentialArn": None,
                "template": {"imageTagMutability": "MUTABLE", "resourceTags": {"costCenter": "x"}},
            }
        },
    }
    assert main(["image", "quay.io/prometheus/node-exporter:v1", "--outputs", write_outputs(tmp_path, camel)]) == 0
    assert capsys.readouterr().out.strip() == f"{quay['cache_uri']}/prometheus/node-exporter:v1"
    from ptc.outputs import validate_outputs

    assert validate_outputs(camel)["upstreams"]["quay"]["template"]["resource_tags"] == {"costCenter": "x"}
