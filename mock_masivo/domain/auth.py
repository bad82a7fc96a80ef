"""API keys, bearer tokens and JWTs.

Static credentials are never compared as presented. They are looked up by the SHA-256 digest of
the presented bytes: the work done does not depend on how much of a real credential was guessed
(any timing difference is about digests, which an attacker cannot steer toward a real value), and
hashing bytes never fails on non-ASCII input, where `hmac.compare_digest` on `str` raises.
JWTs are verified by PyJWT with the algorithm pinned to HS256, so `alg: none` is refused.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from ..errors import Unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True)
class Account:
    id: str
    api_key: str
    token: str


def _digest(value: str) -> bytes:
    # Starlette decodes header bytes as latin-1, so this recovers exactly the bytes that were sent.
    return hashlib.sha256(value.encode("latin-1", errors="surrogateescape")).digest()


def new_credential(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


class Authenticator:
    """Maps API keys and tokens to accounts; issues and verifies this server's JWTs."""

    def __init__(self, secret: bytes, token_ttl: int) -> None:
        self._secret = secret
        self._token_ttl = token_ttl
        self._by_key: dict[bytes, str] = {}
        self._by_token: dict[bytes, str] = {}
        self._accounts: set[str] = set()
        self._lock = threading.Lock()

    def add(self, account_id: str, api_keys: tuple[str, ...], tokens: tuple[str, ...]) -> None:
        with self._lock:
            self._accounts.add(account_id)
            self._by_key.update({_digest(key): account_id for key in api_keys})
            self._by_token.update({_digest(token): account_id for token in tokens})

    def account_for_api_key(self, api_key: str | None) -> str:
        if not api_key:
            raise Unauthorized("missing x-api-key header")
        return _lookup(self._by_key, api_key) or _fail("unknown API key")

    def issue_token(self, account_id: str, now: int) -> str:
        claims = {"sub": account_id, "iat": now, "exp": now + self._token_ttl}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def account_for_bearer(self, header_values: list[str], now: Callable[[str | None], int]) -> str:
        """The account of an `Authorization: Bearer <token>` header, or Unauthorized saying why.

        `now(account)` is that account's clock in whole seconds (None: the server's): a JWT's iat and
        exp are checked against the clock of the account it names."""
        token = bearer_token(header_values)
        account = _lookup(self._by_token, token)
        if account is not None:
            return account
        if token.count(".") != 2:
            raise Unauthorized("unknown bearer token", invalid_token=True)
        return self._verify_jwt(token, now)

    def _verify_jwt(self, token: str, clock: Callable[[str | None], int]) -> str:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "sub"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}", invalid_token=True) from None
        # iat and exp are checked against the account's clock (which tests can move), with no leeway.
        iat, exp, sub = claims["iat"], claims["exp"], claims["sub"]
        now = clock(sub if isinstance(sub, str) else None)
        if not isinstance(iat, int) or isinstance(iat, bool) or iat > now:
            raise Unauthorized(
                "invalid token: iat must be whole seconds, not after the server's clock", invalid_token=True
            )
        if not isinstance(exp, int) or isinstance(exp, bool) or now >= exp:
            raise Unauthorized("the token has expired; get a new one from /auth/authorize", invalid_token=True)
        account = sub
        if account not in self._accounts:
            raise Unauthorized("the token's account does not exist", invalid_token=True)
        return str(account)


def bearer_token(header_values: list[str]) -> str:
    if not header_values:
        raise Unauthorized("missing Authorization header; send 'Authorization: Bearer <token>'")
    if len(header_values) > 1:
        raise Unauthorized("more than one Authorization header", invalid_token=True)
    scheme, _, token = header_values[0].partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("the Authorization header must use the Bearer scheme", invalid_token=True)
    if not token or token != token.strip() or " " in token:
        raise Unauthorized("malformed bearer token", invalid_token=True)
    return token


def _lookup(table: dict[bytes, str], presented: str) -> str | None:
    return table.get(_digest(presented))


def _fail(details: str) -> str:
    raise Unauthorized(details)
