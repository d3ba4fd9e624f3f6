"""``/api/v1/incidents``: confirmed outages, newest first; acknowledge one, or resolve it by hand.

Acknowledging records which key did it and when, and tells the monitor's channels (PagerDuty
acknowledges its alert); a second acknowledgement changes nothing. Resolving by hand closes
the incident and tells the channels, while the monitor keeps its own state: if it is still
down it stays down, without a new incident, until it recovers; its next failure streak
opens a new one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from aloft.api.auth import current_key, current_org_id
from aloft.api.blueprint import Blueprint
from aloft.api.errors import ApiError
from aloft.api.fields import Id, Timestamp
from aloft.api.monitors import MONITOR_NOT_FOUND
from aloft.api.paging import MAX_PAGE, Cursor, fetch_page
from aloft.channels import NotificationKind
from aloft.extensions import db
from aloft.models import ApiKey, CheckResult, Incident, Monitor, User, is_id, utcnow
from aloft.notify.outbox import incident_notification, write_deliveries

blp = Blueprint(
    "incidents",
    __name__,
    url_prefix="/api/v1/incidents",
    scope_family="monitors",
    description="Incidents of the caller's organization. Needs `monitors:read` / `monitors:write`.",
)

INCIDENT_NOT_FOUND = "Incident not found"
DEFAULT_PAGE = 100


class IncidentArgs(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    status = ma.fields.String(validate=ma.validate.OneOf(["open", "resolved"]))
    monitor_id = Id(data_key="monitorId")
    since = Timestamp(metadata={"description": "Only incidents that started at or after this time."})
    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE,
        validate=ma.validate.Range(1, MAX_PAGE),
        metadata={"description": f"Page size (default {DEFAULT_PAGE})."},
    )
    cursor = Cursor()


class ActingKeySchema(ma.Schema):
    """Who acknowledged or resolved an incident: the API key (its id and name), or the person who did it in the
    web UI (their user id, and their name or e-mail)."""

    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


class OpeningCheckSchema(ma.Schema):
    checked_at = Timestamp(data_key="checkedAt", required=True)
    latency_ms = ma.fields.Float(data_key="latencyMs", allow_none=True, required=True)
    cause = ma.fields.String(allow_none=True, required=True)
    details = ma.fields.Dict(allow_none=True, required=True)


class IncidentSchema(ma.Schema):
    id = ma.fields.String(required=True)
    monitor_id = ma.fields.String(data_key="monitorId", required=True)
    monitor_name = ma.fields.String(data_key="monitorName", required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["open", "resolved"]})
    cause = ma.fields.String(required=True)
    started_at = Timestamp(data_key="startedAt", required=True)
    resolved_at = Timestamp(data_key="resolvedAt", allow_none=True, required=True)
    duration_seconds = ma.fields.Float(
        data_key="durationSeconds", required=True, metadata={"description": "Until resolved, or until now."}
    )
    resolution = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"enum": ["check", "manual", None], "description": "check: the monitor recovered; manual: a key."},
    )
    resolved_by = ma.fields.Nested(ActingKeySchema, data_key="resolvedBy", allow_none=True, required=True)
    acknowledged_at = Timestamp(data_key="acknowledgedAt", allow_none=True, required=True)
    acknowledged_by = ma.fields.Nested(ActingKeySchema, data_key="acknowledgedBy", allow_none=True, required=True)


class IncidentDetailSchema(IncidentSchema):
    opened_by = ma.fields.Nested(
        OpeningCheckSchema,
        data_key="openedBy",
        allow_none=True,
        required=True,
        metadata={"description": "The check that confirmed the outage; null once raw results are pruned."},
    )


class IncidentListSchema(ma.Schema):
    incidents = ma.fields.List(ma.fields.Nested(IncidentSchema), required=True)
    next_cursor = ma.fields.String(data_key="nextCursor", allow_none=True, required=True)


class IncidentEnvelope(ma.Schema):
    incident = ma.fields.Nested(IncidentDetailSchema, required=True)


@blp.route("")
class Incidents(MethodView):
    @blp.arguments(IncidentArgs, location="query")
    @blp.response(200, IncidentListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The organization's incidents, newest first; filter by `status`, `monitorId` and `since`."""
        incidents, next_cursor = list_incidents(args)
        return {"incidents": incidents, "next_cursor": next_cursor}


