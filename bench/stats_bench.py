"""Stats benchmark: a monitor's stats and daily uptime stay as fast with a year of history as with a day.

Builds three monitors checked every 60 s for 1, 30 and 365 days (``--days``), through the
recorder the engine uses (``record_many``: results, rollups and incidents in one
transaction, a day of checks per transaction), then prunes them as the scheduler's hourly
pruner would (``aloft prune`` with the default retention), so each monitor holds what a
monitor of that age holds in production. Then:

1. In-process, through ``app.test_client()``, interleaved round after round so drift hits
   each alike: p50/p95 of ``GET /api/v1/keys`` (the baseline: one small query),
   ``GET /api/v1/monitors/{id}`` (its ``stats`` read from rollups) and
   ``GET /api/v1/monitors/{id}/uptime?days=90`` for each monitor. Targets: the 365-day
   monitor within 1.5x of the 1-day one, and under 20 ms p50.
2. Storage: rows each kind of history keeps for the oldest monitor, and the bytes they take
   after a VACUUM (table and index pages from SQLite's ``dbstat``, or
   ``pg_total_relation_size`` on PostgreSQL, shared out by row count), i.e. the storage of
   one monitor-year at a 60 s interval at the default retention.

Progress goes to stderr; Markdown tables (or, with ``--json``, a JSON document) to stdout.
Run ``python bench/stats_bench.py --help`` for the options; ``bench/README.md`` has examples.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api_bench import RATE_LIMIT, SECRET_KEY, interleaved_samples, log, machine, percentile
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from aloft.app import create_app
from aloft.checks import CheckResult
from aloft.engine.state import record_many
from aloft.extensions import db
from aloft.keys import new_key
from aloft.models import CheckResult as ResultRow
from aloft.models import Incident, Monitor, Organization, Rollup
from aloft.stats.pruning import prune

INTERVAL_SECONDS = 60
TARGET_RATIO = 1.5
TARGET_P50_MS = 20.0
#: A failing streak starts at this rate per check and lasts 1 to OUTAGE_CHECKS checks.
OUTAGE_RATE = 1 / 5000
OUTAGE_CHECKS = 15
#: Any other check fails alone (a blip, below confirmationCount) this often.
BLIP_RATE = 1 / 1000

KEYS_PATH = "/api/v1/keys"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL of an empty database; default: a temporary SQLite file")
    parser.add_argument("--days", default="1,30,365", help="history lengths, one monitor each (comma list)")
    parser.add_argument("--requests", type=int, default=300, help="timed in-process requests per endpoint")
    parser.add_argument("--seed", type=int, default=1, help="random seed for latencies and outages")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the Markdown tables")
    return parser.parse_args(argv)


# --- history ---------------------------------------------------------------------------------------


def checks_of(days: int, now: datetime, rng: random.Random):
    """A day of (slot_ms, result) at a time, oldest first, ending at ``now``: mostly up, with outages."""
    first = int((now - timedelta(days=days)).timestamp()) // INTERVAL_SECONDS * INTERVAL_SECONDS
    failing = 0
    day: list[tuple[int, CheckResult]] = []
    for index in range(days * 86400 // INTERVAL_SECONDS):
        slot_ms = (first + index * INTERVAL_SECONDS) * 1000
        if failing == 0 and rng.random() < OUTAGE_RATE:
            failing = rng.randint(1, OUTAGE_CHECKS)
        if failing:
            failing -= 1
            day.append((slot_ms, CheckResult(False, None, "Timed out after 10s")))
        elif rng.random() < BLIP_RATE:
            day.append((slot_ms, CheckResult(False, round(rng.uniform(1, 50), 1), "HTTP 503")))
        else:
            day.append((slot_ms, CheckResult(True, round(rng.lognormvariate(4.0, 0.5), 1))))
        if len(day) == 86400 // INTERVAL_SECONDS:
            yield day
            day = []
    if day:
        yield day


def build_history(app: Flask, days_list: list[int], rng: random.Random) -> tuple[str, dict[int, str], float]:
    """The organization, a key and one monitor per history length; returns (token, ids by days, seconds)."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    with app.app_context():
        log("Applying migrations")
        upgrade()
        if db.session.scalar(select(func.count()).select_from(Monitor)):
            raise SystemExit("The database already holds monitors: point --database-url at an empty database.")
        org = Organization(slug="bench", name="Bench")
        db.session.add(org)
        db.session.flush()
        key, token = new_key(SECRET_KEY, org, "bench")
        db.session.add(key)
        monitors = {
            days: Monitor(
                org_id=org.id,
                name=f"{days} days of history",
                type="http",
                url="https://example.com/health",
                interval_seconds=INTERVAL_SECONDS,
                confirmation_count=2,
                created_at=now - timedelta(days=days),
            )
            for days in days_list
        }
        db.session.add_all(monitors.values())
        db.session.commit()
        for days, monitor in monitors.items():
            recorded = 0
            seeding = time.perf_counter()
            for day in checks_of(days, now, rng):
                record_many(db.session, [(monitor.id, slot_ms, result) for slot_ms, result in day])
                db.session.commit()
                recorded += len(day)
                if recorded % (30 * len(day)) == 0:
                    log(f"  {monitor.name}: {recorded:,} checks recorded")
            rate = recorded / (time.perf_counter() - seeding)
            log(f"  {monitor.name}: {recorded:,} checks in {time.perf_counter() - seeding:.1f} s ({rate:,.0f}/s)")
        log("Pruning to the default retention, as the scheduler's hourly pruner does")
        pruned = prune(db.session, app.extensions["aloft.settings"], now)
        log(f"  pruned {pruned}")
        if db.engine.dialect.name == "postgresql":
            log("VACUUM ANALYZE (what autovacuum would reach on its own)")
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        else:
            with db.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
        ids = {days: monitor.id for days, monitor in monitors.items()}
        db.session.remove()
    return token, ids, time.perf_counter() - started


