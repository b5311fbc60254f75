"""`python -m ptc image`: one rewritten reference per input, refusals with a non-zero exit, manifests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_images import DEPLOYMENT, OUTPUTS, REGISTRY

pytestmark = pytest.mark.e2e


def ptc(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ptc", "image", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


@pytest.fixture
def outputs(tmp_path: Path) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS))
    return path


def test_one_rewritten_reference_per_input_in_order(outputs):
    result = ptc("nginx", "ghcr.io/acme/api:2", "quay.io/x/y@sha256:" + "cd" * 32, "--outputs", str(outputs))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{REGISTRY}/docker-hub/library/nginx:latest",
        f"{REGISTRY}/github/acme/api:2",
        f"{REGISTRY}/quay/x/y@sha256:" + "cd" * 32,
    ]


def test_an_uncached_reference_exits_non_zero_with_a_message(outputs):
    result = ptc("nginx", "localhost:5000/app", "Bad:Ref", "--outputs", str(outputs))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{REGISTRY}/docker-hub/library/nginx:latest"]
    assert "'localhost:5000/app' is on localhost:5000, which no pull through cache rule" in result.stderr
    assert "'Bad:Ref' has an invalid repository path" in result.stderr


def test_outputs_from_stdin_and_from_the_pulumi_cli(outputs, tmp_path):
    assert ptc("nginx", "--outputs", "-", stdin=json.dumps(OUTPUTS)).returncode == 0
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pulumi").write_text(
        f"#!/bin/sh\n[ \"$*\" = 'stack output --json --stack acme/dev' ] && "
        f'cat {outputs} || {{ echo "unexpected: $*" >&2; exit 3; }}\n'
    )
    (fake / "pulumi").chmod(0o755)
    path = {"PATH": f"{fake}:{os.environ['PATH']}"}
    result = ptc("nginx", "--stack", "acme/dev", env=path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{REGISTRY}/docker-hub/library/nginx:latest"
    failed = ptc("nginx", "--stack", "acme/prod", env=path)
    assert failed.returncode == 2 and "unexpected: stack output --json --stack acme/prod" in failed.stderr


def test_without_the_pulumi_cli_stack_says_what_to_do_instead():
    result = ptc("nginx", "--stack", "acme/dev", env={"PATH": "/nonexistent"})
    assert result.returncode == 2
    assert "--stack needs the Pulumi CLI" in result.stderr and "--outputs FILE" in result.stderr


def test_outputs_without_upstreams_are_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"vpcId": "vpc-1"}))
    result = ptc("nginx", "--outputs", str(path))
    assert result.returncode == 2 and "no `upstreams` map" in result.stderr


def test_manifest_to_stdout_and_in_place(outputs, tmp_path):
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(DEPLOYMENT)
    printed = ptc("--outputs", str(outputs), "--manifest", str(manifest))
    assert printed.returncode == 1  # two references are left unchanged and reported
    assert f"image: {REGISTRY}/docker-hub/library/busybox:1.36" in printed.stdout
    assert "localhost:5000/dev:latest: 'localhost:5000/dev:latest' is on localhost:5000" in printed.stderr
    assert f"{manifest}:11: busybox:1.36 -> {REGISTRY}/docker-hub/library/busybox:1.36" in printed.stderr
    assert manifest.read_text() == DEPLOYMENT  # printed, not written

    kept = ptc("--outputs", str(outputs), "--manifest", str(manifest), "--in-place", "--keep-uncached")
    assert kept.returncode == 0 and kept.stdout == ""
    assert manifest.read_text() == printed.stdout
    again = ptc("--outputs", str(outputs), "--manifest", str(manifest), "--in-place", "--keep-uncached")
    assert again.returncode == 0 and manifest.read_text() == printed.stdout  # idempotent


@pytest.mark.parametrize("verb", ["verify", "reconcile"])
def test_registry_verbs_refuse_outputs_of_another_region(verb, tmp_path, capsys):
    from ptc.cli import main

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"registry_url": "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "upstreams": {}}))
    assert main([verb, "--outputs", str(path), "--region", "us-east-1"]) == 2
    assert "describe a registry in eu-west-1, not us-east-1" in capsys.readouterr().err


def test_unreadable_and_read_only_manifests_are_reported_per_file_and_the_rest_processed(tmp_path):
    outputs_file = tmp_path / "outputs.json"
    outputs_file.write_text(json.dumps(OUTPUTS))
    good = tmp_path / "good.yaml"
    good.write_text("image: nginx:1.27\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"image: \xff\xfe\n")
    locked_dir = tmp_path / "locked"
    locked_dir.mkdir()
    locked = locked_dir / "locked.yaml"
    locked.write_text("image: nginx:1.27\n")
    os.chmod(locked_dir, 0o500)
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ptc",
                "image",
                "--outputs",
                str(outputs_file),
                "--in-place",
                "--manifest",
                str(tmp_path / "missing.yaml"),
                "--manifest",
                str(binary),
                "--manifest",
                str(locked),
                "--manifest",
                str(good),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.chmod(locked_dir, 0o700)
    assert result.returncode == 2
    assert "cannot read" in result.stderr and "missing.yaml" in result.stderr and "not UTF-8" in result.stderr
    assert "docker-hub/library/nginx:1.27" in good.read_text()  # the readable file was still processed
    if os.geteuid() != 0:  # root may write anywhere
        assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr
