"""The packs' speedups (`policies/*/speedups.py`) change how often the policy SDK converts, never what it answers.

In-process: every policy of an `Analyze` or `AnalyzeStack` call sees exactly the SDK's own conversion of each
resource's properties, in containers of its own, while each message is converted once per call. Over the Analyzer
protocol: the packs with the speedups and the packs without (`PTC_PACK_SPEEDUPS=0`) report the same violations
on generated and mutated stacks.
"""

from __future__ import annotations

import importlib.util
import threading

import pytest
from google.protobuf import json_format, struct_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy import policy as sdk
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import _DictProxy, _ListProxy

from ptc.analyzer import PolicyPacks, pack_dirs
from ptc.stack_config import make_stack_config
from tests.conftest import ROOT
from tests.policy_support import build
from tests.test_policy_fuzz import _json_safe, hostile_specs, json_value

PACKS = ("security", "conventions")


def _load(pack: str):
    spec = importlib.util.spec_from_file_location(f"speedups_{pack}", ROOT / "policies" / pack / "speedups.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


speedups = _load("security")


def test_the_packs_carry_the_same_speedups():
    """Each pack is published alone, so each has its own copy of speedups.py; the copies never drift."""
    assert len({(ROOT / "policies" / pack / "speedups.py").read_text() for pack in PACKS}) == 1


def test_the_pinned_sdk_takes_them_once(monkeypatch):
    """Fails when a new pulumi-policy renames what they rely on: then the packs convert per policy again."""
    monkeypatch.delenv("PTC_PACK_SPEEDUPS", raising=False)
    assert speedups.install() is True
    assert _load("conventions").install() is True  # a second copy in the same process wraps nothing twice
    analyze = sdk._PolicyAnalyzerServicer.Analyze
    assert getattr(analyze, "__speedups__", False)
    assert not getattr(analyze.__wrapped__, "__speedups__", False)
    assert not getattr(sdk.signature.__wrapped__, "__speedups__", False)
    assert not getattr(sdk.json_format.json_format, "__speedups__", False)


def test_they_can_be_left_out(monkeypatch):
    monkeypatch.setenv("PTC_PACK_SPEEDUPS", "0")
    assert speedups.install() is False


def plain(value):
    """What a policy was given, without the SDK's proxies (read through them, unknowns included)."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def alter(value) -> None:
    """Change every container a policy was given, as far down as it goes."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    children = list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list) else []
    for child in children:
        alter(child)
    if isinstance(value, dict):
        value["altered"] = True
    elif isinstance(value, list):
        value.append("altered")


class Recorder:
    """A pack of resource and stack policies that record what each was given; the first of each kind alters
    the values it got, which no later policy may see."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict]] = []
        policies = [self._resource(i) for i in range(3)] + [self._stack(i) for i in range(2)]
        self.servicer = sdk._PolicyAnalyzerServicer(
            "recorder", "0.0.1", policies, EnforcementLevel.MANDATORY, None, None, None, None, None, None, None
        )

    def _resource(self, index: int):
        def validate(args, report):
            self.seen.append((f"resource-{index}", plain(args.props)))
            if index == 0:
                alter(args.props)

        return ResourceValidationPolicy(f"resource-{index}", "records", validate)

    def _stack(self, index: int):
        def validate(args, report):
            for resource in args.resources:
                self.seen.append((f"stack-{index}", plain(resource.props)))
                if index == 0:
                    alter(resource.props)

        return StackValidationPolicy(f"stack-{index}", "records", validate)


class CountingJsonFormat:
    """The real `json_format`, counting conversions per message."""

    def __init__(self) -> None:
        self.calls: dict[int, int] = {}
        self.MessageToDict = self._count  # noqa: N815 - the SDK's name

    def _count(self, message, *args, **kwargs):
        self.calls[id(message)] = self.calls.get(id(message), 0) + 1
        return json_format.MessageToDict(message, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(json_format, name)


def _struct(value: dict) -> struct_pb2.Struct:
    properties = struct_pb2.Struct()
    properties.update(value)
    return properties


objects = st.dictionaries(st.text(max_size=8), json_value, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resources=st.lists(objects, min_size=1, max_size=5))
def test_every_policy_sees_the_sdks_own_values_converted_once_per_call(monkeypatch, resources):
    monkeypatch.delenv("PTC_PACK_SPEEDUPS", raising=False)
    assert speedups.install()
    counting = CountingJsonFormat()
    monkeypatch.setattr(sdk.json_format, "json_format", counting)
    recorder = Recorder()
    structs = [_struct(r) for r in resources]
    expected = [deserialize_properties(json_format.MessageToDict(s)) for s in structs]

    for properties, want in zip(structs, expected, strict=True):
        recorder.seen.clear()
        counting.calls.clear()
        request = analyzer_pb2.AnalyzeRequest(type="x:y:Z", properties=properties, urn="urn:x", name="x")
        recorder.servicer.Analyze(request, None)
        assert recorder.seen == [(f"resource-{i}", want) for i in range(3)]
        assert list(counting.calls.values()) == [1]

    recorder.seen.clear()
    counting.calls.clear()
    stack = analyzer_pb2.AnalyzeStackRequest(
        resources=[
            analyzer_pb2.AnalyzerResource(type="x:y:Z", properties=s, urn=f"urn:x{i}", name=f"x{i}")
            for i, s in enumerate(structs)
        ]
    )
    recorder.servicer.AnalyzeStack(stack, None)
    assert recorder.seen == [(f"stack-{i}", want) for i in range(2) for want in expected]
    assert sorted(counting.calls.values()) == [1] * len(structs)
    assert getattr(speedups._memo, "current", None) is None  # dropped when the call returned


def test_the_memo_belongs_to_its_thread_and_call(monkeypatch):
    """The SDK's server answers from four threads: a call never sees another's memo, and none outlives its call."""
    monkeypatch.delenv("PTC_PACK_SPEEDUPS", raising=False)
    assert speedups.install()
    recorder = Recorder()
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def analyze(index: int) -> None:
        try:
            barrier.wait()
            for round_ in range(50):
                value = {"who": f"{index}-{round_}", "list": [index, round_]}
                request = analyzer_pb2.AnalyzeRequest(type="x:y:Z", properties=_struct(value), urn="u", name="n")
                recorder.servicer.Analyze(request, None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=analyze, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    by_policy: dict[str, list[str]] = {}
    for policy, value in recorder.seen:
        by_policy.setdefault(policy, []).append(value["who"])
    # every policy saw every call's own value once, whatever thread ran it
    assert len({tuple(sorted(v)) for v in by_policy.values()}) == 1
    assert len(by_policy["resource-0"]) == 200


def test_configure_is_never_memoized(monkeypatch):
    """The SDK keeps what `Configure` converts: two configurations never share a dictionary."""
    monkeypatch.delenv("PTC_PACK_SPEEDUPS", raising=False)
    assert speedups.install()
    recorder = Recorder()
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name in ("resource-0", "resource-1"):
        request.policyConfig[name].CopyFrom(analyzer_pb2.PolicyConfig(properties=_struct({"allowed": ["a"]})))
    recorder.servicer.Configure(request, None)
    first = recorder.servicer._get_policy_config("resource-0")
    second = recorder.servicer._get_policy_config("resource-1")
    assert first == second == {"allowed": ["a"]}
    assert first["allowed"] is not second["allowed"]


@pytest.fixture(scope="module")
def both_ways():
    """The packs as they run (speedups in), and the packs as the SDK wrote them (`PTC_PACK_SPEEDUPS=0`)."""
    config = make_stack_config("ecr-pull-through-cache", "dev", {"aws:region": "us-east-2", "environment": "dev"})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PTC_PACK_SPEEDUPS", "0")
        plain = PolicyPacks(pack_dirs(ROOT), config, dry_run=True)
    faster = PolicyPacks(pack_dirs(ROOT), config, dry_run=True)
    with plain, faster:
        yield plain, faster


@pytest.mark.e2e
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(specs=hostile_specs())
def test_the_packs_answer_the_same_with_and_without_them(both_ways, specs):
    plain, faster = both_ways
    resources = build(_json_safe(specs))

    def answers(packs):
        return sorted((v["pack"], v["policy"], v["urn"] or "", v["message"]) for v in packs.run(resources).violations)

    assert answers(faster) == answers(plain)
