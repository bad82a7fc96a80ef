"""The request journal: every call to a Masivo-compatible route, kept in memory (newest N)."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Any


class RequestLog:
    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append({"id": f"req_{next(self._ids)}", **entry})

    def entries(self, account: str | None = None, status: int | None = None) -> list[dict[str, Any]]:
        """Matching entries, oldest first."""
        with self._lock:
            return [entry for entry in self._entries
                    if account in (None, entry["account"]) and status in (None, entry["status"])]

    def clear(self, account: str | None = None) -> int:
        with self._lock:
            kept = [entry for entry in self._entries if account not in (None, entry["account"])]
            removed = len(self._entries) - len(kept)
            self._entries.clear()
            self._entries.extend(kept)
            return removed
