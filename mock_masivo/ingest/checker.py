"""Check migration bodies of every kind, in this process or in worker processes: the fast path
(fastpath.py) when it can prove a body valid, else the full parser and validator, which explain.

Parsing and validating is most of the CPU an accepted event costs (benchmarks/README.md), and in
one process it is bound to one core. With `--parse-workers N`, N worker processes do it and hand
back only what the store keeps: each event's bytes and indexed attributes. The server's own
process then only reads requests, indexes and journals. Workers are started with `spawn`, so they
share no locks or threads with the server.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ..domain.kinds import EVENT, KINDS, Kind, stored_attributes
from ..domain.layout import compact, split_records
from ..errors import BadRequest, StorageUnavailable, ValidationFailed, Violation
from .fastpath import FastPath, UnsupportedSchema
from .parsing import parse_object
from .validation import PayloadValidator

log = logging.getLogger("mock_masivo")

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


def check_batch(validator: PayloadValidator, raw: bytes, fast: FastPath | None = None) -> CheckedBatch | Rejection:
    """The fast path's verdict when it can give one (fastpath.py); the full parser and validator's otherwise.

    Either way the store gets each record as the client spelled it, whitespace between tokens removed."""
    compacted = _compacted(raw)
    if fast is not None and compacted is not None:
        accepted = fast.accept(compacted)
        if accepted is not None:
            return CheckedBatch(*accepted)
    kind = validator.kind
    try:
        body = parse_object(raw)
    except BadRequest as exc:
        return Rejection(details=exc.details)
    report = validator.check(body)
    if not report.ok:
        return Rejection(violations=report.violations, truncated=report.truncated)
    customers = body["customers"]
    # compact() raises rather than let a record with a line break reach the journal.
    records = split_records(kind, compacted if compacted is not None else compact(raw))
    encoded = [(customer["id"], mine) for customer, mine in zip(customers, records, strict=True)]
    return CheckedBatch(encoded, stored_attributes(kind, customers), report.warnings)


def _compacted(raw: bytes) -> bytes | None:
    """`raw` compacted (layout.compact), or None when it is not even JSON: the full parser then says
    what is wrong, with offsets into what was sent."""
    try:
        return compact(raw)
    except msgspec.DecodeError:
        return None


def validators(strict: bool) -> dict[str, PayloadValidator]:
    """One compiled validator per kind."""
    return {name: PayloadValidator(strict=strict, kind=kind) for name, kind in KINDS.items()}


def fast_paths() -> dict[str, FastPath | None]:
    """One compiled fast path per kind; None for a kind whose schema it cannot compile (logged)."""
    paths: dict[str, FastPath | None] = {}
    for name, kind in KINDS.items():
        try:
            paths[name] = FastPath(kind)
        except UnsupportedSchema as exc:
            log.warning("%s bodies take the full validator only: their schema has %s", kind.plural, exc)
            paths[name] = None
    return paths


_worker_validators: dict[str, PayloadValidator] = {}
_worker_fast_paths: dict[str, FastPath | None] = {}


def _start_worker(strict: bool) -> None:
    _worker_validators.update(validators(strict))
    _worker_fast_paths.update(fast_paths())


def _check_in_worker(kind: str, raw: bytes) -> CheckedBatch | Rejection:
    return check_batch(_worker_validators[kind], raw, _worker_fast_paths[kind])


class BatchChecker:
    """check(raw, kind) -> CheckedBatch, raising BadRequest or ValidationFailed; in `workers` processes if > 0."""

    def __init__(self, strict: bool, workers: int = 0) -> None:
        self._strict = strict
        self._workers = workers
        self._validators = validators(strict)
        self._fast_paths = fast_paths()
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
            outcome = check_batch(self._validators[kind.name], raw, self._fast_paths[kind.name])
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
