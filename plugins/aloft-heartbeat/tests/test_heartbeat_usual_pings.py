"""The usual ping (a success for a monitor that is up) is answered before Flask sees the request
(aloft_heartbeat.ingest.UsualPings), with the answer the view gives; anything else goes on to Flask."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, current_app, request
from heartbeat_support import create_heartbeat, ping_path, sweep, travel
from sqlalchemy import select, update
from werkzeug.test import EnvironBuilder, run_wsgi_app

from aloft import pings
from aloft.checks import CheckResult
from aloft.engine.heartbeats import _DEADLINE_LATER, deadline_after_miss, epoch_ms
from aloft.engine.jobs import record_results
from aloft.engine.statements import one_writer, sqlite_writer
from aloft.extensions import db
from aloft.models import CheckResult as ResultRow
from aloft.models import Incident, Monitor, Ping, utcnow
from aloft.web.passive import expectation


@pytest.fixture
def seen_by_flask(app: Flask) -> list[str]:
    """The paths of the requests Flask's request machinery handled."""
    seen: list[str] = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: seen.append(request.path))
    return seen


def stored(monitor: dict[str, Any]) -> list[Ping]:
    rows = db.session.scalars(select(Ping).where(Ping.monitor_id == monitor["id"]).order_by(Ping.id)).all()
    db.session.commit()
    return list(rows)


def status_of(monitor: dict[str, Any]) -> str:
    status = db.session.scalar(select(Monitor.status).where(Monitor.id == monitor["id"]))
    db.session.commit()
    return status


def test_the_usual_ping_never_reaches_flask(client, heartbeat, seen_by_flask):
    path = ping_path(heartbeat)
    assert client.get(path).status_code == 200  # the first: pending to up, a state change
    assert seen_by_flask == [path]
    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json == {"ok": True}
    assert seen_by_flask == [path], "the usual pings were answered before Flask"
    assert len(stored(heartbeat)) == 4
    assert client.get(path + "/fail").status_code == 200
    assert seen_by_flask == [path, path + "/fail"]
    assert status_of(heartbeat) == "down"


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_its_answer_is_the_views(app, client, heartbeat, method):
    path = ping_path(heartbeat)
    client.get(path)  # up
    answers = []
    for wsgi_app in (app.wsgi_app, app.wsgi_app.wsgi_app):  # the middleware, then Flask behind it
        environ = EnvironBuilder(path=path, method=method, data=b"backup done" if method == "POST" else None)
        body, status, headers = run_wsgi_app(wsgi_app, environ.get_environ())
        answers.append((status, list(headers), b"".join(body)))
    (fast_status, fast_headers, fast_body), (view_status, view_headers, view_body) = answers
    assert fast_status == view_status == "200 OK"
    assert fast_body == view_body == (b"" if method == "HEAD" else b'{"ok":true}\n')
    assert [name for name, _ in fast_headers] == [name for name, _ in view_headers]
    remaining = {name: value for name, value in fast_headers}.pop("X-RateLimit-Remaining")
    assert int(remaining) == int(dict(view_headers)["X-RateLimit-Remaining"]) + 1, "one ping fewer counted"
    unchanging = ("Content-Type", "Content-Length", "Vary", "X-RateLimit-Limit")
    assert [(n, v) for n, v in fast_headers if n in unchanging] == [(n, v) for n, v in view_headers if n in unchanging]
    assert [ping.body for ping in stored(heartbeat)][1:] == [("backup done" if method == "POST" else None)] * 2


def test_a_body_read_for_a_ping_that_is_not_the_usual_one_reaches_flask_whole(client, heartbeat, seen_by_flask):
    path = ping_path(heartbeat)
    client.get(path)
    client.get(path + "/fail")  # down: the next success is a recovery, the state machine's
    response = client.post(path, data=b"it worked this time")
    assert response.status_code == 200
    assert seen_by_flask[-1] == path
    assert stored(heartbeat)[-1].body == "it worked this time"
    assert status_of(heartbeat) == "up"


def test_the_usual_ping_is_refused_past_its_tokens_limit_as_the_view_refuses_it(client, heartbeat, seen_by_flask):
    path = ping_path(heartbeat)
    responses = [client.get(path) for _ in range(61)]
    assert [response.status_code for response in responses] == [200] * 60 + [429]
    assert seen_by_flask == [path]
    limited = responses[-1]
    assert limited.json == {"error": "Rate limit exceeded"}
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(stored(heartbeat)) == 60


@pytest.mark.parametrize(
    ("suffix", "body", "kept"),
    [
        ("?rid=run-1", b"", None),  # a run id: Flask's view pairs it
        ("", b"x" * 20_000, "x" * 10_000),  # past the 10 KB kept: cut and marked by the view
    ],
)
def test_what_the_middleware_does_not_take_flask_does(client, heartbeat, seen_by_flask, suffix, body, kept):
    path = ping_path(heartbeat)
    client.get(path)
    response = client.post(path + suffix, data=body)
    assert response.status_code == 200
    assert seen_by_flask == [path, path]
    last = stored(heartbeat)[-1]
    assert (last.rid, last.body) == (("run-1", None) if suffix else (None, kept))
    assert last.body_truncated is bool(kept)


def test_a_database_failure_is_a_500_in_json_and_the_token_is_kept_out_of_the_log(app, client, heartbeat, caplog):
    path = ping_path(heartbeat)
    client.get(path)
    token = path.rsplit("/", 1)[1]
    middleware = app.wsgi_app
    middleware.__dict__["engine"] = None  # its statement fails before reaching a database
    try:
        response = client.get(path)
    finally:
        del middleware.__dict__["engine"]
    assert response.status_code == 500
    assert response.json == {"error": "Internal server error"}
    assert "Could not record a ping" in caplog.text
    assert token not in caplog.text
    assert client.get(path).status_code == 200


