"""The incidents page: open and resolved incidents, how long they lasted, who acknowledged and resolved them."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import select

from aloft.api.incidents import describe, key_names
from aloft.api.paging import fetch_page
from aloft.models import Incident, Monitor
from aloft.web.access import signed_in_page, viewer
from aloft.web.blueprint import bp

PAGE = 50


@bp.get("/incidents")
@signed_in_page
def incidents() -> str:
    status = request.args.get("status", "")
    query = (
        select(Incident, Monitor.name)
        .join(Monitor, Monitor.id == Incident.monitor_id)
        .where(Incident.org_id == viewer().org_id)
    )
    if status in ("open", "resolved"):
        query = query.where(Incident.status == status)
    rows, _ = fetch_page(query, Incident.started_at, Incident.id, {"limit": PAGE}, newest_first=True)
    keys = key_names(
        {key for incident, _ in rows for key in (incident.acknowledged_by_key_id, incident.resolved_by_key_id)}
    )
    return render_template(
        "incidents.html",
        incidents=[describe(incident, name, keys) for incident, name in rows],
        status=status,
        show_monitor=True,
        may_write=viewer().has_scope("monitors:write"),
    )


@bp.post("/incidents/<incident_id>/acknowledge")
@signed_in_page
def acknowledge_incident(incident_id: str) -> Any:
    abort(501)


@bp.post("/incidents/<incident_id>/resolve")
@signed_in_page
def resolve_incident(incident_id: str) -> Any:
    abort(501)


def back_to_incidents() -> Any:
    return redirect(request.referrer or url_for("web.incidents"))
