"""Hypothesis strategies derived from the request schemas in schemas/, the single source of truth:
migrate-events (the default), migrate-customers and migrate-transactions.

`valid_payloads()` walks the schema (`properties`, `required`, `$defs`, `items`, `enum`, `format`,
length and item bounds) and builds bodies that every validator must accept. `mutated_payloads()`
takes one of those and breaks exactly one rule, returning the body with the JSON Pointer and the
rule the server must report. Member names, types, bounds and enums all come from the schema:
change it and the generated data follows. The batch rule (at most 1000 events in all) is the one
fact not in the schema, so `over_the_batch_limit` names `customers`, `events` and `id` itself.

Generation stays inside what JSON can carry losslessly through the server: integers within 64
bits, finite floats, no lone surrogates (those are refused with 400 by design, see parsing.py).
Sizes are kept small (a few customers and events) unless a boundary is the point.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st
from payloads import distinct_ids_and_emails, transactions_within_batch_rules

from mock_masivo.ingest.schemas import load_schema
from mock_masivo.ingest.validation import MAX_EVENTS_PER_BATCH, pointer

REQUEST_SCHEMA: dict[str, Any] = load_schema("migrate-events.request.json")
SCHEMAS: dict[str, dict[str, Any]] = {
    kind: load_schema(f"migrate-{kind}.request.json") for kind in ("events", "customers", "transactions")
}
# The three files share their common definitions (tests/unit/test_schema_files.py), so one set resolves all.
DEFINITIONS: dict[str, Any] = {
    "$defs": {name: definition for schema in SCHEMAS.values() for name, definition in schema["$defs"].items()}
}
SMALL = 3  # customers, events per customer, members of free-form objects
NESTED = 2  # items of the arrays inside an event (products, redeem)
SHORT = 12  # characters per generated string, besides the schema's own length bounds
MIN_INT, MAX_INT = -(2**63), 2**64 - 1  # what the server can store exactly (parsing.py)
JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")

Path = tuple[str | int, ...]

text = st.text(st.characters(codec="utf-8"), max_size=SHORT)
emails = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,8})?@[a-z0-9]{1,12}\.[a-z]{2,6}", fullmatch=True)
numbers = st.integers(MIN_INT, MAX_INT) | st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | text,
    lambda children: st.lists(children, max_size=NESTED) | st.dictionaries(text, children, max_size=NESTED),
    max_leaves=5,
)


def resolve(schema: dict[str, Any], root: dict[str, Any] = DEFINITIONS) -> dict[str, Any]:
    """The schema a `$ref` (to `#/$defs/Name`) stands for; other schemas unchanged."""
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        schema = root["$defs"][name]
    return schema


# ---------------------------------------------------------------------------------------------
# Valid values, from the schema
# ---------------------------------------------------------------------------------------------


@cache  # built once: hypothesis analyses a strategy tree on first use, which is slow for a fresh one
def valid_payloads(extra_members: bool = True, kind: str = "events") -> st.SearchStrategy[dict[str, Any]]:
    """Bodies the schema of `kind` accepts, with (optionally) unknown members the lenient server keeps,
    that also keep the batch rules a schema cannot say (ids and emails unique in a batch)."""
    bodies: st.SearchStrategy[dict[str, Any]] = from_schema(SCHEMAS[kind], extra_members)
    if kind == "customers":
        return bodies.map(distinct_ids_and_emails)
    if kind == "transactions":
        return bodies.map(transactions_within_batch_rules)
    return bodies


def from_schema(schema: dict[str, Any], extra_members: bool = True, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values `schema` accepts; `depth` counts the arrays above (deeper arrays are kept shorter)."""
    schema = resolve(schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return _objects(schema, extra_members, depth)
    if kind == "array":
        return _arrays(schema, extra_members, depth)
    if kind == "string":
        if schema.get("format") == "date-time":
            return date_times()
        return emails if schema.get("format") == "email" else _strings(schema)
    if kind == "number":
        return numbers
    if kind == "boolean":
        return st.booleans()
    raise NotImplementedError(f"the strategies do not know how to generate {schema!r}; extend strategies.py")


def _objects(schema: dict[str, Any], extra_members: bool, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:  # free-form (metadata, tags): anything JSON
        return st.dictionaries(text, json_values, max_size=SMALL)
    required = set(schema.get("required", []))
    members = {name: from_schema(sub, extra_members, depth) for name, sub in properties.items()}
    documented = st.fixed_dictionaries(
        {name: member for name, member in members.items() if name in required},
        optional={name: member for name, member in members.items() if name not in required},
    )
    if not extra_members:
        return documented
    unknown = st.dictionaries(text.filter(lambda name: name not in properties), json_values, max_size=1)
    return st.builds(lambda known, extra: {**known, **extra}, documented, unknown)


def _arrays(schema: dict[str, Any], extra_members: bool, depth: int) -> st.SearchStrategy[list[Any]]:
    low, cap = schema.get("minItems", 0), SMALL if depth < 2 else NESTED
    high = min(schema.get("maxItems", cap), max(low, cap))
    return st.lists(from_schema(schema["items"], extra_members, depth + 1), min_size=low, max_size=high)


def _strings(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    short = st.text(st.characters(codec="utf-8"), min_size=low, max_size=max(low, SHORT))
    if high is None:
        return short
    # Length is counted in code points: the longest allowed string, made of astral characters, is a boundary.
    longest = st.sampled_from("xé€😀").map(lambda char: char * high)
    return st.integers(1, 10).flatmap(lambda roll: longest if roll == 7 else short)  # long in about 1 of 10


@st.composite
def date_times(draw: st.DrawFn) -> str:
    """RFC 3339 date-times, in all the spellings the RFC allows (lower-case t/z, offsets, fractions).

    Years 0001-9999 and seconds 00-59 only: year 0000 and leap seconds are valid RFC 3339 and our
    validator accepts them, but python-jsonschema's checker does not (see the divergence test).
    """
    year = draw(st.integers(1, 9999))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, days_in_month(year, month)))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
    fraction = draw(st.none() | st.text("0123456789", min_size=1, max_size=9))
    offset = draw(
        st.sampled_from(["Z", "z"])
        | st.builds("{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59))
    )
    separator = draw(st.sampled_from("Tt"))
    stamp = f"{year:04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"
    return stamp + (f".{fraction}" if fraction is not None else "") + offset


def days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


# ---------------------------------------------------------------------------------------------
# One mutation of a valid body
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """A body with exactly one rule broken, and what the server must say about it."""

    kind: str
    payload: dict[str, Any]
    path: str  # JSON Pointer of the error (for a missing member: the object lacking it)
    rule: str  # the JSON Schema keyword, or the batch rule's name
    member: str | None = None  # the removed member, for `required`

    @property
    def schema_rule(self) -> bool:
        """False for the batch rule, which no JSON Schema validator knows."""
        return self.rule != "max_events_per_batch"


@dataclass(frozen=True)
class Location:
    path: Path
    schema: dict[str, Any]  # resolved
    value: Any


def locations(value: Any, schema: dict[str, Any] = REQUEST_SCHEMA, path: Path = ()) -> Iterator[Location]:
    """Every value of a valid body the schema describes, with its (resolved) subschema."""
    schema = resolve(schema)
    yield Location(path, schema, value)
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                yield from locations(value[name], sub, (*path, name))
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from locations(item, schema["items"], (*path, index))


def other_type_values(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """JSON values whose type the schema's `type` does not allow."""
    return _other_type_values(schema["type"])


@cache
def _other_type_values(allowed: str) -> st.SearchStrategy[Any]:
    excluded = {allowed} | ({"integer"} if allowed == "number" else set())
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "integer": st.integers(MIN_INT, MAX_INT),
        "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda number: not number.is_integer()),
        "string": text,
        "array": st.lists(json_values, max_size=NESTED),
        "object": st.dictionaries(text, json_values, max_size=NESTED),
    }
    return st.one_of([by_type[name] for name in JSON_TYPES if name not in excluded])


BAD_DATE_TIMES = (
    lambda stamp: "2023-13-07" + stamp[10:],  # month 13
    lambda stamp: "2023-02-29" + stamp[10:],  # not a leap year
    lambda stamp: stamp[:11] + "24" + stamp[13:],  # hour 24
    lambda stamp: stamp[:14] + "60" + stamp[16:],  # minute 60
    lambda stamp: stamp[:10] + " " + stamp[11:],  # space instead of T
    lambda stamp: stamp[:19],  # no offset
    lambda stamp: stamp[:10],  # a date only
    lambda stamp: stamp[:19] + "+0100",  # offset without a colon
    lambda stamp: stamp[:19] + ".Z",  # empty fraction
    lambda stamp: stamp.replace("-", "/", 2),  # not RFC 3339 separators
)


@st.composite
def mutated_payloads(draw: st.DrawFn, kinds: tuple[str, ...] = (), body_kind: str = "events") -> Mutation:
    """A valid body of `body_kind` with one rule broken, of one of `kinds` (all by default) where it applies."""
    payload = draw(valid_payloads(kind=body_kind))
    wanted = set(kinds or MUTATORS)
    choices = [
        (kind, location) for location in locations(payload, SCHEMAS[body_kind]) for kind in _applicable(location)
    ]
    if body_kind == "events":
        choices.append(("too_many_events", Location((), REQUEST_SCHEMA, payload)))
    possible = sorted({kind for kind, _ in choices} & wanted)
    assume(possible)  # e.g. no enum member in this body
    kind = draw(st.sampled_from(possible))
    location = draw(st.sampled_from([location for found, location in choices if found == kind]))
    return draw(MUTATORS[kind](copy.deepcopy(payload), location))


def _applicable(location: Location) -> Iterator[str]:
    schema, path = location.schema, location.path
    if schema.get("required"):
        yield "missing_member"
    if "type" in schema and path:  # the root must stay an object: a non-object body is a 400
        yield "wrong_type"
    if "enum" in schema:
        yield "bad_enum"
    if schema.get("format") == "date-time":
        yield "bad_date_time"
    if schema.get("minLength", 0) > 0:
        yield "empty_string"
    if schema.get("minItems", 0) > 0:
        yield "empty_array"


def _replace(payload: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    target: Any = payload
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return payload


def _missing_member(payload: dict[str, Any], location: Location) -> st.SearchStrategy[Mutation]:
    def remove(member: str) -> Mutation:
        target: Any = payload
        for part in location.path:
            target = target[part]
        del target[member]
        return Mutation("missing_member", payload, pointer(location.path), "required", member)

    return st.sampled_from(location.schema["required"]).map(remove)


def _wrong_type(payload: dict[str, Any], location: Location) -> st.SearchStrategy[Mutation]:
    return other_type_values(location.schema).map(
        lambda value: Mutation("wrong_type", _replace(payload, location.path, value), pointer(location.path), "type")
    )


def _bad_enum(payload: dict[str, Any], location: Location) -> st.SearchStrategy[Mutation]:
    options = location.schema["enum"]
    wrong = st.sampled_from([option.lower() for option in options if isinstance(option, str)]) | json_values
    return wrong.filter(lambda value: value not in options).map(
        lambda value: Mutation("bad_enum", _replace(payload, location.path, value), pointer(location.path), "enum")
    )


def _bad_date_time(payload: dict[str, Any], location: Location) -> st.SearchStrategy[Mutation]:
    return st.sampled_from(BAD_DATE_TIMES).map(
        lambda corrupt: Mutation(
            "bad_date_time", _replace(payload, location.path, corrupt(location.value)), pointer(location.path), "format"
        )
    )


def _empty_string(payload: dict[str, Any], location: Location) -> st.SearchStrategy[Mutation]:
    return st.just(Mutation("empty_string", _replace(payload, location.path, ""), pointer(location.path), "minLength"))


def _empty_array(payload: dict[str, Any], location: Location) -> st.SearchStrategy[Mutation]:
    return st.just(Mutation("empty_array", _replace(payload, location.path, []), pointer(location.path), "minItems"))


def _too_many_events(payload: dict[str, Any], location: Location) -> st.SearchStrategy[Mutation]:
    return st.integers(1, 5).map(
        lambda extra: Mutation(
            "too_many_events",
            over_the_batch_limit(payload, MAX_EVENTS_PER_BATCH + extra),
            "/customers",
            "max_events_per_batch",
        )
    )


def over_the_batch_limit(payload: dict[str, Any], total: int) -> dict[str, Any]:
    """The body grown to `total` events with added customers of minimal events, each within its own limits."""
    customers = payload["customers"]
    events_schema = resolve(resolve(REQUEST_SCHEMA["properties"]["customers"]["items"])["properties"]["events"])
    padding = minimal(events_schema["items"])  # one object, repeated: it is only ever read
    missing = total - sum(len(customer["events"]) for customer in customers)
    while missing > 0:
        size = min(missing, events_schema["maxItems"])
        customers.append({"id": f"padding-{len(customers)}", "events": [padding] * size})
        missing -= size
    return payload


def minimal(schema: dict[str, Any]) -> Any:
    """The smallest value `schema` accepts: required members only, shortest strings and arrays."""
    schema = resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema["type"]
    if kind == "object":
        return {name: minimal(schema["properties"][name]) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal(schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "2023-11-07T05:31:56Z" if schema.get("format") == "date-time" else "x" * schema.get("minLength", 0)
    return {"number": 0, "boolean": False}[kind]


MUTATORS = {
    "missing_member": _missing_member,
    "wrong_type": _wrong_type,
    "bad_enum": _bad_enum,
    "bad_date_time": _bad_date_time,
    "empty_string": _empty_string,
    "empty_array": _empty_array,
    "too_many_events": _too_many_events,
}
