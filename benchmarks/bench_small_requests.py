"""Goal 2: valid 1-event requests, 16 concurrent clients, durable, against a bare Starlette endpoint.

Both servers run in a subprocess under uvicorn with mock-masivo's own uvicorn settings (h11, one
worker): `mock-masivo serve --data DIR` (fsync before every 201; concurrent requests share fsyncs
through the journal's group commit) and benchmarks/bare_app.py, which answers 201 without reading
the body. Each is loaded for a fixed time by 16 concurrent clients, with httpx.AsyncClient (as a
Python client would) and with a minimal raw HTTP/1.1 client whose own CPU cost is a fraction of
httpx's, so that the client is less likely to be the bottleneck on a 2-core machine.

The two servers are measured in alternating rounds (bare, mock, bare, mock, ...), each round a
fresh pair of servers, and the goal is judged on the median of the rounds' ratios: on a shared
machine the speed of both drifts by 10-20% from one minute to the next, and a single pair measured
a minute apart says as much about the drift as about the servers.
The goal: mock-masivo reaches at least 45% of the bare endpoint's requests/s.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

import _bench

GOAL_RATIO = 0.45
CLIENTS = {"httpx": _bench.run_load, "raw": _bench.run_raw_load}
BARE_ARGV = [sys.executable, str(_bench.ROOT / "benchmarks" / "bare_app.py"), "--port", "{port}"]


def measure(server: _bench.ServerProcess, client: str, seconds: float, first_event: int) -> dict[str, Any]:
    bodies = _bench.Bodies(events=1, start=first_event)
    run = CLIENTS[client]
    run(server.url, bodies, events_per_body=1, max_requests=200, max_seconds=5)  # warm-up
    load = run(server.url, bodies, events_per_body=1, max_requests=10**9, max_seconds=seconds, server=server)
    return load.summary()


def one_round(client: str, seconds: float, store: dict[str, Any], first_event: int) -> dict[str, Any]:
    """A bare run, then a mock-masivo run, each on a fresh server."""
    with _bench.ServerProcess(BARE_ARGV) as bare:
        bare_run = measure(bare, client, seconds, 0)
    with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data", **store) as mock:
        mock_run = measure(mock, client, seconds, first_event)
        mock_run["stored_events"] = _bench.stored_events(mock.url)
    return {
        "bare": bare_run,
        "mock": mock_run,
        "ratio": round(mock_run["requests_per_second"] / bare_run["requests_per_second"], 3),
        "cpu_ratio": round(per_cpu_second(mock_run) / per_cpu_second(bare_run), 3),
    }


def per_cpu_second(run: dict[str, Any]) -> float:
    rate: float = run["requests_per_second"] / run["server_cpu_cores"]
    return rate


def median_round(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose ratio is the median (the upper one of an even count)."""
    ordered = sorted(rounds, key=lambda found: found["ratio"])
    return ordered[len(ordered) // 2]


def rows_for(client: str, store: str, rounds: list[dict[str, Any]]) -> list[list[Any]]:
    ratios = [found["ratio"] for found in rounds]
    middle = median_round(rounds)
    bare, mock = middle["bare"], middle["mock"]
    verdict = "met" if middle["ratio"] >= GOAL_RATIO else "NOT met"
    return [
        [f"{client}: ratio per round (bare, then mock)", ", ".join(f"{ratio:.3f}" for ratio in ratios)],
        [f"{client}: median ratio (goal >= {GOAL_RATIO})", f"{middle['ratio']:.3f} ({verdict})"],
        [f"{client}: median round: bare Starlette requests/s", _bench.fmt(bare["requests_per_second"])],
        [f"{client}: median round: mock-masivo ({store}) requests/s", _bench.fmt(mock["requests_per_second"])],
        [f"{client}: median round: p50 / p99 ms bare", f"{bare['latency_ms']['p50']} / {bare['latency_ms']['p99']}"],
        [f"{client}: median round: p50 / p99 ms mock", f"{mock['latency_ms']['p50']} / {mock['latency_ms']['p99']}"],
        [
            f"{client}: median round: CPU cores bare server / client",
            f"{bare['server_cpu_cores']} / {bare['client_cpu_cores']}",
        ],
        [
            f"{client}: median round: CPU cores mock server / client",
            f"{mock['server_cpu_cores']} / {mock['client_cpu_cores']}",
        ],
        [
            f"{client}: median round: requests per server CPU-second: bare / mock (ratio)",
            f"{_bench.fmt(per_cpu_second(bare))} / {_bench.fmt(per_cpu_second(mock))} ({middle['cpu_ratio']:.3f})",
        ],
    ]


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--clients", default="httpx,raw", help="comma-separated: httpx, raw")
    arguments.add_argument("--store", default="durable", choices=["durable", "no-fsync", "memory"])
    arguments.add_argument("--rounds", type=int, help="alternating bare/mock rounds per client (quick 3, full 5)")
    args = arguments.parse_args()
    seconds = 5.0 if args.quick else 20.0
    rounds = args.rounds or (3 if args.quick else 5)
    stores: dict[str, dict[str, Any]] = {
        "durable": {},
        "no-fsync": {"extra": ["--no-fsync"]},
        "memory": {"memory": True},
    }
    store = stores[args.store]
    results: dict[str, Any] = {"store": args.store, "seconds_per_run": seconds, "rounds": rounds, "clients": {}}
    rows: list[list[Any]] = []
    for number, client in enumerate(args.clients.split(",")):
        measured = [
            one_round(client, seconds, store, 10**8 * (number * rounds + attempt + 1)) for attempt in range(rounds)
        ]
        middle = median_round(measured)
        results["clients"][client] = {
            "rounds": measured,
            "median_ratio": middle["ratio"],
            "median_cpu_ratio": middle["cpu_ratio"],
            "ratio_spread": [min(found["ratio"] for found in measured), max(found["ratio"] for found in measured)],
            "mean_ratio": round(statistics.fmean(found["ratio"] for found in measured), 3),
            "goal_met": middle["ratio"] >= GOAL_RATIO,
        }
        rows += rows_for(client, args.store, measured)
    _bench.report("bench_small_requests", args, results, rows)


if __name__ == "__main__":
    main()