def list_incidents(args: dict[str, Any], *, newer: bool = False) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the caller's organization's incidents, newest first, described; and the next cursor.

    ``args`` as ``IncidentArgs`` loads them: ``status``, ``monitor_id``, ``since``, ``limit``, ``cursor``.
    ``newer=True`` pages the other way, as the web UI's "Newer" link does: the incidents just
    newer than ``cursor``, oldest first, and a cursor when there are newer ones still.
    """
    query = (
        select(Incident, Monitor.name)
        .join(Monitor, Monitor.id == Incident.monitor_id)
        .where(Incident.org_id == current_org_id())
    )
    if "status" in args:
        query = query.where(Incident.status == args["status"])
    if "monitor_id" in args:
        query = query.where(Incident.monitor_id == args["monitor_id"])
    if "since" in args:
        query = query.where(Incident.started_at >= args["since"])
    rows, next_cursor = fetch_page(query, Incident.started_at, Incident.id, args, newest_first=not newer)
    keys = actor_names(incident for incident, _ in rows)
    return [describe(incident, name, keys) for incident, name in rows], next_cursor


@blp.route("/<id:incident_id>")
class IncidentById(MethodView):
    @blp.response(200, IncidentEnvelope)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, incident_id: str) -> dict[str, Any]:
        """One incident, how long it lasted, who acknowledged or resolved it, and the check that opened it."""
        return {"incident": detail(find_incident(incident_id))}


@blp.route("/<id:incident_id>/acknowledge")
class IncidentAcknowledge(MethodView):
    @blp.response(200, IncidentEnvelope)
    @blp.alt_response(409, response="CONFLICT", description="The incident is resolved.")
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, incident_id: str) -> dict[str, Any]:
        """Acknowledge an open incident: someone is on it. Its channels hear who; a second time changes nothing."""
        incident = find_incident(incident_id, lock=True)
        acknowledge(incident, acting_key)
        db.session.commit()
        return {"incident": detail(incident)}


@blp.route("/<id:incident_id>/resolve")
class IncidentResolve(MethodView):
    @blp.response(200, IncidentEnvelope)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, incident_id: str) -> dict[str, Any]:
        """Resolve an incident by hand; its channels hear who. Resolving a resolved incident changes nothing.

        The monitor keeps its state: still down, it stays down without a new incident until it
        recovers; its next failure streak opens a new one.
        """
        incident = find_incident(incident_id, lock=True)
        resolve(incident, acting_key)
        db.session.commit()
        return {"incident": detail(incident)}


@dataclass(frozen=True)
class Actor:
    """Who acknowledges or resolves an incident: an API key, or a person in the web UI."""

    name: str
    key_id: str | None = None
    user_id: str | None = None


def acting_key() -> Actor:
    """The key an incident records as acknowledging or resolving it: the API needs a key, not a browser session."""
    key = current_key()
    if key is None:
        raise ApiError(403, "Acknowledging or resolving an incident needs an API key (it records the key's name)")
    return Actor(key.name, key_id=key.id)


def acknowledge(incident: Incident, actor: Callable[[], Actor]) -> None:
    """Acknowledge an open incident (``actor`` is asked only if it was not yet) and tell its channels who.

    The caller commits. A resolved incident is a 409.
    """
    if incident.status != "open":
        raise ApiError(409, "Only an open incident can be acknowledged; this one is resolved")
    if incident.acknowledged_at is None:
        who = actor()
        incident.acknowledged_at = utcnow()
        incident.acknowledged_by_key_id, incident.acknowledged_by_user_id = who.key_id, who.user_id
        tell_channels(incident, "acknowledged", who.name)


def resolve(incident: Incident, actor: Callable[[], Actor]) -> None:
    """Resolve an open incident by hand and tell its channels who; a resolved one stays as it is. Caller commits."""
    if incident.status == "open":
        who = actor()
        incident.status = "resolved"
        incident.resolved_at = max(utcnow(), incident.started_at)
        incident.resolved_by_key_id, incident.resolved_by_user_id = who.key_id, who.user_id
        tell_channels(incident, "resolved", who.name)


def find_incident(incident_id: str, *, lock: bool = False) -> Incident:
    if not is_id(incident_id):
        raise ApiError(404, INCIDENT_NOT_FOUND)
    query = select(Incident).where(Incident.id == incident_id, Incident.org_id == current_org_id())
    if lock:  # an acknowledgement and a resolution racing: one after the other
        query = query.with_for_update()
    incident = db.session.scalar(query)
    if incident is None:
        raise ApiError(404, INCIDENT_NOT_FOUND)
    return incident


def tell_channels(incident: Incident, kind: NotificationKind, actor_name: str) -> None:
    """Write the deliveries (outbox rows) for the monitor's channels, in this transaction; the sweeper sends them."""
    monitor = db.session.get(Monitor, incident.monitor_id)
    if monitor is None:
        raise ApiError(404, MONITOR_NOT_FOUND)
    notification = incident_notification(
        kind,
        at=utcnow(),
        monitor=monitor,
        base_url=current_app.extensions["aloft.settings"].base_url,
        incident_id=incident.id,
        cause=incident.cause,
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        acknowledged_by=actor_name if kind == "acknowledged" else None,
        resolved_by=actor_name if kind == "resolved" else None,
    )
    # Due now: no engine process is at hand to send them, so the next sweep does (within a second or so).
    write_deliveries(db.session, [notification], org_ids={monitor.id: monitor.org_id}, swept_after=None)


