"""Issue 4's property: for any sequence of posts and clock advances, `--rate-limit dev` never lets
more through than Masivo's limits allow (5 s apart, 250 per rolling hour), never refuses what they
allow, and every 201 is stored exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import client_for
from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st
from payloads import body

from mock_masivo import MockMasivoServer, Settings
from mock_masivo.domain.ratelimit import HOURLY_LIMITS, MIN_INTERVAL_SECONDS, WINDOW_SECONDS

HOURLY = HOURLY_LIMITS["dev"]

# An operation is a post (None) or a clock advance (seconds). Bursts of posts 5 to 15 s apart reach
# the hourly limit within the hour; an advance of 3600 s opens the window again.
single = st.one_of(st.none(), st.floats(0, 20), st.sampled_from([0.0, 4.9, 5.0, 3600.0]))
burst = st.builds(lambda count, gap: [None, gap] * count, st.integers(1, 140), st.floats(5, 15))
# A full hour: 250 posts, then one more some time later, refused exactly while the first is < 3600 s old.
full_hour = st.builds(lambda gap, wait: [None, gap] * 250 + [wait, None], st.floats(5, 14), st.floats(0, 3600))
operations = st.lists(st.one_of(single.map(lambda step: [step]), burst, full_hour), max_size=6).map(
    lambda chunks: [step for chunk in chunks for step in chunk]
)


@pytest.fixture(scope="module")
def limited() -> Iterator[httpx.Client]:
    with (
        MockMasivoServer(Settings(memory=True, port=0, log_level="warning", rate_limit="dev")) as server,
        client_for(server.url) as client,
    ):
        yield client


class Model:
    """What the limits allow. A request's server time is only known to lie in [before, after]
    (clock offset plus real time read around it), so the model judges only the sure cases."""

    def __init__(self) -> None:
        self.accepted: list[tuple[float, float]] = []  # (before, after) of each 201

    def must_refuse(self, before: float, after: float) -> bool:
        too_soon = bool(self.accepted) and after - self.accepted[-1][0] < MIN_INTERVAL_SECONDS
        surely_in_window = [at for at in self.accepted if at[0] > after - WINDOW_SECONDS]
        return too_soon or len(surely_in_window) >= HOURLY

    def must_accept(self, before: float, after: float) -> bool:
        far_enough = not self.accepted or before - self.accepted[-1][1] >= MIN_INTERVAL_SECONDS
        maybe_in_window = [at for at in self.accepted if at[1] > before - WINDOW_SECONDS]
        return far_enough and len(maybe_in_window) < HOURLY


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_rate_limits_hold_for_any_sequence_of_posts_and_clock_moves(
    limited: httpx.Client, steps: list[float | None]
) -> None:
    account = limited.post("/_mock/accounts").json()["data"]
    auth = {"Authorization": f"Bearer {account['token']}"}
    offset = limited.get("/_mock/clock").json()["offset"]
    model, created = Model(), 0
    for number, step in enumerate(steps):
        if step is not None:
            offset = limited.post("/_mock/clock", json={"advance": step}).json()["offset"]
            continue
        before = time.time() + offset
        status = limited.post("/customers/migrate/events", json=body(prefix=f"s{number}-"), headers=auth).status_code
        after = time.time() + offset
        assert status in (201, 429)
        if model.must_refuse(before, after):
            assert status == 429, f"step {number}: over the limits, yet accepted"
        if model.must_accept(before, after):
            assert status == 201, f"step {number}: within the limits, yet refused"
        if status == 201:
            model.accepted.append((before, after))
            created += 1
    target(float(created))  # steer examples toward long runs that reach the hourly limit
    stored = limited.get("/_mock/events", params={"account": account["id"], "limit": 1}).json()["total"]
    assert stored == created  # one event per accepted batch, each stored exactly once
