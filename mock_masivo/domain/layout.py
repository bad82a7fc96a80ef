"""Where each record of a kind sits in a migration body or a journal line, as the bytes it was sent as.

Both have the same layout (`{"customers": [...]}`, kinds.py), so one decoder per kind serves the
request (the records the store keeps) and replay (the records the journal holds). msgspec.Raw keeps
each record's bytes without decoding or re-encoding them; members other than the customers and their
records are skipped unread.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec

from .kinds import Kind


class _Records(msgspec.Struct):
    customers: list[msgspec.Raw]


@cache
def _decoder(items: str | None) -> msgspec.json.Decoder[Any]:
    if items is None:
        return msgspec.json.Decoder(_Records)
    customer = msgspec.defstruct("Customer", [(items, list[msgspec.Raw])], module=__name__)
    envelope = msgspec.defstruct("Body", [("customers", list[customer])], module=__name__)  # type: ignore[valid-type]
    return msgspec.json.Decoder(envelope)


def split_records(kind: Kind, raw: bytes) -> list[list[bytes]]:
    """Each customer's records, as bytes sliced from `raw` (valid JSON shaped as a batch of `kind`)."""
    customers = _decoder(kind.items).decode(raw).customers
    if kind.items is None:
        return [[bytes(customer)] for customer in customers]
    return [[bytes(record) for record in getattr(customer, kind.items)] for customer in customers]


def compact(raw: bytes) -> bytes:
    """`raw` with the whitespace between its tokens removed, every token kept byte for byte (a
    journal line cannot hold a newline); `raw` itself when it has no whitespace byte at all."""
    # Chained tests, not any() over a generator: this runs on every request.
    if b" " not in raw and b"\n" not in raw and b"\r" not in raw and b"\t" not in raw:
        return raw
    return msgspec.json.format(raw, indent=-1)
