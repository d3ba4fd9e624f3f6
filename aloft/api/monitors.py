"""``/api/v1/monitors``: create, read, update (merge or replace) and delete monitors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import marshmallow as ma
from apispec import APISpec
from apispec.ext.marshmallow import resolver
from flask import Flask, current_app, request
from flask.views import MethodView
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from aloft.api.auth import caller_has_scope, current_org_id
from aloft.api.blueprint import Blueprint, document_per_type, needs_input, type_schema_reference
from aloft.api.errors import ApiError
from aloft.api.fields import Id, Name, OkSchema, StrictBoolean, StrictInteger, Timestamp, TypeName, Url
from aloft.api.paging import PageArgs
from aloft.api.resources import find_in_org, list_envelope
from aloft.checks import url_problem
from aloft.extensions import db
from aloft.models import Channel, CheckResult, Incident, Monitor, Organization, utcnow
from aloft.people import audit
from aloft.pings import expect_pings, ping_url
from aloft.stats.outages import uptimes
from aloft.stats.queries import Retention, totals

blp = Blueprint(
    "monitors",
    __name__,
    url_prefix="/api/v1/monitors",
    scope_family="monitors",
    description="Monitors of the caller's organization. Needs `monitors:read` / `monitors:write`.",
)

MONITOR_NOT_FOUND = "Monitor not found"
RECENT_INCIDENTS = 5
#: Output-only fields: accepted and ignored on input, so GET → edit → PUT works.
READ_ONLY_FIELDS = frozenset({"id", "status", "createdAt", "updatedAt", "lastCheckedAt", "pingUrl"})
INTERVAL_RANGE = (10, 86400)
CONFIRMATION_RANGE = (1, 10)
DEFAULT_CONFIRMATIONS = 2
#: A heartbeat's grace already allows for lateness: its first missed deadline is the outage.
PASSIVE_CONFIRMATIONS = 1
TIMEOUT_RANGE = (1, 60)


def installed_check_types(app: Flask) -> dict[str, Any]:
    return app.extensions["aloft.plugins"].check_types


def check_types() -> dict[str, Any]:
    return installed_check_types(current_app)


class MonitorInputSchema(ma.Schema):
    """What a client sends to create or replace a monitor."""

    class Meta:
        unknown = ma.RAISE

    name = Name(required=True)
    type = TypeName(
        installed_check_types, required=True, metadata={"description": "An installed check type, e.g. `http`."}
    )
    url = Url(
        allow_none=True, load_default=None, metadata={"description": "Required by check types that reach out to a URL."}
    )
    interval_seconds = StrictInteger(
        data_key="intervalSeconds",
        load_default=300,
        validate=ma.validate.Range(*INTERVAL_RANGE),
        metadata={"description": "Seconds between checks, 10-86400."},
    )
    confirmation_count = StrictInteger(
        data_key="confirmationCount",
        load_default=None,  # the check type's default (see validate_against_check_type)
        allow_none=False,
        validate=ma.validate.Range(*CONFIRMATION_RANGE),
        metadata={
            "description": "Consecutive failures that open an incident, 1-10. Default 2; for passive types "
            "(heartbeat) 1, counting missed deadlines and failure reports: the grace is the confirmation."
        },
    )
    timeout_seconds = StrictInteger(
        data_key="timeoutSeconds",
        load_default=10,
        validate=ma.validate.Range(*TIMEOUT_RANGE),
        metadata={"description": "Seconds a check may take, 1-60 and never above the interval."},
    )
    paused = StrictBoolean(load_default=False)
    settings = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=dict,
        metadata={"description": "Type-specific settings, validated by the check type's schema."},
    )
    channel_ids = ma.fields.List(
        Id(),
        data_key="channelIds",
        load_default=list,
        validate=ma.validate.Length(max=50),
        metadata={"description": "Notification channels of this organization."},
    )

    @ma.pre_load
    def ignore_read_only_fields(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if key not in READ_ONLY_FIELDS}
        return data

    @ma.validates_schema(skip_on_field_errors=True)
    def validate_against_check_type(self, data: dict[str, Any], partial: Any = None, **kwargs: Any) -> None:
        if partial:
            return
        errors: dict[str, list[str] | dict[str, Any]] = {}
        if data["timeout_seconds"] > data["interval_seconds"]:
            errors["timeoutSeconds"] = ["Must not be greater than intervalSeconds."]
        types = check_types()
        check_type = types.get(data["type"])
        if check_type is None:
            installed = ", ".join(sorted(types)) or "none"
            errors["type"] = [f"Unknown check type {data['type']!r}. Installed types: {installed}."]
            raise ma.ValidationError(errors)
        if data["confirmation_count"] is None:
            data["confirmation_count"] = PASSIVE_CONFIRMATIONS if check_type.passive else DEFAULT_CONFIRMATIONS
        if check_type.requires_url and not data["url"]:
            errors["url"] = [f"Required for {check_type.name} monitors."]
        elif data["url"] and (problem := url_problem(check_type, data["url"])) is not None:
            errors["url"] = [problem]
        if check_type.settings_schema is not None:
            schema = check_type.settings_schema_instance()
            try:
                data["settings"] = schema.dump(schema.load(data["settings"]))
            except ma.ValidationError as error:
                errors["settings"] = error.normalized_messages()
        elif data["settings"]:
            errors["settings"] = [f"The {check_type.name} check type takes no settings."]
        if errors:
            raise ma.ValidationError(errors)


def document_check_types(spec: APISpec, app: Flask) -> None:
    """A monitor's settings are those of its type, and a type that reaches out needs a url."""
    general_url = spec.components.schemas[resolver(MonitorInputSchema)]["properties"]["url"]
    # A type that reaches out takes a url and nothing else: not null, no default.
    url = {key: value for key, value in general_url.items() if key != "default"} | {"type": "string"}
    rules = {}
    for name, check_type in installed_check_types(app).items():
        then: dict[str, Any] = {
            "properties": {"settings": type_schema_reference(spec, f"Settings.{name}", check_type.settings_schema)}
        }
        required = ["settings"] if needs_input(check_type.settings_schema) else []
        if check_type.requires_url:
            then["properties"]["url"] = url
            required.append("url")
        if required:
            then["required"] = required
        rules[name] = then
    document_per_type(spec, MonitorInputSchema, rules)


