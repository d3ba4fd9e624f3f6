"""The monitor form: its type-specific fields come from each check type's settings schema, a plugin's included."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from people_support import person
from people_support import sign_in as people_sign_in
from web_support import csrf

import aloft.app
from aloft.app import create_app
from aloft.config import Settings
from aloft.extensions import db
from aloft.models import Monitor, Organization
from aloft.plugins import load_plugins

EXAMPLE_PLUGIN = Path(__file__).parent / "example_plugin"


@pytest.fixture
def app(aloft_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with the example plugin (json-field) loaded beside the installed ones, as if pip-installed."""
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN))
    import aloft_json_field

    monkeypatch.setattr(aloft.app, "load_plugins", lambda disabled: load_plugins(disabled, extra=[aloft_json_field]))
    application = create_app(aloft_settings)
    application.testing = True
    with application.app_context():
        yield application
        db.session.remove()
        from aloft.testing import empty_database

        empty_database()
        db.engine.dispose()
    sys.modules.pop("aloft_json_field", None)


@pytest.fixture
def member(client: FlaskClient, org: Organization) -> FlaskClient:
    person(org, "member")
    assert people_sign_in(client).status_code == 302
    return client


def post(client: FlaskClient, path: str, **fields: str | list[str]) -> object:
    return client.post(path, data={"csrf_token": csrf(client, path), **fields})


def test_a_plugins_settings_are_fields_of_the_form(member: FlaskClient) -> None:
    page = member.get("/monitors/new").get_data(as_text=True)
    assert 'data-type-fields="json-field"' in page
    assert 'name="settings.json-field.field"' in page and 'name="settings.json-field.equals"' in page
    assert 'name="settings.json-field.ignoreStatus"' in page and 'type="checkbox"' in page
    assert '<label for="s-json-field-field">Field <span class="muted">(required)</span></label>' in page
    assert 'name="settings.http.method"' in page and "<option selected>GET</option>" in page


def test_a_monitor_of_a_plugins_type_is_created_through_the_form(member: FlaskClient) -> None:
    answer = post(
        member,
        "/monitors/new",
        name="Health",
        type="json-field",
        url="https://api.example.com/health",
        intervalSeconds="60",
        **{"settings.json-field.field": "checks.0.status", "settings.json-field.equals": '"ok"'},
        **{"settings.http.method": "POST"},  # another type's field: not read
    )
    assert answer.status_code == 302
    monitor = db.session.scalar(db.select(Monitor))
    assert (monitor.type, monitor.interval_seconds) == ("json-field", 60)
    assert monitor.settings == {"field": "checks.0.status", "equals": "ok", "ignoreStatus": False}
    assert answer.headers["Location"] == f"/monitors/{monitor.id}"


