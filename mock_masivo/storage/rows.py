"""The store's rows: one per stored record, in receipt order, as compact parallel arrays, and the
filters the inspection API reads them with.

A record is not a document: its row points at its bytes in the log (log.py), so memory per record
stays a few dozen bytes and indexing a batch costs in proportion to the batch. Failures are few:
kept by row. Pure data: the store's lock guards it, and only the store touches it.
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass, field
from typing import Any

from ..domain.processing import FAILED, PROCESSED, QUEUED, Failure, Outcomes


@dataclass(frozen=True)
class RecordFilter:
    account: str | None = None
    customer_id: str | None = None
    batch_id: str | None = None
    status: str | None = None
    # top-level members of the record that must equal the given strings (email, type, reward_id)
    members: tuple[tuple[str, str], ...] = ()


@dataclass
class RecordRows:
    seq: array[int] = field(default_factory=lambda: array("q"))
    batch: array[int] = field(default_factory=lambda: array("l"))  # row of the store's batch
    customer: array[int] = field(default_factory=lambda: array("l"))  # index into the batch's customer ids
    offset: array[int] = field(default_factory=lambda: array("q"))  # of the record's bytes: journal or kept line
    length: array[int] = field(default_factory=lambda: array("l"))
    failures: dict[int, Failure] = field(default_factory=dict)  # row -> why processing failed it
    by_account: dict[str, array[int]] = field(default_factory=dict)
    by_customer: dict[tuple[str, str], array[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.seq)

    def add(
        self,
        account: str,
        batch_row: int,
        first_seq: int,
        encoded: list[tuple[str, list[bytes]]],
        starts: list[int],
        outcomes: Outcomes,
    ) -> None:
        """Rows for a durable batch's records, with their processing outcomes."""
        first_row, count = len(self.seq), len(starts)
        self.seq.extend(range(first_seq, first_seq + count))
        self.batch.extend([batch_row] * count)
        self.offset.extend(starts)
        row = first_row
        for position, (customer_id, records) in enumerate(encoded):
            self.customer.extend([position] * len(records))
            self.length.extend(len(record) for record in records)
            rows_of(self.by_customer, (account, customer_id)).extend(range(row, row + len(records)))
            row += len(records)
        rows_of(self.by_account, account).extend(range(first_row, first_row + count))
        self.failures.update((first_row + index, failure) for index, failure in enumerate(outcomes) if failure)

    def row_of(self, seq: int) -> int | None:
        row = bisect.bisect_left(self.seq, seq)
        return row if row < len(self.seq) and self.seq[row] == seq else None

    def status(self, row: int, processed: bool) -> str:
        if not processed:
            return QUEUED
        return FAILED if row in self.failures else PROCESSED

    def failure(self, row: int, processed: bool) -> dict[str, str] | None:
        failure = self.failures.get(row) if processed else None
        return failure.as_dict() if failure is not None else None


def rows_of(index: dict[Any, array[int]], key: Any) -> array[int]:
    """The rows of `key` in an index, a new empty array the first time (setdefault would build one every time)."""
    rows = index.get(key)
    if rows is None:
        rows = index[key] = array("l")
    return rows


@dataclass
class EventRows:
    """One row per stored event, in receipt order, as compact arrays (no per-event objects)."""

    seq: array[int] = field(default_factory=lambda: array("q"))
    batch: array[int] = field(default_factory=lambda: array("l"))  # row in EventStore._batches
    customer: array[int] = field(default_factory=lambda: array("l"))  # index into the batch's customer ids
    offset: array[int] = field(default_factory=lambda: array("q"))  # of the event's bytes: journal or kept line
    length: array[int] = field(default_factory=lambda: array("l"))
    type_code: array[int] = field(default_factory=lambda: array("l"))
    purchase_hash: array[int] = field(default_factory=lambda: array("q"))
    duplicate_of: array[int] = field(default_factory=lambda: array("q"))  # seq of the first copy, 0 if none

    def __len__(self) -> int:
        return len(self.seq)

    def row_of(self, seq: int) -> int | None:
        row = bisect.bisect_left(self.seq, seq)
        return row if row < len(self.seq) and self.seq[row] == seq else None


@dataclass(frozen=True)
class EventFilter:
    account: str | None = None
    customer_id: str | None = None
    type: str | None = None
    batch_id: str | None = None
    purchase_id: str | None = None
    status: str | None = None
    duplicates: bool | None = None


def hash_of(text: str | None) -> int:
    return 0 if text is None else hash(text)


def positions(values: array[int], wanted: int) -> array[int]:
    """Where `wanted` is in a typed array, found by bytes.find in C: a Python loop over a million
    rows takes about a hundred times longer."""
    haystack, needle, width = values.tobytes(), array(values.typecode, [wanted]).tobytes(), values.itemsize
    found: array[int] = array("l")
    at = haystack.find(needle)
    while at >= 0:
        if at % width:  # straddles two values
            at = haystack.find(needle, at + 1)
            continue
        found.append(at // width)
        at = haystack.find(needle, at + width)
    return found
