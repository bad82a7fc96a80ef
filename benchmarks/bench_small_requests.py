"""Goal 2: valid 1-event requests, 16 concurrent clients, durable, against a bare Starlette endpoint.

Both servers run in a subprocess under uvicorn with mock-masivo's own uvicorn settings (h11, one
worker): `mock-masivo serve --data DIR` (fsync before every 201; concurrent requests share fsyncs
through the journal's group commit) and benchmarks/bare_app.py, which answers 201 without reading
the body. Each is loaded for a fixed time by 16 concurrent clients, twice: with httpx.AsyncClient
(as a Python client would) and with a minimal raw HTTP/1.1 client whose own CPU cost is a fraction
of httpx's, so that the client is less likely to be the bottleneck on a 2-core machine. The goal:
mock-masivo reaches at least 45% of the bare endpoint's requests/s.
"""

from __future__ import annotations

import sys
from typing import Any

import _bench

GOAL_RATIO = 0.45
CLIENTS = {"httpx": _bench.run_load, "raw": _bench.run_raw_load}


def measure(server: _bench.ServerProcess, client: str, seconds: float, first_event: int) -> dict[str, Any]:
    bodies = _bench.Bodies(events=1, start=first_event)
    run = CLIENTS[client]
    run(server.url, bodies, events_per_body=1, max_requests=200, max_seconds=5)  # warm-up
    load = run(server.url, bodies, events_per_body=1, max_requests=10**9, max_seconds=seconds, server=server)
    return load.summary()


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--clients", default="httpx,raw", help="comma-separated: httpx, raw")
    arguments.add_argument("--store", default="durable", choices=["durable", "no-fsync", "memory"])
    args = arguments.parse_args()
    seconds = 8.0 if args.quick else 30.0
    store = {"durable": {}, "no-fsync": {"extra": ["--no-fsync"]}, "memory": {"memory": True}}[args.store]
    results: dict[str, Any] = {"store": args.store, "seconds_per_run": seconds, "clients": {}}
    rows: list[list[Any]] = []
    bare_argv = [sys.executable, str(_bench.ROOT / "benchmarks" / "bare_app.py"), "--port", "{port}"]
    for number, client in enumerate(args.clients.split(",")):
        with _bench.ServerProcess(bare_argv) as bare:
            bare_run = measure(bare, client, seconds, 0)
        with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data", **store) as mock:
            mock_run = measure(mock, client, seconds, 10**8 * (number + 1))
            mock_run["stored_events"] = _bench.stored_events(mock.url)
        ratio = mock_run["requests_per_second"] / bare_run["requests_per_second"]
        bare_cpu = bare_run["requests_per_second"] / bare_run["server_cpu_cores"]
        mock_cpu = mock_run["requests_per_second"] / mock_run["server_cpu_cores"]
        results["clients"][client] = {"bare": bare_run, "mock": mock_run, "ratio": round(ratio, 3),
                                      "requests_per_server_cpu_second": {"bare": round(bare_cpu),
                                                                         "mock": round(mock_cpu)},
                                      "goal_met": ratio >= GOAL_RATIO}
        rows += [[f"{client}: bare Starlette requests/s", _bench.fmt(bare_run["requests_per_second"])],
                 [f"{client}: mock-masivo ({args.store}) requests/s", _bench.fmt(mock_run["requests_per_second"])],
                 [f"{client}: ratio (goal >= {GOAL_RATIO})",
                  f"{ratio:.3f} ({'met' if ratio >= GOAL_RATIO else 'NOT met'})"],
                 [f"{client}: p50 / p99 ms bare", f"{bare_run['latency_ms']['p50']} / {bare_run['latency_ms']['p99']}"],
                 [f"{client}: p50 / p99 ms mock", f"{mock_run['latency_ms']['p50']} / {mock_run['latency_ms']['p99']}"],
                 [f"{client}: CPU cores bare server / client",
                  f"{bare_run['server_cpu_cores']} / {bare_run['client_cpu_cores']}"],
                 [f"{client}: CPU cores mock server / client",
                  f"{mock_run['server_cpu_cores']} / {mock_run['client_cpu_cores']}"],
                 [f"{client}: requests per server CPU-second: bare / mock (ratio)",
                  f"{_bench.fmt(bare_cpu)} / {_bench.fmt(mock_cpu)} ({mock_cpu / bare_cpu:.3f})"]]
    _bench.report("bench_small_requests", args, results, rows)


if __name__ == "__main__":
    main()
