"""create_app: the route table, the request-log middleware, and the one place errors become JSON."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from ..config import MASIVO_BASE_PATH, Settings
from ..domain.kinds import KINDS
from ..errors import MockError
from ..storage.store import EventStore
from .guard import SiteGuard
from .middleware import RAW_SEND, MasivoMiddleware
from .openapi import build_openapi
from .responses import internal_error_response, refuse
from .routes import inspect, masivo, ui
from .services import Services

log = logging.getLogger("mock_masivo")
Endpoint = Callable[[Request], Awaitable[Response]]

HTTP_TITLES = {404: "Not found", 405: "Method not allowed"}


class MockMasivoApp(Starlette):
    """Starlette behind the site guard, with the server's own `send` kept in the scope so a fault
    rule can drop the connection, and a route table that finds fixed paths with one lookup."""

    def __init__(self, guard: SiteGuard, routes: list[BaseRoute], **options: Any) -> None:
        super().__init__(**options)
        self.router = RouteTable(routes, redirect_slashes=False, lifespan=options.get("lifespan"))
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        refused = self.guard.refusal(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[RAW_SEND] = send
        try:
            await super().__call__(scope, receive, send)
        finally:
            # uvicorn's `send` is a method of an object that holds the scope: left in it, it would make
            # every request a reference cycle (with 1-event requests the cyclic GC then cost ~10% of the CPU).
            del state[RAW_SEND]


def create_app(settings: Settings | None = None, store: EventStore | None = None, *, served: bool = False) -> Starlette:
    """The ASGI app. Opens (and later closes) its own store unless one is given. `served`: on a socket
    (serve, MockMasivoServer), so the Host check applies; in process (an ASGI transport) no other
    web page can reach it, and the client's base URL may name any host."""
    found = Services.build(settings or Settings(memory=True), store)
    openapi = build_openapi()

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            found.close()

    migrations = {kind.path: masivo.MigrateBatch(found, kind) for kind in KINDS.values()}
    routes: list[BaseRoute] = [
        *_masivo_routes(found, migrations),
        Mount(MASIVO_BASE_PATH, app=Router(_masivo_routes(found, migrations), redirect_slashes=False)),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *_inspection_routes(),
    ]
    # A trailing slash is a 404 like any unknown path (redirect_slashes=False): a redirect would not
    # carry a POST's body, and an id ending in an encoded "/" would be redirected to another id.
    app = MockMasivoApp(
        guard=SiteGuard(found.settings, check_host=served),
        routes=routes,
        lifespan=lifespan,
        exception_handlers={MockError: _mock_error, HTTPException: _http_error, Exception: _unexpected_error},
    )
    app.state.services = found
    return app


def _masivo_routes(found: Services, migrations: dict[str, masivo.MigrateBatch]) -> list[BaseRoute]:
    wrapped = [Middleware(MasivoMiddleware, services=found)]
    return [
        Route("/auth/authorize", masivo.authorize, methods=["GET"], middleware=wrapped),
        *(Route(path, migrate, methods=["POST"], middleware=wrapped) for path, migrate in migrations.items()),
        # One path segment (no :path): GET /customers/migrate/events must stay a 405 of the route above.
        RawSegmentRoute("/customers/{customer_id}", masivo.get_customer, methods=["GET"], middleware=wrapped),
        RawSegmentRoute(
            "/customers/{customer_id}/transactions",
            masivo.get_customer_transactions,
            methods=["GET"],
            middleware=wrapped,
        ),
    ]


