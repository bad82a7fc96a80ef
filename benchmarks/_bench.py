"""Shared pieces of the benchmark scripts: payloads, a server subprocess, a load generator, reporting.

Run the scripts from the repository root, e.g. `/tmp/venv/bin/python benchmarks/bench_ingest.py --quick`.
Every script prints a table and writes `benchmarks/results/<name>.json` (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MIGRATE = "/customers/migrate/events"
HEADERS = {"Authorization": "Bearer mock-token", "Content-Type": "application/json"}
EVENTS_PER_CUSTOMER = 10
CONCURRENCY = 16
START_TIMEOUT = 600.0

# -- payloads ---------------------------------------------------------------------------------------

# Masivo's published example event with every id made distinct: about 0.8 KB once encoded.
_EVENT = (
    b'{"type":"PURCHASE","channel_id":"channel-%d","store_id":"store-%03d","brand_id":"brand-%d",'
    b'"order":{"purchase_id":"purchase-%010d","channel_id":"channel-%d","store_id":"store-%03d",'
    b'"value":%d.95,"discounted_value":%d.45,"products":[{"sku":"sku-%06d","amount":%d,"value":%d,'
    b'"discounted_value":%d,"redeem":[{"id":"%s","amount":1}],"tags":{},"metadata":{}}],'
    b'"shipping":{"value":3.25,"discounted_value":2.25,"redeem":[{"id":"%s","amount":1}],"tags":{},'
    b'"metadata":{}},"payment_method":"CREDIT","redeem":[{"id":"%s","amount":1}],'
    b'"metadata":{"source":"legacy-pos","import_run":"2024-05-01"}},"fulfilled":true,'
    b'"issued_at":"%s","resolved_at":"%s"}'
)
_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def event_bytes(n: int) -> bytes:
    """Event number `n`, encoded compactly (as orjson would), with ids derived from `n`."""
    uuid = b"%08x-0d44-4b50-8888-%012x" % (n & 0xFFFFFFFF, n)
    when = (_EPOCH + dt.timedelta(seconds=n * 37)).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    channel, store, value = n % 7, n % 250, 10 + n % 490
    return _EVENT % (
        channel,
        store,
        n % 5,
        n,
        channel,
        store,
        value,
        value - 5,
        n % 100_000,
        1 + n % 4,
        value,
        value - 5,
        uuid,
        uuid,
        uuid,
        when,
        when,
    )


def body_bytes(first_event: int, events: int = 1000, per_customer: int = EVENTS_PER_CUSTOMER) -> bytes:
    """A valid batch of `events` events, `per_customer` per customer; customer ids follow the event numbers."""
    customers = []
    for start in range(first_event, first_event + events, per_customer):
        count = min(per_customer, first_event + events - start)
        joined = b",".join(event_bytes(n) for n in range(start, start + count))
        customers.append(b'{"id":"customer-%09d","events":[%b]}' % (start // per_customer, joined))
    return b'{"customers":[' + b",".join(customers) + b"]}"


class Bodies:
    """Batches with distinct ids, numbered from `start` (give each run its own range)."""

    def __init__(self, events: int = 1000, start: int = 0) -> None:
        self.events = events
        self.next_event = start

    def __call__(self) -> bytes:
        body = body_bytes(self.next_event, self.events)
        self.next_event += self.events
        return body

    def take(self, count: int) -> list[bytes]:
        return [self() for _ in range(count)]


def route_check() -> tuple[str, Callable[[bytes], bool]]:
    """What the migrate route runs on an events body, as (name, raw -> accepted): check_batch with its
    fast path where one exists (issue 16), else the full parser and validator."""
    from mock_masivo.ingest import checker

    validator = checker.validators(False)["event"]
    compiled = checker.fast_paths()["event"] if hasattr(checker, "fast_paths") else None
    if compiled is None:
        return "check_batch", lambda raw: isinstance(checker.check_batch(validator, raw), checker.CheckedBatch)
    return "check_batch, fast path", lambda raw: isinstance(
        checker.check_batch(validator, raw, compiled), checker.CheckedBatch
    )


def route_parser() -> tuple[str, Callable[[bytes], tuple[Any, Any]]]:
    """The parser the migrate route uses: `parse_batch` (body, encoded events) where it exists, else `parse_object`."""
    from mock_masivo.ingest import parsing

    if hasattr(parsing, "parse_batch"):
        return "parse_batch", parsing.parse_batch
    return "parse_object", lambda raw: (parsing.parse_object(raw), None)


# -- the server under test --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


PRELUDE_VARIABLE = "BENCH_SERVER_PRELUDE"
# Extra `serve` flags for every mock-masivo started, e.g. BENCH_SERVER_ARGS="--parse-workers 2".
SERVER_ARGS_VARIABLE = "BENCH_SERVER_ARGS"


def server_command() -> list[str]:
    """`python -m mock_masivo`, or, with BENCH_SERVER_PRELUDE set, Python code run in the server before the CLI.

    For trying a change without editing the product, e.g. BENCH_SERVER_PRELUDE='import gc; gc.disable()'.
    """
    prelude = os.environ.get(PRELUDE_VARIABLE)
    if not prelude:
        return [sys.executable, "-m", "mock_masivo"]
    code = f"{prelude}\nimport sys\nfrom mock_masivo.cli import main\nsys.argv[0] = 'mock-masivo'\nmain()"
    return [sys.executable, "-c", code]


class ServerProcess:
    """A subprocess serving HTTP on loopback: mock-masivo by default, or any argv given with {port}."""

    def __init__(
        self,
        argv: Sequence[str] | None = None,
        *,
        data: Path | None = None,
        memory: bool = False,
        extra: Sequence[str] = (),
        wrap: Sequence[str] = (),
        health: str = "/_mock/health",
    ) -> None:
        self.port = free_port()
        if argv is None:
            store = ["--memory"] if memory else ["--data", str(data)]
            argv = [
                *server_command(),
                "serve",
                *store,
                "--port",
                "{port}",
                "--log-level",
                "warning",
                *extra,
                *shlex.split(os.environ.get(SERVER_ARGS_VARIABLE, "")),
            ]
        self.argv = [*wrap, *(part.replace("{port}", str(self.port)) for part in argv)]
        self.health = health
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in = 0.0

    def start(self) -> ServerProcess:
        began = time.perf_counter()
        # cwd is benchmarks/ so that `-m mock_masivo` imports what this process imports (PYTHONPATH or install).
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT / "benchmarks",
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.started_in = self._wait_healthy(began)
        return self

    def _wait_healthy(self, began: float) -> float:
        assert self.proc is not None
        with httpx.Client(timeout=2.0) as client:
            while time.perf_counter() - began < START_TIMEOUT:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.url + self.health).status_code == 200:
                        return time.perf_counter() - began
                time.sleep(0.005)
        raise RuntimeError(f"server did not answer {self.health} within {START_TIMEOUT} s")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_kib(self) -> int:
        return proc_status_kib(self.pid, "VmRSS")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def proc_status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads."""
    return sum(proc_cpu_split(pid))


