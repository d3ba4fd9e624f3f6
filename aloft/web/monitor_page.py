"""A monitor's page: its status and cause, stats, 90 days of uptime, response times, results, incidents and pings;
and what can be done to it (pause, resume, delete; editing is :mod:`aloft.web.monitor_form`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import marshmallow as ma
from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import delete, select

from aloft.api.incidents import find_incident, list_incidents
from aloft.api.monitors import apply_input, check_types, find_monitor, monitor_stats, stored_input
from aloft.api.pings import PingsArgs, ping_log
from aloft.extensions import db
from aloft.models import CheckResult, Monitor, utcnow
from aloft.people import audit
from aloft.pings import ping_url
from aloft.stats.outages import monitor_daily
from aloft.stats.overview import latency_series
from aloft.web.access import require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.charts import response_time_chart, uptime_bar
from aloft.web.forms import check_csrf
from aloft.web.passive import expectation

#: Response-time ranges: query value → (label, rollup period, length).
RANGES = {
    "24h": ("24 hours", "hour", timedelta(hours=24)),
    "7d": ("7 days", "hour", timedelta(days=7)),
    "30d": ("30 days", "day", timedelta(days=30)),
}
UPTIME_DAYS = 90
RECENT = 25
RECENT_INCIDENTS = 10


@bp.get("/monitors/<monitor_id>")
@signed_in_page
def monitor(monitor_id: str) -> str:
    found = find_monitor(monitor_id)
    now = utcnow()
    chosen = request.args.get("range", "24h")
    if chosen not in RANGES:
        chosen = "24h"
    label, period, length = RANGES[chosen]
    stats = monitor_stats(found)
    incidents, _ = list_incidents({"monitor_id": found.id, "limit": RECENT_INCIDENTS})
    open_incident = next((incident for incident in incidents if incident["status"] == "open"), None)
    check_type = check_types().get(found.type)
    passive = found.ping_token is not None
    pings, older = ping_log(found.id, RECENT, pings_cursor(request.args)) if passive else ([], None)
    days = monitor_daily(db.session, found, UPTIME_DAYS, now)
    return render_template(
        "monitor.html",
        monitor=found,
        stats=stats,
        cause=open_incident["cause"] if open_incident else stats["lastCause"],
        uptime_bar=uptime_bar([(day, totals.uptime, totals.downtime_seconds) for day, totals in days]),
        ranges=RANGES,
        chosen=chosen,
        chart=None
        if passive
        else response_time_chart(latency_series(db.session, found.id, period, now - length, now), label),
        results=db.session.scalars(
            select(CheckResult)
            .where(CheckResult.monitor_id == found.id)
            .order_by(CheckResult.checked_at.desc())
            .limit(RECENT)
        ).all(),
        incidents=incidents,
        passive=passive,
        expected=expectation(found, check_type) if passive and check_type else None,
        pings=pings,
        older_pings=older,
        ping_url=ping_url(current_app.extensions["aloft.settings"].base_url, found.ping_token)
        if viewer().has_scope("monitors:write")
        else None,
        may_write=viewer().has_scope("monitors:write"),
    )


def pings_cursor(args: Any) -> int | None:
    """The ping log's page asked for (``?pings=<cursor>``, read as the API reads its cursor); None: the newest."""
    try:
        return PingsArgs().load({"cursor": args["pings"]})["cursor"] if "pings" in args else None
    except ma.ValidationError:
        return None


def set_paused(monitor_id: str, paused: bool) -> Any:
    check_csrf()
    require_scope("monitors:write")
    found = find_monitor(monitor_id)
    data = stored_input(found)
    data["paused"] = paused
    apply_input(found, data)
    db.session.commit()
    flash(f"{found.name} is {'paused' if paused else 'resumed: its next check comes within its interval'}.", "info")
    return redirect(url_for("web.monitor", monitor_id=found.id))


@bp.post("/monitors/<monitor_id>/pause")
@signed_in_page
def pause_monitor(monitor_id: str) -> Any:
    return set_paused(monitor_id, True)


@bp.post("/monitors/<monitor_id>/resume")
@signed_in_page
def resume_monitor(monitor_id: str) -> Any:
    return set_paused(monitor_id, False)


@bp.route("/monitors/<monitor_id>/delete", methods=["GET", "POST"])
@signed_in_page
def delete_monitor(monitor_id: str) -> Any:
    """GET asks for confirmation (a page of its own, so it works without JavaScript); POST deletes."""
    found = find_monitor(monitor_id)
    if request.method == "GET":
        return render_template("monitor_delete.html", monitor=found)
    check_csrf()
    require_scope("monitors:write")
    audit.record("monitor.deleted", found.org_id, {"monitorId": found.id, "name": found.name})
    db.session.execute(delete(Monitor).where(Monitor.id == found.id))
    db.session.commit()
    flash(f"Deleted {found.name} with its history.", "info")
    return redirect(url_for("web.dashboard"))


@bp.get("/incidents/<incident_id>")
@signed_in_page
def incident(incident_id: str) -> Any:
    """A notification's link to an incident: the incident on its monitor's page."""
    found = find_incident(incident_id)
    return redirect(url_for("web.monitor", monitor_id=found.monitor_id, _anchor=f"incident-{found.id}"))
