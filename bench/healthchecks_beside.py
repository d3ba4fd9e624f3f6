"""Healthchecks' ping ingest, measured the way ``ping_bench.py`` measures Aloft's, so the two can be set side by side.

Healthchecks (github.com/healthchecks/healthchecks, Django) is the bar the heartbeat issue names. This script
loads a Healthchecks server that is already running (installed, migrated and seeded by hand, see
``docs/benchmarks.md``) with ``wrk`` at ``--connections`` connections, in ``--rounds`` ABBA rounds of
``--duration`` seconds (baseline, pings, pings, baseline), exactly as ``ping_bench.py`` does:

- pings: ``GET /ping/<uuid>``, each for a check UUID drawn at random from ``--uuids`` (one a line);
- baseline: ``--baseline-path``, by default ``/api/v3/status/``, Healthchecks' own health endpoint. It runs
  the whole Django stack and one ``SELECT 1``; Healthchecks has no URL that answers without the database
  (Aloft's ``/api/v1/health`` does none), so its ratio is against a slightly dearer baseline than Aloft's.

With ``--server-pid`` (gunicorn's master) it also reports the server's CPU time per request, read from
``/proc`` (the master and its workers, plus, with ``--database``, the PostgreSQL backends connected to that
database), which the machine's other load disturbs less than requests/s.

Nothing in Aloft imports this file or needs Healthchecks; it reuses ``ping_bench.wrk``. Progress goes to
stderr; a Markdown table (or, with ``--json``, a JSON document) to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from ping_bench import server_cpu_seconds, wrk

DEFAULT_BASELINE_PATH = "/api/v3/status/"
# ping_bench.wrk hands the list file to wrk as ALOFT_BENCH_TOKENS.
WRK_SCRIPT = """
local codes = {}
for line in io.lines(os.getenv("ALOFT_BENCH_TOKENS")) do codes[#codes + 1] = line end
math.randomseed(os.time() + math.floor(os.clock() * 1000000))
request = function()
  return wrk.format("GET", "/ping/" .. codes[math.random(#codes)])
end
"""


def log(message: str) -> None:
    print(f"[healthchecks_beside] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", required=True, help="the Healthchecks server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--uuids", type=Path, required=True, help="its checks' UUIDs, one a line")
    parser.add_argument("--baseline-path", default=DEFAULT_BASELINE_PATH)
    parser.add_argument("--server-pid", type=int, help="gunicorn's master process, to count the server's CPU")
    parser.add_argument("--database", help="PostgreSQL database whose backends' CPU counts too (default: SQLite)")
    parser.add_argument("--label", default="", help="a note for the report, e.g. 'SQLite, 2 workers'")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="ABBA pairs of runs")
    parser.add_argument("--duration", type=int, default=8, help="seconds per run")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def check_answers(base_url: str, path: str) -> None:
    try:
        with urllib.request.urlopen(base_url + path, timeout=10) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except OSError as error:
        problem = str(error)
    raise SystemExit(f"{base_url}{path} does not answer 200: {problem}")


def measure(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    base_url = args.base_url.rstrip("/")
    codes = [line.strip() for line in args.uuids.read_text().splitlines() if line.strip()]
    if not codes:
        raise SystemExit(f"{args.uuids} names no check")
    check_answers(base_url, args.baseline_path)
    check_answers(base_url, f"/ping/{codes[0]}")
    codes_file = work_dir / "uuids.txt"
    codes_file.write_text("\n".join(codes) + "\n")
    script = work_dir / "pings.lua"
    script.write_text(WRK_SCRIPT)
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "pings": []}
    wrk(base_url + args.baseline_path, 2, args.connections, None, codes_file)  # warm-up
    wrk(base_url + "/", 2, args.connections, script, codes_file)
    load_before = os.getloadavg()[0]
    for _ in range(args.rounds):
        for kind in ("baseline", "pings", "pings", "baseline"):
            cpu_before = server_cpu_seconds(args.server_pid, args.database) if args.server_pid else 0.0
            result = wrk(
                base_url + (args.baseline_path if kind == "baseline" else "/"),
                args.duration,
                args.connections,
                None if kind == "baseline" else script,
                codes_file,
            )
            if args.server_pid:
                cpu = server_cpu_seconds(args.server_pid, args.database) - cpu_before
                result["cpu_ms"] = 1000 * cpu / result["requests"]
            log(f"{kind}: {result}")
            runs[kind].append(result)
    return summary(runs) | {"load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1)}


def summary(runs: dict[str, list[dict[str, float]]]) -> dict[str, Any]:
    """Medians over the runs of each kind (the machine is shared: one slow run should not move the figure)."""
    row: dict[str, Any] = {}
    for kind, results in runs.items():
        row[f"{kind}_rps"] = round(statistics.median(run["rps"] for run in results), 1)
        row[f"{kind}_p99_ms"] = round(statistics.median(run["p99_ms"] for run in results), 1)
        row[f"{kind}_failed"] = sum(run["failed"] for run in results)
        if all("cpu_ms" in run for run in results):
            row[f"{kind}_cpu_ms"] = round(statistics.median(run["cpu_ms"] for run in results), 3)
    row["ratio"] = round(row["pings_rps"] / row["baseline_rps"], 3)
    row["pings_accepted"] = sum(run["ok"] for run in runs["pings"])
    row["runs"] = runs
    return row


def markdown(report: dict[str, Any]) -> str:
    row = report["result"]
    cpu = (
        f" | {row['baseline_cpu_ms']:.3f} / {row['pings_cpu_ms']:.3f}"
        if "pings_cpu_ms" in row and "baseline_cpu_ms" in row
        else " | -"
    )
    return "\n".join(
        [
            f"Healthchecks at {report['base_url']} ({report['label'] or 'no label'}); baseline "
            f"`{report['baseline_path']}`; {report['connections']} connections; {report['rounds']} ABBA rounds of "
            f"{report['duration']} s; medians of the runs.",
            "",
            "| baseline req/s | baseline p99 ms | pings/s | ping p99 ms | pings/s ÷ baseline req/s "
            "| server CPU ms: baseline / ping | load average before / after |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            f"| {row['baseline_rps']:.0f} | {row['baseline_p99_ms']:.1f} | {row['pings_rps']:.0f} "
            f"| {row['pings_p99_ms']:.1f} | {row['ratio']:.2f}{cpu} | {row['load_before']} / {row['load_after']} |",
            "",
            f"{row['pings_accepted']:,} pings answered 200 in the measured runs, {row['pings_failed']} failed; "
            f"{row['baseline_failed']} baseline requests failed.",
            f"Machine: {report['machine']}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="aloft-hc-bench-") as work_dir:
        result = measure(args, Path(work_dir))
    report = {
        "base_url": args.base_url,
        "label": args.label,
        "baseline_path": args.baseline_path,
        "connections": args.connections,
        "rounds": args.rounds,
        "duration": args.duration,
        "result": result,
        "machine": f"nproc {os.cpu_count()}, Python {platform.python_version()} (this client)",
    }
    print(json.dumps(report, indent=2) if args.json else markdown(report))


if __name__ == "__main__":
    main()
