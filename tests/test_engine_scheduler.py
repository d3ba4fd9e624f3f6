"""The scheduler: first checks spread over the interval, atomic claims, paused monitors skipped."""

import threading

from sqlalchemy import select

from aloft.engine.scheduler import Claim, claim_due, schedule_new, spread_offset_ms
from aloft.extensions import db
from aloft.models import Monitor

NOW = 1_800_000_000_000


def add_monitors(org, count, **fields):
    monitors = [Monitor(org_id=org.id, name=f"m{i}", type="http", url="http://x", **fields) for i in range(count)]
    db.session.add_all(monitors)
    db.session.commit()
    return monitors


def test_new_monitors_are_spread_over_their_interval(app, org):
    monitors = add_monitors(org, 200, interval_seconds=60)
    assert schedule_new(db.session, NOW) == 200
    due = [db.session.get(Monitor, m.id).next_check_ms - NOW for m in monitors]
    assert all(0 <= offset < 60_000 for offset in due)
    assert len({offset // 6000 for offset in due}) == 10, "every tenth of the interval gets some"
    assert spread_offset_ms(monitors[0].id, 60) == due[0], "the offset is stable"


def test_claiming_moves_the_due_time_one_interval_on(app, org):
    (monitor,) = add_monitors(org, 1, interval_seconds=60)
    monitor.next_check_ms = NOW - 5
    db.session.commit()
    assert claim_due(db.session, NOW, 100) == [Claim(monitor.id, NOW - 5)]
    assert db.session.scalar(select(Monitor.next_check_ms)) == NOW - 5 + 60_000
    assert claim_due(db.session, NOW, 100) == [], "nothing is due twice"


def test_a_monitor_more_than_an_interval_late_is_checked_once_and_rescheduled_from_now(app, org):
    (monitor,) = add_monitors(org, 1, interval_seconds=60)
    monitor.next_check_ms = NOW - 3_600_000
    db.session.commit()
    assert claim_due(db.session, NOW, 100) == [Claim(monitor.id, NOW)]
    assert db.session.scalar(select(Monitor.next_check_ms)) == NOW + 60_000


def test_paused_monitors_are_not_claimed(app, org):
    (monitor,) = add_monitors(org, 1, paused=True, status="paused")
    monitor.next_check_ms = NOW - 1
    db.session.commit()
    assert schedule_new(db.session, NOW) == 0
    assert claim_due(db.session, NOW, 100) == []


def test_two_schedulers_at_once_never_claim_the_same_check(app, org):
    monitors = add_monitors(org, 300, interval_seconds=60)
    for monitor in monitors:
        monitor.next_check_ms = NOW - 1000
    db.session.commit()
    claims: list[list[Claim]] = [[], []]
    start = threading.Barrier(2)

    def scheduler(index: int) -> None:
        with app.app_context():
            start.wait()
            while batch := claim_due(db.session, NOW, 7):
                claims[index].extend(batch)
            db.session.remove()

    threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = claims[0] + claims[1]
    assert len(everything) == len(set(everything)) == 300
    assert {claim.monitor_id for claim in everything} == {monitor.id for monitor in monitors}
