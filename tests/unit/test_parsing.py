"""The strict parser (orjson plus checks, then the stdlib parser when they fail), and the batch check
on top of it: duplicates, big integers and spellings, on the fast path and the full path."""

from __future__ import annotations

import json

import pytest

from mock_masivo.domain.kinds import EVENT
from mock_masivo.errors import BadRequest
from mock_masivo.ingest.checker import CheckedBatch, Rejection, check_batch
from mock_masivo.ingest.fastpath import FastPath
from mock_masivo.ingest.parsing import parse_json, parse_object
from mock_masivo.ingest.validation import PayloadValidator

LENIENT, FAST = PayloadValidator(kind=EVENT), FastPath(EVENT)


def batch_bytes(event_extra: str) -> bytes:
    return (
        '{"customers":[{"id":"c","events":[{"type":"PURCHASE","fulfilled":true,'
        f'"issued_at":"2023-11-07T05:31:56Z","resolved_at":"2023-11-07T05:31:56Z"{event_extra}}}]}}]}}'
    ).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": {"b": 1, "b": 1}}',
        b'{"a:b": 1, "a:b": "x:y"}',
        b'{"k\\u003a": 1, "k:": 2}',  # the same key, once escaped: only the slow path can tell
        b'{"x": [{"y": 1}, {"y": 2, "y": 3}]}',
    ],
)
def test_duplicate_members_are_refused_wherever_they_hide(raw: bytes) -> None:
    with pytest.raises(BadRequest, match="duplicate member"):
        parse_json(raw)


@pytest.mark.parametrize("extra", [',"order":{"a":1,"a":2}', ',"fulfilled":false'])
def test_duplicate_members_inside_events_are_refused_on_the_batch_path(extra: str) -> None:
    outcome = check_batch(LENIENT, batch_bytes(extra), FAST)
    assert isinstance(outcome, Rejection) and "duplicate member" in outcome.details


def test_escaped_colons_without_duplicates_parse_exactly() -> None:
    assert parse_object(b'{"a\\u003ab": "x\\u003Ay", "c": 1}') == {"a:b": "x:y", "c": 1}


@pytest.mark.parametrize("number", ["18446744073709551616", "-9223372036854775809", "1" * 30])
def test_integers_beyond_64_bits_are_refused_not_rounded(number: str) -> None:
    with pytest.raises(BadRequest, match="64 bits"):
        parse_json(f'{{"n": {number}}}'.encode())
    outcome = check_batch(LENIENT, batch_bytes(f',"order":{{"value":{number}}}'), FAST)
    assert isinstance(outcome, Rejection) and "64 bits" in outcome.details


@pytest.mark.parametrize("number", ["18446744073709551615", "-9223372036854775808", "1234567890123456789"])
def test_integers_within_64_bits_are_kept_exactly(number: str) -> None:
    value, _ = parse_json(f'{{"n": {number}}}'.encode())
    assert value == {"n": int(number)}


def test_long_digit_runs_inside_strings_stay_on_the_fast_path_and_exact() -> None:
    raw = batch_bytes(',"order":{"purchase_id":"1541815603606036480123"}')
    accepted = FAST.accept(raw)
    assert accepted is not None
    [[(_, purchase_id, _)]] = accepted[1]
    assert purchase_id == "1541815603606036480123"


@pytest.mark.parametrize("fast", [FAST, None], ids=["fast path", "full path"])
def test_each_event_is_kept_exactly_as_spelled_less_whitespace(fast: FastPath | None) -> None:
    raw = batch_bytes(', "order": {"value": 1, "discounted_value": 1.50, "metadata": {"z": [1E2, {"y": -0.0}]}}')
    outcome = check_batch(LENIENT, raw.replace(b"PURCHASE", b"PURCH\\u00c9"), fast)
    assert isinstance(outcome, CheckedBatch)
    [(_, [event])] = outcome.encoded
    assert b'"type":"PURCH\\u00c9"' in event
    assert b'"order":{"value":1,"discounted_value":1.50,"metadata":{"z":[1E2,{"y":-0.0}]}}' in event


def test_a_body_of_another_shape_is_refused_with_the_schemas_words() -> None:
    outcome = check_batch(LENIENT, b'{"customers": "nope"}', FAST)
    assert isinstance(outcome, Rejection)
    assert [(violation.path, violation.rule) for violation in outcome.violations] == [("/customers", "type")]


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"", "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"a": 1e400}', "not valid JSON"),
        (b'{"a": "\\ud800"}', "not valid JSON"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
        (b"[" * 300 + b"]" * 300, "nested deeper"),
    ],
)
def test_bad_bodies_get_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BadRequest, match=reason):
        parse_object(raw)


def test_slow_path_refuses_a_lone_surrogate_it_would_otherwise_accept() -> None:
    assert json.loads('"\\ud800"') == "\ud800"  # the stdlib alone would store a poison record
    with pytest.raises(BadRequest):
        parse_object(b'{"k\\u003a": "\\ud800"}')