def proc_cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process and all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


@contextlib.contextmanager
def temp_dir(keep: Path | None = None) -> Iterator[Path]:
    """A scratch directory, removed afterwards unless the caller named one to keep."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    path = Path(tempfile.mkdtemp(prefix="mock-masivo-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- load -------------------------------------------------------------------------------------------


@dataclass
class Load:
    """What a load run did: counts, wall time, per-request latencies and CPU used on both sides."""

    requests: int = 0
    events: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    client_cpu: float = 0.0
    server_cpu: float | None = None
    server_system_cpu: float | None = None

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            "requests_per_second": round(self.requests_per_second, 1),
            "latency_ms": latency_summary(self.latencies),
            "statuses": self.statuses,
            "client_cpu_cores": round(self.client_cpu / self.seconds, 2) if self.seconds else None,
            "server_cpu_cores": round(self.server_cpu / self.seconds, 2)
            if self.server_cpu is not None and self.seconds
            else None,
            "server_cpu_seconds": round(self.server_cpu, 3) if self.server_cpu is not None else None,
            "server_system_cpu_seconds": round(self.server_system_cpu, 3)
            if self.server_system_cpu is not None
            else None,
        }


def run_load(
    url: str,
    next_body: Callable[[], bytes],
    *,
    events_per_body: int,
    max_requests: int,
    max_seconds: float,
    concurrency: int = CONCURRENCY,
    path: str = MIGRATE,
    expect: int = 201,
    server: ServerProcess | None = None,
) -> Load:
    """POST bodies from `next_body` with `concurrency` clients until `max_requests` or `max_seconds`."""
    return _with_server_cpu(
        server, _load(url, next_body, events_per_body, max_requests, max_seconds, concurrency, path, expect)
    )


def _with_server_cpu(server: ServerProcess | None, load: Coroutine[Any, Any, Load]) -> Load:
    """Run a load and add the server's CPU seconds (user + system) spent while it ran."""
    cpu_before = proc_cpu_split(server.pid) if server is not None else None
    result = asyncio.run(load)
    if server is not None and cpu_before is not None:
        user, system = proc_cpu_split(server.pid)
        result.server_cpu = user + system - sum(cpu_before)
        result.server_system_cpu = system - cpu_before[1]
    return result