blp.documenters.append(document_check_types)


class MonitorPatchSchema(MonitorInputSchema):
    """Any subset of the input fields; the merged monitor is validated as a whole."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, **kwargs)


class MonitorSchema(ma.Schema):
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    url = ma.fields.String(allow_none=True, required=True)
    interval_seconds = ma.fields.Integer(data_key="intervalSeconds", required=True)
    confirmation_count = ma.fields.Integer(data_key="confirmationCount", required=True)
    timeout_seconds = ma.fields.Integer(data_key="timeoutSeconds", required=True)
    paused = ma.fields.Boolean(required=True)
    settings = ma.fields.Dict(required=True)
    channel_ids = ma.fields.List(ma.fields.String(), data_key="channelIds", required=True)
    status = ma.fields.String(
        required=True, metadata={"enum": ["pending", "up", "down", "paused"], "description": "pending: never checked."}
    )
    created_at = Timestamp(data_key="createdAt", required=True)
    updated_at = Timestamp(data_key="updatedAt", required=True)
    last_checked_at = Timestamp(data_key="lastCheckedAt", allow_none=True, required=True)
    ping_url = ma.fields.Method(
        "dump_ping_url",
        data_key="pingUrl",
        allow_none=True,
        metadata={
            "type": "string",
            "description": "Passive types (heartbeat): the URL the job pings; keep it secret. Null otherwise. "
            "Only keys with `monitors:write` see it: whoever has it can report the job's success or failure.",
        },
    )

    def dump_ping_url(self, monitor: Monitor) -> str | None:
        return ping_url(current_app.extensions["aloft.settings"].base_url, monitor.ping_token)

    @ma.post_dump
    def hide_ping_url_from_readers(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        # A ping URL is a credential for the job's reports: reading monitors must not hand it out.
        if not caller_has_scope("monitors:write"):
            data.pop("pingUrl", None)
        return data


class MonitorEnvelope(ma.Schema):
    monitor = ma.fields.Nested(MonitorSchema, required=True)


class MonitorListSchema(ma.Schema):
    monitors = ma.fields.List(ma.fields.Nested(MonitorSchema), required=True)
    next_cursor = ma.fields.String(
        data_key="nextCursor", allow_none=True, metadata={"description": "Present when `limit` was given."}
    )


class StatsSchema(ma.Schema):
    """Uptime counts checks (the share that succeeded); a heartbeat's, time (the share not down, from its
    incidents, counted from its first result). Response times are of checks that measured one."""

    uptime24h = ma.fields.Float(allow_none=True, required=True, metadata={"description": "Percent; null: no data."})
    uptime7d = ma.fields.Float(allow_none=True, required=True, metadata={"description": "Percent; null: no data."})
    uptime30d = ma.fields.Float(allow_none=True, required=True, metadata={"description": "Percent; null: no data."})
    responseTimeAvgMs = ma.fields.Float(allow_none=True, required=True, metadata={"description": "24 h, exact."})
    responseTimeP50Ms = ma.fields.Float(allow_none=True, required=True, metadata={"description": "24 h, within 5 %."})
    responseTimeP95Ms = ma.fields.Float(allow_none=True, required=True, metadata={"description": "24 h, within 5 %."})
    responseTimeP99Ms = ma.fields.Float(allow_none=True, required=True, metadata={"description": "24 h, within 5 %."})
    checks24h = ma.fields.Integer(required=True)
    lastCheckedAt = Timestamp(allow_none=True, required=True)
    lastCause = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "Why the latest check failed; null if it succeeded."}
    )


class IncidentSummarySchema(ma.Schema):
    id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"enum": ["open", "resolved"]})
    cause = ma.fields.String(required=True)
    started_at = Timestamp(data_key="startedAt", required=True)
    resolved_at = Timestamp(data_key="resolvedAt", allow_none=True, required=True)
    acknowledged_at = Timestamp(data_key="acknowledgedAt", allow_none=True, required=True)


class MonitorDetailSchema(MonitorEnvelope):
    stats = ma.fields.Nested(StatsSchema, required=True)
    recent_incidents = ma.fields.List(
        ma.fields.Nested(IncidentSummarySchema), data_key="recentIncidents", required=True
    )


@blp.route("")
class Monitors(MethodView):
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, MonitorListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the organization's monitors, oldest first; page with `limit` and `cursor`."""
        query = (
            select(Monitor)
            .where(Monitor.org_id == current_org_id())
            .options(selectinload(Monitor.channels).load_only(Channel.id))
        )
        return list_envelope("monitors", query, Monitor.created_at, Monitor.id, args)

    @blp.arguments(MonitorInputSchema)
    @blp.response(201, MonitorEnvelope)
    @blp.alt_response(403, response="FORBIDDEN", description="`channelIds` names a channel of another organization.")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a monitor. Fields left out take the organization's monitor defaults, if it set any."""
        monitor = Monitor(org_id=current_org_id())
        apply_input(monitor, with_organization_defaults(data))
        db.session.add(monitor)
        db.session.commit()
        return {"monitor": monitor}


