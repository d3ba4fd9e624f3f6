"""API performance benchmark: ``/api/v1/status`` and ``/api/v1/monitors/{id}`` on a large organization.

Seeds one organization with ``--monitors`` monitors and ``--results`` check results (bulk
Core inserts, after applying the migrations), then measures two things, each against a
baseline taken in the same run, because these machines are noisy:

1. In-process, through ``app.test_client()``: p50/p95/p99 of ``GET /api/v1/keys`` (the
   baseline: one small query), ``GET /api/v1/status`` and ``GET /api/v1/monitors/<random id>``.
   The three are requested in turn, round after round, so drift hits each one alike.
2. Under ``gunicorn -w 4`` on 127.0.0.1: requests/s of ``/api/v1/keys`` (baseline) and
   ``/api/v1/status``, loaded with ``wrk`` (or a threaded Python client when wrk is not
   installed) in ``--rounds`` alternating runs of ``--duration`` seconds, in ABBA order
   (keys, status, status, keys, ...), so that outside load and drift hit both alike.

Progress goes to stderr; a Markdown table (or, with ``--json``, a JSON document) to stdout.
Run ``python bench/api_bench.py --help`` for the options; ``bench/README.md`` has examples.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import platform
import pstats
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.engine import make_url

from aloft.app import create_app
from aloft.extensions import db
from aloft.keys import new_key
from aloft.models import ApiKey, CheckResult, Incident, Monitor, Organization, new_id, utcnow

BENCH_ORG_SLUG = "bench"
SECRET_KEY = "aloft-bench-secret-key-0123456789abcdef"
#: The highest value ALOFT_RATE_LIMIT accepts (per minute): the limiter never trips here.
RATE_LIMIT = "1000000"
CHUNK_ROWS = 20_000
PROGRESS_EVERY = 100_000
CHECK_INTERVAL = timedelta(seconds=60)
#: Share of monitors in each status; "pending" (never checked) takes the remainder.
STATUS_SHARES = {"up": 0.90, "down": 0.04, "paused": 0.04}
OPEN_INCIDENTS = 300
#: Every this-many-th up monitor gets one resolved incident from yesterday.
RESOLVED_INCIDENT_EVERY = 5
FAILING_TAIL = 5
WARMUP_REQUESTS = 20
PROFILE_REQUESTS = 100
SERVER_WARMUP_SECONDS = 2
HEALTH_TIMEOUT_SECONDS = 60
TARGET_P50_MS = 20.0
TARGET_RPS_RATIO = 0.5

KEYS_PATH = "/api/v1/keys"
STATUS_PATH = "/api/v1/status"
MONITOR_PATH = "/api/v1/monitors/{id}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="SQLAlchemy URL; default: SQLite file aloft.db in the data dir")
    parser.add_argument(
        "--data-dir", type=Path, help="ALOFT_DATA_DIR (default: a temporary folder, removed at the end)"
    )
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="timed in-process requests per endpoint")
    parser.add_argument("--reuse", action="store_true", help="skip seeding when the database is already seeded")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per server run")
    parser.add_argument("--rounds", type=int, default=4, help="server runs per endpoint, alternating (ABBA)")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections of the load generator")
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn part")
    parser.add_argument("--profile", action="store_true", help="cProfile the two endpoints in-process (stderr)")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the data and the monitor ids asked for")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the Markdown tables")
    return parser.parse_args(argv)


def aloft_environment(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        "ALOFT_DATA_DIR": str(data_dir),
        "ALOFT_DATABASE_URL": database_url,
        "ALOFT_SECRET_KEY": SECRET_KEY,
        "ALOFT_RATE_LIMIT": RATE_LIMIT,
        "ALOFT_LOG_LEVEL": "warning",
    }


# --- seeding ---------------------------------------------------------------------------------------


def insert_chunked(table: Table, rows: Iterable[dict[str, Any]], total: int, label: str) -> None:
    """Insert ``rows`` with executemany, CHUNK_ROWS per transaction, logging progress."""
    started = time.perf_counter()
    done = 0
    next_report = PROGRESS_EVERY
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        with db.engine.begin() as connection:
            connection.execute(insert(table), chunk)
        chunk.clear()

    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            flush()
            done += CHUNK_ROWS
            if done >= next_report:
                rate = done / (time.perf_counter() - started)
                log(f"  {label}: {done:,}/{total:,} ({rate:,.0f} rows/s)")
                next_report += PROGRESS_EVERY
    done += len(chunk)
    if chunk:
        flush()
    log(f"  {label}: {done:,} rows in {time.perf_counter() - started:.1f} s")


def monitor_statuses(count: int, rng: random.Random) -> list[str]:
    statuses = [status for status, share in STATUS_SHARES.items() for _ in range(round(count * share))][:count]
    statuses += ["pending"] * (count - len(statuses))
    rng.shuffle(statuses)
    return statuses


def seed(monitors: int, results: int, rng: random.Random) -> None:
    """One organization, its monitors, their check results and incidents (inside an app context)."""
    now = utcnow()
    org_id = new_id()
    with db.engine.begin() as connection:
        connection.execute(
            insert(Organization.__table__), [{"id": org_id, "slug": BENCH_ORG_SLUG, "name": "Bench", "created_at": now}]
        )

    statuses = monitor_statuses(monitors, rng)
    # Active monitors were checked within the last interval; paused ones stopped 1-3 days ago.
    last_checked: list[datetime | None] = []
    for status in statuses:
        if status == "pending":
            last_checked.append(None)
        elif status == "paused":
            last_checked.append(now - timedelta(days=rng.uniform(1, 3)))
        else:
            last_checked.append(now - timedelta(seconds=rng.uniform(0, 60)))
    monitor_ids = [new_id() for _ in statuses]
    monitor_rows = [
        {
            "id": monitor_id,
            "org_id": org_id,
            "name": f"bench-{index:05d}",
            "type": "http",
            "url": f"https://service-{index}.example.com/health",
            "interval_seconds": int(CHECK_INTERVAL.total_seconds()),
            "confirmation_count": 2,
            "timeout_seconds": 10,
            "paused": status == "paused",
            "settings": {},
            "status": status,
            "consecutive_failures": FAILING_TAIL if status == "down" else 0,
            "last_checked_at": last,
            "created_at": now - timedelta(days=30) + timedelta(milliseconds=index),
            "updated_at": now,
        }
        for index, (monitor_id, status, last) in enumerate(zip(monitor_ids, statuses, last_checked, strict=True))
    ]
    insert_chunked(Monitor.__table__, monitor_rows, monitors, "monitors")

    checked = [(m, s, last) for m, s, last in zip(monitor_ids, statuses, last_checked, strict=True) if last]
    per_monitor, extra = divmod(results, len(checked)) if checked else (0, 0)

    def result_rows() -> Iterator[dict[str, Any]]:
        for index, (monitor_id, status, last) in enumerate(checked):
            for age in range(per_monitor + (index < extra)):
                ok = not (status == "down" and age < FAILING_TAIL) and rng.random() > 0.01
                yield {
                    "monitor_id": monitor_id,
                    "checked_at": last - age * CHECK_INTERVAL,
                    "ok": ok,
                    "latency_ms": round(rng.uniform(20, 400), 1) if ok else None,
                    "cause": None if ok else "HTTP 503 Service Unavailable",
                }

    insert_chunked(CheckResult.__table__, result_rows(), results, "check_results")

    down = [(m, last) for m, s, last in checked if s == "down"][:OPEN_INCIDENTS]
    up = [(m, last) for m, s, last in checked if s == "up"][::RESOLVED_INCIDENT_EVERY]
    incident_rows = [
        {
            "id": new_id(),
            "org_id": org_id,
            "monitor_id": monitor_id,
            "status": "open",
            "cause": "HTTP 503 Service Unavailable",
            "started_at": last - (FAILING_TAIL - 1) * CHECK_INTERVAL,
            "resolved_at": None,
            "acknowledged_at": None,
        }
        for monitor_id, last in down
    ] + [
        {
            "id": new_id(),
            "org_id": org_id,
            "monitor_id": monitor_id,
            "status": "resolved",
            "cause": "Connection timed out",
            "started_at": last - timedelta(days=1),
            "resolved_at": last - timedelta(days=1) + 3 * CHECK_INTERVAL,
            "acknowledged_at": None,
        }
        for monitor_id, last in up
    ]
    insert_chunked(Incident.__table__, incident_rows, len(incident_rows), "incidents")


def prepare_database(app: Flask, args: argparse.Namespace, rng: random.Random) -> tuple[str, list[str], bool]:
    """Migrate, seed unless reusing, and mint a fresh key; return (token, monitor ids, seeded now)."""
    with app.app_context():
        log("Applying migrations")
        upgrade()
        org = db.session.scalar(select(Organization).where(Organization.slug == BENCH_ORG_SLUG))
        seeded_now = org is None
        if org is None:
            log(f"Seeding {args.monitors:,} monitors and {args.results:,} check results")
            seed(args.monitors, args.results, rng)
            if db.engine.dialect.name == "postgresql":
                log("VACUUM ANALYZE (what autovacuum would reach on its own)")
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                    connection.execute(text("VACUUM ANALYZE"))
            org = db.session.scalars(select(Organization).where(Organization.slug == BENCH_ORG_SLUG)).one()
        elif not args.reuse:
            raise SystemExit("The database is already seeded: pass --reuse, or point at an empty database.")
        else:
            counts = (
                db.session.scalar(select(func.count()).select_from(Monitor)),
                db.session.scalar(select(func.count()).select_from(CheckResult)),
            )
            if counts != (args.monitors, args.results):
                raise SystemExit(f"--reuse: the database holds {counts[0]:,} monitors and {counts[1]:,} results")
            log(f"Reusing the seeded database ({counts[0]:,} monitors, {counts[1]:,} results)")
        # One key per run: the baseline lists exactly one key whatever ran before.
        db.session.execute(delete(ApiKey).where(ApiKey.org_id == org.id))
        key, token = new_key(SECRET_KEY, org, "bench")
        db.session.add(key)
        db.session.commit()
        monitor_ids = list(db.session.scalars(select(Monitor.id).where(Monitor.org_id == org.id)))
        db.session.remove()
    return token, monitor_ids, seeded_now


# --- in-process ------------------------------------------------------------------------------------


@dataclass
class Latency:
    endpoint: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p50_ratio: float
    target: str


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def endpoint_paths(monitor_ids: list[str], rng: random.Random) -> dict[str, Callable[[], str]]:
    return {
        KEYS_PATH: lambda: KEYS_PATH,
        STATUS_PATH: lambda: STATUS_PATH,
        MONITOR_PATH: lambda: MONITOR_PATH.format(id=rng.choice(monitor_ids)),
    }


def interleaved_samples(
    app: Flask, token: str, paths: dict[Any, Callable[[], str]], requests: int
) -> dict[Any, list[float]]:
    """In-process GET latencies (ms, ascending) per endpoint, requested in turn round after round.

    ``paths`` gives each endpoint a function returning the path to ask for next; every
    endpoint first gets WARMUP_REQUESTS untimed requests. A non-200 answer stops the bench.
    """
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def get(path: str) -> float:
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {response.get_data(as_text=True)[:500]}")
        return elapsed_ms

    log(f"In-process: {WARMUP_REQUESTS} warm-up then {requests} timed requests per endpoint, interleaved")
    for path in paths.values():
        for _ in range(WARMUP_REQUESTS):
            get(path())
    samples: dict[Any, list[float]] = {name: [] for name in paths}
    for _ in range(requests):
        for name, path in paths.items():
            samples[name].append(get(path()))
    return {name: sorted(values) for name, values in samples.items()}


def measure_in_process(
    app: Flask, token: str, monitor_ids: list[str], requests: int, rng: random.Random
) -> list[Latency]:
    ordered = interleaved_samples(app, token, endpoint_paths(monitor_ids, rng), requests)
    baseline = percentile(ordered[KEYS_PATH], 0.50)
    return [
        Latency(
            endpoint=name,
            requests=len(values),
            p50_ms=percentile(values, 0.50),
            p95_ms=percentile(values, 0.95),
            p99_ms=percentile(values, 0.99),
            p50_ratio=percentile(values, 0.50) / baseline,
            target="baseline"
            if name == KEYS_PATH
            else f"p50 < {TARGET_P50_MS:.0f} ms: {'met' if percentile(values, 0.50) < TARGET_P50_MS else 'NOT met'}",
        )
        for name, values in ordered.items()
    ]


def profile_in_process(app: Flask, token: str, monitor_ids: list[str], rng: random.Random) -> None:
    """cProfile PROFILE_REQUESTS requests of each measured endpoint; print the top functions to stderr."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for name, path in endpoint_paths(monitor_ids, rng).items():
        if name == KEYS_PATH:
            continue
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(PROFILE_REQUESTS):
            client.get(path(), headers=headers)
        profiler.disable()
        log(f"\ncProfile of {PROFILE_REQUESTS} x GET {name}, by cumulative time:")
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
        log(f"cProfile of {PROFILE_REQUESTS} x GET {name}, by own time:")
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(15)