def _inspection_routes() -> list[BaseRoute]:
    return [
        Route("/_mock/health", inspect.health, methods=["GET"]),
        Route("/_mock/events", inspect.list_events, methods=["GET"]),
        Route("/_mock/events/{event_id}", inspect.get_event, methods=["GET"]),
        Route("/_mock/profiles", inspect.list_profiles, methods=["GET"]),
        Route("/_mock/profiles/{record_id}", inspect.get_profile, methods=["GET"]),
        Route("/_mock/transactions", inspect.list_transactions, methods=["GET"]),
        Route("/_mock/transactions/{record_id}", inspect.get_transaction, methods=["GET"]),
        Route("/_mock/customers", inspect.list_customers, methods=["GET"]),
        # :path so that an id containing "/" (sent percent-encoded) still reaches the handler
        Route("/_mock/customers/{customer_id:path}", inspect.get_customer, methods=["GET"]),
        Route("/_mock/batches", inspect.list_batches, methods=["GET"]),
        Route("/_mock/requests", inspect.list_requests, methods=["GET"]),
        Route("/_mock/requests/{request_id}", inspect.get_request, methods=["GET"]),
        Route("/_mock/report", inspect.report, methods=["GET"]),
        _by_method("/_mock/accounts", GET=inspect.list_accounts, POST=inspect.create_account),
        Route("/_mock/ui", ui.page, methods=["GET"]),
        Route("/_mock/ui/{name}", ui.page, methods=["GET"]),
        Route("/", ui.Root()),
        Route("/_mock/reset", inspect.reset, methods=["POST"]),
        _by_method("/_mock/clock", GET=inspect.get_clock, POST=inspect.advance_clock),
        _by_method("/_mock/faults", GET=inspect.list_faults, POST=inspect.add_fault, DELETE=inspect.delete_faults),
        Route("/_mock/faults/{fault_id}", inspect.delete_fault, methods=["DELETE"]),
    ]


class RouteTable(Router):
    """Starlette's router, finding a route of a fixed path (the migrate endpoints above all: most
    requests) with one dict lookup, where Starlette tries each route's pattern in turn. Everything
    else (patterns, 405s, a root_path) it routes as Starlette does."""

    def __init__(self, routes: list[BaseRoute], **options: Any) -> None:
        super().__init__(routes, **options)
        self.fixed = dict(_fixed_paths(self.routes, ""))

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.fixed.get(scope["path"]) if scope["type"] == "http" and not scope.get("root_path") else None
        if route is not None and (route.methods is None or scope["method"] in route.methods):
            scope["endpoint"], scope["path_params"] = route.endpoint, dict(scope.get("path_params", {}))
            await route.handle(scope, receive, send)  # what Router.app does once Route.matches says FULL
            return
        await super().app(scope, receive, send)  # patterns, 405s, a root_path


def _fixed_paths(routes: list[BaseRoute], prefix: str) -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Mount) and "{" not in route.path:
            yield from _fixed_paths(route.routes, prefix + route.path)
        elif isinstance(route, Route) and "{" not in route.path and type(route) is Route:
            yield prefix + route.path, route


class RawSegmentRoute(Route):
    """A route whose parameters are matched in the path as sent: an id holding "/" (sent as %2F) stays one
    segment, as Masivo reads it, where the decoded path would split it in two and answer 404."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        raw = scope.get("raw_path")
        if not raw or b"%2f" not in raw.lower():
            return super().matches(scope)
        match, child = super().matches({**scope, "path": raw.decode("latin-1")})
        if match is not Match.NONE:
            child["path_params"] = {name: unquote(value) for name, value in child["path_params"].items()}
        return match, child


def _by_method(path: str, **handlers: Endpoint) -> Route:
    """One route for several methods, so a 405 lists all of them in Allow (one Route each would not)."""

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, dispatch, methods=list(handlers))


async def _mock_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MockError)
    return refuse(request.scope, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    title = HTTP_TITLES.get(exc.status_code, "HTTP error")
    details = exc.detail if exc.status_code not in HTTP_TITLES else _http_details(request, exc)
    return JSONResponse({"error": title, "details": details}, status_code=exc.status_code, headers=exc.headers)


def _http_details(request: Request, exc: HTTPException) -> str:
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        return f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    return f"nothing is served at {request.url.path}; see /openapi.json for what is"


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    _log_unexpected(request.scope, exc)
    return internal_error_response(exc)


def _log_unexpected(scope: Scope, exc: BaseException) -> None:
    log.exception("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
