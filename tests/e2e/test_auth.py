"""Auth over real HTTP (reliability.md A1-A14): every bad credential is a JSON 401 and stores nothing.

Header variants that httpx refuses to send (trailing whitespace, NUL) are in test_transport.py.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from conftest import MIGRATE, stored
from payloads import body

from mock_masivo import MockMasivoServer

CHALLENGE = "Bearer"
INVALID_TOKEN = 'Bearer error="invalid_token"'
AUTHORIZE_PATHS = ["/auth/authorize", "/api/storefront/v1/auth/authorize"]
VALID_BODY = json.dumps(body()).encode()


@pytest.fixture(scope="module")
def secret(running: MockMasivoServer) -> bytes:
    """The server's signing secret (random per process with --memory), to mint tokens it would trust."""
    found: bytes = running.app.state.services.auth._secret
    return found


def post_with(client: httpx.Client, headers: list[tuple[str, Any]], **params: str) -> httpx.Response:
    return client.post(
        MIGRATE, content=VALID_BODY, params=params, headers=[("Content-Type", "application/json"), *headers]
    )


def assert_unauthorized(response: httpx.Response, challenge: str) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == challenge
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert set(answer) == {"error", "details"}
    assert answer["error"] == "Unauthorized"
    assert isinstance(answer["details"], str) and answer["details"]


def bearer(token: str | bytes) -> list[tuple[str, Any]]:
    prefix: Any = b"Bearer " if isinstance(token, bytes) else "Bearer "
    return [("Authorization", prefix + token)]


# --- A1-A10: the Authorization header -------------------------------------------------------------

HEADER_CASES = [
    pytest.param([], CHALLENGE, id="A1-no-authorization-header"),
    pytest.param(bearer("wrong-token"), INVALID_TOKEN, id="A2-wrong-token"),
    pytest.param([("Authorization", "Basic bW9jay10b2tlbjo=")], INVALID_TOKEN, id="A3-basic-scheme"),
    pytest.param([("Authorization", "Token mock-token")], INVALID_TOKEN, id="A3-token-scheme"),
    pytest.param([("Authorization", "mock-token")], INVALID_TOKEN, id="A3-no-scheme"),
    pytest.param([("Authorization", "Bearer")], INVALID_TOKEN, id="A5-scheme-without-token"),
    pytest.param([("Authorization", "Bearer  mock-token")], INVALID_TOKEN, id="A6-two-spaces-after-bearer"),
    pytest.param([("Authorization", "Bearer\tmock-token")], INVALID_TOKEN, id="A6-tab-after-bearer"),
    pytest.param(bearer("mock-token mock-token"), INVALID_TOKEN, id="A6-two-tokens"),
    pytest.param(bearer(b"\xff\xfe\xfd"), INVALID_TOKEN, id="A7-invalid-utf8-bytes"),
    pytest.param(bearer("mock-tökén".encode()), INVALID_TOKEN, id="A7-utf8-non-ascii"),
    pytest.param(bearer(b"mock-tok\xe9n"), INVALID_TOKEN, id="A7-latin1-byte"),
    pytest.param(bearer("mock-toke"), INVALID_TOKEN, id="A8-prefix-of-token"),
    pytest.param(bearer("ock-token"), INVALID_TOKEN, id="A8-suffix-of-token"),
    pytest.param(bearer("mock-tokem"), INVALID_TOKEN, id="A8-last-char-differs"),
    pytest.param(bearer("Mock-token"), INVALID_TOKEN, id="A8-first-char-case-differs"),
    pytest.param(bearer("mock-token0"), INVALID_TOKEN, id="A8-token-plus-one-char"),
    pytest.param([*bearer("mock-token"), *bearer("mock-token")], INVALID_TOKEN, id="A9-two-valid-headers"),
    pytest.param([*bearer("mock-token"), *bearer("wrong")], INVALID_TOKEN, id="A9-valid-and-invalid-header"),
]


@pytest.mark.parametrize(("headers", "challenge"), HEADER_CASES)
def test_migrate_events_refuses_bad_authorization_header(
    api: httpx.Client, headers: list[tuple[str, Any]], challenge: str
) -> None:
    before = stored(api)
    assert_unauthorized(post_with(api, headers), challenge)
    assert stored(api) == before


