"""The journal on a real data dir: torn tails are cut, damage elsewhere refuses to start, failed writes leave no trace.

Records are written through EventStore (the only writer the product has); the file is then damaged
by hand and the store reopened, as a restart after a crash would.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson
import pytest
from payloads import body

from mock_masivo.errors import StorageFull, StorageUnavailable
from mock_masivo.storage import journal as journal_module
from mock_masivo.storage.datadir import JOURNAL_FILE
from mock_masivo.storage.journal import CorruptJournal, Journal, frame, unframe
from mock_masivo.storage.rows import EventFilter
from mock_masivo.storage.store import EventStore

BATCHES = 4  # records written by `written`: one batch each, the last one small


def processed(_account: str, _at: float) -> bool:
    return True


def listing(store: EventStore) -> list[dict[str, Any]]:
    """Every stored event as the inspection API renders it (events are orjson.Fragments until then)."""
    rendered: list[dict[str, Any]] = orjson.loads(orjson.dumps(store.events(EventFilter(), 100_000, 0, processed)[0]))
    return rendered


def write_batches(data: Path, count: int = BATCHES) -> list[dict[str, Any]]:
    """`count` batches (the last with a single event, so its line is short) and the listing after them."""
    store = EventStore(data)
    try:
        for number in range(count):
            shape = (1, 1) if number == count - 1 else (3, 2)
            pending = store.submit_batch("default", body(*shape, prefix=f"b{number}-")["customers"], 1.0e9)
            pending.durable.result(timeout=10)
        return listing(store)
    finally:
        store.close()


def line_starts(raw: bytes) -> list[int]:
    """Where each line of a well-formed journal starts."""
    starts, position = [], 0
    for line in raw.splitlines(keepends=True):
        starts.append(position)
        position += len(line)
    return starts


def reopen(data: Path) -> list[dict[str, Any]]:
    store = EventStore(data)
    try:
        return listing(store)
    finally:
        store.close()


@pytest.fixture
def written(tmp_path: Path) -> tuple[Path, bytes, list[dict[str, Any]]]:
    """A data dir holding BATCHES batch records, the journal's bytes, and the store's listing."""
    data = tmp_path / "data"
    events = write_batches(data)
    raw = (data / JOURNAL_FILE).read_bytes()
    assert len(line_starts(raw)) == BATCHES
    return data, raw, events


def without_last_batch(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = events[-1]["batch_id"]
    return [event for event in events if event["batch_id"] != last]


def test_frame_and_unframe_round_trip_and_reject_a_changed_byte() -> None:
    line = frame(b'{"op":"x"}')
    assert line.endswith(b"\n")
    assert unframe(line[:-1]) == b'{"op":"x"}'
    assert unframe(line[:-1].replace(b"x", b"y")) is None
    assert unframe(b"zzzzzzzz {}") is None
    assert unframe(b"short") is None


def test_torn_last_record_is_cut_at_every_byte_offset(
    written: tuple[Path, bytes, list[dict[str, Any]]], caplog: pytest.LogCaptureFixture
) -> None:
    data, raw, events = written
    last_start = line_starts(raw)[-1]
    expected = without_last_batch(events)
    journal = data / JOURNAL_FILE
    caplog.set_level(logging.WARNING, logger="mock_masivo")
    for cut in range(last_start, len(raw)):
        journal.write_bytes(raw[:cut])
        assert reopen(data) == expected, f"cut at byte {cut}"
        assert journal.read_bytes() == raw[:last_start], f"cut at byte {cut}"
    assert "cutting off a torn last record" in caplog.text


def test_store_keeps_appending_after_a_torn_tail_was_cut(written: tuple[Path, bytes, list[dict[str, Any]]]) -> None:
    data, raw, events = written
    (data / JOURNAL_FILE).write_bytes(raw[:-5])
    store = EventStore(data)
    try:
        store.submit_batch("default", body(1, 1, prefix="after-")["customers"], 2.0e9).durable.result(timeout=10)
    finally:
        store.close()
    after = reopen(data)
    kept = without_last_batch(events)
    assert after[:-1] == kept
    assert after[-1]["customer_id"] == "after-0"
    assert after[-1]["id"] == f"evt_{len(kept) + 1}"  # the cut batch was never acknowledged; its ids are free


def test_corrupt_last_line_ending_in_a_newline_is_cut(written: tuple[Path, bytes, list[dict[str, Any]]]) -> None:
    data, raw, events = written
    last_start = line_starts(raw)[-1]
    damaged = bytearray(raw)
    damaged[last_start + 20] ^= 0x01
    (data / JOURNAL_FILE).write_bytes(bytes(damaged))
    assert reopen(data) == without_last_batch(events)
    assert (data / JOURNAL_FILE).read_bytes() == raw[:last_start]


def test_zero_filled_tail_left_by_a_power_loss_is_cut(written: tuple[Path, bytes, list[dict[str, Any]]]) -> None:
    data, raw, events = written
    (data / JOURNAL_FILE).write_bytes(raw + b"\0" * 4096)
    assert reopen(data) == events
    assert (data / JOURNAL_FILE).read_bytes() == raw


def damage_position(raw: bytes, where: str) -> int:
    starts = line_starts(raw)
    return {
        "checksum of the first record": starts[0],
        "payload of a middle record": starts[1] + 40,
        "last byte of a middle record's payload": starts[2] - 2,
        "newline after the first record": starts[1] - 1,
        "newline before the last record": starts[-1] - 1,  # joins the last two lines: not a torn tail
    }[where]


@pytest.mark.parametrize(
    "where",
    [
        "checksum of the first record",
        "payload of a middle record",
        "last byte of a middle record's payload",
        "newline after the first record",
        "newline before the last record",
    ],
)
def test_damage_before_the_last_line_refuses_to_open_and_leaves_the_file_alone(
    written: tuple[Path, bytes, list[dict[str, Any]]], where: str
) -> None:
    data, raw, _events = written
    damaged = bytearray(raw)
    damaged[damage_position(raw, where)] ^= 0x01
    (data / JOURNAL_FILE).write_bytes(bytes(damaged))
    with pytest.raises(CorruptJournal, match="Refusing to start"):
        EventStore(data)
    assert (data / JOURNAL_FILE).read_bytes() == bytes(damaged)
    with pytest.raises(CorruptJournal):  # the failed open released the data dir's lock
        EventStore(data)


def test_corrupt_journal_message_names_the_file_and_the_offset(
    written: tuple[Path, bytes, list[dict[str, Any]]],
) -> None:
    data, raw, _events = written
    middle = line_starts(raw)[1]
    damaged = bytearray(raw)
    damaged[middle + 40] ^= 0x01
    (data / JOURNAL_FILE).write_bytes(bytes(damaged))
    with pytest.raises(CorruptJournal) as caught:
        EventStore(data)
    assert str(data / JOURNAL_FILE) in str(caught.value)
    assert f"byte {middle}" in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[1,2]", b'{"op":"batch","seq":2}', b"{}"],
    ids=["not json", "not an object", "batch without its members", "no op"],
)
def test_record_with_a_good_checksum_that_cannot_be_loaded_refuses_to_open(
    written: tuple[Path, bytes, list[dict[str, Any]]], payload: bytes
) -> None:
    data, raw, _events = written
    starts = line_starts(raw)
    replaced = raw[: starts[1]] + frame(payload) + raw[starts[2] :]
    (data / JOURNAL_FILE).write_bytes(replaced)
    with pytest.raises(CorruptJournal, match=f"the record at byte {starts[1]} cannot be loaded"):
        EventStore(data)
    assert (data / JOURNAL_FILE).read_bytes() == replaced


def test_batch_record_not_laid_out_as_written_refuses_to_open(
    written: tuple[Path, bytes, list[dict[str, Any]]],
) -> None:
    data, raw, _events = written
    starts = line_starts(raw)
    respaced = unframe(raw[starts[1] : starts[2] - 1]).replace(b'"op":"batch"', b'"op": "batch"')  # type: ignore[union-attr]
    (data / JOURNAL_FILE).write_bytes(raw[: starts[1]] + frame(respaced) + raw[starts[2] :])
    with pytest.raises(CorruptJournal, match="not laid out as a batch record"):
        EventStore(data)


# -- failed writes, at the journal level ----------------------------------------------------------


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal(tmp_path / JOURNAL_FILE)
    yield opened
    opened.close()


def append(journal: Journal, payload: bytes) -> Future[int]:
    applied: list[int] = []
    return journal.submit(payload, applied.append)


def fail_on_fd(
    monkeypatch: pytest.MonkeyPatch, name: str, fd: Callable[[], int], error: int, times: int = 1, partial: bool = False
) -> None:
    """Make os.<name> fail with `error` for the next `times` calls on the fd `fd()` returns; other fds are untouched.

    With `partial`, a failing write first writes half of its data, as a disk filling up mid-write does.
    """
    real = getattr(os, name)
    left = [times]

    def failing(target: int, *args: Any) -> Any:
        if target != fd() or left[0] == 0:
            return real(target, *args)
        left[0] -= 1
        if partial:
            data = args[0]
            real(target, data[: len(data) // 2])
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(f"mock_masivo.storage.journal.os.{name}", failing)  # os itself: the wrapper checks the fd


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (errno.ENOSPC, StorageFull),
        (errno.EFBIG, StorageFull),
        (errno.EDQUOT, StorageFull),
        (errno.EIO, StorageUnavailable),
    ],
)
def test_failed_write_is_reported_and_cut_back(
    journal: Journal, monkeypatch: pytest.MonkeyPatch, error: int, raised: type[Exception]
) -> None:
    append(journal, b'{"n":1}').result(timeout=10)
    before = journal.path.read_bytes()
    fail_on_fd(monkeypatch, "write", lambda: journal._fd, error, partial=True)
    with pytest.raises(raised, match="nothing was stored"):
        append(journal, b'{"n":2}' * 1000).result(timeout=10)
    assert journal.path.read_bytes() == before
    assert append(journal, b'{"n":3}').result(timeout=10) == len(before)
    assert journal.path.read_bytes() == before + frame(b'{"n":3}')


def test_failed_fsync_refuses_every_later_write(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    fail_on_fd(monkeypatch, "fsync", lambda: journal._fd, errno.EIO)
    with pytest.raises(StorageUnavailable, match="fsync"):
        append(journal, b'{"n":1}').result(timeout=10)
    with pytest.raises(StorageUnavailable, match="restart"):
        append(journal, b'{"n":2}')
    with pytest.raises(StorageUnavailable):
        journal.run_in_order(lambda _offset: None)
    assert journal.path.read_bytes() == b""  # never acknowledged, so cut off: a retry must not store it twice


def test_write_that_cannot_be_cut_back_breaks_the_journal_without_hanging(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_fd(monkeypatch, "write", lambda: journal._fd, errno.EIO, partial=True)
    fail_on_fd(monkeypatch, "ftruncate", lambda: journal._fd, errno.EIO)
    with pytest.raises(StorageUnavailable, match="could not be undone"):
        append(journal, b'{"n":1}' * 100).result(timeout=10)
    with pytest.raises(StorageUnavailable):
        append(journal, b'{"n":2}')


def test_records_queued_behind_a_failed_fsync_are_refused(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything the writer takes after the failure is refused, even if it was queued before it."""
    fail_on_fd(monkeypatch, "fsync", lambda: journal._fd, errno.EIO)
    gate: Future[None] = Future()
    journal.run_in_order(lambda _offset: gate.result(timeout=10))  # holds the writer until all are queued
    first = append(journal, b'{"n":1}')
    task = journal.run_in_order(lambda _offset: None)
    second = append(journal, b'{"n":2}')
    gate.set_result(None)
    for future in (first, second):
        with pytest.raises(StorageUnavailable):
            future.result(timeout=10)
    assert task.result(timeout=10) == 0  # tasks still run: reads of the store stay possible
    assert journal.path.read_bytes() == b""


