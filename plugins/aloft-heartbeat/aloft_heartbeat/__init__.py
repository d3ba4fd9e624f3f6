"""The ``heartbeat`` check type: a job pings Aloft, and the monitor is down when the pings stop.

The check is passive: it reaches out to nothing and decides from the newest ping the monitor
received. The ingest endpoint the job pings is in :mod:`aloft_heartbeat.ingest`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from marshmallow import RAISE, Schema, fields, validate

import aloft
from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.times import human_duration, isoformat_z
from aloft_heartbeat import ingest

__version__ = "0.1.0"

GRACE_RANGE = (0, 86400)
FAILURE_REPORTED = "Job reported failure"


class HeartbeatSettings(Schema):
    """Settings of a ``heartbeat`` monitor."""

    class Meta:
        unknown = RAISE

    grace_seconds = fields.Integer(
        strict=True,
        data_key="graceSeconds",
        load_default=60,
        validate=validate.Range(*GRACE_RANGE),
        metadata={"description": "Seconds a ping may be late beyond intervalSeconds, 0-86400."},
    )


class HeartbeatCheck(CheckType):
    """Up while pings arrive at least every ``intervalSeconds + graceSeconds`` and the last run succeeded."""

    name = "heartbeat"
    description = "A job pings its secret URL; down when no ping arrives in time or the job reports failure."
    settings_schema = HeartbeatSettings
    requires_url = False
    passive = True

    def run(self, monitor: CheckTarget) -> CheckResult:
        grace_seconds = self.load_settings(monitor.settings)["grace_seconds"]
        now = datetime.now(UTC)
        details = {"lastPingAt": isoformat_z(monitor.last_ping_at)}
        if monitor.last_ping_kind == "fail":
            return CheckResult(False, cause=FAILURE_REPORTED, details=details)
        # A monitor never pinged gets one interval and its grace from when it began listening.
        silent_since = monitor.last_ping_at or monitor.pings_expected_since or now
        silence = now - silent_since
        if silence > timedelta(seconds=monitor.interval_seconds + grace_seconds):
            return CheckResult(False, cause=f"No ping for {human_duration(silence)}", details=details)
        return CheckResult(True, details=details)


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [HeartbeatCheck]


@aloft.hookimpl
def register_blueprints(app: Flask) -> None:
    ingest.register(app)