@blp.route("/<id:monitor_id>")
class MonitorById(MethodView):
    @blp.response(200, MonitorDetailSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, monitor_id: str) -> dict[str, Any]:
        """One monitor, its stats and its five newest incidents."""
        monitor = find_monitor(monitor_id)
        incidents = db.session.scalars(
            select(Incident)
            .where(Incident.monitor_id == monitor.id)
            .order_by(Incident.started_at.desc())
            .limit(RECENT_INCIDENTS)
        ).all()
        return {"monitor": monitor, "stats": monitor_stats(monitor), "recent_incidents": incidents}

    @blp.arguments(MonitorInputSchema)
    @blp.response(200, MonitorEnvelope)
    @blp.alt_response(403, response="FORBIDDEN", description="`channelIds` names a channel of another organization.")
    @blp.alt_response(404, response="NOT_FOUND")
    def put(self, data: dict[str, Any], monitor_id: str) -> dict[str, Any]:
        """Replace a monitor: send the complete input, as for a create."""
        monitor = find_monitor(monitor_id)
        apply_input(monitor, data)
        db.session.commit()
        return {"monitor": monitor}

    @blp.arguments(MonitorPatchSchema)
    @blp.response(200, MonitorEnvelope)
    @blp.alt_response(403, response="FORBIDDEN", description="`channelIds` names a channel of another organization.")
    @blp.alt_response(404, response="NOT_FOUND")
    def patch(self, changes: dict[str, Any], monitor_id: str) -> dict[str, Any]:
        """Merge changes onto a monitor and re-validate the result.

        `settings` merges key by key (a key set to null is removed), unless `type`
        changes, in which case the new settings replace the old.
        """
        monitor = find_monitor(monitor_id)
        schema = MonitorInputSchema()
        merged = stored_input(monitor)
        new_settings = changes.pop("settings", None)
        if new_settings is not None:
            if changes.get("type", monitor.type) == monitor.type:
                merged["settings"] = {**merged["settings"], **new_settings}
            else:
                merged["settings"] = new_settings
            merged["settings"] = {key: value for key, value in merged["settings"].items() if value is not None}
        elif changes.get("type", monitor.type) != monitor.type:
            merged["settings"] = {}
        merged.update(changes)
        apply_input(monitor, schema.load(schema.dump(merged)))
        db.session.commit()
        return {"monitor": monitor}

    @blp.response(200, OkSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, monitor_id: str) -> dict[str, bool]:
        """Delete a monitor with its results and incidents."""
        monitor = find_monitor(monitor_id)
        audit.record("monitor.deleted", monitor.org_id, {"monitorId": monitor.id, "name": monitor.name})
        db.session.execute(delete(Monitor).where(Monitor.id == monitor.id))
        db.session.commit()
        return {"ok": True}


