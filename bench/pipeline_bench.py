"""Pipeline benchmark: N HTTP monitors through scheduler → executor → database, against a local nginx.

One run measures, for each mode asked for:

* embedded: ``aloft scheduler`` without Redis (checks run on its own thread pool), SQLite;
* rq: ``aloft scheduler`` enqueueing to Redis and ``--workers`` × ``aloft worker``, PostgreSQL.

Each monitor requests ``/m/<index>`` on an nginx started for the run on 127.0.0.1 (Debian's
package; a temporary prefix, not the system service). nginx logs ``$msec $request_uri`` for
every request, so the moment each check reached the target is known without touching
Aloft: the scheduling lag of a check is that moment minus its slot (the ``checked_at`` the
engine stores). Stored data is read after the run; nothing in Aloft is instrumented.

Reported per mode: checks/s recorded in the measured window (from the growth of the
results' ids), the checks due in that window and how many ran, lag p50/p99/max, the peak
resident memory of each worker (of the scheduler in embedded mode, where it runs the
checks) and the CPU each process used. The raw ceiling comes from the same run, before and
after the pipelines: the same HTTP client (``--ratio-client``; http.client, which aloft-http
uses, one fresh connection per request), the same number of processes and threads, against
the same nginx, with no Aloft around it. ``--raw-clients`` measures other clients (requests,
urllib3) and aloft-http's ``HttpCheck.run`` alone (the plugin without the engine) beside it.

Progress goes to stderr; a Markdown report (or, with ``--json``, JSON) to stdout. Every
process it starts is stopped before it exits. See docs/engine-benchmarks.md for numbers.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from aloft.app import create_app
from aloft.config import Settings
from aloft.engine.scheduler import latest_slot
from aloft.extensions import db
from aloft.models import CheckResult, Monitor, Organization, new_id, utcnow

SECRET_KEY = "aloft-bench-secret-key-0123456789abcdef"
USER_AGENT = "Aloft-bench"
#: Checks each worker (embedded: the scheduler) runs at once, on threads of its check process.
CHECK_CONCURRENCY = Settings.check_concurrency
PROCESS_START_SECONDS = 60
DRAIN_SECONDS = 10


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="embedded,rq", help="comma list of embedded, rq")
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=60, help="seconds between checks of a monitor")
    parser.add_argument("--warmup", type=int, default=30, help="seconds before the measured window")
    parser.add_argument("--duration", type=int, default=150, help="seconds measured")
    parser.add_argument("--workers", type=int, default=2, help="`aloft worker` processes in rq mode")
    parser.add_argument(
        "--postgres-admin-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="rq mode creates a database next to this one for the run and drops it afterwards",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14", help="rq mode uses a queue of its own here")
    parser.add_argument("--raw-seconds", type=int, default=10, help="seconds of each raw-ceiling measurement")
    parser.add_argument(
        "--ratio-client",
        default="http.client",
        help="the raw client aloft-http itself uses, for pipeline/raw (it moved from requests to http.client)",
    )
    parser.add_argument(
        "--raw-clients",
        default="http.client,requests,urllib3,aloft-http",
        help="comma list of requests, urllib3, http.client, aloft-http (the check type's run(), no engine)",
    )
    parser.add_argument("--no-raw", action="store_true", help="skip the raw ceiling")
    parser.add_argument("--no-pipeline", action="store_true", help="only the raw ceiling")
    parser.add_argument("--py-spy", action="store_true", help="profile the scheduler and workers (see --keep)")
    parser.add_argument(
        "--py-spy-idle",
        action="store_true",
        help="sample waiting threads too (default: threads holding the GIL)",
    )
    parser.add_argument("--keep", type=Path, help="keep logs and the SQLite file in this folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    return parser.parse_args(argv)


# --- processes ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    log_format arrival '$msec $request_uri';
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    access_log off;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location /m/ {{
            access_log {dir}/checks.log arrival buffer=256k flush=1s;
            return 200 "ok\\n";
        }}
        location /raw/ {{
            access_log {dir}/raw.log arrival buffer=256k flush=1s;
            return 200 "ok\\n";
        }}
    }}
}}
"""


