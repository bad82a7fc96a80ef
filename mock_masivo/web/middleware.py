"""The middleware of every Masivo-compatible route: latency, fault rules, the request log, 500s.

One layer, not one per concern: the migrate route is the hot path of a dry run, and every layer of
its coroutine chain costs again each time the request resumes (after reading the body, after the
fsync).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .requestlog import facts
from .responses import fault_response, internal_error_response
from .runreport import endpoint_of

if TYPE_CHECKING:
    from ..domain.faults import FaultRule
    from .services import Services

RAW_SEND = "mock_masivo.raw_send"
log = logging.getLogger("mock_masivo")


class MasivoMiddleware:
    """Applies --latency-ms and the first matching fault rule, answers an unexpected error with a JSON
    500 (then re-raises it, as Starlette does, for the server's log), and records every call in the
    request log, whatever its outcome (a dropped one has status null)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 0
        noted = facts(scope)

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if self.services.settings.latency_ms or self.services.faults:
                await self._delay_or_fault(scope, receive, remember_status)
            else:
                await self.app(scope, receive, remember_status)
        except Exception as exc:
            if not status:
                await internal_error_response(exc)(scope, receive, remember_status)
            raise
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 3)
            found = self.services
            call = found.requests.record(
                found.clock.now(), scope["method"], scope["path"], status or None, noted, duration_ms, scope["headers"]
            )
            route = scope.get("route")
            found.report.add(call, endpoint_of(scope["method"], route.path if route is not None else scope["path"]))
            if noted.errors:  # a person watching the console sees why, not only "422"
                first = noted.errors[0]
                more = f" (and {len(noted.errors) - 1} more)" if len(noted.errors) > 1 else ""
                log.info(
                    "refused %s %s with %s: %s: %s%s",
                    scope["method"],
                    scope["path"],
                    status,
                    first["path"] or "(body)",
                    first["message"],
                    more,
                )
            noted.keep_first()  # after the report counted them all

    async def _delay_or_fault(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.services
        if found.settings.latency_ms:
            await asyncio.sleep(found.settings.latency_ms / 1000)
        account = found.identify(scope) if found.faults else None
        rule = found.faults.match(scope["path"], scope["method"], account) if found.faults else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        noted = facts(scope)
        noted.fault, noted.account = rule.id, account
        await self._apply(rule, scope, receive, send)

    async def _apply(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.drop == "before":
            drop_connection(scope)
        elif rule.status is not None:
            await fault_response(rule)(scope, receive, send)
        elif rule.drop == "after":
            await self.app(scope, receive, _discard)
            drop_connection(scope)
        else:
            await self.app(scope, receive, send)


async def _discard(message: Message) -> None:
    del message


def drop_connection(scope: Scope) -> None:
    """Close the client's connection without an answer (uvicorn only; elsewhere an exception)."""
    cycle = getattr(scope.get("state", {}).get(RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        raise ConnectionAbortedError("a fault rule dropped the connection")
    cycle.disconnected = True  # uvicorn then neither answers 500 nor logs a missing response
    transport.abort()
