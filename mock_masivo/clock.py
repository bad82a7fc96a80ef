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
    accepted batch and every journaled request is stamped, and most stamps share their second."""
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
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return time.time() + self._offset

    def now_seconds(self) -> int:
        """Whole seconds, as JWT claims use."""
        return int(self.now())

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds
