"""Schemathesis against the OpenAPI document the server publishes, on an in-process app.

Every operation is fuzzed with positive and negative data and every answer is checked against the
document: no 5xx, documented status, content type, headers and body schema, schema-invalid data
refused, schema-valid data accepted, missing credentials refused, other methods answered 405.
Bounded examples and a fixed seed by default; `-m slow` runs many more.

What the document cannot express, and so is kept out of generated positive data (see `map_body`):
- integers beyond 64 bits anywhere in a body are refused with 400, because they could not be
  stored and read back exactly (parsing.py);
- the clock only moves forward and stops before year 9999 (422 beyond), so a valid advance is
  valid only while earlier advances left room: generated advances are kept under a day.
Fault rules the fuzzer adds would make later calls fail on purpose, so each is removed at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import MIGRATE
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from payloads import body, distinct_ids_and_emails, transactions_within_batch_rules
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from mock_masivo import MockMasivoServer
from mock_masivo.config import DEFAULT_API_KEY, DEFAULT_TOKEN, Settings
from mock_masivo.ingest.schemas import load_schema
from mock_masivo.web.app import create_app

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "x-api-key": DEFAULT_API_KEY}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    missing_required_header,
    unsupported_method,
    ignored_auth,
]
# Schemathesis' defaults, plus 413: a body over --max-body-bytes is refused before it is parsed.
REJECTION_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
MIN_INT, MAX_INT = -(2**63), 2**64 - 1


def load(max_examples: int, migrate_examples: int, fuzz_both_migrate_paths: bool) -> Any:
    """The schema of a fresh in-process app; migrate bodies are costly to generate, so they get their own budget.

    Both migrate paths are served by the same handler: the quick run fuzzes the base-path one only
    (the root one still gets the explicit examples and the coverage phase's boundary cases).
    """
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20240601,
            # The migrate body nests up to 1000 customers of 1000 events: hypothesis overflows on many drafts.
            "suppress-health-check": ["data_too_large", "too_slow"],
            "generation": {"max-examples": max_examples},
            "checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}},
            "operations": [
                {"include-path-regex": "/customers/migrate/events$", "generation": {"max-examples": migrate_examples}},
                {
                    "include-path": "/customers/migrate/events",
                    "phases": {"fuzzing": {"enabled": fuzz_both_migrate_paths}},
                },
            ],
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(memory=True)), config=config)

    @schema.hook
    def map_body(context: Any, body: Any) -> Any:
        body = within_64_bits(body)
        label = context.operation.label
        if label == "POST /_mock/clock" and _is_valid_advance(body):
            body = {"advance": body["advance"] % DAY}  # still valid, and 25 of them never reach year 9999
        return body

    return schema


DAY = 86_400
SCHEMAS = {
    kind: Draft202012Validator(
        load_schema(f"migrate-{kind}.request.json"), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for kind in ("customers", "transactions")
}


def _is_valid_advance(body: Any) -> bool:
    if not isinstance(body, dict) or set(body) != {"advance"}:
        return False
    advance = body["advance"]
    return isinstance(advance, int | float) and not isinstance(advance, bool) and 0 <= advance < 10**10


def within_64_bits(value: Any) -> Any:
    """The value with every integer clamped into what the server stores exactly (type kept: still an integer)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return min(max(value, MIN_INT), MAX_INT)
    if isinstance(value, list):
        return [within_64_bits(item) for item in value]
    if isinstance(value, dict):
        return {key: within_64_bits(item) for key, item in value.items()}
    return value


schema = load(max_examples=25, migrate_examples=5, fuzz_both_migrate_paths=False)
long_schema = load(max_examples=500, migrate_examples=100, fuzz_both_migrate_paths=True)


def within_server_rules(case: Case[Any]) -> None:
    """Schema-valid bodies made to keep the rules a schema cannot say: ids and emails unique in a batch,
    a clock that only moves forward. Done on the case, not in map_body, which the coverage phase skips."""
    label = case.operation.label
    if (
        label == "POST /_mock/clock"
        and isinstance(case.body, dict)
        and set(case.body) == {"to"}
        and isinstance(case.body["to"], str)
        and _is_date_time(case.body["to"])
    ):
        case.body = {"to": "9000-01-01T00:00:00Z"}  # forward of any clock the run reaches, a valid "to"
    elif (
        label.endswith("/customers/migrate")
        and isinstance(case.body, dict)
        and SCHEMAS["customers"].is_valid(case.body)
    ):
        distinct = distinct_ids_and_emails(case.body)
        case.body = distinct if SCHEMAS["customers"].is_valid(distinct) else case.body
    elif (
        label.endswith("/customers/migrate/transactions")
        and isinstance(case.body, dict)
        and SCHEMAS["transactions"].is_valid(case.body)
    ):
        case.body = transactions_within_batch_rules(case.body)


def _is_date_time(text: str) -> bool:
    valid: bool = Draft202012Validator(
        {"format": "date-time"}, format_checker=Draft202012Validator.FORMAT_CHECKER
    ).is_valid(text)
    return valid


def call_and_validate(case: Case[Any]) -> None:
    within_server_rules(case)
    try:
        case.call_and_validate(headers=AUTH, checks=CHECKS)
    finally:
        if case.operation.label == "POST /_mock/faults":
            removed = case.operation.schema["/_mock/faults"]["DELETE"].Case().call()
            assert removed.status_code == 200


@schema.parametrize()  # type: ignore[untyped-decorator]  # schemathesis's decorator is not annotated
def test_api_conforms_to_its_openapi_document(case: Case[Any]) -> None:
    call_and_validate(case)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@long_schema.parametrize()  # type: ignore[untyped-decorator]
def test_api_conforms_to_its_openapi_document_many_examples(case: Case[Any]) -> None:
    call_and_validate(case)


# ---------------------------------------------------------------------------------------------
# What Schemathesis' generators rarely reach: any Unicode text in the inspection API's parameters
# ---------------------------------------------------------------------------------------------

NON_ASCII_DIGITS = ["\u00b2", "\u0663", "\uff11\uff12", "\u07c1"]  # ², Arabic-Indic 3, fullwidth 12, NKo 1: isdigit()


@pytest.fixture(scope="module")
def live() -> Iterator[httpx.Client]:
    with (
        MockMasivoServer(Settings(memory=True, port=0, log_level="warning")) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


@pytest.mark.parametrize("digits", NON_ASCII_DIGITS)
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/_mock/events", "limit"),
        ("/_mock/events", "offset"),
        ("/_mock/customers", "limit"),
        ("/_mock/batches", "offset"),
        ("/_mock/requests", "limit"),
        ("/_mock/requests", "status"),
    ],
)
def test_numeric_parameters_with_non_ascii_digits_are_refused(
    live: httpx.Client, path: str, name: str, digits: str
) -> None:
    value = digits * 3 if name == "status" else digits  # status must otherwise look like a 3-digit code
    response = live.get(path, params={name: value})
    assert response.status_code == 422
    assert response.json()["error"] == "Invalid parameter"


