"""The fast path (ingest/fastpath.py) against the full parser and validator, on every record kind.

Wherever the fast path accepts a body, the full path accepts it too, in lenient and strict mode,
with no warning, the same records' bytes and the same attributes. Where it cannot decide it says
nothing, and the full path decides. Every plain valid body takes the fast path, so the comparison
is never vacuous. Bodies come valid (from the schemas, spelled several ways) and broken: the schema
mutations of strategies.py, plus what only JSON text can carry: duplicate member names, integers
past 64 bits, escaped colons, deep nesting, lone surrogates and other spellings of numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema_rs
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import SCHEMAS, Location, locations, mutated_payloads, valid_payloads

from mock_masivo.domain.layout import compact
from mock_masivo.ingest.checker import CheckedBatch, check_batch, fast_paths, validators
from mock_masivo.ingest.fastpath import FORMAT_PATTERNS, FREE_FORM_LEVELS

KIND_OF = {"events": "event", "customers": "profile", "transactions": "transaction"}
BODY_KINDS = sorted(KIND_OF)
LENIENT, STRICT = validators(strict=False), validators(strict=True)
FAST = fast_paths()
MANY = settings(max_examples=100, deadline=None)
LOOKAHEAD = re.compile(r"\(\?=[^)]*\)")
INT64 = range(-(2**63), 2**63)

Spelling = Callable[[Any], bytes]
SPELLINGS: dict[str, Spelling] = {
    "orjson": orjson.dumps,
    "json.dumps defaults": lambda payload: json.dumps(payload).encode(),  # ", " and ": ", \\u escapes
    "utf-8, indented": lambda payload: json.dumps(payload, ensure_ascii=False, indent=1).encode(),
}


def fast_verdict(body_kind: str, raw: bytes) -> bool:
    """Whether the fast path accepted `raw`; when it did, the full path must agree in every detail."""
    kind = KIND_OF[body_kind]
    fast = FAST[kind]
    assert fast is not None, f"the {body_kind} schema did not compile"
    try:
        compacted = compact(raw)
    except ValueError:  # not JSON at all: the fast path never sees it
        return False
    accepted = fast.accept(compacted)
    if accepted is None:
        return False
    full = check_batch(LENIENT[kind], raw)
    assert isinstance(full, CheckedBatch), f"the fast path accepted what the full path refuses: {full}"
    assert full.warnings == []
    assert (full.encoded, full.attributes) == accepted
    assert isinstance(check_batch(STRICT[kind], raw), CheckedBatch)
    return True


def plain(value: Any, free_form_depth: int | None = None) -> bool:
    """Within what the fast path decides by design: integers within int64, free-form objects at
    most FREE_FORM_LEVELS deep (the depth is counted from the free-form object's own braces)."""
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return True
    if isinstance(value, int):
        return value in INT64
    depth = None if free_form_depth is None else free_form_depth + 1
    if depth is not None and depth > FREE_FORM_LEVELS:
        return False
    children = value.values() if isinstance(value, dict) else value
    return all(plain(child, depth) for child in children)


def free_form_plain(payload: dict[str, Any], body_kind: str) -> bool:
    for location in locations(payload, SCHEMAS[body_kind]):
        is_free_form = location.schema.get("type") == "object" and "properties" not in location.schema
        if is_free_form and not plain(location.value, 0):
            return False
    return plain(payload)


# ---------------------------------------------------------------------------------------------
# Valid bodies
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("body_kind", BODY_KINDS)
@MANY
@given(data=st.data())
def test_valid_bodies_take_the_fast_path_and_agree_with_the_full_path(
    body_kind: str, spelling: str, data: st.DataObject
) -> None:
    payload = data.draw(valid_payloads(extra_members=False, kind=body_kind))
    accepted = fast_verdict(body_kind, SPELLINGS[spelling](payload))
    assert accepted or not free_form_plain(payload, body_kind)


@pytest.mark.parametrize("body_kind", BODY_KINDS)
@MANY
@given(data=st.data())
def test_unknown_members_leave_the_decision_to_the_full_path(body_kind: str, data: st.DataObject) -> None:
    payload = data.draw(valid_payloads(extra_members=True, kind=body_kind))
    fast_verdict(body_kind, orjson.dumps(payload))  # accepted only when no unknown member was drawn


# ---------------------------------------------------------------------------------------------
# Broken bodies: one schema rule, or what only JSON text can carry
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body_kind", BODY_KINDS)
@MANY
@given(data=st.data())
def test_a_broken_schema_rule_is_never_accepted_by_the_fast_path(body_kind: str, data: st.DataObject) -> None:
    mutation = data.draw(mutated_payloads(body_kind=body_kind))
    raw = json.dumps(mutation.payload).encode()
    assert not fast_verdict(body_kind, raw)


SENTINEL = "\x00fast-path-sentinel\x00"


def with_text_at(payload: dict[str, Any], path: tuple[str | int, ...], text: bytes) -> bytes:
    """The body compactly encoded, with the value at `path` spelled as `text` (any JSON text at all)."""
    target: Any = payload
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = SENTINEL
    return orjson.dumps(payload).replace(orjson.dumps(SENTINEL), text)


def duplicated_first_member(value: dict[str, Any], other: Any) -> bytes:
    """The object with its first member repeated: first with `other`, then as it was (the last one wins)."""
    name = next(iter(value))
    rest = orjson.dumps(value)[1:]
    return b"{%b:%b,%b" % (orjson.dumps(name), orjson.dumps(other), rest)


def text_edits(location: Location) -> st.SearchStrategy[bytes]:
    """JSON text for the value at `location` that no dict can hold: the full path decides on it."""
    value, kind = location.value, location.schema.get("type")
    deep = st.integers(2, 300).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth)
    edits: list[st.SearchStrategy[bytes]] = [deep]
    if isinstance(value, dict) and value:
        edits.append(st.sampled_from([value, None, 1, "x"]).map(lambda other: duplicated_first_member(value, other)))
    if kind == "number" or kind == "object":
        huge = st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30])
        numbers = huge.map(lambda number: b"%d" % number) | st.sampled_from([b"1.0", b"1E2", b"-0", b"1e-7", b"1e400"])
        edits.append(numbers.map(lambda number: number if kind == "number" else b'{"n":%b}' % number))
    if isinstance(value, str):
        escaped = json.dumps(value).replace(":", "\\u003a", 1).encode()
        edits.append(st.sampled_from([escaped, b'"\\ud800"', b'"\\ud83d\\ude00"', b'"a\\/b"', b'"\\u00e9"']))
    return st.one_of(edits)