@contextmanager
def nginx(workdir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Debian's nginx on a free loopback port, serving a two-byte 200 and logging arrivals."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise SystemExit("nginx is not installed: apt-get install -y nginx-light")
    directory = workdir / "nginx"
    (directory / "tmp").mkdir(parents=True)
    port = free_port()
    (directory / "nginx.conf").write_text(NGINX_CONF.format(dir=directory, port=port))
    process = subprocess.Popen([binary, "-p", str(directory), "-c", str(directory / "nginx.conf")])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"nginx did not start: {(directory / 'nginx-error.log').read_text()}") from None
                time.sleep(0.05)
        log(f"nginx {base} (pid {process.pid})")
        yield base, process
    finally:
        stop_process(process, signal.SIGQUIT)  # graceful: flushes the buffered access logs


# --- raw ceiling -------------------------------------------------------------------------------------


def get_with_requests(url: str) -> int:
    import requests

    with (
        requests.Session() as session,
        session.get(url, headers={"User-Agent": USER_AGENT}, timeout=10, stream=True) as response,
    ):
        return response.status_code


def get_with_urllib3(url: str) -> int:
    import urllib3

    with urllib3.PoolManager(maxsize=1, retries=False, timeout=10) as pool:
        response = pool.request("GET", url, headers={"User-Agent": USER_AGENT}, preload_content=False)
        response.drain_conn()
        return response.status


def get_with_http_client(url: str) -> int:
    host_port = url.split("/")[2]
    host, port = host_port.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/" + url.split("/", 3)[3], headers={"User-Agent": USER_AGENT})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def get_with_aloft_http(url: str) -> int:
    from aloft_http import HttpCheck

    from aloft.checks import CheckTarget

    monitor = CheckTarget(
        id="raw", name="raw", type="http", url=url, timeout_seconds=10, interval_seconds=60, settings={}
    )
    return 200 if HttpCheck().run(monitor).ok else 500


CLIENTS: dict[str, Callable[[str], int]] = {
    "requests": get_with_requests,
    "urllib3": get_with_urllib3,
    "http.client": get_with_http_client,
    "aloft-http": get_with_aloft_http,
}


