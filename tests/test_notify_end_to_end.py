"""Alerts end to end: a real target goes down and comes back; Slack, e-mail and PagerDuty each hear it once.

The peers are real: a local HTTP server records what Slack and PagerDuty would get, an
aiosmtpd server with a trustme certificate receives the mail. Checks run on the embedded
executor and on `aloft worker` processes over real Redis, which the last tests also stop
and restart, and whose worker they kill in the middle of a send.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from api_support import create_monitor
from engine_support import PATIENCE, Workers, wait_for
from flask import Flask
from sqlalchemy import select

from aloft.engine.executors import EmbeddedExecutor, RQExecutor
from aloft.engine.scheduler import Scheduler
from aloft.extensions import db
from aloft.models import CheckResult, Delivery, Incident
from aloft.testing import Receiver, SmtpServer, make_due, make_settings

PAGERDUTY_KEY = "R0UT1NGKEY0123456789ABCDEFGHIJKL"


@pytest.fixture
def pagerduty() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def delivery_timeout() -> str:
    """ALOFT_DELIVERY_TIMEOUT: the default, 10 s, so a peer slow to answer on a loaded machine is not
    retried. The peer got the message; a retry is a second copy of it, which a test counting
    messages would take for a duplicate. Tests of the timeout itself parametrize it."""
    return "10"


@pytest.fixture
def peer_environment(smtp_server: SmtpServer, pagerduty: Receiver, delivery_timeout: str) -> dict[str, str]:
    """The server settings that point the email and pagerduty channel types at the local peers."""
    return {
        **smtp_server.environment,
        "ALOFT_PAGERDUTY_EVENTS_URL": f"{pagerduty.url}/v2/enqueue",
        "ALOFT_DELIVERY_TIMEOUT": delivery_timeout,
        "ALOFT_DELIVERY_RETRY_SECONDS": "1",
    }


@pytest.fixture
def aloft_settings(tmp_path, aloft_database_url, peer_environment):
    return make_settings(tmp_path / "data", aloft_database_url, **peer_environment)


@pytest.fixture
def watched(client, auth_headers, target, receiver) -> dict:
    """A monitor of the target (down after 2 failed checks) with a Slack, an e-mail and a PagerDuty channel."""
    channels = [
        {"name": "Slack", "type": "slack", "config": {"webhookUrl": f"{receiver.url}/hooks/ops"}},
        {"name": "Mail", "type": "email", "config": {"to": ["ops@example.com", "oncall@example.com"]}},
        {"name": "Pager", "type": "pagerduty", "config": {"routingKey": PAGERDUTY_KEY}},
    ]
    ids = [client.post("/api/v1/channels", json=body, headers=auth_headers).json["channel"]["id"] for body in channels]
    return create_monitor(
        client,
        auth_headers,
        name="Shop API",
        url=f"http://127.0.0.1:{target.port}/health",
        intervalSeconds=60,
        confirmationCount=2,
        channelIds=ids,
    )


@pytest.fixture
def slack_watched(client, auth_headers, target, receiver) -> dict:
    """A monitor of the target with one Slack channel, on the receiver: down at its first failed check."""
    channel = client.post(
        "/api/v1/channels",
        json={"name": "Slack", "type": "slack", "config": {"webhookUrl": f"{receiver.url}/hooks/ops"}},
        headers=auth_headers,
    ).json["channel"]
    return create_monitor(
        client, auth_headers, url=f"http://127.0.0.1:{target.port}/", confirmationCount=1, channelIds=[channel["id"]]
    )


@pytest.fixture
def workers(app, tmp_path, aloft_database_url, redis_url, queue_name, peer_environment) -> Iterator[Workers]:
    pool = Workers(tmp_path, aloft_database_url, redis_url, queue_name, **peer_environment)
    yield pool
    pool.stop()


@pytest.fixture(params=["embedded", "rq"])
def executor(request: pytest.FixtureRequest, app: Flask) -> Iterator[EmbeddedExecutor | RQExecutor]:
    if request.param == "embedded":
        embedded = EmbeddedExecutor(app)
        yield embedded
        embedded.close()
        return
    workers = request.getfixturevalue("workers")
    workers.start()
    distributed = RQExecutor(request.getfixturevalue("redis_url"), workers.queue_name)
    yield distributed
    distributed.close()


def results(monitor_id: str) -> list[CheckResult]:
    return db.session.scalars(select(CheckResult).where(CheckResult.monitor_id == monitor_id)).all()


def slack_texts(receiver: Receiver) -> list[str]:
    return [request.json["text"] for request in receiver.requests]


def subjects(smtp_server: SmtpServer) -> list[str]:
    return [message["Subject"] for message in smtp_server.messages()]


def quiet(scheduler: Scheduler) -> None:
    """Sweep deliveries as the scheduler's ticks do, and wait: whatever would be sent again has been."""
    for _ in range(3):
        scheduler.sweep(db.session, force=True)
        time.sleep(0.5)


