"""Read YAML the way the Pulumi CLI reads stack files, and refuse what would hurt on the way.

Pulumi reads `Pulumi.yaml` and `Pulumi.<stack>.yaml` with Go's yaml.v3, whose plain scalars follow neither YAML 1.1
nor the 1.2 core schema: `yes` and `on` are text, `0777` is octal, `1_000` is 1000, `2026-12-02` is a timestamp
(which Pulumi's config turns into Go's text of it), and a duplicate key is an error. PyYAML speaks YAML 1.1, so
this loader resolves plain scalars by yaml.v3's own rules (`resolve`, held to yaml.v3 itself by tests/go_oracle)
and refuses duplicate keys. It also refuses, with a message that names the file and the place:

- text that is not UTF-8 (the byte offset named), and files over `MAX_BYTES`;
- alias expansions past `MAX_ALIASES` and nesting past `MAX_DEPTH` (a 521-byte "billion laughs" would
  otherwise take minutes and gigabytes), and documents past `MAX_NODES` nodes;
- tags with no place in config (`!!binary`, `!!set`, `!!timestamp`, `!!omap`, `!!pairs`, `!!python/...`) and
  keys that are not strings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:  # libyaml scans and parses in C, 5-10x PyYAML's pure-Python scanner; the bounded composer stays in Python
    from yaml._yaml import CParser as _EventSource
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _EventSource(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


MAX_BYTES = 128 * 1024
"""A stack config past 128 KiB is refused: the engine hands a policy pack the whole config in one environment
variable, and Linux caps one at 128 KiB (MAX_ARG_STRLEN)."""
MAX_ALIASES = 100
MAX_DEPTH = 64
MAX_NODES = 100_000


MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlError(ValueError):
    """The YAML cannot be read as config; the message names the file and the place."""


class _Loader(Composer, SafeConstructor, Resolver, _EventSource):
    """SafeLoader's parts with yaml.v3's scalars and bounded composition.

    Events come from libyaml when PyYAML has it. Composer comes first in the bases: libyaml's parser has a
    composer of its own, in C, that would skip the bounds below; here every node is composed in Python.
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}

    def __init__(self, stream: str) -> None:
        _EventSource.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._aliases = 0
        self._nodes = 0
        self._depth = 0

    def _line(self) -> int:
        event = self.peek_event()
        mark = event.start_mark if event is not None else None
        return mark.line + 1 if mark is not None else 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlError(
                    f"line {self._line()}: more than {MAX_ALIASES} aliases (*name); a config needs none "
                    "or few: write the values out"
                )
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise YamlError(f"more than {MAX_NODES} values: not a stack config")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(f"line {self._line()}: nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping as yaml.v3 builds one: merge keys (`<<: *base`, `<<: [*a, *b]`) applied, the earlier of several
        merged mappings winning and the mapping's own keys over all of them; a key written twice is an error."""
        if not isinstance(node, MappingNode):
            raise ConstructorError(None, None, f"expected a mapping, but found {node.id}", node.start_mark)
        merged: dict[Any, Any] = {}
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        raise YamlError(f"line {line}: << merges a mapping or a list of mappings, not a {source.id}")
                    # From the node, not the object made for its anchor: that mapping may still be empty, its
                    # filling deferred until the document's top level is built (`<<: *base` at the top level).
                    for key, value in self.construct_mapping(source, deep=True).items():
                        merged.setdefault(key, value)
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise YamlError(f"line {line}: the key {key!r} is not text; config keys are strings (quote it)")
            if key in mapping:
                raise YamlError(f"line {line}: the key '{key}' appears twice in one mapping; keep one")
            mapping[key] = self.construct_object(value_node, deep=deep)
        return {**merged, **mapping} if merged else mapping


# Plain scalars resolved as yaml.v3 resolves them (gopkg.in/yaml.v3 v3.0.1, resolve.go `resolve`), which is neither
# YAML 1.1 nor the 1.2 core schema: `0777` is octal (Go's ParseInt, base 0), `1_000` is 1000, `0b101` is 5, `08` is
# the float 8, `yes` and `on` are text, and `2026-12-02` a timestamp, which Pulumi's config keeps as Go prints one
# (sdk/go/common/resource/config/object.go, `v.String()`: "2026-12-02 00:00:00 +0000 UTC"). tests/go_oracle holds
# every rule here to yaml.v3 itself.
V3_TAG = "tag:ptc,2026:yaml.v3-plain"
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(V3_TAG, re.compile(r"(?s)^.+$"), list("-+.0123456789"))


_Loader.add_implicit_resolver(MERGE_TAG, re.compile(r"^<<$"), ["<"])

RESOLVE_MAP: dict[str, Any] = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_INT = re.compile(
    r"(?P<sign>[-+]?)(?:0[xX](?P<hex>[0-9a-fA-F]+)|0[bB](?P<bin>[01]+)|0[oO](?P<oct>[0-7]+)"
    r"|(?P<zero>0[0-7]*)|(?P<dec>[1-9][0-9]*))"
)
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:\.(?P<frac>[0-9]+))?"
    r"(?P<zone>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)
