"""The web UI in a real browser: Debian's Chromium driven by Playwright, offline but for 127.0.0.1.

Every request a page makes to any other host is refused and fails the test, as does a script
error or a load the Content-Security-Policy refused: every asset is Aloft's own. Each page
visited is saved as a screenshot in the test's temporary directory.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from api_support import bearer, create_monitor
from flask import Flask
from people_support import PASSWORD, person
from web_support import record

from aloft.checks import CheckResult
from aloft.extensions import db
from aloft.models import Membership, Organization, User
from aloft.people.links import new_link
from aloft.testing import issue_key, unavailable

CHROMIUM = "/usr/bin/chromium"  # Debian's package; the project never downloads a browser
#: Generous: the machine running the suite may be busy. The dashboard polls every 5 s.
WAIT_MS = 30_000

pytestmark = pytest.mark.browser


class Browser:
    """A Chromium context that can reach 127.0.0.1 only, and remembers what went wrong on its pages."""

    def __init__(self, context: Any, shots: Path) -> None:
        self.context = context
        self.shots = shots
        self.outside: list[str] = []
        self.problems: list[str] = []
        context.route("**/*", self._only_here)

    def _only_here(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def page(self) -> Any:
        page = self.context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        """A refused load or a script's error; an answer's status (a refused sign-in's 401) is the test's to check."""
        text = message.text
        if "Content Security Policy" in text or (message.type == "error" and "Failed to load resource" not in text):
            self.problems.append(text)

    def shoot(self, page: Any, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def check(self) -> None:
        assert self.outside == [], "requests left 127.0.0.1"
        assert self.problems == []


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        unavailable("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install playwright; no browser download needed)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--disable-gpu", "--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium: Any, tmp_path: Path) -> Iterator[Browser]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    found = Browser(context, tmp_path)
    yield found
    context.close()
    found.check()


def call(url: str, token: str) -> int:
    """A script's request with a key (what curl does): its status code."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def wait_until(condition: Any, page: Any) -> None:
    for _ in range(WAIT_MS // 250):
        if condition():
            return
        page.wait_for_timeout(250)
    raise AssertionError("the page did not get there in time")


def setup_link(email: str = "ada@example.com") -> tuple[Organization, str]:
    """An organization and its first admin, without a password yet, and the setup link `aloft up` prints."""
    organization = Organization(slug="acme", name="Acme")
    user = User(email=email, name="Ada")
    db.session.add_all([organization, user, Membership(organization=organization, user=user, role="admin")])
    db.session.flush()
    _link, token = new_link("setup", user_id=user.id)
    db.session.commit()
    return organization, f"/setup/{token}"


def test_the_first_admin_sets_a_password_and_works_through_the_ui(
    browser: Browser, live_url: str, app: Flask, receiver
) -> None:
    organization, setup = setup_link()
    page = browser.page()

    # Setup link → set password → dashboard.
    page.goto(live_url + setup)
    browser.shoot(page, "setup")
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Set password and sign in").click()
    page.wait_for_url(live_url + "/")
    assert page.title() == "Dashboard · Aloft"
    nav = page.get_by_role("navigation", name="Main")
    for label in ("Dashboard", "Incidents", "Channels", "Members", "API"):
        assert nav.get_by_role("link", name=label, exact=True).is_visible()

    # A monitor created through the form turns up on the open dashboard without a reload.
    form = browser.page()
    form.goto(live_url + "/monitors/new")
    browser.shoot(form, "monitor-form")
    form.get_by_label("Name").fill("Checkout {{7*7}}<b>")
    form.get_by_label("Type").select_option("http")
    assert form.get_by_label("Method").is_visible() and not form.get_by_label("Grace seconds").is_visible()
    form.get_by_label("URL or host").fill("https://shop.example.com/health")
    form.get_by_label("Check every (seconds)").fill("60")
    form.get_by_role("button", name="Create monitor").click()
    form.wait_for_url("**/monitors/*")
    assert form.get_by_role("heading", name="Checkout {{7*7}}<b>").is_visible()
    browser.shoot(form, "monitor")
    page.get_by_role("link", name="Checkout {{7*7}}<b>").wait_for()
    assert page.url == live_url + "/"
    browser.shoot(page, "dashboard")
    page.get_by_label("Name or target").fill("no such monitor")
    assert page.get_by_role("link", name="Checkout {{7*7}}<b>").is_hidden()
    page.get_by_label("Name or target").fill("shop.example")
    assert page.get_by_role("link", name="Checkout {{7*7}}<b>").is_visible()
    page.get_by_label("Name or target").fill("")

    # An incident: acknowledged, then resolved, by this person.
    _, script_token = issue_key(app, organization, "setup script")
    down = create_monitor(app.test_client(), bearer(script_token), name="Billing", confirmationCount=1)
    record(down["id"], CheckResult(ok=False, cause="HTTP 503"))
    wait_until(lambda: page.title() == "(1 down) Dashboard · Aloft", page)  # no eval under the page's policy
    page.goto(live_url + "/incidents")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_text("Acknowledged: the monitor's channels hear").wait_for()
    browser.shoot(page, "incidents")
    page.get_by_role("button", name="Resolve").click()
    page.get_by_text("by Ada").first.wait_for()
    assert page.get_by_role("button", name="Acknowledge").count() == 0

    # A key: shown once, works with a script, revoked → 401.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="API", exact=True).click()
    page.get_by_label("Name").fill("ci-deploy-checks")
    page.get_by_role("button", name="Create key").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("ur_") and len(token) == 27
    browser.shoot(page, "api-new-key")
    page.reload()
    assert page.locator("#new-token").count() == 0 and token not in page.content()
    assert page.get_by_text(token[:12] + "…").is_visible()
    browser.shoot(page, "api")
    assert call(live_url + "/api/v1/monitors", token) == 200
    page.get_by_role("button", name="Revoke ci-deploy-checks").click()
    page.get_by_text("Revoked ci-deploy-checks").wait_for()
    assert call(live_url + "/api/v1/monitors", token) == 401

    # A channel's test message reaches a local receiver.
    page.goto(live_url + "/channels/new")
    page.get_by_label("Name").fill("On-call")
    page.get_by_label("Type").select_option("slack")
    page.get_by_label("Webhook url").fill(receiver.url + "/hooks/on-call")
    page.get_by_role("button", name="Create channel").click()
    page.get_by_role("button", name="Send a test message").click()
    page.get_by_text("The test message was sent.").wait_for()
    assert receiver.wait_for(1)[0].path == "/hooks/on-call"
    browser.shoot(page, "channel")

    page.goto(live_url + "/members")
    browser.shoot(page, "members")
    page.emulate_media(color_scheme="dark")
    page.goto(live_url + "/")
    browser.shoot(page, "dashboard-dark")

    # Sign out.
    page.locator("details.menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    assert page.get_by_role("heading", name="Sign in").is_visible()
    page.goto(live_url + "/api")
    assert "/signin" in page.url


def test_a_wrong_password_is_refused(browser: Browser, live_url: str, org: Organization) -> None:
    person(org, "admin")
    page = browser.page()
    page.goto(live_url + "/")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Password").fill("not-the-password-at-all")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    browser.shoot(page, "sign-in-refused")
    assert page.title() == "Sign in · Aloft"
    page.goto(live_url + "/monitors/new")
    assert "/signin" in page.url


def test_a_member_sees_no_revoke_button_and_is_refused_when_posting_the_form_anyway(
    browser: Browser, live_url: str, app: Flask, org: Organization
) -> None:
    boss = person(org, "admin", email="boss@example.com")
    key, token = issue_key(app, org, "boss key", user=boss)
    person(org, "member")
    page = browser.page()
    page.goto(live_url + "/signin")
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_url + "/")
    page.goto(live_url + "/api")
    assert page.get_by_text("boss key").is_visible()
    assert page.get_by_role("button", name="Revoke boss key").count() == 0
    browser.shoot(page, "api-as-member")

    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    answer = page.request.post(live_url + f"/api-keys/{key.id}/revoke", form={"csrf_token": csrf}, max_redirects=0)
    assert answer.status == 403
    assert call(live_url + "/api/v1/monitors", token) == 200
