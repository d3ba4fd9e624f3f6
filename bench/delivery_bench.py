"""Detection-to-delivery latency: from the failing check that confirms an outage to the message arriving.

``--incidents`` monitors (default 100) watch a local HTTP target that answers 503 to all of
them, each with ``confirmationCount`` 1 and a Slack channel whose webhook is a local receiver.
Their first checks (spread over ``--interval`` seconds) each confirm an outage, open an
incident and send one message. The latency of an incident is when the receiver got its
message minus when its confirming check's request reached the target; both servers run in
this process, on one clock, and nothing in Aloft is instrumented.

Modes: embedded (``aloft scheduler`` alone, SQLite) and rq (``aloft scheduler`` + 2 ×
``aloft worker`` over Redis, PostgreSQL). The baseline, measured in the same run: the same
message POSTed to the same receiver straight from this process with the same client
(``aloft.webhooks.post_json``), so the ratio says what the pipeline adds to a bare webhook call.

Progress goes to stderr, a Markdown report (``--json``: JSON) to stdout. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from pipeline_bench import create_database, delete_queue, drop_database, log, percentile, stop_process
from sqlalchemy import insert

from aloft.app import create_app
from aloft.channels import Notification
from aloft.extensions import db
from aloft.models import Channel, Monitor, Organization, monitor_channels, new_id, utcnow
from aloft.testing import Receiver
from aloft.webhooks import post_json

SECRET_KEY = "aloft-bench-secret-key-0123456789abcdef"
BASE_URL = "http://aloft.bench"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="embedded,rq", help="comma list of embedded, rq")
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--interval", type=int, default=10, help="the monitors' interval: first checks spread over it")
    parser.add_argument("--workers", type=int, default=2, help="`aloft worker` processes in rq mode")
    parser.add_argument("--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    return parser.parse_args(argv)


class FailingTarget:
    """Answers 503 to every request and notes when each path was first requested."""

    def __init__(self) -> None:
        self.first_arrival: dict[str, float] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.first_arrival.setdefault(self.path, time.time())
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def seed(target: str, webhook: str, incidents: int, interval: int) -> dict[str, str]:
    """An organization, a Slack channel, and ``incidents`` monitors using it; returns monitor id -> target path."""
    now = utcnow()
    org_id, channel_id = new_id(), new_id()
    paths = {new_id(): f"/m/{index}" for index in range(incidents)}
    with db.engine.begin() as connection:
        connection.execute(
            insert(Organization.__table__), [{"id": org_id, "slug": "bench", "name": "Bench", "created_at": now}]
        )
        connection.execute(
            insert(Channel.__table__),
            [
                {
                    "id": channel_id,
                    "org_id": org_id,
                    "name": "bench",
                    "type": "slack",
                    "config": {"webhookUrl": webhook},
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        connection.execute(
            insert(Monitor.__table__),
            [
                {
                    "id": monitor_id,
                    "org_id": org_id,
                    "name": f"bench {path}",
                    "type": "http",
                    "url": target + path,
                    "interval_seconds": interval,
                    "confirmation_count": 1,
                    "timeout_seconds": 5,
                    "paused": False,
                    "settings": {},
                    "status": "pending",
                    "consecutive_failures": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for monitor_id, path in paths.items()
            ],
        )
        connection.execute(insert(monitor_channels), [{"monitor_id": m, "channel_id": channel_id} for m in paths])
    return paths


def baseline(receiver: Receiver, rounds: int) -> list[float]:
    """Seconds for this process to POST a Slack message straight to the receiver, ``rounds`` times."""
    from aloft_slack import message

    notification = Notification(
        kind="opened",
        at=utcnow(),
        monitor_id="m",
        monitor_name="bench",
        monitor_type="http",
        monitor_target="http://x",
        link=BASE_URL,
        incident_id="i",
        cause="HTTP 503",
        started_at=utcnow(),
    )
    payload = message(notification)
    latencies = []
    for _ in range(rounds):
        started = time.time()
        post_json(receiver.url + "/baseline", payload, timeout=10)
        latencies.append(receiver.requests[-1].at - started)
    return sorted(latencies)


def run_mode(mode: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    log(f"== {mode}: {args.incidents} incidents, first checks spread over {args.interval} s")
    data_dir = workdir / f"{mode}-data"
    data_dir.mkdir()
    queue = f"aloft-checks-bench-{secrets.token_hex(4)}"
    target, receiver = FailingTarget(), Receiver()
    with ExitStack() as cleanup:
        cleanup.callback(target.close)
        cleanup.callback(receiver.close)
        if mode == "embedded":
            database_url = f"sqlite:///{data_dir / 'aloft.db'}"
        else:
            database_url = create_database(args.postgres_admin_url)
            cleanup.callback(drop_database, args.postgres_admin_url, database_url)
            cleanup.callback(delete_queue, args.redis_url, queue)
        environment = {name: value for name, value in os.environ.items() if not name.startswith("ALOFT_")} | {
            "ALOFT_DATA_DIR": str(data_dir),
            "ALOFT_DATABASE_URL": database_url,
            "ALOFT_SECRET_KEY": SECRET_KEY,
            "ALOFT_BASE_URL": BASE_URL,
            "ALOFT_LOG_LEVEL": "warning",
        }
        if mode == "rq":
            environment["ALOFT_REDIS_URL"] = args.redis_url
        app = create_app({key: value for key, value in environment.items() if key.startswith("ALOFT_")})
        context = app.app_context()
        context.push()
        cleanup.callback(context.pop)
        cleanup.callback(db.engine.dispose)
        upgrade()
        paths = seed(target.url, receiver.url + "/hooks/bench", args.incidents, args.interval)
        aloft = [sys.executable, "-m", "aloft"]
        commands = {"scheduler": [*aloft, "scheduler", *(["--queue", queue] if mode == "rq" else [])]}
        if mode == "rq":
            for number in range(args.workers):
                commands[f"worker-{number + 1}"] = [*aloft, "worker", "--queue", queue]
        for name, command in commands.items():
            with (data_dir / f"{name}.log").open("wb") as output:
                process = subprocess.Popen(
                    command, env=environment, cwd=data_dir, stdout=output, stderr=subprocess.STDOUT
                )
            cleanup.callback(stop_process, process)
        deadline = time.monotonic() + args.interval + 60
        while len(receiver.requests) < args.incidents and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # one message per incident: anything more would show now
        delivered: dict[str, float] = {}
        duplicates = 0
        for request in receiver.requests:
            monitor_id = request.json["blocks"][2]["elements"][0]["url"].rsplit("/", 1)[1]
            if monitor_id in delivered:
                duplicates += 1
            delivered.setdefault(monitor_id, request.at)
        latencies = sorted(
            delivered[monitor_id] - target.first_arrival[path]
            for monitor_id, path in paths.items()
            if monitor_id in delivered and path in target.first_arrival
        )
        direct = baseline(receiver, 100)
    result = {
        "mode": mode,
        "database": "SQLite" if mode == "embedded" else "PostgreSQL",
        "incidents": args.incidents,
        "delivered": len(delivered),
        "duplicates": duplicates,
        "p50_s": round(percentile(latencies, 0.5), 4),
        "p99_s": round(percentile(latencies, 0.99), 4),
        "max_s": round(latencies[-1], 4) if latencies else None,
        "mean_s": round(statistics.fmean(latencies), 4) if latencies else None,
        "baseline_p50_s": round(percentile(direct, 0.5), 4),
        "baseline_p99_s": round(percentile(direct, 0.99), 4),
    }
    log(f"  {result['delivered']} of {args.incidents} delivered; p50 {result['p50_s']} s, p99 {result['p99_s']} s")
    return result


def markdown(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| mode | database | delivered | duplicates | p50 | p99 | max | direct POST p50 / p99 | p50 / direct p50 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {run['mode']} | {run['database']} | {run['delivered']} of {run['incidents']} | {run['duplicates']} "
        f"| {run['p50_s'] * 1000:.0f} ms | {run['p99_s'] * 1000:.0f} ms | {run['max_s'] * 1000:.0f} ms "
        f"| {run['baseline_p50_s'] * 1000:.1f} / {run['baseline_p99_s'] * 1000:.1f} ms "
        f"| {run['p50_s'] / run['baseline_p50_s']:.0f}× |"
        for run in runs
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aloft-delivery-") as temporary:
        runs = [run_mode(mode.strip(), Path(temporary), args) for mode in args.modes.split(",") if mode.strip()]
    print(json.dumps(runs, indent=2) if args.json else markdown(runs))


if __name__ == "__main__":
    main()
