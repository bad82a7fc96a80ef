"""The append-only journal: the durable record of everything accepted.

One line per record: `<crc32 as 8 hex digits> <JSON payload>\\n`. A record is acknowledged only
after its line is written and fsynced (when fsync is on). Concurrent appends share one fsync
(group commit): a writer thread takes every queued line, writes them with one `write`, fsyncs once,
then runs each record's `apply` callback in order and resolves its future. Waiters on an event loop
(`submit_async`) are resolved with one wake-up of their loop per group, not one per record: with
many small concurrent requests, a cross-thread wake-up per request cost more than the fsync.

At start-up the file is read back: a torn or corrupt *last* line was never acknowledged, so it is
cut off with a warning (Redis' `aof-load-truncated`); a corrupt line anywhere else means the file
was damaged after the fact, and the server refuses to start rather than silently drop data.
A failed write is cut back off the file; a failed fsync disables writing until restart (after a
failed fsync the kernel may have dropped the dirty pages, so nothing after it can be trusted).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from pathlib import Path

from ..errors import StorageFull, StorageUnavailable

log = logging.getLogger("mock_masivo")

_NO_SPACE = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_FRAME_START = re.compile(rb"[0-9a-f]{8} ")


class CorruptJournal(Exception):
    """The journal is damaged before its last line; starting would silently lose data."""


FRAME_HEAD = 9  # a line's checksum and space: its payload starts this many bytes in


def frame(payload: bytes) -> bytes:
    """The journal line for one payload."""
    return b"%08x %b\n" % (zlib.crc32(payload), payload)


def unframe(line: bytes) -> bytes | None:
    """The payload of a complete line (without its newline), or None when the checksum fails."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[FRAME_HEAD:]
    try:
        expected = int(line[:8], 16)
    except ValueError:
        return None
    return payload if zlib.crc32(payload) == expected else None


Waiter = Future[int] | asyncio.Future[int]
Outcome = tuple[Waiter, int | BaseException]  # a waiter and what it resolves to: an offset or an error


@dataclass
class Entry:
    """Work for the writer thread: a record to append, or a task to run between appends."""

    payload: bytes | None
    apply: Callable[[int], None]  # called with the line's file offset (0 for a task), in order
    future: Waiter


class Journal:
    """Durable, ordered appends to one file, shared fsyncs, and replay at start-up."""

    def __init__(self, path: Path, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        created = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        if created and fsync:
            fsync_dir(path.parent)  # the new file's name must survive a power loss too
        self._queue: list[Entry] = []
        self._wakeup = threading.Condition()
        self._broken: str | None = None
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="mock-masivo-journal", daemon=True)
        self._writer.start()

    # -- reading ---------------------------------------------------------------------------------

    def replay(self) -> Iterator[tuple[int, bytes]]:
        """(offset, payload) of every good line, streamed; cuts a torn tail off the file."""
        size = os.fstat(self._fd).st_size
        for offset, line, complete in _lines(self._fd, size):
            payload = unframe(line) if complete else None
            if payload is None:
                self._cut_tail(offset, line, complete, size)
                return
            yield offset, payload

    def _cut_tail(self, offset: int, line: bytes, complete: bool, size: int) -> None:
        end = offset + len(line)
        if end < size - 1:
            damage = f"the record at byte {offset} is damaged and {size - end - 1} bytes follow it"
        elif complete and _hides_a_record(line):
            damage = f"the last line (byte {offset}) is damaged and ends in a whole record: a newline was damaged"
        else:
            damage = ""
        if damage:
            raise CorruptJournal(
                f"{self.path}: {damage}. "
                "Refusing to start so that nothing is silently dropped; move the file away to start empty."
            )
        log.warning(
            "%s: cutting off a torn last record at byte %d (%d bytes); it was never acknowledged",
            self.path,
            offset,
            size - offset,
        )
        os.ftruncate(self._fd, offset)
        self._sync()

    def read(self, offset: int, length: int) -> bytes:
        return os.pread(self._fd, length, offset)

    # -- writing ---------------------------------------------------------------------------------

    def submit(self, payload: bytes, apply: Callable[[int], None]) -> Future[int]:
        """Queue a record; the future resolves with its offset once it is durable and applied."""
        future: Future[int] = Future()
        self._enqueue(Entry(payload, apply, future))
        return future

    def submit_async(self, payload: bytes, apply: Callable[[int], None]) -> asyncio.Future[int]:
        """`submit` for a caller on an event loop: the future belongs to the running loop."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._enqueue(Entry(payload, apply, future))
        return future

    def run_in_order(self, task: Callable[[int], None]) -> Future[int]:
        """Run `task` on the writer thread after everything queued before it is durable and applied."""
        future: Future[int] = Future()
        self._enqueue(Entry(None, task, future))
        return future

    def _enqueue(self, entry: Entry) -> None:
        with self._wakeup:
            if self._broken:
                raise StorageUnavailable(self._broken)
            if self._closing:
                raise StorageUnavailable("the server is shutting down")
            self._queue.append(entry)
            self._wakeup.notify()

    def _write_loop(self) -> None:
        while True:
            with self._wakeup:
                while not self._queue and not self._closing:
                    self._wakeup.wait()
                if not self._queue:
                    return
                queued, self._queue = self._queue, []
            for group in _groups(queued):
                _deliver([_settle(group[0], 0)] if group[0].payload is None else self._commit(group))

    def _commit(self, batch: list[Entry]) -> list[Outcome]:
        lines = [frame(entry.payload) for entry in batch if entry.payload is not None]
        try:
            start = self._append(b"".join(lines))
        except Exception as exc:  # the writer thread must survive anything, or every later request hangs
            failure = (
                exc
                if isinstance(exc, StorageFull | StorageUnavailable)
                else self._break(
                    f"writing {self.path} failed and could not be undone ({exc}); restart the server to write again"
                )
            )
            return [(entry.future, failure) for entry in batch]
        outcomes, offset = [], start
        for entry, line in zip(batch, lines, strict=True):
            outcomes.append(_settle(entry, offset))
            offset += len(line)
        return outcomes

    def _append(self, data: bytes) -> int:
        """Write and fsync `data` at the end of the file and return where it starts; no partial line stays."""
        if self._broken:
            raise StorageUnavailable(self._broken)
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            os.ftruncate(self._fd, start)  # never leave a partial line behind (if this fails, _commit breaks)
            raise _write_error(exc) from exc
        try:
            self._sync()
        except OSError as exc:
            with contextlib.suppress(OSError):  # unacknowledged: it must not come back at restart
                os.ftruncate(self._fd, start)
            raise self._break(
                f"fsync of {self.path} failed ({exc.strerror}); restart the server to write again"
            ) from exc
        return start

    def _break(self, reason: str) -> StorageUnavailable:
        """Refuse every later write: what is on disk after this failure cannot be trusted."""
        self._broken = reason
        log.error("%s", reason)
        return StorageUnavailable(reason)

    def _sync(self) -> None:
        if self.fsync:
            os.fsync(self._fd)

    def rewrite(self, payloads: Iterable[bytes]) -> None:
        """Atomically replace the whole file (tmp, fsync, rename, fsync dir). Callers stop appends first."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for payload in payloads:
                    _write_all(fd, frame(payload))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:  # the live file is untouched
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise _write_error(exc) from exc
        try:
            new_fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        except OSError as exc:  # keep reading the old file (still open); appending to it would lose data
            raise self._break(
                f"reopening {self.path} after a rewrite failed ({exc.strerror}); restart the server"
            ) from exc
        old, self._fd = self._fd, new_fd
        os.close(old)
        try:
            fsync_dir(self.path.parent)
        except OSError as exc:  # the new file is in use; only its name's durability is in doubt
            self._break(f"fsync of {self.path.parent} failed ({exc.strerror}); restart the server to write again")

    def empty_into(self, payloads: Iterable[bytes]) -> None:
        """Truncate the live file and write `payloads` into it: for a disk too full for `rewrite`'s copy.
        Not atomic: a crash in between leaves the file empty or its last line torn (cut at start-up)."""
        data = b"".join(frame(payload) for payload in payloads)
        try:
            os.ftruncate(self._fd, 0)
            _write_all(self._fd, data)  # O_APPEND: at the new end, 0
            self._sync()
        except OSError as exc:  # the file may now be empty: nothing written after this can be trusted
            raise self._break(f"emptying {self.path} failed ({exc.strerror}); restart the server") from exc

    def close(self) -> None:
        with self._wakeup:
            self._closing = True
            self._wakeup.notify()
        self._writer.join()
        os.close(self._fd)


