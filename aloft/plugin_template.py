"""The distribution ``aloft plugin new NAME --kind check|channel`` writes: a plugin ready to grow.

Like Datasette's cookiecutter template, it is a complete, installable distribution whose
tests pass as written: ``setup.py`` with the ``aloft`` entry point, the package with one
type and the hook that registers it, a README, ``tests/`` using :mod:`aloft.testing`, a
``pytest.ini`` and a ``tox.ini``. A check type connects through :func:`aloft.targets.connect`
(the target policy, the check's deadline); a channel type posts through
:func:`aloft.webhooks.post_json`. The files are written from the templates below, offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

#: A type name: lower-case words of letters and digits joined by single hyphens (``dns``, ``json-field``).
TYPE_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
KINDS = ("check", "channel")


class TemplateError(ValueError):
    """The plugin cannot be written; the message says why."""


@dataclass(frozen=True)
class PluginNames:
    """The names one type name gives a plugin: ``dns`` → distribution ``aloft-dns``, package
    ``aloft_dns``, class ``DnsCheck`` (``DnsChannel``)."""

    type_name: str
    kind: str

    @property
    def distribution(self) -> str:
        return f"aloft-{self.type_name}"

    @property
    def package(self) -> str:
        return "aloft_" + self.type_name.replace("-", "_")

    @property
    def class_prefix(self) -> str:
        return "".join(word.capitalize() for word in self.type_name.split("-"))

    @property
    def test_module(self) -> str:
        return "test_" + self.type_name.replace("-", "_") + ".py"


def write_plugin(type_name: str, kind: str, parent: Path) -> Path:
    """Write the distribution of a ``kind`` plugin providing ``type_name`` into ``parent``; returns its folder."""
    if TYPE_NAME.fullmatch(type_name) is None:
        raise TemplateError(
            f"Invalid type name {type_name!r}: use lower-case letters and digits, in words joined by hyphens "
            "(e.g. dns, json-field)"
        )
    if kind not in KINDS:
        raise TemplateError(f"Invalid kind {kind!r}: check or channel")
    names = PluginNames(type_name, kind)
    folder = parent / names.distribution
    if folder.exists():
        raise TemplateError(f"{folder} already exists; choose another name or directory")
    values = {
        "type_name": type_name,
        "distribution": names.distribution,
        "package": names.package,
        "prefix": names.class_prefix,
        "kind": kind,
    }
    files = {
        "setup.py": SETUP,
        "README.md": CHECK_README if kind == "check" else CHANNEL_README,
        f"{names.package}/__init__.py": CHECK_MODULE if kind == "check" else CHANNEL_MODULE,
        "tests/conftest.py": CONFTEST,
        f"tests/{names.test_module}": CHECK_TESTS if kind == "check" else CHANNEL_TESTS,
        "pytest.ini": PYTEST_INI,
        "tox.ini": TOX_INI,
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(values), encoding="utf-8")
    return folder


SETUP = """\
from pathlib import Path

from setuptools import setup

setup(
    name="$distribution",
    version="0.1.0",
    description="A $kind type for Aloft: $type_name.",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=["$package"],
    install_requires=["aloft"],
    # How Aloft finds the plugin: the entry point's name is the plugin's (aloft plugins,
    # ALOFT_PLUGINS_DISABLED); the module holds the hook implementations.
    entry_points={"aloft": ["$type_name = $package"]},
)
"""

CONFTEST = """\
pytest_plugins = ["aloft.testing"]
"""

PYTEST_INI = """\
[pytest]
testpaths = tests
"""

TOX_INI = """\
# tox runs the tests against the installed plugin, with Aloft from install_requires
# (set PIP_FIND_LINKS or PIP_INDEX_URL when your Aloft comes from elsewhere).
[tox]
env_list = py

[testenv]
deps =
    pytest>=8
pass_env =
    ALOFT_TEST_*
commands =
    pytest {posargs}
"""

CHECK_MODULE = '''\
"""The ``$type_name`` check type: connect to the monitor's host and port, and optionally read its greeting.

