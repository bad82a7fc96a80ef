"""Records every call to a Masivo-compatible route in the request journal, whatever its outcome."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .clock import Clock, iso_time
from .requestlog import RequestLog


class JournalMiddleware:
    """Wraps one route; handlers and the error handler leave facts in `request.state.journal`."""

    def __init__(self, app: ASGIApp, log: RequestLog, clock: Clock) -> None:
        self.app = app
        self.log = log
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 0

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            facts: dict[str, Any] = scope.get("state", {}).get("journal", {})
            self.log.record({
                "at": iso_time(self.clock.now()),
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "account": facts.get("account"),
                "batch_id": facts.get("batch_id"),
                "errors": facts.get("errors", []),
                "warnings": facts.get("warnings", []),
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            })
