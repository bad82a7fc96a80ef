"""Customer metrics as Masivo computes them after a migration: from PURCHASE events only.

Per period: `number_of_purchases`, `spend_total` (sum of `order.value`, added as decimals so
20.95 + 10.0 is 30.95, not 30.950000000000003) and `last_visit` (the latest `issued_at`).
`lifetime` counts everything; the calendar periods (UTC, on the server clock) carry `from`/`to`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

PURCHASE = "PURCHASE"
_EARLIEST = datetime.min.replace(tzinfo=UTC)


def customer_metrics(events: Iterable[dict[str, Any]], now: float) -> dict[str, Any]:
    purchases = [(event, time_key(event["issued_at"])) for event in events if event.get("type") == PURCHASE]
    metrics = {"lifetime": _period(purchases)}
    for name, (start, end) in calendar_periods(datetime.fromtimestamp(now, UTC)).items():
        inside = [(event, at) for event, at in purchases if start <= at < end]
        metrics[name] = {"from": _iso(start), "to": _iso(end), **_period(inside)}
    return metrics


def _period(purchases: list[tuple[dict[str, Any], datetime]]) -> dict[str, Any]:
    values = [event["order"].get("value") for event, _ in purchases]
    numbers = [value for value in values if isinstance(value, int | float) and not isinstance(value, bool)]
    total = sum((Decimal(repr(value)) for value in numbers), Decimal(0))
    spend: int | float = int(total) if all(isinstance(value, int) for value in numbers) else float(total)
    latest = max(purchases, key=lambda pair: pair[1], default=None)
    return {
        "number_of_purchases": len(purchases),
        "spend_total": spend,
        "last_visit": latest[0]["issued_at"] if latest else None,
    }


def calendar_periods(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    """[from, to) of Masivo's calendar periods around `now`."""
    year, quarter_month = now.year, 3 * ((now.month - 1) // 3) + 1
    this_month = datetime(year, now.month, 1, tzinfo=UTC)
    this_quarter = datetime(year, quarter_month, 1, tzinfo=UTC)
    return {
        "this_year": (datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)),
        "last_year": (datetime(year - 1, 1, 1, tzinfo=UTC), datetime(year, 1, 1, tzinfo=UTC)),
        "this_quarter": (this_quarter, _add_months(this_quarter, 3)),
        "last_quarter": (_add_months(this_quarter, -3), this_quarter),
        "this_month": (this_month, _add_months(this_month, 1)),
        "last_month": (_add_months(this_month, -1), this_month),
    }


def _add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def time_key(text: str) -> datetime:
    """An RFC 3339 time as an aware datetime, tolerating what Python's parser does not (leap seconds, ns)."""
    text = text.upper().replace(":60", ":59")
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # year 0000 is valid RFC 3339 but before datetime.min: it sorts first
        return _EARLIEST
