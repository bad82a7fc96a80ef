"""Batch limits over real HTTP (reliability.md B1-B8, B11): boundaries built in code, all or nothing stored.

Masivo's rules: 1 to 1000 customers, at least one event each, at most 1000 events in the whole
batch. The total is a batch rule (`max_events_per_batch`, at `/customers`); JSON Schema cannot say it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import MIGRATE, stored
from payloads import event, with_change

TOTAL_RULE = ("/customers", "max_events_per_batch")


def batch(*events_per_customer: int) -> dict[str, Any]:
    """One customer per argument, with that many events; every purchase id in the batch is distinct."""
    customers, number = [], 0
    for index, count in enumerate(events_per_customer):
        customers.append({"id": f"c{index}", "events": [event(number + n) for n in range(count)]})
        number += count
    return {"customers": customers}


def post(client: httpx.Client, payload: Any, token: str = "mock-token") -> httpx.Response:
    return client.post(
        MIGRATE,
        content=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def where(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] == "Invalid customer entry"
    assert isinstance(answer["details"], str) and answer["details"]
    return [(violation["path"], violation["rule"]) for violation in answer["errors"]]


ACCEPTED = [
    pytest.param([1] * 1000, id="B1-1000-customers-1000-events"),
    pytest.param([400, 400, 200], id="B3-1000-events-over-3-customers"),
    pytest.param([1000], id="B3-1000-events-for-one-customer"),
    pytest.param([1] * 999 + [1], id="B3-999-plus-1"),
    pytest.param([1], id="one-customer-one-event"),
]


@pytest.mark.parametrize("split", ACCEPTED)
def test_batch_within_the_limits_is_stored_whole(api: httpx.Client, account: dict[str, str], split: list[int]) -> None:
    response = post(api, batch(*split), account["token"])
    assert response.status_code == 201, response.text
    assert stored(api, account["id"]) == sum(split)
    [stored_batch] = api.get("/_mock/batches", params={"account": account["id"]}).json()["data"]
    assert stored_batch["id"] == response.headers["X-Mock-Batch-Id"]
    assert (stored_batch["customers"], stored_batch["events"]) == (len(split), sum(split))


REFUSED = [
    pytest.param(batch(*[1] * 1001), [TOTAL_RULE, ("/customers", "maxItems")], id="B2-1001-customers"),
    pytest.param(batch(600, 401), [TOTAL_RULE], id="B4-600-plus-401-events"),
    pytest.param(batch(*[1] * 999, 2), [TOTAL_RULE], id="B4-1000-customers-1001-events"),
    pytest.param(batch(1001), [TOTAL_RULE], id="B4-1001-events-one-customer"),  # once is enough (issue 14)
    pytest.param(batch(1000, 1000), [TOTAL_RULE], id="B4-2000-events"),
    pytest.param(batch(), [("/customers", "minItems")], id="B5-no-customers"),
    pytest.param(batch(0), [("/customers/0/events", "minItems")], id="B6-customer-without-events"),
    pytest.param(batch(1, 0, 1), [("/customers/1/events", "minItems")], id="B6-middle-customer-without-events"),
    pytest.param(
        with_change(batch(*[1] * 1000), "/customers/500/id", ""),
        [("/customers/500/id", "minLength")],
        id="B8-one-bad-customer-among-999",
    ),
    pytest.param(
        with_change(batch(*[1] * 1000), "/customers/999/events/0/issued_at", "later"),
        [("/customers/999/events/0/issued_at", "format")],
        id="B8-last-customer-bad",
    ),
    pytest.param(
        with_change(batch(400, 400, 200), "/customers/2/events/199/fulfilled", None),
        [("/customers/2/events/199/fulfilled", "type")],
        id="B8-last-event-of-1000-bad",
    ),
]


@pytest.mark.parametrize(("payload", "expected"), REFUSED)
def test_batch_breaking_a_rule_is_422_and_stores_nothing(
    api: httpx.Client, payload: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    before = stored(api)
    assert where(post(api, payload)) == expected
    assert stored(api) == before


def test_total_rule_message_gives_the_count(api: httpx.Client) -> None:
    [total, *_] = post(api, batch(600, 401)).json()["errors"]
    assert "1001" in total["message"] and "1000" in total["message"]


def test_b7_duplicate_customer_ids_in_one_batch_store_every_event(api: httpx.Client, account: dict[str, str]) -> None:
    # Masivo's docs are silent; the mock stores both entries' events under the one customer.
    payload = {"customers": [{"id": "same", "events": [event(1)]}, {"id": "same", "events": [event(2), event(3)]}]}
    assert post(api, payload, account["token"]).status_code == 201
    customer = api.get("/_mock/customers/same", params={"account": account["id"]}).json()["data"]
    assert [found["event"]["order"]["purchase_id"] for found in customer["events"]] == ["p-1", "p-2", "p-3"]
    assert customer["metrics"]["lifetime"]["number_of_purchases"] == 3


def test_b11_same_batch_sent_twice_without_a_key_is_stored_twice(api: httpx.Client, account: dict[str, str]) -> None:
    payload = batch(2, 1)
    first, second = (post(api, payload, account["token"]) for _ in range(2))
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.headers["X-Mock-Batch-Id"] != second.headers["X-Mock-Batch-Id"]
    events = api.get("/_mock/events", params={"account": account["id"]}).json()["data"]
    assert len(events) == 6
    assert [found["event"] for found in events[3:]] == [found["event"] for found in events[:3]]
    assert [found["duplicate_of"] for found in events] == [None] * 3 + [found["id"] for found in events[:3]]
