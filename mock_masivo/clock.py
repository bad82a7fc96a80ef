"""The server clock: wall time plus an offset that tests move forward instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


def iso_time(timestamp: float) -> str:
    """RFC 3339 in UTC with milliseconds: 2026-11-29T03:18:39.123Z."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
