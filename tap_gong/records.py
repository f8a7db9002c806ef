"""Records as the stream's schema declares them: UTC instants, exact ids, known fields.

The tap emits Gong's decoded JSON without the SDK's per-record type conformance (a
quarter of its CPU, benchmarks/RESULTS.md), so the few rules a record needs are
compiled once per stream from its schema and applied here:
- every `date-time` anywhere in the record in UTC (`...Z`); a value that does not
  parse becomes null with one warning naming the field and the record (never a value
  that breaks the declared schema);
- a string-typed field that Gong sent as a JSON number (the int64 ids of the
  scorecard family) becomes the exact digits, never passing through a float;
- top-level fields the schema lacks are dropped, named once a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from tap_gong.windows import to_utc

# A compiled rule: given a value (and where it is, for warnings) return the shaped value.
Rule = Callable[[Any, "Where"], Any]


class Where:
    """The record being shaped and the path inside it, for one-line warnings."""

    def __init__(self, shaper: RecordShaper, record: Mapping[str, Any]) -> None:
        self.shaper = shaper
        self.record = record

    def record_label(self) -> str:
        keys = self.shaper.key_fields
        return ", ".join(f"{key}={self.record.get(key)!r}" for key in keys) or "a record"


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _date_time_rule(path: str) -> Rule:
    def rule(value: Any, where: Where) -> Any:
        if value is None:
            return None
        try:
            return to_utc(value)
        except (TypeError, ValueError, OverflowError):
            where.shaper.logger.warning(
                "%s: %s=%r of %s is not a date-time Gong documents; emitted as null.",
                where.shaper.stream_name,
                path,
                value,
                where.record_label(),
            )
            return None

    return rule


def _exact_string_rule(value: Any, where: Where) -> Any:
    # bool is an int in Python, and a boolean is not an id.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _object_rule(rules: dict[str, Rule]) -> Rule:
    def rule(value: Any, where: Where) -> Any:
        if not isinstance(value, dict):
            return value
        for name, field_rule in rules.items():
            if name in value:
                value[name] = field_rule(value[name], where)
        return value

    return rule


def _array_rule(item_rule: Rule) -> Rule:
    def rule(value: Any, where: Where) -> Any:
        if not isinstance(value, list):
            return value
        return [item_rule(item, where) for item in value]

    return rule


def compile_rule(schema: Mapping[str, Any], path: str) -> Rule | None:
    """The rule a value under `schema` needs, or None when it is emitted as Gong sent it."""
    types = _types(schema)
    if schema.get("format") == "date-time":
        return _date_time_rule(path)
    if types & {"string"} and not types & {"integer", "number", "object", "array", "boolean"}:
        return _exact_string_rule
    if "object" in types:
        rules = {
            name: rule
            for name, sub_schema in schema.get("properties", {}).items()
            if (rule := compile_rule(sub_schema, f"{path}.{name}" if path else name))
        }
        return _object_rule(rules) if rules else None
    if "array" in types and isinstance(schema.get("items"), dict):
        item_rule = compile_rule(schema["items"], f"{path}[]")
        return _array_rule(item_rule) if item_rule else None
    return None


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
        self._rule = compile_rule({**schema, "type": "object"}, "")
        self._unknown_reported: set[str] = set()

    def shape(self, record: dict[str, Any]) -> dict[str, Any]:
        record = self._known_fields_only(record)
        if self._rule is not None:
            self._rule(record, Where(self, record))
        return record

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
