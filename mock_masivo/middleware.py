"""Route middleware for Masivo-compatible routes: the request journal, latency and fault injection."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .clock import iso_time
from .errors import InjectedFault

if TYPE_CHECKING:
    from .faults import FaultRule
    from .services import Services

RAW_SEND = "mock_masivo.raw_send"


def facts(scope: Scope) -> dict[str, Any]:
    """What handlers noted about this request (account, batch id, errors, warnings, headers)."""
    found: dict[str, Any] = scope.get("state", {}).get("journal", {})
    return found


class JournalMiddleware:
    """Records every call in the request journal, whatever its outcome (a dropped one has status null)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

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
        except Exception:
            status = status or 500  # Starlette's outermost layer answers it, past this middleware
            raise
        finally:
            noted = facts(scope)
            self.services.requests.record({
                "at": iso_time(self.services.clock.now()),
                "method": scope["method"],
                "path": scope["path"],
                "status": status or None,
                "account": noted.get("account"),
                "batch_id": noted.get("batch_id"),
                "errors": noted.get("errors", []),
                "warnings": noted.get("warnings", []),
                "fault": noted.get("fault"),
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            })


class FaultMiddleware:
    """Applies --latency-ms and the first matching fault rule before the route runs."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.services
        if found.settings.latency_ms:
            await asyncio.sleep(found.settings.latency_ms / 1000)
        account = found.identify(scope) if found.faults else None
        rule = found.faults.match(scope["path"], scope["method"], account) if found.faults else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {}).setdefault("journal", {}).update(fault=rule.id, account=account)
        await self._apply(rule, scope, receive, send)

    async def _apply(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.drop == "before":
            drop_connection(scope)
        elif rule.status is not None:
            await _fault_response(rule)(scope, receive, send)
        elif rule.drop == "after":
            await self.app(scope, receive, _discard)
            drop_connection(scope)
        else:
            await self.app(scope, receive, send)


def _fault_response(rule: FaultRule) -> JSONResponse:
    assert rule.status is not None
    fault = InjectedFault(rule.id, rule.status)
    body = rule.body if rule.body is not None else fault.body()
    return JSONResponse(body, status_code=rule.status, headers={"X-Mock-Fault": rule.id})


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