INT64, UINT64 = range(-(2**63), 2**63), range(2**64)
MAX_INT_DIGITS = 4000
"""Below Python's 4,300-digit limit on int(): past it, a config fault rather than Python's ValueError."""


def _parse_int(text: str, unsigned: bool) -> int | None:
    """strconv.ParseInt(text, 0, 64) (or ParseUint): Go's integer literal syntax, in range, else None."""
    match = _GO_INT.fullmatch(text)
    if match is None or (unsigned and match["sign"]):
        return None
    for group, base in (("hex", 16), ("bin", 2), ("oct", 8), ("zero", 8), ("dec", 10)):
        if match[group] is not None:
            value = int(match[group], base) * (-1 if match["sign"] == "-" else 1)
            return value if value in (UINT64 if unsigned else INT64) else None
    return None


def _parse_float(text: str) -> float | None:
    """strconv.ParseFloat of a decimal float: None where Go refuses it, out of range (`1e400`) included."""
    value = float(text)
    return None if math.isinf(value) else value


def go_time_text(match: re.Match[str]) -> str | None:
    """time.Parse of yaml.v3's timestamp layouts, printed as Go's time.Time.String() does; None where Parse fails."""
    import calendar

    year, month, day = int(match["y"]), int(match["m"]), int(match["d"])
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    if match["sep"] is None:
        return f"{year:04d}-{month:02d}-{day:02d} 00:00:00 +0000 UTC"
    hour, minute, second = int(match["H"]), int(match["M"]), int(match["S"])
    zone = match["zone"]
    if hour > 23 or minute > 59 or second > 59 or (match["sep"] == " ") == (zone is not None):
        return None  # the spaced layout has no zone, the T layouts must have one
    if zone is not None and zone != "Z" and (int(zone[1:3]) > 23 or int(zone[4:]) > 59):
        return None
    fraction = (match["frac"] or "")[:9].rstrip("0")
    clock = f"{hour:02d}:{minute:02d}:{second:02d}" + (f".{fraction}" if fraction else "")
    if zone is None or zone == "Z" or zone in ("+00:00", "-00:00"):
        name = "+0000 UTC"  # Go names an offset of zero in UTC's location (Pulumi runs on UTC machines)
    else:
        offset = zone.replace(":", "")
        name = f"{offset} {offset}"
    return f"{year:04d}-{month:02d}-{day:02d} {clock} {name}"


def resolve(text: str, tag: str = "") -> Any:
    """yaml.v3's `resolve` for a plain scalar: the value it decodes into an interface{}, a timestamp as the text
    Pulumi's config makes of it."""
    if text in RESOLVE_MAP:
        return RESOLVE_MAP[text]
    if text.startswith("."):
        return _parse_float(text) if YAML_STYLE_FLOAT.fullmatch(text) else text
    if tag in ("", "timestamp"):
        match = _TIMESTAMP.fullmatch(text)
        shown = go_time_text(match) if match else None
        if shown is not None:
            return shown
    plain = text.replace("_", "")
    if len(plain) > MAX_INT_DIGITS:
        return text
    for unsigned in (False, True):
        value = _parse_int(plain, unsigned)
        if value is not None:
            return value
    if YAML_STYLE_FLOAT.fullmatch(plain):
        number = _parse_float(plain)
        if number is not None:
            return number
    return text


def _plain(loader: _Loader, node: ScalarNode) -> Any:
    text = loader.construct_scalar(node)
    if isinstance(text, str) and len(text) > MAX_INT_DIGITS and text.lstrip("-+").isdigit():
        raise YamlError(f"line {node.start_mark.line + 1}: a number of {len(text)} digits is no config value")
    return resolve(text) if isinstance(text, str) else text


def _cannot(node: Node, tag: str) -> YamlError:
    text = str(node.value) if isinstance(node, ScalarNode) else type(node).__name__.removesuffix("Node").lower()
    shown = text if len(text) <= 40 else text[:40] + "..."
    return YamlError(f"line {node.start_mark.line + 1}: cannot read {shown!r} as !!{tag} (yaml.v3 refuses it too)")