# --- latency ---------------------------------------------------------------------------------------


@dataclass
class Latency:
    endpoint: str
    days: int | None
    p50_ms: float
    p95_ms: float
    vs_keys: float
    vs_one_day: float | None


def measure(app: Flask, token: str, ids: dict[int, str], requests: int) -> list[Latency]:
    paths: dict[tuple[str, int | None], str] = {("GET /api/v1/keys", None): KEYS_PATH}
    for days, monitor_id in ids.items():
        paths["GET /api/v1/monitors/{id}", days] = f"/api/v1/monitors/{monitor_id}"
    for days, monitor_id in ids.items():
        paths["GET /api/v1/monitors/{id}/uptime?days=90", days] = f"/api/v1/monitors/{monitor_id}/uptime?days=90"
    ordered = interleaved_samples(app, token, {name: (lambda p=path: p) for name, path in paths.items()}, requests)
    baseline = percentile(ordered["GET /api/v1/keys", None], 0.5)
    shortest = min(ids)
    rows = []
    for (endpoint, days), values in ordered.items():
        p50 = percentile(values, 0.5)
        one_day = None if days is None else p50 / percentile(ordered[endpoint, shortest], 0.5)
        rows.append(
            Latency(
                endpoint,
                days,
                round(p50, 2),
                round(percentile(values, 0.95), 2),
                round(p50 / baseline, 2),
                None if one_day is None else round(one_day, 2),
            )
        )
    return rows


# --- storage ---------------------------------------------------------------------------------------

KINDS = {
    "raw results": (ResultRow, None),
    "minute rollups": (Rollup, "minute"),
    "hour rollups": (Rollup, "hour"),
    "day rollups": (Rollup, "day"),
}


def table_bytes(table: str) -> int:
    """Bytes of a table's pages and its indexes' pages."""
    if db.engine.dialect.name == "postgresql":
        return db.session.scalar(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table})
    indexes = text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t")
    names = [table, *db.session.scalars(indexes, {"t": table})]
    # sqlite_autoindex_* indexes are listed in sqlite_master too; dbstat names every b-tree.
    return sum(
        db.session.scalar(text("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = :n"), {"n": name})
        for name in names
    )


