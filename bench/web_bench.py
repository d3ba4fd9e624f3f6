"""Web UI benchmark: the dashboard of 1,000 monitors with 30 days of history, and its "nothing changed" poll.

Seeds one organization with ``--monitors`` monitors, each with ``--days`` days of hourly and
daily rollups (what the dashboard reads) and an hour of check results, signs a person in, then
times in-process requests (``app.test_client()``) in turn, round after round, so that drift and
outside load hit each alike:

* ``GET /api/v1/health``: the baseline, measured in the same run;
* ``GET /``: the dashboard's HTML (its size is reported too), as is, gzipped (what a browser
  gets), and with its glances (uptimes and sparklines, cached a minute) read from the database;
* ``GET /dashboard/changes?since=<version>``: the poll when nothing changed (204).

Targets (issue 16): dashboard p50 < 50 ms and < 300 KB; the poll p50 < 2 ms.
Run: ``python bench/web_bench.py`` (SQLite in a temporary folder) or with
``--database-url postgresql+psycopg://postgres@127.0.0.1:5432/aloft_web_bench`` (an empty database).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench_sign_in import PASSWORD, sign_in_as
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, select

from aloft.app import create_app
from aloft.extensions import db
from aloft.models import CheckResult, Membership, Monitor, Organization, Rollup, User, new_id, utcnow
from aloft.people.passwords import hash_password
from aloft.stats.rollups import period_start

SECRET_KEY = "aloft-web-bench-secret-key-0123456789abcdef"
EMAIL = "bench@example.com"
CHUNK_ROWS = 20_000
WARMUP_REQUESTS = 10
TARGETS = {"dashboard_p50_ms": 50.0, "dashboard_kb": 300.0, "poll_p50_ms": 2.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL of an empty database; default: SQLite in a temp dir")
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per endpoint")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    return parser.parse_args(argv)


def insert_chunked(table: Any, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            with db.engine.begin() as connection:
                connection.execute(insert(table), chunk)
            count += len(chunk)
            chunk.clear()
    if chunk:
        with db.engine.begin() as connection:
            connection.execute(insert(table), chunk)
        count += len(chunk)
    return count


def seed(monitors: int, days: int, rng: random.Random) -> tuple[str, str]:
    """One organization, its admin, monitors with ``days`` of rollups; return (org id, user id)."""
    now = utcnow()
    org_id, user_id = new_id(), new_id()
    with db.engine.begin() as connection:
        connection.execute(insert(Organization.__table__), [{"id": org_id, "slug": "bench", "name": "Bench"}])
        connection.execute(
            insert(User.__table__),
            [{"id": user_id, "email": EMAIL, "name": "Bench", "password_hash": hash_password(PASSWORD)}],
        )
        connection.execute(
            insert(Membership.__table__), [{"id": new_id(), "org_id": org_id, "user_id": user_id, "role": "admin"}]
        )
    statuses = rng.choices(["up", "down", "paused", "pending"], weights=[90, 4, 4, 2], k=monitors)
    ids = [new_id() for _ in range(monitors)]
    insert_chunked(
        Monitor.__table__,
        (
            {
                "id": monitor_id,
                "org_id": org_id,
                "name": f"service {index:04d}",
                "type": "http",
                "url": f"https://service-{index}.example.com/health",
                "interval_seconds": 60,
                "paused": status == "paused",
                "settings": {},
                "status": status,
                "last_checked_at": None if status == "pending" else now - timedelta(seconds=rng.uniform(0, 60)),
                "created_at": now - timedelta(days=days),
                "updated_at": now,
            }
            for index, (monitor_id, status) in enumerate(zip(ids, statuses, strict=True))
        ),
    )

    def rollup(monitor_id: str, period: str, start: Any, checks: int) -> dict[str, Any]:
        up = checks - (rng.random() < 0.05)
        latency = rng.uniform(40, 400)
        return {
            "monitor_id": monitor_id,
            "period": period,
            "bucket_start": start,
            "checks": checks,
            "up": up,
            "downtime_seconds": (checks - up) * 60,
            "latency_count": up,
            "latency_sum": latency * up,
            "latency_min": latency * 0.7,
            "latency_max": latency * 1.6,
            "latency_buckets": {"40": up},
        }

    this_hour, today = period_start(now, "hour"), period_start(now, "day")
    hours = insert_chunked(
        Rollup.__table__,
        (
            rollup(monitor_id, "hour", this_hour - timedelta(hours=age), 60)
            for monitor_id in ids
            for age in range(days * 24)
        ),
    )
    day_rows = insert_chunked(
        Rollup.__table__,
        (rollup(monitor_id, "day", today - timedelta(days=age), 1440) for monitor_id in ids for age in range(days)),
    )
    results = insert_chunked(
        CheckResult.__table__,
        (
            {"monitor_id": monitor_id, "checked_at": now - timedelta(minutes=age), "ok": True, "latency_ms": 100.0}
            for monitor_id in ids
            for age in range(1, 61)
        ),
    )
    log(f"Seeded {monitors:,} monitors, {hours:,} hour and {day_rows:,} day rollups, {results:,} results")
    return org_id, user_id


def samples(app: Flask, paths: dict[str, Callable[[], str]], requests: int, sign_in: Callable[[Any], None]) -> dict:
    client = app.test_client()
    sign_in(client)
    sizes: dict[str, int] = {}

    def get(name: str) -> float:
        headers = {"Accept-Encoding": "gzip"} if "gzip" in name else {}
        if "glances read" in name:
            app.extensions.pop("aloft.glance_cache", None)
        started = time.perf_counter()
        response = client.get(paths[name](), headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code not in (200, 204):
            raise SystemExit(f"{paths[name]()} answered {response.status_code}")
        sizes[name] = len(response.data)
        return elapsed

    for name in paths:
        for _ in range(WARMUP_REQUESTS):
            get(name)
    timings: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(requests):
        for name in paths:
            timings[name].append(get(name))
    return {"timings": {name: sorted(values) for name, values in timings.items()}, "sizes": sizes}


def percentile(values: list[float], fraction: float) -> float:
    return values[max(0, min(len(values) - 1, round(fraction * len(values) + 0.5) - 1))]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="aloft-web-bench-") as folder:
        database_url = args.database_url or f"sqlite:///{Path(folder) / 'aloft.db'}"
        app = create_app(
            {
                "ALOFT_DATA_DIR": folder,
                "ALOFT_DATABASE_URL": database_url,
                "ALOFT_SECRET_KEY": SECRET_KEY,
                "ALOFT_LOG_LEVEL": "warning",
            }
        )
        with app.app_context():
            upgrade()
            if db.session.scalar(select(Organization.id).limit(1)) is not None:
                raise SystemExit("The database is not empty: give an empty one.")
            org_id, _ = seed(args.monitors, args.days, rng)
            version = db.session.scalar(select(Organization.state_version).where(Organization.id == org_id))
            db.session.remove()
        paths = {
            "GET /api/v1/health": lambda: "/api/v1/health",
            "GET / (dashboard)": lambda: "/",
            "GET / (dashboard, gzip)": lambda: "/",
            "GET / (dashboard, glances read)": lambda: "/",
            "GET /dashboard/changes (nothing changed)": lambda: f"/dashboard/changes?since={version}",
        }
        measured = samples(app, paths, args.requests, sign_in_as(app, EMAIL))
        dashboard = app.test_client()
        sign_in_as(app, EMAIL)(dashboard)
        html = dashboard.get("/").data
    report = {
        "database": database_url.split(":", 1)[0],
        "monitors": args.monitors,
        "days": args.days,
        "requests": args.requests,
        "endpoints": {
            name: {
                "p50_ms": round(percentile(values, 0.5), 2),
                "p95_ms": round(percentile(values, 0.95), 2),
                "p99_ms": round(percentile(values, 0.99), 2),
                "bytes": measured["sizes"][name],
            }
            for name, values in measured["timings"].items()
        },
        "dashboard_kb": round(len(html) / 1024, 1),
        "dashboard_gzip_kb": round(len(gzip.compress(html)) / 1024, 1),
        "targets": TARGETS,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{report['database']}, {args.monitors:,} monitors, {args.days} days of rollups, "
        f"{args.requests} requests each\n"
    )
    print("| endpoint | p50 ms | p95 ms | p99 ms | bytes |")
    print("|---|---:|---:|---:|---:|")
    for name, row in report["endpoints"].items():
        print(f"| {name} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | {row['bytes']:,} |")
    print(f"\nDashboard HTML: {report['dashboard_kb']} KB ({report['dashboard_gzip_kb']} KB gzipped)")


if __name__ == "__main__":
    main()