Every connection goes through :func:`aloft.targets.connect`: it resolves the name once,
refuses addresses ``ALOFT_TARGET_POLICY`` forbids (cloud metadata always), and keeps to the
check's deadline. Never open sockets or URLs another way: ``urllib.request.urlopen``, say,
skips the policy and follows redirects anywhere.
"""

from __future__ import annotations

import time

import aloft
from aloft import targets
from aloft.checks import CheckResult, CheckTarget, CheckType, Deadline
from marshmallow import RAISE, Schema, fields, validate

__version__ = "0.1.0"

#: A greeting is one line; more than this is not one.
MAX_GREETING_BYTES = 1024


class ${prefix}Settings(Schema):
    """Settings of a ``$type_name`` monitor."""

    class Meta:
        unknown = RAISE

    expect_greeting = fields.String(
        data_key="expectGreeting",
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Text the server's first line must start with; none: connecting is enough."},
    )


class ${prefix}Check(CheckType):
    """Up when the monitor's ``host:port`` accepts a connection (and greets as expected)."""

    name = "$type_name"
    description = "Connect to host:port and optionally check the server's greeting."
    settings_schema = ${prefix}Settings

    @classmethod
    def validate_url(cls, url: str) -> str | None:
        try:
            targets.host_and_port(url, "$type_name")
        except ValueError as error:
            return str(error)
        return None

    def run(self, monitor: CheckTarget) -> CheckResult:
        settings = self.load_settings(monitor.settings)
        host, port = targets.host_and_port(monitor.url or "", "$type_name")
        deadline = Deadline.of(monitor)
        started = time.perf_counter()
        try:
            with targets.connect(host, port, deadline) as sock:
                latency_ms = (time.perf_counter() - started) * 1000
                expected = settings["expect_greeting"]
                if expected is None:
                    return CheckResult(True, latency_ms)
                sock.settimeout(deadline.remaining())
                greeting = sock.recv(MAX_GREETING_BYTES).decode("utf-8", errors="replace").strip()
        except OSError as error:
            return CheckResult(False, cause=targets.connection_failure(error, host, monitor.timeout_seconds))
        if not greeting.startswith(expected):
            shown = greeting[:100] or "nothing"
            return CheckResult(False, latency_ms, f"Greeting is {shown!r}, expected {expected!r}")
        return CheckResult(True, latency_ms, details={"greeting": greeting[:100]})


@aloft.hookimpl
def register_check_types() -> list[type[CheckType]]:
    return [${prefix}Check]
'''

CHECK_TESTS = '''\
"""The $type_name check type as Aloft runs it: monitors made through the API, checks run by the engine."""

import socket
import threading
from collections.abc import Iterator

import pytest

# Every test starts under the default target policy and the system resolver.
pytestmark = pytest.mark.usefixtures("resolve_as")


@pytest.fixture
def greeter() -> Iterator[int]:
    """A local server that greets every connection with one line; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(b"HELLO $type_name 1.0\\r\\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join()
    server.close()


def watch(make_monitor, url, **settings):
    """A $type_name monitor that turns down on its first failure."""
    return make_monitor("$type_name", url=url, confirmationCount=1, settings=settings)


def test_a_monitor_is_stored_with_its_settings_and_their_defaults(make_monitor, greeter):
    monitor = watch(make_monitor, f"127.0.0.1:{greeter}")
    assert monitor["settings"] == {"expectGreeting": None}


def test_unknown_settings_and_a_url_without_a_port_are_refused(client, auth_headers):
    monitor = {"name": "x", "type": "$type_name", "url": "example.com", "settings": {"expectGreting": "HELLO"}}
    response = client.post("/api/v1/monitors", json=monitor, headers=auth_headers)
    assert response.status_code == 400
    assert {tuple(issue["path"]) for issue in response.json["issues"]} == {("url",), ("settings", "expectGreting")}


def test_a_listening_port_is_up(make_monitor, run_check, greeter):
    run = run_check(watch(make_monitor, f"127.0.0.1:{greeter}")["id"])
    assert run.result.ok and run.status == "up" and run.result.latency_ms is not None


def test_the_expected_greeting_is_up_and_another_is_down(make_monitor, run_check, greeter):
    assert run_check(watch(make_monitor, f"127.0.0.1:{greeter}", expectGreeting="HELLO")["id"]).status == "up"
    run = run_check(watch(make_monitor, f"127.0.0.1:{greeter}", expectGreeting="SSH-2.0")["id"])
    assert run.status == "down" and len(run.report.opened) == 1
    assert run.result.cause == "Greeting is 'HELLO $type_name 1.0', expected 'SSH-2.0'"


def test_a_closed_port_is_down_with_cause_connection_refused(make_monitor, run_check, closed_port):
    assert run_check(watch(make_monitor, f"127.0.0.1:{closed_port}")["id"]).result.cause == "Connection refused"


def test_a_silent_server_is_down_at_the_monitors_timeout(make_monitor, run_check, silent_port):
    monitor = make_monitor(
        "$type_name", url=f"127.0.0.1:{silent_port}", timeoutSeconds=1, settings={"expectGreeting": "HELLO"}
    )
    assert run_check(monitor["id"]).result.cause == "Timed out after 1s"


def test_a_name_that_resolves_to_cloud_metadata_is_never_contacted(make_monitor, run_check, resolve_as):
    resolve_as({"metadata.test": ["169.254.169.254"]})
    run = run_check(watch(make_monitor, "metadata.test:80")["id"])
    assert run.result.cause.startswith("Target refused by policy: 169.254.169.254")


def test_the_api_lists_the_type_with_its_settings_schema(client, auth_headers):
    listed = client.get("/api/v1/check-types", headers=auth_headers).json["checkTypes"]
    types = {entry["name"]: entry for entry in listed}
    schema = types["$type_name"]["settingsSchema"]
    assert types["$type_name"]["distribution"] == "$distribution"
    assert schema["properties"]["expectGreeting"]["maxLength"] == 200
'''

CHANNEL_MODULE = '''\
"""The ``$type_name`` channel type: POST each notification as JSON to a webhook URL.

