"""The ingest endpoint: pings recorded by kind, no API key, 404 for unknown tokens, limited per token."""

import logging
import math
from datetime import timedelta

import pytest
from heartbeat_support import create_heartbeat, ping_path, token_of
from sqlalchemy import event, func, insert, select

from aloft.extensions import db
from aloft.models import Monitor, Ping, utcnow
from aloft.pings import BODY_EXCERPT_BYTES, PINGS_KEPT, pings_kept, record_ping
from aloft.stats.pruning import prune


def pings_of(monitor):
    return db.session.scalars(select(Ping).where(Ping.monitor_id == monitor["id"]).order_by(Ping.id)).all()


def test_get_post_and_head_pings_are_recorded_as_successes(client, heartbeat):
    path = ping_path(heartbeat)
    for send in (client.get, client.post):
        response = send(path)
        assert response.status_code == 200
        assert response.json == {"ok": True}
    assert client.head(path).status_code == 200
    assert [(ping.kind, ping.method) for ping in pings_of(heartbeat)] == [
        ("success", "GET"),
        ("success", "POST"),
        ("success", "HEAD"),
    ]


def test_start_and_fail_pings_are_recorded_with_their_kind(client, heartbeat):
    path = ping_path(heartbeat)
    assert client.get(f"{path}/start").status_code == 200
    assert client.post(f"{path}/fail").status_code == 200
    assert [ping.kind for ping in pings_of(heartbeat)] == ["start", "fail"]
    monitor = db.session.get(Monitor, heartbeat["id"])
    assert monitor.last_ping_kind == "fail"


def test_a_start_ping_reports_no_outcome(client, heartbeat):
    assert client.get(f"{ping_path(heartbeat)}/start").status_code == 200
    monitor = db.session.get(Monitor, heartbeat["id"])
    assert (monitor.last_ping_at, monitor.last_ping_kind) == (None, None)


def test_a_ping_keeps_its_source_user_agent_and_a_body_of_up_to_10_kb_whole(client, heartbeat):
    output = "backup done\n" + "x" * 9000
    client.post(ping_path(heartbeat), data=output, headers={"User-Agent": "curl/8.5.0"})
    (ping,) = pings_of(heartbeat)
    assert (ping.source_ip, ping.user_agent) == ("127.0.0.1", "curl/8.5.0")
    assert (ping.body, ping.body_truncated) == (output, False)


def test_a_body_beyond_10_kb_is_cut_at_10_kb_and_marked(client, heartbeat):
    output = "é" * 3000 + "x" * 10_000
    client.post(ping_path(heartbeat), data=output.encode())
    (ping,) = pings_of(heartbeat)
    assert ping.body_truncated
    assert len(ping.body.encode()) <= BODY_EXCERPT_BYTES + 2
    assert ping.body.startswith("é" * 3000 + "x" * 3000)


def test_pinging_needs_no_api_key(client, heartbeat):
    assert client.get(ping_path(heartbeat)).status_code == 200
    assert client.get(ping_path(heartbeat), headers={"Authorization": "Bearer nonsense"}).status_code == 200


@pytest.mark.parametrize("suffix", ["", "/start", "/fail"])
def test_an_unknown_token_is_a_404_in_json(client, heartbeat, suffix):
    response = client.post(f"/heartbeat/{'A' * 32}{suffix}")
    assert response.status_code == 404
    assert response.json == {"error": "No monitor has this ping URL; copy pingUrl from the monitor again."}
    assert db.session.scalar(select(func.count()).select_from(Ping)) == 0


def test_pings_are_limited_to_60_a_minute_per_token_across_its_three_routes(client, auth_headers, heartbeat):
    path = ping_path(heartbeat)
    responses = [client.get(path + ("", "/start", "/fail")[index % 3]) for index in range(60)]
    assert [response.status_code for response in responses] == [200] * 60
    assert [int(response.headers["X-RateLimit-Remaining"]) for response in responses] == list(range(59, -1, -1))
    assert {response.headers["X-RateLimit-Limit"] for response in responses} == {"60"}
    limited = client.get(path + "/fail")
    assert limited.status_code == 429
    assert limited.json == {"error": "Rate limit exceeded"}
    assert int(limited.headers["Retry-After"]) > 0
    other = create_heartbeat(client, auth_headers, name="Other job")
    assert client.get(ping_path(other)).status_code == 200, "each token has its own budget"


