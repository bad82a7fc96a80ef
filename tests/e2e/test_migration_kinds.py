"""Issue 12: POST /customers/migrate and /customers/migrate/transactions share every guarantee of the
events endpoint: Masivo's examples accepted, all-or-nothing batches, violations with pointers and rules,
rate limits counted across the three endpoints, faults, and the request journal."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from conftest import AUTH, JSON_AUTH, MIGRATE, client_for
from payloads import (
    CUSTOMERS_PATH,
    TRANSACTIONS_PATH,
    body,
    example,
    profile,
    profiles_body,
    transaction,
    transactions_body,
)

from mock_masivo import MockMasivoServer

BASE = "/api/storefront/v1"


def post(http: httpx.Client, path: str, payload: Any) -> httpx.Response:
    return http.post(path, json=payload, headers=JSON_AUTH)


@pytest.mark.parametrize("prefix", ["", BASE])
def test_masivo_examples_are_accepted_as_published_and_read_back_unchanged(http: httpx.Client, prefix: str) -> None:
    customers, transactions = example("customers"), example("transactions")
    accepted = post(http, prefix + "/customers/migrate", customers)
    assert (accepted.status_code, accepted.json()) == (201, {})
    assert accepted.headers["X-Mock-Batch-Id"] == "bat_1"
    accepted = post(http, prefix + "/customers/migrate/transactions", transactions)
    assert (accepted.status_code, accepted.headers["X-Mock-Batch-Id"]) == (201, "bat_2")
    [stored_profile] = http.get("/_mock/profiles").json()["data"]
    assert stored_profile["customer"] == customers["customers"][0]
    assert (stored_profile["id"], stored_profile["batch_id"]) == ("prf_1", "bat_1")
    assert stored_profile["status"] == "PROCESSED"
    assert stored_profile["failure"] is None
    [stored_transaction] = http.get("/_mock/transactions").json()["data"]
    assert stored_transaction["transaction"] == transactions["customers"][0]["transactions"][0]
    assert (stored_transaction["customer_id"], stored_transaction["status"]) == ("<string>", "PROCESSED")


def test_the_guide_example_of_customers_is_accepted(http: httpx.Client) -> None:
    assert post(http, CUSTOMERS_PATH, example("customers-guide")).status_code == 201


@pytest.mark.parametrize(
    ("path", "payload", "pointer", "rule"),
    [
        (
            CUSTOMERS_PATH,
            profiles_body(profile("a"), profile("b", email="not-an-email")),
            "/customers/1/email",
            "format",
        ),
        (CUSTOMERS_PATH, profiles_body({"name": "no id"}), "/customers/0", "required"),
        (CUSTOMERS_PATH, profiles_body(profile("a", gender="OTHER")), "/customers/0/gender", "enum"),
        (
            CUSTOMERS_PATH,
            profiles_body(profile("a", balance={"r": 1}) | {"balance": [{"amount": 1}]}),
            "/customers/0/balance/0",
            "required",
        ),
        (
            CUSTOMERS_PATH,
            profiles_body(profile("a"), profile("a", email="other@example.com")),
            "/customers/1/id",
            "unique_id",
        ),
        (
            CUSTOMERS_PATH,
            profiles_body(profile("a", email="Same@Example.com"), profile("b", email="same@example.COM")),
            "/customers/1/email",
            "unique_email",
        ),
        (CUSTOMERS_PATH, {"customers": []}, "/customers", "minItems"),
        (
            TRANSACTIONS_PATH,
            transactions_body({"a": [transaction(1, type="GIFT")]}),
            "/customers/0/transactions/0/type",
            "enum",
        ),
        (
            TRANSACTIONS_PATH,
            transactions_body({"a": [transaction(1, issued_at="yesterday")]}),
            "/customers/0/transactions/0/issued_at",
            "format",
        ),
        (TRANSACTIONS_PATH, transactions_body({"a": []}), "/customers/0/transactions", "minItems"),
        (TRANSACTIONS_PATH, {"customers": [{"id": "a"}]}, "/customers/0", "required"),
        (
            TRANSACTIONS_PATH,
            transactions_body({f"c{n}": [transaction(1)] * 250 for n in range(5)}),
            "/customers",
            "max_transactions_per_batch",
        ),
    ],
)
def test_a_bad_batch_is_refused_with_its_pointer_and_rule_and_nothing_is_stored(
    http: httpx.Client, path: str, payload: Any, pointer: str, rule: str
) -> None:
    refused = post(http, path, payload)
    assert refused.status_code == 422, refused.text
    assert {"path": pointer, "rule": rule} in [{"path": e["path"], "rule": e["rule"]} for e in refused.json()["errors"]]
    assert refused.json()["error"] == "Invalid customer entry"
    assert http.get("/_mock/profiles").json()["total"] == 0
    assert http.get("/_mock/transactions").json()["total"] == 0
    assert http.get("/_mock/batches").json()["total"] == 0
    [logged] = http.get("/_mock/requests", params={"status": 422}).json()["data"]
    assert logged["path"] == path


def test_unique_email_names_the_later_customer_and_says_why(http: httpx.Client) -> None:
    payload = profiles_body(profile("a", email="ana@example.com"), profile("b"), profile("c", email="ANA@example.com"))
    [violation] = post(http, CUSTOMERS_PATH, payload).json()["errors"]
    assert violation == {
        "path": "/customers/2/email",
        "rule": "unique_email",
        "message": "the same email (ignoring case) belongs to another customer id earlier in this batch",
    }


def test_unknown_members_are_stored_with_a_warning_and_refused_when_strict(make_server: Any) -> None:
    payload = profiles_body(profile("a", loyalty_level="gold"))
    lenient = make_server(memory=True)
    with client_for(lenient.url) as http:
        assert post(http, CUSTOMERS_PATH, payload).status_code == 201
        assert http.get("/_mock/profiles").json()["data"][0]["customer"]["loyalty_level"] == "gold"
        [entry] = http.get("/_mock/requests").json()["data"]
        assert entry["warnings"] == [
            {
                "path": "/customers/0/loyalty_level",
                "message": "unknown member 'loyalty_level'",
                "rule": "additionalProperties",
            }
        ]
    strict = make_server(memory=True, strict=True)
    with client_for(strict.url) as http:
        assert post(http, CUSTOMERS_PATH, payload).status_code == 422


@pytest.mark.parametrize("path", [CUSTOMERS_PATH, TRANSACTIONS_PATH])
def test_the_new_endpoints_check_credentials_content_type_and_json_first(http: httpx.Client, path: str) -> None:
    assert http.post(path, json=profiles_body(profile("a"))).status_code == 401
    assert http.post(path, content=b"{}", headers={"Authorization": "Bearer mock-token"}).status_code == 415
    assert http.post(path, content=b"{nope", headers=JSON_AUTH).status_code == 400
    assert http.get(path, headers=JSON_AUTH).status_code in (404, 405)


def test_one_rate_limit_counts_all_three_migration_endpoints_per_account(make_server: Any) -> None:
    server: MockMasivoServer = make_server(memory=True, rate_limit="dev")
    with client_for(server.url) as http:
        assert post(http, CUSTOMERS_PATH, profiles_body(profile("a"))).status_code == 201
        too_soon = post(http, TRANSACTIONS_PATH, transactions_body({"a": [transaction(0)]}))
        assert too_soon.status_code == 429
        assert too_soon.headers["Retry-After"] == "5"
        assert post(http, MIGRATE, body()).status_code == 429
        http.post("/_mock/clock", json={"advance": 5})
        accepted = post(http, MIGRATE, body())
        assert accepted.status_code == 201
        assert accepted.headers["X-RateLimit-Remaining"] == "248"


def test_a_fault_rule_applies_to_the_new_endpoints(http: httpx.Client) -> None:
    http.post("/_mock/faults", json={"path": "/customers/migrate", "status": 503, "times": 1})
    assert post(http, BASE + "/customers/migrate", profiles_body(profile("a"))).status_code == 503
    assert http.get("/_mock/profiles").json()["total"] == 0
    assert post(http, BASE + "/customers/migrate", profiles_body(profile("a"))).status_code == 201


def test_batches_say_their_kind_and_can_be_listed_by_kind(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("a"), profile("b")))
    post(http, TRANSACTIONS_PATH, transactions_body({"a": [transaction(0), transaction(0)]}))
    post(http, MIGRATE, body())
    batches = http.get("/_mock/batches").json()["data"]
    assert [(b["id"], b["kind"], b["records"], b["customers"]) for b in batches] == [
        ("bat_1", "profile", 2, 2),
        ("bat_2", "transaction", 2, 1),
        ("bat_3", "event", 1, 1),
    ]
    assert batches[0]["profiles"] == 2 and batches[0]["first_record_id"] == "prf_1"
    assert batches[2]["events"] == 1 and batches[2]["first_event_id"] == "evt_1"
    assert [b["id"] for b in http.get("/_mock/batches", params={"kind": "transaction"}).json()["data"]] == ["bat_2"]
    assert http.get("/_mock/batches", params={"kind": "profiles"}).status_code == 422


def test_inspection_filters_profiles_and_transactions(http: httpx.Client) -> None:
    post(http, CUSTOMERS_PATH, profiles_body(profile("a", balance={"r1": 5}), profile("b", email="bo@example.com")))
    post(http, TRANSACTIONS_PATH, transactions_body({"a": [transaction(7, "r1"), transaction(-2, "r1")]}))

    def ids(path: str, **params: Any) -> list[str]:
        return [record["id"] for record in http.get(path, params=params).json()["data"]]

    assert ids("/_mock/profiles", email="bo@example.com") == ["prf_2"]
    assert ids("/_mock/profiles", customer_id="a") == ["prf_1"]
    assert ids("/_mock/profiles", batch_id="bat_1") == ["prf_1", "prf_2"]
    assert ids("/_mock/profiles", batch_id="bat_2") == []
    assert ids("/_mock/transactions", type="REDEMPTION") == ["trx_2"]
    assert ids("/_mock/transactions", reward_id="r1", status="PROCESSED") == ["trx_1", "trx_2"]
    assert ids("/_mock/transactions", limit=1, offset=1) == ["trx_2"]
    assert http.get("/_mock/transactions/trx_2").json()["data"]["transaction"]["amount"] == -2
    assert http.get("/_mock/profiles/prf_9").status_code == 404
    assert http.get("/_mock/events", params={"status": "FAILED"}).json() == {"data": [], "total": 0}


def test_an_id_holding_a_slash_reads_back_through_masivos_routes(http: httpx.Client) -> None:
    """Issue 15 item 11: the id is stored whole, so GET /customers/a%2Fb must find it (raw path matched)."""
    for customer_id in ("a/b", "x/y%z"):
        assert (
            http.post(
                CUSTOMERS_PATH,
                json=profiles_body(profile(customer_id, email=f"{len(customer_id)}@x.io")),
                headers=JSON_AUTH,
            ).status_code
            == 201
        )
        encoded = quote(customer_id, safe="")
        for prefix in ("", "/api/storefront/v1"):
            found = http.get(f"{prefix}/customers/{encoded}", headers=AUTH)
            assert found.status_code == 200, found.text
            assert found.json()["data"]["customer"]["id"] == customer_id
            assert http.get(f"{prefix}/customers/{encoded}/transactions", headers=AUTH).json() == {"data": []}
    assert http.get("/customers/a/b", headers=AUTH).status_code == 404  # a real "/" is two segments
