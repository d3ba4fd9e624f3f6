"""PagerDuty channels through the API: a routing key required and masked, a severity from the list."""

KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"


def test_the_routing_key_is_validated_masked_and_kept_when_sent_back_masked(client, auth_headers):
    bad = client.post(
        "/api/v1/channels",
        json={"name": "Pager", "type": "pagerduty", "config": {"routingKey": "short", "severity": "loud"}},
        headers=auth_headers,
    )
    assert bad.status_code == 400
    assert {tuple(issue["path"]) for issue in bad.json["issues"]} == {("config", "routingKey"), ("config", "severity")}
    created = client.post(
        "/api/v1/channels",
        json={"name": "Pager", "type": "pagerduty", "config": {"routingKey": KEY}},
        headers=auth_headers,
    )
    assert created.status_code == 201
    channel = created.json["channel"]
    assert channel["config"] == {"routingKey": "…IJKL", "severity": "critical"}
    assert KEY not in created.get_data(as_text=True)
    patched = client.patch(
        f"/api/v1/channels/{channel['id']}", json={"config": {"severity": "warning"}}, headers=auth_headers
    )
    assert patched.json["channel"]["config"] == {"routingKey": "…IJKL", "severity": "warning"}