def test_failed_rewrite_leaves_the_live_file_and_no_tmp(journal: Journal, monkeypatch: pytest.MonkeyPatch) -> None:
    append(journal, b'{"n":1}').result(timeout=10)
    before = journal.path.read_bytes()
    real = journal_module._write_all

    def full_disk(fd: int, data: bytes) -> None:
        if fd != journal._fd:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd, data)

    monkeypatch.setattr(journal_module, "_write_all", full_disk)
    with pytest.raises(StorageFull):
        journal.rewrite([b'{"n":9}'])
    assert journal.path.read_bytes() == before
    assert [path.name for path in journal.path.parent.iterdir()] == [journal.path.name]
    assert append(journal, b'{"n":2}').result(timeout=10) == len(before)


def test_rewrite_replaces_the_file_and_appends_go_to_the_new_one(journal: Journal) -> None:
    append(journal, b'{"n":1}').result(timeout=10)
    journal.rewrite([b'{"n":7}'])
    append(journal, b'{"n":8}').result(timeout=10)
    assert journal.path.read_bytes() == frame(b'{"n":7}') + frame(b'{"n":8}')
    assert journal.read(9, 7) == b'{"n":7}'


# -- waiters on an event loop ---------------------------------------------------------------------


def test_a_group_of_loop_waiters_wakes_its_loop_once(journal: Journal) -> None:
    """Ten records committed together: each waiter gets its own offset, and the loop is woken once."""

    async def submit_ten_in_one_group() -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        wakeups = 0
        real = loop.call_soon_threadsafe

        def counting(*args: Any, **options: Any) -> Any:
            nonlocal wakeups
            wakeups += 1
            return real(*args, **options)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign,assignment]
        gate: Future[None] = Future()
        journal.run_in_order(lambda _offset: gate.result(timeout=10))  # holds the writer until all are queued
        applied: list[int] = []
        waiters = [journal.submit_async(b'{"n":%d}' % number, applied.append) for number in range(10)]
        gate.set_result(None)
        offsets = list(await asyncio.gather(*waiters))
        assert applied == offsets
        return offsets, wakeups

    offsets, wakeups = asyncio.run(submit_ten_in_one_group())
    assert offsets == [number * len(frame(b'{"n":0}')) for number in range(10)]
    assert wakeups == 1


def test_a_cancelled_waiter_does_not_stop_the_writer(journal: Journal) -> None:
    """Its record is still written (it was queued); later records, from threads and loops, still commit."""

    async def cancel_one_then_write_more() -> int:
        gate: Future[None] = Future()
        journal.run_in_order(lambda _offset: gate.result(timeout=10))
        abandoned_on_loop = journal.submit_async(b'{"n":1}', lambda _offset: None)
        abandoned_on_thread = journal.submit(b'{"n":2}', lambda _offset: None)
        abandoned_on_loop.cancel()
        abandoned_on_thread.cancel()
        gate.set_result(None)
        return await asyncio.wait_for(journal.submit_async(b'{"n":3}', lambda _offset: None), 10)

    assert asyncio.run(cancel_one_then_write_more()) == 2 * len(frame(b'{"n":1}'))
    assert append(journal, b'{"n":4}').result(timeout=10) == 3 * len(frame(b'{"n":1}'))
