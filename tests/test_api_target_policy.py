"""The target policy when a monitor or channel is saved: an IP address written in it is judged at once.

A host name is still judged when a check resolves it (its answers may change); an address
written out cannot change, so a monitor aimed at cloud metadata is refused with a 400.
"""

import ipaddress

import pytest
from api_support import SITE, SLACK, create_monitor

from aloft.checks import CheckResult, CheckType
from aloft.extensions import db
from aloft.models import Channel, Monitor

METADATA_FORMS = [
    "169.254.169.254",
    "::ffff:169.254.169.254",
    "::a9fe:a9fe",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
    "::ffff:0:a9fe:a9fe",  # IPv4-translated
    "2002:a9fe:a9fe::1",  # 6to4
    "2001:0:4136:e378:8000:63bf:5601:5601",  # Teredo, client 169.254.169.254 (inverted)
]


def bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def refusal(address: str, policy: str = "private-ok") -> str:
    carried = "" if address == "169.254.169.254" else " (169.254.169.254)"
    shown = ipaddress.ip_address(address)  # as Python writes it (::ffff:a9fe:a9fe, on some versions)
    return f"Target refused by policy {policy}: {shown}{carried} is link-local (cloud metadata)"


def url_issue(response) -> str:
    assert response.status_code == 400, response.json
    assert response.json["error"] == "Validation failed"
    (issue,) = response.json["issues"]
    assert issue["path"][0] in ("url", "config")
    return issue["message"]


@pytest.mark.parametrize("address", METADATA_FORMS)
@pytest.mark.parametrize(
    ("check_type", "url"),
    [("http", "http://{host}/latest/meta-data/"), ("tcp", "{host}:80"), ("ssl", "https://{host}")],
)
def test_a_monitor_aimed_at_a_metadata_address_in_any_spelling_is_refused_when_created(
    client, auth_headers, address, check_type, url
):
    body = {"name": "metadata", "type": check_type, "url": url.format(host=bracketed(address))}
    response = client.post("/api/v1/monitors", json=body, headers=auth_headers)
    assert url_issue(response) == refusal(address)
    assert db.session.query(Monitor).count() == 0


@pytest.mark.parametrize("host", ["169.254.1.1", "[fe80::1]", "2852039166", "0xa9fea9fe"])
def test_link_local_addresses_and_shorthand_ipv4_are_judged_as_addresses(client, auth_headers, host):
    response = client.post("/api/v1/monitors", json={**SITE, "url": f"http://{host}/"}, headers=auth_headers)
    assert url_issue(response).startswith("Target refused by policy private-ok: ")


def test_updating_a_monitor_to_a_metadata_address_is_refused_and_changes_nothing(client, auth_headers):
    created = create_monitor(client, auth_headers)
    path = f"/api/v1/monitors/{created['id']}"
    patched = client.patch(path, json={"url": "http://[::a9fe:a9fe]/"}, headers=auth_headers)
    assert url_issue(patched) == refusal("::a9fe:a9fe")
    put = client.put(path, json={**SITE, "url": "http://[64:ff9b:1::a9fe:a9fe]/"}, headers=auth_headers)
    assert url_issue(put) == refusal("64:ff9b:1::a9fe:a9fe")
    assert client.get(path, headers=auth_headers).json["monitor"]["url"] == SITE["url"]


def test_public_only_refuses_private_addresses_when_a_monitor_is_saved(client, auth_headers, resolve_as):
    resolve_as({}, policy="public-only")
    response = client.post("/api/v1/monitors", json={**SITE, "url": "http://10.0.0.5/"}, headers=auth_headers)
    assert url_issue(response) == "Target refused by policy public-only: 10.0.0.5 is private (RFC 1918)"


def test_private_ok_accepts_internal_addresses(client, auth_headers):
    for url in ("http://10.0.0.5/", "http://127.0.0.1:8000/", "http://[::ffff:10.0.0.5]/"):
        create_monitor(client, auth_headers, url=url)


def test_a_host_name_is_saved_and_judged_when_a_check_resolves_it(
    client, auth_headers, make_monitor, run_check, resolve_as
):
    resolve_as({"metadata.test": ["::ffff:0:a9fe:a9fe"]})
    monitor = make_monitor("http", url="http://metadata.test/latest/meta-data/")
    run = run_check(monitor["id"])
    assert not run.result.ok
    assert run.result.cause == (
        "Target refused by policy: ::ffff:0:a9fe:a9fe (169.254.169.254) is link-local (cloud metadata)"
    )


class DnsCheck(CheckType):
    """A third party's type whose targets are ``dns://server/name``: it gets the policy without a line of code."""

    name = "dns"

    def run(self, monitor):
        return CheckResult(True)


def test_a_third_party_check_type_gets_the_judgement_for_free(app, client, auth_headers, monkeypatch):
    monkeypatch.setitem(app.extensions["aloft.plugins"].check_types, "dns", DnsCheck)
    body = {"name": "resolver", "type": "dns", "url": "dns://[64:ff9b::a9fe:a9fe]/example.com"}
    assert url_issue(client.post("/api/v1/monitors", json=body, headers=auth_headers)) == refusal("64:ff9b::a9fe:a9fe")
    allowed = client.post("/api/v1/monitors", json={**body, "url": "dns://10.0.0.53/example.com"}, headers=auth_headers)
    assert allowed.status_code == 201, allowed.json


def test_a_slack_webhook_at_a_metadata_address_is_refused(client, auth_headers):
    body = {**SLACK, "config": {"webhookUrl": "http://[::a9fe:a9fe]/hooks/x"}}
    response = client.post("/api/v1/channels", json=body, headers=auth_headers)
    assert response.status_code == 400
    assert response.json["issues"] == [{"path": ["config", "webhookUrl"], "message": refusal("::a9fe:a9fe")}]
    assert db.session.query(Channel).count() == 0
