"""Issue 15, items 6 and 7: stalls with many records stored. How long each inspection query and a
small account's reset take at 1M stored events (`--quick`: 100k), and what they do meanwhile to a
1-event migration request and to `/_mock/health`.

A durable server is filled with 1000-event batches in the default account (16 clients), 50 of them
(50,000 events) all of one customer id, to the number of events asked for; then given one duplicate
event, 1000 customer profiles (half of them customers that also have events), and a second account
holding 1 event. Each query is then called 5 times in a row (the full reset once, last) while two
threads send, back to back, 1-event POST /customers/migrate/events requests and GET /_mock/health.
Their latencies while the query runs are set beside the same threads' latencies with nothing else
running (the baseline, measured in the same run). Every answer's status is checked, so an error
cannot pass for a fast query. Nothing is judged: the table shows the numbers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import _bench
import httpx

BIG_CUSTOMER = "customer-with-many-events"
BIG_BATCHES = 50
MIN_FILL_BATCHES = 2  # so that purchase-0000001234 exists whatever --events says
PROFILES = 1000
FIRST_PROFILE = 500  # profiles customer-000000500 to -000001499: half also have events, half only a profile
FILL_START = 0
SMALL_START = 700_000_000  # event numbers of the 1-event requests, distinct from the fill's
BIG_START = 600_000_000
REPEATS = 5
BASELINE_SECONDS = 3.0
TIMEOUT = 900.0


# -- what is stored -------------------------------------------------------------------------------


def big_customer_bodies() -> Callable[[], bytes]:
    """1000-event batches whose events all belong to BIG_CUSTOMER, with distinct purchase ids."""
    next_event = BIG_START

    def body() -> bytes:
        nonlocal next_event
        events = b",".join(_bench.event_bytes(n) for n in range(next_event, next_event + 1000))
        next_event += 1000
        return b'{"customers":[{"id":"%b","events":[%b]}]}' % (BIG_CUSTOMER.encode(), events)

    return body


def profiles_body() -> bytes:
    customers = b",".join(
        b'{"id":"customer-%09d","name":"Customer %d","email":"customer-%d@example.com",'
        b'"balance":[{"reward_id":"points","amount":%d}]}' % (n, n, n, n % 5000)
        for n in range(FIRST_PROFILE, FIRST_PROFILE + PROFILES)
    )
    return b'{"customers":[' + customers + b"]}"


def post(client: httpx.Client, path: str, body: bytes, headers: dict[str, str] = _bench.HEADERS) -> dict[str, Any]:
    answer = client.post(path, content=body, headers=headers)
    if answer.status_code != 201:
        raise RuntimeError(f"POST {path} answered {answer.status_code}: {answer.text[:300]}")
    found: dict[str, Any] = answer.json()
    return found


def get_json(client: httpx.Client, path: str) -> dict[str, Any]:
    answer = client.get(path)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    found: dict[str, Any] = answer.json()
    return found


def default_account_events(client: httpx.Client) -> int:
    count: int = get_json(client, "/_mock/report?account=default")["data"]["accepted"]["event"]
    return count


@dataclass
class Stored:
    """What the filled server holds that the queries need."""

    events: int
    customers: int
    small_account: str
    small_headers: dict[str, str]


def fill(server: _bench.ServerProcess, client: httpx.Client, target: int) -> Stored:
    filler = max(MIN_FILL_BATCHES, -(-target // 1000) - BIG_BATCHES)  # the big customer's events count too
    _bench.run_load(
        server.url,
        _bench.Bodies(start=FILL_START),
        events_per_body=1000,
        max_requests=filler,
        max_seconds=3600,
        server=server,
    )
    _bench.run_load(
        server.url,
        big_customer_bodies(),
        events_per_body=1000,
        max_requests=BIG_BATCHES,
        max_seconds=3600,
        server=server,
    )
    post(client, _bench.MIGRATE, _bench.body_bytes(FILL_START, 1))  # the fill's first event again: a duplicate
    post(client, "/customers/migrate", profiles_body())
    account = client.post("/_mock/accounts")
    if account.status_code != 201:
        raise RuntimeError(f"POST /_mock/accounts answered {account.status_code}: {account.text[:300]}")
    small = account.json()["data"]
    small_headers = {**_bench.HEADERS, "Authorization": f"Bearer {small['token']}"}
    post(client, _bench.MIGRATE, _bench.body_bytes(SMALL_START - 1000, 1), small_headers)
    customers: int = get_json(client, "/_mock/customers?limit=1")["total"]
    return Stored(_bench.stored_events(server.url), customers, small["id"], small_headers)


# -- the probes running beside each query ---------------------------------------------------------


@dataclass
class Probe:
    """A thread sending one request after another while `running`, keeping each one's latency."""

    name: str
    send: Callable[[httpx.Client], httpx.Response]
    expect: int
    url: str
    latencies: list[float] = field(default_factory=list)
    failure: str | None = None
    running: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.latencies, self.failure = [], None
        self.running.set()
        self.thread = threading.Thread(target=self._loop, name=self.name)
        self.thread.start()

    def stop(self) -> list[float]:
        """Stop after the request in flight (a request held up by the query counts in full)."""
        self.running.clear()
        assert self.thread is not None
        self.thread.join()
        if self.failure is not None:
            raise RuntimeError(f"{self.name}: {self.failure}")
        return self.latencies

    def _loop(self) -> None:
        with httpx.Client(base_url=self.url, timeout=TIMEOUT) as client:
            while self.running.is_set():
                sent = time.perf_counter()
                answer = self.send(client)
                self.latencies.append(time.perf_counter() - sent)
                if answer.status_code != self.expect:
                    self.failure = f"expected {self.expect}, got {answer.status_code}: {answer.text[:300]}"
                    return


