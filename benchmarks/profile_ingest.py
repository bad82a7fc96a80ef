"""Where the time of durable ingest goes, per event: two independent views.

1. Stages in-process (no HTTP), each timed alone with the server's own entry points on 1000-event
   bodies: the route's parser (parse_batch, or parse_object in older versions) and orjson.loads
   within it, PayloadValidator.check, EventStore.submit_batch on a memory store already holding
   `--stored` events (encoding, journal record, indexing), and Journal.submit of a batch-sized
   record (frame, write, fsync, hand-off to the writer thread).
2. py-spy on a live `mock-masivo serve --data DIR` under the same 16-client load as bench_ingest
   (`--small`: 1-event requests from the raw client of bench_small_requests), sampling only the
   thread holding the GIL (`--gil`); each sample goes into one bucket by its innermost recognised
   frame (file and source line). A bucket's share of samples times the server's user CPU seconds
   per event gives its microseconds per event; the system CPU (socket reads, journal write and
   fsync, all made without the GIL) is shown apart.

Needs py-spy (`/tmp/venv/bin/pip install py-spy`); without it only part 1 runs.
"""

from __future__ import annotations

import inspect
import linecache
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _bench
import orjson

import mock_masivo
from mock_masivo.ingest.validation import PayloadValidator
from mock_masivo.storage.journal import Journal
from mock_masivo.storage.store import EventStore

FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^()]*):(?P<line>\d+)\)$")
PACKAGE_ROOT = Path(mock_masivo.__file__).resolve().parent.parent


def frame_bucket(frame_text: str) -> str | None:
    """The bucket of one py-spy frame `qualname (path:line)`, judged by its file and source line; None: look outward."""
    match = FRAME.match(frame_text)
    if match is None:
        return None
    func, path = match["func"], match["path"]
    if not path.startswith("mock_masivo/"):
        return _library_bucket(func, path, _source(path, int(match["line"])))
    return _product_bucket(func, path.removeprefix("mock_masivo/"), _source(path, int(match["line"])))


def _source(path: str, line: int) -> str:
    where = PACKAGE_ROOT / path if path.startswith("mock_masivo/") else Path(sysconfig.get_paths()["purelib"]) / path
    return linecache.getline(str(where), line)


def _product_bucket(func: str, module: str, text: str) -> str | None:
    name = module.rsplit("/", 1)[-1]  # ingest/parsing.py, and parsing.py in versions before the packages
    if name == "fastpath.py":
        if ".decode(" in text:
            return "fast path: msgspec decode (validates)"
        if ".encode(" in text or ".count(" in text:
            return "fast path: duplicate proof (re-encode + colon count)"
        return "fast path: other (batch rules, attributes)"
    if name == "layout.py":
        return "records' bytes: compact + split (layout.py)"
    if name == "kinds.py":
        return "attributes (kinds.py)"
    if name == "checker.py":
        return "checker: other"
    if name == "parsing.py":
        if "_NEEDS_CAREFUL_PARSE" in text or "_same_long_numbers" in func or "_DIGIT" in text or "_ESCAPED" in text:
            return "parse: pre-scans (19-digit runs, \\u003a)"
        if "orjson.loads" in text:
            return "parse: orjson.loads"
        if "_encode" in text or "_encode" in func or ".count(" in text:
            return "parse: re-encode + colon count"
        return "parse: other"
    if name == "validation.py":
        return "validate: schema + batch rules"
    if name == "store.py":
        for function, bucket in (
            ("encode_customers", "store: encode events + attributes"),
            ("event_attributes", "store: encode events + attributes"),
            ("batch_payload", "store: build journal record"),
            ("submit_batch", "store: submit_batch (count, lock, closure)"),
        ):
            if function in func:
                return bucket
        return "store: index rows + duplicate check"
    if name == "format.py":
        return "store: build journal record"
    if name in ("journal.py", "log.py"):
        return "journal: frame (crc32) + write + fsync"
    if name == "body.py":
        return "HTTP: body read (body.py)"
    if name in ("middleware.py", "requestlog.py", "ratelimit.py", "faults.py"):
        return "middleware: request journal, faults"
    if module.endswith("routes/masivo.py"):
        return "route handler: other (notes, warnings)"
    return None


