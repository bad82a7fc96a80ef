"""Example: test an httpx client that refreshes its token on 401, as Masivo's guide recommends.

Tokens from GET /auth/authorize expire (after 1 hour by default). `MasivoAuth` authorizes on first
use and, when a request comes back 401, authorizes again and retries it once. The test gives itself a
server of its own with `@pytest.mark.masivo(...)` because it moves that server's clock forward.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
import pytest


class MasivoAuth(httpx.Auth):
    """Bearer auth for Masivo: authorize with the API key, and again when the token has expired."""

    requires_response_body = True

    def __init__(self, base_url: str, api_key: str) -> None:
        self.authorize_url = f"{base_url}/auth/authorize"
        self.api_key = api_key
        self.token: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token is None:
            self.token = yield from self._authorize()
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:  # expired: get a new token and send the request again
            self.token = yield from self._authorize()
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request

    def _authorize(self) -> Generator[httpx.Request, httpx.Response, str]:
        response = yield httpx.Request("GET", self.authorize_url, headers={"x-api-key": self.api_key})
        response.raise_for_status()
        token: str = response.json()["data"]
        return token


def send_events(client: httpx.Client, customer_id: str, events: list[dict[str, Any]]) -> None:
    """Your code under test: one batch for one customer."""
    body = {"customers": [{"id": customer_id, "events": events}]}
    client.post("/customers/migrate/events", json=body).raise_for_status()


def purchase(purchase_id: str, day: str) -> dict[str, Any]:
    return {
        "type": "PURCHASE",
        "order": {"purchase_id": purchase_id, "value": 20},
        "fulfilled": True,
        "issued_at": f"{day}T09:00:00Z",
        "resolved_at": f"{day}T09:00:00Z",
    }


@pytest.mark.masivo(token_ttl=60)
def test_client_authorizes_again_when_its_token_expires(masivo_mock):  # type: ignore[no-untyped-def]
    auth = MasivoAuth(masivo_mock.base_url, masivo_mock.api_key)
    with httpx.Client(base_url=masivo_mock.base_url, auth=auth) as client:
        send_events(client, "ana", [purchase("o-1", "2024-03-01")])
        httpx.post(masivo_mock.url + "/_mock/clock", json={"advance": 120}).raise_for_status()  # token expires
        send_events(client, "ana", [purchase("o-2", "2024-03-02")])

    masivo_mock.assert_received(customer_id="ana", count=2)
    calls = [(entry["path"].rsplit("/", 1)[-1], entry["status"]) for entry in masivo_mock.requests()]
    # The 401 is not in this account's journal: a request the server refused to authenticate has no account.
    assert calls == [("authorize", 200), ("events", 201), ("authorize", 200), ("events", 201)]
