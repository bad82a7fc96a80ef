"""Refuses, before anything else runs, requests that must not reach a route: a Host the server does
not answer to, cross-site state changes, and ambiguous framing.

Framing: a request with both Content-Length and Transfer-Encoding can be read two ways; a proxy in
front and this server could disagree on where it ends, and a second request could be smuggled
behind the first (RFC 9112 section 6.1). It is answered 400 and the connection closed.

A page the developer visits elsewhere can make the browser send requests here. With DNS rebinding
(attacker.example resolving to 127.0.0.1) it can even read the answers, so a request whose Host is a
name the server was not told about is refused. An IP address or `localhost` cannot be rebound. A
cross-site POST (a form) cannot read the answer but can change state, so state changes on `/_mock`
from another site, or from a page of another origin, are refused too. The Masivo routes need a
credential header, which another site cannot send without a CORS preflight this server never grants.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import Scope

from ..config import MAX_HEADER_BYTES, Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CROSS_SITE = frozenset({b"cross-site", b"same-site"})
ANY_INTERFACE = frozenset({"0.0.0.0", "::", ""})


class SiteGuard:
    def __init__(self, settings: Settings, check_host: bool = True) -> None:
        self.check_host = check_host
        names = {name.lower().rstrip(".") for name in settings.allowed_hosts}
        if settings.host not in ANY_INTERFACE:
            names.add(settings.host.lower())
        self.names = frozenset(names | {"localhost"})

    def refusal(self, scope: Scope) -> JSONResponse | None:
        """The answer refusing this request, or None when it may go on (an absolute-form target's scope
        is first given its plain path, so that routing sees what the client meant)."""
        seen = _read_headers(scope["headers"])
        if seen.size > MAX_HEADER_BYTES:
            return _refuse(
                431,
                "Request headers too large",
                f"the request's headers take {seen.size} bytes; at most {MAX_HEADER_BYTES} are read",
            )
        if seen.framings == 3:
            return _refuse(
                400,
                "Ambiguous framing",
                "the request has both Content-Length and Transfer-Encoding; "
                "send one (RFC 9112 section 6.1). The connection is closed.",
            )
        host = _absolute_form_authority(scope) or seen.host
        if self.check_host and host is not None and not self.allows(host.decode("latin-1")):
            return _refuse(
                400,
                "Host not allowed",
                f"this server does not answer to the name in Host: {host.decode('latin-1')[:100]!r}; "
                "add it with --allowed-host or MOCK_MASIVO_ALLOWED_HOST (e.g. a docker-compose "
                "service name)",
            )
        if scope["method"] in SAFE_METHODS or not scope["path"].startswith("/_mock"):
            return None
        if seen.site in CROSS_SITE or (seen.origin is not None and not _same_origin(seen.origin, host)):
            return _refuse(
                403,
                "Cross-site request refused",
                "a page of another site or origin may not change this server's state; call /_mock "
                "from your tests, scripts or the server's own page (/_mock/ui)",
            )
        return None

    def allows(self, host: str) -> bool:
        """Whether a Host header names this server: an IP address, localhost, or a name it was given."""
        name = _without_port(host).lower().rstrip(".")
        if name in self.names or name.endswith(".localhost"):
            return True
        try:
            ipaddress.ip_address(name.strip("[]") if name.startswith("[") else name)
        except ValueError:
            return False
        return True


@dataclass(slots=True)
class SeenHeaders:
    host: bytes | None = None
    origin: bytes | None = None
    site: bytes | None = None
    framings: int = 0  # 1: Content-Length, 2: Transfer-Encoding, 3: both
    size: int = 0


def _read_headers(headers: list[tuple[bytes, bytes]]) -> SeenHeaders:
    """What the guard needs of a request's headers, in one pass."""
    seen = SeenHeaders()
    for name, value in headers:
        seen.size += len(name) + len(value) + 4  # ": " and CRLF
        if name == b"host":
            seen.host = value
        elif name == b"origin":
            seen.origin = value
        elif name == b"sec-fetch-site":
            seen.site = value
        elif name == b"content-length":
            seen.framings |= 1
        elif name == b"transfer-encoding":
            seen.framings |= 2
    return seen


def _absolute_form_authority(scope: Scope) -> bytes | None:
    """For `GET http://host:port/path` (RFC 9112 section 3.2.2, which a server must accept): the scope's
    path becomes the path, and the authority is returned, to be checked in place of Host."""
    path: str = scope["path"]
    if not path.startswith(("http://", "https://")):
        return None
    target = urlsplit(path)
    scope["path"] = target.path or "/"
    raw = scope.get("raw_path")
    if raw:
        scope["raw_path"] = b"/" + raw.split(b"/", 3)[3] if raw.count(b"/") >= 3 else b"/"
    return target.netloc.encode("latin-1")


def _without_port(host: str) -> str:
    if host.startswith("["):  # [::1]:8642
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(origin: bytes, host: bytes | None) -> bool:
    """Whether an Origin header names this server as the Host header does (scheme aside)."""
    if origin == b"null" or host is None:
        return False
    try:
        return urlsplit(origin.decode("latin-1")).netloc.lower() == host.decode("latin-1").lower()
    except ValueError:
        return False


def _refuse(status: int, title: str, details: str) -> JSONResponse:
    return JSONResponse({"error": title, "details": details}, status_code=status, headers={"Connection": "close"})
