"""Goals 3, 4 and 5 on one durable server filled to 1M events (`--quick`: 100k).

3. Flat cost: p50 round trip of a 1000-event batch, sent one at a time, with 10k events stored and
   again with 1M stored (goal: at most 1.5x).
4. Memory: the server's VmRSS (/proc/PID/status) when empty and at 1M events; the difference per
   stored event (goal: at most 1.5 KB). VmHWM (the peak) is reported too.
5. Queries at 1M stored, over HTTP, one at a time: /_mock/events?customer_id=, ?batch_id=, and
   /_mock/events/{id}, p50 and p99 (goal: each under 5 ms).
The store is filled by POSTing valid 1000-event batches with 16 concurrent clients, exactly as a
migration would; `--keep-data DIR` keeps the data dir (bench_replay.py --data DIR can reuse it).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import _bench
import httpx

GOAL_FLAT_RATIO = 1.5
GOAL_BYTES_PER_EVENT = 1536
GOAL_QUERY_MS = 5.0
SMALL_LEVEL = 10_000
FIRST_EVENT = 70_000_000


def fill_to(server: _bench.ServerProcess, bodies: _bench.Bodies, target: int) -> dict[str, Any]:
    missing = target - _bench.stored_events(server.url)
    if missing <= 0:
        return {}
    load = _bench.run_load(
        server.url,
        bodies,
        events_per_body=bodies.events,
        max_requests=-(-missing // 1000),
        max_seconds=3600,
        server=server,
    )
    return load.summary()


def latency_at(server: _bench.ServerProcess, bodies: _bench.Bodies, samples: int) -> dict[str, Any]:
    """Sequential batches: round-trip latencies, and the server's CPU per batch (load-independent)."""
    stored = _bench.stored_events(server.url)
    batches = [bodies() for _ in range(samples)]
    cpu = server.cpu_seconds()
    times = _bench.sequential_latencies(server.url, batches)
    cpu_ms = 1e3 * (server.cpu_seconds() - cpu) / samples
    return {
        "stored_before": stored,
        "stored_after": _bench.stored_events(server.url),
        "server_cpu_ms_per_batch": round(cpu_ms, 2),
        **_bench.latency_summary(times),
    }


