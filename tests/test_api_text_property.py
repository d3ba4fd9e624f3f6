"""Any text in any string input of any operation: never a 5xx, and a 4xx stores nothing.

The inputs come from the app itself: every path parameter, string query parameter and
string body field (and the keys and values of free-form objects) of every operation in its
OpenAPI document, and every path parameter of the routes outside it (the heartbeat ingest,
the docs assets). A new operation or field is fuzzed as soon as it exists; the one list kept
here is a valid body per operation to put the text into, and the test fails when one is
missing. Derandomized: the same text every run, so a red run is a regression.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
from api_support import SITE, SLACK, body_fields, create_monitor, operations, stored
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aloft.app import create_app
from aloft.checks import CheckResult
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.models import Incident, Membership, User
from aloft.people import invites
from aloft.testing import issue_key, make_settings

#: A valid body per operation that takes one: the text goes into one field of it at a time.
BODIES = {
    ("post", "/api/v1/monitors"): SITE,
    ("put", "/api/v1/monitors/{monitor_id}"): SITE,
    ("patch", "/api/v1/monitors/{monitor_id}"): {"name": "renamed"},
    ("post", "/api/v1/channels"): SLACK,
    ("put", "/api/v1/channels/{channel_id}"): SLACK,
    ("patch", "/api/v1/channels/{channel_id}"): {"name": "renamed"},
    ("post", "/api/v1/keys"): {"name": "deploy"},
    ("patch", "/api/v1/members/{member_id}"): {"role": "member"},
    ("post", "/api/v1/invites"): {"email": "new@example.com"},
    ("patch", "/api/v1/organization"): {"name": "Acme"},
    ("patch", "/api/v1/profile"): {"name": "Ada"},
    ("post", "/api/v1/profile/password"): {"currentPassword": "not the password", "newPassword": "x"},
}
#: Text every input gets, besides what Hypothesis makes up.
NASTY = [
    "",
    "\x00",
    "\ud800",
    " ",
    "\r\n",
    "..",
    "[" * 2500,
    "f" * 46,
    "9999-12-31T23:59:59-14:00",
    "00000000-0000-0000-0000-000000000000",
    "x" * 3000,
]
CHARACTERS = st.one_of(st.characters(), st.integers(0xD800, 0xDFFF).map(chr))
TEXT = st.text(alphabet=CHARACTERS, max_size=60)
EXAMPLES = 6
ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Target:
    """One string input of one operation: where the text goes."""

    method: str
    path: str
    location: str  # path, query, body, body-item, body-key, body-value
    name: str

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} {self.location} {self.name}"


def is_text(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type", [])
    return "string" in (kinds if isinstance(kinds, list) else [kinds])


def documented_targets(spec: dict[str, Any]) -> list[Target]:
    targets = []
    for method, path, parameters, body in operations(spec):
        for parameter in parameters:
            if parameter["in"] == "path" or is_text(parameter["schema"]):
                targets.append(Target(method, path, parameter["in"], parameter["name"]))
        if body is None:
            continue
        assert (method, path) in BODIES, f"no valid body for {method.upper()} {path}: add one to BODIES"
        for name, field in body_fields(spec, body).items():
            if is_text(field):
                targets.append(Target(method, path, "body", name))
            elif field.get("type") == "array" and is_text(field.get("items", {})):
                targets.append(Target(method, path, "body-item", name))
            elif field.get("type") == "object":
                targets += [Target(method, path, "body-key", name), Target(method, path, "body-value", name)]
    return targets


def undocumented_targets(app, spec: dict[str, Any]) -> list[Target]:
    """Path parameters of the routes the OpenAPI document leaves out (the ingest, the docs assets)."""
    targets = []
    for rule in app.url_map.iter_rules():
        path = ARGUMENT.sub(r"{\1}", rule.rule)
        if path in spec["paths"] or rule.endpoint == "static":
            continue
        method = min(rule.methods - {"HEAD", "OPTIONS"})  # they share the view: one method is enough
        targets += [Target(method.lower(), path, "path", name) for name in ARGUMENT.findall(rule.rule)]
    return targets


def encoded(text: str) -> str:
    """``text`` percent-encoded as UTF-8 (a lone surrogate as the bytes it would be)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def request(client, target: Target, text: str, ids: dict[str, str], headers: dict[str, str]):
    values = {
        name: encoded(text) if (target.location, target.name) == ("path", name) else value
        for name, value in ids.items()
    }
    url = re.sub(r"{(\w+)}", lambda match: values.get(match[1], "x"), target.path)
    if target.location == "query":
        url += f"?{target.name}={encoded(text)}"
    body = dict(BODIES.get((target.method, target.path), {}))
    if target.location == "body":
        body[target.name] = text
    elif target.location == "body-item":
        body[target.name] = [text]
    elif target.location == "body-key":
        body[target.name] = {text: "x"}
    elif target.location == "body-value":
        body[target.name] = {"key": text}
    data = json.dumps(body) if (target.method, target.path) in BODIES else None
    return client.open(url, method=target.method.upper(), data=data, content_type="application/json", headers=headers)


@pytest.fixture
def objects(app, client, org, auth_headers):
    """One object of each kind, for the path parameters the text does not replace."""
    monitor = create_monitor(client, auth_headers)
    channel = client.post("/api/v1/channels", json=SLACK, headers=auth_headers).json["channel"]
    record_many(db.session, [(monitor["id"], 1_800_000_000_000 + n * 60_000, CheckResult(False)) for n in range(2)])
    db.session.commit()
    spare_key, _ = issue_key(app, org, "spare")
    member = Membership(org_id=org.id, user=User(email="member@example.com"), role="member")
    invite, _url, _emailed = invites.invite(org, "invited@example.com", "member", None)
    db.session.add(member)
    db.session.commit()
    return {
        "member_id": member.id,
        "invite_id": invite.id,
        "monitor_id": monitor["id"],
        "channel_id": channel["id"],
        "incident_id": db.session.scalar(select(Incident.id)),
        "key_id": spare_key.id,
        "token": "A" * 32,
        "filename": "swagger-ui.css",
    }


class Probe:
    """Sends a text to a target and checks the answer, knowing what was stored before it."""

    def __init__(self, client, ids: dict[str, str], headers: dict[str, str]) -> None:
        self.client, self.ids, self.headers = client, ids, headers
        self.rows = stored()

    def __call__(self, target: Target, text: str) -> None:
        response = request(self.client, target, text, self.ids, self.headers)
        assert response.status_code < 500, (str(target), text, response.get_data(as_text=True))
        rows = stored()
        if 400 <= response.status_code < 500:
            assert rows == self.rows, (str(target), text, response.status_code, response.json)
        self.rows = rows


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXT)
def probe_any_text(probe: Probe, target: Target, text: str) -> None:
    probe(target, text)


def test_no_text_in_any_input_is_a_5xx_and_a_4xx_stores_nothing(tmp_path, aloft_database_url, app, objects, token):
    fuzzed = create_app(make_settings(tmp_path, aloft_database_url, ALOFT_RATE_LIMIT="1000000"))
    client = fuzzed.test_client()
    spec = client.get("/api/v1/openapi.json").json
    targets = documented_targets(spec) + undocumented_targets(fuzzed, spec)
    assert {target.location for target in targets} >= {"path", "query", "body", "body-item", "body-key"}
    assert {(target.method, target.path) for target in targets} >= set(BODIES)
    probe = Probe(client, objects, {"Authorization": f"Bearer {token}"})
    for target in targets:
        for text in NASTY:
            probe(target, text)
        probe_any_text(probe, target)