def _library_bucket(func: str, path: str, text: str) -> str | None:
    if path.startswith("starlette/routing.py") and "await f(request)" in text:
        return "freeing the parsed body (on handler return)"
    if path.startswith(("h11/", "uvicorn/")):
        return "HTTP: h11 + uvicorn"
    if path.startswith("starlette/"):
        return "HTTP: starlette (routing, request, response)"
    if path.startswith("tinydb/"):
        return "store: index rows + duplicate check"
    if path.startswith("asyncio/"):
        return "asyncio event loop"
    del func
    return None


def stage_timings(bodies: list[bytes], stored: int, repeats: int) -> dict[str, float]:
    """Microseconds per event of each stage, fastest of `repeats` rounds (store stages: median batch)."""
    validator = PayloadValidator()
    name, parse = _bench.route_parser()
    check_name, check = _bench.route_check()
    parsed = [parse(raw)[0] for raw in bodies]
    n = 1000 * len(bodies)

    def each(fn: Any, items: list[Any]) -> Any:
        def run() -> int:
            for item in items:
                fn(item)
            return n

        return run

    stages = {
        f"the route's check: {check_name} (all of it)": each(check, bodies),
        f"full path, parse: {name} (all of it)": each(parse, bodies),
        "  of which orjson.loads": each(orjson.loads, bodies),
        "  for reference: orjson.dumps of the whole body": each(orjson.dumps, parsed),
        "full path, validate: PayloadValidator.check": each(validator.check, parsed),
    }
    timings = {label: 1e6 * _bench.best_rate(fn, repeats)[1] for label, fn in stages.items()}
    timings[f"store: submit_batch, memory store holding {stored:,} (attributes, record, index; best batch)"] = (
        1e6 * submit_seconds(parse, stored, 5 * repeats) / 1000
    )
    timings["journal: Journal.submit of one batch record (frame, write, fsync, hand-off; median)"] = (
        1e6 * journal_seconds(bodies, 5 * repeats) / 1000
    )
    return timings


def submit_seconds(parse: Any, stored: int, batches: int) -> float:
    """Fastest CPU seconds of EventStore.submit_batch (in memory: no journal) per 1000-event batch."""
    store = EventStore(None)
    fill = _bench.Bodies(start=50_000_000)
    takes_encoded = "encoded_events" in inspect.signature(store.submit_batch).parameters

    def submit(raw: bytes) -> float:
        body, encoded = parse(raw)
        extra = (encoded,) if takes_encoded and encoded else ()
        began = time.process_time()  # in memory the batch is indexed synchronously, in this thread
        store.submit_batch("default", body["customers"], 1.7e9, *extra).durable.result()
        return time.process_time() - began

    while store.count_events() < stored:
        submit(fill())
    times = [submit(fill()) for _ in range(batches)]
    store.close()
    return min(times)  # CPU-bound: the fastest batch is the least disturbed by other processes


def journal_seconds(bodies: list[bytes], batches: int) -> float:
    """Median seconds for the journal to make one batch-sized record durable (fsync on)."""
    with _bench.temp_dir() as scratch:
        journal = Journal(scratch / "journal", fsync=True)
        try:
            times = []
            for number in range(batches):
                began = time.perf_counter()
                journal.submit(bodies[number % len(bodies)], lambda offset: None).result()
                times.append(time.perf_counter() - began)
        finally:
            journal.close()
    return _bench.percentile(times, 50)


