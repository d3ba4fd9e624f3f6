"""The scheduler: checks on each monitor's grid, stretches of time claimed atomically, paused monitors skipped."""

import threading

from sqlalchemy import select

from aloft.engine.scheduler import Claim, claim_stretch, due_in, latest_slot, spread_key_for
from aloft.extensions import db
from aloft.models import Monitor, Schedule

NOW = 1_800_000_000_000


def add_monitors(org, count, **fields):
    monitors = [Monitor(org_id=org.id, name=f"m{i}", type="http", url="http://x", **fields) for i in range(count)]
    db.session.add_all(monitors)
    db.session.commit()
    return monitors


def test_the_checks_of_many_monitors_spread_over_their_interval(app, org):
    monitors = add_monitors(org, 200, interval_seconds=60)
    claims = due_in(db.session, NOW, NOW + 60_000)
    assert sorted(claim.monitor_id for claim in claims) == sorted(monitor.id for monitor in monitors)
    offsets = [claim.slot_ms - NOW for claim in claims]
    assert all(0 < offset <= 60_000 for offset in offsets)
    assert len({offset // 6000 for offset in offsets}) == 10, "every tenth of the interval gets some"
    assert offsets == sorted(offsets), "oldest slot first"


def test_a_monitor_is_due_once_per_interval_at_the_same_offset(app, org):
    (monitor,) = add_monitors(org, 1, interval_seconds=60, spread_key=spread_key_for(NOW + 5, 60))
    assert due_in(db.session, NOW, NOW + 10) == [Claim(monitor.id, NOW + 5)]
    assert due_in(db.session, NOW + 5, NOW + 60_004) == [], "a slot belongs to the stretch it ends"
    assert due_in(db.session, NOW + 60_004, NOW + 60_005) == [Claim(monitor.id, NOW + 60_005)]


def test_a_stretch_longer_than_the_interval_checks_each_monitor_once_at_its_latest_slot(app, org):
    (monitor,) = add_monitors(org, 1, interval_seconds=60)
    (claim,) = due_in(db.session, NOW - 3_600_000, NOW)
    assert claim == Claim(monitor.id, latest_slot(NOW, 60, monitor.spread_key))
    assert NOW - 60_000 < claim.slot_ms <= NOW


def test_paused_monitors_are_not_due(app, org):
    add_monitors(org, 3, paused=True, status="paused")
    assert due_in(db.session, NOW - 3_600_000, NOW) == []


def test_a_changed_interval_takes_effect_at_the_next_check(app, org):
    (monitor,) = add_monitors(org, 1, interval_seconds=300)
    monitor.interval_seconds = 10
    db.session.commit()
    assert len(due_in(db.session, NOW, NOW + 10_000)) == 1
    assert len(due_in(db.session, NOW, NOW + 60_000)) == 1, "a stretch holds a monitor's latest slot only"


def test_claiming_moves_the_schedule_mark_and_never_claims_a_stretch_twice(app, org):
    assert claim_stretch(db.session, NOW) == (NOW - 1000, NOW), "the first claim reaches a second back"
    assert claim_stretch(db.session, NOW) is None
    assert claim_stretch(db.session, NOW - 5) is None, "a clock behind the mark claims nothing"
    assert claim_stretch(db.session, NOW + 500) == (NOW, NOW + 500)
    assert db.session.scalar(select(Schedule.handed_out_until_ms)) == NOW + 500


def test_two_schedulers_at_once_hand_out_every_check_exactly_once(app, org):
    monitors = add_monitors(org, 300, interval_seconds=60)
    claim_stretch(db.session, NOW)
    ticks = range(NOW + 700, NOW + 120_001, 700)
    claims: list[list[Claim]] = [[], []]
    start = threading.Barrier(2)

    def scheduler(index: int) -> None:
        with app.app_context():
            start.wait()
            for tick in ticks:
                stretch = claim_stretch(db.session, tick)
                if stretch is not None:
                    claims[index].extend(due_in(db.session, *stretch))
            db.session.remove()

    threads = [threading.Thread(target=scheduler, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = set()
    for monitor in monitors:
        slot = latest_slot(NOW, 60, monitor.spread_key) + 60_000
        while slot <= ticks[-1]:
            expected.add(Claim(monitor.id, slot))
            slot += 60_000
    everything = claims[0] + claims[1]
    assert len(everything) == len(set(everything)), "no check was handed out twice"
    assert set(everything) == expected, "and none was missed"
