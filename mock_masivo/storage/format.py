"""The journal's batch record: how an accepted batch is laid out as one line, and the ids shown for it.

The record holds the records exactly as the client spelled them, less the whitespace between tokens
(a line holds no newline), with a header saying which batch and records they are. It is built by
hand around those bytes so that each record's offset is known without parsing; replay rebuilds it
the same way from the line's header and records (domain/layout.py) and checks that the bytes are
identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..domain.clock import iso_time
from ..domain.kinds import EVENT, KINDS, Attributes, Kind, batch_attributes

EVENT_PREFIX = "evt_"
BATCH_PREFIX = "bat_"


def batch_header(seq: int, first_event: int, account: str, received_at: float) -> dict[str, Any]:
    return {
        "op": "batch",
        "seq": seq,
        "first_event": first_event,
        "account": account,
        "at": received_at,
        "received_at": iso_time(received_at),
    }


def record_batch_header(kind: Kind, seq: int, first: int, account: str, received_at: float) -> dict[str, Any]:
    """The header of a batch of another kind than events (whose header, older, has no `kind`)."""
    return {
        "op": "batch",
        "kind": kind.name,
        "seq": seq,
        "first": first,
        "account": account,
        "at": received_at,
        "received_at": iso_time(received_at),
    }


def batch_payload(
    header: dict[str, Any], customers: list[tuple[str, list[bytes]]], items: str | None = EVENT.items
) -> tuple[bytes, list[int]]:
    """The record's bytes and where each of its records starts in them.

    The customers are laid out as the request had them (kinds.py: `items` names the member that
    holds a customer's records; None when the customer object is the record). Built by hand around
    the records' bytes so record offsets are known without parsing; replay rebuilds the record the
    same way from the line and checks that the bytes are identical.
    """
    parts = [orjson.dumps(header)[:-1], b',"customers":[']
    position = len(parts[0]) + len(parts[1])
    offsets: list[int] = []
    for index, (customer_id, records) in enumerate(customers):
        separator = b"," if index else b""
        opening = (
            separator
            if items is None
            else b'%b{"id":%b,"%b":[' % (separator, orjson.dumps(customer_id), items.encode())
        )
        parts.append(opening)
        position += len(opening)
        for number, record in enumerate(records):
            if number:
                parts.append(b",")
                position += 1
            offsets.append(position)
            parts.append(record)
            position += len(record)
        if items is not None:
            parts.append(b"]}")
            position += 2
    parts.append(b"]}")
    return b"".join(parts), offsets


def encode_customers(
    customers: Sequence[dict[str, Any]],
) -> tuple[list[tuple[str, list[bytes]]], list[list[Attributes]]]:
    """Each customer's id with its events encoded for the journal, and the events' indexed attributes."""
    encoded = [(customer["id"], [orjson.dumps(event) for event in customer["events"]]) for customer in customers]
    return encoded, batch_attributes(customers)


def public_batch(doc: dict[str, Any]) -> dict[str, Any]:
    kind = KINDS[doc.get("kind", EVENT.name)]
    public = {
        "id": BATCH_PREFIX + str(doc["seq"]),
        "kind": kind.name,
        "account": doc["account"],
        "received_at": doc["received_at"],
        "customers": len(doc["customer_ids"]),
        kind.plural: doc[kind.plural],
        "records": doc[kind.plural],
    }
    if kind is EVENT:
        public["first_event_id"] = EVENT_PREFIX + str(doc["first_event"])
    else:
        public["first_record_id"] = kind.prefix + str(doc["first"])
    return public


def parse_id(text: str, prefix: str) -> int | None:
    digits = text[len(prefix) :] if text.startswith(prefix) else ""
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None
