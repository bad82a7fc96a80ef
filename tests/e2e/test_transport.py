"""Transport and HTTP over a real server (reliability.md T1-T14, R1, R4, and the order of checks).

Cases httpx would normalise or refuse to send (bad or duplicate Content-Length, Expect, huge or
whitespace-padded headers, a stalled body) go over raw sockets. Errors the HTTP parser (h11)
answers before the app runs are plain-text 400s from uvicorn; everything the app answers is JSON.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from conftest import AUTH, JSON_AUTH, MIGRATE, stored
from payloads import body

from mock_masivo import MockMasivoServer, create_app
from mock_masivo.config import Settings
from mock_masivo.web.routes import masivo

SMALL_CAP = 4096
VALID = json.dumps(body()).encode()
MIGRATE_PATHS = ["/customers/migrate/events", MIGRATE]


@pytest.fixture(scope="module")
def small() -> Iterator[MockMasivoServer]:
    """A body cap of SMALL_CAP bytes, to test the boundary with small bodies."""
    with MockMasivoServer(Settings(memory=True, port=0, log_level="warning", max_body_bytes=SMALL_CAP)) as server:
        yield server


@pytest.fixture(scope="module")
def small_api(small: MockMasivoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=small.url, timeout=30) as client:
        yield client


def assert_error(response: httpx.Response, status: int, title: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"error", "details"}
    assert answer["error"] == title
    assert isinstance(answer["details"], str) and answer["details"]


def allowed(response: httpx.Response | RawResponse) -> set[str]:
    return {method.strip() for method in response.headers["allow"].split(",")}


# --- raw sockets ----------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes

    def json(self) -> dict[str, object]:
        found: dict[str, object] = json.loads(self.body)
        return found


def connect(server: MockMasivoServer, timeout: float = 15) -> socket.socket:
    url = httpx.URL(server.url)
    assert url.host and url.port
    return socket.create_connection((url.host, url.port), timeout=timeout)


def read_response(sock: socket.socket) -> RawResponse:
    """One response: headers, then Content-Length bytes of body, or everything until the server closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    length = int(headers["content-length"]) if "content-length" in headers else None
    while length is None or len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return RawResponse(int(status_line.split()[1]), headers, rest[:length], data)


def exchange(server: MockMasivoServer, data: bytes) -> RawResponse:
    with connect(server) as sock:
        sock.sendall(data)
        return read_response(sock)


def request_head(*lines: bytes, auth: bytes = b"Bearer mock-token") -> bytes:
    fields = [b"Host: 127.0.0.1", b"Content-Type: application/json", *([b"Authorization: " + auth] if auth else [])]
    return b"\r\n".join([b"POST /customers/migrate/events HTTP/1.1", *fields, *lines]) + b"\r\n\r\n"


def with_length(payload: bytes, *lines: bytes, auth: bytes = b"Bearer mock-token") -> bytes:
    return request_head(b"Content-Length: %d" % len(payload), *lines, auth=auth) + payload


def assert_raw_error(response: RawResponse, status: int, title: str) -> None:
    assert response.status == status, response.raw[:500]
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["error"] == title
    assert isinstance(answer["details"], str) and answer["details"]


def assert_parser_rejected(response: RawResponse) -> None:
    """h11 refused the request before the app saw it: 400 and the connection closed."""
    assert response.status == 400, response.raw[:500]
    assert response.headers.get("connection", "").lower() == "close"


# --- T1-T5: content type and encoding ----------------------------------------------------------------

REFUSED_CONTENT_TYPES = [
    pytest.param(None, id="T1-missing"),
    pytest.param("", id="T1-empty"),
    pytest.param("text/plain", id="T2-text-plain"),
    pytest.param("application/x-www-form-urlencoded", id="T2-form-urlencoded"),
    pytest.param("multipart/form-data; boundary=x", id="T2-multipart"),
    pytest.param("text/json", id="text-json"),
    pytest.param("application/jsonx", id="json-prefix"),
    pytest.param("application/json, text/plain", id="two-media-types"),
    pytest.param("application/json; charset=latin-1", id="T4-latin-1"),
    pytest.param("application/json; charset=utf-16", id="T4-utf-16"),
    pytest.param("application/json; charset=UTF-32", id="T4-utf-32"),
]


