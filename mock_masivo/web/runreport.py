"""The request side of the dry-run report: every call since the server started, counted as it ends.

The request log keeps the newest --request-log-size calls; a dry run sends millions, so the report cannot
be worked out from it. Each call instead adds to a few counters per account, whose size depends on
how many different kinds of refusal there are, never on how many requests were sent.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..config import MASIVO_BASE_PATH
from .requestlog import Call

EXAMPLES = 3  # request ids kept per group of violations
MAX_GROUPS = 1000  # groups per account; later new groups are counted under one "other" group
TIMELINE_MINUTES = 24 * 60  # the timeline covers the last day of requests
_INDEX = re.compile(r"/\d+(?=/|$)")
OTHER = ("*", "other", "*")


@dataclass(slots=True)
class ViolationGroup:
    message: str
    count: int = 0
    requests: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AccountRequests:
    """What one account's requests (or those with no account) add up to."""

    total: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    violations: dict[tuple[str, str, str], ViolationGroup] = field(default_factory=dict)
    timeline: dict[int, list[int]] = field(default_factory=dict)  # minute -> [accepted, refused]

    def add(self, call: Call, endpoint: str) -> None:
        self.total += 1
        self.by_status[str(call.status)] += 1
        refused = call.status is None or call.status >= 400
        minute = int(call.at // 60)
        counts = self.timeline.get(minute)
        if counts is None:
            counts = self.timeline[minute] = [0, 0]
            while len(self.timeline) > TIMELINE_MINUTES:
                del self.timeline[min(self.timeline)]
        counts[refused] += 1
        if refused:
            self._add_violations(call, endpoint)

    def _add_violations(self, call: Call, endpoint: str) -> None:
        seen: set[tuple[str, str, str]] = set()
        for error in call.facts.errors:
            key = (endpoint, error["rule"], _INDEX.sub("/*", error["path"]))
            if key not in self.violations and len(self.violations) >= MAX_GROUPS:
                key = OTHER
            group = self.violations.get(key)
            if group is None:
                group = self.violations[key] = ViolationGroup(
                    error["message"] if key != OTHER else f"more than {MAX_GROUPS} different violations"
                )
            group.count += 1
            if key not in seen:
                seen.add(key)
                group.requests += 1
                if len(group.examples) < EXAMPLES:
                    group.examples.append(f"req_{call.number}")


class RunReport:
    """Counters of every call to a Masivo-compatible route since start, per account; thread-safe."""

    def __init__(self) -> None:
        self._accounts: dict[str | None, AccountRequests] = {}
        self._lock = threading.Lock()

    def add(self, call: Call, endpoint: str) -> None:
        with self._lock:
            found = self._accounts.get(call.facts.account)
            if found is None:
                found = self._accounts[call.facts.account] = AccountRequests()
            found.add(call, endpoint)

    def clear(self, account: str | None = None) -> None:
        with self._lock:
            if account is None:
                self._accounts.clear()
            else:
                self._accounts.pop(account, None)

    def sections(self, account: str | None) -> dict[str, Any]:
        """The report's `requests`, `violations` and `timeline`: of one account, or of every call."""
        with self._lock:
            if account is None:
                return _render(list(self._accounts.values()))
            return _render([self._accounts[account]] if account in self._accounts else [])


def endpoint_of(method: str, route_path: str) -> str:
    """A call's endpoint as the report names it: `POST /customers/migrate`, the same under Masivo's base path."""
    if route_path.startswith(MASIVO_BASE_PATH + "/"):
        route_path = route_path[len(MASIVO_BASE_PATH) :]
    return f"{method} {route_path}"


def _render(parts: list[AccountRequests]) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    violations: dict[tuple[str, str, str], ViolationGroup] = {}
    timeline: dict[int, list[int]] = {}
    for part in parts:
        by_status.update(part.by_status)
        for key, group in part.violations.items():
            merged = violations.setdefault(key, ViolationGroup(group.message))
            merged.count += group.count
            merged.requests += group.requests
            merged.examples = (merged.examples + group.examples)[:EXAMPLES]
        for minute, (accepted, refused) in part.timeline.items():
            counts = timeline.setdefault(minute, [0, 0])
            counts[0] += accepted
            counts[1] += refused
    ordered = sorted(violations.items(), key=lambda item: (-item[1].count, item[0]))
    return {
        "requests": {"total": sum(part.total for part in parts), "by_status": dict(sorted(by_status.items()))},
        "violations": [
            {
                "endpoint": endpoint,
                "rule": rule,
                "path": path,
                "message": group.message,
                "count": group.count,
                "requests": group.requests,
                "examples": group.examples,
            }
            for (endpoint, rule, path), group in ordered
        ],
        "timeline": [
            {"minute": _minute(minute), "accepted": accepted, "refused": refused}
            for minute, (accepted, refused) in sorted(timeline.items())
        ],
    }


def _minute(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:00Z")
