"""The /_mock inspection API: what was received, by whom, and what was refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ... import __version__
from ...config import DEFAULT_ACCOUNT
from ...domain.auth import new_credential
from ...domain.clock import iso_time
from ...domain.faults import parse_rule
from ...domain.kinds import KINDS, PROFILE, TRANSACTION, Kind
from ...domain.metrics import customer_metrics
from ...domain.processing import STATUSES  # events never fail: status=FAILED lists none
from ...errors import InvalidParameter, InvalidRequestBody, NotFound, Violation
from ...ingest.parsing import parse_json
from ...storage.rows import EventFilter, RecordFilter
from ..body import read_body, require_json
from ..responses import FastJSONResponse
from .masivo import BODY_TIMEOUT_SECONDS, services
from .params import only

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# 9998-01-01T00:00:00Z: a year short of the end of datetime's range, as metrics need next year's start and
# time goes on after an advance.
CLOCK_END = 253_339_228_800


PAGING = ("limit", "offset", "account", "format")


def _int_param(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:  # "²".isdigit() is True, int("²") raises
        raise InvalidParameter(f"query parameter {name!r} must be a whole number from 0, got {raw[:32]!r}")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise InvalidParameter(f"query parameter {name!r} must be at most {maximum}, got {value}")
    return value


def _page(request: Request) -> tuple[int, int]:
    return _int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT), _int_param(request, "offset", 0)


Pager = Callable[[int, int], tuple[list[Any], int]]  # (limit, offset) -> (a page, the total)
JSONL_CHUNK = 1000  # records read per trip to the store while streaming JSON lines


async def _listing(request: Request, pager: Pager) -> Response:
    """A page as `{"data", "total"}`, or with ?format=jsonl every match as JSON lines, streamed a
    chunk at a time, so memory stays flat however many records match. Pages are read off the event
    loop: a query that scans a big store must not hold up the migration requests meanwhile."""
    wanted = request.query_params.get("format", "json")
    if wanted not in ("json", "jsonl"):
        raise InvalidParameter(f"query parameter 'format' must be json or jsonl, got {wanted[:32]!r}")
    if wanted == "json":
        limit, offset = _page(request)
        data, total = await asyncio.to_thread(pager, limit, offset)
        return FastJSONResponse({"data": data, "total": total})
    paged = [name for name in ("limit", "offset") if name in request.query_params]
    if paged:
        raise InvalidParameter(
            f"query parameter {paged[0]!r} does not go with format=jsonl, which streams every matching record"
        )
    return StreamingResponse(_lines(pager), media_type="application/x-ndjson")


async def _lines(pager: Pager) -> AsyncIterator[bytes]:
    offset = 0
    while True:
        data, _ = await asyncio.to_thread(pager, JSONL_CHUNK, offset)
        if not data:
            return
        yield b"".join(orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE) for item in data)
        offset += len(data)


async def health(request: Request) -> Response:
    only(request)
    return JSONResponse({"status": "ok", "version": __version__, "events": services(request).store.count_events()})


async def list_events(request: Request) -> Response:
    only(request, *PAGING, "customer_id", "type", "batch_id", "purchase_id", "status", "duplicates")
    found, params = services(request), request.query_params
    status = _status(request)
    duplicates = params.get("duplicates")
    if duplicates is not None and duplicates not in ("true", "false"):
        raise InvalidParameter("query parameter 'duplicates' must be true or false")
    where = EventFilter(
        account=params.get("account"),
        customer_id=params.get("customer_id"),
        type=params.get("type"),
        batch_id=params.get("batch_id"),
        purchase_id=params.get("purchase_id"),
        status=status,
        duplicates=None if duplicates is None else duplicates == "true",
    )
    return await _listing(request, lambda limit, offset: found.store.events(where, limit, offset, found.due))


async def get_event(request: Request) -> Response:
    only(request)
    found = services(request)
    event = found.store.event(request.path_params["event_id"], found.due)
    if event is None:
        raise NotFound(f"no stored event has id {request.path_params['event_id'][:64]!r}")
    return FastJSONResponse({"data": event})


def _status(request: Request) -> str | None:
    status = request.query_params.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidParameter(f"query parameter 'status' must be one of {', '.join(STATUSES)}")
    return status


async def _list_records(request: Request, kind: Kind, members: tuple[str, ...]) -> Response:
    only(request, *PAGING, "customer_id", "batch_id", "status", *members)
    found, params = services(request), request.query_params
    where = RecordFilter(
        account=params.get("account"),
        customer_id=params.get("customer_id"),
        batch_id=params.get("batch_id"),
        status=_status(request),
        members=tuple((name, params[name]) for name in members if name in params),
    )
    return await _listing(request, lambda limit, offset: found.store.records(kind, where, limit, offset, found.due))


def _get_record(request: Request, kind: Kind) -> Response:
    only(request)
    found, record_id = services(request), request.path_params["record_id"]
    record = found.store.record(kind, record_id, found.due)
    if record is None:
        raise NotFound(f"no stored {kind.name} has id {record_id[:64]!r}")
    return FastJSONResponse({"data": record})


async def list_profiles(request: Request) -> Response:
    return await _list_records(request, PROFILE, ("email",))


async def get_profile(request: Request) -> Response:
    return _get_record(request, PROFILE)


async def list_transactions(request: Request) -> Response:
    return await _list_records(request, TRANSACTION, ("type", "reward_id"))


async def get_transaction(request: Request) -> Response:
    return _get_record(request, TRANSACTION)


async def list_customers(request: Request) -> Response:
    only(request, *PAGING)
    found = services(request)
    account = request.query_params.get("account")

    def pager(limit: int, offset: int) -> tuple[list[Any], int]:
        page, total = found.store.customers(account, limit, offset)
        now = found.clock.now(account)
        data = []
        for customer_id, events in page:
            profile, transactions = found.backend.customer_facts(customer_id, account)
            data.append(
                {
                    "id": customer_id,
                    "events": len(events),
                    "metrics": customer_metrics(events, now),
                    "profile": profile,
                    "transactions": transactions,
                }
            )
        return data, total

    return await _listing(request, pager)


async def get_customer(request: Request) -> Response:
    only(request, "account", "limit", "offset")
    found, customer_id = services(request), request.path_params["customer_id"]
    limit, offset = _int_param(request, "limit", MAX_LIMIT, MAX_LIMIT), _int_param(request, "offset", 0)
    data = await asyncio.to_thread(
        found.backend.inspected_customer, customer_id, request.query_params.get("account"), limit, offset
    )
    if data is None:
        raise NotFound(f"nothing was received for customer {customer_id[:64]!r}")
    return FastJSONResponse({"data": data})


async def list_batches(request: Request) -> Response:
    only(request, *PAGING, "kind")
    kind = request.query_params.get("kind")
    if kind is not None and kind not in KINDS:
        raise InvalidParameter(f"query parameter 'kind' must be one of {', '.join(KINDS)}, got {kind[:32]!r}")
    store, account = services(request).store, request.query_params.get("account")
    return await _listing(request, lambda limit, offset: store.batches(account, limit, offset, kind))


async def list_requests(request: Request) -> Response:
    only(request, *PAGING, "status")
    status = request.query_params.get("status")
    if status is not None and not (status.isascii() and status.isdigit() and len(status) == 3):
        raise InvalidParameter(f"query parameter 'status' must be an HTTP status code, got {status[:32]!r}")
    calls = services(request).requests.calls(request.query_params.get("account"), int(status) if status else None)
    return await _listing(
        request, lambda limit, offset: ([call.as_dict() for call in calls[offset : offset + limit]], len(calls))
    )


async def get_request(request: Request) -> Response:
    """One request log entry in full: its headers (credentials masked) and a refused call's body."""
    only(request)
    request_id = request.path_params["request_id"]
    number = request_id.removeprefix("req_")
    call = (
        services(request).requests.call(int(number))
        if number.isascii() and number.isdigit() and len(number) < 19
        else None
    )
    if call is None:
        raise NotFound(
            f"no request {request_id[:64]!r} in the request log (it keeps the newest "
            "--request-log-size, formerly --journal-size)"
        )
    return FastJSONResponse({"data": call.in_full()})


