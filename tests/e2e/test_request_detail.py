"""Issue 13: GET /_mock/requests/{id}: one journal entry with its headers (credentials masked) and,
for a refused request, its body, kept within --refused-bodies-bytes (oldest dropped first)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from conftest import JSON_AUTH, MIGRATE, client_for, post_events
from payloads import body, with_change

from mock_masivo import MockMasivoServer


def detail(http: httpx.Client, request_id: str) -> dict[str, Any]:
    answer = http.get(f"/_mock/requests/{request_id}")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_a_refused_request_keeps_its_body_and_masks_credentials(http: httpx.Client) -> None:
    bad = with_change(body(), "/customers/0/events/0/fulfilled", "<script>alert(1)</script>")
    sent = json.dumps(bad).encode()
    assert post_events(http, sent, headers={**JSON_AUTH, "x-api-key": "secret", "X-Trace": "t-1"}).status_code == 422
    assert post_events(http, body()).status_code == 201
    refused, accepted = detail(http, "req_1"), detail(http, "req_2")
    assert refused["body"] == sent.decode() and refused["body_truncated"] is False
    assert refused["errors"][0]["path"] == "/customers/0/events/0/fulfilled"
    headers = dict(refused["headers"])
    assert (headers["authorization"], headers["x-api-key"], headers["x-trace"]) == ("***", "***", "t-1")
    assert "mock-token" not in json.dumps(refused)
    assert (accepted["status"], accepted["body"], accepted["batch_id"]) == (201, None, "bat_1")


def test_a_syntax_error_keeps_the_body_as_sent_and_a_big_one_its_first_64_kib(http: httpx.Client) -> None:
    assert post_events(http, b'{"customers": [oops]}').status_code == 400
    assert detail(http, "req_1")["body"] == '{"customers": [oops]}'
    huge = b'{"customers": [' + b" " * 100_000 + b"x]}"
    assert post_events(http, huge).status_code == 400
    kept = detail(http, "req_2")
    assert len(kept["body"]) == 65536 and kept["body_truncated"] is True


def test_bodies_beyond_the_budget_are_dropped_oldest_first(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, refused_bodies_bytes=500)
    bad = json.dumps(with_change(body(), "/customers/0/events/0/fulfilled", "yes")).encode()
    assert 200 < len(bad) <= 250
    with client_for(server.url) as http:
        for _ in range(3):
            assert post_events(http, bad).status_code == 422
        assert [detail(http, f"req_{n}")["body"] is not None for n in (1, 2, 3)] == [False, True, True]
        assert detail(http, "req_1")["errors"]  # the entry itself stays


def test_unknown_and_evicted_requests_are_404(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, journal_size=2)
    with client_for(server.url) as http:
        for _ in range(3):
            post_events(http, b"{")
        assert [
            http.get(f"/_mock/requests/{rid}").status_code
            for rid in ("req_1", "req_2", "req_3", "req_4", "x", "req_-1", "req_" + "9" * 30)
        ] == [404, 200, 200, 404, 404, 404, 404]
        assert "--journal-size" in http.get("/_mock/requests/req_1").json()["details"]


def test_a_reset_account_loses_its_entries(http: httpx.Client) -> None:
    created = http.post("/_mock/accounts").json()["data"]
    auth = {"Authorization": f"Bearer {created['token']}", "Content-Type": "application/json"}
    assert http.post(MIGRATE, content=b"[", headers=auth).status_code == 400
    assert detail(http, "req_1")["account"] == created["id"]
    http.post("/_mock/reset", params={"account": created["id"]})
    assert http.get("/_mock/requests/req_1").status_code == 404


def test_an_entry_keeps_its_first_ten_errors_and_warnings_and_says_how_many_there_were(http: httpx.Client) -> None:
    """Issue 15 item 9: 10,000 entries of 100 warnings each took 930 MB of the request log."""
    bad = body(customers=30)
    for index in range(30):
        bad["customers"][index]["events"][0]["fulfilled"] = "no"
    assert post_events(http, bad).status_code == 422
    extra = body(customers=30)
    for index in range(30):
        extra["customers"][index]["events"][0]["unknown_member"] = index
    assert post_events(http, extra).status_code == 201
    refused, warned = detail(http, "req_1"), detail(http, "req_2")
    assert (len(refused["errors"]), refused["errors_total"]) == (10, 30)
    assert refused["errors"][0]["path"] == "/customers/0/events/0/fulfilled"
    assert (len(warned["warnings"]), warned["warnings_total"], "errors_total" in warned) == (10, 30, False)
    assert http.get("/_mock/report").json()["data"]["violations"][0]["count"] == 30
