"""What `pulumi_policy` redoes for every policy of every call, done once: the pack's answers are unchanged.

Each pack carries its own copy of this file (a pack is published alone); a test keeps the copies identical.

`pulumi_policy` 1.21 converts a resource's properties from protobuf to Python (`json_format.MessageToDict`, in pure
Python, then `deserialize_properties`) once per policy: an `Analyze` converts the same properties once for each
resource policy of the pack (8 in the security pack, 4 in the conventions pack), and an `AnalyzeStack` every
resource once for each stack policy (5 and 2). Each call also inspects the signature of `pulumi.runtime.Settings`
afresh. Measured on 2 cores, 1,000 synthetic resources: the security pack's own work per `Analyze` (its servicer
called in-process) 0.35 -> 0.10 ms, the conventions pack's 0.14 -> 0.11 ms; over gRPC, as `ptc` calls them, 0.90
-> 0.73 and 0.78 -> 0.62 ms per resource (benchmarks/RESULTS.md keeps the recorded figures).

`install()` changes two things, and nothing the policies see:
- Within one `Analyze`, `AnalyzeStack` or `Remediate` call, `MessageToDict` of a message that call has already
  converted returns the dictionary it made then. That result only ever goes to `deserialize_properties`, which
  copies every dictionary and list it is given, so each policy still gets values of its own; the memo is dropped
  when the call returns. `Configure`, whose result the SDK keeps, is never memoized.
- `signature(pulumi.runtime.Settings)` is inspected once per process (a class's signature does not change).

Should the SDK rename what this relies on, `install()` changes nothing and returns False: the pack runs as the SDK
wrote it (a test fails on it, so the pin is raised knowingly). `PTC_PACK_SPEEDUPS=0` in the pack's environment
leaves the SDK as it is, to compare.
"""

import functools
import os
import threading
from typing import Any

METHODS = ("Analyze", "AnalyzeStack", "Remediate")
_memo = threading.local()


class _ConvertOnce:
    """`json_format` as `pulumi_policy.policy` sees it: `MessageToDict` memoized within a call, the rest as is."""

    __speedups__ = True

    def __init__(self, json_format: Any):
        self.json_format = json_format

    def __getattr__(self, name: str) -> Any:
        return getattr(self.json_format, name)

    def MessageToDict(self, message: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802 - the SDK's name
        memo = getattr(_memo, "current", None)
        if memo is None or args or kwargs:
            return self.json_format.MessageToDict(message, *args, **kwargs)
        # Keyed by identity: the message belongs to the call's request and is held here too, so no other object
        # can take its id while the memo lasts.
        found = memo.get(id(message))
        if found is None:
            found = memo[id(message)] = (message, self.json_format.MessageToDict(message))
        return found[1]


def _memoized(method: Any) -> Any:
    @functools.wraps(method)
    def call(self: Any, request: Any, context: Any) -> Any:
        outer = getattr(_memo, "current", None)
        _memo.current = {}
        try:
            return method(self, request, context)
        finally:
            _memo.current = outer

    call.__speedups__ = True  # type: ignore[attr-defined]
    return call


def _signature_once(signature: Any) -> Any:
    known: dict[Any, Any] = {}

    @functools.wraps(signature)
    def cached(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not isinstance(obj, type):
            return signature(obj, *args, **kwargs)
        if obj not in known:
            known[obj] = signature(obj)
        return known[obj]

    cached.__speedups__ = True  # type: ignore[attr-defined]
    return cached


def install() -> bool:
    """Put both in place in this process's `pulumi_policy` (again is a no-op); True when they are."""
    if os.environ.get("PTC_PACK_SPEEDUPS") == "0":
        return False
    try:
        from pulumi_policy import policy
    except ImportError:
        return False
    servicer = getattr(policy, "_PolicyAnalyzerServicer", None)
    json_format = getattr(policy, "json_format", None)
    signature = getattr(policy, "signature", None)
    if (
        servicer is None
        or not callable(getattr(json_format, "MessageToDict", None))
        or not callable(signature)
        or not all(callable(getattr(servicer, m, None)) for m in METHODS)
    ):
        return False
    if not getattr(json_format, "__speedups__", False):  # by mark, not class: another copy may have installed it
        policy.json_format = _ConvertOnce(json_format)
    if not getattr(signature, "__speedups__", False):
        policy.signature = _signature_once(signature)
    for name in METHODS:
        method = getattr(servicer, name)
        if not getattr(method, "__speedups__", False):
            setattr(servicer, name, _memoized(method))
    return True
