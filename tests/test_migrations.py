"""The migrations build the whole schema, on SQLite and PostgreSQL, exactly as the models say."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from aloft.app import create_app
from aloft.extensions import db
from aloft.models import Channel, Incident, Monitor, Organization
from aloft.notify.channel_secrets import unseal_config
from aloft.testing import (
    TEST_SECRET_KEY,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
    postgres_admin_url,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin_url = postgres_admin_url()
    url = create_postgres_database(admin_url)
    yield url
    drop_postgres_database(admin_url, url)


@pytest.fixture
def fresh_app(tmp_path, empty_database_url):
    app = create_app(make_settings(tmp_path / "data", empty_database_url))
    with app.app_context():
        yield app
        db.engine.dispose()


def test_migrations_build_every_table(fresh_app):
    upgrade()
    assert set(inspect(db.engine).get_table_names()) == set(db.metadata.tables) | {"alembic_version"}


def test_the_migrated_schema_has_no_pending_autogenerate_diff(fresh_app):
    upgrade()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_downgrade_to_nothing_and_up_again(fresh_app):
    upgrade()
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert "monitors" in inspect(db.engine).get_table_names()


def test_one_open_incident_per_monitor_is_enforced_by_the_schema(fresh_app):
    upgrade()
    org = Organization(slug="acme", name="Acme")
    db.session.add(org)
    db.session.flush()
    monitor = Monitor(org_id=org.id, name="site", type="http")
    db.session.add(monitor)
    db.session.flush()
    now = datetime.now(UTC)
    db.session.add(Incident(org_id=org.id, monitor_id=monitor.id, cause="HTTP 503", started_at=now))
    db.session.flush()
    db.session.add(Incident(org_id=org.id, monitor_id=monitor.id, cause="HTTP 503", started_at=now, status="resolved"))
    db.session.flush()
    db.session.add(Incident(org_id=org.id, monitor_id=monitor.id, cause="HTTP 500", started_at=now))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


EXISTING_ROWS = [
    "INSERT INTO organizations (id, slug, name, created_at) VALUES ('o1', 'acme', 'Acme', :now)",
    "INSERT INTO monitors (id, org_id, name, type, interval_seconds, confirmation_count, timeout_seconds, paused,"
    " settings, status, consecutive_failures, created_at, updated_at)"
    " VALUES ('m1', 'o1', 'site', 'http', 60, 2, 10, false, '{}', 'down', 2, :now, :now)",
    "INSERT INTO check_results (monitor_id, checked_at, ok, cause) VALUES ('m1', :now, false, 'HTTP 503')",
    "INSERT INTO incidents (id, org_id, monitor_id, status, cause, started_at)"
    " VALUES ('i1', 'o1', 'm1', 'open', 'HTTP 503', :now)",
]


def test_upgrading_keeps_existing_monitors_results_and_incidents(fresh_app):
    """Batch migrations recreate SQLite tables; that must not cascade-delete what references them."""
    upgrade(revision="0001")
    with db.engine.begin() as connection:
        for statement in EXISTING_ROWS:
            connection.execute(text(statement), {"now": datetime.now(UTC).replace(tzinfo=None)})
    upgrade()
    with db.engine.connect() as connection:
        counts = [
            connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("monitors", "check_results", "incidents")
        ]
    assert counts == [1, 1, 1]


def test_keys_without_a_user_before_0008_stay_the_operators_and_keys_with_one_do_not(fresh_app):
    upgrade(revision="0007")
    with db.engine.begin() as connection:
        connection.execute(text(EXISTING_ROWS[0]), {"now": datetime.now(UTC).replace(tzinfo=None)})
        connection.execute(
            text("INSERT INTO users (id, email, name, created_at) VALUES ('u1', 'a@b.c', '', :now)"),
            {"now": datetime.now(UTC).replace(tzinfo=None)},
        )
        for key_id, user_id in (("k1", None), ("k2", "u1")):
            connection.execute(
                text(
                    "INSERT INTO api_keys (id, org_id, user_id, name, prefix, token_hash, created_at)"
                    " VALUES (:id, 'o1', :user, 'key', 'ur_', :id, :now)"
                ),
                {"id": key_id, "user": user_id, "now": datetime.now(UTC).replace(tzinfo=None)},
            )
    upgrade()
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, minted_by_operator FROM api_keys ORDER BY id")).all()
    assert [(key_id, bool(flag)) for key_id, flag in rows] == [("k1", True), ("k2", False)]


CHANNELS = {
    "c1": ("slack", {"webhookUrl": "https://hooks.slack.com/services/T0/B0/plaintext"}),
    "c2": ("pagerduty", {"routingKey": "R0UT1NGKEY0123456789abcdefabcdef", "severity": "critical"}),
    "c3": ("email", {"to": ["ops@example.com"]}),
}


def raw_configs() -> dict[str, str]:
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, CAST(config AS TEXT) FROM channels ORDER BY id")).all()
    return dict(rows)


def test_0008_seals_existing_channel_secrets_and_its_downgrade_opens_them(fresh_app):
    upgrade(revision="0007")
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.engine.begin() as connection:
        connection.execute(text(EXISTING_ROWS[0]), {"now": now})
        for channel_id, (channel_type, config) in CHANNELS.items():
            connection.execute(
                text(
                    "INSERT INTO channels (id, org_id, name, type, config, created_at, updated_at)"
                    " VALUES (:id, 'o1', 'ops', :type, :config, :now, :now)"
                ),
                {"id": channel_id, "type": channel_type, "config": json.dumps(config), "now": now},
            )
    upgrade()
    sealed = raw_configs()
    assert "plaintext" not in sealed["c1"] and "R0UT1NGKEY" not in sealed["c2"]
    assert sealed["c1"].count("sealed:v1:") == sealed["c2"].count("sealed:v1:") == 1
    assert json.loads(sealed["c3"]) == CHANNELS["c3"][1]
    stored = {channel.id: channel.config for channel in db.session.scalars(select(Channel))}
    assert {key: unseal_config(TEST_SECRET_KEY, config) for key, config in stored.items()} == {
        key: config for key, (_, config) in CHANNELS.items()
    }
    downgrade(revision="0007")
    assert {key: json.loads(config) for key, config in raw_configs().items()} == {
        key: config for key, (_, config) in CHANNELS.items()
    }


@pytest.mark.parametrize(
    "steps",
    [[(upgrade, "head")], [(upgrade, "head"), (downgrade, "0003"), (upgrade, "head")]],
    ids=["upgraded", "down-and-up"],
)
def test_the_status_version_triggers_survive_every_migration(fresh_app, steps):
    """SQLite batch migrations rebuild tables and drop their triggers; a later migration must put them back.

    Without them GET /api/v1/status would serve a stale cached body after a monitor goes down.
    """
    for step, revision in steps:
        step(revision=revision)
    org = Organization(slug="acme", name="Acme")
    db.session.add(org)
    db.session.commit()

    def version_after(*new_rows: object) -> int:
        """Commit what changed (and ``new_rows``), then read the organization's state version."""
        db.session.add_all(new_rows)
        db.session.commit()
        db.session.expire_all()
        return db.session.get(Organization, org.id).state_version

    monitor = Monitor(org_id=org.id, name="site", type="http")
    incident = Incident(org_id=org.id, monitor_id="", cause="HTTP 503", started_at=datetime.now(UTC))
    seen = [version_after(), version_after(monitor)]
    monitor.status = "down"
    seen.append(version_after())
    incident.monitor_id = monitor.id
    seen.append(version_after(incident))
    incident.status = "resolved"
    seen.append(version_after())
    monitor.consecutive_failures = 3  # not shown by /status: no bump
    seen.append(version_after())
    assert seen == [0, 1, 2, 3, 4, 4]


