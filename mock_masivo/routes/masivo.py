"""The Masivo-compatible endpoints, served at the root and under /api/storefront/v1.

Checks run in DESIGN.md's order and the first failing one answers: auth, rate limit, content
type, size, JSON syntax, schema and batch rules. Nothing is stored before all of them pass.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..body import read_body, require_json
from ..errors import NotFound, Unauthorized
from ..metrics import customer_metrics
from ..services import PROCESSED, Services

BODY_TIMEOUT_SECONDS = 10.0


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def note(request: Request, **facts: Any) -> None:
    """Facts for this request's journal entry and answer headers (see middleware.py)."""
    request.state.journal = {**getattr(request.state, "journal", {}), **facts}


def noted_headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = getattr(request.state, "journal", {}).get("headers", {})
    return headers


async def authorize(request: Request) -> Response:
    found = services(request)
    keys = request.headers.getlist("x-api-key")
    if len(keys) > 1:
        raise Unauthorized("more than one x-api-key header")
    account = found.auth.account_for_api_key(keys[0] if keys else None)
    note(request, account=account)
    return JSONResponse({"data": found.auth.issue_token(account, found.clock.now_seconds())})


def _bearer_account(request: Request) -> str:
    found = services(request)
    account = found.auth.account_for_bearer(request.headers.getlist("authorization"), found.clock.now_seconds())
    note(request, account=account)
    return account


async def migrate_events(request: Request) -> Response:
    found = services(request)
    account = _bearer_account(request)
    allowance = found.limiter.admit(account, found.clock.now())
    if allowance is not None:
        note(request, headers=allowance.headers())
    require_json(request)
    checked = await found.checker.check(await read_body(request, found.settings.max_body_bytes, BODY_TIMEOUT_SECONDS))
    warnings = [warning.as_dict() for warning in checked.warnings]
    batch = found.store.submit_encoded(account, checked.encoded, checked.attributes, found.clock.now())
    await asyncio.wrap_future(batch.durable)
    warnings += [{"path": path, "message": f"duplicate of {first}: same customer, type, order.purchase_id and "
                  "issued_at", "rule": "duplicate"} for path, first in batch.duplicates]
    note(request, batch_id=batch.id, warnings=warnings)
    return JSONResponse({}, status_code=201, headers={"X-Mock-Batch-Id": batch.id, **noted_headers(request)})


async def get_customer(request: Request) -> Response:
    """Masivo's customer read-back: metrics from this account's PROCESSED PURCHASE events."""
    found, customer_id = services(request), request.path_params["customer_id"]
    account = _bearer_account(request)
    stored = found.store.customer_events(customer_id, account, found.status_of)
    processed = [event["event"] for event in stored if event["status"] == PROCESSED]
    if not processed:
        raise NotFound(f"no customer {customer_id[:64]!r} in this account (migrated events appear once processed)")
    customer = {"id": customer_id, "metrics": customer_metrics(processed, found.clock.now()), "tier_id": None}
    return JSONResponse({"data": {"customer": customer}})
