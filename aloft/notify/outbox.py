"""The outbox: a state change writes one delivery per channel of its monitor, in the same transaction.

Nothing is sent here. The process that committed the change hands the new deliveries to
its sender at once; if that process dies or cannot send, the sweeper finds them pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from aloft.channels import Notification, NotificationKind
from aloft.engine.statements import among
from aloft.models import Channel, Delivery, Monitor, monitor_channels, new_id, utcnow

#: A delivery nobody has sent this long after it was written is picked up by the sweeper.
SWEEP_AFTER = timedelta(seconds=15)


def monitor_link(base_url: str, monitor_id: str) -> str:
    """Where a person reads about the monitor: a page, not the API (which needs a key)."""
    return f"{base_url}/monitors/{monitor_id}"


def write_deliveries(
    session: Session,
    notifications: Sequence[Notification],
    *,
    org_ids: dict[str, str],
    swept_after: timedelta | None,
) -> list[str]:
    """One pending delivery per notification and channel of its monitor; returns their ids.

    ``org_ids`` maps each monitor to its organization (a channel of another organization
    is never used, whatever the link table says). The sweeper sends a delivery nobody has
    sent ``swept_after`` after it was written (None: at its next sweep).
    """
    monitor_ids = {notification.monitor_id for notification in notifications}
    if not monitor_ids:
        return []
    channels: dict[str, list[str]] = {}
    for monitor_id, channel_id, org_id in session.execute(
        select(monitor_channels.c.monitor_id, Channel.id, Channel.org_id)
        .join(Channel, Channel.id == monitor_channels.c.channel_id)
        .where(among(session, monitor_channels.c.monitor_id, monitor_ids))
    ):
        if org_ids.get(monitor_id) == org_id:
            channels.setdefault(monitor_id, []).append(channel_id)
    now = utcnow()
    rows = [
        {
            "id": new_id(),
            "channel_id": channel_id,
            "incident_id": notification.incident_id,
            "monitor_id": notification.monitor_id,
            "event": notification.kind,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now + (swept_after or timedelta(0)),
            "payload": notification.as_json(),
            "created_at": now,
        }
        for notification in notifications
        for channel_id in sorted(channels.get(notification.monitor_id, []))
    ]
    if rows:
        session.execute(insert(Delivery), rows)
    return [row["id"] for row in rows]


def incident_notification(
    kind: NotificationKind,
    *,
    at: datetime,
    monitor: Monitor | tuple[str, str, str, str | None],
    base_url: str,
    incident_id: str,
    cause: str,
    started_at: datetime,
    resolved_at: datetime | None = None,
    acknowledged_by: str | None = None,
    resolved_by: str | None = None,
) -> Notification:
    """The notification about an incident of ``monitor`` (a Monitor, or its id, name, type and url)."""
    if isinstance(monitor, Monitor):
        monitor_id, name, monitor_type, url = monitor.id, monitor.name, monitor.type, monitor.url
    else:
        monitor_id, name, monitor_type, url = monitor
    return Notification(
        kind=kind,
        at=at,
        monitor_id=monitor_id,
        monitor_name=name,
        monitor_type=monitor_type,
        monitor_target=url,
        link=monitor_link(base_url, monitor_id),
        incident_id=incident_id,
        cause=cause,
        started_at=started_at,
        resolved_at=resolved_at,
        acknowledged_by=acknowledged_by,
        resolved_by=resolved_by,
    )
