"""The building blocks of the typed config model (pydantic v2): field types that refuse with the project's own
messages, and `Section`, the base of every mapping in the config.

Why a base class beside pydantic's own model validation: pydantic runs a model's cross-field validators only once
every field has validated, so a config with one mistyped field would show its other faults only in a second round.
`Section.parse` validates each field with the model's own field type (`parser_of`: a nested section by its own
`parse`, a leaf by a `TypeAdapter` built once), keeps the default of a field that failed, and then runs the model's
cross-field rules (`settle`) over what it has, so every fault of a mapping is reported at once. Everything else
(types, constraints, defaults, JSON Schema) is pydantic's.

A fault inside a validator is raised with `refuse` (one or more messages, each at a location relative to the value
being validated); the locations are prefixed as validation unwinds, `errors_of` reads them back, and
`config.py` names them for the user (`Fault`).
"""

from __future__ import annotations

import difflib
import json
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, NoReturn, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

Loc = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------
# Faults raised in validators, and read back
# --------------------------------------------------------------------------------------------


def _detail(loc: Loc, message: str, value: Any) -> InitErrorDetails:
    # The message travels in the context: pydantic formats `message_template` with it, and a message may hold braces.
    return InitErrorDetails(type=PydanticCustomError("config", "{message}", {"message": message}), loc=loc, input=value)


def refuse(value: Any, *faults: str | tuple[Loc, str]) -> NoReturn:
    """Raise the faults of `value` (each a message at `value` itself, or `(loc, message)` below it)."""
    details = [_detail((), f, value) if isinstance(f, str) else _detail(f[0], f[1], value) for f in faults]
    raise ValidationError.from_exception_data("config", details)


def message_of(error: Mapping[str, Any]) -> str:
    """The project's message of one pydantic error: our own, or pydantic's for the few types we do not word."""
    if error["type"] == "config":
        return str(error["ctx"]["message"])
    if error["type"] in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping, not {show(error['input'])}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]} (not {show(error['input'])})"


def errors_of(exc: ValidationError) -> list[tuple[Loc, str]]:
    return [(tuple(e["loc"]), message_of(e)) for e in exc.errors(include_url=False)]


def field_path(loc: Loc) -> str:
    """`template.resource_tags.team`, `[0]`, `token.group`: a location as the messages name it."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


class SecretValue:
    """A token read from config; never shows itself in repr, str or logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SecretValue('[secret]')"

    __str__ = __repr__


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def did_you_mean(word: Any, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely misspells: equal once case, `-` and `_` are ignored (`dockerhub`, `Docker_Hub`
    for `docker-hub`), else difflib's closest at its default cutoff (`usename` for `username`)."""
    if not isinstance(word, str) or not word:
        return None
    choices = list(choices)

    def squash(text: str) -> str:
        return text.lower().replace("-", "").replace("_", "")

    for choice in choices:
        if squash(choice) == squash(word):
            return choice
    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None


def choice_fault(value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    meant = did_you_mean(value, choices)
    hint = f"; did you mean '{meant}'?" if meant else ""
    return f"{show(value)} is not one of {', '.join(choices)}{hint}"


# --------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Written:
    """Field metadata: the JSON Schema of what a stack file may write for the field, where it takes more than its
    type (text for a number, as `pulumi config set` stores it; a mapping for a policy given as JSON text). Kept as
    JSON text, so the annotation stays hashable."""

    schema: str

    @classmethod
    def of(cls, **schema: Any) -> Written:
        return cls(json.dumps(schema, sort_keys=True))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        found: JsonSchemaValue = json.loads(self.schema)
        return found


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        refuse(value, f"must be a non-empty string, not {show(value)}")
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    refuse(value, f"must be true or false, not {show(value)}")


def _text_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        refuse(value, f"must be a list of non-empty strings, not {show(value)}")
    return tuple(value)


Text = Annotated[str, BeforeValidator(_text)]
"""A non-empty string."""
Flag = Annotated[bool, BeforeValidator(_flag), Written.of(anyOf=[{"type": "boolean"}, {"enum": ["true", "false"]}])]
"""true or false (the runtime's config may hand them over as text)."""
TextList = Annotated[tuple[str, ...], BeforeValidator(_text_list)]
"""A list of non-empty strings."""


@dataclass(frozen=True)
class Whole:
    """Field metadata: a whole number from `low` to `high`; text of ASCII digits counts (the runtime's config is
    text). `Annotated[int, Whole(1, 30)]`."""

    low: int
    high: int

    def check(self, value: Any) -> int:
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip(), re.ASCII):
            value = int(value)  # ASCII digits only: "²".isdigit() is true, int("²") is not
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            refuse(value, f"must be a whole number from {self.low} to {self.high}, not {show(value)}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        number = {"type": "integer", "minimum": self.low, "maximum": self.high}
        return {"anyOf": [number, {"type": "string", "pattern": r"^\s*-?[0-9]+\s*$"}]}


@dataclass(frozen=True)
class SchemaOf:
    """Field metadata: document the field in the JSON Schema as `model` is documented, made only when asked for."""

    model: Any
    title: str

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**self.model.model_json_schema(), "title": self.title}


class Choice:
    """Field metadata: one of `values`, with "did you mean" for a near miss. `Annotated[str, Choice("A", "B")]`."""

    def __init__(self, *values: str):
        self.values = values

    def check(self, value: Any) -> str:
        if value not in self.values:
            refuse(value, choice_fault(value, self.values))
        return str(value)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "enum": list(self.values)}


