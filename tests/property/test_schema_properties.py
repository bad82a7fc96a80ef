"""Property tests driven by schemas/migrate-events.request.json (strategies.py walks the schema).

- Every generated valid body passes our validator and python-jsonschema (formats checked), is
  answered 201 by a real server, and reads back through /_mock/events exactly as sent.
- Every body with one mutation is answered 422 naming the mutation's path and rule, and stores nothing.
- Our validator (jsonschema-rs) and python-jsonschema agree on the verdict and the error paths.

One server per module; each example gets a fresh account so examples never see each other's data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import MIGRATE, stored_count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from strategies import MUTATORS, REQUEST_SCHEMA, Mutation, mutated_payloads, valid_payloads

from mock_masivo import MockMasivoServer
from mock_masivo.config import Settings
from mock_masivo.ingest.validation import MAX_EVENTS_PER_BATCH, PayloadValidator, closed_schema, count_events, pointer

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PER_KIND = settings(FAST, max_examples=15)  # every kind of mutation in every run: 7 x 15 examples
SLOW = settings(FAST, max_examples=1000)
KINDS = sorted(MUTATORS)
SCHEMA_KINDS = [kind for kind in KINDS if kind != "too_many_events"]  # the batch rule is not in the schema
FORMATS = Draft202012Validator.FORMAT_CHECKER
PYTHON_LENIENT = Draft202012Validator(REQUEST_SCHEMA, format_checker=FORMATS)
PYTHON_STRICT = Draft202012Validator(closed_schema(REQUEST_SCHEMA), format_checker=FORMATS)
OURS_LENIENT, OURS_STRICT = PayloadValidator(), PayloadValidator(strict=True)


@pytest.fixture(scope="module")
def live() -> Iterator[httpx.Client]:
    """One real server for the whole module (function-scoped fixtures are not reset between examples)."""
    with (
        MockMasivoServer(Settings(memory=True, port=0, log_level="warning")) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def new_account(client: httpx.Client) -> tuple[str, dict[str, str]]:
    response = client.post("/_mock/accounts")
    assert response.status_code == 201
    data = response.json()["data"]
    return data["id"], {"Authorization": f"Bearer {data['token']}", "Content-Type": "application/json"}


def encode(payload: Any, ascii_only: bool) -> bytes:
    return json.dumps(payload, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False).encode()


def same_json(value: Any) -> str:
    """A spelling that tells 1 from 1.0 and -0.0 from 0.0, and keeps member order."""
    return json.dumps(value, ensure_ascii=False)


def stored_events(client: httpx.Client, account: str) -> list[dict[str, Any]]:
    response = client.get("/_mock/events", params={"account": account, "limit": 1000})
    assert response.status_code == 200
    listing = response.json()
    assert listing["total"] == len(listing["data"])
    events: list[dict[str, Any]] = listing["data"]
    return events


# ---------------------------------------------------------------------------------------------
# Over HTTP
# ---------------------------------------------------------------------------------------------


def check_valid_payload_is_stored_as_sent(client: httpx.Client, payload: dict[str, Any], ascii_only: bool) -> None:
    account, headers = new_account(client)
    response = client.post(MIGRATE, content=encode(payload, ascii_only), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == {}
    stored = stored_events(client, account)
    sent = [(customer["id"], event) for customer in payload["customers"] for event in customer["events"]]
    assert [(row["customer_id"], same_json(row["event"])) for row in stored] == [
        (customer_id, same_json(event)) for customer_id, event in sent
    ]
    assert {(row["account"], row["batch_id"]) for row in stored} == {(account, response.headers["X-Mock-Batch-Id"])}


def check_mutation_is_refused_and_nothing_stored(client: httpx.Client, mutation: Mutation, ascii_only: bool) -> None:
    account, headers = new_account(client)
    before = stored_count(client)
    response = client.post(MIGRATE, content=encode(mutation.payload, ascii_only), headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "Invalid customer entry"
    assert [(error["path"], error["rule"]) for error in body["errors"]] == [(mutation.path, mutation.rule)]
    if mutation.member is not None:
        assert repr(mutation.member) in body["errors"][0]["message"]
    assert stored_events(client, account) == []
    assert stored_count(client) == before
    assert client.get("/_mock/batches", params={"account": account}).json()["total"] == 0


@FAST
@given(payload=valid_payloads(), ascii_only=st.booleans())
def test_valid_payloads_are_accepted_and_read_back_as_sent(
    live: httpx.Client, payload: dict[str, Any], ascii_only: bool
) -> None:
    check_valid_payload_is_stored_as_sent(live, payload, ascii_only)


@pytest.mark.parametrize("kind", KINDS)
def test_payloads_with_one_mutation_are_refused_at_its_path_and_store_nothing(live: httpx.Client, kind: str) -> None:
    @PER_KIND
    @given(mutation=mutated_payloads((kind,)), ascii_only=st.booleans())
    def check(mutation: Mutation, ascii_only: bool) -> None:
        check_mutation_is_refused_and_nothing_stored(live, mutation, ascii_only)

    check()


@pytest.mark.slow
@pytest.mark.timeout(900)
@SLOW
@given(payload=valid_payloads(), ascii_only=st.booleans())
def test_valid_payloads_are_accepted_and_read_back_as_sent_many_examples(
    live: httpx.Client, payload: dict[str, Any], ascii_only: bool
) -> None:
    check_valid_payload_is_stored_as_sent(live, payload, ascii_only)


@pytest.mark.slow
@pytest.mark.timeout(900)
@SLOW
@given(mutation=mutated_payloads(), ascii_only=st.booleans())
def test_payloads_with_one_mutation_are_refused_at_its_path_and_store_nothing_many_examples(
    live: httpx.Client, mutation: Mutation, ascii_only: bool
) -> None:
    check_mutation_is_refused_and_nothing_stored(live, mutation, ascii_only)


# ---------------------------------------------------------------------------------------------
# Validators: ours against python-jsonschema, no server
# ---------------------------------------------------------------------------------------------


def python_errors(validator: Draft202012Validator, payload: Any) -> set[tuple[str, str]]:
    """(path, rule) pairs as our validator spells them: one per unknown member for additionalProperties."""
    found: set[tuple[str, str]] = set()
    for error in validator.iter_errors(payload):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            unknown = set(error.instance) - set(error.schema.get("properties", {}))
            found |= {(pointer([*path, name]), "additionalProperties") for name in unknown}
        else:
            found.add((pointer(path), str(error.validator)))
    return found


def our_errors(validator: PayloadValidator, payload: Any) -> set[tuple[str, str]]:
    report = validator.check(payload)
    assert not report.truncated
    return {(violation.path, violation.rule) for violation in report.violations}


def check_validators_agree(payload: dict[str, Any]) -> None:
    batch_rule = {("/customers", "max_events_per_batch")} if count_events(payload) > MAX_EVENTS_PER_BATCH else set()
    for ours, theirs in ((OURS_LENIENT, PYTHON_LENIENT), (OURS_STRICT, PYTHON_STRICT)):
        assert our_errors(ours, payload) == python_errors(theirs, payload) | batch_rule


def test_python_jsonschema_checks_date_time_formats() -> None:
    """Without rfc3339-validator the differential tests below would compare against an unchecked format."""
    assert "date-time" in FORMATS.checkers
    assert not PYTHON_LENIENT.is_valid(
        {
            "customers": [
                {
                    "id": "c",
                    "events": [
                        {
                            "type": "PURCHASE",
                            "order": {},
                            "fulfilled": True,
                            "issued_at": "2023-13-07T05:31:56Z",
                            "resolved_at": "2023-11-07T05:31:56Z",
                        }
                    ],
                }
            ]
        }
    )


@FAST
@given(payload=valid_payloads(extra_members=False))
def test_generated_payloads_pass_both_validators(payload: dict[str, Any]) -> None:
    assert OURS_STRICT.check(payload).ok
    assert PYTHON_STRICT.is_valid(payload)
    assert PYTHON_LENIENT.is_valid(payload)


@FAST
@given(payload=valid_payloads())
def test_generated_payloads_with_unknown_members_pass_leniently_and_agree_strictly(payload: dict[str, Any]) -> None:
    report = OURS_LENIENT.check(payload)
    assert report.ok
    assert PYTHON_LENIENT.is_valid(payload)
    assert {(warning.path, warning.rule) for warning in report.warnings} == python_errors(PYTHON_STRICT, payload)
    check_validators_agree(payload)


@pytest.mark.parametrize("kind", SCHEMA_KINDS)
@PER_KIND
@given(data=st.data())
def test_validators_agree_on_mutated_payloads(kind: str, data: st.DataObject) -> None:
    mutation = data.draw(mutated_payloads((kind,)))
    check_validators_agree(mutation.payload)
    assert our_errors(OURS_LENIENT, mutation.payload) == {(mutation.path, mutation.rule)}


@pytest.mark.slow
@pytest.mark.timeout(900)
@SLOW
@given(mutation=mutated_payloads())
def test_validators_agree_on_mutated_payloads_many_examples(mutation: Mutation) -> None:
    check_validators_agree(mutation.payload)


@pytest.mark.parametrize(
    ("stamp", "ours", "python"),
    [
        ("0000-01-01T00:00:00Z", True, False),  # RFC 3339 allows year 0000; rfc3339-validator does not
        ("2016-12-31T23:59:60Z", True, False),  # a real leap second; rfc3339-validator refuses second 60
        ("2023-11-07T05:31:56Z\n", False, True),  # rfc3339-validator's `$` lets a trailing newline through
    ],
)
def test_known_date_time_divergences_from_python_jsonschema(stamp: str, ours: bool, python: bool) -> None:
    """The generators avoid these spellings; if python-jsonschema changes, widen the generators."""
    payload = {
        "customers": [
            {
                "id": "c",
                "events": [
                    {"type": "PURCHASE", "order": {}, "fulfilled": True, "issued_at": stamp, "resolved_at": stamp}
                ],
            }
        ]
    }
    assert OURS_STRICT.check(payload).ok is ours
    assert PYTHON_STRICT.is_valid(payload) is python