def test_an_outage_and_its_recovery_reach_slack_email_and_pagerduty_once_each(
    client, auth_headers, watched, target, executor, receiver, smtp_server, pagerduty
):
    scheduler = Scheduler(lambda: db.session, executor)

    def check(expected_results: int) -> None:
        make_due(watched["id"])
        assert scheduler.run_once() == 1
        wait_for(f"{expected_results} results", lambda: len(results(watched["id"])) == expected_results)

    check(1)
    target.mode = "fail"
    check(2)
    assert receiver.requests == [] and smtp_server.envelopes == [], "one failure is not an outage yet"
    check(3)

    receiver.wait_for(1)
    smtp_server.wait_for(1)
    pagerduty.wait_for(1)
    quiet(scheduler)
    # Whole lists, not the first n: a second copy of any message shows here.
    assert slack_texts(receiver) == ["Shop API is down: HTTP 503"]
    assert subjects(smtp_server) == ["[Aloft] Shop API is down: HTTP 503"]
    assert smtp_server.envelopes[0].rcpt_tos == ["ops@example.com", "oncall@example.com"]
    (trigger,) = pagerduty.requests
    assert trigger.json["event_action"] == "trigger"
    assert trigger.json["payload"]["summary"] == "Shop API is down: HTTP 503"

    target.mode = "ok"
    check(4)
    receiver.wait_for(2)
    smtp_server.wait_for(2)
    pagerduty.wait_for(2)
    quiet(scheduler)
    down_for = re.fullmatch(r"Shop API is up again after (.+)", slack_texts(receiver)[-1])
    assert down_for is not None, slack_texts(receiver)
    recovery = f"Shop API is up again after {down_for.group(1)}"
    assert slack_texts(receiver) == ["Shop API is down: HTTP 503", recovery]
    assert subjects(smtp_server) == ["[Aloft] Shop API is down: HTTP 503", f"[Aloft] {recovery}"]
    assert [request.json for request in pagerduty.requests] == [
        trigger.json,
        {"routing_key": PAGERDUTY_KEY, "dedup_key": trigger.json["dedup_key"], "event_action": "resolve"},
    ]
    (incident,) = db.session.scalars(select(Incident)).all()
    assert trigger.json["dedup_key"] == f"aloft-{incident.id}"

    db.session.expire_all()
    deliveries = db.session.scalars(select(Delivery)).all()
    assert (
        sorted((d.event, d.status, d.attempts) for d in deliveries)
        == [("opened", "sent", 1)] * 3 + [("resolved", "sent", 1)] * 3
    )


def test_an_acknowledgement_and_a_resolve_by_hand_reach_pagerduty_on_the_incidents_dedup_key(
    client, auth_headers, watched, target, executor, receiver, smtp_server, pagerduty
):
    scheduler = Scheduler(lambda: db.session, executor)
    target.mode = "fail"
    for expected in (1, 2):
        make_due(watched["id"])
        assert scheduler.run_once() == 1
        wait_for(f"{expected} results", lambda n=expected: len(results(watched["id"])) == n)
    (trigger,) = pagerduty.wait_for(1)
    receiver.wait_for(1)
    smtp_server.wait_for(1)
    (incident,) = db.session.scalars(select(Incident)).all()

    acknowledged = client.post(f"/api/v1/incidents/{incident.id}/acknowledge", headers=auth_headers)
    assert acknowledged.status_code == 200
    sweep_until(scheduler, lambda: len(pagerduty.requests) == 2)
    assert pagerduty.requests[1].json == {
        "routing_key": PAGERDUTY_KEY,
        "dedup_key": trigger.json["dedup_key"],
        "event_action": "acknowledge",
    }
    assert receiver.wait_for(2)[1].json["text"] == "Shop API: incident acknowledged by test key"

    resolved = client.post(f"/api/v1/incidents/{incident.id}/resolve", headers=auth_headers)
    assert resolved.status_code == 200
    sweep_until(scheduler, lambda: len(pagerduty.requests) == 3)
    assert pagerduty.requests[2].json["event_action"] == "resolve"
    assert pagerduty.requests[2].json["dedup_key"] == trigger.json["dedup_key"]
    assert receiver.wait_for(3)[2].json["text"] == "Shop API: incident resolved by test key"
    assert smtp_server.wait_for(3)[2]["Subject"] == "[Aloft] Shop API: incident resolved by test key"

    quiet(scheduler)  # more sweeps send nothing more
    assert slack_texts(receiver) == [
        "Shop API is down: HTTP 503",
        "Shop API: incident acknowledged by test key",
        "Shop API: incident resolved by test key",
    ]
    assert len(smtp_server.envelopes) == 3
    assert [request.json["event_action"] for request in pagerduty.requests] == ["trigger", "acknowledge", "resolve"]


