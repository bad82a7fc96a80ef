"""Issue 12: every account has its own clock (server clock plus its own offset): moving one never
moves another's, and everything time-dependent of an account reads its clock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import JSON_AUTH, MIGRATE, client_for
from payloads import body

from mock_masivo import MockMasivoServer


def new_account(http: httpx.Client) -> dict[str, str]:
    account: dict[str, str] = http.post("/_mock/accounts").json()["data"]
    return account


def clock(http: httpx.Client, account: str | None = None) -> dict[str, Any]:
    response = http.get("/_mock/clock", params={"account": account} if account else {})
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


def test_moving_one_accounts_clock_moves_no_other(http: httpx.Client) -> None:
    ana, bea = new_account(http), new_account(http)
    moved = http.post("/_mock/clock", params={"account": ana["id"]}, json={"advance": 3600})
    assert moved.status_code == 200
    assert moved.json()["offset"] == 3600 and moved.json()["account"] == ana["id"]
    assert clock(http, ana["id"])["offset"] == 3600
    assert clock(http, bea["id"])["offset"] == 0
    assert clock(http)["offset"] == 0
    http.post("/_mock/clock", json={"advance": 10})  # the server clock: every account follows it
    assert (clock(http, ana["id"])["offset"], clock(http, bea["id"])["offset"]) == (3610, 10)


def test_a_token_expires_on_its_own_accounts_clock(http: httpx.Client) -> None:
    ana, bea = new_account(http), new_account(http)
    tokens = {
        who["id"]: http.get("/auth/authorize", headers={"x-api-key": who["api_key"]}).json()["data"]
        for who in (ana, bea)
    }
    http.post("/_mock/clock", params={"account": ana["id"]}, json={"advance": 3601})

    def status(account: str) -> int:
        headers = {**JSON_AUTH, "Authorization": f"Bearer {tokens[account]}"}
        return http.post(MIGRATE, json=body(), headers=headers).status_code

    assert (status(ana["id"]), status(bea["id"])) == (401, 201)


def test_records_are_stamped_on_their_accounts_clock(http: httpx.Client) -> None:
    ana = new_account(http)
    http.post("/_mock/clock", params={"account": ana["id"]}, json={"to": "2030-05-01T12:00:00Z"})
    headers = {**JSON_AUTH, "Authorization": f"Bearer {ana['token']}"}
    assert http.post(MIGRATE, json=body(), headers=headers).status_code == 201
    assert http.post(MIGRATE, json=body()).status_code == 401  # no credentials: never stored
    assert http.post(MIGRATE, json=body(), headers=JSON_AUTH).status_code == 201
    stamps = {e["account"]: e["received_at"] for e in http.get("/_mock/events").json()["data"]}
    assert stamps[ana["id"]].startswith("2030-05-01T12:00:0")
    assert stamps["default"] < "2030"


def test_rate_limits_read_the_accounts_clock(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, rate_limit="dev")
    with client_for(server.url) as http:
        ana = new_account(http)
        headers = {**JSON_AUTH, "Authorization": f"Bearer {ana['token']}"}
        assert http.post(MIGRATE, json=body(), headers=headers).status_code == 201
        assert http.post(MIGRATE, json=body(), headers=headers).status_code == 429
        http.post("/_mock/clock", params={"account": ana["id"]}, json={"advance": 5})
        assert http.post(MIGRATE, json=body(), headers=headers).status_code == 201


def test_to_moves_forward_to_an_instant_and_never_back(http: httpx.Client) -> None:
    moved = http.post("/_mock/clock", json={"to": "2031-01-01T00:00:00+00:00"}).json()
    assert moved["now"].startswith("2031-01-01T00:00:0")
    back = http.post("/_mock/clock", json={"to": "2030-01-01T00:00:00Z"})
    assert back.status_code == 422
    assert back.json()["errors"][0]["path"] == "/to" and back.json()["errors"][0]["rule"] == "minimum"


@pytest.mark.parametrize("instant", ["2031-01-01", "2031-01-01T00:00:00", "soon", 1, None])
def test_to_must_be_a_date_time_with_a_zone(http: httpx.Client, instant: Any) -> None:
    refused = http.post("/_mock/clock", json={"to": instant})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "path": "/to",
            "rule": "format",
            "message": "must be an RFC 3339 date-time with a time zone, e.g. 2027-01-01T00:00:00Z",
        }
    ]
    assert clock(http)["offset"] == 0


def test_an_unknown_account_has_no_clock(http: httpx.Client) -> None:
    assert http.get("/_mock/clock", params={"account": "acc_nope"}).status_code == 404
    assert http.post("/_mock/clock", params={"account": "acc_nope"}, json={"advance": 1}).status_code == 404


def test_resetting_an_account_resets_its_clock(http: httpx.Client) -> None:
    ana = new_account(http)
    http.post("/_mock/clock", params={"account": ana["id"]}, json={"advance": 99})
    http.post("/_mock/reset", params={"account": ana["id"]})
    assert clock(http, ana["id"])["offset"] == 0


def test_clocks_survive_a_restart_and_an_accounts_reset_clock_stays_reset(make_server: Any) -> None:
    first: MockMasivoServer = make_server()
    with client_for(first.url) as http:
        ana, bea = new_account(http), new_account(http)
        http.post("/_mock/clock", json={"advance": 100})
        http.post("/_mock/clock", params={"account": ana["id"]}, json={"advance": 50})
        http.post("/_mock/clock", params={"account": bea["id"]}, json={"advance": 7})
        http.post("/_mock/reset", params={"account": bea["id"]})
        token = http.get("/auth/authorize", headers={"x-api-key": ana["api_key"]}).json()["data"]
    data = first.settings.data
    first.stop()
    second: MockMasivoServer = make_server(data=data)
    with client_for(second.url) as http:
        assert (clock(http)["offset"], clock(http, ana["id"])["offset"], clock(http, bea["id"])["offset"]) == (
            100,
            150,
            100,
        )
        headers = {**JSON_AUTH, "Authorization": f"Bearer {token}"}  # issued at the account's time: still valid
        assert http.post(MIGRATE, json=body(), headers=headers).status_code == 201


def test_no_clock_may_come_within_a_year_of_9999(http: httpx.Client) -> None:
    ana = new_account(http)
    to_mid_9997 = {"to": "9997-06-01T00:00:00Z"}
    assert http.post("/_mock/clock", params={"account": ana["id"]}, json=to_mid_9997).status_code == 200
    refused = http.post("/_mock/clock", params={"account": ana["id"]}, json={"to": "9998-01-01T00:00:00Z"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["rule"] == "maximum"
    # the server clock carries every account along: it may not push ana's past the limit either
    assert http.post("/_mock/clock", json={"advance": 366 * 86400}).status_code == 422
    assert http.post("/_mock/clock", json={"advance": 86400}).status_code == 200
    headers = {"Authorization": f"Bearer {ana['token']}"}
    assert http.get("/api/storefront/v1/customers/nobody/transactions", headers=headers).status_code == 404


def test_a_negative_advance_is_refused_as_below_the_minimum(http: httpx.Client) -> None:
    refused = http.post("/_mock/clock", json={"advance": -5})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"path": "/advance", "rule": "minimum", "message": "must be 0 or more, got -5: the clock only moves forward"}
    ]
    assert http.post("/_mock/clock", json={"advance": 0}).status_code == 200