The request goes through :func:`aloft.webhooks.post_json`: one connection under
``ALOFT_TARGET_POLICY`` (a user's URL can never reach a cloud-metadata address), within the
delivery's timeout, no redirect followed. What goes wrong is a
:class:`~aloft.channels.DeliveryError` saying whether a retry can help.
"""

from __future__ import annotations

from typing import Any

import aloft
from aloft.channels import ChannelTarget, ChannelType, Notification
from aloft.times import isoformat_z
from aloft.webhooks import post_json, refusal
from marshmallow import RAISE, Schema, fields, validate

__version__ = "0.1.0"


class ${prefix}Config(Schema):
    """Config of a ``$type_name`` channel."""

    class Meta:
        unknown = RAISE

    url = fields.Url(
        required=True,
        schemes={"http", "https"},
        validate=validate.Length(max=2048),
        metadata={"description": "Where notifications are POSTed as JSON."},
    )


class ${prefix}Channel(ChannelType):
    """POSTs ``{"text", "kind", "monitor", "incident", "link"}`` to the channel's URL."""

    name = "$type_name"
    description = "POST notifications as JSON to a webhook URL."
    config_schema = ${prefix}Config
    secret_fields = ("url",)

    def send(self, channel: ChannelTarget, notification: Notification) -> None:
        response = post_json(channel.config["url"], payload(notification), timeout=self.timeout)
        if not response.ok:
            raise refusal(response, channel.name)


def payload(notification: Notification) -> dict[str, Any]:
    """The JSON body for ``notification``; a test message has no monitor and no incident."""
    test = notification.kind == "test"
    return {
        "text": notification.title,
        "kind": notification.kind,
        "at": isoformat_z(notification.at),
        "monitor": None if test else {"id": notification.monitor_id, "name": notification.monitor_name},
        "incident": None if test else {"id": notification.incident_id, "cause": notification.cause},
        "link": notification.link,
    }


@aloft.hookimpl
def register_channel_types() -> list[type[ChannelType]]:
    return [${prefix}Channel]
'''

CHANNEL_TESTS = '''\
"""The $type_name channel type: its message, its errors, its config, and the way from Aloft to the webhook."""

import pytest
from aloft.channels import ChannelTarget, DeliveryError
from aloft.testing import sample_notification

from $package import ${prefix}Channel

# Every test starts under the default target policy and the system resolver.
pytestmark = pytest.mark.usefixtures("resolve_as")


def channel(url: str) -> ChannelTarget:
    return ChannelTarget("c-1", "On-call", "$type_name", {"url": url})


def create(client, auth_headers, url):
    body = {"name": "On-call", "type": "$type_name", "config": {"url": url}}
    return client.post("/api/v1/channels", json=body, headers=auth_headers)


def test_an_opened_incident_is_posted_as_json(receiver):
    ${prefix}Channel().send(channel(f"{receiver.url}/hook"), sample_notification())
    (request,) = receiver.requests
    assert (request.method, request.path, request.headers["content-type"]) == ("POST", "/hook", "application/json")
    assert request.json["text"] == "Shop API is down: HTTP 503"
    assert request.json["incident"] == {"id": "i-1", "cause": "HTTP 503"}


def test_a_test_message_has_no_monitor(receiver):
    ${prefix}Channel().send(channel(receiver.url), sample_notification("test"))
    assert receiver.requests[0].json["monitor"] is None
    assert receiver.requests[0].json["text"] == "Test notification from Aloft for Ops"


def test_a_gone_webhook_fails_for_good_and_a_busy_one_is_retried(receiver):
    receiver.answer(404, "no such hook")
    receiver.answer(503, "busy", {"Retry-After": "30"})
    with pytest.raises(DeliveryError) as gone:
        ${prefix}Channel().send(channel(receiver.url), sample_notification())
    assert gone.value.permanent and gone.value.message == "On-call answered HTTP 404: no such hook"
    with pytest.raises(DeliveryError) as busy:
        ${prefix}Channel().send(channel(receiver.url), sample_notification())
    assert not busy.value.permanent and busy.value.retry_after == 30


def test_a_webhook_on_a_cloud_metadata_address_is_never_contacted(resolve_as):
    resolve_as({"hooks.evil.test": ["169.254.169.254"]})
    with pytest.raises(DeliveryError) as refused:
        ${prefix}Channel().send(channel("http://hooks.evil.test/x"), sample_notification())
    assert refused.value.permanent and refused.value.message.startswith("Target refused by policy: 169.254.169.254")


def test_the_url_is_required_secret_and_masked(client, auth_headers, receiver):
    assert create(client, auth_headers, "not a url").status_code == 400
    created = create(client, auth_headers, f"{receiver.url}/hook")
    assert created.status_code == 201
    assert "…" in created.json["channel"]["config"]["url"]


def test_the_test_button_reaches_the_webhook(client, auth_headers, receiver):
    channel_id = create(client, auth_headers, f"{receiver.url}/hook").json["channel"]["id"]
    response = client.post(f"/api/v1/channels/{channel_id}/test", headers=auth_headers)
    assert response.json["delivery"]["status"] == "sent"
    assert receiver.wait_for(1)[0].json["kind"] == "test"


def test_an_outage_reaches_the_webhook(
    app, client, auth_headers, make_monitor, run_check, send_outbox, receiver, resolve_as
):
    if "tcp" not in app.extensions["aloft.plugins"].check_types:
        pytest.skip("needs a check type to fail: pip install aloft-tcp")
    resolve_as({})  # no name resolves: the monitor is down at its first check
    channel_id = create(client, auth_headers, f"{receiver.url}/hook").json["channel"]["id"]
    monitor = make_monitor("tcp", url="nowhere.test:80", confirmationCount=1, channelIds=[channel_id])
    run_check(monitor["id"])
    (outcome,) = send_outbox()
    assert (outcome.event, outcome.status) == ("opened", "sent")
    assert receiver.requests[0].json["incident"]["cause"] == "DNS: cannot resolve nowhere.test"


def test_the_api_lists_the_type_with_its_config_schema(client, auth_headers):
    listed = client.get("/api/v1/channel-types", headers=auth_headers).json["channelTypes"]
    types = {entry["name"]: entry for entry in listed}
    assert types["$type_name"]["configSchema"]["properties"]["url"]["x-secret"] is True
'''

CHECK_README = """\
# $distribution

A check type for [Aloft](https://github.com/): `$type_name` connects to a monitor's
`host:port` (under `ALOFT_TARGET_POLICY`) and, when `expectGreeting` is set, checks that the
server's first line starts with it.

```json
{"name": "Mail", "type": "$type_name", "url": "mail.example.com:25", "settings": {"expectGreeting": "220 "}}
```

| setting | default | meaning |
|---|---|---|
| `expectGreeting` | none | text the server's first line must start with; none: connecting is enough |

Causes: `Connection refused`, `Timed out after 10s`, `DNS: cannot resolve …`,
`Target refused by policy: …`, `Greeting is '…', expected '…'`.

## Develop

```sh
pip install -e . pytest
pytest                      # or: tox
aloft plugins               # lists $type_name once installed; restart Aloft to load it
```
"""

CHANNEL_README = """\
# $distribution

A channel type for [Aloft](https://github.com/): `$type_name` POSTs each notification as
JSON to a webhook URL (under `ALOFT_TARGET_POLICY`):

```json
{"text": "Shop API is down: HTTP 503", "kind": "opened", "at": "2027-01-15T08:00:00.000Z",
 "monitor": {"id": "…", "name": "Shop API"}, "incident": {"id": "…", "cause": "HTTP 503"},
 "link": "https://aloft.example/monitors/…"}
```

A test message has `"kind": "test"` and no monitor or incident. 404 and other 4xx answers
fail the delivery for good; 408, 425, 429 and 5xx are retried (after `Retry-After`).

| config | meaning |
|---|---|
| `url` | where notifications are POSTed; secret (stored encrypted, masked in answers) |

## Develop

```sh
pip install -e . pytest
pytest                      # or: tox
aloft plugins               # lists $type_name once installed; restart Aloft to load it
```
"""
