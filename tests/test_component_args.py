"""The components' arguments are an entry point like any other: whatever a library user (or the plugin) hands
them, the answer is the component's resources or a `pulumi.RunError` naming the argument (the CLI prints it
without a traceback), never a Python error from inside (`UpstreamCache("x", 5)` once raised AttributeError,
`PullThroughCache` with `upstreams: 5` a TypeError)."""

from __future__ import annotations

from typing import Any

import pulumi
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_pull_through_cache.args import PullThroughCacheArgs, UpstreamArgs, UpstreamCacheArgs
from ecr_pull_through_cache.config import ConfigError
from ecr_pull_through_cache.registry import PullThroughCache
from ecr_pull_through_cache.upstream_cache import UpstreamCache
from ecr_pull_through_cache.upstream_grant import UpstreamGrant, UpstreamGrantArgs
from tests.conftest import run_component

SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "dev", "docker-hub", "x" * 40])
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "kind", "prefix"]), inner),
    max_leaves=6,
)
GOOD_UPSTREAM = {"kind": "ecr-public"}


def documented(annotated: type, good: dict[str, Any], nested: dict[str, Any] | None = None) -> Any:
    """Arguments of an Args TypedDict: its keys over a valid base, each replaced by hostile values or left out;
    or not a mapping at all."""
    values = {key: nested.get(key, VALUES) if nested else VALUES for key in annotated.__annotations__}
    mappings = st.fixed_dictionaries({}, optional=values).map(lambda changes: {**good, **changes})
    return mappings | VALUES


UPSTREAMS = documented(UpstreamArgs, GOOD_UPSTREAM)
CASES = {
    "UpstreamCache": (
        UpstreamCache,
        documented(UpstreamCacheArgs, {"environment": "dev", "upstream": GOOD_UPSTREAM}, {"upstream": UPSTREAMS}),
    ),
    "PullThroughCache": (
        PullThroughCache,
        documented(
            PullThroughCacheArgs,
            {"environment": "dev", "upstreams": [GOOD_UPSTREAM]},
            {"upstreams": st.lists(UPSTREAMS, max_size=2) | VALUES},
        ),
    ),
    "UpstreamGrant": (UpstreamGrant, documented(UpstreamGrantArgs, {})),
}


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(sorted(CASES)), data=st.data())
def test_any_arguments_give_resources_or_a_run_error_naming_the_component(case, data):
    component, strategy = CASES[case]
    args = data.draw(strategy)
    result = run_component(lambda: component("x", args))
    if result.error is not None:
        assert isinstance(result.error, pulumi.RunError), (args, repr(result.error))
        if isinstance(result.error, ConfigError):  # said of the arguments, never of a stack config
            assert str(result.error).startswith(f"The arguments of {case} 'x' have"), str(result.error)
            assert "pulumi config set" not in str(result.error), str(result.error)
        assert "'x'" in str(result.error) or "upstreams" in str(result.error) or "environment" in str(result.error)


ROLE = "aws:iam/role:Role"


def _rule_tags(result: Any) -> dict[str, Any]:
    assert result.error is None, result.error
    return next(r.state["tags"] for r in result.resources if r.type == ROLE)


def test_a_tag_value_known_only_later_is_passed_on_as_its_type_allows():
    """`tags: pulumi.Input[dict[str, pulumi.Input[str]]]`: an Output value is not refused as "not text"."""
    later = {"team": pulumi.Output.from_input("platform")}
    registry = run_component(
        lambda: PullThroughCache("x", {"environment": "dev", "upstreams": [GOOD_UPSTREAM], "tags": later})
    )
    one = run_component(lambda: UpstreamCache("x", {"environment": "dev", "upstream": GOOD_UPSTREAM, "tags": later}))
    assert _rule_tags(registry)["team"] == _rule_tags(one)["team"] == "platform"


def test_an_upstream_caches_tags_are_checked_as_the_configs_are():
    """UpstreamCache once took any tags: a project tag silently overridden, a number stored as `5.0`."""
    result = run_component(
        lambda: UpstreamCache("x", {"environment": "dev", "upstream": GOOD_UPSTREAM, "tags": {"ptc:prefix": "a"}})
    )
    assert "UpstreamCache 'x' tags ptc:prefix: is set by the project" in str(result.error)
    numbered = run_component(
        lambda: UpstreamCache("x", {"environment": "dev", "upstream": GOOD_UPSTREAM, "tags": {"n": 5}})
    )
    assert _rule_tags(numbered)["n"] == "5"