def probes(url: str) -> tuple[Probe, Probe]:
    bodies = _bench.Bodies(events=1, start=SMALL_START)
    migrate = Probe(
        "1-event POST", lambda client: client.post(_bench.MIGRATE, content=bodies(), headers=_bench.HEADERS), 201, url
    )
    health = Probe("health", lambda client: client.get("/_mock/health"), 200, url)
    return migrate, health


# -- the queries ----------------------------------------------------------------------------------

Check = Callable[[httpx.Response], None]


@dataclass
class Query:
    label: str
    method: str
    path: str
    check: Check
    repeats: int = REPEATS
    between_calls: Callable[[], None] | None = None  # untimed: puts back what the previous call removed


def ok(answer: httpx.Response) -> None:
    if answer.status_code != 200:
        raise RuntimeError(
            f"{answer.request.method} {answer.request.url} answered {answer.status_code}: {answer.text[:300]}"
        )


def total_is(expected: int | None) -> Check:
    """A 200 whose `total` is `expected` (None: at least one)."""

    def check(answer: httpx.Response) -> None:
        ok(answer)
        total = answer.json()["total"]
        wrong = total < 1 if expected is None else total != expected
        if wrong:
            raise AssertionError(
                f"{answer.request.url}: total {total}, expected {'at least 1' if expected is None else expected}"
            )

    return check


def small_reset_removes_one(answer: httpx.Response) -> None:
    ok(answer)
    counts = answer.json()
    if counts.get("events") != 1 or counts.get("batches") != 1:
        raise AssertionError(f"resetting the small account removed {counts}, expected 1 event in 1 batch")


def queries(client: httpx.Client, stored: Stored) -> list[Query]:
    events = "/_mock/events?"

    def refill_small_account() -> None:
        post(client, _bench.MIGRATE, _bench.body_bytes(SMALL_START - 1000, 1), stored.small_headers)

    return [
        Query("customers?limit=1", "GET", "/_mock/customers?limit=1", total_is(None)),
        Query(
            f"customers?limit=1&offset={stored.customers // 2}",
            "GET",
            f"/_mock/customers?limit=1&offset={stored.customers // 2}",
            total_is(None),
        ),
        Query("events?purchase_id=(existing)", "GET", events + "purchase_id=purchase-0000001234", total_is(1)),
        Query("events?purchase_id=(missing)", "GET", events + "purchase_id=purchase-missing", total_is(0)),
        Query("events?duplicates=true&limit=10", "GET", events + "duplicates=true&limit=10", total_is(1)),
        Query("events?status=QUEUED&limit=10", "GET", events + "status=QUEUED&limit=10", total_is(0)),
        Query("events?type=PURCHASE&limit=10", "GET", events + "type=PURCHASE&limit=10", total_is(None)),
        Query(
            "events?customer_id=(big)&limit=10",
            "GET",
            events + f"customer_id={BIG_CUSTOMER}&limit=10",
            total_is(BIG_BATCHES * 1000),
        ),
        Query("customers/(big)", "GET", f"/_mock/customers/{BIG_CUSTOMER}", ok),
        Query(
            "reset?account=(small, 1 event)",
            "POST",
            f"/_mock/reset?account={stored.small_account}",
            small_reset_removes_one,
            between_calls=refill_small_account,
        ),
    ]


def timed_calls(client: httpx.Client, query: Query) -> tuple[list[float], int]:
    """The query's latencies, and the size of its last answer in bytes."""
    latencies, size = [], 0
    for call in range(query.repeats):
        if call and query.between_calls is not None:
            query.between_calls()
        sent = time.perf_counter()
        answer = client.request(query.method, query.path)
        latencies.append(time.perf_counter() - sent)
        query.check(answer)
        size = len(answer.content)
    return latencies, size