@pytest.mark.parametrize("content_type", REFUSED_CONTENT_TYPES)
def test_migrate_events_refuses_non_json_content_type(api: httpx.Client, content_type: str | None) -> None:
    headers = {**AUTH, **({} if content_type is None else {"Content-Type": content_type})}
    before = stored(api)
    assert_error(api.post(MIGRATE, content=VALID, headers=headers), 415, "Unsupported media type")
    assert stored(api) == before


ACCEPTED_CONTENT_TYPES = [
    pytest.param("application/json", id="plain"),
    pytest.param("application/json; charset=utf-8", id="T3-charset-utf-8"),
    pytest.param("Application/JSON; Charset=UTF-8", id="T3-any-case"),
    pytest.param('application/json;charset="utf-8"', id="T3-quoted-charset"),
    pytest.param("application/json; charset=utf8", id="T3-utf8-alias"),
]


@pytest.mark.parametrize("content_type", ACCEPTED_CONTENT_TYPES)
def test_migrate_events_accepts_json_content_type_variants(
    api: httpx.Client, account: dict[str, str], content_type: str
) -> None:
    headers = {"Authorization": f"Bearer {account['token']}", "Content-Type": content_type}
    assert api.post(MIGRATE, content=VALID, headers=headers).status_code == 201
    assert stored(api, account["id"]) == 1


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        pytest.param("gzip", gzip.compress(VALID), id="T5-gzip"),
        pytest.param("br", VALID, id="T5-br"),
        pytest.param("deflate", VALID, id="T5-deflate"),
        pytest.param("identity, gzip", gzip.compress(VALID), id="T5-identity-then-gzip"),
    ],
)
def test_migrate_events_refuses_encoded_bodies(api: httpx.Client, encoding: str, payload: bytes) -> None:
    before = stored(api)
    response = api.post(MIGRATE, content=payload, headers={**JSON_AUTH, "Content-Encoding": encoding})
    assert_error(response, 415, "Unsupported media type")
    assert stored(api) == before


def test_identity_content_encoding_is_accepted(api: httpx.Client, account: dict[str, str]) -> None:
    headers = {
        "Authorization": f"Bearer {account['token']}",
        "Content-Type": "application/json",
        "Content-Encoding": "identity",
    }
    assert api.post(MIGRATE, content=VALID, headers=headers).status_code == 201
    assert stored(api, account["id"]) == 1


# --- T6-T7: methods and paths --------------------------------------------------------------------------


