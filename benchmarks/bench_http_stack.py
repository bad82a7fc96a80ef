"""Issue 16: what the HTTP stack costs per small request: h11 against httptools, asyncio against uvloop.

`mock-masivo serve --data DIR` (durable) is started once per stack and round, with uvicorn's `http`
and `loop` options replaced through BENCH_SERVER_PRELUDE (nothing else changes; "guarded" is
mock-masivo's own choice, transport.py), and loaded for a
fixed time with valid 1-event requests by 16 raw HTTP/1.1 clients. Stacks alternate within each
round, so every round compares them on the same minute of a shared machine; each stack's rate is
reported as a ratio to h11 + asyncio of the same round, and the server's CPU per request beside it.
httptools and uvloop are not dependencies of mock-masivo: `pip install httptools uvloop` first
(stacks whose modules are missing are skipped, and said).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
from typing import Any

import _bench

# "guarded": mock-masivo's own parser (transport.py: uvicorn's httptools protocol held to h11's guarantees).
STACKS = [
    ("h11", "asyncio"),
    ("guarded", "asyncio"),
    ("httptools", "asyncio"),
    ("h11", "uvloop"),
    ("httptools", "uvloop"),
]
PRELUDE = (
    "import mock_masivo.config as config\n"
    "_chosen = config.uvicorn_config\n"
    "config.uvicorn_config = lambda app, settings, **given: _chosen(app, settings, **{{'http': {http!r}, "
    "'loop': {loop!r}, **given}})\n"
)


def measure(http: str, loop: str, seconds: float, first_event: int) -> dict[str, Any]:
    os.environ[_bench.PRELUDE_VARIABLE] = PRELUDE.format(http=http, loop=loop).replace("'http': 'guarded', ", "")
    try:
        with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data") as server:
            bodies = _bench.Bodies(events=1, start=first_event)
            _bench.run_raw_load(server.url, bodies, events_per_body=1, max_requests=200, max_seconds=5)  # warm-up
            load = _bench.run_raw_load(
                server.url, bodies, events_per_body=1, max_requests=10**9, max_seconds=seconds, server=server
            )
            found = load.summary()
            found["stored_events"] = _bench.stored_events(server.url)
            return found
    finally:
        del os.environ[_bench.PRELUDE_VARIABLE]


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--rounds", type=int, help="rounds of every stack (quick 2, full 4)")
    args = arguments.parse_args()
    seconds = 5.0 if args.quick else 15.0
    rounds = args.rounds or (2 if args.quick else 4)
    stacks = [
        (http, loop)
        for http, loop in STACKS
        if all(importlib.util.find_spec(name) for name in (http.replace("guarded", "httptools"), loop))
    ]
    skipped = sorted(set(STACKS) - set(stacks))
    if skipped:
        print(f"skipped (pip install httptools uvloop): {', '.join(f'{http}+{loop}' for http, loop in skipped)}")
    measured: dict[str, list[dict[str, Any]]] = {f"{http}+{loop}": [] for http, loop in stacks}
    for number in range(rounds):
        for index, (http, loop) in enumerate(stacks):
            first = 10**8 * (number * len(STACKS) + index + 1)
            measured[f"{http}+{loop}"].append(measure(http, loop, seconds, first))
    baseline = measured["h11+asyncio"]
    rows: list[list[Any]] = []
    results: dict[str, Any] = {"seconds_per_run": seconds, "rounds": rounds, "stacks": {}}
    for name, runs in measured.items():
        ratios = [
            run["requests_per_second"] / base["requests_per_second"] for run, base in zip(runs, baseline, strict=True)
        ]
        cpu_us = [1e6 * run["server_cpu_cores"] / run["requests_per_second"] for run in runs]
        results["stacks"][name] = {"runs": runs, "ratios": ratios, "server_cpu_us_per_request": cpu_us}
        rows.append(
            [
                name,
                ", ".join(_bench.fmt(run["requests_per_second"]) for run in runs),
                f"{statistics.median(ratios):.2f} ({', '.join(f'{ratio:.2f}' for ratio in ratios)})",
                f"{statistics.median(cpu_us):.0f}",
            ]
        )
    header = (
        "stack (http+loop)",
        "1-event requests/s per round",
        "vs h11+asyncio, median (rounds)",
        "server CPU us/req",
    )
    _bench.report("bench_http_stack", args, results, rows, header=header)


if __name__ == "__main__":
    main()
