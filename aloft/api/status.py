"""``/api/v1/status``: the fast "is anything down?" snapshot for automation."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, jsonify
from flask.views import MethodView
from sqlalchemy import func, select

from aloft.api.auth import current_org_id
from aloft.api.blueprint import Blueprint
from aloft.api.fields import Timestamp
from aloft.extensions import db
from aloft.models import Incident, Monitor
from aloft.times import isoformat_z

blp = Blueprint(
    "status",
    __name__,
    url_prefix="/api/v1/status",
    scope_family="monitors",
    description="Monitor counts and open incidents. Needs `monitors:read`.",
)


class CountsSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    up = ma.fields.Integer(required=True)
    down = ma.fields.Integer(required=True)
    paused = ma.fields.Integer(required=True)
    pending = ma.fields.Integer(required=True, metadata={"description": "Never checked yet."})


class OpenIncidentSchema(ma.Schema):
    incidentId = ma.fields.String(required=True)
    monitorId = ma.fields.String(required=True)
    monitorName = ma.fields.String(required=True)
    startedAt = Timestamp(required=True)
    cause = ma.fields.String(required=True)


class StatusSchema(ma.Schema):
    counts = ma.fields.Nested(CountsSchema, required=True)
    openIncidents = ma.fields.List(ma.fields.Nested(OpenIncidentSchema), required=True)


@blp.route("")
class Status(MethodView):
    @blp.response(200, StatusSchema)
    def get(self) -> Response:
        """Monitor counts by status and the currently open incidents, newest first."""
        org_id = current_org_id()
        counts = {"total": 0, "up": 0, "down": 0, "paused": 0, "pending": 0}
        for status, count in db.session.execute(
            select(Monitor.status, func.count()).where(Monitor.org_id == org_id).group_by(Monitor.status)
        ):
            counts[status] = count
            counts["total"] += count
        # A correlated lookup by primary key beats joining every monitor of the org.
        monitor_name = select(Monitor.name).where(Monitor.id == Incident.monitor_id).scalar_subquery()
        rows = db.session.execute(
            select(Incident.id, Incident.monitor_id, monitor_name, Incident.started_at, Incident.cause)
            .where(Incident.org_id == org_id, Incident.status == "open")
            .order_by(Incident.started_at.desc())
        )
        # Built directly: a marshmallow dump of hundreds of incidents costs more than the
        # queries. StatusSchema still documents the shape, and the schemathesis test holds
        # the response to it.
        return jsonify(
            counts=counts,
            openIncidents=[
                {"incidentId": i, "monitorId": m, "monitorName": n, "startedAt": isoformat_z(s), "cause": c}
                for i, m, n, s, c in rows
            ],
        )
