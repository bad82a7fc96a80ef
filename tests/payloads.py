"""Payloads for tests: Masivo's own example, and builders for valid batches of any shape."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SEED = Path(__file__).resolve().parent / "data" / "masivo-example.json"


def masivo_example() -> dict[str, Any]:
    """The example body from Masivo's reference page, exactly as published."""
    body: dict[str, Any] = json.loads(SEED.read_text(encoding="utf-8"))
    return body


def event(number: int = 0, **changes: Any) -> dict[str, Any]:
    """A valid PURCHASE event; `number` makes its purchase id and value distinct."""
    base = {
        "type": "PURCHASE",
        "order": {"purchase_id": f"p-{number}", "value": 10.5 + number, "payment_method": "CREDIT"},
        "fulfilled": True,
        "issued_at": "2023-11-07T05:31:56Z",
        "resolved_at": "2023-11-07T05:31:56Z",
    }
    base.update(changes)
    return base


def body(customers: int = 1, events_each: int = 1, prefix: str = "c") -> dict[str, Any]:
    """A valid batch of `customers` customers with `events_each` events each."""
    return {"customers": [
        {"id": f"{prefix}{c}", "events": [event(c * events_each + e) for e in range(events_each)]}
        for c in range(customers)
    ]}


def with_change(payload: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    """A deep copy with the member at a JSON Pointer replaced (or removed when value is REMOVE)."""
    changed = copy.deepcopy(payload)
    *parents, last = pointer.strip("/").split("/")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key: Any = int(last) if isinstance(target, list) else last
    if value is REMOVE:
        del target[key]
    else:
        target[key] = value
    return changed


REMOVE = object()
