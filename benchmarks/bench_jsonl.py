"""Issue 13: `GET /_mock/events?format=jsonl` streams every stored event; its rate, and the memory
it costs the server, with 1M events stored (`--quick`: 100k).

A durable server is filled with 1000-event batches (16 clients), then one client streams the whole
list, counting lines. The server's RSS is sampled every 20 ms while it streams: the stream should
cost a flat amount of memory (a chunk of 1000 records at a time), not one proportional to the store.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import _bench
import httpx


def stream(url: str) -> tuple[int, int, float]:
    """Lines and bytes of the whole stream, and its seconds."""
    count = size = 0
    began = time.perf_counter()
    with (
        httpx.Client(timeout=600) as client,
        client.stream("GET", url + "/_mock/events", params={"format": "jsonl"}) as answer,
    ):
        if answer.status_code != 200:
            raise AssertionError(f"stream answered {answer.status_code}")
        for chunk in answer.iter_bytes():
            count += chunk.count(b"\n")
            size += len(chunk)
    return count, size, time.perf_counter() - began


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--events", type=int, help="events stored (default 1,000,000; --quick 100,000)")
    args = arguments.parse_args()
    target = args.events or (100_000 if args.quick else 1_000_000)
    with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data") as server:
        _bench.run_load(
            server.url,
            _bench.Bodies(start=95_000_000),
            events_per_body=1000,
            max_requests=-(-target // 1000),
            max_seconds=3600,
            server=server,
        )
        stored = _bench.stored_events(server.url)
        rss_before = server.rss_kib()
        peak = [rss_before]
        streaming = True

        def sample() -> None:
            while streaming:
                peak[0] = max(peak[0], server.rss_kib())
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        cpu = server.cpu_seconds()
        try:
            lines, size, seconds = stream(server.url)
        finally:
            streaming = False
            sampler.join()
        server_cpu = server.cpu_seconds() - cpu
    if lines != stored:
        raise AssertionError(f"streamed {lines} lines, the server holds {stored} events")
    results: dict[str, Any] = {
        "events": stored,
        "seconds": round(seconds, 3),
        "bytes": size,
        "events_per_second": round(lines / seconds, 1),
        "server_cpu_seconds": round(server_cpu, 3),
        "rss_before_kib": rss_before,
        "rss_peak_kib": peak[0],
    }
    rows = [
        ["events streamed", f"{lines:,} ({size / 2**20:,.0f} MiB)"],
        ["rate (events/s)", _bench.fmt(lines / seconds)],
        ["server CPU seconds per 100k events", f"{server_cpu / lines * 100_000:.2f}"],
        ["server RSS before / peak while streaming (MiB)", f"{rss_before / 1024:.0f} / {peak[0] / 1024:.0f}"],
        ["RSS growth while streaming, per stored event (B)", f"{(peak[0] - rss_before) * 1024 / lines:.1f}"],
    ]
    _bench.report("bench_jsonl", args, results, rows)


if __name__ == "__main__":
    main()
