"""The passive decision: up while pings arrive in time, down on silence or a reported failure."""

from datetime import UTC, datetime, timedelta

from aloft_heartbeat import HeartbeatCheck
from heartbeat_support import ping_path
from sqlalchemy import update

from aloft.checks import CheckTarget
from aloft.engine.jobs import load_targets
from aloft.extensions import db
from aloft.models import Monitor


def heartbeat_target(
    *, ago=None, kind="success", listening_for=timedelta(days=1), interval=300, grace=60
) -> CheckTarget:
    now = datetime.now(UTC)
    return CheckTarget(
        id="m1",
        name="Nightly backup",
        type="heartbeat",
        url=None,
        timeout_seconds=10,
        interval_seconds=interval,
        settings={"graceSeconds": grace},
        pings_expected_since=now - listening_for,
        last_ping_at=None if ago is None else now - ago,
        last_ping_kind=None if ago is None else kind,
    )


def test_a_fresh_ping_is_up():
    result = HeartbeatCheck().run(heartbeat_target(ago=timedelta(seconds=30)))
    assert result.ok and result.cause is None and result.latency_ms is None


def test_a_ping_late_by_less_than_the_grace_is_still_up():
    assert HeartbeatCheck().run(heartbeat_target(ago=timedelta(seconds=350))).ok


def test_a_stale_ping_is_down_with_the_time_since_it():
    result = HeartbeatCheck().run(heartbeat_target(ago=timedelta(minutes=6, seconds=10)))
    assert not result.ok
    assert result.cause == "No ping for 6m 10s"
    assert result.details["lastPingAt"].endswith("Z")


def test_a_grace_of_zero_allows_no_lateness():
    assert not HeartbeatCheck().run(heartbeat_target(ago=timedelta(seconds=301), grace=0)).ok


def test_a_fail_ping_is_down_however_recent():
    result = HeartbeatCheck().run(heartbeat_target(ago=timedelta(seconds=1), kind="fail"))
    assert (result.ok, result.cause) == (False, "Job reported failure")


def test_a_monitor_never_pinged_is_up_until_an_interval_and_its_grace_have_passed():
    assert HeartbeatCheck().run(heartbeat_target(listening_for=timedelta(seconds=200))).ok
    late = HeartbeatCheck().run(heartbeat_target(listening_for=timedelta(minutes=7)))
    assert (late.ok, late.cause) == (False, "No ping for 7m 0s")


def test_a_start_ping_alone_does_not_count_as_a_success(client, heartbeat):
    assert client.get(f"{ping_path(heartbeat)}/start").status_code == 200
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    db.session.execute(update(Monitor).where(Monitor.id == heartbeat["id"]).values(ping_token_issued_at=an_hour_ago))
    db.session.commit()
    result = HeartbeatCheck().run(load_targets([heartbeat["id"]])[0])
    assert (result.ok, result.cause) == (False, "No ping for 1h 0m")


def test_the_engine_hands_the_check_the_newest_outcome(client, heartbeat):
    client.get(ping_path(heartbeat))
    checked = load_targets([heartbeat["id"]])[0]
    assert checked.last_ping_kind == "success"
    assert datetime.now(UTC) - checked.last_ping_at < timedelta(seconds=10)
    assert checked.pings_expected_since <= checked.last_ping_at