def test_the_apis_messages_show_beside_the_fields(member: FlaskClient) -> None:
    answer = post(
        member,
        "/monitors/new",
        name="",
        type="json-field",
        url="https://api.example.com/health",
        intervalSeconds="5",
        **{"settings.json-field.field": "a..b"},
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<p class="error" id="intervalSeconds-error">Must be greater than or equal to 10' in page
    assert 'id="name-error">' in page
    assert 'value="a..b"' in page  # what was typed stays
    # The API checks a type's settings once the general fields are right; so does the form.
    answer = post(
        member,
        "/monitors/new",
        name="Health",
        type="json-field",
        url="https://api.example.com/health",
        **{"settings.json-field.field": "a..b"},
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="s-json-field-field-error">Must be keys joined by dots' in page
    assert 'id="s-json-field-equals-error">Missing data for required field.' in page
    assert 'aria-describedby="s-json-field-field-error"' in page
    assert db.session.scalar(db.select(Monitor)) is None


def test_an_http_monitor_gets_its_lists_and_headers_from_text(member: FlaskClient) -> None:
    post(
        member,
        "/monitors/new",
        name="Shop",
        type="http",
        url="https://shop.example.com",
        **{
            "settings.http.expectedStatusCodes": "200-299, 418",
            "settings.http.headers": "X-Probe: aloft\nAccept: text/html",
            "settings.http.verifyTls": "on",
        },
    )
    monitor = db.session.scalar(db.select(Monitor))
    assert monitor.settings["expectedStatusCodes"] == ["200-299", "418"]
    assert monitor.settings["headers"] == {"X-Probe": "aloft", "Accept": "text/html"}
    assert monitor.settings["verifyTls"] is True and monitor.settings["followRedirects"] is False


def test_editing_shows_the_stored_values_and_saves_changes(member: FlaskClient, auth_headers) -> None:
    created = member.post(
        "/api/v1/monitors",
        json={"name": "Cron", "type": "heartbeat", "settings": {"graceSeconds": 120}},
        headers=auth_headers,
    ).json["monitor"]
    edit = f"/monitors/{created['id']}/edit"
    page = member.get(edit).get_data(as_text=True)
    assert 'value="Cron"' in page and 'name="settings.heartbeat.graceSeconds" value="120"' in page
    assert post(member, edit, name="Nightly cron", type="heartbeat", **{"settings.heartbeat.graceSeconds": "30"})
    monitor = db.session.get(Monitor, created["id"])
    db.session.refresh(monitor)
    assert (monitor.name, monitor.settings) == ("Nightly cron", {"graceSeconds": 30})


def test_a_viewer_gets_no_form_and_cannot_post_one(client: FlaskClient, org: Organization) -> None:
    person(org, "viewer")
    people_sign_in(client)
    assert client.get("/monitors/new").status_code == 403
    token = csrf(client, "/")
    answer = client.post("/monitors/new", data={"csrf_token": token, "name": "x", "type": "tcp", "url": "x:1"})
    assert answer.status_code == 403
    assert db.session.scalar(db.select(Monitor)) is None


def test_a_heartbeat_on_a_cron_schedule_is_created_through_the_form(member: FlaskClient) -> None:
    page = member.get("/monitors/new?type=heartbeat").get_data(as_text=True)
    assert '<input id="s-heartbeat-schedule" name="settings.heartbeat.schedule" value="">' in page  # text, not JSON
    assert 'name="settings.heartbeat.timezone"' in page and 'name="settings.heartbeat.graceSeconds" value="60"' in page
    assert "it expects a run this often, unless its settings give a cron schedule" in page
    answer = post(
        member,
        "/monitors/new",
        name="Nightly backup",
        type="heartbeat",
        **{
            "settings.heartbeat.schedule": "30 2 * * *",
            "settings.heartbeat.timezone": "Europe/Berlin",
            "settings.heartbeat.graceSeconds": "600",
        },
    )
    assert answer.status_code == 302
    monitor = db.session.scalar(db.select(Monitor))
    assert monitor.settings == {"schedule": "30 2 * * *", "timezone": "Europe/Berlin", "graceSeconds": 600}
    assert monitor.ping_token is not None and monitor.next_deadline_at is not None
    assert (monitor.next_deadline_at.minute, monitor.next_deadline_at.second) == (40, 0)  # 02:30 in Berlin + 10 min
    edit = member.get(f"/monitors/{monitor.id}/edit").get_data(as_text=True)
    assert 'name="settings.heartbeat.schedule" value="30 2 * * *"' in edit  # as typed, not quoted as JSON
    page = member.get(answer.headers["Location"]).get_data(as_text=True)
    assert '<span id="schedule">cron 30 2 * * * (Europe/Berlin)</span>, with a grace of 10m 0s' in page


def test_a_bad_cron_expression_or_time_zone_shows_the_apis_message_beside_its_field(member: FlaskClient) -> None:
    fields = {"name": "Nightly backup", "type": "heartbeat"}
    answer = post(member, "/monitors/new", **fields, **{"settings.heartbeat.schedule": "61 * * * *"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<p class="error" id="s-heartbeat-schedule-error">Not a cron expression croniter understands: ' in page
    assert 'aria-describedby="s-heartbeat-schedule-error"' in page and 'value="61 * * * *"' in page
    answer = post(
        member,
        "/monitors/new",
        **fields,
        **{"settings.heartbeat.schedule": "every day", "settings.heartbeat.timezone": "Mars/Olympus"},
    )
    page = answer.get_data(as_text=True)
    assert 'id="s-heartbeat-schedule-error">Must be a cron expression of five fields' in page
    assert 'id="s-heartbeat-timezone-error">Unknown time zone &#39;Mars/Olympus&#39;' in page
    assert db.session.scalar(db.select(Monitor)) is None


def test_clearing_a_heartbeats_schedule_in_the_form_expects_runs_every_interval_again(
    member: FlaskClient, auth_headers
) -> None:
    created = member.post(
        "/api/v1/monitors",
        json={"name": "Cron", "type": "heartbeat", "settings": {"schedule": "0 * * * *"}},
        headers=auth_headers,
    ).json["monitor"]
    edit = f"/monitors/{created['id']}/edit"
    answer = post(
        member, edit, name="Cron", type="heartbeat", intervalSeconds="600", **{"settings.heartbeat.schedule": ""}
    )
    assert answer.status_code == 302
    monitor = db.session.get(Monitor, created["id"])
    db.session.refresh(monitor)
    assert (monitor.interval_seconds, monitor.settings) == (600, {"graceSeconds": 60})
