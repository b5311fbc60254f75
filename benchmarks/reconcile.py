"""`ptc reconcile` against moto.server: wall time and AWS calls per repository at 100, 1,000 and 5,000."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

from tests.aws_support import CREDENTIALS, REGION, moto_server, outputs, upstream

from .timing import ROOT, Timing

SIZES = (100, 1000, 5000)
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
        ),
    }
)


def populate(endpoint: str, size: int) -> None:
    """`size` cached repositories (half created before the template, so drifted), plus 10% unrelated ones."""
    ecr = boto3.client("ecr", region_name=REGION, endpoint_url=endpoint, config=Config(max_pool_connections=16))

    def create(index: int) -> None:
        prefix = ("docker-hub", "quay")[index % 2]
        name = f"{prefix}/team{index % 13}/image{index}"
        if index % 4 < 2:
            ecr.create_repository(repositoryName=name)  # drifted
            return
        template = OUTPUTS["upstreams"][prefix]["template"]
        kwargs = {
            "repositoryName": name,
            "imageTagMutability": template["image_tag_mutability"],
            "imageScanningConfiguration": {"scanOnPush": template["scan_on_push"]},
            "tags": [{"Key": k, "Value": v} for k, v in template["resource_tags"].items()],
        }
        if template["image_tag_mutability_exclusion_filters"]:
            kwargs["imageTagMutabilityExclusionFilters"] = [
                {"filterType": "WILDCARD", "filter": f} for f in template["image_tag_mutability_exclusion_filters"]
            ]
        ecr.create_repository(**kwargs)
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=template["lifecycle_policy"])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(size)))
        list(pool.map(lambda i: ecr.create_repository(repositoryName=f"apps/service{i}"), range(size // 10)))


def reconcile(endpoint: str, path: Path, *extra: str) -> tuple[float, dict]:
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ptc",
            "reconcile",
            "--outputs",
            str(path),
            "--json",
            "--endpoint-url",
            endpoint,
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **CREDENTIALS},
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return elapsed, json.loads(result.stdout)


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    timings, notes = [], []
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "outputs.json"
        path.write_text(json.dumps(OUTPUTS))
        for size in SIZES:
            runs = max(1, repeat if size < 5000 else min(repeat, 2))
            with moto_server() as endpoint:
                populate(endpoint, size)
                dry = [reconcile(endpoint, path) for _ in range(runs)]
                applied = reconcile(endpoint, path, "--apply")
                converged = [reconcile(endpoint, path, "--apply") for _ in range(runs)]
            report = dry[-1][1]
            assert report["repositories"] == size and converged[-1][1]["changes"] == []
            for label, samples, calls in (
                ("dry run", [d[0] for d in dry], report["calls"]),
                ("--apply", [applied[0]], applied[1]["calls"]),
                ("--apply again (converged)", [c[0] for c in converged], converged[-1][1]["calls"]),
            ):
                timings.append(Timing(f"{size} repositories: {label}", samples))
                total = sum(calls.values())
                notes.append(
                    f"{size} repositories, {label}: {total / size:.2f} AWS calls per repository "
                    f"({', '.join(f'{k} {v}' for k, v in sorted(calls.items()))})"
                )
            notes.append(
                f"{size} repositories: {len(applied[1]['changes'])} changes applied in "
                f"{len({c['repository'] for c in applied[1]['changes']})} drifted repositories; "
                f"{report['skipped']} unrelated repositories untouched"
            )
    notes.append(
        "moto.server answers each call in about 2.5 ms and serialises them, so wall time here measures "
        "moto; calls per repository are what carry over to AWS"
    )
    notes.append(
        "moto returns every repository in one DescribeRepositories page; AWS pages at 1,000, so 5,000 "
        "repositories take 5 listing calls there (0.001 per repository)"
    )
    return timings, notes


TITLE = "ptc reconcile on moto.server"
HEAD = "| measurement | min (s) | median (s) | runs |\n| --- | --- | --- | --- |"