def storage(app: Flask, monitor_id: str) -> list[dict[str, Any]]:
    """Rows and bytes of each kind of history ``monitor_id`` keeps, bytes shared out by row count."""
    rows = []
    with app.app_context():
        # Compact first: pruning a year down to its retention frees space that the file keeps
        # (and that new rows reuse in steady state); what a monitor-year costs is the live part.
        log("Compacting (VACUUM) before measuring storage")
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM FULL check_results, rollups"))
        else:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM"))
        totals_by_table = {
            model.__tablename__: (
                db.session.scalar(select(func.count()).select_from(model)),
                table_bytes(model.__tablename__),
            )
            for model in (ResultRow, Rollup)
        }
        for kind, (model, period) in KINDS.items():
            query = select(func.count()).select_from(model).where(model.monitor_id == monitor_id)
            if period is not None:
                query = query.where(Rollup.period == period)
            count = db.session.scalar(query)
            table_rows, table_size = totals_by_table[model.__tablename__]
            rows.append({"kind": kind, "rows": count, "bytes": round(table_size * count / table_rows)})
        incidents = db.session.scalar(
            select(func.count()).select_from(Incident).where(Incident.monitor_id == monitor_id)
        )
        db.session.remove()
    rows.append({"kind": "total", "rows": sum(r["rows"] for r in rows), "bytes": sum(r["bytes"] for r in rows)})
    rows.append({"kind": "incidents (kept for good)", "rows": incidents, "bytes": None})
    return rows


# --- report ----------------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = [
        f"Database: {meta['database']}; monitors with {', '.join(map(str, meta['days']))} days of 60-s history "
        f"(built and pruned in {meta['build_seconds']:.0f} s); nproc {meta['machine']['nproc']}, "
        f"Python {meta['machine']['python']}, 1-min load average at the end {meta['machine']['loadavg_1m_at_end']}",
        "",
        "| endpoint | history | p50 ms | p95 ms | p50 / keys | p50 / 1-day | target |",
        "|---|---|---|---|---|---|---|",
    ]
    longest = max(meta["days"])
    for row in report["latency"]:
        history = "-" if row["days"] is None else f"{row['days']} d"
        target = ""
        if row["days"] == longest:
            met = row["vs_one_day"] <= TARGET_RATIO and row["p50_ms"] < TARGET_P50_MS
            target = f"≤ {TARGET_RATIO}× and < {TARGET_P50_MS:.0f} ms: {'met' if met else 'MISSED'}"
        one_day = "-" if row["vs_one_day"] is None else f"{row['vs_one_day']:.2f}"
        lines.append(
            f"| {row['endpoint']} | {history} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | "
            f"{row['vs_keys']:.2f} | {one_day} | {target} |"
        )
    lines += ["", f"Storage of the {longest}-day monitor (60-s interval, default retention):", ""]
    lines += ["| kind | rows | bytes |", "|---|---|---|"]
    for row in report["storage"]:
        size = "-" if row["bytes"] is None else f"{row['bytes'] / 1024:,.0f} KiB"
        lines.append(f"| {row['kind']} | {row['rows']:,} | {size} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    days_list = sorted({int(part) for part in args.days.split(",")})
    data_dir = Path(tempfile.mkdtemp(prefix="aloft-stats-bench-"))
    database_url = args.database_url or f"sqlite:///{data_dir / 'aloft.db'}"
    environment = {
        "ALOFT_DATA_DIR": str(data_dir),
        "ALOFT_DATABASE_URL": database_url,
        "ALOFT_SECRET_KEY": SECRET_KEY,
        "ALOFT_RATE_LIMIT": RATE_LIMIT,
        "ALOFT_LOG_LEVEL": "warning",
    }
    rng = random.Random(args.seed)
    try:
        app = create_app(environment)
        token, ids, build_seconds = build_history(app, days_list, rng)
        latency = measure(app, token, ids, args.requests)
        kept = storage(app, ids[max(days_list)])
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    report = {
        "meta": {
            "database": make_url(database_url).render_as_string(hide_password=True),
            "days": days_list,
            "requests": args.requests,
            "build_seconds": round(build_seconds, 1),
            "machine": machine(),
        },
        "latency": [asdict(row) for row in latency],
        "storage": kept,
    }
    print(json.dumps(report, indent=2) if args.json else markdown(report))


if __name__ == "__main__":
    main()
