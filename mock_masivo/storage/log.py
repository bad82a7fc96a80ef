"""Where the store's records go, in order: the journal file (`--data`) or memory (`--memory`).

The store writes and reads through one interface and never asks which it has. A record is placed
at an offset: where its payload starts in the log's address space (in the file: after the line's
checksum). The store keeps offsets in its rows and reads a record's bytes back with `read`.
"""

from __future__ import annotations

import asyncio
import bisect
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Protocol

from ..errors import StorageFull
from .journal import FRAME_HEAD, Journal

Apply = Callable[[int], None]  # called with the payload's offset once the record is durable, in order


class RecordLog(Protocol):
    def submit(self, payload: bytes, apply: Apply) -> Future[int]:
        """Append a record; `apply` runs once it is durable, in order; the future resolves after it."""

    def submit_async(self, payload: bytes, apply: Apply) -> asyncio.Future[int]:
        """`submit` for a caller on an event loop."""

    def run_in_order(self, task: Apply) -> Future[int]:
        """Run `task` after everything submitted before it is durable and applied."""

    def replay(self) -> Iterator[tuple[int, bytes]]:
        """(offset, payload) of every record, in order."""

    def read(self, offset: int, length: int) -> bytes: ...

    def forget(self, offset: int) -> None:
        """The record at `offset` will not be read again (memory frees it; a file keeps it)."""

    def replace(self, payloads: Iterable[bytes]) -> None:
        """Make these the only records, durably; on a failure nothing changed."""

    def where(self, offset: int) -> str:
        """How a person finds the record at `offset`, for error messages."""

    def close(self) -> None: ...


class FileLog:
    """The journal file (journal.py), offsets moved past each line's checksum."""

    def __init__(self, path: Path, fsync: bool) -> None:
        self.journal = Journal(path, fsync=fsync)

    def submit(self, payload: bytes, apply: Apply) -> Future[int]:
        return self.journal.submit(payload, lambda line: apply(line + FRAME_HEAD))

    def submit_async(self, payload: bytes, apply: Apply) -> asyncio.Future[int]:
        return self.journal.submit_async(payload, lambda line: apply(line + FRAME_HEAD))

    def run_in_order(self, task: Apply) -> Future[int]:
        return self.journal.run_in_order(task)

    def replay(self) -> Iterator[tuple[int, bytes]]:
        for line, payload in self.journal.replay():
            yield line + FRAME_HEAD, payload

    def read(self, offset: int, length: int) -> bytes:
        return self.journal.read(offset, length)

    def forget(self, offset: int) -> None:
        pass

    def replace(self, payloads: Iterable[bytes]) -> None:
        kept = list(payloads)
        try:
            self.journal.rewrite(kept)  # a new file, renamed over the old one: atomic
        except StorageFull:  # no room for the copy: empty the file itself, which frees the space
            self.journal.empty_into(kept)

    def where(self, offset: int) -> str:
        return f"{self.journal.path}: the record at byte {offset - FRAME_HEAD}"

    def close(self) -> None:
        self.journal.close()


class MemoryLog:
    """Records kept in memory (nothing survives the process), at offsets as if written one after another."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: dict[int, bytes] = {}
        self._starts: array[int] = array("q")
        self._end = 0

    def submit(self, payload: bytes, apply: Apply) -> Future[int]:
        future: Future[int] = Future()
        future.set_result(self._apply(payload, apply))
        return future

    def submit_async(self, payload: bytes, apply: Apply) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(self._apply(payload, apply))
        return future

    def run_in_order(self, task: Apply) -> Future[int]:
        task(0)
        future: Future[int] = Future()
        future.set_result(0)
        return future

    def _apply(self, payload: bytes, apply: Apply) -> int:
        with self._lock:
            offset = self._end
            self._payloads[offset] = payload
            self._starts.append(offset)
            self._end += len(payload) + 1
        apply(offset)
        return offset

    def replay(self) -> Iterator[tuple[int, bytes]]:
        with self._lock:
            kept = [(start, self._payloads[start]) for start in self._starts if start in self._payloads]
        yield from kept

    def read(self, offset: int, length: int) -> bytes:
        start = self._starts[bisect.bisect_right(self._starts, offset) - 1]
        return self._payloads[start][offset - start : offset - start + length]

    def forget(self, offset: int) -> None:
        with self._lock:
            self._payloads.pop(offset, None)

    def replace(self, payloads: Iterable[bytes]) -> None:
        with self._lock:  # offsets keep growing: a reader holding an old one finds nothing, never another record
            self._payloads, self._starts = {}, array("q")
        for payload in payloads:
            self._apply(payload, lambda _offset: None)

    def where(self, offset: int) -> str:
        return f"the record at {offset} in memory"

    def close(self) -> None:
        pass