def check(*checks: Callable[[Any], str | list[str] | None]) -> AfterValidator:
    """Field metadata: the value, once its type has validated, further checked; each check returns the fault(s) of
    a value, or None. `Annotated[Text, check(arn_fault)]`."""

    def run(value: Any) -> Any:
        faults: list[str] = []
        for one in checks:
            found = one(value)
            faults.extend([found] if isinstance(found, str) else found or [])
        if faults:
            refuse(value, *faults)
        return value

    return AfterValidator(run)


# --------------------------------------------------------------------------------------------
# Sections: every mapping of the config
# --------------------------------------------------------------------------------------------


def unknown_key_faults(data: Mapping[str, Any], known: tuple[str, ...]) -> tuple[list[tuple[Loc, str]], set[str]]:
    """A fault per key of `data` not in `known` ("did you mean" among the known keys not given), and the keys meant."""
    faults: list[tuple[Loc, str]] = []
    meant_keys: set[str] = set()
    for key in data:
        if key in known:
            continue
        meant = did_you_mean(key, (k for k in known if k not in data))
        if meant is not None:
            meant_keys.add(meant)
        hint = f"did you mean '{meant}'? (keys: " if meant else "use one of "
        faults.append(((str(key),), f"is not a known key; {hint}{', '.join(known)}{')' if meant else ''}"))
    return faults, meant_keys


Parse = Callable[[Any, dict[str, Any]], Any]
"""A validator called directly: `(value, context) -> value`, raising `ValidationError`."""


@dataclass(frozen=True)
class Parser:
    """Field metadata: validate the field with `parse(value, context)` (a union's dispatch, say). pydantic calls it
    as a wrap validator; `Section` calls it directly, with no schema built for it."""

    parse: Parse

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_wrap_validator_function(
            lambda value, _handler, info: self.parse(value, info.context or {}), handler(source)
        )


def _nullable(schema: dict[str, Any], model: Any = None) -> None:
    """The JSON Schema of a section: every optional key may be null, read as absent (`key:` with no value in YAML),
    as `Section.parse` reads it."""
    for name, prop in schema.get("properties", {}).items():
        variants = prop.get("anyOf", [prop])
        if name in schema.get("required", ()) or any(v.get("type") == "null" for v in variants):
            continue
        notes = {k: prop[k] for k in ("title", "description", "default") if k in prop}
        bare = {k: v for k, v in prop.items() if k not in notes}
        schema["properties"][name] = {"anyOf": [*bare.get("anyOf", [bare]), {"type": "null"}], **notes}


