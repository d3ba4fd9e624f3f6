"""Times as Aloft writes them: timestamps in UTC with milliseconds, durations people read."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from aloft.times import human_duration, isoformat_z


def test_timestamps_are_utc_with_milliseconds_and_z():
    local = datetime(2026, 6, 2, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert isoformat_z(local) == "2026-06-02T10:00:00.123Z"
    assert isoformat_z(None) is None
    assert isoformat_z(datetime(2026, 6, 2, tzinfo=UTC)) == "2026-06-02T00:00:00.000Z"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (370, "6m 10s"), (7200, "2h 0m"), (7265, "2h 1m"), (3 * 86400 + 4 * 3600, "3d 4h")],
)
def test_durations_read_as_their_two_largest_units(seconds, text):
    assert human_duration(timedelta(seconds=seconds, milliseconds=400)) == text