@pytest.mark.parametrize("path", MIGRATE_PATHS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_method_on_migrate_events_is_405_with_allow(api: httpx.Client, method: str, path: str) -> None:
    before = stored(api)
    response = api.request(method, path, content=VALID, headers=JSON_AUTH)
    assert_error(response, 405, "Method not allowed")
    assert allowed(response) == {"POST"}
    assert stored(api) == before


def test_head_on_migrate_events_is_405_without_a_body(api: httpx.Client) -> None:
    response = api.head(MIGRATE, headers=AUTH)
    assert response.status_code == 405
    assert allowed(response) == {"POST"}


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_wrong_method_on_authorize_is_405_with_allow(api: httpx.Client, method: str) -> None:
    response = api.request(method, "/auth/authorize", headers={"x-api-key": "mock-api-key"})
    assert_error(response, 405, "Method not allowed")
    assert allowed(response) == {"GET", "HEAD"}


@pytest.mark.parametrize(
    "path",
    [
        "/customer/migrate/events",
        "/customers/migrate/event",
        "/customers/migrate/events/extra",
        "/api/storefront/v2/customers/migrate/events",
        "/api/customers/migrate/events",
        "/CUSTOMERS/MIGRATE/EVENTS",
    ],
)
def test_unknown_path_is_404_json(api: httpx.Client, path: str) -> None:
    before = stored(api)
    assert_error(api.post(path, content=VALID, headers=JSON_AUTH), 404, "Not found")
    assert stored(api) == before


@pytest.mark.parametrize("path", MIGRATE_PATHS)
def test_trailing_slash_variant_is_404_json_and_stores_nothing(api: httpx.Client, path: str) -> None:
    # reliability.md T7: 404 JSON (no redirect: it would not carry the POST's body).
    before = stored(api)
    assert_error(api.post(path + "/", content=VALID, headers=JSON_AUTH), 404, "Not found")
    assert stored(api) == before


# --- order of checks: route -> auth -> content type -> size -> JSON -> schema ---------------------

ORDER_CASES = [
    pytest.param("POST", "/customers/migrate/evnts", {}, b"x" * (SMALL_CAP + 1), 404, "Not found", id="route-first"),
    pytest.param("GET", MIGRATE, {"Content-Type": "text/plain"}, b"x", 405, "Method not allowed", id="method-second"),
    pytest.param(
        "POST",
        MIGRATE,
        {"Content-Type": "text/plain"},
        b"x" * (SMALL_CAP + 1),
        401,
        "Unauthorized",
        id="auth-before-content-type",
    ),
    pytest.param(
        "POST",
        MIGRATE,
        {**AUTH, "Content-Type": "text/plain"},
        b"x" * (SMALL_CAP + 1),
        415,
        "Unsupported media type",
        id="content-type-before-size",
    ),
    pytest.param("POST", MIGRATE, JSON_AUTH, b"x" * (SMALL_CAP + 1), 413, "Payload too large", id="size-before-json"),
    pytest.param("POST", MIGRATE, JSON_AUTH, b'{"customers": 1,}', 400, "Invalid JSON", id="json-before-schema"),
    pytest.param("POST", MIGRATE, JSON_AUTH, b'{"customers": 1}', 422, "Invalid customer entry", id="schema-last"),
]


@pytest.mark.parametrize(("method", "path", "headers", "payload", "status", "title"), ORDER_CASES)
def test_first_failing_check_answers(
    small_api: httpx.Client, method: str, path: str, headers: dict[str, str], payload: bytes, status: int, title: str
) -> None:
    before = stored(small_api)
    response = small_api.request(method, path, content=payload, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == title
    assert stored(small_api) == before


# --- T9, T10, R1: size ------------------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A valid body of exactly `size` bytes (JSON whitespace at the end)."""
    assert size >= len(VALID)
    return VALID + b" " * (size - len(VALID))


def test_body_of_exactly_the_cap_is_accepted(small_api: httpx.Client) -> None:
    account = small_api.post("/_mock/accounts").json()["data"]
    headers = {"Authorization": f"Bearer {account['token']}", "Content-Type": "application/json"}
    assert small_api.post(MIGRATE, content=padded(SMALL_CAP), headers=headers).status_code == 201
    assert stored(small_api, account["id"]) == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "T10-chunked"])
def test_body_one_byte_over_the_cap_is_413(small_api: httpx.Client, chunked: bool) -> None:
    payload = padded(SMALL_CAP + 1)
    content = iter([payload[:100], payload[100:]]) if chunked else payload
    before = stored(small_api)
    assert_error(small_api.post(MIGRATE, content=content, headers=JSON_AUTH), 413, "Payload too large")
    assert stored(small_api) == before


def test_r1_body_of_20_mib_is_413(api: httpx.Client) -> None:
    before = stored(api)
    response = api.post(MIGRATE, content=b" " * (20 * 1024 * 1024), headers=JSON_AUTH)
    assert_error(response, 413, "Payload too large")
    assert stored(api) == before


def test_t10_chunked_body_growing_past_the_default_cap_is_413(api: httpx.Client) -> None:
    chunks = (b" " * (1024 * 1024) for _ in range(9))  # 9 MiB, no Content-Length
    before = stored(api)
    assert_error(api.post(MIGRATE, content=chunks, headers=JSON_AUTH), 413, "Payload too large")
    assert stored(api) == before


