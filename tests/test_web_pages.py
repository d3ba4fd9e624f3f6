"""What a person finds without a key: `/` leads to the API docs, a notification's link to a page they can read."""

from urllib.parse import urlsplit

from api_support import SLACK, create_monitor
from sqlalchemy import select

from aloft.checks import CheckResult
from aloft.engine.jobs import load_targets, record_outcomes
from aloft.extensions import db
from aloft.models import Delivery

SLOT = 1_800_000_000_000


def test_the_root_is_the_sign_in_page_until_someone_signs_in(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'action="/signin"' in response.get_data(as_text=True)


def test_a_notifications_link_opens_a_page_that_needs_no_key_and_shows_nothing_of_the_monitor(client, auth_headers):
    channel = client.post("/api/v1/channels", json=SLACK, headers=auth_headers).json["channel"]
    monitor = create_monitor(client, auth_headers, name="Secret shop", confirmationCount=1, channelIds=[channel["id"]])
    (target,) = load_targets([monitor["id"]])
    db.session.rollback()
    record_outcomes([(target, SLOT, CheckResult(ok=False, cause="HTTP 503"))])
    link = db.session.scalar(select(Delivery.payload)).get("link")
    assert urlsplit(link).path == f"/monitors/{monitor['id']}"

    page = client.get(urlsplit(link).path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert f"http://localhost:8000/api/v1/monitors/{monitor['id']}" in text
    assert 'href="/api/v1/docs"' in text
    assert "Secret shop" not in text and "example.com" not in text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_an_incidents_page_says_how_to_read_it_with_the_api(client):
    text = client.get("/incidents/3f1c").get_data(as_text=True)
    assert "Aloft incident 3f1c" in text
    assert "http://localhost:8000/api/v1/incidents/3f1c" in text


def test_a_page_shows_the_id_in_its_url_as_text(client):
    text = client.get('/monitors/<img src=x onerror="alert(1)">').get_data(as_text=True)
    assert "<img" not in text and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in text