def _raw_process(client: str, base: str, threads: int, seconds: float, results: Any) -> None:
    get = CLIENTS[client]
    deadline = time.monotonic() + seconds
    counts = [0] * threads
    errors = [0] * threads

    def loop(index: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            try:
                ok = get(f"{base}/raw/{index}-{n}") == 200
            except Exception:
                ok = False
            n += 1
            if ok:
                counts[index] += 1
            else:
                errors[index] += 1

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put((sum(counts), sum(errors)))


def raw_ceiling(
    client: str, base: str, processes: int, threads: int, seconds: float, when: str = "before"
) -> dict[str, Any]:
    """Requests/s of ``client`` in ``processes`` × ``threads``, each request on a fresh connection."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [
        context.Process(target=_raw_process, args=(client, base, threads, seconds, queue)) for _ in range(processes)
    ]
    started = time.monotonic()
    for child in children:
        child.start()
    totals = [queue.get(timeout=seconds + 60) for _ in children]
    for child in children:
        child.join()
    elapsed = time.monotonic() - started
    ok = sum(count for count, _ in totals)
    failed = sum(errors for _, errors in totals)
    log(f"  raw {client} {processes}×{threads}: {ok / elapsed:,.0f} requests/s ({failed} failed)")
    return {
        "client": client,
        "when": when,
        "processes": processes,
        "threads": threads,
        "rps": ok / elapsed,
        "failed": failed,
    }


# --- the pipeline ------------------------------------------------------------------------------------


@dataclass
class Sampler:
    """Peak resident memory and CPU seconds of some processes, sampled every second."""

    pids: dict[str, int]
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    cpu_start: dict[str, float] = field(default_factory=dict)
    cpu_end: dict[str, float] = field(default_factory=dict)
    system_start: tuple[float, float] = (0.0, 0.0)
    system_end: tuple[float, float] = (0.0, 0.0)
    stop: threading.Event = field(default_factory=threading.Event)

    @staticmethod
    def rss_mb(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    @staticmethod
    def cpu_seconds(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def system() -> tuple[float, float]:
        """(busy, total) jiffies of all CPUs."""
        values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = values[3] + values[4]
        return float(sum(values) - idle), float(sum(values))

    def run(self) -> None:
        while not self.stop.wait(1.0):
            for name, pid in self.pids.items():
                with suppress(OSError):
                    self.peak_rss_mb[name] = max(self.peak_rss_mb.get(name, 0.0), self.rss_mb(pid))

    def mark(self, which: dict[str, float]) -> None:
        for name, pid in self.pids.items():
            with suppress(OSError):
                which[name] = self.cpu_seconds(pid)

    def begin_window(self) -> None:
        self.mark(self.cpu_start)
        self.system_start = self.system()

    def end_window(self) -> None:
        self.mark(self.cpu_end)
        self.system_end = self.system()


def child_pids(parents: dict[str, int]) -> dict[str, int]:
    """The check process each of ``parents`` started, as ``"<name> checks"``."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                for name, pid in parents.items():
                    if pid == parent:
                        children[f"{name} checks"] = int(entry.name)
    return children


def server_pids(names: tuple[str, ...]) -> dict[str, int]:
    """The processes of the servers (PostgreSQL, Redis, nginx) by name, to count their CPU."""
    pids = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (command := (entry / "comm").read_text().strip()) in names:
                    pids[f"{command}-{entry.name}"] = int(entry.name)
    return pids


def profile(name: str, pid: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """py-spy (from PyPI) samples ``pid`` over the measured window, into collapsed stacks."""
    output = (args.keep or Path(".")) / f"py-spy-{name}.txt"
    command = [
        "py-spy",
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(args.duration),
        "--rate",
        "25",
        "--idle" if args.py_spy_idle else "--gil",
    ]
    return subprocess.Popen(
        [*command, "--format", "raw", "--output", str(output), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def seed(base: str, monitors: int, interval: int) -> dict[str, int]:
    """One organization and ``monitors`` HTTP monitors on ``/m/<index>``; returns id -> index."""
    now = utcnow()
    org_id = new_id()
    ids = [new_id() for _ in range(monitors)]
    with db.engine.begin() as connection:
        connection.execute(
            insert(Organization.__table__), [{"id": org_id, "slug": "bench", "name": "Bench", "created_at": now}]
        )
        rows = [
            {
                "id": monitor_id,
                "org_id": org_id,
                "name": f"bench-{index:05d}",
                "type": "http",
                "url": f"{base}/m/{index}",
                "interval_seconds": interval,
                "confirmation_count": 2,
                "timeout_seconds": 10,
                "paused": False,
                "settings": {},
                "status": "pending",
                "consecutive_failures": 0,
                "created_at": now,
                "updated_at": now,
            }
            for index, monitor_id in enumerate(ids)
        ]
        for start in range(0, len(rows), 5000):
            connection.execute(insert(Monitor.__table__), rows[start : start + 5000])
    return {monitor_id: index for index, monitor_id in enumerate(ids)}


def max_result_id() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.coalesce(func.max(CheckResult.id), 0))) or 0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(fraction * (len(values) - 1))))]


