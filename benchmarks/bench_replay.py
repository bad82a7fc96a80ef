"""Goal 6: start-up of a data dir holding 1M events (`--quick`: 100k) in under 20 s.

The data dir is built by POSTing valid 1000-event batches (16 concurrent clients) to
`mock-masivo serve --data DIR`, or taken as it is with `--data DIR` (for example one kept by
`bench_flat_cost.py --keep-data DIR`). The server is then stopped and started again several times;
each start is timed from process start until `/_mock/health` answers 200 with every event counted.
The journal is in the page cache (it was just written or read), as it is on a developer's machine
that restarts the mock; a cold cache adds the disk's read time for the journal's size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _bench

GOAL_SECONDS = 20.0


def build(data: Path, events: int) -> dict[str, Any]:
    with _bench.ServerProcess(data=data) as server:
        bodies = _bench.Bodies(start=80_000_000)
        load = _bench.run_load(
            server.url, bodies, events_per_body=1000, max_requests=-(-events // 1000), max_seconds=3600, server=server
        )
        return load.summary()


def start_once(data: Path, expected: int) -> dict[str, Any]:
    with _bench.ServerProcess(data=data) as server:
        stored = _bench.stored_events(server.url)
        if stored != expected:
            raise AssertionError(f"the restarted server counts {stored} events, expected {expected}")
        return {
            "seconds": round(server.started_in, 3),
            "rss_kib": server.rss_kib(),
            "cpu_seconds": round(server.cpu_seconds(), 3),
        }


def profiled_start(data: Path, out: Path) -> dict[str, Any] | None:
    """One more start under `py-spy record`: samples per innermost mock_masivo function."""
    spy = _bench.py_spy()
    if spy is None:
        return None
    record = [spy, "record", "--gil", "--rate", "250", "--format", "raw", "--output", str(out), "--"]
    server = _bench.ServerProcess(data=data, wrap=record)
    try:
        server.start()
    finally:
        _bench.stop_profiled(server)
    stacks = _bench.parse_raw_profile(out)
    total = sum(stacks.values())
    return {
        "samples": total,
        "raw": str(out),
        "functions": [(name, round(100 * count / total, 1)) for name, count in _bench.by_innermost(stacks)[:15]],
    }


def empty_start(scratch: Path) -> float:
    with _bench.ServerProcess(data=scratch / "empty") as server:
        return server.started_in


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--events", type=int, help="events in the data dir (default 1,000,000; --quick 100,000)")
    arguments.add_argument("--data", type=Path, help="use this existing data dir instead of building one")
    arguments.add_argument("--starts", type=int, help="timed starts (default 3; --quick 2)")
    arguments.add_argument("--py-spy", action="store_true", help="profile one more start with py-spy")
    args = arguments.parse_args()
    events = args.events or (100_000 if args.quick else 1_000_000)
    starts = args.starts or (2 if args.quick else 3)
    with _bench.temp_dir() as scratch:
        data = args.data or scratch / "data"
        built = build(data, events) if args.data is None else {}
        with _bench.ServerProcess(data=data) as probe:
            stored = _bench.stored_events(probe.url)
        journal_bytes = sum(path.stat().st_size for path in data.iterdir() if path.is_file())
        runs = [start_once(data, stored) for _ in range(starts)]
        baseline = empty_start(scratch)
        _bench.RESULTS.mkdir(parents=True, exist_ok=True)
        profile = profiled_start(data, _bench.RESULTS / "bench_replay-pyspy.txt") if args.py_spy else None
    best = min(run["seconds"] for run in runs)
    median = _bench.percentile([run["seconds"] for run in runs], 50)
    projected = baseline + (median - baseline) * 1_000_000 / stored
    results = {
        "events": stored,
        "data_dir_bytes": journal_bytes,
        "build": built,
        "starts": runs,
        "best_seconds": best,
        "median_seconds": median,
        "empty_start_seconds": round(baseline, 3),
        "projected_seconds_at_1m": round(projected, 2),
        "goal_met": projected < GOAL_SECONDS,
    }
    rows: list[list[Any]] = [
        ["events in the data dir", _bench.fmt(stored)],
        ["data dir size (MB)", f"{journal_bytes / 1e6:.0f}"],
        ["start-up to health 200: best / median (s)", f"{best:.2f} / {median:.2f}"],
        ["start-up: server CPU seconds (user + system), best", f"{min(run['cpu_seconds'] for run in runs):.1f}"],
        ["start-up of an empty data dir (s)", f"{baseline:.2f}"],
        ["replay rate (events/s, start-up minus empty start)", _bench.fmt(stored / max(1e-9, median - baseline))],
        [
            "projected start-up at 1M events, linear (s, goal < 20; replay can grow faster)",
            f"{projected:.1f} ({'met' if projected < GOAL_SECONDS else 'NOT met'})",
        ],
        ["RSS after start-up (MiB)", f"{runs[-1]['rss_kib'] / 1024:.0f}"],
    ]
    if built:
        rows.append(["build: events/s posted (16 clients)", _bench.fmt(built["events_per_second"])])
    if profile is not None:
        results["py_spy"] = profile
        rows += [[f"py-spy: {name}", f"{share}%"] for name, share in profile["functions"]]
    _bench.report("bench_replay", args, results, rows)


if __name__ == "__main__":
    main()
