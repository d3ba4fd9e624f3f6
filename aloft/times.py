"""How Aloft writes times: ISO 8601 timestamps in UTC with milliseconds and ``Z``; durations people read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def isoformat_z(value: datetime | None) -> str | None:
    """``2026-06-02T10:00:00.000Z`` for an aware datetime; None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def human_duration(delta: timedelta) -> str:
    """``45s``, ``6m 10s``, ``2h 0m``, ``3d 4h``: the largest unit and the next, whole units only."""
    remaining = max(int(delta.total_seconds()), 0)
    parts = []
    for unit, seconds in UNITS:
        if parts or remaining >= seconds or unit == "s":
            parts.append(f"{remaining // seconds}{unit}")
            remaining %= seconds
        if len(parts) == 2:
            break
    return " ".join(parts)