@pytest.mark.parametrize("name", ["access_token", "token"])
def test_migrate_events_ignores_token_in_query_string(api: httpx.Client, name: str) -> None:
    before = stored(api)
    assert_unauthorized(post_with(api, [], **{name: "mock-token"}), CHALLENGE)
    assert stored(api) == before


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(api: httpx.Client, account: dict[str, str], scheme: str) -> None:
    response = post_with(api, [("Authorization", f"{scheme} {account['token']}")])
    assert response.status_code == 201, response.text
    assert stored(api, account["id"]) == 1


def test_authorization_value_of_20_kb_is_refused(api: httpx.Client) -> None:
    before = stored(api)
    assert_unauthorized(post_with(api, bearer("x" * 15_000)), INVALID_TOKEN)
    # over 16 KiB of headers: refused before auth runs (issue 15 item 13: was accepted in one packet)
    assert post_with(api, bearer("x" * 20_000)).status_code == 431
    assert stored(api) == before


# --- A11-A14: JWTs -----------------------------------------------------------------------------------


def segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def claims(account: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    found: dict[str, Any] = {"sub": account, "iat": now, "exp": now + 3600, **changes}
    return {name: value for name, value in found.items() if value is not None}


def tampered(token: str, **changes: Any) -> str:
    """The token with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, segment({**decoded, **changes}), signature])


def unsigned(sub: str, alg: str) -> str:
    return f"{segment({'alg': alg, 'typ': 'JWT'})}.{segment(claims(sub))}."


Changes = Callable[[int], dict[str, Any]]  # the current time -> claims to change (None removes one)
# case -> (signing secret, or None for the server's; algorithm; claim changes)
JWT_CASES: dict[str, tuple[bytes | None, str, Changes]] = {
    "A12-wrong-secret": (b"not-the-server-secret-not-the-server-secret", "HS256", lambda now: {}),
    "A13-expired": (None, "HS256", lambda now: {"iat": now - 7200, "exp": now - 3600}),
    "A13-expired-one-second-ago": (None, "HS256", lambda now: {"exp": now - 1}),
    "A13-nbf-in-the-future": (None, "HS256", lambda now: {"nbf": now + 3600}),
    "A13-missing-exp": (None, "HS256", lambda now: {"exp": None}),
    "A14-exp-as-string": (None, "HS256", lambda now: {"exp": str(now + 3600)}),
    "A14-exp-as-float": (None, "HS256", lambda now: {"exp": now + 3600.5}),
    "A14-exp-as-bool": (None, "HS256", lambda now: {"exp": True}),
    "A14-hs512": (None, "HS512", lambda now: {}),
    "A14-missing-sub": (None, "HS256", lambda now: {"sub": None}),
    "A14-missing-iat": (None, "HS256", lambda now: {"iat": None}),
    "A14-iat-as-string": (None, "HS256", lambda now: {"iat": "yesterday"}),
    "A14-iat-in-the-future": (None, "HS256", lambda now: {"iat": now + 3600, "exp": now + 7200}),
    "A14-unknown-account": (None, "HS256", lambda now: {"sub": "acc_does_not_exist"}),
}


def signed(secret: bytes, sub: str, **changes: Any) -> str:
    return jwt.encode(claims(sub, **changes), secret, algorithm="HS256")


def with_header(token: str, header: dict[str, Any]) -> str:
    return ".".join([segment(header), *token.split(".")[1:]])


# case -> (server secret, account id) -> a token built by hand
HAND_MADE: dict[str, Callable[[bytes, str], str]] = {
    "A11-alg-none": lambda secret, sub: unsigned(sub, "none"),
    "A11-alg-none-uppercase": lambda secret, sub: unsigned(sub, "NONE"),
    "A11-alg-none-with-real-signature": lambda secret, sub: with_header(signed(secret, sub), {"alg": "none"}),
    "A12-tampered-sub": lambda secret, sub: tampered(signed(secret, sub), sub="default"),
    "A12-tampered-exp": lambda secret, sub: tampered(signed(secret, sub, exp=int(time.time()) - 1), exp=2**31),
    "A14-rs256-header": lambda secret, sub: with_header(signed(secret, sub), {"alg": "RS256", "typ": "JWT"}),
}


def mint(case: str, secret: bytes, sub: str) -> str:
    """A token that is wrong in exactly one way (everything else is what the server would accept)."""
    if case in HAND_MADE:
        return HAND_MADE[case](secret, sub)
    signing_secret, algorithm, changes = JWT_CASES[case]
    return jwt.encode(claims(sub, **changes(int(time.time()))), signing_secret or secret, algorithm=algorithm)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 with the 32-byte secret
@pytest.mark.parametrize("case", [*JWT_CASES, *HAND_MADE])
def test_migrate_events_refuses_bad_jwt(api: httpx.Client, secret: bytes, account: dict[str, str], case: str) -> None:
    token = mint(case, secret, account["id"])
    before = stored(api)
    assert_unauthorized(post_with(api, bearer(token)), INVALID_TOKEN)
    assert stored(api) == before


@pytest.mark.parametrize("token", ["not.a.jwt", "a.b.c", "..", "e30.e30.", "x" * 40 + "." + "y" * 40 + ".z"])
def test_migrate_events_refuses_malformed_jwt(api: httpx.Client, token: str) -> None:
    before = stored(api)
    assert_unauthorized(post_with(api, bearer(token)), INVALID_TOKEN)
    assert stored(api) == before


def test_jwt_minted_like_the_server_does_is_accepted(api: httpx.Client, secret: bytes, account: dict[str, str]) -> None:
    # The control for the table above: each refused token differs from this one in one way only.
    token = signed(secret, account["id"])
    assert post_with(api, bearer(token)).status_code == 201
    assert stored(api, account["id"]) == 1


@pytest.mark.parametrize("path", AUTHORIZE_PATHS)
def test_token_from_authorize_is_a_working_hs256_jwt(api: httpx.Client, account: dict[str, str], path: str) -> None:
    response = api.get(path, headers={"x-api-key": account["api_key"]})
    assert response.status_code == 200
    token = response.json()["data"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    found = jwt.decode(token, options={"verify_signature": False})
    assert found["sub"] == account["id"]
    assert found["exp"] == found["iat"] + 3600
    assert post_with(api, bearer(token)).status_code == 201
    assert stored(api, account["id"]) == 1


# --- GET /auth/authorize ------------------------------------------------------------------------------

API_KEY_CASES = [
    pytest.param([], id="missing-x-api-key"),
    pytest.param([("x-api-key", "")], id="empty-x-api-key"),
    pytest.param([("x-api-key", "unknown-key")], id="unknown-x-api-key"),
    pytest.param([("x-api-key", "mock-api-ke")], id="prefix-of-real-key"),
    pytest.param([("x-api-key", b"\xff\xfe")], id="invalid-utf8-x-api-key"),
    pytest.param([("x-api-key", "mock-api-key"), ("x-api-key", "mock-api-key")], id="duplicate-x-api-key"),
    pytest.param([("x-api-key", "mock-api-key"), ("x-api-key", "unknown")], id="valid-and-unknown-x-api-key"),
    pytest.param([("Authorization", "Bearer mock-token")], id="bearer-token-instead-of-api-key"),
]


@pytest.mark.parametrize("path", AUTHORIZE_PATHS)
@pytest.mark.parametrize("headers", API_KEY_CASES)
def test_authorize_refuses_bad_api_key(api: httpx.Client, path: str, headers: list[tuple[str, Any]]) -> None:
    response = api.get(path, headers=headers)
    assert_unauthorized(response, CHALLENGE)
    assert "data" not in response.json()


def test_authorize_ignores_api_key_in_query_string(api: httpx.Client) -> None:
    assert_unauthorized(api.get("/auth/authorize", params={"x-api-key": "mock-api-key"}), CHALLENGE)


def test_authorize_accepts_the_default_api_key(api: httpx.Client) -> None:
    response = api.get("/auth/authorize", headers={"x-api-key": "mock-api-key"})
    assert response.status_code == 200
    assert jwt.decode(response.json()["data"], options={"verify_signature": False})["sub"] == "default"
