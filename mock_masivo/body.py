"""Reading a request body: JSON content type only, capped in size, bounded in time."""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from .errors import BadHeader, PayloadTooLarge, RequestTimeout, UnsupportedMediaType

JSON_MEDIA_TYPES = frozenset({"application/json"})


def require_json(request: Request) -> None:
    """415 unless the body is declared as plain, unencoded, UTF-8 JSON."""
    declared = request.headers.get("content-type")
    if declared is None:
        raise UnsupportedMediaType("missing Content-Type; send 'Content-Type: application/json'")
    media_type, *params = (part.strip() for part in declared.split(";"))
    if media_type.lower() not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {media_type[:64]!r}")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType("JSON bodies must be UTF-8 (RFC 8259); drop the charset or use utf-8")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(f"Content-Encoding {encoding[:32]!r} is not supported; send the body uncompressed")


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed `limit`, or 408 after `timeout`."""
    declared = request.headers.get("content-length")
    if declared is not None and not (declared.isascii() and declared.isdigit()):  # "²".isdigit() is True
        raise BadHeader("Content-Length is not a number")
    if declared is not None and _exceeds(declared, limit):
        raise PayloadTooLarge(_too_large(limit))
    try:
        return await asyncio.wait_for(_read_capped(request, limit), timeout)
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {timeout:g} s") from None


async def _read_capped(request: Request, limit: int) -> bytes:
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > limit:
                raise PayloadTooLarge(_too_large(limit))
    except ClientDisconnect:
        raise RequestTimeout("the client disconnected before sending the whole body") from None
    return bytes(buffer)


def _exceeds(declared: str, limit: int) -> bool:
    digits = declared.lstrip("0")  # int() refuses more than 4300 digits, so long numbers are compared by length
    return len(digits) > len(str(limit)) or int(digits or "0") > limit


def _too_large(limit: int) -> str:
    return f"the body is larger than the limit of {limit} bytes (--max-body-bytes)"
