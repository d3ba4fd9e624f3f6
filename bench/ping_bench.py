"""Ping ingest benchmark: heartbeat pings per second against ``GET /api/v1/health`` on the same server.

Seeds ``--monitors`` heartbeat monitors (each up, with its own token), starts Aloft's web
server as ``aloft up`` does (``python -P -m aloft.web_server --workers N``: gunicorn with
Aloft's sync worker, ``ALOFT_WEB_WORKERS`` = 2 by default), then loads it with ``wrk`` at
``--connections`` connections in ``--rounds`` alternating runs of ``--duration`` seconds in
ABBA order (health, pings, pings, health, ...), so that outside load hits both alike. Every
ping request names a token drawn at random from all of them. At the end it counts the pings
stored and compares them with the 200s wrk saw: every accepted ping must be recorded.

Progress goes to stderr; a Markdown table (or, with ``--json``, a JSON document) to stdout.
``bench/README.md`` and ``docs/benchmarks.md`` have the commands.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import func, insert, make_url, select

from aloft.app import create_app
from aloft.extensions import db
from aloft.models import Monitor, Organization, Ping, new_id, utcnow
from aloft.models.monitor import new_spread_key
from aloft.pings import new_ping_token

SECRET_KEY = "aloft-bench-secret-key-0123456789abcdef"
#: The highest value the settings accept: every ping is counted against its token, none refused.
PING_RATE_LIMIT = "1000000"
CHUNK_ROWS = 10_000
HEALTH_PATH = "/api/v1/health"
TARGET_RATIO = 0.5
WRK_SCRIPT = """
local tokens = {}
for line in io.lines(os.getenv("ALOFT_BENCH_TOKENS")) do tokens[#tokens + 1] = line end
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  return wrk.format("GET", "/heartbeat/" .. tokens[math.random(#tokens)])
end
"""


def log(message: str) -> None:
    print(f"[ping_bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in the data dir)")
    parser.add_argument("--redis-url", help="Redis for the rate limiter's counts (default: none, a file)")
    parser.add_argument("--data-dir", type=Path, help="kept after the run (default: a temporary folder)")
    parser.add_argument("--monitors", type=int, nargs="+", default=[1000, 100_000], help="monitor counts to run")
    parser.add_argument("--workers", type=int, default=2, help="web worker processes (Aloft's default: 2)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="ABBA pairs of runs")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def environment(database_url: str, data_dir: Path, redis_url: str | None) -> dict[str, str]:
    values = {
        "ALOFT_DATA_DIR": str(data_dir),
        "ALOFT_DATABASE_URL": database_url,
        "ALOFT_SECRET_KEY": SECRET_KEY,
        "ALOFT_PING_RATE_LIMIT": PING_RATE_LIMIT,
        "ALOFT_LOG_LEVEL": "warning",
    }
    if redis_url:
        values["ALOFT_REDIS_URL"] = redis_url
    return values


def seed(count: int) -> list[str]:
    """Heartbeat monitors, up and pinged a moment ago, due again in a day; returns their tokens."""
    now = utcnow()
    org_id = db.session.scalar(select(Organization.id).where(Organization.slug == "bench"))
    if org_id is None:
        org_id = new_id()
        db.session.execute(insert(Organization).values(id=org_id, slug="bench", name="Bench", created_at=now))
    existing = db.session.scalars(select(Monitor.ping_token).where(Monitor.org_id == org_id)).all()
    tokens = list(existing[:count])
    rows = []
    for number in range(len(tokens), count):
        token = new_ping_token()
        tokens.append(token)
        rows.append(
            {
                "id": new_id(),
                "org_id": org_id,
                "name": f"Job {number}",
                "type": "heartbeat",
                "interval_seconds": 86400,
                "confirmation_count": 1,
                "timeout_seconds": 10,
                "paused": False,
                "settings": {"graceSeconds": 3600},
                "status": "up",
                "consecutive_failures": 0,
                "spread_key": new_spread_key(),
                "ping_token": token,
                "ping_token_issued_at": now,
                "last_ping_at": now,
                "last_ping_kind": "success",
                "next_deadline_at": now + timedelta(days=1, hours=1),
                "created_at": now,
                "updated_at": now,
            }
        )
        if len(rows) == CHUNK_ROWS:
            db.session.execute(insert(Monitor), rows)
            db.session.commit()
            rows = []
    if rows:
        db.session.execute(insert(Monitor), rows)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE monitors")
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> Iterator[tuple[int, int, str, float]]:
    """Every process: pid, parent pid, command line and CPU seconds used (user + system)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        yield int(entry.name), int(fields[1]), command, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def server_cpu_seconds(web_pid: int, database: str | None) -> float:
    """CPU seconds used so far by the web server (its master and workers) and by the PostgreSQL
    backends connected to ``database`` (None: SQLite, in the workers)."""
    total = 0.0
    for pid, parent, command, seconds in _processes():
        ours = pid == web_pid or parent == web_pid
        if ours or (database and command.startswith("postgres: ") and f" {database} " in command):
            total += seconds
    return total


@contextmanager
def web_server(env: dict[str, str], workers: int, data_dir: Path) -> Iterator[tuple[str, int]]:
    """Aloft's web server as ``aloft up`` starts it, on a free port, until the block ends: its URL and pid."""
    port = free_port()
    command = [sys.executable, "-P", "-m", "aloft.web_server", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(workers)]
    full_env = {name: value for name, value in os.environ.items() if not name.startswith("ALOFT_")} | env
    log_path = data_dir / "web.log"
    log(f"Starting: {' '.join(command[1:])}")
    with log_path.open("w") as log_file:
        process = subprocess.Popen(command, env=full_env, cwd=data_dir, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the web server exited:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base_url + HEALTH_PATH, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the web server did not answer in 60 s")
            time.sleep(0.2)
        yield base_url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(url: str, seconds: int, connections: int, script: Path | None, tokens_file: Path) -> dict[str, float]:
    """Requests/s, the 200s, the other answers and p99 latency (ms) of one wrk run."""
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    env = {**os.environ, "ALOFT_BENCH_TOKENS": str(tokens_file)}
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True, env=env
    ).stdout
    summary = re.search(r"(\d+) requests in ([\d.]+)(m?s)", output)
    if summary is None:
        raise SystemExit(f"Cannot read wrk's output:\n{output}")
    requests = int(summary.group(1))
    elapsed = float(summary.group(2)) / (1000 if summary.group(3) == "ms" else 1)
    refused = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    failed = refused + (int(errors.group(1)) + int(errors.group(3)) + int(errors.group(4)) if errors else 0)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "requests": requests,
        "ok": requests - refused,
        "failed": failed,
        "rps": (requests - failed) / elapsed,
        "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"),
    }


def measure(count: int, args: argparse.Namespace, database_url: str, data_dir: Path) -> dict[str, Any]:
    env = environment(database_url, data_dir, args.redis_url)
    os.environ.update(env)
    app = create_app()
    with app.app_context():
        upgrade()
        log(f"Seeding {count} heartbeat monitors")
        tokens = seed(count)
        pings_before = db.session.scalar(select(func.count()).select_from(Ping))
        db.session.commit()
        db.engine.dispose()
    tokens_file = data_dir / "tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    script = data_dir / "pings.lua"
    script.write_text(WRK_SCRIPT)
    runs: dict[str, list[dict[str, float]]] = {"health": [], "pings": []}
    database = make_url(database_url).database if database_url.startswith("postgresql") else None
    with web_server(env, args.workers, data_dir) as (base_url, web_pid):
        wrk(base_url + HEALTH_PATH, 2, args.connections, None, tokens_file)  # warm-up
        warm_up = wrk(base_url + "/", 2, args.connections, script, tokens_file)
        for _ in range(args.rounds):
            for kind in ("health", "pings", "pings", "health"):
                cpu_before = server_cpu_seconds(web_pid, database)
                result = wrk(
                    base_url + (HEALTH_PATH if kind == "health" else "/"),
                    args.duration,
                    args.connections,
                    None if kind == "health" else script,
                    tokens_file,
                )
                result["cpu_ms"] = 1000 * (server_cpu_seconds(web_pid, database) - cpu_before) / result["requests"]
                log(f"{count} monitors, {kind}: {result}")
                runs[kind].append(result)
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Ping)) - pings_before
        db.engine.dispose()
    sent_ok = sum(run["ok"] for run in runs["pings"])
    answered = sent_ok + warm_up["ok"]  # the warm-up's pings are stored too
    health_rps = sum(run["rps"] for run in runs["health"]) / len(runs["health"])
    ping_rps = sum(run["rps"] for run in runs["pings"]) / len(runs["pings"])
    health_cpu = sum(run["cpu_ms"] for run in runs["health"]) / len(runs["health"])
    ping_cpu = sum(run["cpu_ms"] for run in runs["pings"]) / len(runs["pings"])
    return {
        "monitors": count,
        "health_rps": round(health_rps, 1),
        "health_p99_ms": max(run["p99_ms"] for run in runs["health"]),
        "ping_rps": round(ping_rps, 1),
        "ping_p99_ms": max(run["p99_ms"] for run in runs["pings"]),
        "ratio": round(ping_rps / health_rps, 3),
        "health_cpu_ms": round(health_cpu, 3),
        "ping_cpu_ms": round(ping_cpu, 3),
        "cpu_ratio": round(health_cpu / ping_cpu, 3),
        "pings_accepted": sent_ok,
        "pings_failed": sum(run["failed"] for run in runs["pings"]),
        "pings_answered_200_with_warm_up": answered,
        "pings_stored": stored,
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"Database: {report['database']}; rate-limit counts: {report['limiter']}; workers: {report['workers']}; "
        f"{report['connections']} connections; {report['rounds']} ABBA rounds of {report['duration']} s.",
        "",
        "| monitors | health req/s | health p99 ms | pings/s | ping p99 ms | pings/s ÷ health req/s | target "
        "| server CPU ms: health / ping | CPU ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for row in report["results"]:
        met = "met" if row["ratio"] >= TARGET_RATIO else "not met"
        lines.append(
            f"| {row['monitors']:,} | {row['health_rps']:.0f} | {row['health_p99_ms']:.1f} | {row['ping_rps']:.0f} "
            f"| {row['ping_p99_ms']:.1f} | {row['ratio']:.2f} | ≥ {TARGET_RATIO}: {met} "
            f"| {row['health_cpu_ms']:.3f} / {row['ping_cpu_ms']:.3f} | {row['cpu_ratio']:.2f} |"
        )
    lines.append("")
    # wrk counts no request still under way when a run stops; the server finishes and stores those
    # too: at most one per connection per ping run (the warm-up and 2 per round).
    in_flight = report["connections"] * (1 + 2 * report["rounds"])
    for row in report["results"]:
        answered, stored = row["pings_answered_200_with_warm_up"], row["pings_stored"]
        verdict = (
            f"every one stored, and {stored - answered} more still under way when wrk stopped (at most {in_flight})"
            if answered <= stored <= answered + in_flight
            else "MISMATCH"
        )
        lines.append(
            f"{row['monitors']:,} monitors: {row['pings_accepted']:,} pings answered 200 in the measured runs, "
            f"{row['pings_failed']} failed; with the warm-up, {answered:,} answered 200 and {stored:,} stored: "
            f"{verdict}."
        )
    lines.append(f"Machine: {report['machine']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    temporary = None
    data_dir = args.data_dir
    if data_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="aloft-ping-bench-")
        data_dir = Path(temporary.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = args.database_url or f"sqlite:///{data_dir / 'aloft.db'}"
    try:
        results = [measure(count, args, database_url, data_dir) for count in sorted(args.monitors)]
    finally:
        if temporary is not None:
            temporary.cleanup()
    report = {
        "database": database_url.split("://", 1)[0],
        "limiter": "Redis" if args.redis_url else "a file in the data dir",
        "workers": args.workers,
        "connections": args.connections,
        "rounds": args.rounds,
        "duration": args.duration,
        "results": results,
        "machine": f"nproc {os.cpu_count()}, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end",
        "run": secrets.token_hex(3),
    }
    print(json.dumps(report, indent=2) if args.json else markdown(report))


if __name__ == "__main__":
    main()
