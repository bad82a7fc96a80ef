"""Issue 12: Masivo's queued processing (email_taken, unknown_customer, already_migrated,
balance_mismatch), --processing-delay on the account's clock, and read-back through Masivo's routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import AUTH, JSON_AUTH, MIGRATE, client_for
from payloads import (
    CUSTOMERS_PATH,
    TRANSACTIONS_PATH,
    body,
    event,
    profile,
    profiles_body,
    transaction,
    transactions_body,
)

from mock_masivo import MockMasivoServer

CUSTOMER = "/api/storefront/v1/customers/"


def post(http: httpx.Client, path: str, payload: Any, auth: dict[str, str] = JSON_AUTH) -> httpx.Response:
    response = http.post(path, json=payload, headers=auth)
    assert response.status_code == 201, response.text
    return response


def statuses(http: httpx.Client, path: str, **params: Any) -> list[tuple[str, str, str | None]]:
    records = http.get(path, params=params).json()["data"]
    return [(r["id"], r["status"], r["failure"]["reason"] if r["failure"] else None) for r in records]


def test_an_email_held_by_another_processed_customer_fails_email_taken(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", email="ana@example.com")))
    post(http, CUSTOMERS_PATH, profiles_body(profile("bea", email="ANA@Example.com"), profile("cy")))
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", name="Ana B.")))
    assert statuses(http, "/_mock/profiles") == [
        ("prf_1", "PROCESSED", None),
        ("prf_2", "FAILED", "email_taken"),
        ("prf_3", "PROCESSED", None),
        ("prf_4", "PROCESSED", None),
    ]
    failure = http.get("/_mock/profiles/prf_2").json()["data"]["failure"]
    assert failure["details"] == (
        "the email 'ANA@Example.com' already belongs to customer 'ana' of this account "
        "(emails are unique per account, compared ignoring case)"
    )
    assert http.get(CUSTOMER + "bea", headers=AUTH).status_code == 404  # a failed profile makes no customer


def test_a_customer_migrated_again_replaces_its_profile_and_frees_its_old_email(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", email="old@example.com", balance={"r": 10})))
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", email="new@example.com", balance={"r": 3})))
    post(http, CUSTOMERS_PATH, profiles_body(profile("bea", email="old@example.com")))
    assert [status for _, status, _ in statuses(http, "/_mock/profiles")] == ["PROCESSED"] * 3
    customer = http.get(CUSTOMER + "ana", headers=AUTH).json()["data"]
    assert customer["customer"]["email"] == "new@example.com"
    assert customer["wallet"]["totals"] == [{"total": 3, "reward_id": "r", "expiration_date": None, "reward": None}]


def test_transactions_of_a_customer_without_a_processed_profile_fail_unknown_customer(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana")))
    post(http, CUSTOMERS_PATH, profiles_body(profile("bea", email="ANA@example.com")))  # fails: email_taken
    post(
        http,
        TRANSACTIONS_PATH,
        transactions_body({"zoe": [transaction(0)], "bea": [transaction(0)], "ana": [transaction(0)]}),
    )
    assert statuses(http, "/_mock/transactions") == [
        ("trx_1", "FAILED", "unknown_customer"),
        ("trx_2", "FAILED", "unknown_customer"),
        ("trx_3", "PROCESSED", None),
    ]


def test_transactions_must_add_up_to_the_migrated_balance_per_reward(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", balance={"pts": 10.3, "cash": 2}), profile("bea")))
    post(
        http,
        TRANSACTIONS_PATH,
        transactions_body(
            {
                "ana": [
                    transaction(10.1, "pts"),
                    transaction(0.2, "pts"),
                    transaction(5, "cash"),
                    transaction(-3, "cash"),
                ],
                "bea": [transaction(1, "pts")],
            }
        ),
    )
    assert statuses(http, "/_mock/transactions", customer_id="ana") == [
        (f"trx_{n}", "PROCESSED", None) for n in range(1, 5)
    ]  # 10.1 + 0.2 is 10.3 to 6 decimals
    [(_, status, reason)] = statuses(http, "/_mock/transactions", customer_id="bea")
    assert (status, reason) == ("FAILED", "balance_mismatch")
    details = http.get("/_mock/transactions/trx_5").json()["data"]["failure"]["details"]
    assert details == (
        "the amounts do not add up to the customer's balance: reward 'pts': transactions add up "
        "to 1, the migrated balance is 0"
    )


def test_a_balance_reward_without_transactions_mismatches_unless_zero(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", balance={"pts": 5, "zero": 0})))
    post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(5, "cash")]}))
    [(_, status, reason)] = statuses(http, "/_mock/transactions")
    assert (status, reason) == ("FAILED", "balance_mismatch")
    assert "reward 'cash'" in http.get("/_mock/transactions/trx_1").json()["data"]["failure"]["details"]
    assert "reward 'pts'" in http.get("/_mock/transactions/trx_1").json()["data"]["failure"]["details"]
    post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(5, "pts")]}))
    assert statuses(http, "/_mock/transactions")[1] == ("trx_2", "PROCESSED", None)


def test_transactions_are_migrated_once_per_customer(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana")))
    post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(4, "r"), transaction(-4, "r")]}))
    post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(0, "r")]}))
    assert statuses(http, "/_mock/transactions") == [
        ("trx_1", "PROCESSED", None),
        ("trx_2", "PROCESSED", None),
        ("trx_3", "FAILED", "already_migrated"),
    ]


def test_records_stay_queued_until_the_processing_delay_passes_on_the_accounts_clock(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, processing_delay=60)
    with client_for(server.url) as http:
        post(http, CUSTOMERS_PATH, profiles_body(profile("ana", balance={"r": 1})))
        post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(1, "r")]}))
        post(http, MIGRATE, body(prefix="ana"))
        assert statuses(http, "/_mock/profiles") == [("prf_1", "QUEUED", None)]
        assert statuses(http, "/_mock/transactions") == [("trx_1", "QUEUED", None)]
        assert http.get(CUSTOMER + "ana0", headers=AUTH).status_code == 404
        assert http.get(CUSTOMER + "ana", headers=AUTH).status_code == 404
        assert http.post("/_mock/clock", params={"account": "default"}, json={"advance": 60}).status_code == 200
        assert statuses(http, "/_mock/profiles") == [("prf_1", "PROCESSED", None)]
        assert statuses(http, "/_mock/transactions") == [("trx_1", "PROCESSED", None)]
        assert http.get(CUSTOMER + "ana", headers=AUTH).status_code == 200


def test_a_failed_record_stays_queued_before_its_time_and_shows_no_failure_yet(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, processing_delay=30)
    with client_for(server.url) as http:
        post(http, TRANSACTIONS_PATH, transactions_body({"nobody": [transaction(1)]}))
        assert statuses(http, "/_mock/transactions", status="QUEUED") == [("trx_1", "QUEUED", None)]
        assert statuses(http, "/_mock/transactions", status="FAILED") == []
        http.post("/_mock/clock", json={"advance": 30})
        assert statuses(http, "/_mock/transactions", status="FAILED") == [("trx_1", "FAILED", "unknown_customer")]


def test_outcomes_survive_a_restart_of_a_data_dir(make_server: Any) -> None:
    first: MockMasivoServer = make_server()
    with client_for(first.url) as http:
        post(http, CUSTOMERS_PATH, profiles_body(profile("ana", balance={"r": 2})))
        post(http, CUSTOMERS_PATH, profiles_body(profile("bea", email="ana@example.com")))
        post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(1, "r")]}))
        post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(2, "r")]}))
        before = [http.get(path).json() for path in ("/_mock/profiles", "/_mock/transactions", "/_mock/batches")]
    data = first.settings.data
    first.stop()
    second: MockMasivoServer = make_server(data=data)
    with client_for(second.url) as http:
        after = [http.get(path).json() for path in ("/_mock/profiles", "/_mock/transactions", "/_mock/batches")]
        assert after == before
        assert [t["status"] for t in after[1]["data"]] == ["FAILED", "PROCESSED"]
        post(http, CUSTOMERS_PATH, profiles_body(profile("cy")))
        assert http.get("/_mock/profiles").json()["data"][-1]["id"] == "prf_3"  # ids are not reused


def test_resetting_an_account_forgets_its_outcomes(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana")))
    post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(0)]}))
    assert http.post("/_mock/reset").json() == {
        "batches": 2,
        "profiles": 1,
        "transactions": 1,
        "events": 0,
        "requests": 2,
    }
    post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(0)]}))
    assert statuses(http, "/_mock/transactions") == [("trx_2", "FAILED", "unknown_customer")]


# -- read-back -----------------------------------------------------------------------------------


def test_get_customer_shows_the_profile_and_a_wallet_of_its_balance(http: httpx.Client) -> None:
    lines = [
        {"reward_id": "pts", "amount": 10, "expiration_date": "2027-01-01T00:00:00Z", "brand_id": "b1"},
        {"reward_id": "pts", "amount": 2.5, "expiration_date": "2027-01-01T00:00:00Z"},
        {"reward_id": "pts", "amount": 1, "issued_at": "2026-01-01T00:00:00Z"},
    ]
    sent = profile("ana", gender="FEMALE", metadata={"tier": "<b>gold</b>"}) | {"balance": lines}
    post(http, CUSTOMERS_PATH, profiles_body(sent))
    data = http.get(CUSTOMER + "ana", headers=AUTH).json()["data"]
    customer, wallet = data["customer"], data["wallet"]
    assert {key: customer[key] for key in ("id", "name", "email", "gender", "metadata", "status", "tier_id")} == {
        "id": "ana",
        "name": "Customer ana",
        "email": "ana@example.com",
        "gender": "FEMALE",
        "metadata": {"tier": "<b>gold</b>"},
        "status": "ACTIVE",
        "tier_id": None,
    }
    assert "balance" not in customer
    assert customer["metrics"]["lifetime"] == {"number_of_purchases": 0, "spend_total": 0, "last_visit": None}
    assert wallet["owner_id"] == "ana"
    assert wallet["lines"][0] == {
        "amount": 10,
        "reward_id": "pts",
        "brand_id": "b1",
        "issued_at": None,
        "expiration_date": "2027-01-01T00:00:00Z",
        "campaign_id": None,
        "reservation_expires_at": None,
    }
    assert wallet["totals"] == [
        {"total": 12.5, "reward_id": "pts", "expiration_date": "2027-01-01T00:00:00Z", "reward": None},
        {"total": 1, "reward_id": "pts", "expiration_date": None, "reward": None},
    ]
    assert http.get(CUSTOMER + "ana", headers=AUTH).json()["data"]["wallet"]["id"] == wallet["id"]


def test_metrics_come_from_purchases_else_from_the_migrated_metrics(http: httpx.Client) -> None:
    migrated = {"lifetime": {"spend_total": 99, "number_of_purchases": 7}}
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", metrics=migrated), profile("bea", metrics=migrated)))
    post(http, MIGRATE, {"customers": [{"id": "bea", "events": [event(1)]}]})
    assert http.get(CUSTOMER + "ana", headers=AUTH).json()["data"]["customer"]["metrics"] == migrated
    lifetime = http.get(CUSTOMER + "bea", headers=AUTH).json()["data"]["customer"]["metrics"]["lifetime"]
    assert lifetime == {"number_of_purchases": 1, "spend_total": 11.5, "last_visit": "2023-11-07T05:31:56Z"}


def test_a_customer_known_only_from_events_still_reads_back_with_an_empty_wallet(http: httpx.Client) -> None:
    post(http, MIGRATE, body(prefix="evt-only-"))
    data = http.get(CUSTOMER + "evt-only-0", headers=AUTH).json()["data"]
    assert data["customer"]["id"] == "evt-only-0"
    assert data["wallet"]["lines"] == [] and data["wallet"]["totals"] == []


def test_customer_transactions_are_newest_first_within_the_last_92_days(http: httpx.Client) -> None:
    http.post("/_mock/clock", json={"to": "2027-03-01T00:00:00Z"})
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", balance={"r": 6, "s": 1})))
    post(
        http,
        TRANSACTIONS_PATH,
        transactions_body(
            {
                "ana": [
                    transaction(1, "r", issued_at="2026-11-28T23:59:59Z"),  # just over 92 days before now: outside
                    transaction(2, "r", issued_at="2026-12-15T00:00:00Z"),
                    transaction(3, "r", issued_at="2027-02-01T00:00:00Z", brand_id="b1"),
                    transaction(1, "s", issued_at="2025-06-01T00:00:00Z", type="MIGRATION"),
                ]
            }
        ),
    )

    def amounts(**params: Any) -> list[float]:
        response = http.get(CUSTOMER + "ana/transactions", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return [transaction["amount"] for transaction in response.json()["data"]]

    assert amounts() == [3, 2]
    assert amounts(year=2026) == [2, 1]
    assert amounts(year=2025) == [1]
    assert amounts(year=2027, brand_id="b1") == [3]
    assert amounts(year=2026, reward_id="s") == []
    assert amounts(year=2025, type="MIGRATION") == [1]
    [newest] = http.get(CUSTOMER + "ana/transactions", headers=AUTH).json()["data"][:1]
    assert newest["id"] == "trx_3" and newest["created_at"].startswith("2027-03-01T")


@pytest.mark.parametrize("year", ["2019", "20x6", "99999", "", "9999"])
def test_a_bad_year_is_a_422_naming_the_parameter(http: httpx.Client, year: str) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana")))
    refused = http.get(CUSTOMER + "ana/transactions", params={"year": year}, headers=AUTH)
    assert refused.status_code == 422
    assert "'year'" in refused.json()["details"]


def test_transactions_of_an_unknown_customer_are_a_404(http: httpx.Client) -> None:
    assert http.get(CUSTOMER + "nobody/transactions", headers=AUTH).status_code == 404


def test_one_account_never_reads_another_accounts_customers(http: httpx.Client) -> None:
    other = http.post("/_mock/accounts").json()["data"]
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana")))
    mine = {"Authorization": f"Bearer {other['token']}"}
    assert http.get(CUSTOMER + "ana", headers=mine).status_code == 404
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana")), auth={**mine, "Content-Type": "application/json"})
    # the same email in another account is no conflict: emails are unique per account
    assert [s for _, s, _ in statuses(http, "/_mock/profiles")] == ["PROCESSED", "PROCESSED"]


def test_inspection_of_a_customer_shows_every_kind(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("ana", balance={"r": 1})))
    post(http, TRANSACTIONS_PATH, transactions_body({"ana": [transaction(1, "r")]}))
    post(http, MIGRATE, {"customers": [{"id": "ana", "events": [event(1)]}]})
    data = http.get("/_mock/customers/ana").json()["data"]
    assert (data["profile"]["id"], data["profile"]["status"]) == ("prf_1", "PROCESSED")
    assert data["wallet"]["totals"][0]["total"] == 1
    assert [t["id"] for t in data["transactions"]] == ["trx_1"]
    assert [e["id"] for e in data["events"]] == ["evt_1"]
    assert data["events"][0]["failure"] is None
    listed = http.get("/_mock/customers").json()["data"]
    assert [(c["id"], c["profile"], c["transactions"], c["events"]) for c in listed] == [("ana", True, 1, 1)]
    post(http, TRANSACTIONS_PATH, transactions_body({"tx-only": [transaction(1)]}))
    assert http.get("/_mock/customers").json()["total"] == 2
    assert http.get("/_mock/customers/tx-only").json()["data"]["profile"] is None


def test_a_customers_events_come_a_page_at_a_time_with_their_total(http: httpx.Client) -> None:
    """Issue 15 item 7: a customer with 200k events was one 63 MiB answer."""
    for number in range(3):
        post(http, MIGRATE, {"customers": [{"id": "busy", "events": [event(number * 1000 + n) for n in range(1000)]}]})
    whole = http.get("/_mock/customers/busy").json()["data"]
    assert (len(whole["events"]), whole["events_total"]) == (1000, 3000)  # the default page: the first 1000
    assert whole["metrics"]["lifetime"]["number_of_purchases"] == 3000  # metrics count every event
    page = http.get("/_mock/customers/busy", params={"limit": 2, "offset": 2999}).json()["data"]
    assert [stored["id"] for stored in page["events"]] == ["evt_3000"]
    assert page["events_total"] == 3000
    refused = http.get("/_mock/customers/busy", params={"limit": 1001})
    assert refused.status_code == 422 and "'limit' must be at most 1000" in refused.json()["details"]
