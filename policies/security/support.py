"""Reading raw resource properties safely: unknown values during preview are never passed over silently."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ptc_policy_support.reading import get, has, label
from ptc_policy_support.unknowns import DeferredChecks, Unknowns
from pulumi_policy.proxy import _DictProxy, _ListProxy

__all__ = ["DeferredChecks", "Unknowns", "get", "has", "label"]  # shared (policies/pack-support): imported from here


def shown(value: Any, limit: int = 80) -> str:
    """A property value as a message quotes it: a string as it is, anything else as compact JSON (the SDK's
    proxies read through), cut at `limit` characters. Never a Python repr such as `<..._ListProxy object at
    0x7f...>`: a message names what the stack holds, and says the same on every run.

    As the user wrote it: a whole number arrives as a float (protobuf's Struct has only doubles) and is shown
    as an integer (`999988887777`, not `999988887777.0`); a string with characters a reader cannot see or tell
    apart (a trailing newline, a zero-width space, a full-width letter) is shown escaped, with a note, so the
    fix is visible."""
    value = _plain(value)
    if isinstance(value, str):
        text = value if value.isascii() and value.isprintable() else _escaped(value)
    else:
        text = json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _escaped(text: str) -> str:
    escaped = text.encode("unicode_escape").decode("ascii")
    return f"{escaped} (written with invisible or non-ASCII characters, shown escaped)"


def _plain(value: Any) -> Any:
    """Read through the SDK's proxies without raising for what is unknown (shown as the SDK's sentinel)."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def policy_document(value: Any) -> dict | None:
    """A policy given as JSON text or as an object; None when it cannot be read."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return dict(value) if isinstance(value, Mapping) else None


def known_items(value: Any, unknowns: "Unknowns", what: str) -> list:
    """The elements of a list (or a lone value) that are known; each unknown one is deferred on its own, so a known
    `"*"` beside an unknown principal is still judged."""
    return [item for _, item in known_indexed(value, unknowns, what)]


def known_indexed(value: Any, unknowns: "Unknowns", what: str) -> list[tuple[int, Any]]:
    """(position, element) for each known element, positions as written (for messages: "statement 1")."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        known = []
        for index in range(len(value)):
            with unknowns.guard(what):
                known.append((index, value[index]))
        return known
    return list(enumerate(as_list(value)))


def as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]