async def report(request: Request) -> Response:
    """The dry-run report: what the store holds (durable) and what this run's requests were (in memory)."""
    only(request, "account")
    found, account = services(request), request.query_params.get("account")
    _require_account(request, account)
    records = await asyncio.to_thread(found.backend.summary, account)
    sections = found.report.sections(account)
    return FastJSONResponse(
        {
            "data": {
                "requests": sections["requests"],
                **_accepted_first(records),
                "violations": sections["violations"],
                "failures": records["failures"],
                "duplicates": records["duplicates"],
                "customers": records["customers"],
                "timeline": sections["timeline"],
            }
        }
    )


def _accepted_first(records: dict[str, Any]) -> dict[str, Any]:
    return {name: records[name] for name in ("accepted", "processed", "failed", "queued")}


async def list_accounts(request: Request) -> Response:
    """Every account's id (not its credentials): the default one first, then in order of creation."""
    only(request, "limit", "offset", "format")
    ids = [{"id": account_id} for account_id in (DEFAULT_ACCOUNT, *services(request).store.account_ids())]
    return await _listing(request, lambda limit, offset: (ids[offset : offset + limit], len(ids)))


async def create_account(request: Request) -> Response:
    only(request)
    found = services(request)
    account_id, api_key, token = new_credential("acc"), new_credential("key"), new_credential("tok")
    await asyncio.wrap_future(found.store.submit_account(account_id, api_key, token, found.clock.now()))
    found.auth.add(account_id, (api_key,), (token,))
    return JSONResponse({"data": {"id": account_id, "api_key": api_key, "token": token}}, status_code=201)


