"""Policy packs over the Analyzer protocol: each pack's start, and resources per second at 100, 1,000 and
10,000 synthetic resources shaped like real caches (both packs in parallel, then each pack alone)."""

from __future__ import annotations

import json
import statistics
import time

from ecr_pull_through_cache import iam, lifecycle
from ptc.analyzer import PolicyPacks, pack_dirs
from ptc.stack_config import make_stack_config
from tests.policy_support import (
    ACCOUNT,
    POLICY,
    REGION,
    REGISTRY,
    ROLE,
    ROLE_POLICY,
    RULE,
    SECRET,
    TEMPLATE,
    UNKNOWN,
    UPSTREAM,
    Spec,
    build,
)

from .timing import ROOT, TABLE_HEAD, Timing

SIZES = (100, 1000, 10000)
PER_UPSTREAM = 6  # component, secret, role, role policy, template, rule


def resources(count: int):
    """`count` resources shaped like real caches: one registry, then six per upstream."""
    specs = [
        Spec(REGISTRY, "dev", {"environment": "dev"}, custom=False),
        Spec(
            POLICY,
            "dev-consumer",
            {"policy": json.dumps(iam.consumer_policy("aws", REGION, ACCOUNT, ["x0"])), "tags": {"environment": "dev"}},
            parent="dev",
        ),
    ]
    index = 0
    while len(specs) < count:
        prefix, name = f"hub{index}", f"dev-hub{index}"
        tags = {"environment": "dev", "team": "platform"}
        specs += [
            Spec(
                UPSTREAM,
                name,
                {"kind": "docker-hub", "prefix": prefix, "environment": "dev"},
                parent="dev",
                custom=False,
            ),
            Spec(
                SECRET,
                f"{name}-secret",
                {
                    "namePrefix": f"ecr-pullthroughcache/dev/{prefix}-",
                    "tags": {**tags, "ptc:upstream": "docker-hub", "ptc:token-scopes": "repo:read"},
                },
                parent=name,
            ),
            Spec(
                ROLE,
                f"{name}-template",
                {"assumeRolePolicy": json.dumps(iam.template_role_trust()), "tags": tags},
                parent=name,
            ),
            Spec(
                ROLE_POLICY,
                f"{name}-template-policy",
                {"role": UNKNOWN, "policy": json.dumps(iam.template_role_policy("aws", REGION, ACCOUNT, prefix))},
                parent=name,
            ),
            Spec(
                TEMPLATE,
                f"{name}-template",
                {
                    "prefix": prefix,
                    "appliedFors": ["PULL_THROUGH_CACHE"],
                    "lifecyclePolicy": lifecycle.default_lifecycle_policy(),
                    "resourceTags": tags,
                    "customRoleArn": UNKNOWN,
                },
                parent=name,
            ),
            Spec(
                RULE,
                f"{name}-rule",
                {
                    "ecrRepositoryPrefix": prefix,
                    "upstreamRegistryUrl": "registry-1.docker.io",
                    "credentialArn": UNKNOWN,
                },
                parent=name,
                property_dependencies={"credentialArn": [f"{name}-secret"]},
            ),
        ]
        index += 1
    return build(specs[:count])


def pack_start(repeat: int, config) -> tuple[list[Timing], list[str]]:
    """Each pack alone, as the CLI starts it: a new interpreter until GetAnalyzerInfo answers."""
    from ptc.analyzer import EngineServer, PackProcess

    timings, notes = [], []
    engine = EngineServer()
    try:
        for pack in pack_dirs(ROOT):
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                process = PackProcess(pack, config, dry_run=True, engine_address=engine.address)
                try:
                    process.connect()
                    samples.append(time.perf_counter() - start)
                finally:
                    process.close()
            timings.append(Timing(f"start the {pack.name} pack (spawn to GetAnalyzerInfo)", samples))
            notes.append(f"{pack.name} pack start: {statistics.median(samples) * 1000:.0f} ms (median)")
    finally:
        engine.stop()
    return timings, notes


def per_pack_cost(config, size: int = 1000, repeat: int = 3) -> list[str]:
    """Analyze + AnalyzeStack cost per resource of each pack alone (the packs run in parallel in ptc)."""
    notes = []
    batch = resources(size)
    for pack in pack_dirs(ROOT):
        samples: list[float] = []
        for _ in range(repeat):
            with PolicyPacks([pack], config, dry_run=True) as packs:
                packs.run(resources(20))
                start = time.perf_counter()
                packs.run(batch)
                samples.append(time.perf_counter() - start)
        notes.append(
            f"{pack.name} pack alone, {size} resources (median of {repeat}): "
            f"{statistics.median(samples) / size * 1000:.2f} ms per resource"
        )
    return notes


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": REGION, "environment": "dev"})
    timings, notes = pack_start(repeat, config)
    notes += per_pack_cost(config)
    with PolicyPacks(pack_dirs(ROOT), config, dry_run=True) as packs:
        packs.run(resources(20))  # warm both packs
        for size in SIZES:
            batch = resources(size)
            samples = []
            for _ in range(max(1, repeat if size < 10000 else min(repeat, 3))):
                start = time.perf_counter()
                found = packs.run(batch).violations
                samples.append(time.perf_counter() - start)
            assert not [v for v in found if v["level"] == "mandatory"], found[:3]
            timing = Timing(f"{size} resources: Analyze each + AnalyzeStack, both packs", samples)
            timings.append(timing)
            notes.append(
                f"{size} resources: {size / timing.median:,.0f} resources/s (median), "
                f"{timing.median / size * 1000:.2f} ms per resource"
            )
    return timings, notes


TITLE = "Policy packs: start and throughput over the Analyzer protocol (synthetic resources)"
HEAD = TABLE_HEAD