def run_beside_probes(client: httpx.Client, query: Query, migrate: Probe, health: Probe) -> dict[str, Any]:
    migrate.start()
    health.start()
    try:
        latencies, size = timed_calls(client, query)
    finally:
        posted, healths = migrate.stop(), health.stop()
    return {
        "query": _bench.latency_summary(latencies),
        "bytes": size,
        "post": _bench.latency_summary(posted),
        "health": _bench.latency_summary(healths),
    }


def baseline(migrate: Probe, health: Probe) -> dict[str, Any]:
    migrate.start()
    health.start()
    try:
        time.sleep(BASELINE_SECONDS)
    finally:
        posted, healths = migrate.stop(), health.stop()
    return {"post": _bench.latency_summary(posted), "health": _bench.latency_summary(healths)}


def full_reset_empties(client: httpx.Client, stored_before: int) -> Check:
    """The full reset answers the counts removed, and afterwards only events posted meanwhile are left."""

    def check(answer: httpx.Response) -> None:
        ok(answer)
        removed = answer.json()
        if removed.get("events", 0) < stored_before or removed.get("profiles") != PROFILES:
            raise AssertionError(
                f"the full reset removed {removed}, expected >= {stored_before} events and {PROFILES} profiles"
            )
        left = [
            get_json(client, path)["total"]
            for path in (
                "/_mock/events?purchase_id=purchase-0000001234",
                f"/_mock/events?customer_id={BIG_CUSTOMER}",
                "/_mock/profiles?limit=1",
            )
        ]
        if any(left):
            raise AssertionError(f"after the full reset, still stored (fill, big customer, profiles): {left}")

    return check


# -- the run --------------------------------------------------------------------------------------


def measure(target: int) -> dict[str, Any]:
    results: dict[str, Any] = {"queries": {}}
    with (
        _bench.temp_dir() as scratch,
        _bench.ServerProcess(data=scratch / "data") as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
    ):
        stored = fill(server, client, target)
        results["stored"] = {
            "events": stored.events,
            "customers": stored.customers,
            "big_customer_events": BIG_BATCHES * 1000,
            "profiles": PROFILES,
        }
        migrate, health = probes(server.url)
        results["baseline"] = baseline(migrate, health)
        for query in queries(client, stored):
            before = default_account_events(client) if query.between_calls else None
            results["queries"][query.label] = found = run_beside_probes(client, query, migrate, health)
            if before is not None:  # the small account's reset left the default account as it was
                after, posted = default_account_events(client), found["post"].get("n", 0)
                if after != before + posted:
                    raise AssertionError(
                        f"the default account held {before} events, {posted} were posted during "
                        f"the small account's reset, and it now holds {after}"
                    )
        everything = _bench.stored_events(server.url)
        full = Query("reset (everything)", "POST", "/_mock/reset", full_reset_empties(client, everything), repeats=1)
        results["queries"][full.label] = run_beside_probes(client, full, migrate, health)
    return results


def spread(latency: dict[str, float]) -> str:
    """p50 / max (n), or a dash when the probe got no request in while the query ran."""
    return f"{latency['p50']:.1f} / {latency['max']:.1f} ({latency['n']:.0f})" if latency else "-"


def rows_of(results: dict[str, Any]) -> list[list[str]]:
    base_post, base_health = results["baseline"]["post"], results["baseline"]["health"]
    rows = [["(nothing else running: baseline)", "", "", "", spread(base_post), spread(base_health), "1.00"]]
    for label, found in results["queries"].items():
        query, posted = found["query"], found["post"]
        rows.append(
            [
                label,
                f"{query['p50']:.1f}",
                f"{query['max']:.1f}",
                f"{found['bytes']:,}",
                spread(posted),
                spread(found["health"]),
                f"{posted['p50'] / base_post['p50']:.2f}" if posted else "-",
            ]
        )
    return rows


HEADER = (
    "query",
    "p50 ms",
    "max ms",
    "answer B",
    "1-event POST p50 / max ms (n)",
    "health p50 / max ms (n)",
    "POST p50 / baseline",
)


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--events", type=int, help="events stored (default 1,000,000; --quick 100,000)")
    args = arguments.parse_args()
    results = measure(args.events or (100_000 if args.quick else 1_000_000))
    stored = results["stored"]
    print(
        f"stored: {stored['events']:,} events ({stored['big_customer_events']:,} of one customer), "
        f"{stored['customers']:,} customers, {stored['profiles']:,} profiles; each query {REPEATS} calls in a row "
        "(the full reset once)"
    )
    _bench.report("bench_stalls", args, results, rows_of(results), header=HEADER)


if __name__ == "__main__":
    main()
