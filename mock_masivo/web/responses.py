"""Answers: orjson-rendered JSON, and the JSON body of every error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import JSONResponse
from starlette.types import Scope

from ..errors import InjectedFault, MockError
from .requestlog import CallFacts, facts

if TYPE_CHECKING:
    from ..domain.faults import FaultRule

from ..domain.faults import TOO_MANY_REQUESTS_HEADERS


class FastJSONResponse(JSONResponse):
    """Rendered by orjson, which also splices stored events (orjson.Fragment) in without re-encoding."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(exc: MockError, noted: CallFacts) -> JSONResponse:
    """The JSON answer to a MockError, with the headers noted for its call (rate limits)."""
    return JSONResponse(exc.body(), status_code=exc.status, headers={**noted.headers, **exc.headers})


def refuse(scope: Scope, exc: MockError) -> JSONResponse:
    """Note a MockError's errors for the call's request log entry, and answer it."""
    noted = facts(scope)
    noted.refused_with(exc)
    return error_response(exc, noted)


def fault_response(rule: FaultRule) -> JSONResponse:
    """The answer a fault rule with a status asks for: its own body, or the standard error body."""
    assert rule.status is not None
    body = rule.body if rule.body is not None else InjectedFault(rule.id, rule.status).body()
    usual = TOO_MANY_REQUESTS_HEADERS if rule.status == 429 else {}
    headers = {**usual, **(rule.headers or {}), "X-Mock-Fault": rule.id}
    return JSONResponse(body, status_code=rule.status, headers=headers)


def internal_error_response(exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": "Internal error", "details": f"{type(exc).__name__}; see the server log"}, status_code=500
    )
