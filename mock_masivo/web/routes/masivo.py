"""The Masivo-compatible endpoints, served at the root and under /api/storefront/v1.

Checks run in DESIGN.md's order and the first failing one answers: auth, rate limit, content
type, size, JSON syntax, schema and batch rules. Nothing is stored before all of them pass.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ...backend import TransactionQuery
from ...domain.kinds import Kind
from ...errors import InvalidParameter, MockError, NotFound, Unauthorized
from ..body import read_body, require_json
from ..requestlog import KEPT_BODY_BYTES, CallFacts, facts
from ..responses import FastJSONResponse, refuse
from ..services import Services
from .params import only

BODY_TIMEOUT_SECONDS = 10.0
FIRST_YEAR, LAST_YEAR = 2020, 9998  # Masivo's lowest `year` for transactions; datetime ends in 9999


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def authorize(request: Request) -> Response:
    found = services(request)
    keys = request.headers.getlist("x-api-key")
    if len(keys) > 1:
        raise Unauthorized("more than one x-api-key header")
    account = facts(request.scope).account = found.auth.account_for_api_key(keys[0] if keys else None)
    return JSONResponse({"data": found.auth.issue_token(account, found.clock.now_seconds(account))})


def bearer_account(found: Services, headers: Headers, noted: CallFacts) -> str:
    account = noted.account = found.auth.account_for_bearer(headers.getlist("authorization"), found.clock.now_seconds)
    return account


class MigrateBatch:
    """POST of a migration batch of one kind (kinds.py), as a plain ASGI app (no Starlette Request):
    the hot path of a dry run, where every layer costs about as much as the work of a 1-record batch
    (benchmarks/README.md)."""

    def __init__(self, found: Services, kind: Kind) -> None:
        self.services = found
        self.kind = kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        noted = facts(scope)
        try:
            batch_id = await self._accept(Headers(scope=scope), receive, noted)
        except MockError as exc:
            await refuse(scope, exc)(scope, receive, send)
            return
        headers = {"X-Mock-Batch-Id": batch_id, **noted.headers}
        await Response(b"{}", status_code=201, headers=headers, media_type="application/json")(scope, receive, send)

    async def _accept(self, headers: Headers, receive: Receive, noted: CallFacts) -> str:
        """The checks in order, then the batch stored: its id."""
        found = self.services
        account = bearer_account(found, headers, noted)
        allowance = found.limiter.admit(account, found.clock.now(account))
        if allowance is not None:
            noted.headers = allowance.headers()
        require_json(headers)
        raw = await read_body(headers, receive, found.settings.max_body_bytes, BODY_TIMEOUT_SECONDS)
        try:
            checked = await found.checker.check(raw, self.kind)
        except MockError:
            noted.body = raw[:KEPT_BODY_BYTES]  # shown with its violations by GET /_mock/requests/{id}
            raise
        del raw  # not kept while waiting for the fsync
        noted.batch_id, noted.warnings = await found.backend.store_batch(account, checked, self.kind)
        return noted.batch_id


async def get_customer(request: Request) -> Response:
    """Masivo's customer read-back: the processed profile, its wallet, and metrics."""
    found, customer_id = services(request), request.path_params["customer_id"]
    account = bearer_account(found, request.headers, facts(request.scope))
    data = found.backend.masivo_customer(account, customer_id)
    if data is None:
        raise NotFound(_unknown(customer_id))
    return JSONResponse({"data": data})


async def get_customer_transactions(request: Request) -> Response:
    """Masivo's transaction history of a customer: processed transactions, newest first."""
    found, customer_id = services(request), request.path_params["customer_id"]
    account = bearer_account(found, request.headers, facts(request.scope))
    only(request, "year", "brand_id", "reward_id", "type")
    params = request.query_params
    query = TransactionQuery(
        year=_year(params.get("year")),
        brand_id=params.get("brand_id"),
        reward_id=params.get("reward_id"),
        type=params.get("type"),
    )
    data = found.backend.masivo_transactions(account, customer_id, query)
    if data is None:
        raise NotFound(_unknown(customer_id))
    return FastJSONResponse({"data": data})


def _unknown(customer_id: str) -> str:
    return f"no customer {customer_id[:64]!r} in this account (migrated customers and events appear once processed)"


def _year(raw: str | None) -> int | None:
    if raw is None:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) == 4 and FIRST_YEAR <= int(raw) <= LAST_YEAR:
        return int(raw)
    raise InvalidParameter(f"query parameter 'year' must be a year from {FIRST_YEAR} to {LAST_YEAR}, got {raw[:32]!r}")
