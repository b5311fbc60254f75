"""The mock engine as a library: runs repeat in one process, leave nothing open, `collect=False` changes only
when the run's objects are freed, and its monitor answers as the SDK's mock monitor does."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.runtime import mocks
from pulumi.runtime.proto import resource_pb2

from ptc.mock_engine import SECRET_SIG, SIG_KEY, UNKNOWN, FakeCloud, RecordingMonitor, run_program
from tests.conftest import ROOT, stack_config, stack_file


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _dev(**options: bool):
    result = run_program(ROOT, stack_config(stack_file("dev"), "dev"), preview=True, **options)
    assert result.error is None, result.error
    return result


def test_runs_in_one_process_leave_no_event_loop_or_descriptor_open() -> None:
    """Runs on one loop, each after the other, open no event loop, thread pool or descriptor that outlives them."""
    _dev()
    before = _open_fds()
    for _ in range(4):
        _dev()
    assert _open_fds() <= before


def test_collect_false_registers_the_same_and_leaves_the_collector_as_it_found_it() -> None:
    collected = _dev()
    assert gc.isenabled()
    kept = _dev(collect=False)
    assert gc.isenabled(), "the collector runs again after the run; only the run's objects are left out of it"
    assert sorted((r.urn, str(r.properties)) for r in kept.resources) == sorted(
        (r.urn, str(r.properties)) for r in collected.resources
    )
    assert kept.outputs == collected.outputs
    gc.unfreeze()  # give the frozen objects back to the collector, for the tests that run after this one


def test_a_process_that_ran_programs_exits_quietly() -> None:
    """No event loop is left for the interpreter's teardown to find half-closed ("Invalid file descriptor")."""
    script = (
        "from tests.conftest import ROOT, stack_config, stack_file\n"
        "from ptc.mock_engine import run_program\n"
        "for _ in range(2):\n"
        "    assert run_program(ROOT, stack_config(stack_file('dev'), 'dev'), preview=True).error is None\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr


# Property values as the SDK puts them on the wire: JSON, with secrets wrapped in their signature object and
# unknowns as the sentinel string (preview).
_PLAIN = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
_LEAVES = _PLAIN | st.text(max_size=12) | st.just(UNKNOWN)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != SIG_KEY), inner, max_size=4)
        | st.builds(lambda v: {SIG_KEY: SECRET_SIG, "value": v}, inner)
    ),
    max_leaves=12,
)
_PROPERTIES = st.dictionaries(st.sampled_from(["name", "namePrefix", "tags", "policy", "prefix", "x"]), _VALUES)
_TYPES = st.sampled_from(
    [
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:secretsmanager/secret:Secret",
        "aws:ecr/pullThroughCacheRule:PullThroughCacheRule",
        "random:index/randomId:RandomId",
        "ecr-pull-through-cache:index:UpstreamCache",
    ]
)


def _struct(properties: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(properties, struct_pb2.Struct())


def _plain(value: Any) -> Any:
    """A kept state, comparable: unknowns (an object each) as the sentinel they came from."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return UNKNOWN if isinstance(value, pulumi.output.Unknown) else value


def _kept(monitor: mocks.MockMonitor) -> dict[str, Any]:
    return {urn: _plain(r._asdict()) for urn, r in monitor.resources.items()}


def _answer(method: Any, request: Any) -> Any:
    """What a monitor method answers, or the kind of error it raises (a state the fake cloud cannot give an ID)."""
    try:
        return method(request)
    except Exception as exc:  # noqa: BLE001 - compared, not hidden
        return type(exc).__name__


def _both(preview: bool) -> tuple[RecordingMonitor, mocks.MockMonitor]:
    fake = FakeCloud("us-east-2", preview)
    pulumi.runtime.set_mocks(fake, project="p", stack="s", preview=preview)
    return RecordingMonitor(fake), mocks.MockMonitor(fake)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(properties=_PROPERTIES, type_=_TYPES, custom=st.booleans(), preview=st.booleans())
def test_the_monitor_answers_a_registration_as_the_sdks_mock_monitor(
    properties: dict[str, Any], type_: str, custom: bool, preview: bool
) -> None:
    """The engine's monitor serializes its answers without an event loop (so it can answer on the program's own
    thread); for any inputs, its answer and what it keeps are the SDK's monitor's."""
    if type_.startswith("random:") and not isinstance(properties.get("byteLength", 4), int):
        properties.pop("byteLength", None)
    ours, sdk = _both(preview)
    request = resource_pb2.RegisterResourceRequest(
        type=type_, name="thing", custom=custom, parent="", object=_struct(properties)
    )
    assert _answer(ours.RegisterResource, request) == _answer(sdk.RegisterResource, request)
    assert _kept(ours) == _kept(sdk)
    read = resource_pb2.ReadResourceRequest(
        type=type_, name="read", id="i-1", parent="", properties=_struct(properties)
    )
    assert _answer(ours.ReadResource, read) == _answer(sdk.ReadResource, read)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    token=st.sampled_from(
        [
            "aws:index/getCallerIdentity:getCallerIdentity",
            "aws:index/getPartition:getPartition",
            "aws:index/getRegion:getRegion",
            "aws:secretsmanager/getSecret:getSecret",
        ]
    ),
    name=st.text(max_size=20),
)
def test_the_monitor_answers_an_invoke_as_the_sdks_mock_monitor(token: str, name: str) -> None:
    ours, sdk = _both(True)
    request = resource_pb2.ResourceInvokeRequest(tok=token, args=_struct({"name": name}))
    assert ours.Invoke(request) == sdk.Invoke(request)
    registered = resource_pb2.RegisterResourceRequest(type="aws:iam/role:Role", name="r", custom=True, parent="")
    urn = ours.RegisterResource(registered).urn
    sdk.RegisterResource(registered)
    lookup = resource_pb2.ResourceInvokeRequest(tok="pulumi:pulumi:getResource", args=_struct({"urn": urn}))
    assert ours.Invoke(lookup) == sdk.Invoke(lookup)


def test_registrations_are_recorded_in_the_order_the_program_made_them() -> None:
    """The engine sees a program's registrations in the order it made them, and so do the packs `on_register`
    feeds; the SDK's calls are answered by one worker (asyncio's pool of several answered them out of order)."""
    import pulumi_random as random

    def program() -> None:
        for index in range(40):
            random.RandomId(f"r{index:02d}", byte_length=4)

    seen: list[str] = []
    result = run_program(ROOT, stack_config({}), program=program, on_register=lambda r: seen.append(r.name))
    assert result.error is None, result.error
    expected = [f"r{index:02d}" for index in range(40)]
    assert [r.name for r in result.resources] == seen == expected