@pytest.mark.parametrize("expect", [True, False], ids=["expect-100-continue", "no-expect"])
def test_t9_oversize_content_length_is_413_before_any_body_is_sent(
    running: MockMasivoServer, api: httpx.Client, expect: bool
) -> None:
    before = stored(api)
    lines = [b"Content-Length: 50000000", *([b"Expect: 100-continue"] if expect else [])]
    response = exchange(running, request_head(*lines))  # the body is never sent
    assert_raw_error(response, 413, "Payload too large")
    assert b"100 Continue" not in response.raw
    assert stored(api) == before


def test_a1_missing_auth_is_401_before_any_body_is_sent(running: MockMasivoServer, api: httpx.Client) -> None:
    response = exchange(running, request_head(b"Content-Length: 50000000", b"Expect: 100-continue", auth=b""))
    assert_raw_error(response, 401, "Unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert b"100 Continue" not in response.raw


# --- T11, R4, T14: a body that stalls, drips or is abandoned ----------------------------------------


@pytest.fixture
def short_body_deadline(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(masivo, "BODY_TIMEOUT_SECONDS", 0.5)
    return 0.5


def test_t11_body_that_stalls_is_408(running: MockMasivoServer, api: httpx.Client, short_body_deadline: float) -> None:
    before = stored(api)
    with connect(running) as sock:
        sock.sendall(request_head(b"Content-Length: %d" % len(VALID)) + VALID[:10])
        response = read_response(sock)  # the socket timeout (15 s) fails the test if no answer comes
    assert_raw_error(response, 408, "Request timeout")
    assert stored(api) == before


def test_r4_body_dripping_past_the_deadline_is_408(
    running: MockMasivoServer, api: httpx.Client, short_body_deadline: float
) -> None:
    before = stored(api)
    with connect(running) as sock:
        sock.sendall(request_head(b"Content-Length: %d" % len(VALID)))
        for byte in VALID:  # one byte every 50 ms: never idle for long, but far slower than the deadline
            if select.select([sock], [], [], 0.05)[0]:
                break
            sock.sendall(bytes([byte]))
        response = read_response(sock)
    assert_raw_error(response, 408, "Request timeout")
    assert stored(api) == before


def test_a_big_body_arriving_steadily_past_the_deadline_is_accepted(
    running: MockMasivoServer, api: httpx.Client, short_body_deadline: float
) -> None:
    """Issue 15 item 8: the deadline grows with what arrives, so a client sending at a fair rate is not cut
    off when the whole body takes longer than the timeout (here 64 KiB over 1.2 s against 0.5 s)."""
    padded = json.dumps({**body(), "padding": "x" * 65_000}).encode()
    with connect(running) as sock:
        sock.sendall(request_head(b"Content-Length: %d" % len(padded)))
        for start in range(0, len(padded), 8192):
            time.sleep(0.15)
            sock.sendall(padded[start : start + 8192])
        response = read_response(sock)
    assert response.status == 201, response.raw[:300]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)


@pytest.fixture
def server_errors() -> Iterator[list[logging.LogRecord]]:
    """ERROR records of the server's loggers (uvicorn's do not propagate to the root logger)."""
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "mock_masivo")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler.seen
    for logger in loggers:
        logger.removeHandler(handler)


def journal_size(client: httpx.Client) -> int:
    total: int = client.get("/_mock/requests", params={"limit": "1"}).json()["total"]
    return total


def newest_journal_entry(client: httpx.Client) -> dict[str, object]:
    offset = str(journal_size(client) - 1)
    entry: dict[str, object] = client.get("/_mock/requests", params={"limit": "1", "offset": offset}).json()["data"][0]
    return entry


