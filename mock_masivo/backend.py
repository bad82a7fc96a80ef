"""The business rules of reading back: what Masivo shows of a customer, and what the inspection API
and the dry-run report say of an account. No HTTP here (handlers shape requests and answers), and
no storage layout (the store lists records); time comes from the account's clock.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .domain.clock import Clock
from .domain.kinds import EVENT, PROFILE, TRANSACTION, Kind
from .domain.metrics import PURCHASE, customer_metrics, time_key
from .domain.processing import FAILED, PROCESSED
from .ingest.checker import CheckedBatch
from .storage.store import EventStore

RECENT_DAYS = 92  # "the last 3 months" of GET /customers/{id}/transactions without `year`
WALLET_NAMESPACE = uuid.UUID("6c5b6a4e-1f0e-4b7e-9a52-2f0f3c6d8a11")  # wallet ids: stable per account and customer


@dataclass(frozen=True)
class TransactionQuery:
    """GET /customers/{id}/transactions's filters; `year` None means the last RECENT_DAYS days."""

    year: int | None = None
    brand_id: str | None = None
    reward_id: str | None = None
    type: str | None = None


class Backend:
    """The business rules over the store: what accepting a batch means, what Masivo shows of a
    customer, what the inspection API and the report say. No HTTP here."""

    def __init__(self, store: EventStore, clock: Clock, processing_delay: float) -> None:
        self.store = store
        self.clock = clock
        self.processing_delay = processing_delay
        self._clock_lock = threading.Lock()

    async def store_batch(self, account: str, checked: CheckedBatch, kind: Kind) -> tuple[str, list[dict[str, str]]]:
        """Store a checked batch at the account's time, durably; its id and the warnings to answer with:
        the body's own, then one per event that duplicates an earlier one."""
        batch = await self.store.store_encoded(
            account, checked.encoded, checked.attributes, self.clock.now(account), kind
        )
        warnings = [warning.as_dict() for warning in checked.warnings]
        warnings += [
            {
                "path": path,
                "message": f"duplicate of {first}: same customer, type, order.purchase_id and issued_at",
                "rule": "duplicate",
            }
            for path, first in batch.duplicates
        ]
        return batch.id, warnings

    def advance_clock(self, seconds: float, account: str | None) -> Future[int]:
        """Move a clock forward and keep its offset; the future resolves once that is durable. Under
        one lock, so that the journal keeps the offsets in the order the clock took them."""
        with self._clock_lock:
            self.clock.advance(seconds, account)
            kept = self.store.submit_clock(account, self.clock.own(account))
        kept.add_done_callback(lambda done: self._undo_advance(done, seconds, account))
        return kept

    def _undo_advance(self, kept: Future[int], seconds: float, account: str | None) -> None:
        if kept.exception() is not None:  # not kept (disk full): the clock does not move either
            with self._clock_lock:
                self.clock.advance(-seconds, account)

    def due(self, account: str, at: float) -> bool:
        """Whether what `account` accepted at `at` (its clock) has been processed: --processing-delay later."""
        return not self.processing_delay or self.clock.now(account) >= at + self.processing_delay

    # -- Masivo's read-back ----------------------------------------------------------------------

    def masivo_customer(self, account: str, customer_id: str) -> dict[str, Any] | None:
        """`{"customer", "wallet"}` as Masivo's GET /customers/{id} shows them, or None while unknown."""
        profile = self.current_profile(account, customer_id)
        events = self._processed_events(account, customer_id)
        if profile is None and not events:
            return None
        migrated = profile or {}
        customer = {key: value for key, value in migrated.items() if key != "balance"}
        purchased = any(event.get("type") == PURCHASE for event in events)
        metrics = (
            migrated["metrics"]
            if not purchased and "metrics" in migrated
            else customer_metrics(events, self.clock.now(account))
        )
        customer.update(id=customer_id, status="ACTIVE", tier_id=None, metrics=metrics)
        return {"customer": customer, "wallet": wallet(account, customer_id, migrated.get("balance") or [])}

    def masivo_transactions(
        self, account: str, customer_id: str, query: TransactionQuery
    ) -> list[dict[str, Any]] | None:
        """The customer's processed transactions, newest issued_at first, or None for an unknown customer."""
        if self.masivo_customer(account, customer_id) is None:
            return None
        start, end = self._window(account, query.year)
        chosen = []
        for stored in self.store.customer_records(TRANSACTION, customer_id, account, self.due):
            transaction = stored["transaction"]
            if (
                stored["status"] == PROCESSED
                and start <= time_key(transaction["issued_at"]) < end
                and _matches(transaction, query)
            ):
                chosen.append({**transaction, "id": stored["id"], "created_at": stored["received_at"]})
        chosen.sort(key=lambda transaction: time_key(transaction["issued_at"]), reverse=True)
        return chosen

    def _window(self, account: str, year: int | None) -> tuple[datetime, datetime]:
        if year is not None:
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        now = datetime.fromtimestamp(self.clock.now(account), UTC)
        return now - timedelta(days=RECENT_DAYS), now + timedelta(microseconds=1)

    def current_profile(self, account: str, customer_id: str) -> dict[str, Any] | None:
        """The customer's profile as last processed successfully (the later one wins), or None."""
        stored = self.store.customer_records(PROFILE, customer_id, account, self.due)
        processed = [record["customer"] for record in stored if record["status"] == PROCESSED]
        return processed[-1] if processed else None

    def _processed_events(self, account: str, customer_id: str) -> list[dict[str, Any]]:
        stored = self.store.customer_events(customer_id, account, self.due)
        return [event["event"] for event in stored if event["status"] == PROCESSED]

    # -- inspection ------------------------------------------------------------------------------

    def inspected_customer(
        self, customer_id: str, account: str | None, limit: int, offset: int
    ) -> dict[str, Any] | None:
        """Everything received for a customer id, of every kind, or None when nothing was; its events
        a page at a time (`events_total` says how many), as a customer may have hundreds of thousands."""
        events = self.store.customer_events(customer_id, account, self.due)
        profiles = self.store.customer_records(PROFILE, customer_id, account, self.due)
        transactions = self.store.customer_records(TRANSACTION, customer_id, account, self.due)
        if not (events or profiles or transactions):
            return None
        now = self.clock.now(account) if account is not None else self.clock.now()
        processed = [record for record in profiles if record["status"] == PROCESSED]
        current = processed[-1] if processed else None
        return {
            "id": customer_id,
            "events": events[offset : offset + limit],
            "events_total": len(events),
            "metrics": customer_metrics((stored["event"] for stored in events), now),
            "profile": profiles[-1] if profiles else None,
            "wallet": wallet(current["account"], customer_id, current["customer"].get("balance") or [])
            if current is not None
            else None,
            "transactions": transactions,
        }

    def customer_facts(self, customer_id: str, account: str | None) -> tuple[bool, int]:
        """(has a processed profile, how many transactions were received) for the customer list."""
        profiles = self.store.customer_records(PROFILE, customer_id, account, self.due)
        transactions = self.store.customer_records(TRANSACTION, customer_id, account, self.due)
        return any(record["status"] == PROCESSED for record in profiles), len(transactions)

    # -- the report ------------------------------------------------------------------------------

    def summary(self, account: str | None) -> dict[str, Any]:
        """The dry-run report's record sections: counts by kind and status, failures, duplicates, customers."""
        tally = self.store.tally(account, self.due)
        profiled = tally.customers[PROFILE.name]
        return {
            "accepted": {**tally.accepted, "batches": tally.batches},
            "processed": tally.processed,
            "failed": tally.failed,
            "queued": tally.queued,
            "failures": [
                {"kind": kind, "reason": reason, "count": count[0], "examples": examples}
                for (kind, reason), (count, examples) in sorted(tally.failures.items(), key=lambda item: -item[1][0][0])
            ],
            "duplicates": {EVENT.name: tally.duplicates},
            "customers": {
                "with_profile": len(profiled),
                "events_without_profile": len(tally.customers[EVENT.name] - profiled),
                "with_transactions": len(tally.customers[TRANSACTION.name]),
            },
        }