async def reset(request: Request) -> Response:
    only(request, "account")
    found, account = services(request), request.query_params.get("account")
    _require_account(request, account)
    counts = await asyncio.to_thread(found.store.reset, account)
    counts["requests"] = found.requests.clear(account)
    found.report.clear(account)
    found.limiter.forget(account)
    found.clock.forget(account)
    return JSONResponse(counts)


async def _json_body(request: Request) -> Any:
    require_json(request.headers)
    limit = services(request).settings.max_body_bytes
    value, _ = parse_json(await read_body(request.headers, request.receive, limit, BODY_TIMEOUT_SECONDS))
    return value


def _clock_account(request: Request) -> str | None:
    """The account whose clock a /_mock/clock call reads or moves (None: the server clock)."""
    only(request, "account")
    account = request.query_params.get("account")
    _require_account(request, account)
    return account


def _require_account(request: Request, account: str | None) -> None:
    if account is not None and account != DEFAULT_ACCOUNT and account not in services(request).store.account_ids():
        raise NotFound(f"no account has id {account[:64]!r}")


def _clock_state(request: Request, account: str | None) -> Response:
    clock = services(request).clock
    state: dict[str, Any] = {"now": iso_time(clock.now(account)), "offset": clock.offset(account)}
    if account is not None:
        state["account"] = account
    return JSONResponse(state)


async def get_clock(request: Request) -> Response:
    return _clock_state(request, _clock_account(request))


async def advance_clock(request: Request) -> Response:
    """{"advance": SECONDS} or {"to": DATE-TIME}: the server clock, or with ?account= one account's only."""
    account = _clock_account(request)
    found = services(request)
    now = found.clock.now(account)
    seconds = _seconds_forward(await _json_body(request), now)
    furthest = now if account is not None else found.clock.now() - found.clock.offset() + found.clock.furthest()
    if furthest + seconds >= CLOCK_END:
        raise InvalidRequestBody(
            [
                Violation(
                    "/advance",
                    "a clock may not come within a year of year 9999 (dates "
                    "and calendar periods around it would not be representable)",
                    "maximum",
                )
            ]
        )
    await asyncio.wrap_future(found.backend.advance_clock(seconds, account))
    return _clock_state(request, account)


def _seconds_forward(body: Any, now: float) -> float:
    """How far a clock body moves the clock, or InvalidRequestBody saying what is wrong."""
    if isinstance(body, dict) and set(body) == {"to"}:
        target = _instant(body["to"])
        if target < now:
            raise InvalidRequestBody(
                [
                    Violation(
                        "/to",
                        f"must not be before the clock's now ({iso_time(now)}): the clock only moves forward",
                        "minimum",
                    )
                ]
            )
        return target - now
    advance: Any = body.get("advance") if isinstance(body, dict) else None
    if isinstance(body, dict) and set(body) == {"advance"} and _is_number(advance) and advance < 0:
        raise InvalidRequestBody(
            [Violation("/advance", f"must be 0 or more, got {advance}: the clock only moves forward", "minimum")]
        )
    if not isinstance(body, dict) or set(body) != {"advance"} or not _is_seconds(advance):
        raise InvalidRequestBody(
            [
                Violation(
                    "/advance",
                    'send {"advance": SECONDS}, a number from 0 (the clock only moves forward), or {"to": DATE-TIME}',
                    "type",
                )
            ]
        )
    return float(advance)


def _instant(value: Any) -> float:
    """An RFC 3339 date-time with a time zone, as a timestamp."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) and len(value) <= 64 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidRequestBody(
            [Violation("/to", "must be an RFC 3339 date-time with a time zone, e.g. 2027-01-01T00:00:00Z", "format")]
        )
    return moment.timestamp()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_seconds(value: Any) -> bool:
    return _is_number(value) and 0 <= value < 10**10


async def add_fault(request: Request) -> Response:
    only(request)
    faults = services(request).faults
    rule, problems = parse_rule(faults.new_id(), await _json_body(request))
    if rule is None:
        raise InvalidRequestBody(problems)
    faults.add(rule)
    return JSONResponse({"data": rule.public()}, status_code=201)


async def list_faults(request: Request) -> Response:
    only(request, *PAGING)
    account = request.query_params.get("account")
    rules = [rule.public() for rule in services(request).faults.rules() if account in (None, rule.account)]
    return await _listing(request, lambda limit, offset: (rules[offset : offset + limit], len(rules)))


async def delete_faults(request: Request) -> Response:
    only(request)
    return JSONResponse({"removed": services(request).faults.remove()})


async def delete_fault(request: Request) -> Response:
    only(request)
    fault_id = request.path_params["fault_id"]
    if not services(request).faults.remove(fault_id):
        raise NotFound(f"no fault rule has id {fault_id[:64]!r}")
    return JSONResponse({"removed": 1})
