"""iso_time takes a shortcut (a cached whole second plus milliseconds); it must say exactly what datetime says."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import example, given
from hypothesis import strategies as st

from mock_masivo.domain.clock import iso_time

YEAR_2 = -62_104_060_800.0  # 0002-01-01: datetime starts at year 1; a rounded-up stamp must stay inside it
YEAR_9999_END = 253_402_300_798.0


def reference(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@given(st.floats(min_value=YEAR_2, max_value=YEAR_9999_END, allow_nan=False))
@example(0.0)
@example(-0.0005)
@example(-1e-7)  # rounds to -0 microseconds: still this second
@example(-0.000001)  # one microsecond before the epoch: the previous second, 999 ms
@example(-1.0000004)
@example(1_700_000_000.9999995)  # half a microsecond short of the next second
@example(1_700_000_000.0009995)
@example(253_402_300_798.9999)
def test_iso_time_is_what_datetime_says(timestamp: float) -> None:
    assert iso_time(timestamp) == reference(timestamp)


@given(st.integers(min_value=0, max_value=10**12))
def test_iso_time_of_whole_milliseconds(millis: int) -> None:
    timestamp = millis / 1000
    if timestamp <= YEAR_9999_END:
        assert iso_time(timestamp) == reference(timestamp)
