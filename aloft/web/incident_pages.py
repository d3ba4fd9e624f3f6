"""The incidents page: open and resolved incidents, how long they lasted, who acknowledged and resolved them."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from aloft.api.incidents import Actor, acknowledge, find_incident, list_incidents, resolve
from aloft.extensions import db
from aloft.web.access import require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf

PAGE = 50


@bp.get("/incidents")
@signed_in_page
def incidents() -> str:
    status = request.args.get("status", "")
    args: dict[str, Any] = {"limit": PAGE}
    if status in ("open", "resolved"):
        args["status"] = status
    found, _ = list_incidents(args)
    return render_template(
        "incidents.html",
        incidents=found,
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