@pytest.mark.parametrize("url", ["/_mock/events/evt_\u00b2", "/_mock/events?batch_id=bat_\u00b2"])
def test_ids_with_non_ascii_digits_are_simply_not_found(live: httpx.Client, url: str) -> None:
    """Was a 500: store._parse_id took '\u00b2'.isdigit() for a number and int('\u00b2') raised."""
    response = live.get(url)
    assert response.status_code in (200, 404)
    assert response.status_code == 404 or response.json() == {"data": [], "total": 0}


@settings(max_examples=100, deadline=None)
@given(
    params=st.dictionaries(
        st.sampled_from(["limit", "offset", "account", "customer_id", "type", "purchase_id", "status"]),
        st.text(st.characters(codec="utf-8"), max_size=12),
        max_size=4,
    )
)
def test_any_text_in_inspection_parameters_is_answered_without_server_error(
    live: httpx.Client, params: dict[str, str]
) -> None:
    for path in ("/_mock/events", "/_mock/customers", "/_mock/batches", "/_mock/requests"):
        response = live.get(path, params=params)
        assert response.status_code in (200, 422), response.text
        assert set(response.json()) == ({"data", "total"} if response.status_code == 200 else {"error", "details"})


def test_clock_refuses_to_reach_year_9999_and_the_server_keeps_answering(live: httpx.Client) -> None:
    """Was a 500 on every later call: iso_time() and the metrics' calendar periods overflowed datetime."""
    answers = [live.post("/_mock/clock", json={"advance": 9_999_999_999}).status_code for _ in range(30)]
    assert 200 in answers
    assert answers[answers.index(422) :] == [422] * (30 - answers.index(422))
    assert live.get("/_mock/clock").json()["now"] < "9999"
    response = live.post(MIGRATE, json=body(), headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
    assert response.status_code == 201
    assert live.get("/_mock/customers/c0").status_code == 200
    assert live.get("/_mock/requests").status_code == 200
