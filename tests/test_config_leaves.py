"""Every leaf of a real stack config, mutated: the config refuses with faults that name a place, or accepts; it never
raises anything else, and a token never reaches a message (issue 31, item 3)."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache.config import ConfigError, Settings, StackContext, parse_settings
from tests.conftest import ROOT

PROJECT = "ecr-pull-through-cache:"
TOKEN = "glpat-TOKEN-THAT-MUST-NEVER-SHOW-0123456789"


def raw_config(stack: str) -> dict[str, Any]:
    """The stack file's project keys as the program gets them (namespace dropped, secure values decrypted)."""
    config = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    raw = {key.removeprefix(PROJECT): value for key, value in config.items() if key.startswith(PROJECT)}
    if "credentials" in raw:
        raw["credentials"] = {prefix: TOKEN for prefix in raw["credentials"]}
    return raw


BASES = {stack: raw_config(stack) for stack in ("dev", "prod")}
CONTEXTS = {
    stack: StackContext(
        account_id="123456789012",
        region=yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]["aws:region"],
    )
    for stack in BASES
}


def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaves(item, (*path, key))] or [path]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in leaves(item, (*path, index))] or [path]
    return [path]


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(alphabet="aA0-_./:*?[]{}$@ \t\n\u202e\u200b\uff41", max_size=300),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.builds(lambda: {"secure": "v1:abc"}),  # a fresh dict per draw: `st.just` would share one, and a later
    # mutation inside it could place it within itself (a cycle)
)


@st.composite
def mutations(draw):
    stack = draw(st.sampled_from(sorted(BASES)))
    raw = copy.deepcopy(BASES[stack])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(leaves(raw)))
        if not path:
            continue
        parent = raw
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "unknown-key"]))
        if action == "replace" or isinstance(parent, list):
            parent[path[-1]] = draw(HOSTILE)
        elif action == "delete":
            del parent[path[-1]]
        else:
            parent[draw(st.text(min_size=1, max_size=12))] = draw(HOSTILE)
    return stack, raw


def secrets(value: Any) -> set[str]:
    """The strings under `credentials` long enough to be told apart from the words of a message."""
    if isinstance(value, dict):
        return {s for item in value.values() for s in secrets(item)}
    if isinstance(value, list):
        return {s for item in value for s in secrets(item)}
    return {value} if isinstance(value, str) and len(value) >= 12 else set()


def check(stack: str, raw: dict[str, Any]) -> None:
    hidden = secrets(raw.get("credentials"))
    plain = {leaf for key, value in raw.items() if key != "credentials" for leaf in secrets(value)}
    credentials = raw.get("credentials")
    if isinstance(credentials, dict):  # its keys are upstream prefixes, stored in plain text: only values are secret
        plain |= {str(key) for key in credentials}
    hidden -= plain  # written in plain config as well: shown there, and so not a secret to keep
    try:
        result = parse_settings(
            copy.deepcopy(raw), CONTEXTS[stack], present_keys=[k for k in raw if raw[k] is not None]
        )
    except ConfigError as error:
        assert error.faults, "a ConfigError names at least one fault"
        for fault in error.faults:
            text = str(fault)
            assert not any(secret in text for secret in hidden), text
            assert fault.where and fault.message, text
        return
    assert isinstance(result, Settings)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
@example(("dev", dict(BASES["dev"], upstreams=[{"kind": "gitlab-container-registry", "token": {"group": "a/../b"}}])))
@example(("dev", dict(BASES["dev"], credentials={"docker-hub": {"nested": TOKEN}})))
@example(("dev", dict(BASES["dev"], credentials={"000000000000": "000000000000"})))  # a token equal to its key
def test_every_leaf_mutated_is_accepted_or_refused_with_named_faults(case):
    check(*case)


def test_the_unmutated_stacks_are_accepted():
    for stack, raw in BASES.items():
        check(stack, raw)
        assert isinstance(parse_settings(copy.deepcopy(raw), CONTEXTS[stack]), Settings)
