"""What the pytest fixtures cost: starting and stopping MockMasivoServer, and a fresh account per test.

    /tmp/venv/bin/python benchmarks/bench_fixture_startup.py [--runs 20]

Prints medians over the runs (the first, cold start, which pays for the imports, is shown apart).
Measured only, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

from mock_masivo import MockMasivoClient, MockMasivoServer


def timed_start_stop() -> tuple[float, float]:
    began = time.perf_counter()
    server = MockMasivoServer().start()
    started = time.perf_counter()
    server.stop()
    return started - began, time.perf_counter() - started


def timed_accounts(runs: int) -> list[float]:
    """The per-test part of `masivo_mock`: a client, POST /_mock/accounts, a scoped reset."""
    times = []
    with MockMasivoServer() as server:
        for _ in range(runs):
            began = time.perf_counter()
            with MockMasivoClient(server.url) as client:
                client.account = client.new_account()["id"]
                client.reset()
            times.append(time.perf_counter() - began)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    cold_start, cold_stop = timed_start_stop()
    starts, stops = zip(*(timed_start_stop() for _ in range(runs)), strict=True)
    totals = [start + stop for start, stop in zip(starts, stops, strict=True)]
    print(f"MockMasivoServer over {runs} runs (medians)")
    print(f"  cold start (imports included) {ms(cold_start)}   its stop {ms(cold_stop)}")
    print(f"  start                         {ms(statistics.median(starts))}")
    print(f"  stop                          {ms(statistics.median(stops))}")
    print(f"  start + stop                  {ms(statistics.median(totals))}")
    print(f"  per-test account + reset      {ms(statistics.median(timed_accounts(runs)))}")


if __name__ == "__main__":
    main()
