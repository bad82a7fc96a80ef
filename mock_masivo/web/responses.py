"""Answers: orjson-rendered JSON, and the JSON body of every error."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import JSONResponse
from starlette.types import Scope

from ..errors import InjectedFault, MockError, ValidationFailed
from .requestlog import facts

if TYPE_CHECKING:
    from ..domain.faults import FaultRule

from ..domain.faults import TOO_MANY_REQUESTS_HEADERS


class FastJSONResponse(JSONResponse):
    """Rendered by orjson, which also splices stored events (orjson.Fragment) in without re-encoding."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(scope: Scope, exc: MockError) -> JSONResponse:
    """The answer to a MockError; its errors go to the request log, noted headers to the answer."""
    noted = facts(scope)
    if isinstance(exc, ValidationFailed):
        noted.errors = [violation.as_dict() for violation in exc.violations]
    else:
        noted.errors = [{"path": "", "message": exc.details, "rule": exc.title}]
    return JSONResponse(exc.body(), status_code=exc.status, headers={**noted.headers, **exc.headers})


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