def test_t14_client_disconnecting_mid_body_stores_nothing_and_is_no_server_error(
    running: MockMasivoServer, api: httpx.Client, server_errors: list[logging.LogRecord]
) -> None:
    before, seen = stored(api), journal_size(api)
    with connect(running) as sock:
        sock.sendall(request_head(b"Content-Length: %d" % len(VALID)) + VALID[:10])
    deadline = time.monotonic() + 10
    while journal_size(api) == seen:  # the server notices the disconnect, then journals it
        assert time.monotonic() < deadline, "the abandoned request never reached the journal"
        select.select([], [], [], 0.01)
    assert newest_journal_entry(api)["status"] == 408
    assert server_errors == []
    assert stored(api) == before


# --- T12, T13: what the HTTP parser refuses -----------------------------------------------------------

PARSER_CASES = [
    pytest.param(request_head(b"Content-Length: abc") + b"{}", id="T12-content-length-not-a-number"),
    pytest.param(request_head(b"Content-Length: -1") + b"{}", id="T12-content-length-negative"),
    pytest.param(request_head(b"Content-Length: 1e3") + b"{}", id="T12-content-length-exponent"),
    pytest.param(request_head(b"Content-Length: 2", b"Content-Length: 3") + b"{} ", id="T12-two-different-lengths"),
    pytest.param(request_head(b"Content-Length: 2, 3") + b"{} ", id="T12-length-list"),
    pytest.param(request_head(b"Content-Length: " + b"9" * 5000) + b"{}", id="T12-5000-digit-length"),
    pytest.param(with_length(VALID, auth=b"Bearer mock-token\x00"), id="nul-in-header-value"),
    pytest.param(request_head(b"Transfer-Encoding: gzip, chunked") + b"2\r\n{}\r\n0\r\n\r\n", id="unknown-coding"),
]


@pytest.mark.parametrize("data", PARSER_CASES)
def test_request_the_http_parser_refuses_is_400_and_stores_nothing(
    running: MockMasivoServer, api: httpx.Client, data: bytes
) -> None:
    before = stored(api)
    assert_parser_rejected(exchange(running, data))
    assert stored(api) == before


def test_headers_over_16_kib_that_have_not_ended_are_431_at_once(running: MockMasivoServer, api: httpx.Client) -> None:
    """T13: refused as soon as the head passes 16 KiB without ending, not when the connection times out
    (h11 said 400; 431 is what complete headers over 16 KiB get too)."""
    before = stored(api)
    response = exchange(running, request_head(b"X-Pad: " + b"a" * 20_000)[:-4])
    assert_raw_error(response, 431, "Request headers too large")
    assert response.headers["connection"] == "close"
    assert stored(api) == before


def test_same_content_length_twice_is_refused(running: MockMasivoServer, api: httpx.Client) -> None:
    # RFC 9112 §6.3: a recipient either refuses repeated Content-Length values or treats identical ones as
    # one. The parser (httptools, since issue 16) refuses them; h11 used to merge them.
    before = stored(api)
    response = exchange(running, request_head(b"Content-Length: 2", b"Content-Length: 2") + b"{}")
    assert_raw_error(response, 400, "Bad request")
    assert "Duplicate Content-Length" in str(response.json()["details"])
    assert response.headers["connection"] == "close"
    assert stored(api) == before


@pytest.mark.parametrize(
    ("declared", "status", "title"),
    [
        pytest.param(b"\xb2", 400, "Bad request", id="superscript-two"),
        pytest.param("\u0661\u0660".encode(), 400, "Bad request", id="arabic-indic-digits"),
        pytest.param(b"1.5", 400, "Bad request", id="decimal"),
        pytest.param(b"-1", 400, "Bad request", id="negative"),
        pytest.param(b"9" * 5000, 413, "Payload too large", id="5000-digits"),
    ],
)
def test_content_length_that_is_not_plain_digits_is_refused_in_process(
    declared: bytes, status: int, title: str
) -> None:
    # h11 refuses these before the app runs; an in-process client (the masivo_app fixture) does not.
    app = create_app(Settings(memory=True))

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock") as client:
            headers = [
                *((name.encode(), value.encode()) for name, value in JSON_AUTH.items()),
                (b"Content-Length", declared),
            ]
            return await client.post(MIGRATE, content=VALID, headers=headers)

    try:
        assert_error(asyncio.run(send()), status, title)
        assert app.state.services.store.count_events() == 0
    finally:
        app.state.services.close()


