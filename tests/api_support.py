"""Small helpers the API tests share: building monitors and channels the way users do."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from aloft.extensions import db
from aloft.models import Channel, Organization

SITE = {"name": "My site", "type": "http", "url": "https://example.com"}
#: A Slack channel whose webhook nothing answers (a closed port on this machine).
SLACK = {"name": "ops", "type": "slack", "config": {"webhookUrl": "http://127.0.0.1:9/hooks/ops"}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_monitor(client: FlaskClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/monitors", json={**SITE, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["monitor"]


def add_channel(organization: Organization, name: str = "ops") -> Channel:
    channel = Channel(org_id=organization.id, name=name, type="slack", config=dict(SLACK["config"]))
    db.session.add(channel)
    db.session.commit()
    return channel


def stored() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, read on a connection of its own: equal before and after a
    request when it stored nothing. A key's ``lastUsedAt`` is left out: using a key is not storing."""
    rows = {}
    with db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            columns = [column for column in table.columns if (table.name, column.name) != ("api_keys", "last_used_at")]
            rows[table.name] = sorted(map(tuple, connection.execute(select(*columns)).all()), key=repr)
    return rows