def row_of(monitor: dict[str, Any]) -> Monitor:
    db.session.rollback()
    return db.session.get(Monitor, monitor["id"])


def test_a_tokens_first_ping_in_a_process_is_usual_too(client, heartbeat, seen_by_flask):
    path = ping_path(heartbeat)
    client.get(path)
    pings._KNOWN.clear()  # as a web worker that never saw the token
    assert client.get(path).status_code == 200
    assert seen_by_flask == [path]
    assert len(stored(heartbeat)) == 2


def test_usual_pings_leave_the_stored_deadline_and_the_sweep_moves_it_to_the_real_one(client, heartbeat):
    path = ping_path(heartbeat)
    client.get(path)  # pending to up: 300 s and the grace of 60 s from now
    travel(heartbeat["id"], seconds=200)
    stored_before = row_of(heartbeat).next_deadline_at
    client.get(path)  # the usual ping
    row = row_of(heartbeat)
    real = row.last_ping_at + timedelta(seconds=360)
    assert row.next_deadline_at == stored_before, "the usual ping writes no deadline"
    check_type = current_app.extensions["aloft.plugins"].check_types["heartbeat"]
    assert abs(expectation(row, check_type).deadline - real) < timedelta(milliseconds=1), "pages show the real one"

    report = sweep(stored_before + timedelta(seconds=1))  # past the stored deadline, before the real one
    assert report.recorded == 0
    row = row_of(heartbeat)
    assert row.status == "up"
    assert abs(row.next_deadline_at - real) < timedelta(milliseconds=1), "the sweep stored the real deadline"
    assert db.session.scalar(select(Incident).where(Incident.monitor_id == heartbeat["id"])) is None

    report = sweep(real + timedelta(seconds=1))
    assert report.recorded == 1
    assert row_of(heartbeat).status == "down"
    result = db.session.scalar(
        select(ResultRow).where(ResultRow.monitor_id == heartbeat["id"], ResultRow.ok.is_(False))
    )
    assert abs(result.checked_at - real) < timedelta(milliseconds=1), "the miss is recorded at the real deadline"


def test_a_usual_ping_after_the_sweep_found_a_deadline_missed_is_not_a_miss(app, client, heartbeat):
    path = ping_path(heartbeat)
    client.get(path)
    travel(heartbeat["id"], seconds=400)  # the deadline passed 40 s ago
    row = row_of(heartbeat)
    seen = (row.next_deadline_at, row.last_ping_at)
    check_type = app.extensions["aloft.plugins"].check_types["heartbeat"]
    following = deadline_after_miss(check_type, row.settings, row.interval_seconds, seen[0], utcnow())
    client.get(path)  # arrives while the sweep is between its read and its record
    db.session.rollback()
    with one_writer(db.session):
        report, _ = record_results(
            [(row.id, epoch_ms(seen[0]), CheckResult(False, cause="No ping for 6 minutes"))],
            deadlines={row.id: (seen[0], following, seen[1])},
        )
    assert report.recorded == 0
    assert row_of(heartbeat).status == "up"


def test_a_guessed_token_never_waits_for_sqlites_writers(app, client, heartbeat):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL looks a token up without a lock; SQLite's writers share one")
    engine = db.engine
    holding, release = threading.Event(), threading.Event()

    def write_for_a_while() -> None:
        with sqlite_writer(engine):
            holding.set()
            release.wait(10)

    writer = threading.Thread(target=write_for_a_while)
    writer.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        response = client.get(f"/heartbeat/{'G' * 32}")
        waited = time.monotonic() - started
    finally:
        release.set()
        writer.join(10)
    assert response.status_code == 404
    assert waited < 1.0, f"a guess waited {waited:.2f} s for the writers' turn"


def test_the_sweep_stores_no_later_deadline_over_an_edit_it_did_not_see(client, heartbeat):
    path = ping_path(heartbeat)
    client.get(path)
    travel(heartbeat["id"], seconds=400)
    client.get(path)  # the usual ping: the stored deadline (20 s ago) lags it
    row = row_of(heartbeat)
    seen = {"b_stored": row.next_deadline_at, "b_seen": row.last_ping_at, "b_edited": row.updated_at}
    later = row.last_ping_at + timedelta(seconds=360)
    row.updated_at = utcnow()  # a person's edit lands between the sweep's read and its write
    db.session.commit()
    with one_writer(db.session):
        db.session.execute(_DEADLINE_LATER, [{"b_id": row.id, "b_later": later, **seen}])
        db.session.commit()
    assert row_of(heartbeat).next_deadline_at == seen["b_stored"], "the next sweep works it out again"


def test_a_monitor_whose_settings_its_check_refuses_is_missed_and_stops_no_other(client, auth_headers, heartbeat):
    other = create_heartbeat(client, auth_headers, name="Other job")
    for monitor in (heartbeat, other):
        client.get(ping_path(monitor))
        travel(monitor["id"], seconds=400)
        client.get(ping_path(monitor))  # usual pings: both stored deadlines lag
    travel(other["id"], seconds=400)  # the other one really missed its deadline
    db.session.execute(
        update(Monitor).where(Monitor.id == heartbeat["id"]).values(settings={"graceSeconds": -5})
    )  # as a plugin's upgrade that tightened its schema would leave it
    db.session.commit()
    report = sweep()
    assert report.recorded == 2
    assert (row_of(heartbeat).status, row_of(other).status) == ("down", "down")
    assert row_of(heartbeat).next_deadline_at is None
