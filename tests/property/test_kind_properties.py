"""Property tests for the new record kinds, driven by their schemas (strategies.py walks them):
every valid customers or transactions body is answered 201 and reads back through the inspection
API exactly as sent; every body with one mutation is refused at its path and stores nothing.
(The events kind has its own, larger module: test_schema_properties.py.)

One server per module; each example gets a fresh account so examples never see each other's data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from payloads import CUSTOMERS_PATH, TRANSACTIONS_PATH
from strategies import MUTATORS, Mutation, mutated_payloads, valid_payloads
from test_schema_properties import FAST, PER_KIND, encode, live, new_account, same_json

__all__ = ["live"]  # the module's server fixture, shared with the events properties

RecordsOf = Callable[[dict[str, Any]], list[dict[str, Any]]]  # a customer entry's records
KINDS: dict[str, tuple[str, str, str, RecordsOf]] = {
    "customers": (CUSTOMERS_PATH, "/_mock/profiles", "customer", lambda entry: [entry]),
    "transactions": (TRANSACTIONS_PATH, "/_mock/transactions", "transaction", lambda entry: entry["transactions"]),
}
MUTATIONS = [(kind, mutation) for kind in KINDS for mutation in sorted(MUTATORS) if mutation != "too_many_events"]


def stored_records(client: httpx.Client, listing: str, account: str) -> list[dict[str, Any]]:
    response = client.get(listing, params={"account": account, "limit": 1000})
    assert response.status_code == 200
    records: list[dict[str, Any]] = response.json()["data"]
    return records


def check_stored_as_sent(client: httpx.Client, kind: str, payload: dict[str, Any], ascii_only: bool) -> None:
    path, listing, member, records_of = KINDS[kind]
    account, headers = new_account(client)
    response = client.post(path, content=encode(payload, ascii_only), headers=headers)
    assert response.status_code == 201, response.text
    stored = stored_records(client, listing, account)
    sent = [(entry["id"], record) for entry in payload["customers"] for record in records_of(entry)]
    assert [(row["customer_id"], same_json(row[member])) for row in stored] == [
        (customer_id, same_json(record)) for customer_id, record in sent
    ]
    assert {(row["batch_id"], row["status"] in ("PROCESSED", "FAILED")) for row in stored} == {
        (response.headers["X-Mock-Batch-Id"], True)
    }


def check_refused(client: httpx.Client, kind: str, mutation: Mutation, ascii_only: bool) -> None:
    path, listing, _, _ = KINDS[kind]
    account, headers = new_account(client)
    response = client.post(path, content=encode(mutation.payload, ascii_only), headers=headers)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(error["path"], error["rule"]) for error in errors] == [(mutation.path, mutation.rule)]
    if mutation.member is not None:
        assert repr(mutation.member) in errors[0]["message"]
    assert stored_records(client, listing, account) == []
    assert client.get("/_mock/batches", params={"account": account}).json()["total"] == 0


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_valid_bodies_are_accepted_and_read_back_as_sent(live: httpx.Client, kind: str) -> None:
    @FAST
    @given(payload=valid_payloads(kind=kind), ascii_only=st.booleans())
    def check(payload: dict[str, Any], ascii_only: bool) -> None:
        check_stored_as_sent(live, kind, payload, ascii_only)

    check()


@pytest.mark.parametrize(("kind", "mutation"), MUTATIONS)
def test_bodies_with_one_mutation_are_refused_at_its_path_and_store_nothing(
    live: httpx.Client, kind: str, mutation: str
) -> None:
    @PER_KIND
    @given(broken=mutated_payloads((mutation,), body_kind=kind), ascii_only=st.booleans())
    def check(broken: Mutation, ascii_only: bool) -> None:
        check_refused(live, kind, broken, ascii_only)

    check()