def lags(
    arrivals_log: Path, index_of: dict[str, int], window: tuple[float, float], interval: int
) -> tuple[list[float], int, int]:
    """Lag of every check that reached nginx in ``window``: arrival − slot, in seconds, sorted.

    Also returns how many arrivals had no stored result to match and how many slots due in
    the window have a result.
    """
    start, end = window
    slots: dict[int, list[float]] = defaultdict(list)
    low, high = start - 2 * interval, end + interval
    db.session.rollback()
    due_in_window = 0
    for monitor_id, checked_at in db.session.execute(
        select(CheckResult.monitor_id, CheckResult.checked_at).where(
            CheckResult.checked_at >= _utc(low), CheckResult.checked_at < _utc(high)
        )
    ):
        slot = checked_at.timestamp()
        slots[index_of[monitor_id]].append(slot)
        # Whole milliseconds, as due_slots() counts them: a slot on the window's edge counts the same in both.
        if int(start * 1000) <= round(slot * 1000) < int(end * 1000):
            due_in_window += 1
    for values in slots.values():
        values.sort()
    measured: list[float] = []
    unmatched = 0
    for line in arrivals_log.read_text().splitlines():
        stamp, uri = line.split(" ", 1)
        arrived = float(stamp)
        if not start <= arrived < end:
            continue
        known = slots.get(int(uri.rsplit("/", 1)[1]), [])
        position = bisect.bisect_right(known, arrived)
        if position == 0:
            unmatched += 1
            continue
        measured.append(arrived - known[position - 1])
    measured.sort()
    return measured, unmatched, due_in_window


def due_slots(window: tuple[float, float]) -> int:
    """How many checks fall due in ``window``, exactly: every monitor's grid points in it."""
    start_ms, end_ms = (int(seconds * 1000) for seconds in window)
    db.session.rollback()
    due = 0
    for interval, key in db.session.execute(select(Monitor.interval_seconds, Monitor.spread_key)):
        slot = latest_slot(end_ms - 1, interval, key)
        while slot >= start_ms:
            due += 1
            slot -= interval * 1000
    return due


