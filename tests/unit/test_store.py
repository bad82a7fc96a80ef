"""EventStore on a data dir: replay, resets that stick, ids never reused, one owner per dir, failed resets undone."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from payloads import body, event

from mock_masivo.errors import StorageFull
from mock_masivo.storage import journal as journal_module
from mock_masivo.storage.datadir import JOURNAL_FILE, SECRET_FILE, DataDirError
from mock_masivo.storage.rows import EventFilter
from mock_masivo.storage.store import EventStore


def processed(_account: str, _at: float) -> bool:
    return True


def listing(store: EventStore, account: str | None = None) -> list[dict[str, Any]]:
    """Stored events as the inspection API renders them (events are orjson.Fragments until then)."""
    page = store.events(EventFilter(account=account), 100_000, 0, processed)[0]
    rendered: list[dict[str, Any]] = orjson.loads(orjson.dumps(page))
    return rendered


def add(
    store: EventStore, account: str = "default", customers: int = 2, events_each: int = 2, prefix: str = "c"
) -> str:
    pending = store.submit_batch(account, body(customers, events_each, prefix=prefix)["customers"], 1.0e9)
    pending.durable.result(timeout=10)
    return pending.id


def add_account(store: EventStore, account: str) -> None:
    store.submit_account(account, f"key-{account}", f"tok-{account}", 1.0e9).result(timeout=10)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def opened(data: Path) -> Iterator[list[EventStore]]:
    """Stores opened by a test (through `open_store`), all closed after it."""
    stores: list[EventStore] = []
    yield stores
    for store in stores:
        store.close()


def open_store(opened: list[EventStore], data: Path) -> EventStore:
    store = EventStore(data)
    opened.append(store)
    return store


def close(opened: list[EventStore], store: EventStore) -> None:
    store.close()
    opened.remove(store)


def test_reopened_store_lists_exactly_what_was_stored(opened: list[EventStore], data: Path) -> None:
    store = open_store(opened, data)
    add_account(store, "acc_1")
    for number in range(3):
        add(store, prefix=f"b{number}-")
    add(store, account="acc_1", prefix="other-")
    before, batches = listing(store), store.batches(None, 100, 0)
    close(opened, store)
    again = open_store(opened, data)
    assert listing(again) == before
    assert again.batches(None, 100, 0) == batches
    assert again.account_ids() == ["acc_1"]


def test_reset_sticks_after_reopen_and_ids_are_not_reused(opened: list[EventStore], data: Path) -> None:
    store = open_store(opened, data)
    add(store)
    add(store)
    assert store.reset() == {"batches": 2, "profiles": 0, "transactions": 0, "events": 8}
    assert listing(store) == []
    close(opened, store)
    again = open_store(opened, data)
    assert listing(again) == []
    assert add(again) == "bat_3"
    assert listing(again)[0]["id"] == "evt_9"


def test_ids_are_not_reused_after_a_reset_that_is_not_followed_by_a_write(opened: list[EventStore], data: Path) -> None:
    store = open_store(opened, data)
    add(store)
    store.reset()
    close(opened, store)
    again = open_store(opened, data)
    assert add(again) == "bat_2"
    assert listing(again)[0]["id"] == "evt_5"


def test_account_reset_removes_only_that_account_also_after_reopen(opened: list[EventStore], data: Path) -> None:
    store = open_store(opened, data)
    add_account(store, "acc_1")
    add(store, prefix="mine-")
    add(store, account="acc_1", prefix="theirs-")
    add(store, prefix="mine-later-")
    kept = listing(store, "default")
    assert store.reset("acc_1") == {"batches": 1, "profiles": 0, "transactions": 0, "events": 4}
    assert listing(store) == kept
    close(opened, store)
    again = open_store(opened, data)
    assert listing(again) == kept
    assert listing(again, "acc_1") == []
    assert again.account_ids() == ["acc_1"]  # the account itself stays usable
    assert add(again, account="acc_1") == "bat_4"


def test_second_store_on_the_same_dir_is_refused_until_the_first_closes(opened: list[EventStore], data: Path) -> None:
    first = open_store(opened, data)
    with pytest.raises(DataDirError, match=f"{data}.*in use by another mock-masivo server"):
        EventStore(data)
    close(opened, first)
    open_store(opened, data)


def test_leftover_tmp_files_are_removed_at_open_and_live_files_win(opened: list[EventStore], data: Path) -> None:
    store = open_store(opened, data)
    add(store)
    before = listing(store)
    secret = store.secret
    close(opened, store)
    (data / (JOURNAL_FILE + ".tmp")).write_bytes(b"half a rewrite")
    (data / (SECRET_FILE + ".tmp")).write_bytes(b"half a secret")
    (data / "notes.tmp").write_bytes(b"the user's own")  # issue 15 item 3: not the server's to delete
    again = open_store(opened, data)
    assert sorted(path.name for path in data.iterdir() if path.name.endswith(".tmp")) == ["notes.tmp"]
    assert listing(again) == before
    assert again.secret == secret


def test_secret_is_created_once_and_replaced_when_a_crash_left_it_empty(opened: list[EventStore], data: Path) -> None:
    store = open_store(opened, data)
    secret = store.secret
    assert secret is not None and len(secret) == 64
    assert store.secret == secret
    (data / SECRET_FILE).write_bytes(b"")
    fresh = store.secret
    assert fresh is not None and len(fresh) == 64 and fresh != secret
    assert (data / SECRET_FILE).read_bytes() == fresh
    assert os.stat(data / SECRET_FILE).st_mode & 0o777 == 0o600


def test_data_dir_that_is_a_file_is_refused_with_its_name(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(DataDirError, match=f"cannot use {not_a_dir} as the data directory .*: it is a file"):
        EventStore(not_a_dir)


def no_room_but_in_the_journal(data: Path) -> Any:
    """A _write_all for a full disk: only the live journal's own blocks can be rewritten."""
    real = journal_module._write_all

    def write(fd: int, chunk: bytes) -> None:
        if os.fstat(fd).st_ino != os.stat(data / JOURNAL_FILE).st_ino:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, chunk)

    return write


