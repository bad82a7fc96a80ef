"""Issue 15, item 5: a hand-edited or damaged journal whose lines still pass their checksums is
refused at start with a message naming the line and the problem, instead of loading inconsistently."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from payloads import body, profile

from mock_masivo.domain.kinds import PROFILE
from mock_masivo.storage.datadir import JOURNAL_FILE
from mock_masivo.storage.journal import CorruptJournal, frame, unframe
from mock_masivo.storage.store import EventStore

Lines = list[bytes]


def journal_with_three_batches(data: Path) -> Lines:
    store = EventStore(data)
    for prefix in ("a", "b"):
        store.submit_batch("default", body(2, 2, prefix=prefix)["customers"], 1.0e9).durable.result(timeout=10)
    records = [[profile("p1")], [profile("p2")]]
    encoded = [(mine[0]["id"], [orjson.dumps(mine[0])]) for mine in records]
    store.submit_encoded("default", encoded, records, 1.0e9, PROFILE).durable.result(timeout=10)
    store.close()
    return (data / JOURNAL_FILE).read_bytes().splitlines(keepends=True)


def edited(line: bytes, **changes: object) -> bytes:
    payload = unframe(line.rstrip(b"\n"))
    assert payload is not None
    return frame(json.dumps({**orjson.loads(payload), **changes}, separators=(",", ":")).encode())


EDITS: dict[str, tuple[Callable[[Lines], Lines], str]] = {
    "a duplicated line": (lambda lines: [lines[0], lines[0], *lines[1:]], "batch 1 follows batch 1"),
    "swapped lines": (lambda lines: [lines[1], lines[0], lines[2]], "batch 1 follows batch 2"),
    "a time that is not a number": (
        lambda lines: [edited(lines[0], at="yesterday"), *lines[1:]],
        "at must be seconds since 1970",
    ),
    "a huge sequence number": (
        lambda lines: [*lines[:2], edited(lines[2], seq=2**60)],
        "seq must be a whole number from 1 to 2**53",
    ),
    "a huge first event": (
        lambda lines: [edited(lines[0], first_event=10**20), *lines[1:]],
        "first record number must be a whole number",
    ),
    "a first event already used": (
        lambda lines: [lines[0], edited(lines[1], first_event=2), lines[2]],
        "its first event number 2 was already used",
    ),
    "an unknown kind": (lambda lines: [*lines[:2], edited(lines[2], kind="refund")], "KeyError"),
    "an account that is not a string": (
        lambda lines: [edited(lines[0], account=7), *lines[1:]],
        "account and received_at must be strings",
    ),
}


@pytest.mark.parametrize("damage", list(EDITS))
def test_a_journal_edited_by_hand_refuses_to_start_and_says_where_and_why(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    lines = journal_with_three_batches(data)
    change, problem = EDITS[damage]
    (data / JOURNAL_FILE).write_bytes(b"".join(change(lines)))
    with pytest.raises(CorruptJournal) as refused:
        EventStore(data)
    message = str(refused.value)
    assert "cannot be loaded" in message and "Refusing to start" in message
    assert problem in message


def test_the_untouched_journal_loads(tmp_path: Path) -> None:
    data = tmp_path / "data"
    journal_with_three_batches(data)
    store = EventStore(data)
    assert store.count_events() == 8
    assert store.count_records(PROFILE) == 2
    store.close()