async def _load(
    url: str,
    next_body: Callable[[], bytes],
    events_per_body: int,
    max_requests: int,
    max_seconds: float,
    concurrency: int,
    path: str,
    expect: int,
) -> Load:
    result, issued = Load(), 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120.0, limits=limits) as client:
        began, cpu_began = time.perf_counter(), time.process_time()
        deadline = began + max_seconds

        async def worker() -> None:
            nonlocal issued
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                body = next_body()
                sent = time.perf_counter()
                response = await client.post(path, content=body, headers=HEADERS)
                result.latencies.append(time.perf_counter() - sent)
                result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
                if response.status_code != expect:
                    raise RuntimeError(f"expected {expect}, got {response.status_code}: {response.text[:300]}")
                result.requests += 1
                result.events += events_per_body

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - began
        result.client_cpu = time.process_time() - cpu_began
    return result


def run_raw_load(
    url: str,
    next_body: Callable[[], bytes],
    *,
    events_per_body: int,
    max_requests: int,
    max_seconds: float,
    concurrency: int = CONCURRENCY,
    path: str = MIGRATE,
    expect: int = 201,
    server: ServerProcess | None = None,
) -> Load:
    """Like run_load, with a minimal keep-alive HTTP/1.1 client on asyncio streams (a fraction of httpx's CPU)."""
    return _with_server_cpu(
        server, _raw_load(url, next_body, events_per_body, max_requests, max_seconds, concurrency, path, expect)
    )


async def _raw_load(
    url: str,
    next_body: Callable[[], bytes],
    events_per_body: int,
    max_requests: int,
    max_seconds: float,
    concurrency: int,
    path: str,
    expect: int,
) -> Load:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {HEADERS['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    ).encode()
    result, issued = Load(), 0
    began, cpu_began = time.perf_counter(), time.process_time()
    deadline = began + max_seconds

    async def worker() -> None:
        nonlocal issued
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                body = next_body()
                sent = time.perf_counter()
                writer.write(head % len(body) + body)
                status_line, _, headers = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in headers.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                result.latencies.append(time.perf_counter() - sent)
                status = int(status_line.split()[1])
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status != expect:
                    raise RuntimeError(f"expected {expect}, got {status}")
                result.requests += 1
                result.events += events_per_body
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - began
    result.client_cpu = time.process_time() - cpu_began
    return result


def sequential_latencies(
    url: str,
    bodies: Sequence[bytes],
    expect: int = 201,
    path: str = MIGRATE,
    check: Callable[[httpx.Response], None] | None = None,
) -> list[float]:
    """One request at a time (no queueing): the latency of each body's round trip, in seconds."""
    latencies = []
    with httpx.Client(base_url=url, timeout=120.0) as client:
        for body in bodies:
            sent = time.perf_counter()
            response = client.post(path, content=body, headers=HEADERS)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != expect:
                raise RuntimeError(f"expected {expect}, got {response.status_code}: {response.text[:300]}")
            if check is not None:
                check(response)
    return latencies


def get_latencies(url: str, paths: Sequence[str], check: Callable[[httpx.Response], None]) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, timeout=120.0) as client:
        for path in paths:
            sent = time.perf_counter()
            response = client.get(path)
            latencies.append(time.perf_counter() - sent)
            check(response)
    return latencies


def stored_events(url: str) -> int:
    count: int = httpx.get(url + "/_mock/health", timeout=60).json()["events"]
    return count


# -- py-spy ---------------------------------------------------------------------------------------


def py_spy() -> str | None:
    """The py-spy executable (PATH, or next to this Python), or None when it is not installed."""
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def stop_profiled(server: ServerProcess) -> None:
    """Stop a server started under `py-spy record -- ...`: interrupt the server itself, then let py-spy write."""
    assert server.proc is not None
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), signal.SIGINT)
    try:
        server.proc.wait(60)
    finally:
        server.stop()