# --- gunicorn --------------------------------------------------------------------------------------


@dataclass
class Throughput:
    endpoint: str
    tool: str
    seconds: float
    requests: int
    failures: int
    requests_per_s: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@contextmanager
def gunicorn(
    environment: dict[str, str], workers: int, data_dir: Path, *, app: str = "aloft.app:create_app()"
) -> Iterator[str]:
    """Run ``gunicorn -w N`` serving ``app`` on a free 127.0.0.1 port until the block ends; yield its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("ALOFT_")} | environment
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        app,
    ]
    log_path = data_dir / "gunicorn.log"
    log(f"Starting: {' '.join(command[1:])} (log: {log_path})")
    with log_path.open("w") as log_file:
        # cwd is the data dir so that no stray .env of the checkout is read.
        process = subprocess.Popen(command, env=env, cwd=data_dir, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if http_status(f"{base_url}/api/v1/health") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer /api/v1/health in {HEALTH_TIMEOUT_SECONDS} s")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log(f"gunicorn stopped (exit code {process.returncode})")


def load_with_wrk(url: str, token: str, seconds: int, connections: int) -> tuple[int, int, float]:
    """(requests, failed requests, elapsed seconds) of a wrk run."""
    header = f"Authorization: Bearer {token}"
    completed = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-H", header, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    output = completed.stdout
    summary = re.search(r"(\d+) requests in ([\d.]+)(m?s)", output)
    if summary is None:
        raise SystemExit(f"Cannot read wrk's output:\n{output}")
    elapsed = float(summary.group(2)) / (1000 if summary.group(3) == "ms" else 1)
    failures = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors is not None:
        # Read errors are the server closing finished connections (gunicorn's sync worker does).
        failures += int(socket_errors.group(1)) + int(socket_errors.group(3)) + int(socket_errors.group(4))
    return int(summary.group(1)), failures, elapsed


def load_with_python(url: str, token: str, seconds: int, connections: int) -> tuple[int, int, float]:
    """(requests, failed requests, elapsed seconds) from ``connections`` threads on keep-alive connections."""
    parts = urlsplit(url)
    headers = {"Authorization": f"Bearer {token}"}
    counts = [[0, 0] for _ in range(connections)]
    deadline = time.monotonic() + seconds

    def worker(tally: list[int]) -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        try:
            while time.monotonic() < deadline:
                try:
                    connection.request("GET", parts.path, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    tally[0 if response.status == 200 else 1] += 1
                except (OSError, http.client.HTTPException):
                    tally[1] += 1
                    connection.close()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(tally,)) for tally in counts]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return sum(ok + failed for ok, failed in counts), sum(failed for _, failed in counts), elapsed


def measure_server(environment: dict[str, str], token: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Alternate baseline and status runs under gunicorn; return the runs and the aggregate ratio."""
    tool = "wrk" if shutil.which("wrk") else "python-threads"
    load = load_with_wrk if tool == "wrk" else load_with_python
    if tool != "wrk":
        log("wrk not found (apt-get install -y wrk): falling back to the threaded Python client")
    runs: list[Throughput] = []
    with gunicorn(environment, args.workers, data_dir) as base_url:
        for path in (KEYS_PATH, STATUS_PATH):
            code = http_status(base_url + path, token)
            if code != 200:
                raise SystemExit(f"GET {path} answered {code} under gunicorn")
            load(base_url + path, token, SERVER_WARMUP_SECONDS, args.connections)
        for round_index in range(args.rounds):
            order = (KEYS_PATH, STATUS_PATH) if round_index % 2 == 0 else (STATUS_PATH, KEYS_PATH)
            for path in order:
                log(f"{tool}: round {round_index + 1}/{args.rounds}, {args.duration} s on {path}")
                requests, failures, elapsed = load(base_url + path, token, args.duration, args.connections)
                runs.append(
                    Throughput(
                        endpoint=path,
                        tool=tool,
                        seconds=round(elapsed, 2),
                        requests=requests,
                        failures=failures,
                        requests_per_s=(requests - failures) / elapsed,
                    )
                )
    totals = {}
    for path in (KEYS_PATH, STATUS_PATH):
        mine = [run for run in runs if run.endpoint == path]
        succeeded = sum(run.requests - run.failures for run in mine)
        totals[path] = {
            "requests": sum(run.requests for run in mine),
            "failures": sum(run.failures for run in mine),
            "seconds": sum(run.seconds for run in mine),
            "requests_per_s": succeeded / sum(run.seconds for run in mine),
            "min_run_rps": min(run.requests_per_s for run in mine),
            "max_run_rps": max(run.requests_per_s for run in mine),
        }
    return {
        "tool": tool,
        "runs": [asdict(run) for run in runs],
        "totals": totals,
        "ratio": totals[STATUS_PATH]["requests_per_s"] / totals[KEYS_PATH]["requests_per_s"],
    }