def queries(server: _bench.ServerProcess, samples: int, stored: int) -> dict[str, dict[str, Any]]:
    """p50/p99 of the three lookups, on random customers, batches and events that exist."""
    rng = random.Random(6)
    first_customer = FIRST_EVENT // _bench.EVENTS_PER_CUSTOMER  # every event stored came from one Bodies
    customers = [first_customer + rng.randrange(stored // _bench.EVENTS_PER_CUSTOMER) for _ in range(samples)]
    batches = [1 + rng.randrange(stored // 1000) for _ in range(samples)]
    events = [1 + rng.randrange(stored) for _ in range(samples)]

    def expect(total: int | None) -> Any:
        def check(response: httpx.Response) -> None:
            if response.status_code != 200:
                raise AssertionError(f"{response.request.url}: {response.status_code} {response.text[:200]}")
            if total is not None and response.json()["total"] != total:
                raise AssertionError(f"{response.request.url}: total {response.json()['total']}, expected {total}")

        return check

    paths = {
        "events?customer_id= (10 events)": (
            [f"/_mock/events?customer_id=customer-{c:09d}" for c in customers],
            expect(_bench.EVENTS_PER_CUSTOMER),
        ),
        "events?batch_id= (first 100 of 1000)": ([f"/_mock/events?batch_id=bat_{b}" for b in batches], expect(1000)),
        "events/{id}": ([f"/_mock/events/evt_{e}" for e in events], expect(None)),
    }
    found = {}
    for name, (urls, check) in paths.items():
        _bench.get_latencies(server.url, urls[:5], check)  # warm-up
        found[name] = _bench.latency_summary(_bench.get_latencies(server.url, urls, check))
    return found


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--events", type=int, help="the large level (default 1,000,000; --quick 100,000)")
    arguments.add_argument("--memory", action="store_true", help="measure an in-memory store instead (--memory)")
    arguments.add_argument("--keep-data", type=Path, help="build the data dir here and keep it")
    args = arguments.parse_args()
    large = args.events or (100_000 if args.quick else 1_000_000)
    samples, query_samples = (15, 100) if args.quick else (41, 300)
    bodies = _bench.Bodies(start=FIRST_EVENT)
    with (
        _bench.temp_dir(args.keep_data) as scratch,
        _bench.ServerProcess(data=scratch / "data", memory=args.memory) as server,
    ):
        rss_empty = server.rss_kib()
        fill_small = fill_to(server, bodies, SMALL_LEVEL)
        rss_small = server.rss_kib()
        small = latency_at(server, bodies, samples)
        fill_large = fill_to(server, bodies, large)
        stored = _bench.stored_events(server.url)
        rss_large, hwm = server.rss_kib(), _bench.proc_status_kib(server.pid, "VmHWM")
        big = latency_at(server, bodies, samples)
        lookups = queries(server, query_samples, _bench.stored_events(server.url))
    flat = big["p50"] / small["p50"]
    flat_cpu = big["server_cpu_ms_per_batch"] / small["server_cpu_ms_per_batch"]
    per_event = (rss_large - rss_empty) * 1024 / stored
    marginal = (rss_large - rss_small) * 1024 / (stored - SMALL_LEVEL)
    results = {
        "store": "memory" if args.memory else "durable",
        "levels": {"small": small, "large": big},
        "flat_ratio": round(flat, 3),
        "flat_cpu_ratio": round(flat_cpu, 3),
        "fill": {"to_small": fill_small, "to_large": fill_large},
        "memory": {
            "rss_empty_kib": rss_empty,
            "rss_small_kib": rss_small,
            "rss_large_kib": rss_large,
            "hwm_kib": hwm,
            "stored": stored,
            "bytes_per_event": round(per_event, 1),
            "marginal_bytes_per_event": round(marginal, 1),
        },
        "queries_ms": lookups,
    }
    rows: list[list[Any]] = [
        [f"p50 batch round trip at {small['stored_before']:,} stored (ms)", f"{small['p50']:.1f}"],
        [f"p50 batch round trip at {big['stored_before']:,} stored (ms)", f"{big['p50']:.1f}"],
        [
            f"flat-cost ratio (goal <= {GOAL_FLAT_RATIO})",
            f"{flat:.2f} ({'met' if flat <= GOAL_FLAT_RATIO else 'NOT met'})",
        ],
        [
            "server CPU per batch at small / large level (ms)",
            f"{small['server_cpu_ms_per_batch']:.1f} / {big['server_cpu_ms_per_batch']:.1f}",
        ],
        ["flat-cost ratio of server CPU per batch (load-independent)", f"{flat_cpu:.2f}"],
        ["fill rate to the large level (events/s, 16 clients)", _bench.fmt(fill_large.get("events_per_second", 0))],
        [
            "RSS empty / at 10k / at large level / peak (MiB)",
            f"{rss_empty / 1024:.0f} / {rss_small / 1024:.0f} / {rss_large / 1024:.0f} / {hwm / 1024:.0f}",
        ],
        [
            "RSS per stored event: (large - empty) / stored (goal <= 1536 B)",
            f"{per_event:.0f} B ({'met' if per_event <= GOAL_BYTES_PER_EVENT else 'NOT met'})",
        ],
        ["RSS per stored event, marginal: (large - 10k) / (stored - 10k)", f"{marginal:.0f} B"],
    ]
    for name, summary in lookups.items():
        verdict = ", ".join(f"{p} {'met' if summary[p] < GOAL_QUERY_MS else 'NOT met'}" for p in ("p50", "p99"))
        rows.append(
            [f"query {name}: p50 / p99 ms (goal < 5)", f"{summary['p50']:.2f} / {summary['p99']:.2f} ({verdict})"]
        )
    _bench.report("bench_flat_cost", args, results, rows)


if __name__ == "__main__":
    main()
