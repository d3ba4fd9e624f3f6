"""Recording benchmark: the CPU one check costs the process that records it, on SQLite and PostgreSQL.

Seeds ``--monitors`` HTTP monitors (as ``pipeline_bench`` does), then writes groups of
``--group`` successful outcomes through :func:`aloft.engine.jobs.record_outcomes`, the
function the runner calls: results, the monitors' states and three rollup rows per check,
in one transaction per group. Groups walk the monitors in order and each pass moves every
monitor to its next slot 4 s on, as the ceiling run of ``pipeline_bench`` does. The first
``--warmup`` groups are not timed (every monitor is recorded once, so later groups update
rollups and states rather than create them).

Reported per database: wall and CPU microseconds per check in this process (PostgreSQL's own
CPU is not in it; ``pipeline_bench`` measures that). A figure to compare between commits on
one machine, not a target; docs/engine-benchmarks.md says what it showed.

    python bench/record_bench.py --databases sqlite,postgresql
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from pipeline_bench import SECRET_KEY, create_database, drop_database, log, seed

from aloft.app import create_app
from aloft.checks import CheckResult
from aloft.engine.jobs import load_targets, record_outcomes
from aloft.extensions import db

INTERVAL_SECONDS = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma list of sqlite, postgresql")
    parser.add_argument(
        "--postgres-admin-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="a database is created next to this one for the run and dropped afterwards",
    )
    parser.add_argument("--monitors", type=int, default=20_000)
    parser.add_argument("--group", type=int, default=1_000, help="checks per transaction (the runner's largest)")
    parser.add_argument("--warmup", type=int, default=20, help="groups recorded before timing")
    parser.add_argument("--groups", type=int, default=60, help="groups timed")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    return parser.parse_args(argv)


def measure(database: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    url = f"sqlite:///{workdir / 'aloft.db'}" if database == "sqlite" else create_database(args.postgres_admin_url)
    app = create_app(
        {
            "ALOFT_DATA_DIR": str(workdir),
            "ALOFT_DATABASE_URL": url,
            "ALOFT_SECRET_KEY": SECRET_KEY,
            "ALOFT_LOG_LEVEL": "warning",
        }
    )
    try:
        with app.app_context():
            logging.getLogger("alembic").setLevel(logging.WARNING)
            upgrade()
            monitor_ids = list(seed("http://127.0.0.1:9", args.monitors, INTERVAL_SECONDS))
            targets = load_targets(monitor_ids)
            db.session.rollback()
            log(f"{database}: seeded {len(targets):,} monitors")
            first_slot = (int(time.time() * 1000) // 4000) * 4000 - 3_600_000
            random.seed(1)

            def group(number: int) -> list[tuple[Any, int, CheckResult]]:
                start = number * args.group
                return [
                    (
                        targets[index % len(targets)],
                        first_slot + INTERVAL_SECONDS * 1000 * (index // len(targets)),
                        CheckResult(True, random.uniform(0.5, 3.0), None, {"statusCode": 200}),
                    )
                    for index in range(start, start + args.group)
                ]

            groups = [group(number) for number in range(args.warmup + args.groups)]
            for outcomes in groups[: args.warmup]:
                record_outcomes(outcomes)
            wall, cpu = time.perf_counter(), time.process_time()
            for outcomes in groups[args.warmup :]:
                record_outcomes(outcomes)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            db.session.remove()
            db.engine.dispose()
    finally:
        if database != "sqlite":
            drop_database(args.postgres_admin_url, url)
    checks = args.groups * args.group
    result = {
        "database": database,
        "checks": checks,
        "wall_us_per_check": round(wall / checks * 1e6, 1),
        "cpu_us_per_check": round(cpu / checks * 1e6, 1),
    }
    log(f"{database}: {result['cpu_us_per_check']} µs CPU, {result['wall_us_per_check']} µs wall per check")
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = []
    for database in args.databases.split(","):
        with tempfile.TemporaryDirectory(prefix="aloft-record-bench-") as workdir:
            results.append(measure(database, Path(workdir), args))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.monitors:,} monitors, groups of {args.group:,}, {args.groups} groups timed\n")
    print("| database | CPU µs per check (this process) | wall µs per check |")
    print("|---|---|---|")
    for result in results:
        print(f"| {result['database']} | {result['cpu_us_per_check']} | {result['wall_us_per_check']} |")


if __name__ == "__main__":
    main()
