"""The HTTP/1.1 parser the server runs: uvicorn's httptools protocol, held to h11's guarantees.

With httptools (llhttp, in C) a small request costs the server a third less CPU than with h11
(benchmarks/README.md, "The HTTP stack"). As uvicorn runs it, it would loosen what reliability.md
asks of the server; this subclass keeps each of those guarantees:
- headers that grow past MAX_HEADER_BYTES before they end are refused at once (431), where
  httptools would buffer them until the connection times out (complete ones: web/guard.py);
- a Transfer-Encoding other than `chunked` is refused (400): the body could not be read as sent;
- what the parser refuses (Content-Length with Transfer-Encoding, malformed lengths, bad bytes)
  gets the JSON error body every other refusal has, and the connection is closed;
- an absolute-form target keeps its authority, for the site guard to check in place of Host.
It overrides hooks of uvicorn's HttpToolsProtocol, which are not public API: `http_protocol` falls
back to h11 (with a warning) when a uvicorn release no longer has them, and tests/e2e/test_transport.py
checks each guarantee over a raw socket with whatever uvicorn is installed.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .config import MAX_HEADER_BYTES

REASONS = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}
# What GuardedHttpTools relies on in uvicorn's protocol besides the parser callbacks.
HOOKS = (
    "_unset_keepalive_if_required",
    "_should_upgrade",
    "handle_websocket_upgrade",
    "_unsupported_upgrade_warning",
    "on_headers_complete",
    "on_message_complete",
)

log = logging.getLogger("mock_masivo")


def http_protocol() -> type[HttpToolsProtocol] | str:
    """uvicorn's `http` option: GuardedHttpTools, or h11 when this uvicorn lacks a hook it overrides."""
    missing = [name for name in HOOKS if not hasattr(HttpToolsProtocol, name)]
    if missing:
        log.warning("this uvicorn's httptools protocol lacks %s; parsing HTTP with h11 (slower)", ", ".join(missing))
        return "h11"
    return GuardedHttpTools


class Refusal(Exception):
    """An answer the parser gives before the app sees the request; raised in a parser callback, it
    reaches data_received as the context of httptools' HttpParserCallbackError."""

    def __init__(self, status: int, title: str, details: str) -> None:
        super().__init__(details)
        self.status, self.title, self.details = status, title, details


class GuardedHttpTools(HttpToolsProtocol):
    _head_bytes = 0  # received since the request began, until its headers are complete
    _in_head = True

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes, self._in_head = 0, True  # the next bytes begin the next request's head

    def data_received(self, data: bytes) -> None:
        """uvicorn's data_received, but a refusal is answered as a Refusal, with the JSON error body."""
        self._unset_keepalive_if_required()
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            context = exc.__context__
            self._refuse(context if isinstance(context, Refusal) else _parser_refusal(str(exc)))
            return
        if self._in_head and self._head_bytes > MAX_HEADER_BYTES:  # a head that has not ended: as h11 refuses it
            details = f"the request's headers took more than {MAX_HEADER_BYTES} bytes and had not ended"
            self._refuse(Refusal(431, "Request headers too large", details))

    def on_headers_complete(self) -> None:
        self._in_head = False
        codings = b",".join(value for name, value in self.headers if name == b"transfer-encoding")
        if codings and codings.replace(b" ", b"").lower() != b"chunked":
            raise Refusal(
                400,
                "Bad request",
                f"Transfer-Encoding {codings.decode('latin-1')[:64]!r} cannot be read: only chunked is supported",
            )
        super().on_headers_complete()
        if self.url.startswith((b"http://", b"https://")):  # the site guard checks the authority
            target = self.url.split(b"?", 1)[0]
            self.scope["path"], self.scope["raw_path"] = unquote(target.decode("latin-1")), target

    def _refuse(self, refusal: Refusal) -> None:
        """Answer with the JSON error body and close: what follows on this connection cannot be trusted."""
        body = orjson.dumps({"error": refusal.title, "details": refusal.details})
        head = [b"HTTP/1.1 %d %s\r\n" % (refusal.status, REASONS[refusal.status])]
        head += [b"%s: %s\r\n" % (name, value) for name, value in self.server_state.default_headers]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()


def _parser_refusal(message: str) -> Refusal:
    if "Content-Length" in message and "Transfer-Encoding" in message:
        return Refusal(
            400,
            "Ambiguous framing",
            "the request has both Content-Length and Transfer-Encoding; "
            "send one (RFC 9112 section 6.1). The connection is closed.",
        )
    return Refusal(400, "Bad request", f"the request is not valid HTTP/1.1: {message}")
