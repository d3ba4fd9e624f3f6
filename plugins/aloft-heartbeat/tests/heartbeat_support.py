"""What the heartbeat tests share: creating heartbeat monitors the way users do, their ping paths,
moving a monitor's clock, and sweeping deadlines as the scheduler does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from aloft.engine.heartbeats import sweep_deadlines
from aloft.engine.jobs import BatchReport
from aloft.extensions import db
from aloft.models import Incident, Monitor, Ping, utcnow

HEARTBEAT = {"name": "Nightly backup", "type": "heartbeat", "intervalSeconds": 300, "confirmationCount": 1}


def create_heartbeat(client: FlaskClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/monitors", json={**HEARTBEAT, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["monitor"]


def ping_path(monitor: dict[str, Any]) -> str:
    """The path of a monitor's ping URL, for the test client."""
    return urlsplit(monitor["pingUrl"]).path


def token_of(monitor: dict[str, Any]) -> str:
    return ping_path(monitor).rsplit("/", 1)[1]


def travel(monitor_id: str, **ago: float) -> None:
    """Move everything the monitor awaits and remembers into the past, as if ``ago`` (timedelta
    arguments) had passed since: its deadline, its pings, its token's issue, its first result, its incidents."""
    delta = timedelta(**ago)
    monitor = db.session.get(Monitor, monitor_id)
    db.session.refresh(monitor)
    remembered = ("next_deadline_at", "last_ping_at", "last_started_at", "last_checked_at", "ping_token_issued_at")
    for name in (*remembered, "first_result_at"):
        if getattr(monitor, name) is not None:
            setattr(monitor, name, getattr(monitor, name) - delta)
    for ping in db.session.scalars(select(Ping).where(Ping.monitor_id == monitor_id)):
        ping.received_at -= delta
    for incident in db.session.scalars(select(Incident).where(Incident.monitor_id == monitor_id)):
        incident.started_at -= delta
        if incident.resolved_at is not None:
            incident.resolved_at -= delta
    db.session.commit()


def sweep(now: datetime | None = None) -> BatchReport:
    """Record the deadlines that have passed by ``now`` (default: now), as the scheduler's next tick does."""
    check_types = current_app.extensions["aloft.plugins"].check_types
    report, _ = sweep_deadlines(db.session, check_types, now or utcnow())
    return report
