"""MockMasivoClient: a small httpx client for the /_mock inspection API, with assertion helpers."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

PAGE_SIZE = 1000


class MockMasivoClient:
    """Reads what a mock received. With `account`, every call is scoped to that account."""

    def __init__(self, url: str, account: str | None = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    # -- reading ---------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return self._get("/_mock/health")

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        """Every stored event matching the filters (customer_id, type, batch_id, purchase_id, status), all pages."""
        return self._all("/_mock/events", filters)

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """The customer with its events and metrics, or None when nothing was received for it."""
        response = self._http.get(f"/_mock/customers/{_quote(customer_id)}", params=self._scoped({}))
        if response.status_code == 404:
            return None
        return _data(response)

    def customers(self) -> list[dict[str, Any]]:
        return self._all("/_mock/customers", {})

    def batches(self) -> list[dict[str, Any]]:
        return self._all("/_mock/batches", {})

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        """The request journal (every call to a Masivo route), oldest first; filter with status=422."""
        return self._all("/_mock/requests", filters)

    # -- changing --------------------------------------------------------------------------------

    def reset(self) -> dict[str, Any]:
        response = self._http.post("/_mock/reset", params=self._scoped({}))
        return _json(response)

    def new_account(self) -> dict[str, Any]:
        """A fresh account: {"id", "api_key", "token"}."""
        return _data(self._http.post("/_mock/accounts"))

    # -- assertions ------------------------------------------------------------------------------

    def assert_received(self, customer_id: str | None = None, count: int | None = None,
                        **filters: Any) -> list[dict[str, Any]]:
        """Assert that matching events arrived (exactly `count` of them when given); returns them."""
        if customer_id is not None:
            filters["customer_id"] = customer_id
        matched = self.events(**filters)
        if (count is None and matched) or (count is not None and len(matched) == count):
            return matched
        wanted = f"{count} event(s)" if count is not None else "at least one event"
        raise AssertionError(f"expected {wanted} matching {filters or 'anything'}, found {len(matched)}.\n"
                             + self._what_arrived())

    def assert_no_rejections(self) -> None:
        """Assert that no call to a Masivo route was answered with a 4xx or 5xx."""
        rejected = [entry for entry in self.requests() if entry["status"] >= 400]
        if rejected:
            lines = [f"  {entry['method']} {entry['path']} -> {entry['status']}: {_errors_text(entry)}"
                     for entry in rejected]
            raise AssertionError(f"{len(rejected)} request(s) were rejected:\n" + "\n".join(lines))

    def wait_for_events(self, count: int, timeout: float = 5.0, **filters: Any) -> list[dict[str, Any]]:
        """Poll until at least `count` matching events arrived (for code that sends from other threads)."""
        deadline = time.monotonic() + timeout
        while True:
            matched = self.events(**filters)
            if len(matched) >= count:
                return matched
            if time.monotonic() >= deadline:
                raise AssertionError(f"waited {timeout:g} s for {count} event(s) matching {filters or 'anything'}, "
                                     f"found {len(matched)}.\n" + self._what_arrived())
            time.sleep(0.02)

    def _what_arrived(self) -> str:
        events = self.events()
        rejected = [entry for entry in self.requests() if entry["status"] >= 400]
        lines = [f"Received {len(events)} event(s):"]
        lines += [f"  {e['id']} customer={e['customer_id']!r} batch={e['batch_id']} {json.dumps(e['event'])[:160]}"
                  for e in events[:20]]
        if len(events) > 20:
            lines.append(f"  ... and {len(events) - 20} more")
        lines += [f"Rejected request: {entry['method']} {entry['path']} -> {entry['status']}: {_errors_text(entry)}"
                  for entry in rejected[:10]]
        return "\n".join(lines)

    # -- plumbing --------------------------------------------------------------------------------

    def _scoped(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, "account": self.account} if self.account is not None else params

    def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return _json(self._http.get(path, params=params))

    def _all(self, path: str, filters: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self._get(path, self._scoped({**filters, "limit": PAGE_SIZE, "offset": len(items)}))
            items += page["data"]
            if not page["data"] or len(items) >= page["total"]:
                return items

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MockMasivoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise AssertionError(f"{response.request.method} {response.request.url} -> {response.status_code}: "
                             f"{response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def _data(response: httpx.Response) -> dict[str, Any]:
    data: dict[str, Any] = _json(response)["data"]
    return data


def _quote(segment: str) -> str:
    from urllib.parse import quote

    return quote(segment, safe="")


def _errors_text(entry: dict[str, Any]) -> str:
    return "; ".join(f"{error['path'] or '/'}: {error['message']}" for error in entry["errors"][:5]) or "no details"
