"""POST /customers/migrate/events over real HTTP: accepted batches are stored exactly as sent."""

from __future__ import annotations

import httpx
import pytest
from conftest import AUTH, MIGRATE, client_for, post_events, stored_count
from payloads import body, masivo_example

from mock_masivo import MockMasivoServer


def test_masivo_reference_example_is_accepted_and_read_back_unchanged(http: httpx.Client) -> None:
    example = masivo_example()
    response = post_events(http, example)
    assert response.status_code == 201
    assert response.json() == {}
    batch_id = response.headers["X-Mock-Batch-Id"]
    stored = http.get("/_mock/events").json()
    assert stored["total"] == 1
    [event] = stored["data"]
    assert event["event"] == example["customers"][0]["events"][0]
    assert event["customer_id"] == "<string>"
    assert event["batch_id"] == batch_id
    assert event["account"] == "default"
    assert event["status"] == "PROCESSED"


@pytest.mark.parametrize("path", ["/customers/migrate/events", MIGRATE])
def test_migrate_events_is_served_at_the_root_and_under_the_base_path(http: httpx.Client, path: str) -> None:
    response = http.post(path, json=body(), headers=AUTH)
    assert response.status_code == 201


def test_numbers_keep_their_json_form(http: httpx.Client) -> None:
    raw = (
        b'{"customers":[{"id":"c","events":[{"type":"PURCHASE","fulfilled":true,'
        b'"issued_at":"2023-11-07T05:31:56Z","resolved_at":"2023-11-07T05:31:56Z",'
        b'"order":{"value":1,"discounted_value":1.0,"metadata":{"big":18446744073709551615,"neg":-0.0}}}]}]}'
    )
    assert post_events(http, raw).status_code == 201
    response = http.get("/_mock/events")
    assert b'"value":1,"discounted_value":1.0' in response.content
    assert b'"big":18446744073709551615' in response.content


def test_batch_of_1000_customers_with_1000_events_is_stored_whole(http: httpx.Client) -> None:
    response = post_events(http, body(customers=1000, events_each=1))
    assert response.status_code == 201
    assert stored_count(http) == 1000
    batch = http.get("/_mock/batches").json()["data"][0]
    assert (batch["customers"], batch["events"]) == (1000, 1000)


def test_events_are_listed_in_receipt_order_across_batches(http: httpx.Client) -> None:
    ids = [
        post_events(http, body(customers=2, events_each=2, prefix=f"b{n}-")).headers["X-Mock-Batch-Id"]
        for n in range(3)
    ]
    listed = http.get("/_mock/events").json()["data"]
    assert [event["batch_id"] for event in listed] == [batch for batch in ids for _ in range(4)]
    assert [event["customer_id"] for event in listed[:4]] == ["b0-0", "b0-0", "b0-1", "b0-1"]


def test_accepted_batch_survives_a_restart_on_the_same_data_dir(make_server) -> None:  # type: ignore[no-untyped-def]
    first: MockMasivoServer = make_server()
    with httpx.Client(base_url=first.url) as client:
        assert post_events(client, body(customers=3, events_each=2)).status_code == 201
        before = client.get("/_mock/events").json()
    first.stop()
    second: MockMasivoServer = make_server()
    with httpx.Client(base_url=second.url) as client:
        assert client.get("/_mock/events").json() == before


def test_records_read_back_as_spelled_less_whitespace_also_after_a_restart(make_server) -> None:  # type: ignore[no-untyped-def]
    spelled = (
        b'{"type": "PURCH\\u00c9", "order": {"value": 1.50, "discounted_value": 1E2, "metadata": {"k": [-0, 1.0]}},\n'
        b'  "fulfilled": true, "issued_at": "2023-11-07T05:31:56Z", "resolved_at": "2023-11-07T05:31:56Z"}'
    )
    sent = b'{\n  "customers": [{"id": "c1", "events": [%b]}]\n}' % spelled
    kept = (
        b'{"type":"PURCH\\u00c9","order":{"value":1.50,"discounted_value":1E2,"metadata":{"k":[-0,1.0]}},'
        b'"fulfilled":true,"issued_at":"2023-11-07T05:31:56Z","resolved_at":"2023-11-07T05:31:56Z"}'
    )
    first: MockMasivoServer = make_server()
    with client_for(first.url) as client:
        response = client.post(MIGRATE, content=sent, headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code == 201
        assert b'"event":%b' % kept in client.get("/_mock/events").content
    first.stop()
    second: MockMasivoServer = make_server()
    with client_for(second.url) as client:
        assert b'"event":%b' % kept in client.get("/_mock/events").content


def test_wrong_content_type_is_refused_and_nothing_stored(http: httpx.Client) -> None:
    response = http.post(MIGRATE, content=b'{"customers": []}', headers={**AUTH, "Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"] == "Unsupported media type"
    assert stored_count(http) == 0


def test_parse_workers_accept_refuse_and_store_exactly_like_the_server_itself(make_server) -> None:  # type: ignore[no-untyped-def]
    server: MockMasivoServer = make_server(memory=True, parse_workers=2)
    with client_for(server.url) as http:
        # big enough for a worker, small enough to stay valid
        assert post_events(http, body(customers=1000)).status_code == 201
        example = masivo_example()
        assert post_events(http, example).status_code == 201
        refused = post_events(http, {"customers": [{"id": "", "events": []}]})
        assert refused.status_code == 422
        assert [(e["path"], e["rule"]) for e in refused.json()["errors"]] == [
            ("/customers/0/events", "minItems"),
            ("/customers/0/id", "minLength"),
        ]
        assert post_events(http, b'{"customers": [], "customers": 1}').status_code == 400
        warned = post_events(
            http, {"customers": [{"id": "w", "events": [{**example["customers"][0]["events"][0], "colour": "red"}]}]}
        )
        assert warned.status_code == 201
        assert http.get("/_mock/requests").json()["data"][-1]["warnings"][0]["path"] == "/customers/0/events/0/colour"
        stored = (
            http.get("/_mock/events?limit=1000").json()["data"] + http.get("/_mock/events?offset=1000").json()["data"]
        )
        assert len(stored) == 1002
        assert stored[1000]["event"] == example["customers"][0]["events"][0]


def test_a_dead_parse_worker_answers_503_then_the_pool_is_replaced(make_server) -> None:  # type: ignore[no-untyped-def]
    server: MockMasivoServer = make_server(memory=True, parse_workers=1)
    big = body(customers=1000)
    with client_for(server.url) as http:
        assert post_events(http, big).status_code == 201
        pool = server.app.state.services.checker._pool
        for process in list(pool._processes.values()):
            process.kill()
            process.join(10)
        died = post_events(http, big)
        assert died.status_code == 503
        assert "parse worker" in died.json()["details"]
        assert post_events(http, big).status_code == 201
        assert stored_count(http) == 2000
