"""The dashboard: every monitor at a glance, kept current by a poll that costs next to nothing when nothing changed.

The page carries the organization's state version (bumped by database triggers whenever a
monitor's status or name, or an incident, changes: migration 0003). The browser asks
``/dashboard/changes?since=<version>`` every few seconds; the answer is 204 while the version
is the same (one primary-key read), and then the script fetches the page again and swaps it
in. Uptime and response times move with every check without changing the version, so the
script also refreshes the page once a minute.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, current_app, jsonify, render_template, request
from markupsafe import Markup, escape
from sqlalchemy import case, select

from aloft.api.status import current_status
from aloft.extensions import db
from aloft.models import Monitor, Organization, utcnow
from aloft.models.monitor import STATUSES
from aloft.people import session_state_version
from aloft.stats.overview import Glance, glances
from aloft.web.access import signed_in_page, viewer
from aloft.web.blueprint import bp
from aloft.web.charts import sparkline
from aloft.web.display import STATUS_LABELS, STATUS_ORDER, percent_text, short_when
from aloft.web.passive import schedule_text
from aloft.web.viewer import current_viewer

#: Sort keys the table offers: query value → (label, key function on a row).
SORTS: dict[str, tuple[str, Any]] = {
    "status": ("Status", lambda row: (STATUS_ORDER[row.status], row.name.casefold())),
    "name": ("Name", lambda row: row.name.casefold()),
    "type": ("Type", lambda row: (row.type, row.name.casefold())),
    "checked": ("Last check", lambda row: row.last_seen_at.timestamp() if row.last_seen_at else 0.0),
    "uptime24h": ("Uptime 24 h", lambda row: -1.0 if row.uptime24h is None else row.uptime24h),
    "uptime30d": ("Uptime 30 d", lambda row: -1.0 if row.uptime30d is None else row.uptime30d),
}


@dataclass(frozen=True)
class Row:
    """A monitor as the table shows it."""

    id: str
    name: str
    type: str
    #: What it checks (its URL), or for a passive monitor when it expects runs.
    target: str
    status: str
    #: Its last check, or for a passive monitor (which is not checked) its last ping.
    last_seen_at: datetime | None
    passive: bool
    uptime24h: float | None
    uptime30d: float | None
    spark: Markup

    def html(self) -> str:
        """The row's markup, every value escaped. Written here rather than in the template: a thousand rows
        of a Jinja loop cost 40 ms, these 5 ms (bench/web_bench.py)."""
        symbol, word = STATUS_LABELS[self.status]
        return (
            f"<tr><td class=s-{self.status}>{symbol} {word}<td><a href=/monitors/{escape(self.id)}>"
            f"{escape(self.name)}</a><td>{escape(self.type)}<td>{escape(self.target)}"
            f"<td>{self.last_seen_html()}<td>{percent_text(self.uptime24h)}"
            f"<td>{percent_text(self.uptime30d)}<td>{self.spark}"
        )

    def last_seen_html(self) -> str:
        if not self.passive:
            return short_when(self.last_seen_at, seconds=False)
        if self.last_seen_at is None:
            return "no ping yet"
        return f"last ping {short_when(self.last_seen_at, seconds=False)}"


class GlanceCache:
    """Each organization's glances (uptimes and sparklines), reused for up to a minute.

    They move only as checks land, by a fraction of a percent and a point of a two-hour average;
    reading them costs 100 ms on SQLite for 1,000 monitors (bench/web_bench.py), so a dashboard
    left open by a team reads them once a minute per web worker, not on every refresh. Status,
    names and last checks are always read fresh.
    """

    SECONDS = 60.0
    MAX_ORGANIZATIONS = 256

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, dict[str, tuple[Glance, Markup]]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, org_id: str, now: datetime) -> dict[str, tuple[Glance, Markup]]:
        with self._lock:
            entry = self._entries.get(org_id)
        if entry is not None and time.monotonic() - entry[0] < self.SECONDS:
            return entry[1]
        fresh = {key: (glance, sparkline(glance.latency)) for key, glance in glances(db.session, org_id, now).items()}
        with self._lock:
            self._entries[org_id] = (time.monotonic(), fresh)
            self._entries.move_to_end(org_id)
            while len(self._entries) > self.MAX_ORGANIZATIONS:
                self._entries.popitem(last=False)
        return fresh


def glance_cache() -> GlanceCache:
    return current_app.extensions.setdefault("aloft.glance_cache", GlanceCache())


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
    """Every monitor of the organization with its last 24 hours and 30 days."""
    recent = glance_cache().get(org_id, now)
    nothing = (Glance(), sparkline([]))
    rows = []
    passive = Monitor.ping_token.is_not(None)
    for monitor_id, name, kind, url, status, last_seen_at, is_passive, interval, settings in db.session.execute(
        select(
            Monitor.id,
            Monitor.name,
            Monitor.type,
            Monitor.url,
            Monitor.status,
            case((passive, Monitor.last_ping_at), else_=Monitor.last_checked_at),
            passive,
            Monitor.interval_seconds,
            # Only a passive monitor's settings (its schedule): a thousand monitors' would cost milliseconds.
            case((passive, Monitor.settings)),
        ).where(Monitor.org_id == org_id)
    ):
        glance, spark = recent.get(monitor_id, nothing)
        target = schedule_text(settings, interval) if is_passive else url or ""
        rows.append(
            Row(
                monitor_id,
                name,
                kind,
                target,
                status,
                last_seen_at,
                bool(is_passive),
                glance.uptime24h,
                glance.uptime30d,
                spark,
            )
        )
    return rows


def state_version(org_id: str) -> int:
    return db.session.scalar(select(Organization.state_version).where(Organization.id == org_id)) or 0


@bp.get("/")
def dashboard() -> Any:
    if current_viewer() is None:
        return render_template("sign_in.html", next=request.args.get("next"))
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
        table=Markup("".join(row.html() for row in shown)),
        total=len(rows),
        types=types,
        filters=filters,
        sorts=SORTS,
        counts=status["counts"],
        open_incidents=status["openIncidents"],
        now=now,
    )


@bp.get("/dashboard/changes")
def dashboard_changes() -> Response:
    """204 while the organization's state version is ``since``; otherwise the new version (401: signed out).

    One indexed read of the browser session (which names the organization it works in; leaving an
    organization ends the person's sessions) joined to the organization's version.
    """
    found = session_state_version()
    if found is None:
        return Response(status=401)
    _org_id, version = found
    if request.args.get("since") == str(version):
        return Response(status=204)
    return jsonify({"version": version})
