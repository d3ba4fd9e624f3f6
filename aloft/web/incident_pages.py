"""The incidents page: open and resolved incidents, how long they lasted, who acknowledged and resolved them."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from aloft.api.incidents import Actor, acknowledge, actor_names, describe, find_incident, resolve
from aloft.api.paging import fetch_page
from aloft.extensions import db
from aloft.models import Incident, Monitor
from aloft.web.access import require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf

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
    keys = actor_names(incident for incident, _ in rows)
    return render_template(
        "incidents.html",
        incidents=[describe(incident, name, keys) for incident, name in rows],
        status=status,
        show_monitor=True,
        may_write=viewer().has_scope("monitors:write"),
    )


def the_viewer() -> Actor:
    person = viewer()
    return Actor(person.name or person.email, user_id=person.user_id)


@bp.post("/incidents/<incident_id>/acknowledge")
@signed_in_page
def acknowledge_incident(incident_id: str) -> Any:
    check_csrf()
    require_scope("monitors:write")
    incident = find_incident(incident_id, lock=True)
    acknowledge(incident, the_viewer)
    db.session.commit()
    flash("Acknowledged: the monitor's channels hear that you are on it.", "info")
    return back_to(incident_id)


@bp.post("/incidents/<incident_id>/resolve")
@signed_in_page
def resolve_incident(incident_id: str) -> Any:
    check_csrf()
    require_scope("monitors:write")
    incident = find_incident(incident_id, lock=True)
    resolve(incident, the_viewer)
    db.session.commit()
    flash("Resolved. If the monitor is still down it stays down, without a new incident, until it recovers.", "info")
    return back_to(incident_id)


def back_to(incident_id: str) -> Any:
    """Back to the page the button was on (a path of this server only), at the incident."""
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("web.incidents")
    return redirect(f"{target}#incident-{incident_id}")
