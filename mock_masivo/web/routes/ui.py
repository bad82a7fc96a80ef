"""The web page (`/_mock/ui`): one static page whose script reads the inspection API.

The page holds no data: its script fetches `/_mock/*` JSON and writes every value as text (never as
HTML), under a Content-Security-Policy that allows no inline script and nothing from elsewhere.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from ...errors import NotFound

UI_DIR = Path(__file__).resolve().parents[2] / "ui"  # mock_masivo/ui
FILES = {
    "": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "style.css": ("style.css", "text/css; charset=utf-8"),
}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _read(name: str) -> bytes:
    return (UI_DIR / name).read_bytes()


async def page(request: Request) -> Response:
    name = request.path_params.get("name", "")
    if name not in FILES:
        raise NotFound(f"the web page has no file {name[:64]!r}")
    file_name, media_type = FILES[name]
    return Response(_read(file_name), media_type=media_type, headers=HEADERS)


class Root:
    """`/`, for every method (a plain ASGI app, so no 405): a browser opening the server's address is
    sent to the web page; anything else keeps the 404 of a path that is not served."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        accept = Headers(scope=scope).get("accept", "")
        if scope["method"] not in ("GET", "HEAD") or "text/html" not in accept:
            raise NotFound("nothing is served at /; see /openapi.json for what is")
        await RedirectResponse("/_mock/ui", status_code=303)(scope, receive, send)