@pytest.mark.parametrize("delivery_timeout", ["1"])
def test_a_webhook_that_hangs_fails_the_attempt_after_aloft_delivery_timeout(client, auth_headers, receiver):
    channel = client.post(
        "/api/v1/channels",
        json={"name": "Slack", "type": "slack", "config": {"webhookUrl": f"{receiver.url}/hooks/ops"}},
        headers=auth_headers,
    ).json["channel"]
    receiver.hang()  # holds the request for a minute
    started = time.monotonic()
    tested = client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth_headers)
    took = time.monotonic() - started
    assert tested.status_code == 200
    assert (tested.json["delivery"]["status"], tested.json["delivery"]["lastError"]) == ("failed", "Timed out after 1s")
    assert len(receiver.requests) == 1, "the peer got the request, and held it"
    assert 0.9 < took < 5, f"ALOFT_DELIVERY_TIMEOUT is 1 s; the attempt took {took:.1f} s"


class Trickle(BaseHTTPRequestHandler):
    """A webhook that answers a header line every 0.3 s: each read is quick, the whole answer is not."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
        for line in range(30):
            if self.server.done.wait(0.3):
                return
            self.wfile.write(f"X-Line-{line}: {line}\r\n".encode())
        self.wfile.write(b"Content-Length: 2\r\n\r\nok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def trickling_webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    server.done = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/ops"
    server.done.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("delivery_timeout", ["1"])
def test_a_webhook_that_trickles_its_answer_fails_the_attempt_after_aloft_delivery_timeout(
    client, auth_headers, trickling_webhook
):
    channel = client.post(
        "/api/v1/channels",
        json={"name": "Slack", "type": "slack", "config": {"webhookUrl": trickling_webhook}},
        headers=auth_headers,
    ).json["channel"]
    started = time.monotonic()
    tested = client.post(f"/api/v1/channels/{channel['id']}/test", headers=auth_headers)
    took = time.monotonic() - started
    assert (tested.json["delivery"]["status"], tested.json["delivery"]["lastError"]) == ("failed", "Timed out after 1s")
    assert 0.9 < took < 5, (
        f"ALOFT_DELIVERY_TIMEOUT is 1 s, the whole answer would take 9 s; the attempt took {took:.1f} s"
    )


#: How late a retry may go out after it is due: the scheduler sweeps every second (on ticks half a
#: second apart), and the sweep's hand-out reaches a sender thread or an RQ worker.
RETRY_LATENESS_SECONDS = 2.0


@pytest.mark.parametrize(
    ("refusal", "wait"),
    [((429, "rate_limited", {"Retry-After": "2"}), 2.0), ((500, "oops", {}), 1.0)],
    ids=["429-retry-after-2s", "500-backoff-1s"],
)
def test_a_retry_handed_out_before_it_is_due_goes_out_once_its_wait_is_over(
    app, slack_watched, target, executor, receiver, refusal, wait
):
    target.mode = "fail"
    receiver.answer(*refusal)  # then 200
    stop = threading.Event()

    def schedule() -> None:
        with app.app_context():
            Scheduler(lambda: db.session, executor).run(stop)

    make_due(slack_watched["id"])
    scheduler = threading.Thread(target=schedule, daemon=True)
    scheduler.start()
    try:
        first = receiver.wait_for(1, timeout=PATIENCE)[0]
        (delivery,) = wait_for(
            "the first attempt's outcome",
            lambda: db.session.scalars(
                select(Delivery).where(Delivery.last_error.is_not(None), Delivery.claimed_until.is_(None))
            ).all(),
        )
        # A hand-out queued while the delivery was due (a sweep's RQ job, a sender thread's queue)
        # runs only now that its attempt failed: it must not send the retry before its wait is over.
        executor.send([delivery.id])
        second = receiver.wait_for(2, timeout=PATIENCE)[1]
        time.sleep(1.5)  # more sweeps and hand-outs send nothing more
    finally:
        stop.set()
        scheduler.join(10)
    late = second.at - first.at
    assert wait <= late <= wait + RETRY_LATENESS_SECONDS, (
        f"the retry went out {late:.2f} s after the first attempt; it was due after {wait} s"
    )
    db.session.expire_all()
    row = db.session.get(Delivery, delivery.id)
    assert (row.status, row.attempts, len(receiver.requests)) == ("sent", 2, 2)


def sweep_until(scheduler: Scheduler, condition, timeout: float = PATIENCE, workers: Workers | None = None):
    """Run the scheduler's delivery sweep, as its ticks do, until ``condition`` holds."""

    def swept():
        scheduler.sweep(db.session, force=True)
        return condition()

    return wait_for("the sweep to deliver", swept, timeout=timeout, workers=workers)