def test_a_full_reset_on_a_full_disk_empties_the_journal_in_place(
    opened: list[EventStore], data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(opened, data)
    add_account(store, "acc_1")
    add(store)
    add(store, account="acc_1")
    inode, size = os.stat(data / JOURNAL_FILE).st_ino, os.stat(data / JOURNAL_FILE).st_size
    monkeypatch.setattr(journal_module, "_write_all", no_room_but_in_the_journal(data))
    assert store.reset() == {"batches": 2, "profiles": 0, "transactions": 0, "events": 8}
    assert listing(store) == []
    assert os.stat(data / JOURNAL_FILE).st_ino == inode and os.stat(data / JOURNAL_FILE).st_size < size
    assert sorted(path.name for path in data.iterdir()) == [JOURNAL_FILE, "lock"]  # no tmp left behind
    assert add(store, prefix="after-") == "bat_3"  # appends still work and go to the live file
    monkeypatch.undo()
    close(opened, store)
    again = open_store(opened, data)
    assert [event["customer_id"] for event in listing(again)] == ["after-0", "after-0", "after-1", "after-1"]
    assert again.account_ids() == ["acc_1"]


def test_an_account_reset_that_cannot_be_written_leaves_the_store_and_the_file_as_they_were(
    opened: list[EventStore], data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(opened, data)
    add(store)
    before, raw = listing(store), (data / JOURNAL_FILE).read_bytes()

    def full_disk(fd: int, chunk: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(journal_module, "_write_all", full_disk)
    with pytest.raises(StorageFull):
        store.reset("default")
    assert listing(store) == before
    assert (data / JOURNAL_FILE).read_bytes() == raw
    monkeypatch.undo()
    assert store.reset("default") == {"batches": 1, "profiles": 0, "transactions": 0, "events": 4}
    close(opened, store)
    assert listing(open_store(opened, data)) == []


def test_an_account_reset_appends_one_line_instead_of_rewriting_the_journal(
    opened: list[EventStore], data: Path
) -> None:
    store = open_store(opened, data)
    add_account(store, "acc_1")
    add(store)
    add(store, account="acc_1")
    before = (data / JOURNAL_FILE).read_bytes()
    inode = os.stat(data / JOURNAL_FILE).st_ino
    store.reset("acc_1")
    after = (data / JOURNAL_FILE).read_bytes()
    assert os.stat(data / JOURNAL_FILE).st_ino == inode
    assert after.startswith(before)
    assert orjson.loads(after[len(before) :].split(b" ", 1)[1]) == {"op": "reset", "account": "acc_1"}


def test_a_record_of_an_unknown_type_refuses_to_load_instead_of_being_dropped(tmp_path: Path) -> None:
    from mock_masivo.storage.journal import CorruptJournal, frame

    data = tmp_path / "data"
    EventStore(data).close()
    with open(data / "journal.jsonl", "ab") as journal:
        journal.write(frame(b'{"op":"from-the-future"}'))
        journal.write(frame(b'{"op":"sequence","next_batch":1,"next_event":1}'))
    with pytest.raises(CorruptJournal, match="unknown record type 'from-the-future'"):
        EventStore(data)


# -- the 1-event fast path ------------------------------------------------------------------------

ONE_EVENT_BATCHES = [  # (account, customer, event): repeats, other accounts, types and no purchase id
    ("default", "c1", event(1)),
    ("default", "c2", event(2)),
    ("default", "c1", event(1)),  # a duplicate of the first
    ("other", "c1", event(1)),  # the same event in another account: not a duplicate
    ("default", "c1", event(3, type="RETURN")),
    ("default", "c3", event(4, order={"value": 1.0})),  # no purchase id
    ("default", "c3", event(4, order={"value": 1.0})),  # a duplicate without a purchase id
    ("other", "c2", event(2, issued_at="2024-01-01T00:00:00Z")),
]


def index_all(store: EventStore, batches: list[tuple[str, str, dict[str, Any]]]) -> list[list[tuple[str, str]]]:
    found = []
    for account, customer, one in batches:
        pending = store.submit_batch(account, [{"id": customer, "events": [one]}], 1.0e9)
        pending.durable.result(timeout=10)
        found.append(pending.duplicates)
    return found


def index_state(store: EventStore) -> dict[str, Any]:
    rows = store._rows
    columns = {
        name: list(getattr(rows, name))
        for name in ("seq", "batch", "customer", "offset", "length", "type_code", "purchase_hash", "duplicate_of")
    }
    indexes = {
        name: {key: list(value) for key, value in getattr(store, name).items()}
        for name in ("_by_account", "_by_customer", "_by_type")
    }
    return {**columns, **indexes, "first_by_key": dict(store._first_by_key), "types": list(store._types)}


def indexed(data: Path | None) -> tuple[list[list[tuple[str, str]]], dict[str, Any], list[dict[str, Any]]]:
    """Index ONE_EVENT_BATCHES into a new store: the duplicates reported, the index state, the listing."""
    store = EventStore(data)
    try:
        return index_all(store, ONE_EVENT_BATCHES), index_state(store), listing(store)
    finally:
        store.close()


@pytest.mark.parametrize("memory", [True, False])
def test_one_event_batches_are_indexed_as_the_general_path_indexes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory: bool
) -> None:
    fast = indexed(None if memory else tmp_path / "fast")

    def general(
        self: EventStore,
        account: str,
        batch_row: int,
        seq: int,
        customer: tuple[str, list[bytes]],
        attributes: Any,
        offset: int,
    ) -> list[tuple[str, str]]:
        return self._index_many(account, batch_row, seq, [customer], [[attributes]], [offset])

    monkeypatch.setattr(EventStore, "_index_one", general)
    assert indexed(None if memory else tmp_path / "general") == fast
    assert [bool(found) for found in fast[0]] == [False, False, True, False, False, False, True, False]


def store_of(mode: str, opened: list[EventStore], data: Path) -> EventStore:
    store = open_store(opened, data) if mode == "data" else EventStore()
    if mode == "memory":
        opened.append(store)
    return store


def everything(store: EventStore, account: str | None = None) -> dict[str, Any]:
    """What every listing of the store says, rendered as the inspection API would."""
    tally = store.tally(account, processed)
    rendered: dict[str, Any] = orjson.loads(
        orjson.dumps(
            {
                "events": store.events(EventFilter(account=account), 1000, 0, processed),
                "by_type": store.events(EventFilter(account=account, type="PURCHASE"), 1000, 0, processed),
                "by_purchase": store.events(EventFilter(account=account, purchase_id="p-1"), 1000, 0, processed),
                "duplicates": store.events(EventFilter(account=account, duplicates=True), 1000, 0, processed),
                "customers": store.customers(account, 1000, 0),
                "batches": store.batches(account, 1000, 0),
                "tally": [tally.batches, tally.accepted, tally.duplicates],
                "count": store.count_events(),
            }
        )
    )
    return rendered


@pytest.mark.parametrize("mode", ["data", "memory"])
def test_after_an_account_reset_every_listing_is_as_if_it_had_never_stored_anything(
    mode: str, opened: list[EventStore], data: Path
) -> None:
    store = store_of(mode, opened, data)
    add_account(store, "acc_1")
    add(store, prefix="same-")
    expected = everything(store)
    add(store, prefix="same-")  # the same events again: duplicates, in the same account
    for _ in range(2):
        add(store, account="acc_1", prefix="same-")  # the same customer ids, and duplicates, in another
    assert store.reset("acc_1")["events"] == 8
    add(store, account="default", prefix="x-")
    store.reset("default")
    add(store, prefix="same-")
    assert everything(store)["duplicates"] == [[], 0]
    now = everything(store)
    assert now["count"] == expected["count"] and now["tally"] == expected["tally"]
    assert [c[0] for c in now["customers"][0]] == ["same-0", "same-1"]
    assert store.event("evt_5", processed) is None  # the second batch's first event, reset
    assert everything(store, "acc_1")["events"] == [[], 0]
    if mode == "data":
        close(opened, store)
        assert everything(open_store(opened, data)) == now
