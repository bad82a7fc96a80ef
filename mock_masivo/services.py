"""Everything a request handler needs, built once per app from Settings (no globals)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from .auth import Authenticator
from .clock import Clock
from .requestlog import RequestLog
from .settings import Settings
from .store import DEFAULT_ACCOUNT, EventStore
from .validation import PayloadValidator

log = logging.getLogger("mock_masivo")


@dataclass
class Services:
    settings: Settings
    store: EventStore
    auth: Authenticator
    validator: PayloadValidator
    clock: Clock
    requests: RequestLog
    owns_store: bool

    @classmethod
    def build(cls, settings: Settings, store: EventStore | None = None) -> Services:
        owns_store = store is None
        if store is None:
            store = EventStore(settings.data_dir, fsync=settings.fsync)
        auth = Authenticator(store.secret or secrets.token_bytes(32), settings.token_ttl)
        auth.add(DEFAULT_ACCOUNT, settings.api_keys, settings.tokens)
        for account in store.accounts():
            auth.add(account["id"], (account["api_key"],), (account["token"],))
        return cls(settings, store, auth, PayloadValidator(strict=settings.strict), Clock(),
                   RequestLog(settings.journal_size), owns_store)

    def status_of(self, received_at: float) -> str:
        """QUEUED or PROCESSED; every accepted event is processed at once until processing delays exist."""
        del received_at
        return "PROCESSED"

    def close(self) -> None:
        if self.owns_store:
            self.store.close()
