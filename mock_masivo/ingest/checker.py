"""Parse and validate migration bodies of every kind, in this process or in worker processes.

Parsing and validating is most of the CPU an accepted event costs (benchmarks/README.md), and in
one process it is bound to one core. With `--parse-workers N`, N worker processes do it and hand
back only what the store keeps: each event's bytes and indexed attributes. The server's own
process then only reads requests, indexes and journals. Workers are started with `spawn`, so they
share no locks or threads with the server.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..domain.kinds import EVENT, KINDS, Kind, batch_attributes
from ..errors import BadRequest, StorageUnavailable, ValidationFailed, Violation
from .parsing import parse_batch
from .validation import PayloadValidator

# Below this, handing a body to a worker and back costs more than parsing it here (measured with
# 1-event requests: 0.37 of a bare endpoint's rate in-process, 0.15 through a worker).
WORKER_MIN_BYTES = 64 * 1024


@dataclass
class CheckedBatch:
    """A valid body, reduced to what the store keeps, plus the warnings to log with the request."""

    encoded: list[tuple[str, list[bytes]]]
    attributes: list[list[Any]]  # per customer: for events, kinds.Attributes; for other kinds, the records
    warnings: list[Violation] = field(default_factory=list)


@dataclass
class Rejection:
    """Why a body was refused, in a form that crosses a process boundary (exceptions with custom
    constructors do not unpickle)."""

    details: str = ""
    violations: list[Violation] = field(default_factory=list)
    truncated: bool = False

    def error(self) -> BadRequest | ValidationFailed:
        return ValidationFailed(self.violations, self.truncated) if self.violations else BadRequest(self.details)


def check_batch(validator: PayloadValidator, raw: bytes) -> CheckedBatch | Rejection:
    kind = validator.kind
    try:
        body, records = parse_batch(raw, kind.items)
    except BadRequest as exc:
        return Rejection(details=exc.details)
    report = validator.check(body)
    if not report.ok:
        return Rejection(violations=report.violations, truncated=report.truncated)
    customers = body["customers"]
    if not records:
        records = [[orjson.dumps(record) for record in kind.records(customer)] for customer in customers]
    encoded = [(customer["id"], mine) for customer, mine in zip(customers, records, strict=True)]
    return CheckedBatch(encoded, _attributes(kind, customers), report.warnings)


def _attributes(kind: Kind, customers: list[dict[str, Any]]) -> list[list[Any]]:
    """What the store indexes or processes: an event's attributes; another kind's whole record."""
    return batch_attributes(customers) if kind is EVENT else [kind.records(customer) for customer in customers]


def validators(strict: bool) -> dict[str, PayloadValidator]:
    """One compiled validator per kind."""
    return {name: PayloadValidator(strict=strict, kind=kind) for name, kind in KINDS.items()}


_worker_validators: dict[str, PayloadValidator] = {}


def _start_worker(strict: bool) -> None:
    _worker_validators.update(validators(strict))


def _check_in_worker(kind: str, raw: bytes) -> CheckedBatch | Rejection:
    return check_batch(_worker_validators[kind], raw)


class BatchChecker:
    """check(raw, kind) -> CheckedBatch, raising BadRequest or ValidationFailed; in `workers` processes if > 0."""

    def __init__(self, strict: bool, workers: int = 0) -> None:
        self._strict = strict
        self._workers = workers
        self._validators = validators(strict)
        self._pool = self._new_pool() if workers else None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._strict,),
        )

    async def check(self, raw: bytes, kind: Kind = EVENT) -> CheckedBatch:
        if self._pool is None or len(raw) < WORKER_MIN_BYTES:
            outcome = check_batch(self._validators[kind.name], raw)
        else:
            outcome = await self._check_elsewhere(raw, kind)
        if isinstance(outcome, Rejection):
            raise outcome.error()
        return outcome

    async def _check_elsewhere(self, raw: bytes, kind: Kind) -> CheckedBatch | Rejection:
        pool = self._pool
        assert pool is not None
        try:
            return await asyncio.wrap_future(pool.submit(_check_in_worker, kind.name, raw))
        except BrokenProcessPool:
            if self._pool is pool:  # the first request to notice replaces it; the others only fail
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            raise StorageUnavailable(
                "a parse worker process died (out of memory?); nothing was stored, retry the request"
            ) from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
