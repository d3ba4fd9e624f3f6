"""Deadline sweep benchmark: what the scheduler pays for the deadlines usual pings leave behind.

The usual ping notes only ``last_ping_at`` (see :mod:`aloft.engine.heartbeats`): the deadline
stored on the monitor lags it, and the sweep, finding that stored deadline passed, stores the
real one instead of recording a miss. This seeds ``--monitors`` heartbeat monitors whose stored
deadline passed a second ago, and times the sweep in two cases, alternating ``--rounds`` times:

- *refresh*: each was pinged a minute ago (real deadline a day away): the sweep moves them on;
- *miss* (the baseline): none was pinged for two days: the sweep records each as a missed
  deadline, through the state machine, as it always did.

It reports wall time per monitor for both (this process and its database are the only load) and their
ratio. Progress goes to stderr, a Markdown table to stdout.

    python bench/sweep_bench.py [--database-url postgresql+psycopg://…/aloft_sweep_bench] [--monitors 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import delete, func, select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ping_bench

from aloft.app import create_app
from aloft.engine.heartbeats import sweep_deadlines
from aloft.extensions import db
from aloft.models import CheckResult, Incident, Monitor, utcnow


def log(message: str) -> None:
    print(f"[sweep_bench] {message}", file=sys.stderr, flush=True)


def prepare(pinged_ago: timedelta) -> None:
    """Every monitor up, last pinged ``pinged_ago``, its stored deadline passed a second ago; no results."""
    now = utcnow()
    db.session.execute(delete(Incident))
    db.session.execute(delete(CheckResult))
    db.session.execute(
        update(Monitor).values(
            status="up",
            consecutive_failures=0,
            last_ping_at=now - pinged_ago,
            last_ping_kind="success",
            next_deadline_at=now - timedelta(seconds=1),
        )
    )
    db.session.commit()


def sweep_all(check_types: dict) -> tuple[float, int]:
    """Seconds to sweep until nothing is due, and the results recorded."""
    started = time.perf_counter()
    recorded = 0
    while True:
        report, _ = sweep_deadlines(db.session, check_types, utcnow())
        recorded += report.recorded
        due = db.session.scalar(select(func.count()).select_from(Monitor).where(Monitor.next_deadline_at <= utcnow()))
        db.session.commit()
        if not due:
            return time.perf_counter() - started, recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary folder)")
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aloft-sweep-bench-") as folder:
        data_dir = Path(folder)
        url = args.database_url or f"sqlite:///{data_dir / 'aloft.db'}"
        os.environ.update(ping_bench.environment(url, data_dir, None))
        app = create_app()
        with app.app_context():
            upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
            log(f"seeding {args.monitors} heartbeat monitors")
            ping_bench.seed(args.monitors)
            check_types = app.extensions["aloft.plugins"].check_types
            times: dict[str, list[float]] = {"refresh": [], "miss": []}
            for number in range(args.rounds):
                for case, ago, expected in (("refresh", timedelta(minutes=1), 0), ("miss", timedelta(days=2), None)):
                    prepare(ago)
                    seconds, recorded = sweep_all(check_types)
                    want = args.monitors if expected is None else expected
                    if recorded != want:
                        raise SystemExit(f"{case}: {recorded} results recorded, expected {want}")
                    times[case].append(seconds)
                    log(f"round {number + 1}, {case}: {seconds:.2f} s, {recorded} recorded")
    refresh = statistics.median(times["refresh"]) / args.monitors * 1e6
    miss = statistics.median(times["miss"]) / args.monitors * 1e6
    print(f"Database: {url.split('://', 1)[0]}; {args.monitors:,} monitors; median of {args.rounds} rounds.\n")
    print("| stored deadline passed, monitor pinged since (refresh) | ... not pinged (a miss, the baseline) | ratio |")
    print("| ---: | ---: | ---: |")
    print(f"| {refresh:.0f} µs a monitor | {miss:.0f} µs a monitor | {refresh / miss:.2f} |")


if __name__ == "__main__":
    main()
