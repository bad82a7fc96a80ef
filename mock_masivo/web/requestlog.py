"""The request log: every call to a Masivo-compatible route, kept in memory (newest N), and the
facts each call's handlers note for its entry. A refused call keeps its body (its first
KEPT_BODY_BYTES) while the bodies kept fit --refused-bodies-bytes: the oldest are dropped first."""

from __future__ import annotations

import bisect
import itertools
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Scope

from ..domain.clock import iso_time
from ..errors import MockError, ValidationFailed

FACTS = "mock_masivo.facts"
NO_ITEMS: tuple[Any, ...] = ()
KEPT_BODY_BYTES = 64 * 1024
# Errors and warnings an entry keeps: 10,000 entries of 100 warnings each took 930 MB. The client's
# answer and the report still see them all; the entry says how many there were.
KEPT_ITEMS = 10
MASKED_HEADERS = frozenset({b"authorization", b"x-api-key", b"cookie", b"proxy-authorization"})


@dataclass(slots=True)
class CallFacts:
    """What handlers note about one call: for its request log entry and its answer's headers.

    Handlers replace the sequences, never append to them, so their default can be one shared empty
    tuple: most calls note no error or warning, and one CallFacts is made per call."""

    account: str | None = None
    batch_id: str | None = None
    errors: Sequence[dict[str, str]] = NO_ITEMS
    warnings: Sequence[dict[str, str]] = NO_ITEMS
    fault: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # X-RateLimit-*, for every answer
    body: bytes | None = None  # of a refused batch, until the request log drops it
    errors_total: int = 0  # how many errors and warnings there were, once the log keeps only the first few
    warnings_total: int = 0

    def refused_with(self, exc: MockError) -> None:
        """The errors a refusal answered with, for the log entry."""
        if isinstance(exc, ValidationFailed):
            self.errors = [violation.as_dict() for violation in exc.violations]
        else:
            self.errors = [{"path": "", "message": exc.details, "rule": exc.title}]

    def keep_first(self) -> None:
        """Keep the first KEPT_ITEMS errors and warnings (the log holds thousands of entries)."""
        self.errors_total, self.warnings_total = len(self.errors), len(self.warnings)
        if self.errors_total > KEPT_ITEMS:
            self.errors = tuple(self.errors[:KEPT_ITEMS])
        if self.warnings_total > KEPT_ITEMS:
            self.warnings = tuple(self.warnings[:KEPT_ITEMS])


def facts(scope: Scope) -> CallFacts:
    """This call's facts, noted by the handlers and middleware that ran so far."""
    state = scope.setdefault("state", {})
    noted: CallFacts | None = state.get(FACTS)
    if noted is None:
        noted = state[FACTS] = CallFacts()
    return noted


@dataclass(slots=True)
class Call:
    """One logged call, kept as recorded and turned into its JSON form only when listed."""

    number: int
    at: float
    method: str
    path: str
    status: int | None
    facts: CallFacts
    duration_ms: float
    headers: Sequence[tuple[bytes, bytes]] = NO_ITEMS  # as received: the ASGI scope's list, not a copy

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": f"req_{self.number}",
            "at": iso_time(self.at),
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "account": self.facts.account,
            "batch_id": self.facts.batch_id,
            "errors": list(self.facts.errors),
            "warnings": list(self.facts.warnings),
            "fault": self.facts.fault,
            "duration_ms": self.duration_ms,
        }
        for name, total in (("errors", self.facts.errors_total), ("warnings", self.facts.warnings_total)):
            if total > len(shown[name]):
                shown[f"{name}_total"] = total  # only the first KEPT_ITEMS are kept
        return shown

    def in_full(self) -> dict[str, Any]:
        """as_dict, with the request's headers (credentials masked) and a refused call's body."""
        body = self.facts.body
        return {
            **self.as_dict(),
            "headers": [
                [name.decode("latin-1"), "***" if name in MASKED_HEADERS else value.decode("latin-1")]
                for name, value in self.headers
            ],
            "body": None if body is None else body.decode("utf-8", "replace"),
            "body_truncated": body is not None and len(body) == KEPT_BODY_BYTES,
        }


class RequestLog:
    def __init__(self, size: int, body_budget: int = 64 * 1024 * 1024) -> None:
        self._calls: deque[Call] = deque(maxlen=size)
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._body_budget = body_budget
        self._bodies: deque[Call] = deque()  # calls that keep a body, oldest first
        self._body_bytes = 0

    def record(
        self,
        at: float,
        method: str,
        path: str,
        status: int | None,
        noted: CallFacts,
        duration_ms: float,
        headers: Sequence[tuple[bytes, bytes]] = NO_ITEMS,
    ) -> Call:
        with self._lock:
            call = Call(next(self._numbers), at, method, path, status, noted, duration_ms, headers)
            if len(self._calls) == self._calls.maxlen and self._calls[0].facts.body is not None:
                self._drop_oldest_body()  # it leaves the log with its call
            self._calls.append(call)
            if noted.body is not None:
                self._bodies.append(call)
                self._body_bytes += len(noted.body)
                while self._body_bytes > self._body_budget:
                    self._drop_oldest_body()
            return call

    def _drop_oldest_body(self) -> None:
        oldest = self._bodies.popleft()
        assert oldest.facts.body is not None
        self._body_bytes -= len(oldest.facts.body)
        oldest.facts.body = None

    def call(self, number: int) -> Call | None:
        with self._lock:
            at = bisect.bisect_left(self._calls, number, key=lambda call: call.number)
            return self._calls[at] if at < len(self._calls) and self._calls[at].number == number else None

    def calls(self, account: str | None = None, status: int | None = None) -> list[Call]:
        """Matching calls, oldest first."""
        with self._lock:
            return [
                call for call in self._calls if account in (None, call.facts.account) and status in (None, call.status)
            ]

    def clear(self, account: str | None = None) -> int:
        with self._lock:
            kept = [call for call in self._calls if account not in (None, call.facts.account)]
            removed = len(self._calls) - len(kept)
            self._calls.clear()
            self._calls.extend(kept)
            self._bodies = deque(call for call in self._bodies if account not in (None, call.facts.account))
            self._body_bytes = sum(len(call.facts.body or b"") for call in self._bodies)
            return removed