def _tagged(tag: str, accepts: Any) -> Any:
    """An explicit tag, as yaml.v3 takes one: the scalar resolved as if plain, kept when it resolved to the tag's
    type (an int is a !!float too), refused otherwise (`!!int abc`: "cannot decode")."""

    def construct(loader: _Loader, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            raise _cannot(node, tag)
        text = loader.construct_scalar(node)
        if len(text) > MAX_INT_DIGITS and text.lstrip("-+").isdigit():
            raise YamlError(f"line {node.start_mark.line + 1}: a number of {len(text)} digits is no config value")
        value = resolve(text, tag)
        if not accepts(value, text):
            raise _cannot(node, tag)
        return float(value) if tag == "float" else value

    return construct


_Loader.add_constructor(V3_TAG, _plain)  # type: ignore[type-var]
_Loader.add_constructor(
    "tag:yaml.org,2002:int", _tagged("int", lambda v, t: isinstance(v, int) and not isinstance(v, bool))
)
_Loader.add_constructor(
    "tag:yaml.org,2002:float",
    _tagged("float", lambda v, t: isinstance(v, (int, float)) and not isinstance(v, bool)),
)
_Loader.add_constructor("tag:yaml.org,2002:bool", _tagged("bool", lambda v, t: isinstance(v, bool)))
_Loader.add_constructor(
    "tag:yaml.org,2002:timestamp", _tagged("timestamp", lambda v, t: bool(_TIMESTAMP.fullmatch(t)) and v != t)
)
_Loader.add_constructor("tag:yaml.org,2002:null", _tagged("null", lambda v, t: v is None))
for _tag in ("binary", "set", "omap", "pairs"):

    def _refuse(loader: _Loader, node: Node, tag: str = _tag) -> Any:
        raise YamlError(
            f"line {node.start_mark.line + 1}: !!{tag} values have no place in config; write text, "
            "numbers, true/false, lists and mappings"
        )

    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _refuse)  # type: ignore[type-var]


def _unknown_tag(loader: _Loader, suffix: str, node: Node) -> Any:
    raise YamlError(f"line {node.start_mark.line + 1}: the tag !{suffix} is not allowed in config")


_Loader.add_multi_constructor("!", _unknown_tag)
_Loader.add_multi_constructor("tag:", _unknown_tag)


def _expanded_size(document: Any) -> None:
    """Aliases share objects, so a few bytes can stand for billions of values once serialized: count every value
    as it would be written out, and stop past `MAX_NODES`."""
    count = 0
    stack = [document]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise YamlError(f"expands to more than {MAX_NODES} values through aliases (*name): write the values out")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def loads(text: str, where: str = "<text>") -> Any:
    """Parse one YAML (or JSON) document as config."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlError(
            f"{where} is over {MAX_BYTES // 1024} KiB; a stack config that large cannot be handed to "
            "policy packs: split the stack"
        )
    try:
        loader = _Loader(text)  # as yaml.load(text, Loader=_Loader) does
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
        _expanded_size(document)
        return document
    except YamlError as exc:
        raise YamlError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlError(f"{where} is not valid YAML{place}: {problem}") from None
    except RecursionError:
        raise YamlError(f"{where}: nested too deeply") from None


def load_file(path: Path) -> Any:
    """Parse a config file: a regular file of at most `MAX_BYTES`, UTF-8 (or UTF-16 with its byte order mark, as
    yaml.v3 reads it)."""
    from .files import FileRefused, decode_text, read_limited

    try:
        data = read_limited(path, MAX_BYTES, "the config file")
        text = decode_text(data, path, "the config file")
    except FileRefused as exc:
        message = str(exc)
        if "over the" in message:
            message += (
                " (the engine hands a stack's config to policy packs in one environment variable): split the stack"
            )
        raise YamlError(message) from None
    return loads(text, str(path))


def stack_dir(project_dir: Path) -> Path:
    """Where a project's stack files live: `stackConfigDir` of its Pulumi.yaml (relative to the project), else the
    project itself (pkg/workspace/project.go, DetectProjectStackPath)."""
    try:
        document = load_file(project_dir / "Pulumi.yaml")
    except YamlError:
        document = None
    configured = document.get("stackConfigDir") if isinstance(document, dict) else None
    if configured is None and isinstance(document, dict):  # the old spelling (loaders.go, RewriteConfigPath...)
        configured = document.get("config")
    return project_dir / configured if isinstance(configured, str) and configured else project_dir


def is_secure_value(value: Any) -> bool:
    """A stack file's secret as the Pulumi CLI reads one (sdk/go/common/resource/config/object.go, isSecureValue):
    a mapping of the one key `secure` to text. Any other mapping, `{secure: 5}` included, is plain config."""
    return isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("secure"), str)