def wallet(account: str, customer_id: str, balance: list[dict[str, Any]]) -> dict[str, Any]:
    """Masivo's wallet of a migrated balance: its lines, and totals per reward and expiration date."""
    lines = [
        {
            "amount": line["amount"],
            "reward_id": line["reward_id"],
            "brand_id": line.get("brand_id"),
            "issued_at": line.get("issued_at"),
            "expiration_date": line.get("expiration_date"),
            "campaign_id": None,
            "reservation_expires_at": None,
        }
        for line in balance
    ]
    groups: dict[tuple[str, str | None], list[Any]] = {}
    for line in lines:
        groups.setdefault((line["reward_id"], line["expiration_date"]), []).append(line["amount"])
    totals = [
        {"total": _sum(amounts), "reward_id": reward_id, "expiration_date": expiration_date, "reward": None}
        for (reward_id, expiration_date), amounts in groups.items()
    ]
    wallet_id = str(uuid.uuid5(WALLET_NAMESPACE, f"{account}\n{customer_id}"))
    return {"id": wallet_id, "owner_id": customer_id, "lines": lines, "totals": totals}


def _sum(amounts: Iterable[Any]) -> int | float:
    """Added as decimals, so 0.1 + 0.2 is 0.3; whole when every amount is."""
    numbers = list(amounts)
    total = sum((Decimal(repr(amount)) for amount in numbers), Decimal(0))
    return int(total) if all(isinstance(amount, int) for amount in numbers) else float(total)


def _matches(transaction: dict[str, Any], query: TransactionQuery) -> bool:
    return all(
        wanted is None or transaction.get(name) == wanted
        for name, wanted in (("brand_id", query.brand_id), ("reward_id", query.reward_id), ("type", query.type))
    )


__all__ = ["FAILED", "PROCESSED", "Backend", "TransactionQuery", "wallet"]