def _utc(seconds: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


def create_database(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"aloft_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def delete_queue(redis_url: str, name: str) -> None:
    from rq import Queue

    from aloft.redis_connection import connect

    connection = connect(redis_url)
    Queue(name, connection=connection).delete(delete_jobs=True)
    for key in connection.scan_iter(match=f"rq:*{name}*"):
        connection.delete(key)
    connection.close()


def run_pipeline(mode: str, base: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Seed, start the scheduler (and workers), measure a window, stop everything; return the numbers."""
    log(f"== {mode}: {args.monitors:,} monitors every {args.interval} s")
    data_dir = workdir / f"{mode}-data"
    data_dir.mkdir()
    queue = f"aloft-checks-bench-{secrets.token_hex(4)}"
    with ExitStack() as cleanup:
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
            "ALOFT_LOG_LEVEL": "warning",
        }
        if mode == "rq":
            environment["ALOFT_REDIS_URL"] = args.redis_url
        app = create_app({key: value for key, value in environment.items() if key.startswith("ALOFT_")})
        context = app.app_context()
        context.push()
        cleanup.callback(context.pop)
        cleanup.callback(db.engine.dispose)
        cleanup.callback(db.session.remove)
        upgrade()
        index_of = seed(base, args.monitors, args.interval)
        log(f"  seeded {len(index_of):,} monitors")

        aloft = [sys.executable, "-m", "aloft"]
        commands = {"scheduler": [*aloft, "scheduler", *(["--queue", queue] if mode == "rq" else [])]}
        if mode == "rq":
            for number in range(args.workers):
                commands[f"worker-{number + 1}"] = [*aloft, "worker", "--queue", queue]
        processes: dict[str, subprocess.Popen[bytes]] = {}
        for name, command in commands.items():
            with (data_dir / f"{name}.log").open("wb") as output:
                processes[name] = subprocess.Popen(
                    command, env=environment, cwd=data_dir, stdout=output, stderr=subprocess.STDOUT
                )
        for process in processes.values():
            cleanup.callback(stop_process, process)
        started = time.time()

        sampler = Sampler({name: process.pid for name, process in processes.items()})
        sampler_thread = threading.Thread(target=sampler.run, daemon=True)
        sampler_thread.start()
        cleanup.callback(sampler.stop.set)

        time.sleep(args.warmup)
        for name, process in processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited: {(data_dir / f'{name}.log').read_text()[-3000:]}")
        # The servers' processes now include the backends the workers connected to.
        sampler.pids |= child_pids({name: process.pid for name, process in processes.items()})
        sampler.pids |= server_pids(("postgres", "redis-server", "nginx") if mode == "rq" else ("nginx",))
        profilers = [profile(name, process.pid, args) for name, process in processes.items()] if args.py_spy else []
        window_start = time.time()
        first_id = max_result_id()
        sampler.begin_window()
        log(f"  measuring {args.duration} s (warm-up took {window_start - started:.0f} s)")
        time.sleep(args.duration)
        window_end = time.time()
        last_id = max_result_id()
        sampler.end_window()
        for profiler in profilers:
            profiler.wait()
        # Slots due up to the window's end are handed out at the scheduler's next tick (0.5 s).
        time.sleep(1.0)
        log("  stopping the scheduler; letting checks in flight finish")
        stop_process(processes["scheduler"])
        time.sleep(DRAIN_SECONDS)
        time.sleep(1.5)  # nginx flushes its log buffer every second
        measured, unmatched, due_recorded = lags(
            workdir / "nginx" / "checks.log", index_of, (window_start, window_end), args.interval
        )
        duration = window_end - window_start
        expected = due_slots((window_start, window_end))
        cpu = {
            name: 100 * (sampler.cpu_end[name] - sampler.cpu_start[name]) / duration
            for name in sampler.cpu_end
            if name in sampler.cpu_start
        }
        busy = sampler.system_end[0] - sampler.system_start[0]
        total = sampler.system_end[1] - sampler.system_start[1]
        if args.keep:
            shutil.copytree(data_dir, args.keep / data_dir.name, dirs_exist_ok=True)

    def ours(name: str) -> bool:
        return name.removesuffix(" checks") in processes

    result = {
        "mode": mode,
        "database": "SQLite" if mode == "embedded" else "PostgreSQL",
        "monitors": args.monitors,
        "interval_s": args.interval,
        "window_s": round(duration, 1),
        "offered_per_s": round(args.monitors / args.interval, 1),
        "recorded_per_s": round((last_id - first_id) / duration, 1),
        "due_in_window": expected,
        "due_in_window_recorded": due_recorded,
        "checks_reaching_target_in_window": len(measured) + unmatched,
        "lag_p50_s": round(percentile(measured, 0.50), 3),
        "lag_p99_s": round(percentile(measured, 0.99), 3),
        "lag_max_s": round(measured[-1], 3) if measured else None,
        "lag_mean_s": round(statistics.fmean(measured), 3) if measured else None,
        "unmatched_arrivals": unmatched,
        "peak_rss_mb": {name: round(value, 1) for name, value in sampler.peak_rss_mb.items() if ours(name)},
        "cpu_percent": {name: round(value, 1) for name, value in cpu.items() if ours(name)},
        "postgres_redis_cpu_percent": round(sum(v for n, v in cpu.items() if n.startswith(("postgres", "redis"))), 1),
        "nginx_cpu_percent": round(sum(v for n, v in cpu.items() if n.startswith("nginx")), 1),
        "machine_cpu_busy_percent": round(100 * busy / total, 1) if total else None,
        "concurrency": {"processes": 1 if mode == "embedded" else args.workers, "threads": CHECK_CONCURRENCY},
    }
    log(
        f"  {result['recorded_per_s']:,} checks/s recorded (offered {result['offered_per_s']:,}); "
        f"lag p50 {result['lag_p50_s']} s, p99 {result['lag_p99_s']} s; RSS {result['peak_rss_mb']}"
    )
    return result


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        f"nproc {machine['nproc']}, Python {machine['python']}, nginx {machine['nginx']} (Debian, 1 worker process)",
    ]
    runs = report["pipelines"]
    if runs:
        lines += [
            "",
            "| mode | database | monitors × interval | offered/s | recorded checks/s | due in window: recorded "
            "| lag p50 | lag p99 | lag max |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {run['mode']} | {run['database']} | {run['monitors']:,} × {run['interval_s']} s "
            f"| {run['offered_per_s']:,} | {run['recorded_per_s']:,} "
            f"| {run['due_in_window_recorded']:,} of {run['due_in_window']:,} "
            f"| {run['lag_p50_s']} s | {run['lag_p99_s']} s | {run['lag_max_s']} s |"
            for run in runs
        ]
        lines += [
            "",
            "| mode | peak RSS | CPU % (of one core) | PostgreSQL+Redis CPU % | nginx CPU % | machine busy |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {run['mode']} | {', '.join(f'{k} {v} MB' for k, v in run['peak_rss_mb'].items())} "
            f"| {', '.join(f'{k} {v}' for k, v in run['cpu_percent'].items())} "
            f"| {run['postgres_redis_cpu_percent']} | {run['nginx_cpu_percent']} "
            f"| {run['machine_cpu_busy_percent']} % |"
            for run in runs
        ]
    if report["raw"]:
        lines += ["", "| raw client | when | processes × threads | requests/s | failed |", "|---|---|---|---|---|"]
        lines += [
            f"| {raw['client']} | {raw['when']} | {raw['processes']} × {raw['threads']} | {raw['rps']:,.0f} "
            f"| {raw['failed']} |"
            for raw in report["raw"]
        ]
    for run in runs:
        shape = (run["concurrency"]["processes"], run["concurrency"]["threads"])
        client = report["args"]["ratio_client"]
        same = [r["rps"] for r in report["raw"] if r["client"] == client and (r["processes"], r["threads"]) == shape]
        if run["recorded_per_s"] < 0.95 * run["offered_per_s"] and same:
            raw_rps = statistics.fmean(same)
            lines.append(
                f"\n{run['mode']}: pipeline/raw = {run['recorded_per_s']:,} / {raw_rps:,.0f} ({client}, "
                f"{shape[0]} × {shape[1]}, mean of {len(same)}) = **{run['recorded_per_s'] / raw_rps:.2f}**"
            )
        elif same:
            lines.append(f"\n{run['mode']}: kept up with the offered load, so this run is no ceiling (no ratio)")
    return "\n".join(lines)


def nginx_version() -> str:
    completed = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    return completed.stderr.strip().split("/")[-1]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.py_spy and shutil.which("py-spy") is None:
        raise SystemExit("--py-spy needs the py-spy program on PATH: pip install py-spy")
    modes = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    report: dict[str, Any] = {
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "nginx": nginx_version()},
        "args": {key: str(value) for key, value in vars(args).items()},
        "pipelines": [],
        "raw": [],
    }
    with tempfile.TemporaryDirectory(prefix="aloft-pipeline-") as temporary, nginx(Path(temporary)) as (base, _):
        workdir = Path(temporary)
        shapes = {(1, CHECK_CONCURRENCY)} if "embedded" in modes else set()
        if "rq" in modes:
            shapes.add((args.workers, CHECK_CONCURRENCY))
        if not args.no_raw:
            log("== raw ceiling: the same client and concurrency, no Aloft")
            for client in [name.strip() for name in args.raw_clients.split(",") if name.strip()]:
                for processes, threads in sorted(shapes):
                    report["raw"].append(raw_ceiling(client, base, processes, threads, args.raw_seconds, "before"))
        if not args.no_pipeline:
            for mode in modes:
                report["pipelines"].append(run_pipeline(mode, base, workdir, args))
            if not args.no_raw:
                log("== raw ceiling again, after the pipelines (this machine is shared and noisy)")
                for processes, threads in sorted(shapes):
                    report["raw"].append(
                        raw_ceiling(args.ratio_client, base, processes, threads, args.raw_seconds, "after")
                    )
    print(json.dumps(report, indent=2) if args.json else markdown(report))


if __name__ == "__main__":
    main()
