"""Issue 13: ?format=jsonl streams every matching record of a list as JSON lines, without paging."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from conftest import JSON_AUTH, post_events
from payloads import CUSTOMERS_PATH, TRANSACTIONS_PATH, body, profile, profiles_body, transaction, transactions_body


def lines(http: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    with http.stream("GET", path, params={**params, "format": "jsonl"}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/x-ndjson"
        text = answer.read().decode()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def paged(http: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = http.get(path, params={**params, "limit": "1000", "offset": str(len(found))}).json()
        found += page["data"]
        if len(found) >= page["total"]:
            return found


def test_every_event_is_streamed_past_the_page_limit_exactly_as_listed(http: httpx.Client) -> None:
    for prefix in ("a", "b", "c"):
        assert post_events(http, body(customers=100, events_each=9, prefix=prefix)).status_code == 201
    streamed = lines(http, "/_mock/events")
    assert len(streamed) == 2700
    assert streamed == paged(http, "/_mock/events")
    assert [row["customer_id"] for row in lines(http, "/_mock/events", customer_id="b7")] == ["b7"] * 9
    assert lines(http, "/_mock/events", customer_id="nobody") == []


def test_every_list_streams(http: httpx.Client) -> None:
    http.post(CUSTOMERS_PATH, json=profiles_body(profile("ana"), profile("bea")), headers=JSON_AUTH)
    http.post(TRANSACTIONS_PATH, json=transactions_body({"ana": [transaction(5)]}), headers=JSON_AUTH)
    post_events(http, body())
    post_events(http, b"{")
    for path in (
        "/_mock/profiles",
        "/_mock/transactions",
        "/_mock/batches",
        "/_mock/customers",
        "/_mock/requests",
        "/_mock/accounts",
        "/_mock/faults",
    ):
        assert lines(http, path) == paged(http, path), path
    assert [row["id"] for row in lines(http, "/_mock/profiles", email="bea@example.com")] == ["prf_2"]
    assert [row["status"] for row in lines(http, "/_mock/requests", status="400")] == [400]


@pytest.mark.parametrize(
    "params", [{"format": "xml"}, {"format": "jsonl", "limit": "5"}, {"format": "jsonl", "offset": "1"}]
)
def test_a_bad_format_or_paging_a_stream_is_refused(http: httpx.Client, params: dict[str, str]) -> None:
    answer = http.get("/_mock/events", params=params)
    assert answer.status_code == 422 and answer.json()["error"] == "Invalid parameter"