def key_names(key_ids: set[str | None]) -> dict[str, str]:
    wanted = sorted(key_id for key_id in key_ids if key_id)
    if not wanted:
        return {}
    return dict(db.session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(wanted))).all())


def actor_names(incidents: Iterable[Incident]) -> dict[str, str]:
    """The names of the keys and people who acknowledged or resolved ``incidents``, by id."""
    incidents = list(incidents)
    names = key_names({key for i in incidents for key in (i.acknowledged_by_key_id, i.resolved_by_key_id)})
    people = sorted({user for i in incidents for user in (i.acknowledged_by_user_id, i.resolved_by_user_id) if user})
    if people:
        rows = db.session.execute(select(User.id, User.name, User.email).where(User.id.in_(people)))
        names.update({user_id: name or email for user_id, name, email in rows})
    return names


def describe(incident: Incident, monitor_name: str, keys: dict[str, str]) -> dict[str, Any]:
    end: datetime = incident.resolved_at or utcnow()
    resolution = None
    if incident.status == "resolved":
        resolution = "manual" if incident.resolved_by_key_id or incident.resolved_by_user_id else "check"
    return {
        "id": incident.id,
        "monitor_id": incident.monitor_id,
        "monitor_name": monitor_name,
        "status": incident.status,
        "cause": incident.cause,
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "duration_seconds": round(max((end - incident.started_at).total_seconds(), 0.0), 3),
        "resolution": resolution,
        "resolved_by": _key(incident.resolved_by_key_id or incident.resolved_by_user_id, keys),
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": _key(incident.acknowledged_by_key_id or incident.acknowledged_by_user_id, keys),
    }


def detail(incident: Incident) -> dict[str, Any]:
    monitor_name = db.session.scalar(select(Monitor.name).where(Monitor.id == incident.monitor_id)) or ""
    keys = actor_names([incident])
    opened_by = None
    if incident.opened_by_result_id is not None:
        opened_by = db.session.get(CheckResult, incident.opened_by_result_id)
    return {**describe(incident, monitor_name, keys), "opened_by": opened_by}


def _key(key_id: str | None, names: dict[str, str]) -> dict[str, str] | None:
    if key_id is None:
        return None
    return {"id": key_id, "name": names.get(key_id, "")}
