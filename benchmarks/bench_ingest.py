"""Goal 1: durable ingest of valid 1000-event batches (events/s) against the single-core ceiling.

Ceilings, measured in this process on the same bodies (one core, no HTTP, nothing stored):
- pure: `orjson.loads` + a jsonschema-rs validator of the request schema (`is_valid`);
- work itself: `parse_object` (orjson plus the checks that the body round-trips unchanged) +
  `PayloadValidator.check` (schema with unknown-member warnings, batch rules); and what the route
  runs, `check_batch`, which also hands the store each event's bytes, with the fast path compiled
  from the schema (ingest/fastpath.py) where it exists.
The server: `mock-masivo serve --data DIR` (fsync before every 201) in a subprocess, loaded by 16
concurrent httpx clients over loopback, in rounds (the best round is reported, all are listed).
The issue's goal: at least 60,000 events/s and at least 2/3 of the pure parse+validate ceiling.
Ceilings are timed on this process's CPU clock; the server's events per CPU-second (all its threads,
from /proc) give a second, load-independent ratio for machines shared with other work.
"""

from __future__ import annotations

from typing import Any

import _bench
import jsonschema_rs
import orjson

from mock_masivo.ingest.parsing import parse_object
from mock_masivo.ingest.schemas import load_schema
from mock_masivo.ingest.validation import REQUEST_SCHEMA, PayloadValidator

GOAL_EVENTS_PER_SECOND = 60_000
GOAL_RATIO = 2 / 3
STORES: dict[str, dict[str, Any]] = {"durable": {}, "no-fsync": {"extra": ["--no-fsync"]}, "memory": {"memory": True}}
PURE, WORK = "pure: orjson.loads + jsonschema-rs", "work: the route's check"


def ceilings(bodies: list[bytes], repeats: int) -> dict[str, float]:
    """Events/s of the in-process ceilings (one core), fastest of `repeats` rounds over the same bodies."""
    schema_validator = jsonschema_rs.validator_for(load_schema(REQUEST_SCHEMA), validate_formats=True)
    payload_validator = PayloadValidator()
    events = 1000 * len(bodies)
    parsed = [orjson.loads(raw) for raw in bodies]
    route_name, route_check = _bench.route_check()

    def loop(check: Any) -> Any:
        def run() -> int:
            for raw in bodies:
                if not check(raw):
                    raise AssertionError("a generated body is invalid")
            return events

        return run

    def each(fn: Any, items: list[Any]) -> Any:
        def run() -> int:
            for item in items:
                fn(item)
            return events

        return run

    work = {
        PURE: loop(lambda raw: schema_validator.is_valid(orjson.loads(raw))),
        "work: parse_object + PayloadValidator.check": loop(lambda raw: payload_validator.check(parse_object(raw)).ok),
        WORK: loop(route_check),
        "orjson.loads alone": each(orjson.loads, bodies),
        "jsonschema-rs is_valid alone": each(schema_validator.is_valid, parsed),
    }
    rates = {name: _bench.best_rate(fn, repeats)[0] for name, fn in work.items()}
    rates[f"{WORK} ({route_name})"] = rates.pop(WORK)
    return rates


def work_rate(limits: dict[str, float]) -> float:
    return next(rate for name, rate in limits.items() if name.startswith(WORK))


