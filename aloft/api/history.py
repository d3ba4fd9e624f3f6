"""A monitor's history: its raw check results, page by page, and its uptime day by day."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from aloft.api.blueprint import Blueprint
from aloft.api.fields import Timestamp
from aloft.api.monitors import find_monitor
from aloft.api.paging import MAX_PAGE, Cursor, encode_cursor
from aloft.extensions import db
from aloft.models import CheckResult, utcnow
from aloft.stats.outages import monitor_daily

blp = Blueprint(
    "history",
    __name__,
    url_prefix="/api/v1/monitors",
    scope_family="monitors",
    description="A monitor's check results and daily uptime. Needs `monitors:read`.",
)

DEFAULT_PAGE = 100
DAYS_RANGE = (1, 730)


class ResultsArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    since = Timestamp(metadata={"description": "Only results checked at or after this time."})
    until = Timestamp(metadata={"description": "Only results checked before this time."})
    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE,
        validate=ma.validate.Range(1, MAX_PAGE),
        metadata={"description": f"Page size (default {DEFAULT_PAGE})."},
    )
    cursor = Cursor()

    @ma.validates_schema(skip_on_field_errors=True)
    def since_before_until(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "since" in data and "until" in data and data["since"] > data["until"]:
            raise ma.ValidationError("Must not be after until.", "since")


class ResultSchema(ma.Schema):
    checked_at = Timestamp(
        data_key="checkedAt", required=True, metadata={"description": "The check's slot: when it was due."}
    )
    ok = ma.fields.Boolean(required=True)
    latency_ms = ma.fields.Float(data_key="latencyMs", allow_none=True, required=True)
    cause = ma.fields.String(allow_none=True, required=True)
    details = ma.fields.Dict(allow_none=True, required=True)


class ResultListSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(ResultSchema), required=True)
    next_cursor = ma.fields.String(data_key="nextCursor", allow_none=True, required=True)


class UptimeArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    days = ma.fields.Integer(
        load_default=90, validate=ma.validate.Range(*DAYS_RANGE), metadata={"description": "1-730 (default 90)."}
    )


class DaySchema(ma.Schema):
    date = ma.fields.String(required=True, metadata={"description": "The UTC day, YYYY-MM-DD."})
    uptime = ma.fields.Float(
        allow_none=True,
        required=True,
        metadata={
            "description": "Percent; null: no checks (a heartbeat: percent of the day not down; null: not judged)."
        },
    )
    checks = ma.fields.Integer(required=True)
    downtime_seconds = ma.fields.Integer(
        data_key="downtimeSeconds",
        required=True,
        metadata={"description": "Each failed check counts its interval (a heartbeat: its incidents' time)."},
    )
    response_time_p95_ms = ma.fields.Float(data_key="responseTimeP95Ms", allow_none=True, required=True)


class UptimeSchema(ma.Schema):
    days = ma.fields.List(ma.fields.Nested(DaySchema), required=True, metadata={"description": "Oldest first."})


@blp.route("/<id:monitor_id>/results")
class MonitorResults(MethodView):
    @blp.arguments(ResultsArgs, location="query")
    @blp.response(200, ResultListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any], monitor_id: str) -> dict[str, Any]:
        """The monitor's raw check results, newest first, a page at a time.

        Raw results are kept `ALOFT_KEEP_RESULTS_DAYS` (7) days; older history is in the rollups
        behind `stats` and `/uptime`.
        """
        monitor = find_monitor(monitor_id)
        query = select(CheckResult).where(CheckResult.monitor_id == monitor.id)
        if "since" in args:
            query = query.where(CheckResult.checked_at >= args["since"])
        if "until" in args:
            query = query.where(CheckResult.checked_at < args["until"])
        if "cursor" in args:
            # A monitor has one result per slot, so the time alone says where a page ended.
            query = query.where(CheckResult.checked_at < args["cursor"].when)
        rows = db.session.scalars(query.order_by(CheckResult.checked_at.desc()).limit(args["limit"] + 1)).all()
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {"results": rows, "next_cursor": encode_cursor(rows[-1].checked_at) if more else None}


@blp.route("/<id:monitor_id>/uptime")
class MonitorUptime(MethodView):
    @blp.arguments(UptimeArgs, location="query")
    @blp.response(200, UptimeSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any], monitor_id: str) -> dict[str, Any]:
        """One row per UTC day, oldest first, ending today: uptime, checks, downtime and p95 response time.

        The series a status bar is drawn from. Days without checks (or older than
        `ALOFT_KEEP_DAILY_ROLLUPS_DAYS`) have `uptime` null. A heartbeat's days are weighed by
        time: `uptime` is the share of the day it was not down (its incidents), counted from its
        first result (null before it), and `downtimeSeconds` the day's incident time.
        """
        monitor = find_monitor(monitor_id)
        series = monitor_daily(db.session, monitor, args["days"], utcnow())
        return {
            "days": [
                {
                    "date": day.date().isoformat(),
                    "uptime": day_totals.uptime,
                    "checks": day_totals.checks,
                    "downtime_seconds": day_totals.downtime_seconds,
                    "response_time_p95_ms": day_totals.latency_percentile(0.95),
                }
                for day, day_totals in series
            ]
        }
