"""Small helpers the API tests share: building monitors and channels the way users do."""

from __future__ import annotations

from collections.abc import Iterator
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


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, list[dict[str, Any]], dict[str, Any] | None]]:
    """Each operation of an OpenAPI document: its method, path, parameters (the path's and its
    own) and the component schema of its JSON body, if it takes one."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
            body = None
            if "requestBody" in operation:
                reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                body = spec["components"]["schemas"][reference.rsplit("/", 1)[1]]
            yield method, path, parameters, body


def body_fields(spec: dict[str, Any], body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The properties a body schema may have; for one described per type (a ``oneOf`` of
    variants), those of every variant, each as the first variant that defines it inline has it."""
    variants = [spec["components"]["schemas"][item["$ref"].rsplit("/", 1)[1]] for item in body.get("oneOf", [])]
    fields: dict[str, dict[str, Any]] = {}
    for schema in variants or [body]:
        for name, rule in schema.get("properties", {}).items():
            if name not in fields or "$ref" in fields[name]:
                fields[name] = rule
    return fields
