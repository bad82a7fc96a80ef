"""MockMasivoClient: a small httpx client for the /_mock inspection API, with assertion helpers.

Every list method returns a plain list of dicts, all pages. The assertion helpers raise
AssertionError with what did arrive (events, and rejected requests with their errors), so a failing
test explains itself.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
from typing import Any, Self
from urllib.parse import quote

import httpx

from ..config import MASIVO_BASE_PATH

PAGE_SIZE = 1000  # the inspection API's maximum `limit`
POLL_SECONDS = 0.02
SHOWN_EVENTS = 20
SHOWN_ERRORS = 10


class MockMasivoClient:
    """Reads what a mock received. With `account`, every call is scoped to that account."""

    def __init__(self, url: str, account: str | None = None, timeout: float = 30.0) -> None:
        url = url.rstrip("/")
        self.url = url.removesuffix(MASIVO_BASE_PATH)  # the base URL given by mistake still works
        self.account = account
        self._http = httpx.Client(base_url=self.url, timeout=timeout, verify=_ssl_context())

    # -- reading ---------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`{"status": "ok", "version", "events"}`; `events` counts the whole server, every account."""
        return _json(self._http.get("/_mock/health"))

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """Stored events matching the filters (customer_id, type, batch_id, purchase_id, status), in receipt order."""
        return self._all("/_mock/events", filters)

    def profiles(self, **filters: Any) -> list[dict[str, Any]]:
        """Stored customer profiles matching the filters (customer_id, email, batch_id, status), in receipt order."""
        return self._all("/_mock/profiles", filters)

    def transactions(self, **filters: Any) -> list[dict[str, Any]]:
        """Stored transactions matching the filters (customer_id, type, reward_id, batch_id, status), oldest first."""
        return self._all("/_mock/transactions", filters)

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer with its events, metrics, profile, wallet and transactions, or None when nothing
        was received for it."""
        path = f"/_mock/customers/{quote(customer_id, safe='')}"
        response = self._http.get(path, params=self._scoped({}))
        if response.status_code == 404:
            return None
        customer = _data(response)
        while len(customer["events"]) < customer["events_total"]:  # the server answers a page of events
            more = _data(self._http.get(path, params=self._scoped({"offset": len(customer["events"])})))
            if not more["events"]:
                break
            customer["events"].extend(more["events"])
        return customer

    def customers(self) -> list[dict[str, Any]]:
        return self._all("/_mock/customers", {})

    def batches(self, **filters: Any) -> list[dict[str, Any]]:
        """Accepted batches (filter kind="profile", "transaction" or "event"), oldest first."""
        return self._all("/_mock/batches", filters)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The request log (every call to a Masivo route), oldest first; filter with status=422.

        A request with bad credentials (401) belongs to no account: only an unscoped client sees it.
        """
        return self._all("/_mock/requests", filters)

    # -- changing --------------------------------------------------------------------------------

    def reset(self) -> dict[str, Any]:
        """Remove everything stored (only this account's data when scoped); returns the counts removed."""
        return _json(self._http.post("/_mock/reset", params=self._scoped({})))

    def new_account(self) -> dict[str, Any]:
        """A fresh account: {"id", "api_key", "token"}."""
        return _data(self._http.post("/_mock/accounts"))

    # -- realism ---------------------------------------------------------------------------------

    def clock(self) -> dict[str, Any]:
        """The clock: {"now": RFC 3339, "offset": seconds}; this account's when scoped, else the server's."""
        return _json(self._http.get("/_mock/clock", params=self._scoped({})))

    def advance_clock(self, seconds: float | None = None, to: str | None = None) -> dict[str, Any]:
        """Move the clock forward by `seconds`, or to the instant `to` (token expiry, rate limits, processing
        delay, metrics periods): no sleeping. Scoped: only this account's clock moves; unscoped: the
        server clock, which every account follows."""
        if (seconds is None) == (to is None):
            raise TypeError("advance_clock takes seconds or to=DATE-TIME, not both")
        body = {"advance": seconds} if to is None else {"to": to}
        return _json(self._http.post("/_mock/clock", json=body, params=self._scoped({})))

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (status, delay_ms, drop, times, probability, seed, path, method, account).

        A client scoped to an account makes the rule fire for that account only, unless `account` is given.
        """
        if self.account is not None:
            rule.setdefault("account", self.account)
        return _data(self._http.post("/_mock/faults", json=rule))

    def faults(self) -> list[dict[str, Any]]:
        return self._all("/_mock/faults", {})

    def clear_faults(self) -> int:
        """Remove fault rules (only this account's when scoped); returns how many were removed."""
        if self.account is None:
            removed: int = _json(self._http.delete("/_mock/faults"))["removed"]
            return removed
        mine = [rule["id"] for rule in self.faults() if rule["account"] == self.account]
        for rule_id in mine:
            _json(self._http.delete(f"/_mock/faults/{rule_id}"))
        return len(mine)

    # -- assertions ------------------------------------------------------------------------------

    def assert_received(
        self, customer_id: str | None = None, count: int | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Assert that matching events arrived (exactly `count` of them when given); returns them."""
        if customer_id is not None:
            filters["customer_id"] = customer_id
        matched = self.events(**filters)
        if (count is None and matched) or (count is not None and len(matched) == count):
            return matched
        wanted = f"{count} event(s)" if count is not None else "at least one event"
        raise AssertionError(
            f"expected {wanted} matching {_describe(filters)}, found {len(matched)}.\n" + self._what_arrived()
        )

    def assert_no_rejections(self) -> None:
        """Assert that no call to a Masivo route was answered with an error (4xx or 5xx)."""
        rejected = [entry for entry in self.requests() if _rejected(entry)]
        if rejected:
            raise AssertionError(
                f"{len(rejected)} request(s) were rejected:\n" + "\n".join(_rejection_text(entry) for entry in rejected)
            )

    def wait_for_events(self, count: int, timeout: float = 5.0, **filters: Any) -> list[dict[str, Any]]:
        """Poll until at least `count` matching events arrived (for code that sends from other threads)."""
        deadline = time.monotonic() + timeout
        while True:
            matched = self.events(**filters)
            if len(matched) >= count:
                return matched
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"waited {timeout:g} s for {count} event(s) matching {_describe(filters)}, "
                    f"found {len(matched)}.\n" + self._what_arrived()
                )
            time.sleep(POLL_SECONDS)

    def _what_arrived(self) -> str:
        events = self.events()
        lines = [f"Received {len(events)} event(s):"]
        lines += [_event_text(stored) for stored in events[:SHOWN_EVENTS]]
        if len(events) > SHOWN_EVENTS:
            lines.append(f"  ... and {len(events) - SHOWN_EVENTS} more")
        rejected = [entry for entry in self.requests() if _rejected(entry)]
        if rejected:
            lines.append(f"Rejected {len(rejected)} request(s):")
            lines += [_rejection_text(entry) for entry in rejected[:SHOWN_ERRORS]]
        return "\n".join(lines)

    # -- plumbing --------------------------------------------------------------------------------

    def _scoped(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, "account": self.account} if self.account is not None else params

    def _all(self, path: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        unknown = sorted(set(filters) - FILTERS[path])
        if unknown:  # a misspelled filter would otherwise be refused by the server as an HTTP error
            raise TypeError(
                f"unknown filter {unknown[0]!r} for {path}: the filters are "
                f"{', '.join(sorted(FILTERS[path])) or 'none'}"
            )
        given = {name: value for name, value in filters.items() if value is not None}
        items: list[dict[str, Any]] = []
        while True:
            params = self._scoped({**given, "limit": PAGE_SIZE, "offset": len(items)})
            page = _json(self._http.get(path, params=params))
            items += page["data"]
            if not page["data"] or len(items) >= page["total"]:
                return items

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MockMasivoClient {self.url} account={self.account}>"


# The filters each list takes (besides paging and the client's account), as the server's routes declare them.
FILTERS: dict[str, set[str]] = {
    "/_mock/events": {"customer_id", "type", "batch_id", "purchase_id", "status", "duplicates"},
    "/_mock/profiles": {"customer_id", "email", "batch_id", "status"},
    "/_mock/transactions": {"customer_id", "type", "reward_id", "batch_id", "status"},
    "/_mock/customers": set(),
    "/_mock/batches": {"kind"},
    "/_mock/requests": {"status"},
    "/_mock/faults": set(),
}


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One default context for every client: building one costs ~20 ms, and a fixture makes a client per test."""
    return httpx.create_ssl_context()


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise AssertionError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def _data(response: httpx.Response) -> dict[str, Any]:
    data: dict[str, Any] = _json(response)["data"]
    return data


def _describe(filters: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in filters.items()) or "anything"


def _event_text(stored: dict[str, Any]) -> str:
    event = json.dumps(stored["event"], separators=(",", ":"))
    event = event if len(event) <= 160 else event[:157] + "..."
    return f"  {stored['id']} customer_id={stored['customer_id']!r} batch_id={stored['batch_id']} {event}"


def _rejection_text(entry: dict[str, Any]) -> str:
    errors = entry["errors"]
    lines = [f"  {entry['method']} {entry['path']} -> {entry['status']}" + ("" if errors else " (no details)")]
    lines += [f"      {error['path'] or '/'}: {error['message']}" for error in errors[:SHOWN_ERRORS]]
    total = entry.get("errors_total", len(errors))  # the journal keeps only an entry's first few errors
    if total > SHOWN_ERRORS:
        lines.append(f"      ... and {total - SHOWN_ERRORS} more error(s)")
    return "\n".join(lines)


def _rejected(entry: dict[str, Any]) -> bool:
    """Answered with an error, or not answered at all (a dropped connection is logged with status null)."""
    return entry["status"] is None or entry["status"] >= 400
