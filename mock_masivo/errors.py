"""Domain errors: raised anywhere, turned into the JSON error body in web/responses.py.

MockError                   status, title, details
├── BadRequest              400  body is not valid JSON, or not an object
│   └── BadHeader           400  a header that cannot be read (Content-Length that is not a number)
├── Unauthorized            401  missing/bad API key or bearer token (WWW-Authenticate: Bearer)
├── NotFound                404
├── RequestTimeout          408  the body did not arrive in time
├── PayloadTooLarge         413  body over --max-body-bytes
├── UnsupportedMediaType    415  Content-Type is not JSON, or the body is encoded
├── InvalidParameter        422  a query parameter of the inspection API is wrong
├── ValidationFailed        422  schema or batch-rule violations, listed in `errors`
│   └── InvalidRequestBody  422  the same for the bodies of /_mock/clock and /_mock/faults
├── TooManyRequests         429  over Masivo's rate limits (Retry-After, X-RateLimit-*)
├── InjectedFault           any  an answer a fault rule asked for
├── StorageUnavailable      503  the journal cannot be written any more (restart needed)
└── StorageFull             507  the disk refused the write; nothing was stored
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_LISTED_VIOLATIONS = 100


@dataclass(frozen=True)
class Violation:
    """One reason a payload is rejected: where (JSON Pointer), what, and which rule."""

    path: str
    message: str
    rule: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "rule": self.rule}


class MockError(Exception):
    status = 500
    title = "Internal error"

    def __init__(self, details: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(details)
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.title, "details": self.details}


class BadRequest(MockError):
    status = 400
    title = "Invalid JSON"


class BadHeader(BadRequest):
    title = "Bad request"


class Unauthorized(MockError):
    status = 401
    title = "Unauthorized"

    def __init__(self, details: str, invalid_token: bool = False) -> None:
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(details, {"WWW-Authenticate": challenge})


class NotFound(MockError):
    status = 404
    title = "Not found"


class RequestTimeout(MockError):
    status = 408
    title = "Request timeout"


class PayloadTooLarge(MockError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(MockError):
    status = 415
    title = "Unsupported media type"


class InvalidParameter(MockError):
    status = 422
    title = "Invalid parameter"


class ValidationFailed(MockError):
    status = 422
    title = "Invalid customer entry"

    def __init__(self, violations: list[Violation], truncated: bool = False) -> None:
        count = f"{len(violations)}{' or more' if truncated else ''}"
        first = violations[0]
        where = first.path if len(first.path) <= 200 else first.path[:200] + "..."  # a member name can be huge
        super().__init__(f"{count} violation(s); first at {where or '/'}: {first.message}")
        self.violations = violations
        self.truncated = truncated

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["errors"] = [violation.as_dict() for violation in self.violations]
        if self.truncated:
            body["truncated"] = True
        return body


class TooManyRequests(MockError):
    status = 429
    title = "Too many requests"

    def __init__(self, details: str, headers: dict[str, str], retry_after: int) -> None:
        super().__init__(details, {**headers, "Retry-After": str(max(1, retry_after))})


class InjectedFault(MockError):
    title = "Injected fault"

    def __init__(self, rule_id: str, status: int) -> None:
        super().__init__(
            f"fault rule {rule_id} (added with POST /_mock/faults) answered {status} in place of "
            "this route; nothing was stored"
        )
        self.status = status


class InvalidRequestBody(ValidationFailed):
    """A mock-only endpoint (clock, faults) got a body it cannot use."""

    title = "Invalid request body"


class StorageUnavailable(MockError):
    status = 503
    title = "Storage unavailable"


class StorageFull(MockError):
    status = 507
    title = "Insufficient storage"
