"""Kill loop: SIGKILL a real `mock-masivo serve` under concurrent writers, restart it, and check the journal.

Writers send batches of all three kinds (profiles, transactions, events). Invariant after every
restart: every batch answered 201 is stored whole (its X-Mock-Batch-Id lists exactly the records
sent), and every stored batch is whole, acknowledged or not (a batch can be durable before its 201
reaches the client).
"""

from __future__ import annotations

import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import JSON_AUTH, MIGRATE
from payloads import CUSTOMERS_PATH, TRANSACTIONS_PATH, event, profile, transaction
from processes import ServerProcess, fetch_all

# -- writers ----------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the writers sent (tag -> event count) and which batches were acknowledged (batch id -> tag)."""

    sent: dict[str, int] = field(default_factory=dict)
    acked: dict[str, str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def acks(self) -> int:
        with self.changed:
            return len(self.acked)


# Where each kind's stored records are listed.
LISTINGS = ("/_mock/events", "/_mock/profiles", "/_mock/transactions")


def tagged_batch(tag: str, rng: random.Random, max_customers: int) -> tuple[str, dict[str, Any], int]:
    """A valid batch of a random kind whose customer ids all start with `tag`: its path, body and record count."""
    ids = [f"{tag}-c{index}" for index in range(rng.randint(1, max_customers))]
    path = rng.choice((MIGRATE, CUSTOMERS_PATH, TRANSACTIONS_PATH))
    if path == CUSTOMERS_PATH:
        return path, {"customers": [profile(customer_id) for customer_id in ids]}, len(ids)
    items = "events" if path == MIGRATE else "transactions"
    make = event if path == MIGRATE else transaction
    customers = [{"id": customer_id, items: [make(n) for n in range(rng.randint(1, 3))]} for customer_id in ids]
    return path, {"customers": customers}, sum(len(customer[items]) for customer in customers)


def write_until_failure(url: str, name: str, ledger: Ledger, seed: int, max_customers: int) -> None:
    """Post tagged batches until the server goes away; record every 201."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=10) as client:
        for number in range(10_000):
            tag = f"{name}-n{number}"
            path, payload, records = tagged_batch(tag, rng, max_customers)
            with ledger.changed:
                ledger.sent[tag] = records
            try:
                response = client.post(path, json=payload, headers=JSON_AUTH)
            except httpx.TransportError:
                return  # the server was killed
            with ledger.changed:
                if response.status_code == 201:
                    ledger.acked[response.headers["X-Mock-Batch-Id"]] = tag
                else:
                    ledger.unexpected.append(f"{response.status_code} {response.text[:200]}")
                ledger.changed.notify_all()


def wait_for_acks(ledger: Ledger, count: int, timeout: float = 30.0) -> None:
    with ledger.changed:
        assert ledger.changed.wait_for(lambda: len(ledger.acked) >= count or bool(ledger.unexpected), timeout)


def tag_of(customer_id: str) -> str:
    return customer_id.rsplit("-c", 1)[0]


def check_store(url: str, ledger: Ledger) -> int:
    """Every acknowledged batch is present and whole; every stored batch is whole. Returns the batches stored."""
    with httpx.Client(base_url=url, timeout=30) as client:
        records = [stored for path in LISTINGS for stored in fetch_all(client, path)]
        batches = fetch_all(client, "/_mock/batches")
    counts = Counter(stored["batch_id"] for stored in records)
    tags: dict[str, set[str]] = defaultdict(set)
    for stored in records:
        tags[stored["batch_id"]].add(tag_of(stored["customer_id"]))
    assert {batch["id"]: batch["records"] for batch in batches} == dict(counts)
    for batch_id, count in counts.items():
        [tag] = tags[batch_id]  # one batch, one writer's request
        assert count == ledger.sent[tag], f"{batch_id} ({tag}) is partial: {count} of {ledger.sent[tag]} records"
    missing = {batch_id: tag for batch_id, tag in ledger.acked.items() if tags.get(batch_id) != {tag}}
    assert not missing, f"acknowledged batches lost after a crash: {missing}"
    stored_tags = [tag for batch_tags in tags.values() for tag in batch_tags]
    assert len(stored_tags) == len(set(stored_tags)), "a request was stored twice"
    return len(counts)


def run_kill_loop(tmp_path: Path, rounds: int, writers: int, max_customers: int, seed: int) -> None:
    data, rng, ledger = tmp_path / "data", random.Random(seed), Ledger()
    for round_number in range(rounds):
        with ServerProcess(data) as server:
            check_store(server.url, ledger)
            threads = [
                threading.Thread(
                    target=write_until_failure,
                    daemon=True,
                    args=(server.url, f"r{round_number}-w{w}", ledger, rng.random(), max_customers),
                )
                for w in range(writers)
            ]
            for thread in threads:
                thread.start()
            wait_for_acks(ledger, ledger.acks() + rng.randint(1, 12 * writers))
            server.kill()
            for thread in threads:
                thread.join(timeout=30)
            assert not any(thread.is_alive() for thread in threads)
            assert not ledger.unexpected, ledger.unexpected
    with ServerProcess(data) as server:
        stored = check_store(server.url, ledger)
    assert stored >= len(ledger.acked) > 0


def test_every_acknowledged_batch_survives_sigkill_whole(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    print(f"kill loop seed {seed}")
    run_kill_loop(tmp_path, rounds=8, writers=8, max_customers=6, seed=seed)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_acknowledged_batch_survives_many_sigkills_with_bigger_batches(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    print(f"kill loop seed {seed}")
    run_kill_loop(tmp_path, rounds=30, writers=16, max_customers=40, seed=seed)
