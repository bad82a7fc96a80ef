"""LateBodies: one sweep per event loop answers 408 to bodies that are late, and nothing else."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from mock_masivo.errors import PayloadTooLarge, RequestTimeout
from mock_masivo.web.body import LateBodies

TIMEOUT = 0.2
LIMIT = 1000


async def never() -> dict[str, Any]:
    await asyncio.Event().wait()  # a client that sent the headers and then nothing
    raise AssertionError("unreachable")


def chunks(*parts: bytes, delay: float = 0.0) -> Any:
    """A receive() that hands out `parts`, `delay` seconds apart."""
    pending = list(parts)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending)}

    return receive


def test_a_body_that_never_comes_is_408_soon_after_the_deadline() -> None:
    async def read_late() -> float:
        began = time.monotonic()
        with pytest.raises(RequestTimeout, match=r"within 0\.2 s"):
            await LateBodies().read(never, LIMIT, TIMEOUT)
        return time.monotonic() - began

    waited = asyncio.run(read_late())
    assert TIMEOUT <= waited < TIMEOUT + LateBodies.SWEEP_SECONDS + 0.5


def test_bodies_in_time_are_read_whole_and_in_order() -> None:
    late = LateBodies()

    async def read_many() -> list[bytes]:
        readers = [late.read(chunks(b"a%d" % number, b"b", delay=0.01), LIMIT, TIMEOUT) for number in range(20)]
        return list(await asyncio.gather(*readers))

    assert asyncio.run(read_many()) == [b"a%db" % number for number in range(20)]


def test_a_body_over_the_limit_is_413_as_soon_as_it_is_known() -> None:
    with pytest.raises(PayloadTooLarge):
        asyncio.run(LateBodies().read(chunks(b"x" * 600, b"x" * 600), LIMIT, TIMEOUT))


def test_a_request_cancelled_for_another_reason_stays_cancelled() -> None:
    """Only the sweep's own cancellation becomes a 408; a server shutting down still cancels."""

    async def cancel_from_outside() -> None:
        reading = asyncio.create_task(LateBodies().read(never, LIMIT, 60.0))
        await asyncio.sleep(0.05)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading

    asyncio.run(cancel_from_outside())


def test_each_event_loop_is_swept_and_the_sweep_stops_when_nobody_waits() -> None:
    """One LateBodies serves one app, whose loops may come and go (an in-process client per test)."""
    late = LateBodies()

    async def one_late_one_on_time() -> bool:
        on_time = await late.read(chunks(b"{}"), LIMIT, TIMEOUT)
        with pytest.raises(RequestTimeout):
            await late.read(never, LIMIT, TIMEOUT)
        await asyncio.sleep(3 * LateBodies.SWEEP_SECONDS)
        return on_time == b"{}" and not late.sweeping(asyncio.get_running_loop())

    assert asyncio.run(one_late_one_on_time())
    assert asyncio.run(one_late_one_on_time())  # a second loop: swept too
