"""Reading a request body: JSON content type only, capped in size, bounded in time.

Plain ASGI (headers and `receive`), so the migrate endpoint can use it without a Starlette Request.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Receive

from ..errors import BadHeader, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

JSON_MEDIA_TYPES = frozenset({"application/json"})


def require_json(headers: Headers) -> None:
    """415 unless the body is declared as plain, unencoded, UTF-8 JSON."""
    declared = headers.get("content-type")
    if declared is None:
        raise UnsupportedMediaType("missing Content-Type; send 'Content-Type: application/json'")
    media_type, *params = (part.strip() for part in declared.split(";"))
    if media_type.lower() not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {media_type[:64]!r}")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("JSON bodies must be UTF-8 (RFC 8259); drop the charset or use utf-8")
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(f"Content-Encoding {encoding[:32]!r} is not supported; send the body uncompressed")


async def read_body(headers: Headers, receive: Receive, limit: int, timeout: float) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed `limit`, or 408 when the client is late:
    `timeout` seconds, plus the time its bytes so far would take at MIN_BODY_RATE."""
    declared = headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is True
        raise BadHeader("Content-Length is not a number")
    if declared is not None and _exceeds(declared, limit):
        raise PayloadTooLarge(_too_large(limit))
    return await _LATE_BODIES.read(receive, limit, timeout)


MIN_BODY_RATE = 16 * 1024  # bytes per second a client is allowed on top of the body timeout


class LateBodies:
    """Cancels the reading of bodies that are late, so that they are answered 408.

    Late means slower than the client's fault can explain, not the server's: every chunk that
    arrives moves the deadline on by the time its bytes take at MIN_BODY_RATE (a client dripping a
    byte at a time gains almost nothing: the slow-loris guard stays), and when the event loop
    was busy (parsing other bodies, say) and a sweep ran late, the time it was late is added to
    every deadline, since the clients' bytes may have waited in their sockets meanwhile. Forty
    concurrent 8 MiB batches used to get 408s while their clients were still sending.
    One sweep every SWEEP_SECONDS per event loop checks every request waiting for its body, and
    runs only while some request waits. (asyncio.timeout arms and cancels a timer per request: 5 us,
    most of what reading a small body costs.) A deadline is met within SWEEP_SECONDS.
    """

    SWEEP_SECONDS = 0.1

    def __init__(self) -> None:
        self._waiting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[asyncio.Task[Any], float]] = (
            weakref.WeakKeyDictionary()
        )
        self._late: set[asyncio.Task[Any]] = set()

    async def read(self, receive: Receive, limit: int, timeout: float) -> bytes:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = {}
            loop.call_later(self.SWEEP_SECONDS, self._sweep, loop, waiting, loop.time() + self.SWEEP_SECONDS)
        waiting[task] = loop.time() + timeout

        def arrived(size: int) -> None:
            waiting[task] += size / MIN_BODY_RATE

        try:
            return await _read_capped(receive, limit, arrived)
        except asyncio.CancelledError:
            if task not in self._late:
                raise
            task.uncancel()
            raise RequestTimeout(
                f"the body did not arrive within {timeout:g} s (plus 1 s per {MIN_BODY_RATE // 1024} KiB received)"
            ) from None
        finally:
            del waiting[task]
            self._late.discard(task)

    def sweeping(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether a sweep is scheduled on `loop` (only while some request waits, or just did)."""
        return loop in self._waiting

    def _sweep(self, loop: asyncio.AbstractEventLoop, waiting: dict[asyncio.Task[Any], float], due: float) -> None:
        if not waiting:  # nobody waits: stop, the next request starts sweeping again
            del self._waiting[loop]
            return
        now = loop.time()
        busy = now - due  # the loop ran something else this long past the sweep's time: not the clients' fault
        for task, deadline in waiting.items():
            if busy > self.SWEEP_SECONDS:
                deadline = waiting[task] = deadline + busy
            if deadline <= now and task not in self._late:
                self._late.add(task)
                task.cancel()
        loop.call_later(self.SWEEP_SECONDS, self._sweep, loop, waiting, now + self.SWEEP_SECONDS)


_LATE_BODIES = LateBodies()


async def _read_capped(receive: Receive, limit: int, arrived: Callable[[int], None]) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestTimeout("the client disconnected before sending the whole body")
        chunk: bytes = message.get("body", b"")
        arrived(len(chunk))
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _exceeds(declared: str, limit: int) -> bool:
    digits = declared.lstrip("0")  # int() refuses more than 4300 digits, so long numbers are compared by length
    return len(digits) > len(str(limit)) or int(digits or "0") > limit


def _too_large(limit: int) -> str:
    return f"the body is larger than the limit of {limit} bytes (--max-body-bytes)"