# --- report ----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def markdown(report: dict[str, Any]) -> str:
    meta = report["meta"]
    lines = [
        f"Database: {meta['database']}; {meta['monitors']:,} monitors, {meta['results']:,} check results; "
        f"nproc {meta['machine']['nproc']}, Python {meta['machine']['python']}, "
        f"1-min load average at the end {meta['machine']['loadavg_1m_at_end']}",
        "",
        f"In-process (`app.test_client()`, {meta['requests']} requests per endpoint, interleaved):",
        "",
        "| endpoint | p50 ms | p95 ms | p99 ms | p50 / baseline p50 | target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| `GET {row['endpoint']}` | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['p99_ms']:.2f} "
        f"| {row['p50_ratio']:.2f} | {row['target']} |"
        for row in report["in_process"]
    ]
    server = report["server"]
    if server is not None:
        lines += [
            "",
            f"gunicorn -w {meta['workers']} ({server['tool']}, {meta['connections']} connections, "
            f"{meta['rounds']} alternating runs of {meta['duration']} s per endpoint):",
            "",
            "| endpoint | requests | failed | requests/s | slowest-fastest run | ratio to baseline |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        baseline = server["totals"][KEYS_PATH]["requests_per_s"]
        lines += [
            f"| `GET {path}` | {total['requests']:,} | {total['failures']} | {total['requests_per_s']:.1f} "
            f"| {total['min_run_rps']:.0f}-{total['max_run_rps']:.0f} | {total['requests_per_s'] / baseline:.2f} |"
            for path, total in server["totals"].items()
        ]
        verdict = "met" if server["ratio"] >= TARGET_RPS_RATIO else "NOT met"
        lines += [
            "",
            f"Status / baseline requests/s: **{server['ratio']:.2f}** (target >= {TARGET_RPS_RATIO}: {verdict})",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    temporary = args.data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="aloft-bench-")) if temporary else args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{data_dir / 'aloft.db'}"
    environment = aloft_environment(database_url, data_dir)
    rng = random.Random(args.seed)
    try:
        app = create_app(environment)
        started = time.perf_counter()
        token, monitor_ids, seeded_now = prepare_database(app, args, rng)
        prepare_seconds = time.perf_counter() - started
        in_process = measure_in_process(app, token, monitor_ids, args.requests, rng)
        if args.profile:
            profile_in_process(app, token, monitor_ids, rng)
        with app.app_context():
            db.engine.dispose()
        server = None
        if not args.no_server:
            server = measure_server(environment, token, data_dir, args)
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
    report = {
        "meta": {
            "database": make_url(database_url).render_as_string(hide_password=True),
            "monitors": args.monitors,
            "results": args.results,
            "requests": args.requests,
            "workers": args.workers,
            "duration": args.duration,
            "rounds": args.rounds,
            "connections": args.connections,
            "seeded_now": seeded_now,
            "prepare_seconds": round(prepare_seconds, 1),
            "machine": machine(),
        },
        "in_process": [asdict(row) for row in in_process],
        "server": server,
    }
    print(json.dumps(report, indent=2) if args.json else markdown(report))


if __name__ == "__main__":
    main()
