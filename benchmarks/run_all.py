"""Run every benchmark script in turn (each in its own process), passing `--quick` through.

    /tmp/venv/bin/python benchmarks/run_all.py --quick

A script that fails is reported and the others still run; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_ingest.py",
    "bench_small_requests.py",
    "bench_flat_cost.py",
    "bench_replay.py",
    "bench_validate_cli.py",
    "bench_invalid.py",
    "bench_kinds.py",
    "bench_jsonl.py",
    "bench_stalls.py",
    "bench_http_stack.py",
    "bench_wiremock.py",
    "bench_fixture_startup.py",
    "profile_ingest.py",
]


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__)
    arguments.add_argument("--quick", action="store_true")
    arguments.add_argument("--only", help="comma-separated script names (without .py) to run")
    args = arguments.parse_args()
    chosen = [
        name
        for name in SCRIPTS
        if (HERE / name).exists() and (args.only is None or name.removesuffix(".py") in args.only.split(","))
    ]
    failed = []
    for name in chosen:
        text = (HERE / name).read_text()
        quick = args.quick and ("_bench.parser" in text or '"--quick"' in text)  # not every script has --quick
        print(f"\n=== {name}{' --quick' if quick else ''}", flush=True)
        began = time.perf_counter()
        done = subprocess.run([sys.executable, str(HERE / name), *(["--quick"] if quick else [])], check=False)
        print(f"=== {name}: exit {done.returncode} after {time.perf_counter() - began:.0f} s", flush=True)
        if done.returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
