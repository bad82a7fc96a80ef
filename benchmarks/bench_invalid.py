"""Goal 8: a batch with 10 errors in 1000 events (all reported) costs at most 2x a valid batch.

The invalid body is a valid 1000-event batch with 10 events broken in 10 different ways (missing
required member, wrong type, bad date-time, unknown enum value, empty id, ...). Two views:
- validator alone, in-process: `PayloadValidator.check` of each parsed body, and the route's parser
  (`parse_batch`, or `parse_object` in older versions) + check, fastest round;
- server round trip: sequential POSTs (no queueing) to `mock-masivo serve --data DIR`, valid ones
  answered 201 (stored and fsynced), invalid ones 422 with all 10 errors listed (checked): p50 of
  each, and the server's CPU time per request (load-independent).
"""

from __future__ import annotations

import copy
from typing import Any

import _bench
import httpx
import orjson

from mock_masivo.ingest.validation import PayloadValidator

GOAL_RATIO = 2.0
# (customer, event, JSON Pointer below the event or customer, new value or REMOVE): 10 distinct errors.
REMOVE = object()
BREAKS: list[tuple[int, int | None, str, Any]] = [
    (3, 1, "fulfilled", REMOVE),
    (11, 4, "fulfilled", "yes"),
    (19, 0, "issued_at", "yesterday"),
    (27, 7, "order/payment_method", "BITCOIN"),
    (35, 2, "order/value", "12.50"),
    (43, 9, "type", ""),
    (51, None, "id", ""),
    (59, 5, "resolved_at", 1699334716),
    (67, 3, "order/products/0/amount", "one"),
    (75, 8, "order/redeem", {"id": "x", "amount": 1}),
]
EXPECTED_ERRORS = len(BREAKS)


def broken(body: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    for customer, event, pointer, value in BREAKS:
        target = changed["customers"][customer]
        if event is not None:
            target = target["events"][event]
        *parents, last = pointer.split("/")
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is REMOVE:
            del target[last]
        else:
            target[last] = value
    return changed


def validator_costs(valid: list[bytes], invalid: list[bytes], repeats: int) -> dict[str, float]:
    validator = PayloadValidator()
    parse = _bench.route_parser()[1]
    report = validator.check(parse(invalid[0])[0])
    if len(report.violations) != EXPECTED_ERRORS:
        raise AssertionError(f"the validator reports {len(report.violations)} violations, expected 10")

    def timed(bodies: list[bytes], check_only: bool) -> float:
        parsed = [parse(raw)[0] for raw in bodies]

        def work() -> int:
            if check_only:
                for body in parsed:
                    validator.check(body)
            else:
                for raw in bodies:
                    validator.check(parse(raw)[0])
            return len(bodies)

        return _bench.best_rate(work, repeats)[1]

    return {
        "check_valid_ms": 1e3 * timed(valid, True),
        "check_invalid_ms": 1e3 * timed(invalid, True),
        "parse_check_valid_ms": 1e3 * timed(valid, False),
        "parse_check_invalid_ms": 1e3 * timed(invalid, False),
    }


def check_422(response: httpx.Response) -> None:
    errors = response.json().get("errors", [])
    if len(errors) != EXPECTED_ERRORS:
        raise AssertionError(f"the 422 lists {len(errors)} errors, expected {EXPECTED_ERRORS}: {errors[:3]}")


def round_trips(valid: list[bytes], invalid: list[bytes], rounds: int) -> dict[str, dict[str, Any]]:
    """Sequential round trips in alternating blocks (valid, invalid, valid, invalid) so both see the same
    machine load: latencies, and the server's CPU seconds per request (from /proc, all its threads)."""
    found: dict[str, dict[str, Any]] = {kind: {"times": [], "cpu": 0.0} for kind in ("valid", "invalid")}
    block = max(1, rounds // 4)
    with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data") as server:
        _bench.sequential_latencies(server.url, valid[:3])  # warm-up
        _bench.sequential_latencies(server.url, invalid[:3], expect=422, check=check_422)
        for number in range(4):
            kind = ("valid", "invalid")[number % 2]
            bodies = [(valid if kind == "valid" else invalid)[i % len(valid)] for i in range(block)]
            cpu = server.cpu_seconds()
            found[kind]["times"] += (
                _bench.sequential_latencies(server.url, bodies)
                if kind == "valid"
                else _bench.sequential_latencies(server.url, bodies, expect=422, check=check_422)
            )
            found[kind]["cpu"] += server.cpu_seconds() - cpu
    for measured in found.values():
        measured["cpu_ms_per_request"] = 1e3 * measured.pop("cpu") / len(measured["times"])
    return found


def main() -> None:
    args = _bench.parser(__doc__ or "").parse_args()
    rounds = 30 if args.quick else 100
    fill = _bench.Bodies(start=60_000_000)
    valid = fill.take(8)
    invalid = [orjson.dumps(broken(orjson.loads(raw))) for raw in fill.take(8)]
    costs = validator_costs(valid, invalid, 3 if args.quick else 7)
    trips = round_trips(valid, invalid, rounds)
    valid_times, invalid_times = trips["valid"]["times"], trips["invalid"]["times"]
    v50, i50 = _bench.percentile(valid_times, 50), _bench.percentile(invalid_times, 50)
    v_cpu, i_cpu = trips["valid"]["cpu_ms_per_request"], trips["invalid"]["cpu_ms_per_request"]
    ratios = {
        "check": costs["check_invalid_ms"] / costs["check_valid_ms"],
        "parse_check": costs["parse_check_invalid_ms"] / costs["parse_check_valid_ms"],
        "round_trip_p50": i50 / v50,
        "server_cpu_per_request": i_cpu / v_cpu,
    }
    results = {
        "validator_ms_per_batch": {k: round(v, 3) for k, v in costs.items()},
        "round_trip_ms": {
            "valid": _bench.latency_summary(valid_times),
            "invalid": _bench.latency_summary(invalid_times),
        },
        "server_cpu_ms_per_request": {"valid": round(v_cpu, 2), "invalid": round(i_cpu, 2)},
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "goal_met": all(r <= GOAL_RATIO for r in ratios.values()),
    }
    rows = [
        [
            "validator check: valid / invalid (ms per batch)",
            f"{costs['check_valid_ms']:.2f} / {costs['check_invalid_ms']:.2f}",
        ],
        ["validator check: ratio invalid/valid (goal <= 2)", f"{ratios['check']:.2f}"],
        [
            "parse + check: valid / invalid (ms per batch)",
            f"{costs['parse_check_valid_ms']:.2f} / {costs['parse_check_invalid_ms']:.2f}",
        ],
        ["parse + check: ratio invalid/valid (goal <= 2)", f"{ratios['parse_check']:.2f}"],
        ["server round trip p50: valid 201 / invalid 422 (ms)", f"{v50 * 1e3:.1f} / {i50 * 1e3:.1f}"],
        ["server round trip: ratio invalid/valid (goal <= 2)", f"{ratios['round_trip_p50']:.2f}"],
        ["server CPU per request: valid / invalid (ms)", f"{v_cpu:.1f} / {i_cpu:.1f}"],
        ["server CPU per request: ratio invalid/valid (goal <= 2)", f"{ratios['server_cpu_per_request']:.2f}"],
        ["goal", "met" if results["goal_met"] else "NOT met"],
    ]
    _bench.report("bench_invalid", args, results, rows)


if __name__ == "__main__":
    main()
