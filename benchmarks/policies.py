"""Policy evaluation over the Analyzer protocol: resources per second at 100, 1,000 and 10,000 resources."""

from __future__ import annotations

import json
import time

from components import iam, lifecycle
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
    specs = [Spec(REGISTRY, "dev", {"environment": "dev"}, custom=False),
             Spec(POLICY, "dev-consumer", {"policy": json.dumps(iam.consumer_policy("aws", REGION, ACCOUNT, ["x0"])),
                                           "tags": {"environment": "dev"}}, parent="dev")]
    index = 0
    while len(specs) < count:
        prefix, name = f"hub{index}", f"dev-hub{index}"
        tags = {"environment": "dev", "team": "platform"}
        specs += [
            Spec(UPSTREAM, name, {"kind": "docker-hub", "prefix": prefix, "environment": "dev"}, parent="dev",
                 custom=False),
            Spec(SECRET, f"{name}-secret", {"namePrefix": f"ecr-pullthroughcache/dev/{prefix}-", "tags": {
                **tags, "ptc:upstream": "docker-hub", "ptc:token-scopes": "repo:read"}}, parent=name),
            Spec(ROLE, f"{name}-template", {"assumeRolePolicy": json.dumps(iam.template_role_trust()), "tags": tags},
                 parent=name),
            Spec(ROLE_POLICY, f"{name}-template-policy", {"role": UNKNOWN, "policy": json.dumps(
                iam.template_role_policy("aws", REGION, ACCOUNT, prefix))}, parent=name),
            Spec(TEMPLATE, f"{name}-template", {"prefix": prefix, "appliedFors": ["PULL_THROUGH_CACHE"],
                                                "lifecyclePolicy": lifecycle.default_lifecycle_policy(),
                                                "resourceTags": tags, "customRoleArn": UNKNOWN}, parent=name),
            Spec(RULE, f"{name}-rule", {"ecrRepositoryPrefix": prefix, "upstreamRegistryUrl": "registry-1.docker.io",
                                        "credentialArn": UNKNOWN}, parent=name,
                 property_dependencies={"credentialArn": [f"{name}-secret"]}),
        ]
        index += 1
    return build(specs[:count])


def run(repeat: int) -> tuple[list[Timing], list[str]]:
    config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": REGION, "environment": "dev"})
    timings, notes = [], []
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
            notes.append(f"{size} resources: {size / timing.median:,.0f} resources/s (median), "
                         f"{timing.median / size * 1000:.2f} ms per resource")
    return timings, notes


TITLE = "Policy evaluation throughput over the Analyzer protocol"
HEAD = TABLE_HEAD
