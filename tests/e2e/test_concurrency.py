"""Concurrent writers, readers and a reset against a real server (memory and data dir), and the store's own threads.

Every batch's customer ids carry its event count (`...-e5-c0`), so a reader can tell from one
listing whether a batch it sees is whole.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import JSON_AUTH, MIGRATE
from payloads import event
from processes import fetch_all

from mock_masivo import MockMasivoServer
from mock_masivo.storage.rows import EventFilter
from mock_masivo.storage.store import EventStore

WRITERS = 16
BATCHES_EACH = 8
READERS = 3
EVENT_COUNT = re.compile(r"-e(\d+)-c\d+$")

StartServer = Callable[..., MockMasivoServer]


def counted_batch(tag: str, rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    """Customers of a valid batch whose ids all hold `tag` and the batch's event count."""
    sizes = [rng.randint(1, 3) for _ in range(rng.randint(1, 4))]
    total = sum(sizes)
    customers = [
        {"id": f"{tag}-e{total}-c{index}", "events": [event(n) for n in range(size)]}
        for index, size in enumerate(sizes)
    ]
    return customers, total


def declared_events(customer_id: str) -> int:
    found = EVENT_COUNT.search(customer_id)
    assert found, customer_id
    return int(found.group(1))


def seq(batch_id: str) -> int:
    return int(batch_id.removeprefix("bat_"))


@dataclass
class Run:
    """Shared by the threads of one run: acknowledged batches, failures, and the reset's time window."""

    acked: dict[str, tuple[int, float, float]] = field(default_factory=dict)  # id -> (events, sent, answered)
    failures: list[str] = field(default_factory=list)
    reads: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)
    writers_done: threading.Event = field(default_factory=threading.Event)
    reset_done: threading.Event = field(default_factory=threading.Event)

    def fail(self, message: str) -> None:
        with self.changed:
            self.failures.append(message)
            self.changed.notify_all()


