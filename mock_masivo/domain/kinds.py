"""The record kinds Masivo migrates, and what each one adds to the shared pipeline.

A kind is a schema file, the batch rules the schema cannot say, and where its records sit in a
body. Everything else (auth, rate limits, parsing, storage, the journal, processing order) is
shared. Adding a kind is one `Kind(...)` here, its schema, and its processing rule in processing.py.

Record layouts:
- `event`: `{"customers": [{"id", "events": [Event]}]}`: each event is a record of its customer.
- `transaction`: `{"customers": [{"id", "transactions": [Transaction]}]}`: likewise.
- `profile`: `{"customers": [Customer]}`: each customer object is one record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from msgspec import UNSET

from ..errors import Violation

MAX_EVENTS_PER_BATCH = 1000
MAX_TRANSACTIONS_PER_BATCH = 1000

BatchRules = Callable[[Any], list[Violation]]


@dataclass(frozen=True)
class Kind:
    name: str  # profile | transaction | event: in stored records, batches and the report
    path: str  # the Masivo route that accepts it
    schema: str  # its request schema in schemas/
    items: str | None  # the member of each customer holding its records; None: the customer is the record
    prefix: str  # of its record ids
    batch_rules: BatchRules
    plural: str  # for messages and the inspection API: events, transactions, profiles

    def records(self, customer: dict[str, Any]) -> list[Any]:
        """The records of one validated customer entry."""
        return [customer] if self.items is None else customer[self.items]


def count_records(items: str | None, body: Any) -> int:
    """Records summed over customers, counting only the parts shaped as the schema expects."""
    customers = body.get("customers") if isinstance(body, dict) else None
    if not isinstance(customers, list):
        return 0
    if items is None:
        return len(customers)
    return sum(
        len(customer[items])
        for customer in customers
        if isinstance(customer, dict) and isinstance(customer.get(items), list)
    )


def _at_most(items: str, limit: int, rule: str) -> BatchRules:
    """The batch-wide cap on records, summed over customers (each customer's own list is capped by the schema)."""

    def check(body: Any) -> list[Violation]:
        total = count_records(items, body)
        if total <= limit:
            return []
        return [Violation("/customers", f"the batch has {total} {items} in all; at most {limit} are allowed", rule)]

    return check


def _profile_rules(body: Any) -> list[Violation]:
    """One id, and one email (compared case-insensitively), per customer in a batch: the later one is named."""
    violations: list[Violation] = []
    ids: set[str] = set()
    emails: dict[str, str] = {}
    for index, customer in _customers(body):
        customer_id, email = customer.get("id"), customer.get("email")
        if isinstance(customer_id, str):
            if customer_id in ids:
                violations.append(
                    Violation(f"/customers/{index}/id", "the same id appears earlier in this batch", "unique_id")
                )
            ids.add(customer_id)
        if isinstance(email, str) and isinstance(customer_id, str):
            holder = emails.setdefault(email.casefold(), customer_id)
            if holder != customer_id:
                violations.append(
                    Violation(
                        f"/customers/{index}/email",
                        "the same email (ignoring case) belongs to another customer id earlier in this batch",
                        "unique_email",
                    )
                )
    return violations


def _customers(body: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    customers = body.get("customers") if isinstance(body, dict) else None
    if isinstance(customers, list):
        yield from ((index, customer) for index, customer in enumerate(customers) if isinstance(customer, dict))


PROFILE = Kind(
    "profile", "/customers/migrate", "migrate-customers.request.json", None, "prf_", _profile_rules, "profiles"
)
TRANSACTION = Kind(
    "transaction",
    "/customers/migrate/transactions",
    "migrate-transactions.request.json",
    "transactions",
    "trx_",
    _at_most("transactions", MAX_TRANSACTIONS_PER_BATCH, "max_transactions_per_batch"),
    "transactions",
)
EVENT = Kind(
    "event",
    "/customers/migrate/events",
    "migrate-events.request.json",
    "events",
    "evt_",
    _at_most("events", MAX_EVENTS_PER_BATCH, "max_events_per_batch"),
    "events",
)

KINDS: dict[str, Kind] = {kind.name: kind for kind in (PROFILE, TRANSACTION, EVENT)}


# What the indexes and duplicate detection need of an event: type, order.purchase_id, issued_at.
# A plain tuple: this is built once per stored event, and a NamedTuple costs several times more.
Attributes = tuple[str, str | None, str]


def batch_attributes(customers: Sequence[dict[str, Any]]) -> list[list[Attributes]]:
    """Attributes of every event of validated customers (order is an object, purchase_id a string)."""
    return [
        [(event["type"], event["order"].get("purchase_id"), event["issued_at"]) for event in customer["events"]]
        for customer in customers
    ]


def stored_attributes(kind: Kind, customers: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """What the store indexes or processes of each record: an event's Attributes; another kind's whole record."""
    return batch_attributes(customers) if kind is EVENT else [kind.records(customer) for customer in customers]


def decoded_attributes(customers: Sequence[Any]) -> list[list[Attributes]]:
    """The same, from the fast path's decoded customers (ingest/fastpath.py), where an absent
    purchase_id is UNSET (an empty one is "", so it cannot be told apart by truth)."""
    return [
        [
            (event.type, None if event.order.purchase_id is UNSET else event.order.purchase_id, event.issued_at)
            for event in customer.events
        ]
        for customer in customers
    ]


def event_attributes(event: dict[str, Any]) -> Attributes:
    return event["type"], event["order"].get("purchase_id"), event["issued_at"]