def with_organization_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` validated again with the organization's defaults under what the client sent."""
    organization = db.session.get(Organization, current_org_id())
    defaults = (organization.monitor_defaults if organization else None) or {}
    sent = request.get_json(silent=True)
    if not defaults or not isinstance(sent, dict) or not set(defaults) - set(sent):
        return data
    return MonitorInputSchema().load({**defaults, **sent})


def find_monitor(monitor_id: str) -> Monitor:
    return find_in_org(Monitor, monitor_id, MONITOR_NOT_FOUND)


INPUT_ATTRIBUTES = (
    "name",
    "type",
    "url",
    "interval_seconds",
    "confirmation_count",
    "timeout_seconds",
    "paused",
    "settings",
)


def stored_input(monitor: Monitor) -> dict[str, Any]:
    """The monitor as loaded input (what a PUT of its current state would give)."""
    data = {name: getattr(monitor, name) for name in INPUT_ATTRIBUTES}
    data["settings"] = dict(monitor.settings or {})
    data["channel_ids"] = monitor.channel_ids
    return data


def apply_input(monitor: Monitor, data: dict[str, Any]) -> None:
    """Write validated input onto ``monitor``: fields, channels and the paused state."""
    channels = resolve_channels(data["channel_ids"])
    was_paused = monitor.paused
    for name in INPUT_ATTRIBUTES:
        setattr(monitor, name, data[name])
    monitor.channels = channels
    # One reading of the clock: a new monitor's createdAt and updatedAt are the same instant.
    monitor.updated_at = utcnow()
    if monitor.created_at is None:
        monitor.created_at = monitor.updated_at
    expect_pings(monitor, check_types()[monitor.type], restart=was_paused and not monitor.paused)
    if monitor.paused:
        monitor.status = "paused"
    elif was_paused or monitor.status is None:
        # Unpausing starts over: the state from before the pause is stale.
        monitor.status = "pending"
        monitor.consecutive_failures = 0


def resolve_channels(channel_ids: list[str]) -> list[Channel]:
    wanted = list(dict.fromkeys(channel_ids))
    if not wanted:
        return []
    found = {
        channel.id: channel
        for channel in db.session.scalars(
            select(Channel).where(Channel.id.in_(wanted), Channel.org_id == current_org_id())
        )
    }
    for channel_id in wanted:
        if channel_id not in found:
            raise ApiError(403, f"Channel {channel_id} does not belong to this organization")
    return [found[channel_id] for channel_id in wanted]


#: The windows of ``uptime24h``, ``uptime7d`` and ``uptime30d``.
WINDOWS = (timedelta(hours=24), timedelta(days=7), timedelta(days=30))


def monitor_stats(monitor: Monitor) -> dict[str, Any]:
    """The monitor's stats, from rollups (see aloft.stats.queries): a bounded number of rows."""
    now = utcnow()
    retention = Retention.of(current_app.extensions["aloft.settings"])
    day, week, month = (totals(db.session, monitor.id, now - window, now, retention) for window in WINDOWS)
    uptime = [day.uptime, week.uptime, month.uptime]
    if monitor.ping_token is not None:  # a heartbeat's uptime is weighed by time (aloft.stats.outages)
        uptime = uptimes(db.session, monitor.org_id, now, WINDOWS, monitor.id).get(monitor.id, [None] * len(WINDOWS))
    last_cause = db.session.scalar(
        select(CheckResult.cause)
        .where(CheckResult.monitor_id == monitor.id)
        .order_by(CheckResult.checked_at.desc())
        .limit(1)
    )
    return {
        "uptime24h": uptime[0],
        "uptime7d": uptime[1],
        "uptime30d": uptime[2],
        "responseTimeAvgMs": day.latency_average,
        "responseTimeP50Ms": day.latency_percentile(0.50),
        "responseTimeP95Ms": day.latency_percentile(0.95),
        "responseTimeP99Ms": day.latency_percentile(0.99),
        "checks24h": day.checks,
        "lastCheckedAt": monitor.last_checked_at,
        "lastCause": last_cause,
    }
