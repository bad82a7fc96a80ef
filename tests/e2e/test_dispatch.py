"""The migrate endpoint answers alike however the route table finds it, and a request leaves nothing behind.

The route table finds a fixed path with one lookup, and patterns, 405s and a root_path as Starlette
does. Both must answer, log and store the same.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import JSON_AUTH
from payloads import body

from mock_masivo import create_app
from mock_masivo.config import Settings

PREFIX = "/mounted"
INVALID = {"customers": [{"id": "c1", "events": [{"type": "PURCHASE"}]}]}


@pytest.fixture
def app() -> Iterator[Any]:
    built = create_app(Settings(memory=True))
    yield built
    built.state.services.close()


async def exchange(app: Any, requests: list[tuple[str, str, Any]], root_path: str = "") -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, root_path=root_path, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        return [
            await client.request(method, path, json=payload, headers=JSON_AUTH) for method, path, payload in requests
        ]


def answer(response: httpx.Response) -> tuple[int, Any, list[str]]:
    headers = sorted(name for name in response.headers if name != "x-mock-batch-id")
    return response.status_code, response.json(), headers


@pytest.mark.parametrize("path", ["/customers/migrate/events", "/api/storefront/v1/customers/migrate/events"])
def test_routed_and_direct_requests_answer_alike(app: Any, path: str) -> None:
    direct = asyncio.run(exchange(app, [("POST", path, body(prefix="direct")), ("POST", path, INVALID)]))
    routed = asyncio.run(
        exchange(
            app, [("POST", PREFIX + path, body(prefix="routed")), ("POST", PREFIX + path, INVALID)], root_path=PREFIX
        )
    )
    assert [answer(response) for response in routed] == [answer(response) for response in direct]
    assert [response.status_code for response in direct] == [201, 422]
    assert routed[0].headers["x-mock-batch-id"] == "bat_2"
    [journal] = asyncio.run(exchange(app, [("GET", "/_mock/requests", None)]))
    entries = journal.json()["data"]
    assert [(entry["path"], entry["status"], entry["batch_id"]) for entry in entries] == [
        (path, 201, "bat_1"),
        (path, 422, None),
        (PREFIX + path, 201, "bat_2"),
        (PREFIX + path, 422, None),
    ]
    assert entries[1]["errors"] == entries[3]["errors"] != []
    [events] = asyncio.run(exchange(app, [("GET", "/_mock/events", None)]))
    assert [event["customer_id"] for event in events.json()["data"]] == ["direct0", "routed0"]


class Cycle:
    """Like uvicorn's RequestResponseCycle: it holds the scope, and its `send` method goes into the app."""

    def __init__(self, scope: dict[str, Any], payload: bytes) -> None:
        self.scope = scope
        self.payload = payload
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": self.payload, "more_body": False}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/customers/migrate/events", 201),  # direct
        ("GET", "/customers/c0", 404),  # routed
        ("GET", "/_mock/health", 200),
    ],
)
def test_a_request_leaves_no_reference_cycle(app: Any, method: str, path: str, status: int) -> None:
    """Garbage from every request would cost the cyclic GC a pause every few thousand requests."""
    payload = httpx.Request("POST", "/", json=body()).content
    headers = [(name.lower().encode(), value.encode()) for name, value in JSON_AUTH.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "state": {},
    }
    cycle = Cycle(scope, payload)
    gc.disable()
    try:
        asyncio.run(app(scope, cycle.receive, cycle.send))
        assert cycle.sent[0]["status"] == status
        gone = weakref.ref(cycle)
        del cycle, scope
        assert gone() is None  # freed by reference counting alone: nothing refers back to it
    finally:
        gc.enable()


def test_an_unexpected_error_on_a_routed_masivo_route_is_one_json_500(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(app.state.services.auth, "account_for_api_key", broken)
    [response, journal] = asyncio.run(
        exchange(app, [("GET", "/auth/authorize", None), ("GET", "/_mock/requests", None)])
    )
    assert (response.status_code, response.json()) == (
        500,
        {"error": "Internal error", "details": "RuntimeError; see the server log"},
    )
    assert [entry["status"] for entry in journal.json()["data"]] == [500]
