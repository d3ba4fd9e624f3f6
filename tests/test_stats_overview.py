"""The dashboard's glance at every monitor: uptimes over 24 hours and 30 days, and two-hourly response times."""

from __future__ import annotations

from datetime import timedelta

from api_support import create_monitor
from web_support import record

from aloft.checks import CheckResult
from aloft.extensions import db
from aloft.models import utcnow
from aloft.stats.overview import SPARK_POINTS, glances, latency_series


def test_a_glance_counts_the_checks_of_the_last_day_and_month(client, org, auth_headers) -> None:
    monitor = create_monitor(client, auth_headers, name="Shop", confirmationCount=5)
    quiet = create_monitor(client, auth_headers, name="Never checked")
    record(
        monitor["id"],
        CheckResult(ok=True, latency_ms=100.0),
        CheckResult(ok=True, latency_ms=300.0),
        CheckResult(ok=False, cause="HTTP 503"),
        CheckResult(ok=True, latency_ms=200.0),
    )
    found = glances(db.session, org.id, utcnow())
    assert quiet["id"] not in found
    glance = found[monitor["id"]]
    assert (glance.uptime24h, glance.uptime30d) == (75.0, 75.0)
    assert len(glance.latency) == SPARK_POINTS
    measured = [value for value in glance.latency if value is not None]
    assert measured and sum(measured) / len(measured) <= 300.0
    assert glance.latency[-1] is not None or glance.latency[-2] is not None  # the last two hours


def test_a_glance_sees_only_its_organizations_monitors(client, org, other_org, auth_headers) -> None:
    monitor = create_monitor(client, auth_headers, name="Shop")
    record(monitor["id"], CheckResult(ok=True, latency_ms=50.0))
    assert glances(db.session, other_org.id, utcnow()) == {}


def test_a_latency_series_has_a_point_for_every_hour_with_gaps_as_none(client, org, auth_headers) -> None:
    monitor = create_monitor(client, auth_headers, name="Shop")
    record(monitor["id"], CheckResult(ok=True, latency_ms=120.0))
    now = utcnow()
    series = latency_series(db.session, monitor["id"], "hour", now - timedelta(hours=24), now)
    assert len(series) in (24, 25)
    assert [point for point in series if point[1] is not None][-1][1] == 120.0
    assert series[0][1] is None