def serve_and_load(
    store: str, bodies: list[bytes], rounds: int, max_seconds: float, clients: int = _bench.CONCURRENCY
) -> dict[str, Any]:
    """Rounds of `clients`-client load on one server; each round sends its share of `bodies` (distinct ids)."""
    per_round = (len(bodies) - clients) // rounds
    with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data", **STORES[store]) as server:
        feed = iter(bodies)
        _bench.run_load(
            server.url,
            lambda: next(feed),
            events_per_body=1000,
            max_requests=clients,
            max_seconds=60,
            concurrency=clients,
        )  # warm-up
        loads = [
            _bench.run_load(
                server.url,
                lambda: next(feed),
                events_per_body=1000,
                max_requests=per_round,
                max_seconds=max_seconds,
                server=server,
                concurrency=clients,
            )
            for _ in range(rounds)
        ]
        stored = _bench.stored_events(server.url)
        expected = 1000 * (clients + sum(load.requests for load in loads))
        if stored != expected:
            raise AssertionError(f"the server stored {stored} events, expected {expected}")
        best = max(loads, key=lambda load: load.events_per_second)
        return {
            **best.summary(),
            "rounds_events_per_second": [round(load.events_per_second) for load in loads],
            "median_events_per_second": round(_bench.percentile([x.events_per_second for x in loads], 50)),
            "rss_kib_after": server.rss_kib(),
        }


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--stores", default="durable", help="comma-separated: durable, no-fsync, memory")
    arguments.add_argument("--clients", type=int, default=_bench.CONCURRENCY, help="concurrent clients (default 16)")
    args = arguments.parse_args()
    rounds, per_round, seconds = (3, 40, 30.0) if args.quick else (5, 80, 60.0)
    bodies = _bench.Bodies(start=10_000_000).take(rounds * per_round + args.clients)
    limits = ceilings(bodies[:4], repeats=3 if args.quick else 7)
    pure, work = limits[PURE], work_rate(limits)
    results: dict[str, Any] = {
        "ceilings_events_per_second": {k: round(v) for k, v in limits.items()},
        "body_bytes": len(bodies[0]),
        "stores": {},
    }
    rows: list[list[Any]] = [[f"ceiling {name} (events/s, 1 core)", _bench.fmt(rate)] for name, rate in limits.items()]
    for store in args.stores.split(","):
        run = results["stores"][store] = serve_and_load(store, bodies, rounds, seconds, args.clients)
        rate = run["events_per_second"]
        run["ratio_to_work_ceiling"] = round(rate / work, 3)
        run["ratio_to_pure_ceiling"] = round(rate / pure, 3)
        run["goal_met"] = rate >= GOAL_EVENTS_PER_SECOND and rate >= GOAL_RATIO * pure
        per_cpu = rate / run["server_cpu_cores"]
        run["events_per_server_cpu_second"] = round(per_cpu)
        run["cpu_normalised_ratio_to_pure_ceiling"] = round(per_cpu / pure, 3)
        rows += [
            [f"{store}: events/s, best round of {rounds} ({args.clients} clients)", _bench.fmt(rate)],
            [f"{store}: events/s of each round", ", ".join(map(_bench.fmt, run["rounds_events_per_second"]))],
            [f"{store}: ratio to the work ceiling", f"{run['ratio_to_work_ceiling']:.3f}"],
            [
                f"{store}: ratio to the pure ceiling (goal >= 0.667; issue 16: >= 2.0, >= 3.0 with 2 parse workers)",
                f"{run['ratio_to_pure_ceiling']:.3f}",
            ],
            [
                f"{store}: p50 / p99 latency per batch (ms)",
                f"{run['latency_ms']['p50']:.1f} / {run['latency_ms']['p99']:.1f}",
            ],
            [f"{store}: CPU cores used: server / client", f"{run['server_cpu_cores']} / {run['client_cpu_cores']}"],
            [
                f"{store}: server CPU per event (us) / events per server CPU-second",
                f"{1e6 / per_cpu:.1f} / {_bench.fmt(per_cpu)}",
            ],
            [
                f"{store}: CPU-normalised ratio: events per server CPU-second / pure ceiling",
                f"{run['cpu_normalised_ratio_to_pure_ceiling']:.3f}",
            ],
            [f"{store}: goal (>= 60,000 events/s and 2/3 of pure ceiling)", "met" if run["goal_met"] else "NOT met"],
        ]
    rows.append(["body size (bytes per 1000-event batch)", _bench.fmt(len(bodies[0]))])
    _bench.report("bench_ingest", args, results, rows)


if __name__ == "__main__":
    main()
