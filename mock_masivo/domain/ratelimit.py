"""Masivo's limits on migration endpoints, per account, on the server clock.

`dev`: no two requests less than 5 s apart, and at most 250 in any rolling hour; `prod`: 5 s and
1000 an hour. Both windows slide (the hour is the last 3600 s, not a token bucket), so a client
that respects `Retry-After` is never refused twice in a row.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from ..errors import TooManyRequests

MIN_INTERVAL_SECONDS = 5.0
WINDOW_SECONDS = 3600.0
HOURLY_LIMITS = {"dev": 250, "prod": 1000}


@dataclass(frozen=True)
class Allowance:
    limit: int
    remaining: int
    reset_seconds: int  # until a request would be accepted again

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


class RateLimiter:
    """Counts every migration request it lets through; refuses (429) what the limits forbid."""

    def __init__(self, mode: str) -> None:
        self.hourly = HOURLY_LIMITS.get(mode, 0)
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.hourly > 0

    def admit(self, account: str, now: float) -> Allowance | None:
        """Let one request through (returning the headers to send) or raise TooManyRequests."""
        if not self.enabled:
            return None
        with self._lock:
            seen = self._seen.setdefault(account, deque())
            while seen and seen[0] <= now - WINDOW_SECONDS:
                seen.popleft()
            wait = self._wait(seen, now)
            if wait > 0:
                refused = Allowance(self.hourly, self.hourly - len(seen), _whole(wait))
                raise TooManyRequests(_reason(seen, now, self.hourly), refused.headers(), refused.reset_seconds)
            seen.append(now)
            return Allowance(self.hourly, self.hourly - len(seen), _whole(self._wait(seen, now)))

    def _wait(self, seen: deque[float], now: float) -> float:
        """Seconds until one more request would be accepted."""
        if not seen:
            return 0.0
        wait = seen[-1] + MIN_INTERVAL_SECONDS - now
        if len(seen) >= self.hourly:
            wait = max(wait, seen[len(seen) - self.hourly] + WINDOW_SECONDS - now)
        return max(wait, 0.0)

    def forget(self, account: str | None = None) -> None:
        with self._lock:
            if account is None:
                self._seen.clear()
            else:
                self._seen.pop(account, None)


def _whole(seconds: float) -> int:
    return math.ceil(seconds) if seconds > 0 else 0


def _reason(seen: deque[float], now: float, hourly: int) -> str:
    if len(seen) >= hourly:
        return f"more than {hourly} migration requests in the last hour"
    return f"migration requests must be at least {MIN_INTERVAL_SECONDS:g} s apart"