def test_0014_remembers_each_monitors_first_result_from_what_is_kept(fresh_app):
    """The earliest raw result, or an hourly rollup older than its day when older results were pruned;
    never before the monitor's creation, and none for a monitor never checked."""
    now = datetime(2026, 11, 20, 9, 41, 7, tzinfo=UTC).replace(tzinfo=None)
    upgrade(revision="0001")
    with db.engine.begin() as connection:
        for statement in EXISTING_ROWS:
            connection.execute(text(statement), {"now": now})
        connection.execute(
            text(
                "INSERT INTO monitors (id, org_id, name, type, interval_seconds, confirmation_count, timeout_seconds,"
                " paused, settings, status, consecutive_failures, created_at, updated_at) VALUES"
                " ('m2', 'o1', 'new', 'http', 60, 2, 10, false, '{}', 'pending', 0, :now, :now),"
                " ('m3', 'o1', 'old', 'http', 60, 2, 10, false, '{}', 'up', 0, :created, :now)"
            ),
            {"now": now, "created": datetime(2026, 1, 1)},
        )
        connection.execute(
            text("INSERT INTO check_results (monitor_id, checked_at, ok) VALUES ('m3', :now, true)"), {"now": now}
        )
    upgrade(revision="0013")
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO rollups (monitor_id, period, bucket_start, checks, up, downtime_seconds, latency_count,"
                " latency_sum, latency_buckets) VALUES ('m3', :period, :start, 1, 1, 0, 0, 0, '{}')"
            ),
            [
                {"period": "hour", "start": datetime(2026, 11, 17, 14)},
                {"period": "day", "start": datetime(2026, 11, 17)},
                {"period": "hour", "start": now.replace(minute=0, second=0)},
                {"period": "day", "start": now.replace(hour=0, minute=0, second=0)},
            ],
        )
    upgrade()
    found = {monitor.id: monitor.first_result_at for monitor in db.session.scalars(select(Monitor))}
    assert found == {
        "m1": now.replace(tzinfo=UTC),
        "m2": None,
        "m3": datetime(2026, 11, 17, 14, tzinfo=UTC),
    }
