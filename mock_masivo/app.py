"""create_app: the route table, the journal middleware, and the one place errors become JSON."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from .errors import MockError, ValidationFailed
from .middleware import RAW_SEND, FaultMiddleware, JournalMiddleware
from .openapi import build_openapi
from .routes import inspect, masivo
from .services import Services
from .settings import MASIVO_BASE_PATH, Settings
from .store import EventStore

log = logging.getLogger("mock_masivo")
Endpoint = Callable[[Request], Awaitable[Response]]

HTTP_TITLES = {404: "Not found", 405: "Method not allowed"}


class MockMasivoApp(Starlette):
    """Starlette, plus the server's own `send` kept in the scope so a fault rule can drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[RAW_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, store: EventStore | None = None) -> Starlette:
    """The ASGI app. Opens (and later closes) its own store unless one is given."""
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

    routes: list[BaseRoute] = [
        *_masivo_routes(found),
        Mount(MASIVO_BASE_PATH, app=Router(_masivo_routes(found), redirect_slashes=False)),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *_inspection_routes(),
    ]
    app = MockMasivoApp(routes=routes, lifespan=lifespan, exception_handlers={
        MockError: _mock_error, HTTPException: _http_error, Exception: _unexpected_error})
    # A trailing slash is a 404 like any unknown path: a redirect would not carry a POST's body, and an
    # id ending in an encoded "/" would be redirected to another id.
    app.router.redirect_slashes = False
    app.state.services = found
    return app


def _masivo_routes(found: Services) -> list[BaseRoute]:
    # Outermost first: the journal sees every outcome, faults included.
    wrapped = [Middleware(JournalMiddleware, services=found), Middleware(FaultMiddleware, services=found)]
    return [
        Route("/auth/authorize", masivo.authorize, methods=["GET"], middleware=wrapped),
        Route("/customers/migrate/events", masivo.migrate_events, methods=["POST"], middleware=wrapped),
        # One path segment (no :path): GET /customers/migrate/events must stay a 405 of the route above.
        Route("/customers/{customer_id}", masivo.get_customer, methods=["GET"], middleware=wrapped),
    ]


def _inspection_routes() -> list[BaseRoute]:
    return [
        Route("/_mock/health", inspect.health, methods=["GET"]),
        Route("/_mock/events", inspect.list_events, methods=["GET"]),
        Route("/_mock/events/{event_id}", inspect.get_event, methods=["GET"]),
        Route("/_mock/customers", inspect.list_customers, methods=["GET"]),
        # :path so that an id containing "/" (sent percent-encoded) still reaches the handler
        Route("/_mock/customers/{customer_id:path}", inspect.get_customer, methods=["GET"]),
        Route("/_mock/batches", inspect.list_batches, methods=["GET"]),
        Route("/_mock/requests", inspect.list_requests, methods=["GET"]),
        Route("/_mock/accounts", inspect.create_account, methods=["POST"]),
        Route("/_mock/reset", inspect.reset, methods=["POST"]),
        _by_method("/_mock/clock", GET=inspect.get_clock, POST=inspect.advance_clock),
        _by_method("/_mock/faults", GET=inspect.list_faults, POST=inspect.add_fault, DELETE=inspect.delete_faults),
        Route("/_mock/faults/{fault_id}", inspect.delete_fault, methods=["DELETE"]),
    ]


def _by_method(path: str, **handlers: Endpoint) -> Route:
    """One route for several methods, so a 405 lists all of them in Allow (one Route each would not)."""

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, dispatch, methods=list(handlers))


async def _mock_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MockError)
    if isinstance(exc, ValidationFailed):
        masivo.note(request, errors=[violation.as_dict() for violation in exc.violations])
    else:
        masivo.note(request, errors=[{"path": "", "message": exc.details, "rule": exc.title}])
    return JSONResponse(exc.body(), status_code=exc.status, headers={**masivo.noted_headers(request), **exc.headers})


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
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "Internal error", "details": f"{type(exc).__name__}; see the server log"},
                        status_code=500)