# --- A5-A7 header bytes httpx refuses to send ---------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [b"Bearer ", b"Bearer     ", b"Bearer \t", b"Bearer \x80\x81\xff"],
    ids=["A5-empty-token", "A5-only-spaces", "A5-space-and-tab", "A7-high-bytes"],
)
def test_bearer_without_usable_token_is_401(running: MockMasivoServer, api: httpx.Client, auth: bytes) -> None:
    before = stored(api)
    response = exchange(running, with_length(VALID, auth=auth))
    assert_raw_error(response, 401, "Unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert stored(api) == before


@pytest.mark.parametrize("padding", [b" ", b"\t", b"  \t "], ids=["space", "tab", "mixed"])
def test_a6_whitespace_after_the_token_is_not_part_of_the_header_value(
    running: MockMasivoServer, api: httpx.Client, account: dict[str, str], padding: bytes
) -> None:
    # RFC 9110 §5.5: leading and trailing whitespace is not part of a field value, so h11 drops it
    # before the app sees the header; the token itself is exact.
    response = exchange(running, with_length(VALID, auth=b"Bearer " + account["token"].encode() + padding))
    assert response.status == 201, response.raw[:500]
    assert stored(api, account["id"]) == 1


def test_content_length_with_transfer_encoding_is_400_and_nothing_smuggled_behind_it(
    running: MockMasivoServer, api: httpx.Client
) -> None:
    """Issue 15 item 2 (RFC 9112 section 6.1): the request could be read two ways, so neither is."""
    assert (
        api.post(
            MIGRATE, content=VALID, headers={"Authorization": "Bearer mock-token", "Content-Type": "application/json"}
        ).status_code
        == 201
    )
    before = stored(api)
    chunked = b"%x\r\n%b\r\n0\r\n\r\n" % (len(VALID), VALID)
    smuggled = b"POST /_mock/reset HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    with connect(running) as sock:
        sock.sendall(request_head(b"Content-Length: 5", b"Transfer-Encoding: chunked") + chunked + smuggled)
        response = read_response(sock)
        assert_raw_error(response, 400, "Ambiguous framing")
        assert response.headers["connection"] == "close"
        sock.settimeout(5)
        assert sock.recv(65536) == b""  # closed: the smuggled reset is never read
    assert stored(api) == before > 0


def test_headers_over_16_kib_in_one_packet_are_431(running: MockMasivoServer, api: httpx.Client) -> None:
    """Issue 15 item 13: h11 limits only headers that arrive in pieces; the README promises 16 KiB."""
    before = stored(api)
    response = exchange(running, with_length(VALID, b"X-Pad: " + b"a" * 100_000))
    assert_raw_error(response, 431, "Request headers too large")
    assert stored(api) == before
    assert exchange(running, with_length(VALID, b"X-Pad: " + b"a" * 15_000)).status == 201


def test_an_absolute_form_target_is_served_and_its_authority_checked(running: MockMasivoServer) -> None:
    """RFC 9112 section 3.2.2: a server must accept `GET http://host/path`; the authority stands for Host."""
    url = httpx.URL(running.url)
    assert url.port is not None
    own = b"GET http://127.0.0.1:%d/_mock/health?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % url.port
    served = exchange(running, own)
    assert served.status == 422 and b"unknown query parameter 'x'" in served.body  # routed as /_mock/health
    assert exchange(running, own.replace(b"?x=1", b"")).json()["status"] == "ok"
    rebound = exchange(running, b"GET http://attacker.example/_mock/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert_raw_error(rebound, 400, "Host not allowed")
    encoded = own.replace(b"/_mock/health?x=1", b"/_mock/customers/caf%C3%A9")  # the path is decoded as usual
    assert_raw_error(exchange(running, encoded), 404, "Not found")
    assert "'café'" in str(exchange(running, encoded).json()["details"])
