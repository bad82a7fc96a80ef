"""Goal 7: `mock-masivo validate --jsonl FILE` checks at least 80,000 events/s.

The file holds one valid 1000-event batch per line (`--quick`: 50 lines, else 300). The command runs
in a subprocess (`python -m mock_masivo validate --jsonl FILE`), timed from start to exit; its exit
code and summary line are checked. Reported: events/s of the whole command, and with the start-up
of an empty run (`validate` on a one-line file) taken out, next to the in-process parse+validate
ceiling of bench_ingest measured in the same run.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _bench
from bench_ingest import ceilings

GOAL_EVENTS_PER_SECOND = 80_000


def run_cli(path: Path) -> tuple[float, str, float]:
    """(wall seconds, summary line, CPU seconds of the command)."""
    began, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "mock_masivo", "validate", "--jsonl", str(path)],
        cwd=_bench.ROOT / "benchmarks",
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed, after = time.perf_counter() - began, resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise AssertionError(f"validate exited {done.returncode}: {done.stdout[-500:]} {done.stderr[-500:]}")
    used = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
    return elapsed, done.stdout.strip().splitlines()[-1], used


def main() -> None:
    args = _bench.parser(__doc__ or "").parse_args()
    lines, repeats = (50, 2) if args.quick else (300, 3)
    bodies = _bench.Bodies(start=90_000_000)
    with _bench.temp_dir() as scratch:
        big, small = scratch / "batches.jsonl", scratch / "one.jsonl"
        with big.open("wb") as out:
            for _ in range(lines):
                out.write(bodies() + b"\n")
        small.write_bytes(bodies() + b"\n")
        startups = [run_cli(small) for _ in range(repeats)]
        timings = [run_cli(big) for _ in range(repeats)]
        size = big.stat().st_size
    seconds, summary, _ = min(timings)
    startup = min(wall for wall, _, _ in startups)
    cpu, startup_cpu = min(used for _, _, used in timings), min(used for _, _, used in startups)
    events = 1000 * lines
    if f"{events} events checked: all valid" not in summary:
        raise AssertionError(f"unexpected summary: {summary}")
    limits = ceilings([bodies() for _ in range(4)], repeats=3 if args.quick else 7)
    whole, net = events / seconds, events / (seconds - startup)
    per_cpu = events / (cpu - startup_cpu)
    results = {
        "lines": lines,
        "events": events,
        "file_bytes": size,
        "seconds": [round(t, 3) for t, _, _ in timings],
        "cpu_seconds": [round(c, 3) for _, _, c in timings],
        "startup_cpu_seconds": round(startup_cpu, 3),
        "events_per_cpu_second_without_startup": round(per_cpu),
        "startup_seconds": round(startup, 3),
        "events_per_second": round(whole),
        "events_per_second_without_startup": round(net),
        "ceilings_events_per_second": {k: round(v) for k, v in limits.items()},
        "goal_met": whole >= GOAL_EVENTS_PER_SECOND,
    }
    rows: list[list[Any]] = [
        ["file", f"{lines} lines, {events:,} events, {size / 1e6:.0f} MB"],
        ["validate --jsonl: best wall time (s)", f"{seconds:.2f}"],
        ["start-up (validate of a one-line file) (s)", f"{startup:.2f}"],
        [
            "events/s, whole command (goal >= 80,000)",
            f"{_bench.fmt(whole)} ({'met' if whole >= GOAL_EVENTS_PER_SECOND else 'NOT met'})",
        ],
        ["events/s, start-up taken out", _bench.fmt(net)],
        ["events per CPU-second, start-up taken out (load-independent)", _bench.fmt(per_cpu)],
        *[[f"ceiling: {name} (events/s, 1 core)", _bench.fmt(rate)] for name, rate in limits.items()],
        ["summary line", summary],
    ]
    _bench.report("bench_validate_cli", args, results, rows)


if __name__ == "__main__":
    main()
