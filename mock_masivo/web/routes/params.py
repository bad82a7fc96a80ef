"""Query parameters: every call says which it takes, and refuses the rest."""

from __future__ import annotations

from starlette.requests import Request

from ...errors import InvalidParameter


def only(request: Request, *known: str) -> None:
    """Refuse a query parameter the call does not know: a misspelled filter must not widen a query."""
    for name in request.query_params:
        if name not in known:
            takes = f"it takes {', '.join(known)}" if known else "it takes none"
            raise InvalidParameter(
                f"unknown query parameter {name[:64]!r} on {request.method} {request.url.path}: {takes}"
            )