_PARSERS: dict[Any, Parse] = {}


def parser_of(annotation: Any) -> Parse:
    """`_parser_of`, once per annotation (or every time for one that cannot be a key)."""
    try:
        return _PARSERS[annotation]
    except KeyError:
        _PARSERS[annotation] = found = _parser_of(annotation)
        return found
    except TypeError:
        return _parser_of(annotation)


def _parser_of(annotation: Any) -> Parse:
    """How a value of `annotation` validates: a `Section` (or an optional one) by its own `parse`, a `Parser` field by
    its function, anything else by a `TypeAdapter`, built once per annotation.

    Sections and their unions never build a pydantic schema for validation (a schema per model and kind costs
    more than the whole config's validation; see benchmarks/LAYERS.md): only the JSON Schema builds them."""
    target = annotation
    if get_origin(target) is Union or isinstance(target, types.UnionType):
        options = [a for a in get_args(target) if a is not type(None)]
        target = options[0] if len(options) == 1 else target
    if isinstance(target, type) and issubclass(target, Section):
        return target.parse
    for meta in get_args(annotation)[1:] if get_origin(annotation) is Annotated else ():
        if isinstance(meta, Parser):
            return meta.parse
    adapter = TypeAdapter(annotation)
    return lambda value, context: adapter.validate_python(value, context=context)


