"""The Masivo-compatible endpoints, served at the root and under /api/storefront/v1.

Checks run in DESIGN.md's order and the first failing one answers: auth, rate limit, content
type, size, JSON syntax, schema and batch rules. Nothing is stored before all of them pass.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..body import read_body, require_json
from ..errors import MockError, NotFound, Unauthorized
from ..metrics import customer_metrics
from ..requestlog import CallFacts, facts
from ..responses import error_response
from ..services import PROCESSED, Services
from ..store import StoredBatch

BODY_TIMEOUT_SECONDS = 10.0


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def authorize(request: Request) -> Response:
    found = services(request)
    keys = request.headers.getlist("x-api-key")
    if len(keys) > 1:
        raise Unauthorized("more than one x-api-key header")
    account = facts(request.scope).account = found.auth.account_for_api_key(keys[0] if keys else None)
    return JSONResponse({"data": found.auth.issue_token(account, found.clock.now_seconds())})


def bearer_account(found: Services, headers: Headers, noted: CallFacts) -> str:
    account = noted.account = found.auth.account_for_bearer(headers.getlist("authorization"),
                                                             found.clock.now_seconds())
    return account


class MigrateEvents:
    """POST /customers/migrate/events, as a plain ASGI app (no Starlette Request, no exception layers).

    It is the hot path of a dry run, and app.py sends its requests here without routing them:
    with 1-event batches, Starlette's layers cost more than the work itself (benchmarks/README.md).
    """

    def __init__(self, found: Services) -> None:
        self.services = found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        noted = facts(scope)
        try:
            batch = await self._accept(Headers(scope=scope), receive, noted)
        except MockError as exc:
            await error_response(scope, exc)(scope, receive, send)
            return
        headers = {"X-Mock-Batch-Id": batch.id, **noted.headers}
        await Response(b"{}", status_code=201, headers=headers, media_type="application/json")(scope, receive, send)

    async def _accept(self, headers: Headers, receive: Receive, noted: CallFacts) -> StoredBatch:
        found = self.services
        account = bearer_account(found, headers, noted)
        allowance = found.limiter.admit(account, found.clock.now())
        if allowance is not None:
            noted.headers = allowance.headers()
        require_json(headers)
        raw = await read_body(headers, receive, found.settings.max_body_bytes, BODY_TIMEOUT_SECONDS)
        checked = await found.checker.check(raw)
        del raw  # not kept while waiting for the fsync
        warnings = [warning.as_dict() for warning in checked.warnings]
        batch = await found.store.store_encoded(account, checked.encoded, checked.attributes, found.clock.now())
        noted.batch_id = batch.id
        noted.warnings = warnings + [
            {"path": path, "message": f"duplicate of {first}: same customer, type, order.purchase_id and issued_at",
             "rule": "duplicate"} for path, first in batch.duplicates]
        return batch


async def get_customer(request: Request) -> Response:
    """Masivo's customer read-back: metrics from this account's PROCESSED PURCHASE events."""
    found, customer_id = services(request), request.path_params["customer_id"]
    account = bearer_account(found, request.headers, facts(request.scope))
    stored = found.store.customer_events(customer_id, account, found.status_of)
    processed = [event["event"] for event in stored if event["status"] == PROCESSED]
    if not processed:
        raise NotFound(f"no customer {customer_id[:64]!r} in this account (migrated events appear once processed)")
    customer = {"id": customer_id, "metrics": customer_metrics(processed, found.clock.now()), "tier_id": None}
    return JSONResponse({"data": {"customer": customer}})
