"""Property values as the engine sends them to a provider that accepts secrets.

The engine encodes a property value as a protobuf `Struct`; unknown values (during preview) are the string
`UNKNOWN` and secrets are objects `{SIG: SECRET_SIG, "value": ...}` (pulumi's sdk/go/common/resource/plugin/rpc.go,
MarshalPropertyValue; the Python SDK's `pulumi.runtime.rpc` uses the same constants).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format, struct_pb2

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def from_struct(message: struct_pb2.Struct) -> dict[str, Any]:
    """A `Struct` as plain Python values (numbers come back as floats, as protobuf has only doubles)."""
    return json_format.MessageToDict(message) if message is not None else {}


def to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(_jsonable(values))
    return message


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG) == SECRET_SIG


def secret(value: Any) -> dict[str, Any]:
    return value if is_secret(value) else {SIG: SECRET_SIG, "value": value}


def reveal(value: Any) -> Any:
    """The value with every secret unwrapped (what the provider sends to AWS)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def has_unknown(value: Any) -> bool:
    if value == UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def integer(value: Any) -> int | None:
    """A number the engine sent as a double, as the integer AWS expects."""
    value = reveal(value)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)