@pytest.mark.parametrize("body_kind", BODY_KINDS)
@MANY
@given(data=st.data())
def test_text_only_json_gets_the_full_paths_verdict(body_kind: str, data: st.DataObject) -> None:
    payload = data.draw(valid_payloads(extra_members=False, kind=body_kind))
    inside = [location for location in locations(payload, SCHEMAS[body_kind]) if location.path]
    location = data.draw(st.sampled_from(inside))
    raw = with_text_at(payload, location.path, data.draw(text_edits(location)))
    fast_verdict(body_kind, raw)


def test_each_text_edit_is_decided_as_the_full_path_decides() -> None:
    """Pinned examples of the edits above, with the verdict each must get (both paths agree)."""
    event = {"type": "T", "order": {"metadata": {"k": "v"}}, "fulfilled": True}
    event |= {"issued_at": "2023-11-07T05:31:56Z", "resolved_at": "2023-11-07T05:31:56Z"}

    def body(**edits: bytes) -> bytes:
        payload = {"customers": [{"id": "c", "events": [json.loads(json.dumps(event))]}]}
        raw = orjson.dumps(payload)
        for old, new in edits.items():
            raw = raw.replace(orjson.dumps(old), new)
        return raw

    assert fast_verdict("events", body())
    assert not fast_verdict("events", body(v=b'"v","k":"w"'))  # a duplicate member in a free-form object
    assert not fast_verdict("events", body(v=b"%d" % 2**64))  # past 64 bits (the full path refuses)
    assert not fast_verdict("events", body(v=b"%d" % 2**63))  # uint64: the full path accepts, alone
    assert fast_verdict("events", body(v=b"%d" % (2**63 - 1)))
    assert not fast_verdict("events", body(v=b'{"a":' * 6 + b"1" + b"}" * 6))  # 7 levels: the full path
    assert fast_verdict("events", body(v=b'{"a":' * 4 + b"1" + b"}" * 4))
    assert not fast_verdict("events", body(T=b'"\\u003a"'))  # an escaped colon
    assert fast_verdict("events", body(T=b'"\\u00e9\\/"'))  # other escapes are kept as sent


# ---------------------------------------------------------------------------------------------
# The format patterns accept only what the full validator accepts
# ---------------------------------------------------------------------------------------------


FORMAT_CHECKERS = {
    name: jsonschema_rs.validator_for({"type": "string", "format": name}, validate_formats=True)
    for name in FORMAT_PATTERNS
}


@pytest.mark.parametrize("name", sorted(FORMAT_PATTERNS))
@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_each_format_pattern_accepts_a_subset_of_the_full_validators_format(name: str, data: st.DataObject) -> None:
    pattern = re.compile(FORMAT_PATTERNS[name])
    # Hypothesis cannot generate through lookaheads (the length limits): draw without them, then apply them.
    value = data.draw(st.from_regex(LOOKAHEAD.sub("", pattern.pattern), fullmatch=True).filter(pattern.search))
    assert FORMAT_CHECKERS[name].is_valid(value), value
