"""Example: test async code in-process with `masivo_app`, no sockets or threads.

`masivo_app` is the mock's ASGI app. Give your code an httpx.AsyncClient whose transport is
httpx.ASGITransport(app=masivo_app): requests go straight to the app. Read what arrived through the
same client (the inspection API lives at /_mock on the app's root).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

BASE_PATH = "/api/storefront/v1"


async def report_redemption(client: httpx.AsyncClient, token: str, customer_id: str, points: int) -> None:
    """Your async code under test: a purchase paid partly with points."""
    event = {
        "type": "PURCHASE",
        "order": {"purchase_id": "o-1", "value": 80, "redeem": [{"amount": points}]},
        "fulfilled": True,
        "issued_at": "2024-06-01T12:00:00Z",
        "resolved_at": "2024-06-01T12:00:00Z",
    }
    body = {"customers": [{"id": customer_id, "events": [event]}]}
    response = await client.post(
        f"{BASE_PATH}/customers/migrate/events", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()


async def redeem_and_list(app: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://masivo.test") as client:
        await report_redemption(client, "mock-token", "ana", points=50)  # the default static token
        listing: dict[str, Any] = (await client.get("/_mock/events", params={"customer_id": "ana"})).json()
        return listing


def test_redemption_is_sent_in_process(masivo_app):  # type: ignore[no-untyped-def]
    listing = asyncio.run(redeem_and_list(masivo_app))
    assert listing["total"] == 1
    assert listing["data"][0]["event"]["order"]["redeem"] == [{"amount": 50}]
