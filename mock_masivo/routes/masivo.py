"""The Masivo-compatible endpoints, served at the root and under /api/storefront/v1.

Checks run in DESIGN.md's order and the first failing one answers: auth, content type, size,
JSON syntax, schema and batch rules. Nothing is stored before all of them pass.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..body import read_body, require_json
from ..errors import Unauthorized, ValidationFailed
from ..parsing import parse_object
from ..services import Services

BODY_TIMEOUT_SECONDS = 10.0


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def note(request: Request, **facts: Any) -> None:
    """Facts for this request's journal entry (see journal_middleware)."""
    request.state.journal = {**getattr(request.state, "journal", {}), **facts}


async def authorize(request: Request) -> Response:
    found = services(request)
    keys = request.headers.getlist("x-api-key")
    if len(keys) > 1:
        raise Unauthorized("more than one x-api-key header")
    account = found.auth.account_for_api_key(keys[0] if keys else None)
    note(request, account=account)
    return JSONResponse({"data": found.auth.issue_token(account, found.clock.now_seconds())})


async def migrate_events(request: Request) -> Response:
    found = services(request)
    account = found.auth.account_for_bearer(request.headers.getlist("authorization"), found.clock.now_seconds())
    note(request, account=account)
    require_json(request)
    body = parse_object(await read_body(request, found.settings.max_body_bytes, BODY_TIMEOUT_SECONDS))
    report = found.validator.check(body)
    note(request, warnings=[warning.as_dict() for warning in report.warnings])
    if not report.ok:
        raise ValidationFailed(report.violations, report.truncated)
    batch = found.store.submit_batch(account, body["customers"], found.clock.now())
    await asyncio.wrap_future(batch.durable)
    note(request, batch_id=batch.id)
    return JSONResponse({}, status_code=201, headers={"X-Mock-Batch-Id": batch.id})