def answer_late(receiver: Receiver, count: int, seconds: float) -> None:
    """Once request ``count`` (held by ``receiver.hang()``) has come, answer it ``seconds`` later."""
    receiver.wait_for(count, timeout=PATIENCE)
    time.sleep(seconds)
    receiver.release()


def test_a_retry_due_while_redis_is_down_is_sent_once_redis_is_back(
    app, tmp_path, aloft_database_url, peer_environment, own_redis, slack_watched, target, receiver
):
    workers = Workers(tmp_path, aloft_database_url, own_redis.url, "aloft-checks", **peer_environment)
    try:
        workers.start()
        executor = RQExecutor(own_redis.url)
        scheduler = Scheduler(lambda: db.session, executor)
        monitor = slack_watched
        target.mode = "fail"
        receiver.answer(500, "slack is having a bad day")
        # The retry gets its 200 1.5 s late, as from a peer on a loaded machine: within
        # ALOFT_DELIVERY_TIMEOUT, so it is sent, not timed out and sent a third time.
        receiver.hang()
        make_due(monitor["id"])
        assert scheduler.run_once() == 1
        receiver.wait_for(1, timeout=PATIENCE)  # the first attempt, from the worker that saw the outage

        own_redis.stop()
        (delivery,) = wait_for("the failed first attempt", lambda: db.session.scalars(select(Delivery)).all())
        wait_for("the first attempt's outcome", lambda: db.session.get(Delivery, delivery.id).last_error is not None)
        time.sleep(1.5)  # ALOFT_DELIVERY_RETRY_SECONDS=1: the retry is due
        assert scheduler.sweep(db.session, force=True) == 1, "handed out, but Redis is down: it stays pending"
        db.session.expire_all()
        assert db.session.get(Delivery, delivery.id).status == "pending"

        own_redis.start()
        late = threading.Thread(target=answer_late, args=(receiver, 2, 1.5), daemon=True)
        late.start()
        sweep_until(scheduler, lambda: db.session.get(Delivery, delivery.id).status == "sent", workers=workers)
        for _ in range(5):  # more sweeps send nothing more
            scheduler.sweep(db.session, force=True)
            time.sleep(0.3)
        db.session.expire_all()
        row = db.session.get(Delivery, delivery.id)
        # One request per attempt: more requests than attempts would be a real duplicate; more
        # attempts than two, a retry (its last error says why).
        assert len(receiver.requests) == row.attempts, row.last_error
        assert [request.json["text"] for request in receiver.requests] == ["My site is down: HTTP 503"] * 2, (
            row.last_error
        )
        assert row.attempts == 2
        late.join(timeout=PATIENCE)
        executor.close()
    finally:
        workers.stop()


@pytest.mark.parametrize("delivery_timeout", ["3"])  # a lease of 19 s to wait out, not 40
def test_a_worker_killed_mid_send_leaves_the_delivery_to_be_sent_on_retry(
    app, workers, redis_url, slack_watched, target, receiver
):
    executor = RQExecutor(redis_url, workers.queue_name)
    scheduler = Scheduler(lambda: db.session, executor)
    monitor = slack_watched
    first = workers.start()
    target.mode = "fail"
    receiver.hang()  # the first send gets no answer: the worker is mid-send
    make_due(monitor["id"])
    assert scheduler.run_once() == 1
    receiver.wait_for(1, timeout=PATIENCE)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    workers.start()

    (delivery,) = db.session.scalars(select(Delivery)).all()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.claimed_until is not None, "still held by the dead worker until its lease runs out"
    lease_left = (delivery.claimed_until - delivery.created_at) + timedelta(seconds=20)
    sweep_until(
        scheduler,
        lambda: db.session.get(Delivery, delivery.id).status == "sent",
        timeout=lease_left.total_seconds() + PATIENCE,
        workers=workers,
    )
    db.session.expire_all()
    assert db.session.get(Delivery, delivery.id).attempts == 2
    assert len(receiver.requests) == 2, "the hung attempt, then the retry that got through"
    executor.close()
