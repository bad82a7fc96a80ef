"""Issue 13: GET /_mock/report, the dry-run report: refusals grouped by endpoint, rule and path, exact
however small --journal-size is; records by kind and status; processing failures by reason."""

from __future__ import annotations

import json
from typing import Any

import httpx
from click.testing import CliRunner
from conftest import AUTH, JSON_AUTH, client_for, post_events
from payloads import CUSTOMERS_PATH, body, event, profile, profiles_body, with_change

from mock_masivo import MockMasivoServer
from mock_masivo.cli import main

BAD_DATE = "not a date"


def bad_batch() -> dict[str, Any]:
    """Two customers, three events, two of them with an issued_at that is not a date-time."""
    payload = body(customers=2, events_each=2)
    payload = with_change(payload, "/customers/0/events/1/issued_at", BAD_DATE)
    return with_change(payload, "/customers/1/events/0/issued_at", BAD_DATE)


def report(http: httpx.Client, **params: str) -> dict[str, Any]:
    answer = http.get("/_mock/report", params=params)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def test_refusals_are_counted_exactly_when_the_request_log_keeps_one_call(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, journal_size=1)
    with client_for(server.url) as http:
        for _ in range(3):
            assert post_events(http, bad_batch()).status_code == 422
        assert http.post("/customers/migrate/events", json=body(), headers=JSON_AUTH).status_code == 201
        assert post_events(http, body(), headers={"Content-Type": "application/json"}).status_code == 401
        assert len(http.get("/_mock/requests").json()["data"]) == 1
        data = report(http)
    assert data["requests"] == {"total": 5, "by_status": {"201": 1, "401": 1, "422": 3}}
    assert data["accepted"] == {"profile": 0, "transaction": 0, "event": 1, "batches": 1}
    assert data["processed"] == {"profile": 0, "transaction": 0, "event": 1}
    dates, unauthorized = data["violations"]
    assert {key: dates[key] for key in ("endpoint", "rule", "path", "count", "requests", "examples")} == {
        "endpoint": "POST /customers/migrate/events",
        "rule": "format",
        "path": "/customers/*/events/*/issued_at",
        "count": 6,
        "requests": 3,
        "examples": ["req_1", "req_2", "req_3"],
    }
    assert dates["message"] == "must be a valid date-time (RFC 3339, e.g. 2023-11-07T05:31:56Z)"
    assert (unauthorized["endpoint"], unauthorized["count"], unauthorized["requests"], unauthorized["examples"]) == (
        "POST /customers/migrate/events",
        1,
        1,
        ["req_5"],
    )
    assert [(minute["accepted"], minute["refused"]) for minute in data["timeline"]] in ([(1, 4)], [(0, 3), (1, 1)])


def test_processing_failures_are_grouped_by_kind_and_reason(http: httpx.Client) -> None:
    http.post(CUSTOMERS_PATH, json=profiles_body(profile("ana", email="a@example.com")), headers=JSON_AUTH)
    for later in (profile("bea", email="a@example.com"), profile("cy", email="A@example.com")):
        assert http.post(CUSTOMERS_PATH, json=profiles_body(later), headers=JSON_AUTH).status_code == 201
    data = report(http)
    assert data["failures"] == [
        {"kind": "profile", "reason": "email_taken", "count": 2, "examples": ["prf_2", "prf_3"]}
    ]
    assert (data["accepted"]["profile"], data["processed"]["profile"], data["failed"]["profile"]) == (3, 1, 2)
    assert data["customers"] == {"with_profile": 1, "events_without_profile": 0, "with_transactions": 0}


def test_an_accounts_report_is_its_own_and_its_reset_clears_it(http: httpx.Client) -> None:
    ana, bea = (http.post("/_mock/accounts").json()["data"] for _ in range(2))
    for who in (ana, bea):
        headers = {"Authorization": f"Bearer {who['token']}", "Content-Type": "application/json"}
        assert post_events(http, bad_batch(), headers=headers).status_code == 422
        assert post_events(http, body(), headers=headers).status_code == 201
    assert http.post("/_mock/reset", params={"account": ana["id"]}).status_code == 200
    emptied, kept = report(http, account=ana["id"]), report(http, account=bea["id"])
    assert (emptied["requests"], emptied["violations"], emptied["timeline"]) == ({"total": 0, "by_status": {}}, [], [])
    assert emptied["accepted"]["event"] == 0
    assert kept["requests"] == {"total": 2, "by_status": {"201": 1, "422": 1}}
    assert kept["violations"][0]["count"] == 2 and kept["accepted"]["event"] == 1
    assert report(http)["requests"]["total"] == 2
    http.post("/_mock/reset")
    assert report(http)["requests"] == {"total": 0, "by_status": {}}


def test_hostile_ids_come_back_verbatim_as_json(http: httpx.Client) -> None:
    hostile = '<img src=x onerror=alert(1)><script>alert("x")</script>'
    payload = {"customers": [{"id": hostile, "events": [event(1, issued_at=hostile)]}]}
    assert post_events(http, payload).status_code == 422
    violation = report(http)["violations"][0]
    assert (violation["path"], violation["message"]) == (
        "/customers/*/events/*/issued_at",
        "must be a valid date-time (RFC 3339, e.g. 2023-11-07T05:31:56Z)",
    )
    assert report(http)["failures"] == []


def test_an_unknown_account_is_a_404(http: httpx.Client) -> None:
    answer = http.get("/_mock/report", params={"account": "acc_nobody"})
    assert answer.status_code == 404 and "acc_nobody" in answer.json()["details"]
    assert http.get("/_mock/report", headers=AUTH).status_code == 200


def test_the_cli_prints_the_report_as_tables_and_as_json(server: MockMasivoServer, http: httpx.Client) -> None:
    assert post_events(http, bad_batch()).status_code == 422
    assert post_events(http, body()).status_code == 201
    printed = CliRunner().invoke(main, ["report", "--url", server.url])
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert lines[2] == "Requests: 2 (201: 1, 422: 1)"
    assert "event               1          1       0       0" in lines
    violation = next(line for line in lines if "/customers/*/events/*/issued_at" in line)
    assert violation.split()[:5] == ["2", "1", "POST", "/customers/migrate/events", "format"]
    as_json = CliRunner().invoke(main, ["report", "--url", server.url, "--json"])
    assert json.loads(as_json.output)["data"] == report(http)


def test_the_cli_names_the_flag_when_the_server_or_account_is_wrong(server: MockMasivoServer) -> None:
    unknown = CliRunner().invoke(main, ["report", "--url", server.url, "--account", "acc_nobody"])
    assert unknown.exit_code == 2 and "--account" in unknown.output and "acc_nobody" in unknown.output
    closed = CliRunner().invoke(main, ["report", "--url", "http://127.0.0.1:9"])
    assert closed.exit_code == 2 and "cannot reach the server at --url http://127.0.0.1:9" in closed.output


def test_the_console_says_why_each_request_was_refused(http: httpx.Client, caplog: Any) -> None:
    caplog.set_level("INFO", logger="mock_masivo")
    assert post_events(http, bad_batch()).status_code == 422
    assert post_events(http, body()).status_code == 201
    refused = [record.getMessage() for record in caplog.records if record.getMessage().startswith("refused")]
    assert refused == [
        "refused POST /api/storefront/v1/customers/migrate/events with 422: "
        "/customers/0/events/1/issued_at: must be a valid date-time (RFC 3339, e.g. "
        "2023-11-07T05:31:56Z) (and 1 more)"
    ]
