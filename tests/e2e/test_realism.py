"""Issue 4: the server clock, Masivo's rate limits, faults, queued processing, read-back, duplicates."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import JSON_AUTH, client_for, post_events, stored_count
from payloads import body, event

from mock_masivo import MockMasivoServer, Settings, create_app

ServerFactory = Callable[..., MockMasivoServer]


def _client(server: MockMasivoServer) -> httpx.Client:
    return client_for(server.url)


def advance(client: httpx.Client, seconds: float) -> dict[str, Any]:
    response = client.post("/_mock/clock", json={"advance": seconds})
    assert response.status_code == 200
    state: dict[str, Any] = response.json()
    return state


# -- clock ---------------------------------------------------------------------------------------


def test_clock_moves_forward_and_reports_its_offset(http: httpx.Client) -> None:
    before = http.get("/_mock/clock").json()
    assert before["offset"] == 0
    after = advance(http, 90.5)
    assert after["offset"] == 90.5
    assert after == http.get("/_mock/clock").json() | {"now": after["now"]}
    assert after["now"] > before["now"]


@pytest.mark.parametrize(
    "payload", [{"advance": -1}, {"advance": "5"}, {"advance": True}, {}, [], {"advance": 1, "x": 2}]
)
def test_clock_refuses_anything_but_a_forward_move(http: httpx.Client, payload: Any) -> None:
    response = http.post("/_mock/clock", json=payload)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "/advance"
    assert http.get("/_mock/clock").json()["offset"] == 0


def test_token_is_refused_once_the_clock_passes_its_expiry(http: httpx.Client) -> None:
    token = http.get("/auth/authorize", headers={"x-api-key": "mock-api-key"}).json()["data"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    assert post_events(http, body(), auth).status_code == 201
    advance(http, 3601)
    refused = post_events(http, body(), auth)
    assert refused.status_code == 401
    assert "expired" in refused.json()["details"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


# -- rate limits ---------------------------------------------------------------------------------


def test_dev_rate_limit_refuses_a_second_quick_post_until_the_clock_moves_5_s(make_server: ServerFactory) -> None:
    server = make_server(memory=True, rate_limit="dev")
    with _client(server) as http:
        first = post_events(http, body())
        assert first.status_code == 201
        assert first.headers["X-RateLimit-Limit"] == "250"
        assert first.headers["X-RateLimit-Remaining"] == "249"
        assert first.headers["X-RateLimit-Reset"] == "5"
        second = post_events(http, body(prefix="x"))
        assert second.status_code == 429
        assert second.json()["error"] == "Too many requests"
        assert 1 <= int(second.headers["Retry-After"]) <= 5
        assert second.headers["X-RateLimit-Remaining"] == "249"
        assert stored_count(http) == 1
        advance(http, 5)
        assert post_events(http, body(prefix="y")).status_code == 201


def test_dev_rate_limit_refuses_the_251st_request_of_an_hour(make_server: ServerFactory) -> None:
    server = make_server(memory=True, rate_limit="dev")
    with _client(server) as http:
        for number in range(250):
            assert post_events(http, body(prefix=f"n{number}-")).status_code == 201
            advance(http, 5)
        refused = post_events(http, body(prefix="late"))
        assert refused.status_code == 429
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert int(refused.headers["Retry-After"]) > 5
        assert "last hour" in refused.json()["details"]
        advance(http, int(refused.headers["Retry-After"]))
        assert post_events(http, body(prefix="later")).status_code == 201
        assert stored_count(http) == 251


def test_prod_rate_limit_allows_1000_an_hour(make_server: ServerFactory) -> None:
    server = make_server(memory=True, rate_limit="prod")
    with _client(server) as http:
        assert post_events(http, body()).headers["X-RateLimit-Limit"] == "1000"


def test_rate_limits_are_per_account(make_server: ServerFactory) -> None:
    server = make_server(memory=True, rate_limit="dev")
    with _client(server) as http:
        other = http.post("/_mock/accounts").json()["data"]
        assert post_events(http, body()).status_code == 201
        other_auth = {"Authorization": f"Bearer {other['token']}", "Content-Type": "application/json"}
        assert post_events(http, body(), other_auth).status_code == 201


def test_rate_limit_is_checked_after_auth(make_server: ServerFactory) -> None:
    server = make_server(memory=True, rate_limit="dev")
    with _client(server) as http:
        assert post_events(http, body()).status_code == 201
        unauthenticated = post_events(http, body(), {"Content-Type": "application/json"})
        assert unauthenticated.status_code == 401
        assert "X-RateLimit-Limit" not in unauthenticated.headers


def test_rate_limit_headers_ride_on_error_answers_too(make_server: ServerFactory) -> None:
    server = make_server(memory=True, rate_limit="dev")
    with _client(server) as http:
        rejected = post_events(http, b'{"customers": []}')
        assert rejected.status_code == 422
        assert rejected.headers["X-RateLimit-Remaining"] == "249"


# -- faults --------------------------------------------------------------------------------------


def test_status_fault_answers_its_status_and_stores_nothing(http: httpx.Client) -> None:
    rule = http.post("/_mock/faults", json={"path": "/customers/migrate/events", "status": 503, "times": 1})
    assert rule.status_code == 201
    rule_id = rule.json()["data"]["id"]
    failed = post_events(http, body())
    assert failed.status_code == 503
    assert failed.json()["error"] == "Injected fault"
    assert failed.headers["X-Mock-Fault"] == rule_id
    assert stored_count(http) == 0
    assert post_events(http, body()).status_code == 201  # times: 1 is used up
    journal = http.get("/_mock/requests").json()["data"]
    assert [(entry["status"], entry["fault"]) for entry in journal] == [(503, rule_id), (201, None)]


def test_an_injected_429_carries_the_headers_of_a_real_one_and_a_rule_may_set_its_own(http: httpx.Client) -> None:
    http.post("/_mock/faults", json={"status": 429, "times": 1})
    limited = post_events(http, body())
    assert {
        name: limited.headers.get(name)
        for name in ("Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
    } == {"Retry-After": "1", "X-RateLimit-Limit": "1", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}
    assert "in place of this route" in limited.json()["details"]
    http.post("/_mock/faults", json={"status": 429, "headers": {"Retry-After": "2", "X-Trace": "t"}, "times": 1})
    custom = post_events(http, body())
    assert (custom.headers["Retry-After"], custom.headers["X-Trace"], custom.headers["X-RateLimit-Remaining"]) == (
        "2",
        "t",
        "0",
    )
    assert [rule["fired"] for rule in http.get("/_mock/faults").json()["data"]] == [1, 1]


def test_status_fault_can_carry_a_custom_body(http: httpx.Client) -> None:
    http.post("/_mock/faults", json={"status": 500, "body": {"error": "boom"}})
    failed = post_events(http, body())
    assert (failed.status_code, failed.json()) == (500, {"error": "boom"})


def test_delay_fault_waits_then_serves_normally(http: httpx.Client) -> None:
    http.post("/_mock/faults", json={"delay_ms": 200, "times": 1})
    response = post_events(http, body())
    assert response.status_code == 201
    assert response.elapsed.total_seconds() >= 0.2
    assert stored_count(http) == 1


@pytest.mark.parametrize("drop", [True, "before"])
def test_drop_before_closes_the_connection_and_stores_nothing(http: httpx.Client, drop: Any) -> None:
    http.post("/_mock/faults", json={"drop": drop, "times": 1})
    with pytest.raises(httpx.TransportError):
        post_events(http, body())
    assert stored_count(http) == 0
    assert http.get("/_mock/requests").json()["data"][0]["status"] is None


def test_drop_after_stores_the_batch_but_never_answers(http: httpx.Client) -> None:
    http.post("/_mock/faults", json={"drop": "after", "times": 1})
    with pytest.raises(httpx.TransportError):
        post_events(http, body(customers=2))
    assert stored_count(http) == 2
    entry = http.get("/_mock/requests").json()["data"][0]
    assert entry["status"] is None
    assert entry["batch_id"] is not None


def test_seeded_probability_faults_repeat_exactly(make_server: ServerFactory) -> None:
    outcomes = []
    for _ in range(2):
        server = make_server(memory=True)
        with _client(server) as http:
            http.post("/_mock/faults", json={"status": 500, "probability": 0.5, "seed": 7})
            outcomes.append([post_events(http, body(prefix=f"p{n}")).status_code for n in range(20)])
        server.stop()
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {201, 500}


def test_fault_scoped_to_an_account_spares_the_others(http: httpx.Client) -> None:
    other = http.post("/_mock/accounts").json()["data"]
    http.post("/_mock/faults", json={"account": other["id"], "status": 500})
    assert post_events(http, body()).status_code == 201
    other_auth = {"Authorization": f"Bearer {other['token']}", "Content-Type": "application/json"}
    assert post_events(http, body(), other_auth).status_code == 500


def test_fault_on_another_path_or_method_does_not_fire(http: httpx.Client) -> None:
    http.post("/_mock/faults", json={"path": "/auth/authorize", "status": 500})
    http.post("/_mock/faults", json={"method": "GET", "status": 500})
    assert post_events(http, body()).status_code == 201
    assert http.get("/api/storefront/v1/auth/authorize", headers={"x-api-key": "mock-api-key"}).status_code == 500


def test_faults_are_listed_and_removed(http: httpx.Client) -> None:
    first = http.post("/_mock/faults", json={"status": 500}).json()["data"]["id"]
    http.post("/_mock/faults", json={"status": 502})
    assert http.get("/_mock/faults").json()["total"] == 2
    assert http.delete(f"/_mock/faults/{first}").json() == {"removed": 1}
    assert http.delete(f"/_mock/faults/{first}").status_code == 404
    assert http.delete("/_mock/faults").json() == {"removed": 1}
    assert post_events(http, body()).status_code == 201


@pytest.mark.parametrize(
    "rule, path",
    [
        ({"status": 99}, "/status"),
        ({"status": "500"}, "/status"),
        ({"probability": 2, "status": 500}, "/probability"),
        ({"drop": "sideways"}, "/drop"),
        ({"times": 0, "status": 500}, "/times"),
        ({"colour": "red", "status": 500}, "/colour"),
        ({"path": "/x"}, ""),
        # issue 15 item 10: statuses that cannot be sent, and rules that could never fire
        ({"status": 100}, "/status"),
        ({"status": 204}, "/status"),
        ({"status": 304}, "/status"),
        ({"drop": False}, ""),
        ({"status": 500, "path": "/_mock/reset"}, "/path"),
        ({"status": 500, "method": ""}, "/method"),
        ({"status": 500, "account": ""}, "/account"),
        ({"status": 500, "headers": {"Bad Name": "x"}}, "/headers/Bad Name"),
        ({"status": 500, "headers": {"X-A": "line\r\nbreak"}}, "/headers/X-A"),
        ({"status": 500, "headers": {"X-A": 1}}, "/headers/X-A"),
        ({"status": 500, "headers": []}, "/headers"),
    ],
)
def test_bad_fault_rules_are_refused_with_the_member_named(http: httpx.Client, rule: dict[str, Any], path: str) -> None:
    response = http.post("/_mock/faults", json=rule)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == path
    assert http.get("/_mock/faults").json()["total"] == 0


def test_latency_ms_delays_masivo_answers(make_server: ServerFactory) -> None:
    server = make_server(memory=True, latency_ms=150)
    with _client(server) as http:
        assert post_events(http, body()).elapsed.total_seconds() >= 0.15


# -- queued processing and read-back -------------------------------------------------------------


def test_events_stay_queued_until_the_processing_delay_passes(make_server: ServerFactory) -> None:
    server = make_server(memory=True, processing_delay=60)
    with _client(server) as http:
        post_events(http, {"customers": [{"id": "c1", "events": [event(1)]}]})
        assert [e["status"] for e in http.get("/_mock/events").json()["data"]] == ["QUEUED"]
        assert http.get("/_mock/events?status=PROCESSED").json()["total"] == 0
        read_back = http.get("/customers/c1", headers=JSON_AUTH)
        assert read_back.status_code == 404
        advance(http, 60)
        assert [e["status"] for e in http.get("/_mock/events").json()["data"]] == ["PROCESSED"]
        assert http.get("/customers/c1", headers=JSON_AUTH).status_code == 200


def test_customer_read_back_counts_only_processed_purchases(make_server: ServerFactory) -> None:
    server = make_server(memory=True, processing_delay=10)
    with _client(server) as http:
        first = [event(1, order={"value": 20.95}), event(2, type="REGISTRATION"), event(3, order={"value": 10})]
        post_events(http, {"customers": [{"id": "c1", "events": first}]})
        advance(http, 10)
        post_events(http, {"customers": [{"id": "c1", "events": [event(4, order={"value": 1000})]}]})
        answer = http.get("/api/storefront/v1/customers/c1", headers=JSON_AUTH)
        assert answer.status_code == 200
        customer = answer.json()["data"]["customer"]
        assert customer["id"] == "c1"
        assert customer["metrics"]["lifetime"] == {
            "number_of_purchases": 2,
            "spend_total": 30.95,
            "last_visit": "2023-11-07T05:31:56Z",
        }
        assert customer["metrics"]["last_year"].keys() >= {"from", "to", "number_of_purchases", "spend_total"}


def test_customer_read_back_is_scoped_to_the_tokens_account(http: httpx.Client) -> None:
    post_events(http, {"customers": [{"id": "shared-id", "events": [event(1)]}]})
    other = http.post("/_mock/accounts").json()["data"]
    assert http.get("/customers/shared-id", headers=JSON_AUTH).status_code == 200
    foreign = http.get("/customers/shared-id", headers={"Authorization": f"Bearer {other['token']}"})
    assert foreign.status_code == 404
    assert foreign.json()["error"] == "Not found"
    assert http.get("/customers/shared-id").status_code == 401


# -- duplicates ----------------------------------------------------------------------------------


def test_duplicates_are_accepted_flagged_and_counted_as_warnings(http: httpx.Client) -> None:
    batch = {"customers": [{"id": "c1", "events": [event(1), event(2)]}]}
    assert post_events(http, batch).status_code == 201
    assert post_events(http, batch).status_code == 201
    listed = http.get("/_mock/events").json()["data"]
    assert [e["duplicate_of"] for e in listed] == [None, None, listed[0]["id"], listed[1]["id"]]
    flagged = http.get("/_mock/events?duplicates=true").json()
    assert [e["id"] for e in flagged["data"]] == [listed[2]["id"], listed[3]["id"]]
    warnings = http.get("/_mock/requests").json()["data"][1]["warnings"]
    assert [(w["path"], w["rule"]) for w in warnings] == [
        ("/customers/0/events/0", "duplicate"),
        ("/customers/0/events/1", "duplicate"),
    ]
    assert http.get("/_mock/customers/c1").json()["data"]["metrics"]["lifetime"]["number_of_purchases"] == 4


def test_same_purchase_in_another_account_or_customer_is_not_a_duplicate(http: httpx.Client) -> None:
    other = http.post("/_mock/accounts").json()["data"]
    post_events(http, {"customers": [{"id": "c1", "events": [event(1)]}, {"id": "c2", "events": [event(1)]}]})
    post_events(
        http,
        {"customers": [{"id": "c1", "events": [event(1)]}]},
        {"Authorization": f"Bearer {other['token']}", "Content-Type": "application/json"},
    )
    assert http.get("/_mock/events?duplicates=true").json()["total"] == 0


def test_duplicates_survive_a_restart(make_server: ServerFactory) -> None:
    first = make_server()
    batch = {"customers": [{"id": "c1", "events": [event(1), event(1)]}]}
    with _client(first) as http:
        post_events(http, batch)
    first.stop()
    with _client(make_server()) as http:
        assert [e["duplicate_of"] is None for e in http.get("/_mock/events").json()["data"]] == [True, False]


def test_fault_rule_numbers_may_be_written_as_whole_floats(http: httpx.Client) -> None:
    rule = http.post("/_mock/faults", json={"status": 503.0, "times": 1.0, "seed": 3.0})
    assert rule.status_code == 201
    assert (rule.json()["data"]["status"], rule.json()["data"]["times"]) == (503, 1)
    assert post_events(http, body()).status_code == 503


def test_bad_mock_bodies_are_not_called_customer_entries(http: httpx.Client) -> None:
    assert http.post("/_mock/faults", json={"status": 2.5}).json()["error"] == "Invalid request body"
    assert http.post("/_mock/clock", json={"advance": -1}).json()["error"] == "Invalid request body"


def test_answers_of_fault_rules_are_journaled_under_the_account_they_hit(http: httpx.Client) -> None:
    other = http.post("/_mock/accounts").json()["data"]
    http.post("/_mock/faults", json={"account": other["id"], "status": 503})
    http.post("/_mock/faults", json={"status": 502, "account": "nobody"})
    auth = {"Authorization": f"Bearer {other['token']}", "Content-Type": "application/json"}
    assert post_events(http, body(), auth).status_code == 503
    [entry] = http.get("/_mock/requests", params={"account": other["id"]}).json()["data"]
    assert (entry["status"], entry["account"]) == (503, other["id"])
    assert [rule["status"] for rule in http.get("/_mock/faults", params={"account": other["id"]}).json()["data"]] == [
        503
    ]
    assert http.get("/_mock/faults", params={"limit": 1, "offset": 1}).json() == {
        "data": [http.get("/_mock/faults").json()["data"][1]],
        "total": 2,
    }


def test_an_unexpected_server_error_is_journaled_as_500(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(Settings(memory=True))

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    async def post_then_read_journal() -> tuple[int, list[dict[str, Any]]]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            status = (await client.post("/customers/migrate/events", json=body(), headers=JSON_AUTH)).status_code
            return status, (await client.get("/_mock/requests")).json()["data"]

    monkeypatch.setattr(app.state.services.store, "store_encoded", broken)
    try:
        status, journal = asyncio.run(post_then_read_journal())
    finally:
        app.state.services.close()
    assert status == 500
    assert [entry["status"] for entry in journal] == [500]
