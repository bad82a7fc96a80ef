"""The server clock: wall time plus an offset that tests move forward instead of sleeping."""

from __future__ import annotations

import functools
import math
import threading
import time
from datetime import UTC, datetime


def iso_time(timestamp: float) -> str:
    """RFC 3339 in UTC with milliseconds: 2026-11-29T03:18:39.123Z.

    Exactly what datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds") says (the
    fraction rounded half-even to microseconds, then cut to milliseconds), at half the cost: every
    accepted batch and every logged request is stamped, and most stamps share their second."""
    fraction, whole = math.modf(timestamp)
    seconds, micros = int(whole), round(fraction * 1e6)
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    elif micros < 0:
        seconds, micros = seconds - 1, micros + 1_000_000
    return f"{_whole_second(seconds)}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=64)
def _whole_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()[:19]


class Clock:
    """The server clock plus, per account, an offset of its own.

    Every account follows the server clock; `advance(seconds, account)` moves one account's clock
    only, so tests sharing a server never see each other's time. Clocks only move forward."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._accounts: dict[str, float] = {}
        self._lock = threading.Lock()

    def offset(self, account: str | None = None) -> float:
        """Seconds this clock is ahead of the wall clock (the server's, or one account's)."""
        return self._offset + self._accounts.get(account, 0.0) if account is not None else self._offset

    def own(self, account: str | None = None) -> float:
        """The offset a clock adds by itself: the server's, or an account's beyond the server's."""
        return self._accounts.get(account, 0.0) if account is not None else self._offset

    def furthest(self) -> float:
        """The largest offset of any clock: what an advance of the server clock must keep in range."""
        return self._offset + max(self._accounts.values(), default=0.0)

    def restore(self, offsets: dict[str | None, float]) -> None:
        """Offsets as kept by the store across a restart (None: the server clock's)."""
        with self._lock:
            self._offset = offsets.get(None, 0.0)
            self._accounts = {account: offset for account, offset in offsets.items() if account is not None}

    def now(self, account: str | None = None) -> float:
        return time.time() + self.offset(account)

    def now_seconds(self, account: str | None = None) -> int:
        """Whole seconds, as JWT claims use."""
        return int(self.now(account))

    def advance(self, seconds: float, account: str | None = None) -> None:
        with self._lock:
            if account is None:
                self._offset += seconds
            else:
                self._accounts[account] = self._accounts.get(account, 0.0) + seconds

    def forget(self, account: str | None = None) -> None:
        """An account's clock follows the server's again (all accounts' when None)."""
        with self._lock:
            if account is None:
                self._accounts.clear()
            else:
                self._accounts.pop(account, None)