def parse_raw_profile(path: Path) -> dict[tuple[str, ...], int]:
    """py-spy's raw (collapsed) output: stack (root first) -> samples."""
    stacks: dict[tuple[str, ...], int] = {}
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            key = tuple(frames.split(";"))
            stacks[key] = stacks.get(key, 0) + int(count)
    return stacks


def by_innermost(stacks: dict[tuple[str, ...], int], marker: str = "mock_masivo/") -> list[tuple[str, int]]:
    """Samples per innermost frame whose file contains `marker` (the rest under the leaf's module)."""
    found: dict[str, int] = {}
    for frames, count in stacks.items():
        own = next((f for f in reversed(frames) if marker in f), None)
        name = own.rsplit(":", 1)[0] + ")" if own else "(outside) " + frames[-1].split(" (")[-1].split(":")[0]
        found[name] = found.get(name, 0) + count
    return sorted(found.items(), key=lambda item: -item[1])


# -- statistics and reporting -----------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    if not seconds:
        return {}
    return {
        "n": len(seconds),
        "p50": round(percentile(seconds, 50) * 1000, 3),
        "p90": round(percentile(seconds, 90) * 1000, 3),
        "p99": round(percentile(seconds, 99) * 1000, 3),
        "max": round(max(seconds) * 1000, 3),
    }


def best_rate(work: Callable[[], int], repeats: int, min_seconds: float = 0.2) -> tuple[float, float]:
    """(units per CPU-second, CPU-seconds per unit) of the fastest of `repeats` rounds of `work` (returns units).

    Timed with this process's CPU clock, not the wall clock: single-threaded work is then measured
    the same whether or not other processes share the cores (it is descheduled, not slowed down).
    """
    best = float("inf")
    for _ in range(repeats):
        units, began = 0, time.process_time()
        while True:
            units += work()
            elapsed = time.process_time() - began
            if elapsed >= min_seconds:
                break
        best = min(best, elapsed / units)
    return 1 / best, best


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": os.getloadavg(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "code": code_under_test(),
        "server_prelude": os.environ.get(PRELUDE_VARIABLE),
        "server_args": os.environ.get(SERVER_ARGS_VARIABLE),
    }


def code_under_test() -> dict[str, Any]:
    """Which mock_masivo was measured: its directory, and the commit when it is this checkout's own code.

    For a snapshot imported through PYTHONPATH, set BENCH_CODE_LABEL (e.g. the commit it was taken from).
    """
    import mock_masivo

    where = Path(mock_masivo.__file__).resolve().parent
    info: dict[str, Any] = {
        "package": str(where),
        "version": mock_masivo.__version__,
        "label": os.environ.get("BENCH_CODE_LABEL"),
    }
    if where != ROOT / "mock_masivo":
        return info
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        git = ["git", "-C", str(ROOT)]
        info["commit"] = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain", "mock_masivo"], capture_output=True, text=True, check=True
        ).stdout
        info["local_edits"] = bool(status.strip())
    return info


def parser(description: str) -> argparse.ArgumentParser:
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--quick", action="store_true", help="smaller sizes: finishes in about two minutes")
    arguments.add_argument("--out", type=Path, help="where to write the JSON results (default benchmarks/results/)")
    return arguments


def table(title: str, rows: Sequence[Sequence[Any]], header: Sequence[str] = ("measure", "value")) -> str:
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        title,
        "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells[1:]]
    return "\n".join(lines)


def report(
    name: str,
    args: argparse.Namespace,
    results: dict[str, Any],
    rows: Sequence[Sequence[Any]],
    header: Sequence[str] = ("measure", "value"),
) -> Path:
    """Print the table (columns named by `header`) and write the JSON results; return the JSON's path."""
    info = machine()
    prelude = f", server prelude {info['server_prelude']!r}" if info["server_prelude"] else ""
    code = info["code"]["label"] or info["code"]["package"]
    print(
        table(
            f"{name} ({'quick' if args.quick else 'full'}; {info['nproc']} cores, Python {info['python']}, "
            f"load {info['loadavg'][0]:.2f}, code {code}{prelude})",
            rows,
            header,
        )
    )
    out = args.out or RESULTS / f"{name}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(
        orjson.dumps(
            {"benchmark": name, "quick": args.quick, "machine": info, "results": results},
            option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
        )
    )
    print(f"results: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return out


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"
