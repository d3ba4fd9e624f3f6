"""How Aloft writes timestamps: ISO 8601, UTC, milliseconds, ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def isoformat_z(value: datetime | None) -> str | None:
    """``2026-06-02T10:00:00.000Z`` for an aware datetime; None stays None."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