def test_a_token_counts_the_pings_of_the_last_minute_only_and_says_when_a_place_frees(client, heartbeat):
    path = ping_path(heartbeat)
    now = utcnow()
    # 59 pings taken 59.5 s ago, and many more before the window: only the 59 count.
    earlier = [now - timedelta(seconds=59.5)] * 59 + [now - timedelta(seconds=61 + n) for n in range(100)]
    db.session.execute(
        insert(Ping),
        [{"monitor_id": heartbeat["id"], "received_at": moment, "kind": "success"} for moment in earlier],
    )
    db.session.commit()
    last = client.get(path)
    assert last.status_code == 200
    assert last.headers["X-RateLimit-Remaining"] == "0"
    assert int(last.headers["X-RateLimit-Reset"]) == math.ceil((now + timedelta(seconds=0.5)).timestamp())
    refused = client.get(path + "/start")
    assert refused.status_code == 429
    assert refused.json == {"error": "Rate limit exceeded"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 2, "the oldest counted ping leaves the window in 0.5 s"
    assert len(pings_of(heartbeat)) == 160, "a refused ping is not stored"


def test_the_pruner_keeps_the_rate_limits_worth_of_pings_when_it_is_larger(app, heartbeat):
    assert pings_kept(60) == PINGS_KEPT
    assert pings_kept(500) == 500


def test_pings_for_unknown_tokens_count_against_the_client_ip_with_keyless_api_calls(client, heartbeat):
    guesser = {"REMOTE_ADDR": "192.0.2.7"}
    codes = [client.post(f"/heartbeat/{index:032d}", environ_base=guesser).status_code for index in range(10)]
    codes += [client.get("/api/v1/monitors", environ_base=guesser).status_code for _ in range(10)]
    assert codes == [404] * 10 + [401] * 10
    assert client.post(f"/heartbeat/{'B' * 32}", environ_base=guesser).status_code == 429
    assert client.get("/api/v1/monitors", environ_base=guesser).status_code == 429
    assert client.get(ping_path(heartbeat), environ_base=guesser).status_code == 200, "a real token has its own count"
    assert client.post(f"/heartbeat/{'B' * 32}", environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 404


def test_the_pruner_keeps_only_the_newest_pings_of_each_monitor(app, client, auth_headers, heartbeat):
    other = create_heartbeat(client, auth_headers, name="Other job")
    record_ping(token_of(other), "success")
    for number in range(PINGS_KEPT + 5):
        record_ping(token_of(heartbeat), "success", body=str(number))
    assert len(pings_of(heartbeat)) == PINGS_KEPT + 5, "a ping prunes nothing: that is the pruner's work"
    assert prune(db.session, app.extensions["aloft.settings"]).pings == 5
    kept = pings_of(heartbeat)
    assert [ping.body for ping in kept] == [str(number) for number in range(5, PINGS_KEPT + 5)]
    assert len(pings_of(other)) == 1, "other monitors' pings are untouched"


def test_deleting_a_monitor_deletes_its_pings(client, auth_headers, heartbeat):
    client.get(ping_path(heartbeat))
    assert client.delete(f"/api/v1/monitors/{heartbeat['id']}", headers=auth_headers).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Ping)) == 0


def test_a_body_over_one_mebibyte_is_a_413_in_json(client, heartbeat):
    response = client.post(ping_path(heartbeat), data="x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json == {"error": "Request body too large (limit 1 MiB)"}
    assert pings_of(heartbeat) == []


@pytest.mark.parametrize("text", ["%00", "abc%00def", "a.b", "~" * 10, "A" * 65])
def test_a_token_of_no_possible_form_is_a_404_without_a_query_or_a_traceback(client, heartbeat, text, caplog):
    sent = []

    def record(connection, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with caplog.at_level(logging.DEBUG):
            response = client.get(f"/heartbeat/{text}")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 404
    assert response.json == {"error": "No monitor has this ping URL; copy pingUrl from the monitor again."}
    assert sent == []
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_nul_in_what_a_job_sends_is_kept_as_a_replacement_character(client, heartbeat):
    response = client.post(ping_path(heartbeat), data=b"backup\x00done", headers={"User-Agent": "cron\x00job"})
    assert response.status_code == 200
    (ping,) = pings_of(heartbeat)
    assert (ping.body, ping.user_agent) == ("backup\ufffddone", "cron\ufffdjob")


def test_the_usual_ping_is_taken_without_reading_the_monitor_through_the_orm(client, heartbeat):
    path = ping_path(heartbeat)
    assert client.get(path).status_code == 200  # the first makes the monitor up, and the process knows its token
    sent = []

    def record(connection, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        responses = [client.get(path).status_code for _ in range(3)]
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert responses == [200, 200, 200]
    assert not [statement for statement in sent if "monitors" in statement], sent
    assert len(pings_of(heartbeat)) == 4
    monitor = db.session.get(Monitor, heartbeat["id"])
    db.session.refresh(monitor)
    assert monitor.last_ping_at == max(ping.received_at for ping in pings_of(heartbeat))
    assert monitor.next_deadline_at > monitor.last_ping_at + timedelta(seconds=359)
