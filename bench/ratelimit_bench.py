"""What counting every request in one place costs: requests/s of an authenticated GET under gunicorn.

Starts one gunicorn per way of counting, each with Aloft's default web workers (2), on one
SQLite database in a temporary data dir, and loads them in turn with ``wrk`` (or a threaded
Python client when wrk is not installed), ``--rounds`` runs of ``--duration`` seconds each,
the order rotating every round so that outside load and drift hit each alike:

* ``memory`` (the baseline): what Aloft did before, each worker counting in its own memory
  (``limits``' MemoryStorage), so two workers let twice the limit through;
* ``data dir``: the counts in ``<data dir>/ratelimits.db``, shared by the workers (the
  default without Redis);
* ``redis`` (with ``--redis-url``): the counts in Redis.

Requests are ``GET /api/v1/keys`` with ``--keys`` API keys in turn, under a limit no key
reaches (``ALOFT_RATE_LIMIT`` 1000000), so that each key's window holds what a busy real key's
would (a few hundred requests) and no request is refused. Besides requests/s, which swing
with whatever else the machine runs, it reports the CPU time the server's processes spent
per request (from ``/proc``), which does not. Progress goes to stderr, a Markdown table to
stdout. ``python bench/ratelimit_bench.py --help`` lists the options.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from itertools import cycle
from pathlib import Path
from urllib.parse import urlsplit

from api_bench import SECRET_KEY, gunicorn, log, machine
from flask import Flask
from flask_migrate import upgrade
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from aloft.app import create_app
from aloft.config import Settings
from aloft.extensions import db
from aloft.keys import new_key
from aloft.models import Organization

PATH = "/api/v1/keys"
#: The highest value ALOFT_RATE_LIMIT accepts: no key is ever refused here.
RATE_LIMIT = "1000000"
WARMUP_SECONDS = 2
BENCH_DIR = Path(__file__).resolve().parent


def memory_counted_app() -> Flask:
    """Aloft as it counted before: each gunicorn worker in its own memory (the baseline)."""
    app = create_app()
    (limiter,) = app.extensions["limiter"]
    limiter._storage = MemoryStorage()
    limiter._limiter = MovingWindowRateLimiter(limiter._storage)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=Settings.web_workers, help="gunicorn workers (Aloft's default)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per run")
    parser.add_argument("--rounds", type=int, default=6, help="runs per way of counting")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections of the load generator")
    parser.add_argument("--keys", type=int, default=100, help="API keys the requests take turns with")
    parser.add_argument("--redis-url", help="also measure counting in this Redis (its keys are left to expire)")
    return parser.parse_args(argv)


def prepare(data_dir: Path, environment: dict[str, str], keys: int) -> list[str]:
    """Migrate a fresh SQLite database and store ``keys`` API keys; return their tokens."""
    app = create_app(environment)
    with app.app_context():
        upgrade()
        organization = Organization(slug="bench", name="Bench")
        db.session.add(organization)
        db.session.flush()
        tokens = []
        for index in range(keys):
            key, token = new_key(SECRET_KEY, organization, f"bench {index}")
            db.session.add(key)
            tokens.append(token)
        db.session.commit()
        db.engine.dispose()
    return tokens


def load_with_wrk(url: str, tokens: list[str], seconds: int, connections: int, script: Path) -> tuple[int, int]:
    """(requests, failed requests) of a wrk run taking the tokens in turn."""
    completed = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    output = completed.stdout
    summary = re.search(r"(\d+) requests in", output)
    if summary is None:
        raise SystemExit(f"Cannot read wrk's output:\n{output}")
    failures = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors is not None:
        # Read errors are the server closing finished connections (gunicorn's sync worker does).
        failures += int(socket_errors.group(1)) + int(socket_errors.group(3)) + int(socket_errors.group(4))
    return int(summary.group(1)), failures


def load_with_python(url: str, tokens: list[str], seconds: int, connections: int) -> tuple[int, int]:
    """(requests, failed requests) from ``connections`` threads on keep-alive connections."""
    parts = urlsplit(url)
    counts = [[0, 0] for _ in range(connections)]
    deadline = time.monotonic() + seconds

    def worker(offset: int, tally: list[int]) -> None:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
        turns = cycle(tokens[offset:] + tokens[:offset])
        try:
            while time.monotonic() < deadline:
                try:
                    connection.request("GET", parts.path, headers={"Authorization": f"Bearer {next(turns)}"})
                    response = connection.getresponse()
                    response.read()
                    tally[0 if response.status == 200 else 1] += 1
                except (OSError, http.client.HTTPException):
                    tally[1] += 1
                    connection.close()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index, tally)) for index, tally in enumerate(counts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(ok + failed for ok, failed in counts), sum(failed for _, failed in counts)


def server_cpu_seconds(base_url: str) -> float:
    """CPU seconds used so far by the gunicorn serving ``base_url`` (its master and workers share the command line)."""
    bind = urlsplit(base_url).netloc.encode()
    ticks = 0
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and bind in (proc / "cmdline").read_bytes():
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            continue  # a process that just ended
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk_script(tokens: list[str], path: Path) -> Path:
    quoted = ", ".join(f'"{token}"' for token in tokens)
    path.write_text(
        f"local tokens = {{{quoted}}}\n"
        "local turn = 0\n"
        "request = function()\n"
        "  turn = turn + 1\n"
        '  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[turn % #tokens + 1]})\n'
        "end\n"
    )
    return path


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="aloft-ratelimit-bench-"))
    environment = {
        "ALOFT_DATA_DIR": str(data_dir),
        "ALOFT_DATABASE_URL": f"sqlite:///{data_dir / 'aloft.db'}",
        "ALOFT_SECRET_KEY": SECRET_KEY,
        "ALOFT_RATE_LIMIT": RATE_LIMIT,
        "ALOFT_LOG_LEVEL": "warning",
    }
    baseline_environment = environment | {
        "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])
    }
    ways = {
        "memory": (baseline_environment, "ratelimit_bench:memory_counted_app()"),
        "data dir": (environment, "aloft.app:create_app()"),
    }
    if args.redis_url:
        ways["redis"] = (environment | {"ALOFT_REDIS_URL": args.redis_url}, "aloft.app:create_app()")
    tool = "wrk" if shutil.which("wrk") else "python-threads"
    if tool != "wrk":
        log("wrk not found (apt-get install -y wrk): falling back to the threaded Python client")
    totals = {way: [0, 0, 0.0] for way in ways}
    run_rates: dict[str, list[float]] = {way: [] for way in ways}
    cpu_seconds = dict.fromkeys(ways, 0.0)
    try:
        tokens = prepare(data_dir, environment, args.keys)
        script = wrk_script(tokens, data_dir / "tokens.lua")

        def load(url: str, seconds: int) -> tuple[int, int]:
            if tool == "wrk":
                return load_with_wrk(url, tokens, seconds, args.connections, script)
            return load_with_python(url, tokens, seconds, args.connections)

        with ExitStack() as stack:
            servers = {}
            for way, (variables, app_spec) in ways.items():
                log_dir = data_dir / way.replace(" ", "-")
                log_dir.mkdir()
                servers[way] = stack.enter_context(gunicorn(variables, args.workers, log_dir, app=app_spec)) + PATH
            for url in servers.values():
                load(url, WARMUP_SECONDS)
            order = list(ways)
            for round_index in range(args.rounds):
                for way in order[round_index % len(order) :] + order[: round_index % len(order)]:
                    log(f"{tool}: round {round_index + 1}/{args.rounds}, {args.duration} s counting in {way}")
                    started, cpu_before = time.monotonic(), server_cpu_seconds(servers[way])
                    requests, failures = load(servers[way], args.duration)
                    elapsed = time.monotonic() - started
                    cpu_seconds[way] += server_cpu_seconds(servers[way]) - cpu_before
                    totals[way][0] += requests
                    totals[way][1] += failures
                    totals[way][2] += elapsed
                    run_rates[way].append((requests - failures) / elapsed)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)

    facts = machine()
    print(
        f"gunicorn -w {args.workers}, `GET {PATH}` with {args.keys} keys in turn, {tool} with {args.connections} "
        f"connections, {args.rounds} rotating runs of {args.duration} s per way; nproc {facts['nproc']}, "
        f"Python {facts['python']}, 1-min load average at the end {facts['loadavg_1m_at_end']}"
    )
    print()
    print(
        "| counts kept in | requests | failed | requests/s | slowest-fastest run | ratio to memory "
        "| server CPU ms per request | ratio to memory |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    baseline = (totals["memory"][0] - totals["memory"][1]) / totals["memory"][2]
    baseline_cpu = cpu_seconds["memory"] / totals["memory"][0]
    for way, (requests, failures, seconds) in totals.items():
        rate = (requests - failures) / seconds
        slowest, fastest = min(run_rates[way]), max(run_rates[way])
        cpu = cpu_seconds[way] / requests
        print(
            f"| {way} | {requests:,} | {failures} | {rate:.1f} | {slowest:.0f}-{fastest:.0f} | {rate / baseline:.3f} "
            f"| {cpu * 1000:.2f} | {cpu / baseline_cpu:.3f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
