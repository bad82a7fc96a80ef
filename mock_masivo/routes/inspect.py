"""The /_mock inspection API: what was received, by whom, and what was refused."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..auth import new_credential
from ..errors import InvalidParameter, NotFound
from ..store import DEFAULT_ACCOUNT, EventFilter, customer_metrics
from .masivo import services

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
EVENT_STATUSES = ("QUEUED", "PROCESSED")


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise InvalidParameter(f"query parameter {name!r} must be a whole number from 0, got {raw[:32]!r}")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise InvalidParameter(f"query parameter {name!r} must be at most {maximum}, got {value}")
    return value


def _page(request: Request) -> tuple[int, int]:
    return _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT), _int_param(request, "offset", 0)


def _listing(data: list[Any], total: int) -> Response:
    return JSONResponse({"data": data, "total": total})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__, "events": services(request).store.count_events()})


async def list_events(request: Request) -> Response:
    found, params = services(request), request.query_params
    status = params.get("status")
    if status is not None and status not in EVENT_STATUSES:
        raise InvalidParameter(f"query parameter 'status' must be one of {', '.join(EVENT_STATUSES)}")
    where = EventFilter(account=params.get("account"), customer_id=params.get("customer_id"), type=params.get("type"),
                        batch_id=params.get("batch_id"), purchase_id=params.get("purchase_id"), status=status)
    limit, offset = _page(request)
    data, total = found.store.events(where, limit, offset, found.status_of)
    return _listing(data, total)


async def get_event(request: Request) -> Response:
    found = services(request)
    event = found.store.event(request.path_params["event_id"], found.status_of)
    if event is None:
        raise NotFound(f"no stored event has id {request.path_params['event_id'][:64]!r}")
    return JSONResponse({"data": event})


async def list_customers(request: Request) -> Response:
    limit, offset = _page(request)
    page, total = services(request).store.customers(request.query_params.get("account"), limit, offset)
    data = [{"id": customer_id, "events": len(events), "metrics": customer_metrics(events)}
            for customer_id, events in page]
    return _listing(data, total)


async def get_customer(request: Request) -> Response:
    found, customer_id = services(request), request.path_params["customer_id"]
    events = found.store.customer_events(customer_id, request.query_params.get("account"), found.status_of)
    if not events:
        raise NotFound(f"no events were received for customer {customer_id[:64]!r}")
    metrics = customer_metrics(stored["event"] for stored in events)
    return JSONResponse({"data": {"id": customer_id, "events": events, "metrics": metrics}})


async def list_batches(request: Request) -> Response:
    limit, offset = _page(request)
    data, total = services(request).store.batches(request.query_params.get("account"), limit, offset)
    return _listing(data, total)


async def list_requests(request: Request) -> Response:
    status = request.query_params.get("status")
    if status is not None and not (status.isdigit() and len(status) == 3):
        raise InvalidParameter(f"query parameter 'status' must be an HTTP status code, got {status[:32]!r}")
    entries = services(request).requests.entries(request.query_params.get("account"),
                                                 int(status) if status else None)
    limit, offset = _page(request)
    return _listing(entries[offset:offset + limit], len(entries))


async def create_account(request: Request) -> Response:
    found = services(request)
    account_id, api_key, token = new_credential("acc"), new_credential("key"), new_credential("tok")
    await asyncio.wrap_future(found.store.submit_account(account_id, api_key, token, found.clock.now()))
    found.auth.add(account_id, (api_key,), (token,))
    return JSONResponse({"data": {"id": account_id, "api_key": api_key, "token": token}}, status_code=201)


async def reset(request: Request) -> Response:
    found, account = services(request), request.query_params.get("account")
    if account is not None and account != DEFAULT_ACCOUNT and account not in found.store.account_ids():
        raise NotFound(f"no account has id {account[:64]!r}")
    counts = await asyncio.to_thread(found.store.reset, account)
    counts["requests"] = found.requests.clear(account)
    return JSONResponse(counts)