def write(url: str, number: int, run: Run, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as client:
        for index in range(BATCHES_EACH):
            if index == BATCHES_EACH - 1:  # every writer's last batch comes after the reset, so some are kept
                run.reset_done.wait(timeout=60)
            customers, events = counted_batch(f"w{number}-n{index}", rng)
            sent = time.monotonic()
            response = client.post(MIGRATE, json={"customers": customers}, headers=JSON_AUTH)
            answered = time.monotonic()
            if response.status_code != 201:
                run.fail(f"POST answered {response.status_code}: {response.text[:200]}")
                continue
            with run.changed:
                run.acked[response.headers["X-Mock-Batch-Id"]] = (events, sent, answered)
                run.changed.notify_all()


def check_listing(page: dict[str, Any]) -> str | None:
    """Each batch in one /_mock/events answer is listed in one run with all its events (bar one cut by limit)."""
    runs = [(batch_id, list(events)) for batch_id, events in groupby(page["data"], key=lambda e: e["batch_id"])]
    if len({batch_id for batch_id, _ in runs}) != len(runs):
        return f"a batch's events are not listed together: {[batch_id for batch_id, _ in runs]}"
    if page["total"] > len(page["data"]):
        runs = runs[:-1]  # the page limit may cut the last batch
    for batch_id, events in runs:
        if len(events) != declared_events(events[0]["customer_id"]):
            return f"{batch_id} listed with {len(events)} of {declared_events(events[0]['customer_id'])} events"
    return None


def read(url: str, run: Run, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=60) as client:
        while not run.writers_done.is_set():
            listing = client.get("/_mock/events", params={"limit": 1000})
            batches = client.get("/_mock/batches", params={"limit": 1000})
            if listing.status_code != 200 or batches.status_code != 200:
                run.fail(f"GET answered {listing.status_code} / {batches.status_code}")
                return
            problem = check_listing(listing.json())
            if not problem and batches.json()["data"]:
                problem = check_one_batch(client, rng.choice(batches.json()["data"]))
            if problem:
                run.fail(problem)
                return
            with run.changed:
                run.reads += 1


def check_one_batch(client: httpx.Client, batch: dict[str, Any]) -> str | None:
    """The batch's own listing holds all its events, or none once a reset removed it."""
    response = client.get("/_mock/events", params={"batch_id": batch["id"], "limit": 1000})
    if response.status_code != 200:
        return f"GET events of {batch['id']} answered {response.status_code}"
    total = response.json()["total"]
    return None if total in (0, batch["events"]) else f"{batch['id']} has {total} of {batch['events']} events"


def run_threads(url: str, run: Run, rng: random.Random) -> tuple[dict[str, int], float, float]:
    """Writers and readers, and one reset once half the batches are acknowledged; returns the reset's answer."""
    writers = [threading.Thread(target=write, args=(url, n, run, rng.random())) for n in range(WRITERS)]
    readers = [threading.Thread(target=read, args=(url, run, rng.random())) for _ in range(READERS)]
    for thread in writers + readers:
        thread.start()
    try:
        with run.changed:
            assert run.changed.wait_for(lambda: len(run.acked) >= WRITERS * BATCHES_EACH // 2 or run.failures, 60)
        with httpx.Client(base_url=url, timeout=60) as client:
            sent = time.monotonic()
            response = client.post("/_mock/reset")
            answered = time.monotonic()
        assert response.status_code == 200, response.text
        return response.json(), sent, answered
    finally:
        run.reset_done.set()
        for thread in writers:
            thread.join(timeout=120)
        run.writers_done.set()
        for thread in readers:
            thread.join(timeout=120)


def check_reset_split(run: Run, stored: set[str], reset: dict[str, int], sent: float, answered: float) -> None:
    """Every acknowledged batch landed wholly before the reset (removed) or wholly after it (kept), in id order."""
    assert stored <= set(run.acked), "a batch is stored that was never acknowledged"
    removed = set(run.acked) - stored
    assert removed and stored, "the reset should split the run"
    assert max(map(seq, removed)) < min(map(seq, stored))
    assert (reset["batches"], reset["events"]) == (len(removed), sum(run.acked[b][0] for b in removed))
    assert not {b for b, (_, _, done) in run.acked.items() if done < sent} - removed, "acked before the reset, kept"
    assert not {b for b, (_, start, _) in run.acked.items() if start > answered} - stored, "sent after, removed"


@pytest.mark.parametrize("storage", ["memory", "data dir"])
def test_writers_readers_and_a_reset_never_see_or_leave_a_partial_batch(make_server: StartServer, storage: str) -> None:
    server = make_server(memory=True) if storage == "memory" else make_server()
    run, rng = Run(), random.Random()
    reset, sent, answered = run_threads(server.url, run, rng)
    assert not run.failures, run.failures[:5]
    assert len(run.acked) == WRITERS * BATCHES_EACH
    assert run.reads > 0
    with httpx.Client(base_url=server.url, timeout=60) as client:
        events = fetch_all(client, "/_mock/events")
        batches = {batch["id"]: batch["events"] for batch in fetch_all(client, "/_mock/batches")}
    check_reset_split(run, set(batches), reset, sent, answered)
    assert dict(Counter(stored["batch_id"] for stored in events)) == {b: run.acked[b][0] for b in batches}
    assert batches == {b: run.acked[b][0] for b in batches}
    assert len({stored["id"] for stored in events}) == len(events)
    if storage == "data dir":
        server.stop()
        with httpx.Client(base_url=make_server().url, timeout=60) as client:
            assert fetch_all(client, "/_mock/events") == events


# -- the store's own threads, without HTTP ------------------------------------------------------------


def processed(_account: str, _at: float) -> bool:
    return True


def submit_many(store: EventStore, number: int, count: int, acked: dict[str, str], lock: threading.Lock) -> None:
    rng = random.Random(number)
    for index in range(count):
        tag = f"t{number}-n{index}"
        customers, _ = counted_batch(tag, rng)
        pending = store.submit_batch("default", customers, 1.0e9)
        pending.durable.result(timeout=60)
        with lock:
            acked[pending.id] = tag


def test_eight_threads_submitting_to_a_data_dir_store_all_land_once_and_survive_reopen(tmp_path: Path) -> None:
    acked: dict[str, str] = {}
    lock = threading.Lock()
    store = EventStore(tmp_path / "data")
    try:
        threads = [threading.Thread(target=submit_many, args=(store, n, 25, acked, lock)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        listed = store.events(EventFilter(), 100_000, 0, processed)[0]
    finally:
        store.close()
    assert len(acked) == 200
    ids = [int(stored["id"].removeprefix("evt_")) for stored in listed]
    assert ids == list(range(1, len(listed) + 1))  # unique, gap-free, in receipt order
    for batch_id, events in groupby(listed, key=lambda stored: stored["batch_id"]):
        whole = list(events)
        assert whole[0]["customer_id"].startswith(acked[batch_id] + "-")
        assert len(whole) == declared_events(whole[0]["customer_id"])
    assert {stored["batch_id"] for stored in listed} == set(acked)
    reopened = EventStore(tmp_path / "data")
    try:
        # events are orjson.Fragments of the stored bytes: compare them as rendered
        assert orjson.dumps(reopened.events(EventFilter(), 100_000, 0, processed)[0]) == orjson.dumps(listed)
    finally:
        reopened.close()
