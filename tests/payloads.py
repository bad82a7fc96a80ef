"""Payloads for tests: Masivo's own example, and builders for valid batches of any shape."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from mock_masivo.ingest.schemas import EXAMPLE_KINDS, example_text


def masivo_example() -> dict[str, Any]:
    """The example body from Masivo's reference page, exactly as published (shipped in the package)."""
    return example("events")


def event(number: int = 0, **changes: Any) -> dict[str, Any]:
    """A valid PURCHASE event; `number` makes its purchase id and value distinct."""
    base = {
        "type": "PURCHASE",
        "order": {"purchase_id": f"p-{number}", "value": 10.5 + number, "payment_method": "CREDIT"},
        "fulfilled": True,
        "issued_at": "2023-11-07T05:31:56Z",
        "resolved_at": "2023-11-07T05:31:56Z",
    }
    base.update(changes)
    return base


def body(customers: int = 1, events_each: int = 1, prefix: str = "c") -> dict[str, Any]:
    """A valid batch of `customers` customers with `events_each` events each."""
    return {
        "customers": [
            {"id": f"{prefix}{c}", "events": [event(c * events_each + e) for e in range(events_each)]}
            for c in range(customers)
        ]
    }


def with_change(payload: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    """A deep copy with the member at a JSON Pointer replaced (or removed when value is REMOVE)."""
    changed = copy.deepcopy(payload)
    *parents, last = pointer.strip("/").split("/")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is REMOVE:
        del target[key]
    else:
        target[key] = value
    return changed


REMOVE = object()


CUSTOMERS_PATH = "/api/storefront/v1/customers/migrate"
TRANSACTIONS_PATH = "/api/storefront/v1/customers/migrate/transactions"
REWARD = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


TEST_DATA = Path(__file__).resolve().parent / "data"


def example(name: str) -> dict[str, Any]:
    """One of Masivo's published example bodies: the ones the package ships (events, customers,
    transactions), or another kept for the tests in tests/data (customers-guide)."""
    text = (
        example_text(name)
        if name in EXAMPLE_KINDS
        else (TEST_DATA / f"masivo-{name}-example.json").read_text(encoding="utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def profile(customer_id: str, balance: dict[str, float] | None = None, **changes: Any) -> dict[str, Any]:
    """A valid customer profile; `balance` maps reward ids to amounts (one balance line each)."""
    base: dict[str, Any] = {"id": customer_id, "name": f"Customer {customer_id}", "email": f"{customer_id}@example.com"}
    if balance is not None:
        base["balance"] = [{"reward_id": reward, "amount": amount} for reward, amount in balance.items()]
    base.update(changes)
    return base


def transaction(amount: float, reward_id: str = REWARD, **changes: Any) -> dict[str, Any]:
    """A valid ACCUMULATION (REDEMPTION when the amount is negative) of `reward_id`."""
    base: dict[str, Any] = {
        "type": "ACCUMULATION" if amount >= 0 else "REDEMPTION",
        "amount": amount,
        "reward_id": reward_id,
        "issued_at": "2026-11-20T10:00:00Z",
    }
    base.update(changes)
    return base


def profiles_body(*profiles: dict[str, Any]) -> dict[str, Any]:
    return {"customers": list(profiles)}


def transactions_body(by_customer: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """{"customers": [{"id", "transactions"}]} from customer id -> transactions."""
    return {
        "customers": [
            {"id": customer_id, "transactions": transactions} for customer_id, transactions in by_customer.items()
        ]
    }


# -- batch rules a schema cannot say, for generated bodies --------------------------------------


def _unique(value: str, taken: set[str], fold: bool = False) -> str:
    """`value`, or a variant of it still within 1024 characters, that is not in `taken` (then taken)."""
    candidate, number = value, 0
    while (candidate.lower() if fold else candidate) in taken:
        number += 1
        candidate = f"{number}-{value}"[:1024] if not fold else f"u{number}-{value}"
    taken.add(candidate.lower() if fold else candidate)
    return candidate


def distinct_ids_and_emails(body: dict[str, Any]) -> dict[str, Any]:
    """A customers body that also keeps the batch rules: ids and emails unique in the batch. Emails are
    made unique by a prefix to the local part (u1-ana@x), which keeps them valid unless very long."""
    ids: set[str] = set()
    emails: set[str] = set()
    customers = []
    for customer in body["customers"]:
        changed = {**customer, "id": _unique(customer["id"], ids)}
        if isinstance(customer.get("email"), str):
            changed["email"] = _unique(customer["email"], emails, fold=True)
        customers.append(changed)
    return {**body, "customers": customers}


def transactions_within_batch_rules(body: dict[str, Any]) -> dict[str, Any]:
    """A schema-valid transactions body that also keeps the batch rules: unique customer ids, at most
    1000 transactions in all."""
    ids: set[str] = set()
    room, customers = 1000, []
    for customer in body["customers"]:
        if room == 0:
            break
        kept = customer["transactions"][:room]
        room -= len(kept)
        customers.append({**customer, "id": _unique(customer["id"], ids), "transactions": kept})
    return {**body, "customers": customers}
