"""Issue 12: the new record kinds against events, in one run, on durable servers (fsync on).

For each kind (profiles, transactions, events) a fresh server is filled with 1000-record batches
(16 concurrent clients) to N records (default 1M; `--quick` 100k), and measured as goals 3, 4 and 6
measure events:
- flat cost: p50 round trip of a batch sent alone at 10k records and at N (ratio), and the server's
  CPU per batch at both levels (load-independent);
- memory: VmRSS per stored record, (at N - empty) / N;
- replay: the server is stopped and started again on its data dir; seconds until it answers.
The table sets each kind beside events, as ratios measured in the same run.

Bodies: profiles are 1000 distinct customers with a name, an email and one balance line (~0.2 KB a
record); transactions are 100 customers with 10 ACCUMULATIONs each (~0.2 KB a record; their
customers have no profile, so they are processed as FAILED unknown_customer, which is stored as a
failure per record); events are Masivo's example event (~0.8 KB a record).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _bench
import httpx

PATHS = {"profile": "/customers/migrate", "transaction": "/customers/migrate/transactions", "event": _bench.MIGRATE}
SMALL_LEVEL = 10_000
BATCH = 1000


def profile_bodies() -> Callable[[], bytes]:
    numbers = itertools.count()

    def body() -> bytes:
        first = next(numbers) * BATCH
        customers = b",".join(
            b'{"id":"customer-%09d","name":"Customer %d","email":"customer-%d@example.com",'
            b'"balance":[{"reward_id":"points","amount":%d}]}' % (n, n, n, n % 5000)
            for n in range(first, first + BATCH)
        )
        return b'{"customers":[' + customers + b"]}"

    return body


def transaction_bodies() -> Callable[[], bytes]:
    numbers = itertools.count()

    def body() -> bytes:
        first = next(numbers) * 100
        one = (
            b'{"type":"ACCUMULATION","amount":%d,"reward_id":"points","issued_at":"2026-11-%02dT10:00:00Z",'
            b'"brand_id":"brand-%d"}'
        )
        customers = b",".join(
            b'{"id":"customer-%09d","transactions":[%b]}'
            % (n, b",".join(one % (t + 1, 1 + t, n % 5) for t in range(10)))
            for n in range(first, first + 100)
        )
        return b'{"customers":[' + customers + b"]}"

    return body


BODIES: dict[str, Callable[[], Callable[[], bytes]]] = {
    "profile": profile_bodies,
    "transaction": transaction_bodies,
    "event": lambda: _bench.Bodies(start=90_000_000),
}


def stored(url: str, kind: str) -> int:
    count: int = httpx.get(url + "/_mock/report", timeout=300).json()["data"]["accepted"][kind]
    return count


def fill_to(server: _bench.ServerProcess, kind: str, bodies: Callable[[], bytes], target: int) -> dict[str, Any]:
    missing = target - stored(server.url, kind)
    load = _bench.run_load(
        server.url,
        bodies,
        events_per_body=BATCH,
        max_requests=max(0, -(-missing // BATCH)),
        max_seconds=3600,
        path=PATHS[kind],
        server=server,
    )
    return load.summary()


def batch_cost(server: _bench.ServerProcess, kind: str, bodies: Callable[[], bytes], samples: int) -> dict[str, Any]:
    cpu = server.cpu_seconds()
    times = _bench.sequential_latencies(server.url, [bodies() for _ in range(samples)], path=PATHS[kind])
    return {
        "server_cpu_ms_per_batch": round(1e3 * (server.cpu_seconds() - cpu) / samples, 2),
        **_bench.latency_summary(times),
    }


def measure(kind: str, scratch: Path, large: int, samples: int) -> dict[str, Any]:
    bodies = BODIES[kind]()
    data = scratch / kind
    with _bench.ServerProcess(data=data) as server:
        rss_empty = server.rss_kib()
        fill_to(server, kind, bodies, SMALL_LEVEL)
        small = batch_cost(server, kind, bodies, samples)
        fill = fill_to(server, kind, bodies, large)
        count = stored(server.url, kind)
        rss_large = server.rss_kib()
        big = batch_cost(server, kind, bodies, samples)
        count += samples * BATCH
    with _bench.ServerProcess(data=data) as restarted:
        if stored(restarted.url, kind) != count:
            raise AssertionError(f"{kind}: the restarted server holds {stored(restarted.url, kind)}, not {count}")
        replay = restarted.started_in
    return {
        "stored": count,
        "small": small,
        "large": big,
        "fill": fill,
        "flat_ratio": round(big["p50"] / small["p50"], 3),
        "flat_cpu_ratio": round(big["server_cpu_ms_per_batch"] / small["server_cpu_ms_per_batch"], 3),
        "bytes_per_record": round((rss_large - rss_empty) * 1024 / count, 1),
        "replay_seconds": round(replay, 3),
    }


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--records", type=int, help="records per kind (default 1,000,000; --quick 100,000)")
    args = arguments.parse_args()
    large = args.records or (100_000 if args.quick else 1_000_000)
    samples = 15 if args.quick else 41
    with _bench.temp_dir() as scratch:
        results = {kind: measure(kind, scratch, large, samples) for kind in PATHS}
    event = results["event"]
    rows: list[list[Any]] = []
    for kind, found in results.items():
        rows.append(
            [
                f"{kind}: p50 per batch at 10k / at {found['stored']:,} (ms); ratio",
                f"{found['small']['p50']:.1f} / {found['large']['p50']:.1f}; {found['flat_ratio']:.2f}",
            ]
        )
        rows.append([f"{kind}: server CPU per batch, ratio large/small", f"{found['flat_cpu_ratio']:.2f}"])
        rows.append([f"{kind}: fill rate (records/s, 16 clients)", _bench.fmt(found["fill"]["events_per_second"])])
        rows.append(
            [
                f"{kind}: RSS per stored record (B); vs events",
                f"{found['bytes_per_record']:.0f}; {found['bytes_per_record'] / event['bytes_per_record']:.2f}",
            ]
        )
        rows.append(
            [
                f"{kind}: replay at start (s); vs events",
                f"{found['replay_seconds']:.2f}; {found['replay_seconds'] / event['replay_seconds']:.2f}",
            ]
        )
    _bench.report("bench_kinds", args, results, rows)


if __name__ == "__main__":
    main()
