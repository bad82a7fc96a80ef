"""Everything a request handler needs, built once per app from Settings (no globals)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.types import Scope

from ..backend import Backend
from ..config import DEFAULT_ACCOUNT, Settings
from ..domain.auth import Authenticator
from ..domain.clock import Clock
from ..domain.faults import FaultBook
from ..domain.ratelimit import RateLimiter
from ..errors import Unauthorized
from ..ingest.checker import BatchChecker
from ..storage.store import EventStore
from .requestlog import RequestLog
from .runreport import RunReport


@dataclass
class Services:
    settings: Settings
    store: EventStore
    auth: Authenticator
    checker: BatchChecker
    owns_store: bool
    requests: RequestLog
    limiter: RateLimiter
    clock: Clock = field(default_factory=Clock)
    faults: FaultBook = field(default_factory=FaultBook)
    report: RunReport = field(default_factory=RunReport)
    backend: Backend = field(init=False)

    def __post_init__(self) -> None:
        self.backend = Backend(self.store, self.clock, self.settings.processing_delay)

    @classmethod
    def build(cls, settings: Settings, store: EventStore | None = None) -> Services:
        owns_store = store is None
        if store is None:
            store = EventStore(settings.data_dir, fsync=settings.fsync)
        try:
            auth = Authenticator(store.secret or secrets.token_bytes(32), settings.token_ttl)
        except BaseException:
            if owns_store:  # release the data dir's lock and the journal thread
                store.close()
            raise
        auth.add(DEFAULT_ACCOUNT, settings.api_keys, settings.tokens)
        for account in store.accounts():
            auth.add(account["id"], (account["api_key"],), (account["token"],))
        clock = Clock()
        clock.restore(store.clock_offsets())
        requests = RequestLog(settings.request_log_size, settings.refused_bodies_bytes)
        return cls(
            settings,
            store,
            auth,
            BatchChecker(settings.strict, settings.parse_workers),
            owns_store,
            requests,
            RateLimiter(settings.rate_limit),
            clock,
        )

    def due(self, account: str, at: float) -> bool:
        """Whether a record the account accepted at `at` has been processed (Backend.due)."""
        return self.backend.due(account, at)

    def identify(self, scope: Scope) -> str | None:
        """The account a request's credentials belong to, if any (for fault rules scoped to an account)."""
        headers = Request(scope).headers
        try:
            if headers.getlist("authorization"):
                return self.auth.account_for_bearer(headers.getlist("authorization"), self.clock.now_seconds)
            return self.auth.account_for_api_key(headers.get("x-api-key"))
        except Unauthorized:
            return None

    def close(self) -> None:
        self.checker.close()
        if self.owns_store:
            self.store.close()
