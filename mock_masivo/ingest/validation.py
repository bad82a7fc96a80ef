"""Validation of migration bodies of every kind: its schema in schemas/ plus its batch rules. Pure, no I/O.

The schema is compiled once with jsonschema-rs (two orders of magnitude faster than
python-jsonschema here, with the same error paths; a differential test keeps them in step).
Messages are written from the error's keyword and limits, never from the failing value, so a
1 MB string is never echoed back.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs

from ..domain.kinds import EVENT, MAX_EVENTS_PER_BATCH, Kind, count_records
from ..errors import MAX_LISTED_VIOLATIONS, Violation
from .schemas import load_schema

__all__ = ["MAX_EVENTS_PER_BATCH", "REQUEST_SCHEMA", "PayloadValidator", "Report", "count_events", "pointer"]

REQUEST_SCHEMA = EVENT.schema  # the events schema, as round 1 named it
FORMAT_HINTS = {"date-time": "(RFC 3339, e.g. 2023-11-07T05:31:56Z)", "email": "address (e.g. ana@example.com)"}


@dataclass
class Report:
    """Everything wrong with one body (capped), plus unknown members accepted as warnings."""

    violations: list[Violation] = field(default_factory=list)
    truncated: bool = False
    warnings: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


class PayloadValidator:
    """Checks a parsed body of one kind; `strict` turns unknown members of documented objects into violations."""

    def __init__(self, strict: bool = False, kind: Kind = EVENT) -> None:
        schema = load_schema(kind.schema)
        self.strict = strict
        self.kind = kind
        self._lenient = jsonschema_rs.validator_for(schema, validate_formats=True)
        self._closed = jsonschema_rs.validator_for(closed_schema(schema), validate_formats=True)

    def check(self, body: Any) -> Report:
        broken = self.kind.batch_rules(body)
        if self._closed.is_valid(body):  # the common case: one pass, nothing to report
            return _with_batch_rules(Report(), broken)
        if self.strict:
            return _with_batch_rules(self._without_repeats(self._closed.iter_errors(body), broken), broken)
        report = _with_batch_rules(self._without_repeats(self._lenient.iter_errors(body), broken), broken)
        if report.ok:
            report.warnings = _collect(self._closed.iter_errors(body)).violations
        return report

    def _without_repeats(self, errors: Iterator[Any], broken: list[Violation]) -> Report:
        """The schema's violations, less a customer's list over maxItems when the batch is over its total:
        the batch rule already says it (1001 events in one customer would be reported twice)."""
        report = _collect(errors)
        if self.kind.items is not None and any(violation.path == "/customers" for violation in broken):
            repeated = re.compile(rf"/customers/\d+/{self.kind.items}")
            report.violations = [
                violation
                for violation in report.violations
                if not (violation.rule == "maxItems" and repeated.fullmatch(violation.path))
            ]
        return report


def closed_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with `additionalProperties: false` on every documented object (free-form ones stay open)."""
    closed = copy.deepcopy(schema)
    for subschema in _subschemas(closed):
        if "properties" in subschema:
            subschema.setdefault("additionalProperties", False)
    return closed


def _subschemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield schema
    for key in ("properties", "$defs"):
        for child in schema.get(key, {}).values():
            yield from _subschemas(child)
    if isinstance(schema.get("items"), dict):
        yield from _subschemas(schema["items"])


def _collect(errors: Iterator[Any]) -> Report:
    violations: list[Violation] = []
    for error in errors:
        violations.extend(_violations(error))
        if len(violations) > MAX_LISTED_VIOLATIONS:
            break
    violations.sort(key=lambda violation: _pointer_sort_key(violation.path))
    truncated = len(violations) > MAX_LISTED_VIOLATIONS
    return Report(violations[:MAX_LISTED_VIOLATIONS], truncated)


def _with_batch_rules(report: Report, broken: list[Violation]) -> Report:
    """The batch rules' violations first (they say what is wrong with the batch as a whole), within the cap."""
    if broken:
        report.violations[:0] = broken
        if len(report.violations) > MAX_LISTED_VIOLATIONS:
            del report.violations[MAX_LISTED_VIOLATIONS:]
            report.truncated = True
    return report


def count_events(body: Any) -> int:
    """Events summed over customers, counting only the parts shaped as the schema expects."""
    return count_records("events", body)


def _violations(error: Any) -> list[Violation]:
    path = pointer(error.instance_path)
    kind = error.kind
    rule = kind.name
    if rule == "additionalProperties":
        return [
            Violation(pointer([*error.instance_path, name]), f"unknown member {name[:64]!r}", rule)
            for name in kind.unexpected
        ]
    return [Violation(path, _message(rule, kind, error.instance), rule)]


def _message(rule: str, kind: Any, instance: Any) -> str:
    if rule == "required":
        return f"missing required member {kind.property!r}"
    if rule == "type":
        return f"must be {' or '.join(kind.types)}, got {json_type(instance)}"
    if rule == "enum":
        return f"must be one of {', '.join(map(str, kind.options))}"
    if rule == "format":
        return f"must be a valid {kind.format} {FORMAT_HINTS.get(kind.format, '')}".rstrip()
    if rule == "minLength" and kind.limit == 1:
        return "must not be empty"
    if rule in ("minLength", "maxLength"):
        bound = "at least" if rule == "minLength" else "at most"
        return f"must be {bound} {kind.limit} characters long, got {len(instance)}"
    if rule in ("minItems", "maxItems"):
        bound = "at least" if rule == "minItems" else "at most"
        return f"must have {bound} {kind.limit} items, got {len(instance)}"
    return f"violates the schema's {rule} rule"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


MAX_POINTER_SEGMENT = 256


def pointer(parts: Any) -> str:
    """RFC 6901 JSON Pointer of a path given as a sequence of keys and indexes.

    A member name longer than MAX_POINTER_SEGMENT is cut and marked with "...": answers and the
    request log must not grow with whatever a client sends."""
    return "".join("/" + _segment(str(part)) for part in parts)


def _segment(part: str) -> str:
    escaped = part.replace("~", "~0").replace("/", "~1")
    return escaped if len(escaped) <= MAX_POINTER_SEGMENT else escaped[:MAX_POINTER_SEGMENT] + "..."


def _pointer_sort_key(path: str) -> tuple[tuple[int, int, str], ...]:
    # Indexes sort as numbers without int(): a member name may be "²" (isdigit, not int-able) or 5000 digits.
    return tuple(
        (0, len(part), part) if part.isascii() and part.isdigit() else (1, 0, part) for part in path.split("/")[1:]
    )
