"""Small helpers the API tests share: building monitors and channels the way users do."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from aloft.extensions import db
from aloft.models import Channel, Organization

SITE = {"name": "My site", "type": "http", "url": "https://example.com"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_monitor(client: FlaskClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/monitors", json={**SITE, **fields}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["monitor"]


def add_channel(organization: Organization, name: str = "ops") -> Channel:
    channel = Channel(org_id=organization.id, name=name, type="slack", config={})
    db.session.add(channel)
    db.session.commit()
    return channel