class Section(BaseModel):
    """A mapping of the config: known keys only, every field's faults and every cross-field fault at once.

    Subclasses declare their fields (types from this module) and may override `settle`, which checks the rules
    across fields and returns the settled model (defaults that depend on other fields or on the validation
    context filled in). `settle` runs even when a field failed (its default is in place, its name in `failed`).
    """

    # `extra="forbid"` shapes the JSON Schema (additionalProperties: false); the keys themselves are checked here.
    # `defer_build`: validation goes through `parse`, so a model builds its pydantic schema only for the JSON Schema.
    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True, json_schema_extra=_nullable
    )

    itemwise: ClassVar[dict[str, str]] = {}
    """List fields whose items validate one by one, a bad item not costing the good ones (`items_of`), each with
    what the list holds (for the message when it is not a list)."""

    _failed: frozenset[str] = frozenset()
    _given: frozenset[str] = frozenset()
    _items: dict[str, tuple[tuple[int, Any], ...]] = {}
    _data: Mapping[str, Any] = {}
    _errors: tuple[tuple[Loc, str], ...] = ()

    closed: ClassVar[bool] = True
    """Whether a key the model does not know is a fault (the stack's own keys are checked where they are read)."""

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    @classmethod
    def parser(cls, name: str) -> Parse:
        """The validator of field `name` (of one item, for an itemwise field)."""
        info = cls.model_fields[name]
        annotation: Any = info.annotation
        if name in cls.itemwise:
            annotation = get_args(annotation)[0]  # tuple[X, ...] -> X
        return parser_of(Annotated[annotation, *info.metadata] if info.metadata else annotation)

    @classmethod
    def default(cls) -> Any:
        """The model with every default (settled: through validation, not `__init__`, which may not settle)."""
        return cls.parse({})

    def failed(self, name: str) -> bool:
        """Whether field `name` was given but refused (its default is in place)."""
        return name in self._failed

    def given(self, name: str) -> bool:
        """Whether field `name` was given (not absent, not null)."""
        return name in self._given

    def items_of(self, name: str) -> tuple[tuple[int, Any], ...]:
        """An itemwise field's valid items with their indexes in the list given."""
        return self._items.get(name, ())

    def raw(self, name: str) -> Any:
        """Field `name` as given, before validation (None when absent)."""
        return self._data.get(name)

    def faults_of(self, name: str) -> tuple[tuple[Loc, str], ...]:
        """The faults field `name` drew, at locations inside it."""
        return tuple((loc[1:], m) for loc, m in self._errors if loc[:1] == (name,))

    def settle(self, context: dict[str, Any], fault: Callable[[Loc, str], None]) -> Section:
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _every_fault_at_once(cls, data: Any, handler: Any, info: Any) -> Any:
        """pydantic's own entry (`model_validate`, a `TypeAdapter` of a model holding this one) leads to `parse`."""
        return cls.parse(data, info.context or {})

    @classmethod
    def parse(cls, data: Any, context: dict[str, Any] | None = None) -> Any:
        """`data` validated: every field with its own type, then `settle`; raises `ValidationError` with every fault
        (locations relative to `data`)."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            refuse(data, f"must be a mapping, not {show(data)}")
        errors, meant = unknown_key_faults(data, cls.keys()) if cls.closed else ([], set())
        context = dict(context or {})
        values: dict[str, Any] = {}
        failed: set[str] = set()
        items: dict[str, tuple[tuple[int, Any], ...]] = {}
        for name in cls.model_fields:
            value = data.get(name)
            if value is None:
                continue
            try:
                if name in cls.itemwise:
                    items[name], found = cls._validate_items(name, value, context)
                    values[name] = tuple(item for _, item in items[name])
                    if found:
                        raise ValidationError.from_exception_data("config", found)
                else:
                    values[name] = cls.parser(name)(value, context)
            except ValidationError as exc:
                failed.add(name)
                errors.extend(((name, *loc), message) for loc, message in errors_of(exc))
            if name in values:
                context[name] = values[name]
        model = cls.model_construct(**values)
        private = {name: attr.get_default() for name, attr in cls.__private_attributes__.items()}
        private.update(
            _failed=frozenset(failed),
            _given=frozenset(k for k, v in data.items() if v is not None),
            _items=items,
            _data=data,
            _errors=tuple(errors),
        )
        object.__setattr__(model, "__pydantic_private__", private)
        rule_faults: list[tuple[Loc, str]] = []
        settled = model.settle(context, lambda loc, message: rule_faults.append((loc, message)))
        errors.extend(rule_faults)
        errors = [(loc, m) for loc, m in errors if not (m.startswith("is required") and loc[:1] and loc[0] in meant)]
        errors.sort(key=cls._rank)  # stable: the mapping's unknown keys, then field by field, then the rest
        if errors:
            raise ValidationError.from_exception_data("config", [_detail(loc, m, None) for loc, m in errors])
        return settled

    @classmethod
    def _rank(cls, error: tuple[Loc, str]) -> int:
        fields = tuple(cls.keys())
        loc = error[0]
        if not loc:
            return len(fields)
        if loc[0] in fields:
            return fields.index(loc[0])
        return -1 if error[1].startswith("is not a known key") else len(fields) + 1

    @classmethod
    def _validate_items(
        cls, name: str, value: Any, context: dict[str, Any]
    ) -> tuple[tuple[tuple[int, Any], ...], list[InitErrorDetails]]:
        if not isinstance(value, (list, tuple)):
            refuse(value, f"must be a list of {cls.itemwise[name]}, not {show(value)}")
        kept: list[tuple[int, Any]] = []
        found: list[InitErrorDetails] = []
        for index, item in enumerate(value):
            try:
                kept.append((index, cls.parser(name)(item, context)))
            except ValidationError as exc:
                found.extend(_detail((index, *loc), message, item) for loc, message in errors_of(exc))
        return tuple(kept), found


def validate(model: Any, value: Any, context: dict[str, Any] | None = None) -> tuple[Any, list[tuple[Loc, str]]]:
    """`value` validated as `model` (a Section or any type): the value, or None and every fault found."""
    try:
        return parser_of(model)(value, context or {}), []
    except ValidationError as exc:
        return None, errors_of(exc)
