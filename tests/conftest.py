"""Shared fixtures: real servers on loopback (memory or a temporary data dir) and HTTP helpers."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_masivo import MockMasivoServer
from mock_masivo.config import Settings

AUTH = {"Authorization": "Bearer mock-token"}
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}
MIGRATE = "/api/storefront/v1/customers/migrate/events"

# tests/plugin runs users' test files with pytester; pytest only accepts pytest_plugins in the top conftest.
pytest_plugins = ["pytester"]


@pytest.fixture
def server() -> Iterator[MockMasivoServer]:
    """A real server with an in-memory store, on a free loopback port."""
    with MockMasivoServer(Settings(memory=True, port=0, log_level="warning")) as running:
        yield running


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., MockMasivoServer]]:
    """Start servers with custom settings (data dir under tmp_path by default); all are stopped after."""
    started: list[MockMasivoServer] = []

    def start(**settings: Any) -> MockMasivoServer:
        settings.setdefault("port", 0)
        settings.setdefault("log_level", "warning")
        if not settings.get("memory"):
            settings.setdefault("data", tmp_path / "data")
        running = MockMasivoServer(Settings(**settings)).start()
        started.append(running)
        return running

    yield start
    for running in reversed(started):
        running.stop()


def client_for(url: str) -> httpx.Client:
    """An httpx client with TCP_NODELAY: httpx writes a POST's headers and body separately, and with
    Nagle's algorithm on, the body then waits for the server's delayed ACK (about 40 ms a request)."""
    transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.Client(base_url=url, timeout=30, transport=transport)


@pytest.fixture
def http(server: MockMasivoServer) -> Iterator[httpx.Client]:
    with client_for(server.url) as client:
        yield client


def post_events(client: httpx.Client, payload: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST a body (a dict is encoded as JSON; bytes are sent as they are) to the migrate endpoint."""
    content = payload if isinstance(payload, bytes) else httpx.Request("POST", "/", json=payload).content
    return client.post(MIGRATE, content=content, headers=JSON_AUTH if headers is None else headers)


def stored_count(client: httpx.Client) -> int:
    count: int = client.get("/_mock/health").json()["events"]
    return count


# -- one server per test module, for big parametrized tables ----------------------------------------


@pytest.fixture(scope="module")
def running() -> Iterator[MockMasivoServer]:
    """A memory server shared by one module's tests; each test isolates itself with `account`."""
    with MockMasivoServer(Settings(memory=True, port=0, log_level="warning")) as server:
        yield server


@pytest.fixture(scope="module")
def api(running: MockMasivoServer) -> Iterator[httpx.Client]:
    with client_for(running.url) as client:
        yield client


@pytest.fixture
def account(api: httpx.Client) -> dict[str, str]:
    """A fresh account, so a test counts what it stored apart from everything else."""
    created: dict[str, str] = api.post("/_mock/accounts").json()["data"]
    return created


def stored(client: httpx.Client, account: str | None = None) -> int:
    """Events stored (optionally for one account); the listing must answer 200 (no poison record)."""
    listing = client.get("/_mock/events", params={"limit": "1", **({"account": account} if account else {})})
    assert listing.status_code == 200
    total: int = listing.json()["total"]
    return total
