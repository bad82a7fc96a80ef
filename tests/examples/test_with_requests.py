"""Example: test a migration script that uses `requests`, against the mock.

The script below is what your own code would be: it authorizes with the API key, then posts the
history in batches of at most 1000 events. The test points it at `masivo_mock.base_url` (instead of
https://app.masivo.ai/api/storefront/v1) with the test's own API key, then asserts on what arrived.
"""

from __future__ import annotations

from typing import Any

import requests

Customer = dict[str, Any]  # {"id": ..., "events": [...]}, as Masivo's migrate endpoint takes it


def migrate_history(base_url: str, api_key: str, customers: list[Customer], batch_size: int = 1000) -> None:
    """Send every customer's events to Masivo, `batch_size` customers per request."""
    with requests.Session() as session:
        authorized = session.get(f"{base_url}/auth/authorize", headers={"x-api-key": api_key}, timeout=30)
        authorized.raise_for_status()
        session.headers["Authorization"] = f"Bearer {authorized.json()['data']}"
        for start in range(0, len(customers), batch_size):
            batch = {"customers": customers[start : start + batch_size]}
            session.post(f"{base_url}/customers/migrate/events", json=batch, timeout=30).raise_for_status()


def purchase(purchase_id: str, value: float) -> dict[str, Any]:
    return {
        "type": "PURCHASE",
        "order": {"purchase_id": purchase_id, "value": value},
        "fulfilled": True,
        "issued_at": "2024-01-05T10:00:00Z",
        "resolved_at": "2024-01-05T10:00:00Z",
    }


def test_migration_sends_every_purchase_in_batches(masivo_mock):  # type: ignore[no-untyped-def]
    history = [
        {"id": "ana", "events": [purchase("o-1", 120.0), purchase("o-2", 30.5)]},
        {"id": "ben", "events": [purchase("o-3", 15.0)]},
        {"id": "cy", "events": [purchase("o-4", 9.99)]},
    ]

    migrate_history(masivo_mock.base_url, masivo_mock.api_key, history, batch_size=2)

    masivo_mock.assert_no_rejections()
    assert len(masivo_mock.batches()) == 2
    ana = masivo_mock.assert_received(customer_id="ana", count=2)
    assert [stored["event"]["order"]["purchase_id"] for stored in ana] == ["o-1", "o-2"]
    assert masivo_mock.customer("ana")["metrics"]["lifetime"]["spend_total"] == 150.5
    assert masivo_mock.customer("dora") is None
