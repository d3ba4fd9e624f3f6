"""What the heartbeat tests share: creating heartbeat monitors the way users do, and their ping paths."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient

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
