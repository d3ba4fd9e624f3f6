"""The incidents page: open and resolved incidents, how long they lasted, who acknowledged and resolved them.

It pages as the API does, by cursor (``?older=<cursor>``, ``?newer=<cursor>``), in links a
browser follows without JavaScript: a page is the incidents just older (or newer) than the
edge of the page the link was on, so none repeats or goes missing between pages.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import flash, redirect, render_template, request, url_for

from aloft.api.incidents import Actor, acknowledge, find_incident, list_incidents, resolve
from aloft.api.paging import PageArgs, Position, encode_cursor
from aloft.extensions import db
from aloft.web.access import require_scope, signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.forms import check_csrf, local_path

PAGE = 50


@bp.get("/incidents")
@signed_in_page
def incidents() -> str:
    status = request.args.get("status", "")
    args: dict[str, Any] = {"limit": PAGE}
    if status in ("open", "resolved"):
        args["status"] = status
    else:
        status = ""
    found, newer, older = incidents_page(args, cursor(request.args, "older"), cursor(request.args, "newer"))
    return render_template(
        "incidents.html",
        incidents=found,
        status=status,
        newer=newer,
        older=older,
        show_monitor=True,
        may_write=viewer().has_scope("monitors:write"),
    )


def incidents_page(
    args: dict[str, Any], older: Position | None, newer: Position | None
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """The page asked for, and the cursors of the pages newer and older than it (None: there is none).

    A "Newer" page that reaches the newest incident is the first page, whole.
    """
    if newer is not None:
        found, newer_still = list_incidents({**args, "cursor": newer}, newer=True)
        if newer_still is not None:
            found.reverse()
            return found, edge(found[0]), edge(found[-1])
    elif older is not None:
        found, older_still = list_incidents({**args, "cursor": older})
        # An empty page (its incidents were deleted meanwhile) leads back from where it was asked for.
        return found, edge(found[0]) if found else encode_cursor(older.when, older.row_id), older_still
    found, older_still = list_incidents(args)
    return found, None, older_still


def cursor(query: Any, name: str) -> Position | None:
    """The position in ``?<name>=``, read as the API reads its cursor; None when absent or not a cursor."""
    if name not in query:
        return None
    try:
        return PageArgs().load({"cursor": query[name]})["cursor"]
    except ma.ValidationError:
        return None


def edge(incident: dict[str, Any]) -> str:
    """The cursor of the position at ``incident``: where the next page, older or newer, starts."""
    return encode_cursor(incident["started_at"], incident["id"])


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
    target = local_path(request.form.get("next")) or url_for("web.incidents")
    return redirect(f"{target}#incident-{incident_id}")