def py_spy_profile(requests: int, out: Path, small: bool) -> dict[str, Any] | None:
    """Profile a live durable server under 16-client load; None when py-spy is missing."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return None
    events = 1 if small else 1000
    bodies = _bench.Bodies(events=events, start=20_000_000).take(requests)
    run = _bench.run_raw_load if small else _bench.run_load
    with _bench.temp_dir() as scratch, _bench.ServerProcess(data=scratch / "data") as server:
        warm = iter(_bench.Bodies(start=30_000_000).take(_bench.CONCURRENCY))
        _bench.run_load(server.url, lambda: next(warm), events_per_body=1000, max_requests=16, max_seconds=60)
        raw = out.with_suffix(".txt")
        spy = subprocess.Popen(
            [
                py_spy,
                "record",
                "--pid",
                str(server.pid),
                "--rate",
                "250",
                "--gil",
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # py-spy attaches asynchronously; there is no readiness signal to poll
        feed = iter(bodies)
        load = run(
            server.url,
            lambda: next(feed),
            events_per_body=events,
            max_requests=requests,
            max_seconds=120,
            server=server,
        )
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=60)
    stacks = parse_raw(raw) if raw.exists() else Counter()
    if not stacks:
        raise RuntimeError(f"py-spy wrote no samples: {err.decode(errors='replace')[-500:]}")
    return {
        "load": load.summary(),
        "buckets": bucket(stacks),
        "samples": sum(stacks.values()),
        "top_leaves": top_leaves(stacks),
        "raw": str(raw),
        "server_cpu_us_per_event": 1e6 * (load.server_cpu or 0) / load.events,
        "server_system_cpu_us_per_event": 1e6 * (load.server_system_cpu or 0) / load.events,
    }


def parse_raw(path: Path) -> Counter[tuple[str, ...]]:
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks[tuple(frames.split(";"))] += int(count)
    return stacks


def classify(frames: tuple[str, ...]) -> str:
    for frame_text in reversed(frames):
        found = frame_bucket(frame_text)
        if found is not None:
            return found
    return "other"


def bucket(stacks: Counter[tuple[str, ...]]) -> dict[str, int]:
    found: Counter[str] = Counter()
    for frames, count in stacks.items():
        found[classify(frames)] += count
    return dict(found.most_common())


def top_leaves(stacks: Counter[tuple[str, ...]], count: int = 15) -> list[tuple[str, int]]:
    leaves: Counter[str] = Counter()
    for frames, samples in stacks.items():
        leaves[frames[-1]] += samples
    return leaves.most_common(count)


def main() -> None:
    arguments = _bench.parser(__doc__ or "")
    arguments.add_argument("--stored", type=int, help="events already indexed when indexing is timed")
    arguments.add_argument("--no-py-spy", action="store_true", help="only the in-process stage timings")
    arguments.add_argument("--small", action="store_true", help="profile 1-event requests instead of batches")
    args = arguments.parse_args()
    stored = args.stored if args.stored is not None else (50_000 if args.quick else 200_000)
    bodies = _bench.Bodies(start=40_000_000).take(4)
    stages = stage_timings(bodies, stored, repeats=3 if args.quick else 7)
    rows: list[list[Any]] = [[f"stage: {name}", f"{us:.2f} us/event"] for name, us in stages.items()]
    results: dict[str, Any] = {"stages_us_per_event": {k: round(v, 3) for k, v in stages.items()}}
    name = "profile_small" if args.small else "profile_ingest"
    out = (args.out or _bench.RESULTS / name).with_suffix("")
    out.parent.mkdir(parents=True, exist_ok=True)
    requests = (20_000 if args.quick else 60_000) if args.small else (60 if args.quick else 200)
    spy = None if args.no_py_spy else py_spy_profile(requests, Path(f"{out}-pyspy"), args.small)
    if spy is not None:
        # GIL samples cover Python and the C code it calls; the kernel's share (socket reads, the journal's
        # write and fsync, made without the GIL) is the system CPU, shown apart.
        system = spy["server_system_cpu_us_per_event"]
        per_event, total = spy["server_cpu_us_per_event"] - system, spy["samples"]
        results["py_spy"] = {
            **spy,
            "us_per_event": {name: round(per_event * n / total, 2) for name, n in spy["buckets"].items()},
        }
        rows.append(["server: events/s under profile", _bench.fmt(spy["load"]["events_per_second"])])
        rows.append(
            [
                "server: CPU per event, all threads: user + system",
                f"{per_event:.2f} + {system:.2f} = {per_event + system:.2f} us",
            ]
        )
        rows += [
            [f"py-spy: {name}", f"{100 * n / total:4.1f}%  {per_event * n / total:6.2f} us/event"]
            for name, n in spy["buckets"].items()
        ]
    _bench.report(name, args, results, rows)
    if spy is not None:
        print("\ntop leaf frames (GIL samples):")
        for leaf, n in spy["top_leaves"]:
            print(f"  {100 * n / spy['samples']:5.1f}%  {leaf}")


if __name__ == "__main__":
    main()
