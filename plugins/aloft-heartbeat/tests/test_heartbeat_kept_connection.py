"""Pings run on a connection the thread keeps (aloft.held_connections): it survives its database
connection being lost, and it is let go when the engine is disposed."""

import threading

from heartbeat_support import ping_path
from sqlalchemy import func, select, text

from aloft import held_connections, pings
from aloft.extensions import db
from aloft.models import Monitor, Ping


def kept() -> object:
    return held_connections._local.held


def lose_connection(connection: object) -> None:
    """Cut the kept connection under the module's feet, as a database restart would."""
    if db.engine.dialect.name == "postgresql":
        pid = connection.info.backend_pid
        with db.engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
            other.commit()
    else:
        connection.close()


def pings_stored(monitor) -> int:
    count = db.session.scalar(select(func.count()).select_from(Ping).where(Ping.monitor_id == monitor["id"]))
    db.session.commit()
    return count


def test_pings_reuse_one_kept_connection(client, heartbeat):
    path = ping_path(heartbeat)
    assert client.get(path).status_code == 200  # the first: a state change, on the session
    assert client.get(path).status_code == 200
    first = kept()
    for _ in range(5):
        assert client.get(path).status_code == 200
    assert kept() is first
    assert pings_stored(heartbeat) == 7


def test_a_ping_after_the_connection_was_lost_is_stored_on_a_new_one(client, heartbeat):
    path = ping_path(heartbeat)
    client.get(path)
    client.get(path)
    before = kept()
    lose_connection(before.connection)
    response = client.get(path)
    assert response.status_code == 200, response.json
    assert kept() is not before
    assert pings_stored(heartbeat) == 3
    monitor = db.session.get(Monitor, heartbeat["id"])
    assert monitor.status == "up"


def test_disposing_the_engine_closes_the_threads_kept_connection(client, heartbeat):
    path = ping_path(heartbeat)
    client.get(path)
    client.get(path)
    held = kept()
    db.engine.dispose()
    assert held_connections._local.held is None
    if db.engine.dialect.name == "postgresql":
        assert held.connection.closed
    assert client.get(path).status_code == 200
    assert pings_stored(heartbeat) == 3


def test_each_thread_keeps_its_own_connection(app, client, heartbeat):
    path = ping_path(heartbeat)
    client.get(path)
    client.get(path)
    mine = kept()
    theirs = []

    def ping_from_another_thread() -> None:
        with app.app_context():
            assert app.test_client().get(path).status_code == 200
            theirs.append(held_connections._local.held)
            db.engine.dispose()  # closes that thread's own, as a test's teardown does

    thread = threading.Thread(target=ping_from_another_thread)
    thread.start()
    thread.join(30)
    assert theirs and theirs[0] is not mine and theirs[0].connection is not mine.connection
    assert pings_stored(heartbeat) == 3


def test_the_usual_ping_takes_the_quick_way_and_is_counted(client, heartbeat, monkeypatch):
    path = ping_path(heartbeat)
    assert client.get(path).status_code == 200  # pending -> up: the long way
    long_way = []
    read_row = pings._look_up
    monkeypatch.setattr(pings, "_look_up", lambda token: long_way.append(token) or read_row(token))
    remaining = []
    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert long_way == []
    assert remaining == [remaining[0], remaining[0] - 1, remaining[0] - 2]
    assert pings_stored(heartbeat) == 4
