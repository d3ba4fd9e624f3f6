"""E-mail channels through the API: recipients validated; refused while the server has no SMTP relay."""

from aloft.app import create_app
from aloft.extensions import db
from aloft.models import Organization
from aloft.testing import issue_key, make_settings


def create(client, headers, config):
    return client.post("/api/v1/channels", json={"name": "Ops", "type": "email", "config": config}, headers=headers)


def test_recipients_are_required_and_must_be_addresses(client, auth_headers):
    for config, path in [
        ({}, ["config", "to"]),
        ({"to": []}, ["config", "to"]),
        ({"to": ["not an address"]}, ["config", "to", 0]),
        ({"to": ["ops@example.com"], "cc": ["x@example.com"]}, ["config", "cc"]),
    ]:
        response = create(client, auth_headers, config)
        assert response.status_code == 400, config
        assert path in [issue["path"] for issue in response.json["issues"]], response.json
    created = create(client, auth_headers, {"to": ["ops@example.com"]})
    assert created.status_code == 201 and created.json["channel"]["config"] == {"to": ["ops@example.com"]}


def test_a_server_without_an_smtp_relay_refuses_email_channels_naming_what_is_missing(tmp_path, aloft_database_url):
    app = create_app(make_settings(tmp_path / "bare", aloft_database_url))
    with app.app_context():
        organization = Organization(slug="bare", name="Bare")
        db.session.add(organization)
        db.session.commit()
        headers = {"Authorization": "Bearer " + issue_key(app, organization)[1]}
        response = create(app.test_client(), headers, {"to": ["ops@example.com"]})
        db.session.delete(organization)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert response.status_code == 400
    (issue,) = response.json["issues"]
    assert issue["path"] == ["type"]
    assert issue["message"] == (
        "This server cannot send email notifications: ALOFT_SMTP_FROM is not set; ALOFT_SMTP_HOST is not set"
    )
