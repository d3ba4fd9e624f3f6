"""The ``heartbeat`` check type: a job pings Aloft, and the monitor is down when the pings stop.

The check is passive: it reaches out to nothing. Aloft's engine judges it at deadlines
(:mod:`aloft.engine.heartbeats`); this type says when runs are expected (every
``intervalSeconds``, or on a cron ``schedule`` in a ``timezone``, see
:mod:`aloft_heartbeat.schedules`) and how late they may be (``graceSeconds``). The ingest
endpoint the job pings is in :mod:`aloft_heartbeat.ingest`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

import aloft
from aloft.checks import CheckResult, CheckTarget, CheckType
from aloft.pings import FAILURE_REPORTED
from aloft.times import human_duration, isoformat_z
from aloft_heartbeat import ingest
from aloft_heartbeat.schedules import EARLY, next_run, schedule_problem, zone_problem

__version__ = "0.1.0"

GRACE_RANGE = (0, 86400)


class HeartbeatSettings(Schema):
    """Settings of a ``heartbeat`` monitor."""

    class Meta:
        unknown = RAISE

    grace_seconds = fields.Integer(
        strict=True,
        data_key="graceSeconds",
        load_default=60,
        validate=validate.Range(*GRACE_RANGE),
        metadata={
            "description": "Seconds a run may be late beyond its expected time, and a started run may take, 0-86400."
        },
    )
    schedule = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={
            "description": "A cron expression (five fields, as croniter reads them, e.g. `30 2 * * *`); when set, "
            "runs are expected on it instead of every intervalSeconds."
        },
    )
    timezone = fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "The IANA time zone of schedule (e.g. `Europe/Berlin`); default UTC."},
    )

    @validates_schema
    def validate_schedule(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors = {}
        if data.get("schedule") is not None and (problem := schedule_problem(data["schedule"])) is not None:
            errors["schedule"] = [problem]
        if "timezone" in data and (problem := zone_problem(data["timezone"])) is not None:
            errors["timezone"] = [problem]
        if errors:
            raise ValidationError(errors)


class HeartbeatCheck(CheckType):
    """Up while runs end in success by their expected time plus ``graceSeconds``."""

    name = "heartbeat"
    description = "A job pings its secret URL; down when no ping arrives in time or the job reports failure."
    settings_schema = HeartbeatSettings
    requires_url = False
    passive = True

    @classmethod
    def expected_after(cls, settings: dict[str, Any], interval_seconds: int, moment: datetime) -> datetime:
        if settings.get("schedule"):
            # A ping a moment early (a fast clock) is the run it precedes, within the grace and a minute.
            early = min(cls.grace(settings), EARLY)
            return next_run(settings["schedule"], settings.get("timezone") or "UTC", moment, early)
        return moment + timedelta(seconds=interval_seconds)

    @classmethod
    def grace(cls, settings: dict[str, Any]) -> timedelta:
        return timedelta(seconds=settings["grace_seconds"])

    def run(self, monitor: CheckTarget) -> CheckResult:
        """The verdict the engine reaches at deadlines, for whoever asks now (a one-off check, a test)."""
        settings = self.load_settings(monitor.settings)
        now = datetime.now(UTC)
        details = {"lastPingAt": isoformat_z(monitor.last_ping_at)}
        if monitor.last_ping_kind == "fail":
            return CheckResult(False, cause=FAILURE_REPORTED, details=details)
        # A monitor never pinged gets one run and its grace from when it began listening.
        silent_since = monitor.last_ping_at or monitor.pings_expected_since or now
        if now > self.expected_after(settings, monitor.interval_seconds, silent_since) + self.grace(settings):
            return CheckResult(False, cause=f"No ping for {human_duration(now - silent_since)}", details=details)
        return CheckResult(True, details=details)


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [HeartbeatCheck]


@aloft.hookimpl
def register_blueprints(app: Flask) -> None:
    ingest.register(app)
