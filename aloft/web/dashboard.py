"""The dashboard: every monitor at a glance, kept current by a poll that costs next to nothing when nothing changed.

The page carries the organization's state version (bumped by database triggers whenever a
monitor's status or name, or an incident, changes: migration 0003). The browser asks
``/dashboard/changes?since=<version>`` every few seconds; the answer is 204 while the version
is the same (one primary-key read), and then the script fetches the page again and swaps it
in. Uptime and response times move with every check without changing the version, so the
script also refreshes the page once a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, jsonify, render_template, request
from markupsafe import Markup
from sqlalchemy import select

from aloft.api.status import current_status
from aloft.extensions import db
from aloft.models import Monitor, Organization, utcnow
from aloft.models.monitor import STATUSES
from aloft.stats.overview import Glance, glances
from aloft.web.access import signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.charts import sparkline
from aloft.web.display import STATUS_ORDER, percent_text
from aloft.web.viewer import current_viewer

#: Sort keys the table offers: query value → (label, key function on a row).
SORTS: dict[str, tuple[str, Any]] = {
    "status": ("Status", lambda row: (STATUS_ORDER[row.status], row.name.casefold())),
    "name": ("Name", lambda row: row.name.casefold()),
    "type": ("Type", lambda row: (row.type, row.name.casefold())),
    "checked": ("Last check", lambda row: row.last_checked_at.timestamp() if row.last_checked_at else 0.0),
    "uptime24h": ("Uptime 24 h", lambda row: -1.0 if row.uptime24h is None else row.uptime24h),
    "uptime30d": ("Uptime 30 d", lambda row: -1.0 if row.uptime30d is None else row.uptime30d),
}


@dataclass(frozen=True)
class Row:
    id: str
    name: str
    type: str
    target: str
    status: str
    last_checked_at: datetime | None
    uptime24h: float | None
    uptime30d: float | None
    spark: Markup


@dataclass(frozen=True)
class Filters:
    status: str
    type: str
    text: str
    sort: str
    descending: bool

    @classmethod
    def from_query(cls, args: Any) -> Filters:
        status = args.get("status", "")
        sort = args.get("sort", "status")
        return cls(
            status=status if status in STATUSES else "",
            type=args.get("type", "")[:64],
            text=args.get("q", "").strip()[:200],
            sort=sort if sort in SORTS else "status",
            descending=args.get("order") == "desc",
        )

    def keeps(self, row: Row) -> bool:
        if self.status and row.status != self.status:
            return False
        if self.type and row.type != self.type:
            return False
        wanted = self.text.casefold()
        return not wanted or wanted in row.name.casefold() or wanted in row.target.casefold()

    def sort_link(self, key: str) -> dict[str, str]:
        """The query string that sorts by ``key``: the other way round if it is the current sort."""
        order = "desc" if key == self.sort and not self.descending else "asc"
        query = {"status": self.status, "type": self.type, "q": self.text, "sort": key, "order": order}
        return {name: value for name, value in query.items() if value}


def monitor_rows(org_id: str, now: datetime) -> list[Row]:
    """Every monitor of the organization with its last 24 hours and 30 days, in three queries."""
    recent = glances(db.session, org_id, now)
    nothing = Glance()
    rows = []
    for monitor_id, name, kind, url, status, last_checked_at in db.session.execute(
        select(Monitor.id, Monitor.name, Monitor.type, Monitor.url, Monitor.status, Monitor.last_checked_at).where(
            Monitor.org_id == org_id
        )
    ):
        glance = recent.get(monitor_id, nothing)
        rows.append(
            Row(
                monitor_id,
                name,
                kind,
                url or "",
                status,
                last_checked_at,
                glance.uptime24h,
                glance.uptime30d,
                sparkline(glance.hourly_latency),
            )
        )
    return rows


def state_version(org_id: str) -> int:
    return db.session.scalar(select(Organization.state_version).where(Organization.id == org_id)) or 0


@bp.get("/")
def dashboard() -> Any:
    if current_viewer() is None:
        return render_template("signed_out.html"), 200
    return show_dashboard()


@signed_in_page
def show_dashboard() -> str:
    org_id = viewer().org_id
    # Read the version first: whatever is built after it is at least that new.
    version = state_version(org_id)
    filters = Filters.from_query(request.args)
    now = utcnow()
    rows = monitor_rows(org_id, now)
    types = sorted({row.type for row in rows})
    shown = sorted((row for row in rows if filters.keeps(row)), key=SORTS[filters.sort][1], reverse=filters.descending)
    status = current_status(org_id)
    return render_template(
        "dashboard.html",
        version=version,
        rows=shown,
        total=len(rows),
        types=types,
        filters=filters,
        sorts=SORTS,
        counts=status["counts"],
        open_incidents=status["openIncidents"],
        percent=percent_text,
        now=now,
    )


@bp.get("/dashboard/changes")
@signed_in_page
def dashboard_changes() -> Response:
    """204 while the organization's state version is ``since``; otherwise the new version."""
    version = state_version(viewer().org_id)
    if request.args.get("since") == str(version):
        return Response(status=204)
    return jsonify({"version": version})
