"""``/api/v1/monitors/{id}/pings``: a passive monitor's ping log, newest first, a page at a time."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from sqlalchemy import select

from aloft.api.blueprint import Blueprint
from aloft.api.fields import Timestamp
from aloft.api.monitors import find_monitor
from aloft.extensions import db
from aloft.models import Ping
from aloft.pings import PINGS_KEPT

blp = Blueprint(
    "pings",
    __name__,
    url_prefix="/api/v1/monitors",
    scope_family="monitors",
    description="A heartbeat monitor's ping log. Needs `monitors:read`.",
)

MAX_PINGS_PAGE = 1000
#: A page ends at a ping; the next starts after it. A ping's id, written in decimal.
PING_CURSOR_PATTERN = r"^[1-9][0-9]{0,17}$"
INVALID_CURSOR = "Invalid cursor; pass nextCursor from the previous page."


class PingCursor(ma.fields.String):
    """``nextCursor`` of the previous page; loads as the id of the last ping it showed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            metadata={"description": "`nextCursor` of the previous page.", "pattern": PING_CURSOR_PATTERN}, **kwargs
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not (text.isascii() and text.isdigit()) or len(text) > 18 or text.startswith("0"):
            raise ma.ValidationError(INVALID_CURSOR)
        return int(text)


class PingsArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    limit = ma.fields.Integer(
        load_default=PINGS_KEPT,
        validate=ma.validate.Range(1, MAX_PINGS_PAGE),
        metadata={"description": f"Page size (default {PINGS_KEPT})."},
    )
    cursor = PingCursor()


class PingSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"enum": ["start", "success", "fail"]})
    received_at = Timestamp(data_key="receivedAt", required=True)
    method = ma.fields.String(allow_none=True, required=True)
    source_ip = ma.fields.String(data_key="sourceIp", allow_none=True, required=True)
    user_agent = ma.fields.String(data_key="userAgent", allow_none=True, required=True)
    duration_ms = ma.fields.Integer(
        data_key="durationMs",
        allow_none=True,
        required=True,
        metadata={"description": "A finish's run time since its start (paired by `rid` when given); null otherwise."},
    )
    exit_status = ma.fields.Integer(data_key="exitStatus", allow_none=True, required=True)
    rid = ma.fields.String(allow_none=True, required=True, metadata={"description": "The run id the job passed."})
    body = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "The request body's first 10 KB (as UTF-8 text)."}
    )
    body_truncated = ma.fields.Boolean(
        data_key="bodyTruncated", required=True, metadata={"description": "The body was longer and was cut."}
    )


class PingListSchema(ma.Schema):
    pings = ma.fields.List(ma.fields.Nested(PingSchema), required=True)
    next_cursor = ma.fields.String(
        data_key="nextCursor", allow_none=True, required=True, metadata={"pattern": PING_CURSOR_PATTERN}
    )


def ping_log(monitor_id: str, limit: int, before: int | None = None) -> tuple[list[Ping], str | None]:
    """A page of a monitor's ping log, newest first, starting after the ping ``before`` (the cursor); and the
    cursor of the next page (None on the last). The caller has found the monitor in its organization."""
    query = select(Ping).where(Ping.monitor_id == monitor_id)
    if before is not None:
        query = query.where(Ping.id < before)
    rows = db.session.scalars(query.order_by(Ping.id.desc()).limit(limit + 1)).all()
    page = list(rows[:limit])
    return page, str(page[-1].id) if len(rows) > limit else None


@blp.route("/<id:monitor_id>/pings")
class MonitorPings(MethodView):
    @blp.arguments(PingsArgs, location="query")
    @blp.response(200, PingListSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, args: dict[str, Any], monitor_id: str) -> dict[str, Any]:
        """The monitor's pings, newest first, a page at a time.

        Each monitor keeps its newest 100 pings (older ones are pruned hourly). A monitor
        that receives no pings has an empty log.
        """
        pings, next_cursor = ping_log(find_monitor(monitor_id).id, args["limit"], args.get("cursor"))
        return {"pings": pings, "next_cursor": next_cursor}
