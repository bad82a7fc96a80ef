"""The request journal: every call to a Masivo-compatible route, kept in memory (newest N), and the
facts each call's handlers note for its entry."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Scope

from .clock import iso_time

FACTS = "mock_masivo.facts"
NO_ITEMS: tuple[Any, ...] = ()


@dataclass(slots=True)
class CallFacts:
    """What handlers note about one call: for its request journal entry and its answer's headers.

    Handlers replace the sequences, never append to them, so their default can be one shared empty
    tuple: most calls note no error or warning, and one CallFacts is made per call."""

    account: str | None = None
    batch_id: str | None = None
    errors: Sequence[dict[str, str]] = NO_ITEMS
    warnings: Sequence[dict[str, str]] = NO_ITEMS
    fault: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # X-RateLimit-*, for every answer


def facts(scope: Scope) -> CallFacts:
    """This call's facts, noted by the handlers and middleware that ran so far."""
    state = scope.setdefault("state", {})
    found: CallFacts | None = state.get(FACTS)
    if found is None:
        found = state[FACTS] = CallFacts()
    return found


@dataclass(slots=True)
class Call:
    """One journaled call, kept as recorded and turned into its JSON form only when listed."""

    number: int
    at: float
    method: str
    path: str
    status: int | None
    facts: CallFacts
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": f"req_{self.number}", "at": iso_time(self.at), "method": self.method, "path": self.path,
                "status": self.status, "account": self.facts.account, "batch_id": self.facts.batch_id,
                "errors": list(self.facts.errors), "warnings": list(self.facts.warnings), "fault": self.facts.fault,
                "duration_ms": self.duration_ms}


class RequestLog:
    def __init__(self, size: int) -> None:
        self._calls: deque[Call] = deque(maxlen=size)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, at: float, method: str, path: str, status: int | None, noted: CallFacts,
               duration_ms: float) -> Call:
        with self._lock:
            call = Call(next(self._numbers), at, method, path, status, noted, duration_ms)
            self._calls.append(call)
            return call

    def calls(self, account: str | None = None, status: int | None = None) -> list[Call]:
        """Matching calls, oldest first."""
        with self._lock:
            return [call for call in self._calls
                    if account in (None, call.facts.account) and status in (None, call.status)]

    def clear(self, account: str | None = None) -> int:
        with self._lock:
            kept = [call for call in self._calls if account not in (None, call.facts.account)]
            removed = len(self._calls) - len(kept)
            self._calls.clear()
            self._calls.extend(kept)
            return removed