def _settle(entry: Entry, offset: int) -> Outcome:
    """Apply a durable entry; what its waiter gets is the offset, or the error `apply` raised."""
    try:
        entry.apply(offset)
    except BaseException as exc:  # handed to the caller waiting on the future, which re-raises it
        return entry.future, exc
    return entry.future, offset


def _deliver(outcomes: list[Outcome]) -> None:
    """Resolve thread waiters here and each event loop's waiters in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
        else:
            # A waiter cancelled meanwhile (its caller gave up) takes nothing; the writer must not die of it.
            with contextlib.suppress(InvalidStateError):
                _resolve(waiter, outcome)
    for loop, on_loop in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve_on_loop, on_loop)


def _resolve_on_loop(outcomes: list[Outcome]) -> None:
    for waiter, outcome in outcomes:
        if not waiter.done():  # on its own loop, nothing can cancel it between the check and the set
            _resolve(waiter, outcome)


def _resolve(waiter: Waiter, outcome: int | BaseException) -> None:
    if isinstance(outcome, BaseException):
        waiter.set_exception(outcome)
    else:
        waiter.set_result(outcome)


def _write_error(exc: OSError) -> Exception:
    if exc.errno in _NO_SPACE:
        return StorageFull(f"the disk refused the write ({exc.strerror}); nothing was stored")
    return StorageUnavailable(f"writing the journal failed ({exc.strerror}); nothing was stored")


def _hides_a_record(line: bytes) -> bool:
    """Whether a damaged line ends in a whole valid record, i.e. a newline inside it was damaged.

    A torn write only ever loses the end of the file, so such a line is damage after the fact.
    """
    return any(unframe(line[match.start() :]) is not None for match in _FRAME_START.finditer(line, 1))


def _groups(entries: list[Entry]) -> Iterator[list[Entry]]:
    """Runs of consecutive appends (committed with one fsync) and single tasks, in order."""
    group: list[Entry] = []
    for entry in entries:
        if entry.payload is None:
            if group:
                yield group
            yield [entry]
            group = []
        else:
            group.append(entry)
    if group:
        yield group


def _lines(fd: int, size: int, chunk: int = 1 << 22) -> Iterator[tuple[int, bytes, bool]]:
    """(offset, line without newline, whether a newline ended it), reading `chunk` bytes at a time."""
    buffer, buffer_offset, position = b"", 0, 0
    while position < size:
        buffer += os.pread(fd, min(chunk, size - position), position)
        position = min(size, position + chunk)
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            yield buffer_offset + start, buffer[start:end], True
            start = end + 1
        buffer, buffer_offset = buffer[start:], buffer_offset + start
    if buffer:
        yield buffer_offset, buffer, False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
