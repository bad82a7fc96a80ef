"""Masivo's queued processing: what becomes of each accepted record, and why some fail.

Records are processed one account at a time in the order they were accepted, across kinds, so the
outcome of a record depends only on the records accepted before it in its account. The store runs
these rules as it indexes each durable batch (and again, identically, when it replays the journal),
and keeps only the failures; when a record counts as processed is a matter of time (its account's
clock and --processing-delay), decided when it is read.

Rules (DESIGN.md, "Queued processing and its outcomes"):
- profile: an email held by another customer id of the account fails `email_taken`; otherwise the
  profile replaces the customer's earlier one, with its balance.
- transaction: no processed profile fails `unknown_customer`; a customer whose transactions were
  processed in an earlier batch fails `already_migrated`; per reward, a batch's amounts must add up
  to the migrated balance (6 decimals), or all the customer's transactions in it fail `balance_mismatch`.
- event: never fails.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FAILED, PROCESSED, QUEUED = "FAILED", "PROCESSED", "QUEUED"  # a record's status
STATUSES = (QUEUED, PROCESSED, FAILED)

# Wide enough for any double's integer digits plus the 6 decimals compared (1.8e308 has 309 digits).
_WIDE = decimal.Context(prec=400)
_MICRO = Decimal("0.000001")
SHOWN_REWARDS = 3


@dataclass(frozen=True, slots=True)
class Failure:
    reason: str  # a code: email_taken, unknown_customer, already_migrated, balance_mismatch
    details: str  # one sentence a person understands

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "details": self.details}


@dataclass
class Ledger:
    """What processing has made of one account's records so far."""

    emails: dict[str, str] = field(default_factory=dict)  # casefolded email -> the customer id holding it
    email_of: dict[str, str] = field(default_factory=dict)  # customer id -> its casefolded email
    balances: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # customer id -> reward -> amount
    migrated: set[str] = field(default_factory=set)  # customers whose transactions were processed


# A batch as the rules see it: each customer's id with its records (parsed, as validated).
Batch = Sequence[tuple[str, Sequence[dict[str, Any]]]]
# One outcome per record, in batch order: None when processed, else why it failed.
Outcomes = list[Failure | None]


def process_profiles(ledger: Ledger, batch: Batch) -> Outcomes:
    return [_process_profile(ledger, customer_id, profile) for customer_id, profiles in batch for profile in profiles]


def _process_profile(ledger: Ledger, customer_id: str, profile: dict[str, Any]) -> Failure | None:
    email = profile.get("email")
    if not isinstance(email, str):
        email = None
    folded = email.casefold() if email is not None else None
    holder = ledger.emails.get(folded) if folded is not None else None
    if holder is not None and holder != customer_id and email is not None:
        return Failure(
            "email_taken",
            f"the email {email[:64]!r} already belongs to customer {holder[:64]!r} of "
            "this account (emails are unique per account, compared ignoring case)",
        )
    previous = ledger.email_of.pop(customer_id, None)
    if previous is not None:
        del ledger.emails[previous]
    if folded is not None:
        ledger.emails[folded] = customer_id
        ledger.email_of[customer_id] = folded
    ledger.balances[customer_id] = balance_by_reward(profile.get("balance") or ())
    return None


def process_transactions(ledger: Ledger, batch: Batch) -> Outcomes:
    """Each customer's transactions in the batch succeed or fail together."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for customer_id, transactions in batch:
        grouped.setdefault(customer_id, []).extend(transactions)
    verdicts = {
        customer_id: _transactions_verdict(ledger, customer_id, transactions)
        for customer_id, transactions in grouped.items()
    }
    ledger.migrated.update(customer_id for customer_id, verdict in verdicts.items() if verdict is None)
    return [verdicts[customer_id] for customer_id, transactions in batch for _ in transactions]


def _transactions_verdict(ledger: Ledger, customer_id: str, transactions: list[dict[str, Any]]) -> Failure | None:
    balance = ledger.balances.get(customer_id)
    if balance is None:
        return Failure(
            "unknown_customer",
            f"customer {customer_id[:64]!r} has no processed profile in this account; "
            "migrate it with POST /customers/migrate first",
        )
    if customer_id in ledger.migrated:
        return Failure(
            "already_migrated",
            f"customer {customer_id[:64]!r} already has processed transactions from "
            "an earlier batch; transactions are migrated once per customer",
        )
    sums = _sums((transaction["reward_id"], transaction["amount"]) for transaction in transactions)
    mismatched = [
        reward
        for reward in sorted(sums.keys() | balance.keys())
        if _rounded(sums.get(reward)) != _rounded(balance.get(reward))
    ]
    if not mismatched:
        return None
    shown = "; ".join(
        f"reward {reward[:64]!r}: transactions add up to {_text(sums.get(reward))}, the migrated "
        f"balance is {_text(balance.get(reward))}"
        for reward in mismatched[:SHOWN_REWARDS]
    )
    more = f" (and {len(mismatched) - SHOWN_REWARDS} more rewards)" if len(mismatched) > SHOWN_REWARDS else ""
    return Failure("balance_mismatch", f"the amounts do not add up to the customer's balance: {shown}{more}")


def process_events(ledger: Ledger, batch: Batch) -> Outcomes:
    del ledger
    return [None for _, events in batch for _ in events]


def balance_by_reward(lines: Sequence[dict[str, Any]]) -> dict[str, Decimal]:
    """The sum of a migrated balance's lines per reward_id."""
    return _sums((line["reward_id"], line["amount"]) for line in lines)


def _sums(pairs: Any) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for reward, amount in pairs:
        sums[reward] = _WIDE.add(sums.get(reward, Decimal(0)), Decimal(repr(amount)))
    return sums


def _rounded(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(_MICRO, context=_WIDE)


def _text(value: Decimal | None) -> str:
    rounded = _rounded(value).normalize(_WIDE)
    return format(rounded, "f")


RULES: dict[str, Callable[[Ledger, Batch], Outcomes]] = {
    "profile": process_profiles,
    "transaction": process_transactions,
    "event": process_events,
}
