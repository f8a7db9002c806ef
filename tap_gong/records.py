"""Records as the stream's schema declares them: each value of its declared kind, UTC instants.

The tap emits Gong's decoded JSON without the SDK's per-record type conformance (a
quarter of its CPU, benchmarks/RESULTS.md), and SDK-based targets validate every record
against the SCHEMA message, so the rules a record needs are compiled once per stream from
its schema and applied here:

- A value of another JSON kind than its field declares is converted when nothing is
  lost: "5" or 5.0 to 5 for an integer, "2.5" to 2.5 for a number, 5 to "5" for a
  string (an int64 id keeps its exact digits, never passing through a float), true to
  "true", "true"/"false" to booleans. Anything else (an object for a string, "five" for
  an integer, ...) is emitted as null, or left out where the schema refuses null (an
  item of a list of strings, say), with one warning per stream and field a run naming
  the first record it happened to. A record whose primary key is missing or unusable is
  not emitted, with the same one warning.
- A declared `date-time` is emitted in UTC (`...Z`): ISO-8601 with any offset (none:
  taken as UTC, as `windows.to_utc` reads it), or an epoch number in seconds or
  milliseconds; what does not parse is null as above.
- Where the schema says nothing (fields it does not declare inside objects, untyped
  values such as CRM field values), a string that is wholly an RFC 3339 date-time with
  a numeric offset (`2024-03-01T09:30:00-08:00`, seconds required, fraction optional)
  is an instant and is re-expressed in UTC. Nothing else is touched there: dates, times
  without an offset (no instant), instants already in `Z`, text that merely contains a
  date, numbers.
- Top-level fields the schema lacks are dropped, named once a run.

Conversions are idempotent: Gong's answers are shaped in place, and a call's parties
are shaped both as call_participants rows and inside call_details.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from tap_gong.windows import to_utc, utc_iso

# A rule: given a value and the record holding it (for the warning), the shaped value.
Rule = Callable[[Any, Mapping[str, Any]], Any]
# Reports a value that cannot be of its declared kind: (path, value, record, kind, what
# it becomes instead).
Report = Callable[[str, Any, Mapping[str, Any], str, Any], None]

NONE_TYPE = type(None)
# An RFC 3339 date-time with a numeric offset, the shape of Gong's instants. Groups: the
# date and time, the fraction of a second, the offset.
OFFSET_INSTANT = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?([+-]\d\d:\d\d)", re.ASCII
)
SHORTEST_OFFSET_INSTANT = len("2024-03-01T09:30:00+00:00")
INTEGER_TEXT = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)
NUMBER_TEXT = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?", re.ASCII)
BOOLEAN_TEXT = {"true": True, "false": False}


class NotOfKind(ValueError):
    """A value that cannot become its declared kind without loss."""


def offset_instant_in_utc(text: str) -> str | None:
    """The UTC form of an RFC 3339 instant with a numeric offset; None for any other text.

    The shape is checked here and the fraction cut or padded to microseconds before
    `fromisoformat`, which on Python 3.10 accepts only 3 or 6 digits. Digits beyond the
    microsecond are dropped (no warehouse timestamp keeps them).
    """
    if len(text) < SHORTEST_OFFSET_INSTANT or text[10] != "T" or text[-3] != ":":
        return None
    match = OFFSET_INSTANT.fullmatch(text)
    if match is None:
        return None
    wall, fraction, offset = match.groups()
    micro = f"{fraction or ''}000000"[:6]
    try:
        instant = dt.datetime.fromisoformat(f"{wall}.{micro}{offset}")
        return utc_iso(instant)
    except (ValueError, OverflowError):  # 2024-02-30, hour 25, year 9999 ahead of UTC, ...
        return None


def date_time_in_utc(value: Any) -> str:
    """A declared date-time in UTC: an ISO-8601 string or an epoch number.

    Raises:
        NotOfKind: when it is neither.
    """
    try:
        utc_text = to_utc(value)
    except (TypeError, ValueError, OverflowError, OSError) as error:
        # Python 3.10's fromisoformat refuses a fraction of other than 3 or 6 digits.
        if type(value) is str and (utc := offset_instant_in_utc(value)) is not None:
            return utc
        raise NotOfKind from error
    if utc_text is None:
        raise NotOfKind
    return utc_text


def as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)  # exact digits, however long
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    raise NotOfKind


def as_integer(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and INTEGER_TEXT.fullmatch(value):
        return int(value.split(".")[0])
    raise NotOfKind


def as_number(value: Any) -> int | float:
    if isinstance(value, str) and NUMBER_TEXT.fullmatch(value):
        if value.lstrip("-").isdigit():
            return int(value)
        number = float(value)
        if math.isfinite(number):
            return number
    raise NotOfKind


def as_boolean(value: Any) -> bool:
    if isinstance(value, str) and value.lower() in BOOLEAN_TEXT:
        return BOOLEAN_TEXT[value.lower()]
    raise NotOfKind


# Each scalar kind: the Python types that pass unchanged, and the lossless conversion.
# (Gong's JSON is decoded to exact types; bool is not an int here: a boolean is no number.)
SCALAR_KINDS: dict[str, tuple[frozenset[type], Callable[[Any], Any]]] = {
    "string": (frozenset({str}), as_string),
    "integer": (frozenset({int}), as_integer),
    "number": (frozenset({int, float}), as_number),
    "boolean": (frozenset({bool}), as_boolean),
}
CONTAINERS: frozenset[type] = frozenset({str, dict, list})  # what may hold an instant string
NOT_CONTAINERS: frozenset[type] = frozenset({int, float, bool, NONE_TYPE})


def utc_instants(value: Any) -> Any:
    """`value` with every offset instant string inside it in UTC (where the schema is silent)."""
    kind = type(value)
    if kind is str:
        return offset_instant_in_utc(value) or value
    if kind is dict:
        for name, item in value.items():
            if type(item) in CONTAINERS:
                value[name] = utc_instants(item)
    elif kind is list:
        for index, item in enumerate(value):
            if type(item) in CONTAINERS:
                value[index] = utc_instants(item)
    return value


def _silent_instants(value: Any, record: Mapping[str, Any]) -> Any:
    return utc_instants(value)


# What an unusable value becomes where the schema refuses null: left out (an object's
# field, an array's item).
OMIT: Any = object()


class FieldRule(NamedTuple):
    """How a value under one schema is shaped: values of the `unchanged` Python types are
    emitted as they are (the common case, checked without a call), the others by `shape`.
    """

    unchanged: frozenset[type]
    shape: Rule


# Where the schema is silent (an undeclared field, an untyped value): instants only.
SILENT = FieldRule(NOT_CONTAINERS, _silent_instants)


def declared_kinds(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def compile_rule(schema: Mapping[str, Any], path: str, report: Report) -> FieldRule:
    """The rule that makes a value under `schema` (at `path`, for warnings) of its kind."""
    kinds = declared_kinds(schema)
    nullable = "null" in kinds
    kinds.discard("null")
    if len(kinds) != 1:  # untyped, or several kinds (a CRM field's value): any JSON
        return SILENT
    [kind] = kinds
    null: frozenset[type] = frozenset({NONE_TYPE}) if nullable else frozenset()
    fallback = None if nullable else OMIT
    convert: Callable[[Any], Any]
    if kind == "object":
        fields = field_rules(schema, path, report)
        return FieldRule(null, object_rule(fields, path, fallback, report))
    if kind == "array":
        return FieldRule(null, array_rule(schema, path, fallback, report))
    if kind == "string" and schema.get("format") == "date-time":
        convert, kind = date_time_in_utc, "date-time"
    elif kind in SCALAR_KINDS:
        unchanged, convert = SCALAR_KINDS[kind]
        null |= unchanged
    else:
        return SILENT

    def rule(value: Any, record: Mapping[str, Any]) -> Any:
        try:
            return convert(value)
        except NotOfKind:
            report(path, value, record, kind, fallback)
            return fallback

    return FieldRule(null, rule)


def field_rules(schema: Mapping[str, Any], path: str, report: Report) -> dict[str, FieldRule]:
    return {
        name: compile_rule(field_schema, f"{path}.{name}" if path else name, report)
        for name, field_schema in schema.get("properties", {}).items()
    }


def object_rule(fields: dict[str, FieldRule], path: str, fallback: Any, report: Report) -> Rule:
    """Declared fields by their rules, the others searched for instants."""

    field_of = fields.get

    def rule(value: Any, record: Mapping[str, Any]) -> Any:
        if type(value) is not dict:
            report(path, value, record, "object", fallback)
            return fallback
        omitted = False
        for name, item in value.items():
            unchanged, shape = field_of(name, SILENT)
            if type(item) not in unchanged:
                value[name] = shaped = shape(item, record)
                omitted = omitted or shaped is OMIT
        if omitted:
            for name in [name for name, item in value.items() if item is OMIT]:
                del value[name]
        return value

    return rule


def array_rule(schema: Mapping[str, Any], path: str, fallback: Any, report: Report) -> Rule:
    items = schema.get("items")
    item = compile_rule(items if isinstance(items, dict) else {}, f"{path}[]", report)

    def rule(value: Any, record: Mapping[str, Any]) -> Any:
        if type(value) is not list:
            report(path, value, record, "array", fallback)
            return fallback
        omitted = False
        unchanged, shape = item
        for index, element in enumerate(value):
            if type(element) not in unchanged:
                value[index] = shaped = shape(element, record)
                omitted = omitted or shaped is OMIT
        if omitted:
            value[:] = [element for element in value if element is not OMIT]
        return value

    return rule


def _unreported(path: str, value: Any, record: Mapping[str, Any], kind: str, fallback: Any) -> None:
    return


class RecordShaper:
    """Shapes a stream's records to its schema (see the module docstring)."""

    def __init__(
        self,
        stream_name: str,
        schema: Mapping[str, Any],
        key_fields: tuple[str, ...],
        logger: logging.Logger,
    ) -> None:
        self.stream_name = stream_name
        self.key_fields = key_fields
        self.logger = logger
        self.fields = frozenset(schema.get("properties", {}))
        self._unknown_reported: set[str] = set()
        self._unusable_reported: set[str] = set()
        fields = field_rules(schema, "", self._report)
        # A key's own rule stays silent: a record without a usable key is dropped, said once.
        for key in key_fields:
            fields[key] = compile_rule(schema["properties"][key], key, _unreported)
        self._rule = object_rule(fields, "", OMIT, self._report)

    def shape(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record as the schema declares it; None when its primary key is unusable."""
        record = self._known_fields_only(record)
        keys_sent = [record.get(key) for key in self.key_fields]
        self._rule(record, record)
        for key, sent in zip(self.key_fields, keys_sent, strict=True):
            if record.get(key) is None:
                self._report(key, sent, record, "usable key", "dropped")
                return None
        return record

    def _report(
        self, path: str, value: Any, record: Mapping[str, Any], kind: str, fallback: Any
    ) -> None:
        """One warning per field a run: a value that cannot be of its declared kind."""
        if path in self._unusable_reported:
            return
        self._unusable_reported.add(path)
        keys = [f"{key}={record.get(key)!r}" for key in self.key_fields if key != path]
        label = f"the record {', '.join(keys)}" if keys else "a record"
        outcome = {None: "emitted as null", OMIT: "left out"}.get(fallback, "not emitted")
        self.logger.warning(
            "%s: %s=%.80r in %s is no %s; %s (said once a run for this field).",
            self.stream_name,
            path,
            value,
            label,
            kind,
            outcome,
        )

    def _known_fields_only(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record without fields the schema lacks, as targets expect (said once a run).

        The SDK drops them only at TYPE_CONFORMANCE_LEVEL RECURSIVE or ROOT_ONLY.
        """
        unknown = record.keys() - self.fields
        if not unknown:
            return record
        if new_fields := unknown - self._unknown_reported:
            self._unknown_reported.update(new_fields)
            self.logger.warning(
                "%s: Gong sent fields the schema lacks, not emitted: %s",
                self.stream_name,
                ", ".join(sorted(new_fields)),
            )
        return {name: value for name, value in record.items() if name in self.fields}
